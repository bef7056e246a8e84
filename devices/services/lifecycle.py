"""Device lifecycle: a device enrolled through a registration (either platform); and the
changes an admin makes to Apple devices: retire (stop managing, revoke its
identity), delete (retire, then remove the entry), re-register (invite the owner to enroll it
again) and push (wake it so it fetches its queue). Android devices have their own in
`devices/android/actions.py` (Google is called first)."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from audit.events import AuditAction
from audit.record import record, record_many
from devices.apple.commands import cancel_pending_of_device
from devices.models import AppleChannel, Device, DeviceState
from devices.push.credentials import apns_certificate
from devices.push.service import queue_push
from enrollment.models import IssuedCertificate, Registration, RevocationReason
from enrollment.services.certificates import do_revoke_certificate
from enrollment.services.invitations import do_send_invitations
from enrollment.services.registrations import do_complete_registration


@transaction.atomic
def do_enroll_device(registration: Registration, device: Device, *, actor,
                     origin=None) -> bool:
    """The device enrolled through ``registration``: the registration completes (enrollment's
    side), then the device becomes Active and belongs to the registration's user. Returns
    False when the registration was already complete. Audited twice: "Registration completed"
    (the registration) and "Device registered" or "re-registered" (the device)."""
    if not do_complete_registration(registration, device, actor=actor, origin=origin):
        return False
    was_enrolled = device.enrolled_at is not None
    device.state, device.owner_id = DeviceState.ACTIVE, registration.user_id
    device.enrolled_at = registration.enrolled_at
    device.save(update_fields=["state", "owner", "enrolled_at"])
    record(registration.tenant, AuditAction.DEVICE_REREGISTERED if was_enrolled
           else AuditAction.DEVICE_REGISTERED, actor=actor, target=device,
           user=registration.user, device=device, origin=origin,
           detail={"registration_id": registration.pk, "platform": registration.platform})
    return True


@transaction.atomic
def do_retire_device(tenant, device: Device, *, actor, origin=None) -> bool:
    """Retire once (False when already retired): channels disabled, queue cancelled, identity
    certificates revoked. The device's next MDM request gets Apple's 403 and it unenrolls."""
    locked = Device.objects.for_tenant(tenant).select_for_update().get(pk=device.pk)
    if locked.state == DeviceState.RETIRED:
        return False
    previous = locked.state
    locked.state = DeviceState.RETIRED
    locked.save(update_fields=["state"])
    device.state = locked.state
    cancel_pending_of_device(locked)
    AppleChannel.objects.filter(device=locked).update(enabled=False)
    certificates = IssuedCertificate.objects.for_tenant(tenant).filter(
        device=locked, revoked_at__isnull=True)
    for certificate in certificates:
        do_revoke_certificate(tenant, certificate, actor=actor, origin=origin,
                              reason=RevocationReason.CESSATION)
    record(tenant, AuditAction.DEVICE_RETIRED, actor=actor, target=locked, device=locked,
           user=locked.owner, origin=origin, detail={"previous_state": previous})
    return True


class DeviceActionRefused(Exception):
    """The action does not apply to this device (message is admin-facing)."""


def device_channel(device: Device) -> AppleChannel | None:
    """The device channel, from `device_channels` when the caller prefetched it (bulk work)."""
    prefetched = getattr(device, "device_channels", None)
    if prefetched is not None:
        return prefetched[0] if prefetched else None
    return device.apple_channels.filter(is_user_channel=False).first()


@transaction.atomic
def do_delete_device(tenant, device: Device, *, actor, origin=None) -> None:
    """Remove an Apple device's entry. A device still managed is retired first (its identity is
    revoked, so it unenrolls at its next check-in instead of talking to a missing entry). Its
    command queue and push attempts go with it; the audit trail keeps every event (they lose
    the link to the entry, not its label) plus one naming what was deleted; registrations and
    certificates stay, unlinked."""
    locked = (Device.objects.for_tenant(tenant).select_for_update(of=("self",))
              .select_related("owner").get(pk=device.pk))
    if locked.platform == "android":
        raise DeviceActionRefused("Android devices are deleted through Google.")
    previous = locked.state
    if locked.state != DeviceState.RETIRED:
        do_retire_device(tenant, locked, actor=actor, origin=origin)
    record(tenant, AuditAction.DEVICE_DELETED, actor=actor, target=locked, device=None,
           user=locked.owner, origin=origin,
           detail={"device_id": locked.pk, "platform": locked.platform,
                   "state": previous, "udid": locked.udid,
                   "serial_number": locked.serial_number, "name": locked.name,
                   "owner": locked.owner.email if locked.owner else None})
    locked.delete()


def reregister_refusal(device: Device) -> str | None:
    if device.owner is None or not device.owner.is_active:
        return "the device has no active owner to register it again"
    return None


@transaction.atomic
def do_reregister_devices(tenant, devices: Sequence[Device], *, actor,
                          origin=None) -> dict[int, str]:
    """Ask the owners of these Apple devices to enroll them again: each owner gets a fresh
    invitation (one email, whatever the number of their devices) and the devices show Reset
    until the new registration arrives (then the same entry is re-registered, matched by UDID).
    Constant queries for any number of devices. Returns {device id: refusal} for the others."""
    refused = {d.pk: reason for d in devices if (reason := reregister_refusal(d))}
    chosen = [d for d in devices if d.pk not in refused]
    if not chosen:
        return refused
    sent = do_send_invitations(tenant, [d.owner for d in chosen], actor=actor, origin=origin)
    invitation_of = {s.invitation.user_id: s.invitation.pk for s in sent}
    previous = {d.pk: d.state for d in chosen}
    Device.objects.for_tenant(tenant).filter(pk__in=list(previous)).update(
        state=DeviceState.RESET)
    for d in chosen:
        d.state = DeviceState.RESET
    record_many(tenant, AuditAction.DEVICE_REREGISTER_REQUESTED, chosen, actor=actor,
                origin=origin, user_of=lambda d: d.owner, device_of=lambda d: d,
                detail_of=lambda d: {"previous_state": previous[d.pk], "platform": d.platform,
                                     "invitation_id": invitation_of.get(d.owner_id)})
    return refused


def push_refusal(device: Device) -> str | None:
    if device.platform == "android":
        return "Android devices are reached through Google, not by an MDM push"
    if device.is_gone:
        return f"the device is {device.get_state_display().lower()}"
    channel = device_channel(device)
    if channel is None or not channel.enabled or not channel.push_token or \
            not channel.push_magic:
        return "no push token yet (the device has not finished enrolling)"
    return None


@transaction.atomic
def do_push_devices(tenant, devices: Sequence[Device], *, actor,
                    origin=None) -> dict[int, str]:
    """Wake these Apple devices (an MDM push: they check in and fetch their queue). The pushes
    leave after commit in one task; each attempt and its result shows on the device page.
    Constant queries for any number of devices. Returns {device id: refusal} for the others."""
    refused = {d.pk: reason for d in devices if (reason := push_refusal(d))}
    chosen = [d for d in devices if d.pk not in refused]
    if not chosen:
        return refused
    certificate = apns_certificate(tenant)
    if certificate is None or certificate.is_expired:
        problem = ("no APNs certificate (Settings > APNs)" if certificate is None
                   else "the APNs certificate has expired")
        return {**refused, **{d.pk: problem for d in chosen}}
    channel_ids = [device_channel(d).pk for d in chosen]
    record_many(tenant, AuditAction.DEVICE_PUSH_REQUESTED, chosen, actor=actor, origin=origin,
                user_of=lambda d: d.owner, device_of=lambda d: d,
                detail_of=lambda d: {"channel": device_channel(d).channel_id})
    transaction.on_commit(lambda: queue_push(channel_ids, reason="manual"))
    return refused
