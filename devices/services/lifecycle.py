"""Device lifecycle changes an admin makes: retire (stop managing, revoke its identity)."""

from __future__ import annotations

from django.db import transaction

from audit.events import AuditAction
from audit.record import record
from enrollment.models import IssuedCertificate, RevocationReason
from enrollment.services.certificates import do_revoke_certificate

from ..apple.commands import cancel_pending
from ..models import AppleChannel, Device, DeviceState


@transaction.atomic
def do_retire_device(tenant, device: Device, *, actor, request=None) -> bool:
    """Retire once (False when already retired): channels disabled, queue cancelled, identity
    certificates revoked. The device's next MDM request gets Apple's 403 and it unenrolls."""
    locked = Device.objects.for_tenant(tenant).select_for_update().get(pk=device.pk)
    if locked.state == DeviceState.RETIRED:
        return False
    previous = locked.state
    locked.state = DeviceState.RETIRED
    locked.save(update_fields=["state"])
    device.state = locked.state
    for channel in AppleChannel.objects.filter(device=locked):
        cancel_pending(channel)
    AppleChannel.objects.filter(device=locked).update(enabled=False)
    certificates = IssuedCertificate.objects.for_tenant(tenant).filter(
        device=locked, revoked_at__isnull=True)
    for certificate in certificates:
        do_revoke_certificate(tenant, certificate, actor=actor,
                              reason=RevocationReason.CESSATION)
    record(tenant, AuditAction.DEVICE_RETIRED, actor=actor, target=locked, device=locked,
           user=locked.owner, request=request, detail={"previous_state": previous})
    return True
