"""Issued certificates: revocation (issuance itself is the SCEP signer's last step)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from audit.events import AuditAction
from audit.record import record
from enrollment.models import IssuedCertificate, RevocationReason


@transaction.atomic
def do_revoke_certificate(tenant, certificate: IssuedCertificate, *, actor,
                          reason: str = RevocationReason.UNSPECIFIED, origin=None) -> bool:
    """Revoke once; a second call is a no-op that returns False. Either way ``certificate``
    ends up showing the stored revocation (a concurrent caller's, when it came first)."""
    locked = IssuedCertificate.objects.for_tenant(tenant).select_for_update().get(
        pk=certificate.pk)
    if locked.revoked_at is not None:
        certificate.revoked_at = locked.revoked_at
        certificate.revocation_reason = locked.revocation_reason
        return False
    locked.revoked_at = timezone.now()
    locked.revocation_reason = reason
    locked.save(update_fields=["revoked_at", "revocation_reason"])
    certificate.revoked_at, certificate.revocation_reason = locked.revoked_at, reason
    record(tenant, AuditAction.CERTIFICATE_REVOKED, actor=actor, target=locked,
           device=locked.device, origin=origin,
           detail={"serial": locked.serial_hex, "reason": reason})
    return True
