"""How an identity renewal ends: completed when the device speaks with its new certificate,
failed when it refuses the profile or lets the attempt's window pass, and, a grace period
after a renewal, the replaced certificate revoked as superseded (issue 16).

Called by the check-in store (completion), the command queue (a refused profile) and the
renewal scan (overdue attempts, ended grace periods); queueing lives in ``renewals``.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from audit.events import AuditAction
from audit.record import record, record_many
from devices.models import (
    AppleChannel,
    Command,
    CommandStatus,
    Device,
    IdentityRenewal,
    RenewalState,
)
from devices.models.commands import PENDING_STATUSES
from enrollment.models import (
    Challenge,
    IssuedCertificate,
    Registration,
    RegistrationState,
    RevocationReason,
)
from enrollment.services.renewal_policy import renewal_policy

MAX_WINDOW = dt.timedelta(days=7)


def attempt_window(attempt: int) -> dt.timedelta:
    """How long attempt ``attempt`` (from 1) waits for the device before the next one: one
    day, then twice as long each time (the back-off), at most a week. Offline devices thus
    always find a profile whose challenge still works when they come back."""
    return min(dt.timedelta(days=2 ** min(attempt - 1, 8)), MAX_WINDOW)


def grace_until(tenant, now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(days=renewal_policy(tenant).grace_days)


@transaction.atomic
def do_complete_renewal(channel: AppleChannel, issued: IssuedCertificate,
                        registration: Registration, *, actor, origin=None) -> None:
    """``issued``, certified for ``registration`` (a renewal of the channel's device), now
    speaks for the device channel; the certificate it replaces still does until the tenant's
    grace period ends. The enrollment itself is untouched: its registration, user channels,
    profiles and command queue stay. Audited on the device's timeline."""
    channel = (AppleChannel.objects.select_for_update(of=("self",))
               .select_related("device", "certificate")
               .get(pk=channel.pk))
    device, previous = channel.device, channel.certificate
    now = timezone.now()
    if previous is not None and previous.pk != issued.pk:
        channel.previous_certificate = previous
        channel.previous_certificate_until = grace_until(channel.tenant, now)
    channel.certificate = issued
    channel.save(update_fields=["certificate", "previous_certificate",
                                "previous_certificate_until"])
    IssuedCertificate.objects.filter(pk=issued.pk).update(device=device)
    issued.device = device
    Registration.objects.filter(pk=registration.pk).update(
        state=RegistrationState.ENROLLED, enrolled_at=now)
    Device.objects.filter(pk=device.pk).update(
        identity_expires_at=issued.not_after, renewal_retry_at=None, renewal_requested_at=None)
    renewal = (IdentityRenewal.objects.select_for_update()
               .filter(registration=registration).first())
    if renewal is not None:
        renewal.state, renewal.new_certificate, renewal.ended_at = (
            RenewalState.COMPLETED, issued, now)
        renewal.save(update_fields=["state", "new_certificate", "ended_at"])
    record(channel.tenant, AuditAction.IDENTITY_RENEWED, actor=actor, target=device,
           device=device, user=device.owner, origin=origin, detail={
               "renewal_id": renewal.pk if renewal else None,
               "registration_id": registration.pk,
               "previous_certificate": previous.serial_hex if previous else "",
               "certificate": issued.serial_hex,
               "expires_at": issued.not_after.isoformat(),
               "previous_accepted_until": (channel.previous_certificate_until.isoformat()
                                           if channel.previous_certificate_until else None)})


def fail_renewal_of_command(command: Command, reason: str) -> bool:
    """The device refused the renewal profile that ``command`` carried: the attempt failed,
    and the next one waits out the back-off. False when the command carried no renewal."""
    renewal = (IdentityRenewal.objects.select_for_update()
               .filter(command=command, state=RenewalState.PENDING).first())
    if renewal is None:
        return False
    _fail([renewal], reason, timezone.now())
    return True


def expire_overdue_renewals(tenant, now: dt.datetime | None = None) -> int:
    """Attempts whose window passed without the device renewing: failed (the scan sends the
    next attempt), their command cancelled if still waiting. Constant queries."""
    now = now or timezone.now()
    with transaction.atomic():
        overdue = list(IdentityRenewal.objects.for_tenant(tenant).select_for_update()
                       .filter(state=RenewalState.PENDING, expires_at__lte=now))
        _fail(overdue, "not completed within its window (the device did not renew)", now,
              retry_now=True)
    return len(overdue)


def _fail(renewals: list[IdentityRenewal], reason: str, now: dt.datetime, *,
          retry_now: bool = False) -> None:
    if not renewals:
        return
    tenant = renewals[0].tenant
    for renewal in renewals:
        renewal.state, renewal.failure_reason, renewal.ended_at = (
            RenewalState.FAILED, reason[:200], now)
    IdentityRenewal.objects.bulk_update(renewals, ["state", "failure_reason", "ended_at"])
    Command.objects.filter(pk__in=[r.command_id for r in renewals if r.command_id],
                           status__in=PENDING_STATUSES).update(
        status=CommandStatus.CANCELLED, completed_at=now)
    registration_ids = [r.registration_id for r in renewals if r.registration_id]
    Registration.objects.filter(pk__in=registration_ids).exclude(
        state=RegistrationState.ENROLLED).update(
        state=RegistrationState.FAILED, ended_at=now, failure_reason=reason[:200])
    Challenge.objects.filter(registration__pk__in=registration_ids, used_at__isnull=True) \
        .update(expires_at=now)
    if not retry_now:  # refused by the device: wait out the back-off before the next attempt
        for renewal in renewals:
            Device.objects.filter(pk=renewal.device_id).update(
                renewal_retry_at=now + attempt_window(renewal.attempt + 1))
    record_many(tenant, AuditAction.IDENTITY_RENEWAL_FAILED, renewals, actor="system",
                device_of=lambda r: r.device_id,
                detail_of=lambda r: {"renewal_id": r.pk, "attempt": r.attempt,
                                     "reason": reason[:200]})


def revoke_superseded(tenant, now: dt.datetime | None = None) -> int:
    """Certificates whose grace period after a renewal ended: revoked as superseded (they no
    longer speak for their device), the channel forgets them. Constant queries."""
    now = now or timezone.now()
    with transaction.atomic():
        channels = list(AppleChannel.objects.for_tenant(tenant).select_for_update()
                        .filter(previous_certificate_until__lte=now)
                        .values_list("pk", "previous_certificate_id", "device_id"))
        if not channels:
            return 0
        certificate_ids = [cert for _, cert, _ in channels if cert]
        certificates = list(IssuedCertificate.objects.filter(pk__in=certificate_ids,
                                                             revoked_at__isnull=True))
        IssuedCertificate.objects.filter(pk__in=[c.pk for c in certificates]).update(
            revoked_at=now, revocation_reason=RevocationReason.SUPERSEDED)
        AppleChannel.objects.filter(pk__in=[pk for pk, _, _ in channels]).update(
            previous_certificate=None, previous_certificate_until=None)
        record_many(tenant, AuditAction.CERTIFICATE_REVOKED, certificates, actor="system",
                    device_of=lambda c: c.device_id,
                    detail_of=lambda c: {"serial": c.serial_hex,
                                         "reason": RevocationReason.SUPERSEDED,
                                         "why": "replaced by a renewal; grace period ended"})
    return len(certificates)
