"""What the Apple check-in service reads and writes: the ``CheckinStore`` interface, and
``OrmCheckinStore``, its plain Django ORM implementation (any database; SQLite in embedded
mode). ``PostgresCheckinStore`` (postgres_store.py) is the fast path on PostgreSQL; one
contract suite (tests/devices/test_checkin_store.py) holds both to the same results, rows and
audit events.

The check-in service decides; the store keeps rows. A method that changes something writes
its audit event with it, in the caller's transaction; ``audit`` writes the events of
refusals, which change nothing.
"""

from __future__ import annotations

import datetime as dt
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audit.events import AuditAction
from audit.record import record
from core.encryption import decrypt, encrypt
from devices.apple import messages as msg
from devices.apple.commands import cancel_pending, do_enqueue_command, do_record_report
from devices.models import AppleChannel, Command, CommandStatus, Device, DeviceState
from devices.models.commands import PENDING_STATUSES
from devices.models.devices import GONE_STATES
from devices.services.lifecycle import do_enroll_device
from devices.services.profiles import queue_enrollment_profiles
from devices.services.renewal_outcomes import do_complete_renewal
from enrollment.models import CertificateAuthority, IssuedCertificate, Registration
from enrollment.services.registrations import registration_for_certificate

LAST_SEEN_RESOLUTION = dt.timedelta(seconds=60)  # fewer writes: last seen to the minute


@dataclass(frozen=True)
class ReportTarget:
    """What a ServerURL request needs about the channel it names: the channel, its device,
    and the certificate bound to it with the CA that issued it."""

    channel_pk: int
    enabled: bool
    is_user_channel: bool
    last_seen_at: dt.datetime | None
    device_pk: int
    device_udid: str
    device_state: str
    device_last_seen_at: dt.datetime | None
    certificate_pk: int | None
    certificate_fingerprint: str | None
    certificate_revoked: bool
    certificate_not_before: dt.datetime | None
    certificate_not_after: dt.datetime | None
    authority_certificate_der: bytes | None
    authority_not_before: dt.datetime | None
    authority_not_after: dt.datetime | None
    # The certificate a renewal replaced, still accepted until then (the grace period).
    previous_certificate_pk: int | None = None
    previous_certificate_until: dt.datetime | None = None

    def accepts_previous(self, certificate_pk: int, now: dt.datetime) -> bool:
        return (self.previous_certificate_pk == certificate_pk
                and self.previous_certificate_until is not None
                and now < self.previous_certificate_until)

    def serves_idle(self, fingerprint: str, now: dt.datetime) -> bool:
        """The Idle rule (postgres_store's statement applies it in SQL): the presented
        certificate is the channel's bound certificate, unrevoked and in date, issued by a CA
        in date, and the channel is enabled on a device still managed."""
        return (self.certificate_fingerprint == fingerprint and not self.certificate_revoked
                and self.certificate_not_before <= now < self.certificate_not_after
                and self.authority_not_before <= now < self.authority_not_after
                and self.enabled and self.device_state not in GONE_STATES)


@dataclass(frozen=True)
class IdleOutcome:
    """``accepted``: the Idle was served (the next command's plist, None when the queue is
    empty, delivered; last seen refreshed); otherwise nothing was written."""

    accepted: bool
    command: bytes | None = None


class CheckinStore(Protocol):
    """Every read and write of the check-in service and its certificate binding."""

    def atomic(self) -> AbstractContextManager: ...
    def audit(self, tenant, action: AuditAction, **fields) -> None: ...

    # Identity and binding.
    def issued_certificate(self, tenant, fingerprint: str) -> IssuedCertificate | None:
        """Revoked or not, with its device and issuing authority."""
    def ca_certificates(self, tenant) -> list[bytes]: ...
    def registration_for_certificate(self, issued: IssuedCertificate) -> Registration | None:
        ...
    def registration(self, pk: int) -> Registration: ...
    def lock_device_by_udid(self, tenant, udid: str) -> Device | None: ...
    def lock_device(self, pk: int) -> Device: ...
    def device(self, tenant, pk: int) -> Device: ...
    def lock_device_channel(self, tenant, udid: str) -> AppleChannel | None:
        """Locked with its device (locked too) and the device's owner."""
    def bind_certificate(self, channel: AppleChannel, issued: IssuedCertificate,
                         registration: Registration | None = None) -> None: ...
    def complete_renewal(self, channel: AppleChannel, issued: IssuedCertificate,
                         registration: Registration, *, actor, origin=None) -> None:
        """``issued`` renews the identity of ``channel``'s device (renewal registration)."""

    # Check-in messages.
    def store_authenticate(self, tenant, m: msg.Authenticate, *,
                           certificate: IssuedCertificate, registration: Registration,
                           device: Device | None, actor, origin=None) -> AppleChannel: ...
    def clear_queue(self, channel: AppleChannel) -> int: ...
    def disable(self, device_pk: int, user_channel_id: str | None = None) -> None: ...
    def store_token_update(self, channel: AppleChannel, m: msg.TokenUpdate) -> None: ...
    def enroll_device(self, registration: Registration, device: Device, *, actor,
                      origin=None) -> bool: ...
    def set_device_state(self, device: Device, state: str) -> None: ...
    def check_out_device(self, tenant, device: Device, *, actor, origin=None) -> None: ...
    def enqueue_command(self, tenant, device: Device, request_type: str, *,
                        channel: AppleChannel, actor) -> None: ...
    def queue_profiles(self, tenant, device: Device, channel: AppleChannel, user,
                       scopes: list[str], *, actor) -> None: ...
    def user_channel_held_by_another(self, device: Device, user_guid: str) -> bool: ...
    def store_user_token_update(self, tenant, device: Device, m: msg.TokenUpdate, *, actor,
                                origin=None) -> tuple[AppleChannel, bool]: ...
    def store_bootstrap_token(self, tenant, channel: AppleChannel, token: bytes | None, *,
                              actor, origin=None) -> None: ...
    def bootstrap_token(self, channel: AppleChannel) -> bytes | None: ...
    def mark_seen(self, channel_pk: int, device_pk: int, *,
                  channel_seen_at: dt.datetime | None,
                  device_seen_at: dt.datetime | None) -> None: ...

    # ServerURL.
    def report_target(self, tenant, channel_id: str) -> ReportTarget | None: ...
    def idle(self, tenant, channel_id: str, fingerprint: str) -> IdleOutcome: ...
    def store_command_report(self, tenant, channel_pk: int, report: msg.CommandReport,
                             body: bytes) -> None: ...
    def next_command(self, channel_pk: int, *, skip_not_now: bool) -> bytes | None: ...


class OrmCheckinStore:
    """``CheckinStore`` in plain ORM statements."""

    def atomic(self) -> AbstractContextManager:
        return transaction.atomic()

    def audit(self, tenant, action: AuditAction, **fields) -> None:
        record(tenant, action, **fields)

    # --- identity and binding ------------------------------------------------------------------

    def issued_certificate(self, tenant, fingerprint: str) -> IssuedCertificate | None:
        return (IssuedCertificate.objects.for_tenant(tenant)
                .select_related("device", "authority")
                .defer("certificate_der", "authority__private_key_encrypted")
                .filter(fingerprint_sha256=fingerprint).first())

    def ca_certificates(self, tenant) -> list[bytes]:
        """Every CA certificate of the tenant, active or not: devices enrolled under a rotated
        CA keep their identity."""
        return [bytes(der) for der in CertificateAuthority.objects.for_tenant(tenant)
                .values_list("certificate_der", flat=True)]

    def registration_for_certificate(self, issued: IssuedCertificate) -> Registration | None:
        return registration_for_certificate(issued)

    def registration(self, pk: int) -> Registration:
        return Registration.objects.get(pk=pk)

    def lock_device_by_udid(self, tenant, udid: str) -> Device | None:
        return Device.objects.for_tenant(tenant).select_for_update().filter(udid=udid).first()

    def lock_device(self, pk: int) -> Device:
        return Device.objects.select_for_update().get(pk=pk)

    def device(self, tenant, pk: int) -> Device:
        return Device.objects.for_tenant(tenant).get(pk=pk)

    def lock_device_channel(self, tenant, udid: str) -> AppleChannel | None:
        return (AppleChannel.objects.for_tenant(tenant)
                .select_for_update(of=("self", "device"))
                .select_related("device", "device__owner")
                .filter(channel_id=udid, is_user_channel=False).first())

    def bind_certificate(self, channel: AppleChannel, issued: IssuedCertificate,
                         registration: Registration | None = None) -> None:
        """``issued`` now speaks for ``channel`` (and enrolls under ``registration``)."""
        IssuedCertificate.objects.filter(pk=issued.pk).update(device=channel.device)
        Device.objects.filter(pk=channel.device_id).update(identity_expires_at=issued.not_after)
        issued.device = channel.device
        channel.certificate = issued
        fields = ["certificate"]
        if registration is not None:
            channel.registration = registration
            fields.append("registration")
        channel.save(update_fields=fields)

    def complete_renewal(self, channel: AppleChannel, issued: IssuedCertificate,
                         registration: Registration, *, actor, origin=None) -> None:
        do_complete_renewal(channel, issued, registration, actor=actor, origin=origin)
        channel.refresh_from_db(fields=["certificate", "previous_certificate",
                                        "previous_certificate_until"])

    # --- check-in messages ---------------------------------------------------------------------

    def store_authenticate(self, tenant, m: msg.Authenticate, *,
                           certificate: IssuedCertificate, registration: Registration,
                           device: Device | None, actor, origin=None) -> AppleChannel:
        """The device (created, or its facts updated) enrolling through ``registration``,
        ``certificate`` bound to it, and its device channel reset to that certificate,
        disabled until TokenUpdate. Audited."""
        fresh = certificate.device_id is None
        now = timezone.now()
        device = _save_device_facts(tenant, device, m, registration.platform,
                                    identity_expires_at=certificate.not_after)
        IssuedCertificate.objects.filter(pk=certificate.pk).update(device=device)
        certificate.device = device
        channel, _ = AppleChannel.objects.select_for_update().get_or_create(
            tenant=tenant, channel_id=m.device_id, defaults={"device": device})
        channel.device, channel.is_user_channel = device, False
        channel.certificate, channel.registration = certificate, registration
        channel.previous_certificate, channel.previous_certificate_until = None, None
        channel.topic, channel.enabled, channel.authenticated_at = m.topic, False, now
        channel.last_seen_at = now
        channel.save()
        record(tenant, AuditAction.DEVICE_AUTHENTICATED, actor=actor, target=device,
               device=device, user=registration.user, origin=origin,
               detail={"registration_id": registration.pk,
                       "certificate": certificate.serial_hex, "new_certificate": fresh})
        return channel

    def clear_queue(self, channel: AppleChannel) -> int:
        return cancel_pending(channel)

    def disable(self, device_pk: int, user_channel_id: str | None = None) -> None:
        """Every channel of the device (its device channel and user channels), or only the
        user channel ``user_channel_id``."""
        channels = AppleChannel.objects.filter(device_id=device_pk)
        if user_channel_id is not None:
            channels = channels.filter(channel_id=user_channel_id)
        channels.update(enabled=False)

    def store_token_update(self, channel: AppleChannel, m: msg.TokenUpdate) -> None:
        _store_push(channel, m)
        if m.unlock_token:
            channel.unlock_token_encrypted = encrypt(m.unlock_token,
                                                     AppleChannel.UNLOCK_TOKEN_PURPOSE)
        channel.save()

    def enroll_device(self, registration: Registration, device: Device, *, actor,
                      origin=None) -> bool:
        return do_enroll_device(registration, device, actor=actor, origin=origin)

    def set_device_state(self, device: Device, state: str) -> None:
        device.state = state
        device.save(update_fields=["state"])

    def check_out_device(self, tenant, device: Device, *, actor, origin=None) -> None:
        """The device left management by CheckOut: Inactive, audited."""
        device.state = DeviceState.INACTIVE
        device.save(update_fields=["state"])
        record(tenant, AuditAction.DEVICE_INACTIVE, actor=actor, target=device, device=device,
               user=device.owner, origin=origin, detail={"reason": "checkout"})

    def enqueue_command(self, tenant, device: Device, request_type: str, *,
                        channel: AppleChannel, actor) -> None:
        do_enqueue_command(tenant, device, request_type, actor=actor, channel=channel)

    def queue_profiles(self, tenant, device: Device, channel: AppleChannel, user,
                       scopes: list[str], *, actor) -> None:
        queue_enrollment_profiles(tenant, device, channel, user, scopes, actor=actor)

    def user_channel_held_by_another(self, device: Device, user_guid: str) -> bool:
        return (AppleChannel.objects.filter(device=device, is_user_channel=True)
                .exclude(user_guid=user_guid).exists())

    def store_user_token_update(self, tenant, device: Device, m: msg.TokenUpdate, *, actor,
                                origin=None) -> tuple[AppleChannel, bool]:
        """The user channel with its push token; True with it when it is new (then accepted,
        audited)."""
        channel, created = AppleChannel.objects.select_for_update().get_or_create(
            tenant=tenant, channel_id=m.channel_id,
            defaults={"device": device, "is_user_channel": True})
        first = created or (not channel.enabled and channel.token_updated_at is None)
        channel.user_guid = (m.user_channel_user or "")[:128]
        channel.user_short_name = (m.user_short_name or "")[:128]
        channel.user_long_name = (m.user_long_name or "")[:200]
        _store_push(channel, m)
        channel.last_seen_at = timezone.now()
        channel.save()
        if first:
            record(tenant, AuditAction.USER_CHANNEL_ACCEPTED, actor=actor, target=device,
                   device=device, user=device.owner, origin=origin,
                   detail={"user_id": channel.user_guid,
                           "user_short_name": channel.user_short_name})
        return channel, first

    def store_bootstrap_token(self, tenant, channel: AppleChannel, token: bytes | None, *,
                              actor, origin=None) -> None:
        """Escrowed encrypted; None or empty removes it. Audited."""
        channel.bootstrap_token_encrypted = (
            encrypt(token, AppleChannel.BOOTSTRAP_TOKEN_PURPOSE) if token else None)
        channel.save(update_fields=["bootstrap_token_encrypted"])
        record(tenant, AuditAction.BOOTSTRAP_TOKEN_ESCROWED, actor=actor,
               target=channel.device, device=channel.device, origin=origin,
               detail={"removed": not token})

    def bootstrap_token(self, channel: AppleChannel) -> bytes | None:
        if not channel.bootstrap_token_encrypted:
            return None
        return decrypt(bytes(channel.bootstrap_token_encrypted),
                       AppleChannel.BOOTSTRAP_TOKEN_PURPOSE)

    def mark_seen(self, channel_pk: int, device_pk: int, *,
                  channel_seen_at: dt.datetime | None,
                  device_seen_at: dt.datetime | None) -> None:
        """Record that the device was seen, at most once a minute (Idle is the hot path)."""
        now = timezone.now()
        if channel_seen_at is None or now - channel_seen_at > LAST_SEEN_RESOLUTION:
            AppleChannel.objects.filter(pk=channel_pk).update(last_seen_at=now)
        if device_seen_at is None or now - device_seen_at > LAST_SEEN_RESOLUTION:
            Device.objects.filter(pk=device_pk).update(last_seen_at=now)

    # --- ServerURL -----------------------------------------------------------------------------

    def report_target(self, tenant, channel_id: str) -> ReportTarget | None:
        rows = (AppleChannel.objects.for_tenant(tenant).filter(channel_id=channel_id)
                .values_list(*_TARGET_FIELDS)[:1])
        if not rows:
            return None
        values = dict(zip(_TARGET_FIELDS, rows[0], strict=True))
        der = values["certificate__authority__certificate_der"]
        return ReportTarget(
            values["pk"], values["enabled"], values["is_user_channel"], values["last_seen_at"],
            values["device_id"], values["device__udid"], values["device__state"],
            values["device__last_seen_at"], values["certificate_id"],
            values["certificate__fingerprint_sha256"],
            values["certificate__revoked_at"] is not None,
            values["certificate__not_before"], values["certificate__not_after"],
            None if der is None else bytes(der), values["certificate__authority__not_before"],
            values["certificate__authority__not_after"], values["previous_certificate_id"],
            values["previous_certificate_until"])

    def idle(self, tenant, channel_id: str, fingerprint: str) -> IdleOutcome:
        target = self.report_target(tenant, channel_id)
        if target is None or not target.serves_idle(fingerprint, timezone.now()):
            return IdleOutcome(accepted=False)
        self.mark_seen(target.channel_pk, target.device_pk,
                       channel_seen_at=target.last_seen_at,
                       device_seen_at=target.device_last_seen_at)
        return IdleOutcome(True, self.next_command(target.channel_pk, skip_not_now=False))

    def store_command_report(self, tenant, channel_pk: int, report: msg.CommandReport,
                             body: bytes) -> None:
        do_record_report(tenant, AppleChannel.objects.get(pk=channel_pk), report, body)

    def next_command(self, channel_pk: int, *, skip_not_now: bool) -> bytes | None:
        """The plist of the oldest command still waiting, None when there is none. Its
        delivery is counted, and it becomes queued again, only when it was never sent or the
        device answered NotNow since: handing the same command to a device that has not
        answered yet writes nothing (NanoMDM writes nothing on delivery at all).

        Right after a NotNow answer, NotNow commands are skipped (else the device would be
        handed the same command in a loop); the next Idle offers them again."""
        statuses = [CommandStatus.QUEUED] if skip_not_now else list(PENDING_STATUSES)
        row = (Command.objects.filter(channel_id=channel_pk, status__in=statuses)
               .order_by("created_at", "id").values_list("pk", "command_plist", "status",
                                                          "sent_at").first())
        if row is None:
            return None
        if row[3] is None or row[2] == CommandStatus.NOT_NOW:
            Command.objects.filter(pk=row[0]).update(
                sent_at=timezone.now(), delivered_count=F("delivered_count") + 1,
                status=CommandStatus.QUEUED)
        return bytes(row[1])


_TARGET_FIELDS = (
    "pk", "enabled", "is_user_channel", "last_seen_at", "device_id", "device__udid",
    "device__state", "device__last_seen_at", "certificate_id",
    "certificate__fingerprint_sha256", "certificate__revoked_at", "certificate__not_before",
    "certificate__not_after", "certificate__authority__certificate_der",
    "certificate__authority__not_before", "certificate__authority__not_after",
    "previous_certificate_id", "previous_certificate_until",
)


def _save_device_facts(tenant, device: Device | None, m: msg.Authenticate,
                       platform: str, *, identity_expires_at: dt.datetime) -> Device:
    facts = {
        "serial_number": m.serial_number, "name": m.device_name, "model": m.model,
        "model_name": m.model_name, "product_name": m.product_name,
        "os_version": m.os_version, "build_version": m.build_version, "imei": m.imei,
        "meid": m.meid,
    }
    facts = {k: v[:Device._meta.get_field(k).max_length] for k, v in facts.items() if v}
    now = timezone.now()
    if device is None:
        return Device.objects.create(tenant=tenant, platform=platform, udid=m.device_id,
                                     state=DeviceState.PENDING, last_seen_at=now,
                                     identity_expires_at=identity_expires_at,
                                     user_enrollment=m.udid is None, **facts)
    for key, value in facts.items():
        setattr(device, key, value)
    # Until its TokenUpdate, a (re-)authenticated device is enrolling, not managed.
    device.platform, device.state, device.last_seen_at = platform, DeviceState.PENDING, now
    device.identity_expires_at = identity_expires_at
    device.user_enrollment = m.udid is None  # named by an EnrollmentID: User Enrollment
    device.renewal_retry_at = device.renewal_requested_at = None
    device.save()
    return device


def _store_push(channel: AppleChannel, m: msg.TokenUpdate) -> None:
    channel.topic, channel.push_token, channel.push_magic = m.topic, m.token, m.push_magic
    channel.enabled, channel.token_updated_at = True, timezone.now()
