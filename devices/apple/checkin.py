"""The Apple MDM service: what NanoMDM's service interface is, as functions.

``serve_checkin`` (CheckInURL) and ``serve_report`` (ServerURL) take the request body and the
identity headers' values, check the signature (``identity.presented_certificate``), decode the
typed message (``messages``), map the certificate to the tenant's issued certificate
(``store.issued_certificate``; for Idle, one query fetches the channel with its bound
certificate) and act on it; every refusal is audited and answered the protocol's
way: 400 for identity and message problems (never 401, which can make a device unenroll),
403 with Apple's ``com.apple.unrecognized.device`` error for a retired or wiped device, 410 to
decline a Mac user channel.

Channel rules (NanoMDM): Authenticate binds the identity certificate to the device channel,
resets its queue and disables it until TokenUpdate; the first device-channel TokenUpdate of a
registration completes it (the device becomes Active and belongs to the user); CheckOut
disables the device channel and its user channels (the device becomes Inactive).
"""

from __future__ import annotations

import logging
import plistlib
from dataclasses import dataclass, field

from cryptography import x509
from django.db import transaction
from django.utils import timezone

from audit.events import AuditAction
from audit.record import record
from core.encryption import decrypt, encrypt
from devices.apple import identity, store
from devices.apple import messages as msg
from devices.apple.commands import (
    cancel_pending,
    do_enqueue_command,
    do_record_report,
    next_command,
)
from devices.apple.identity import IdentityError
from devices.models import AppleChannel, Device, DeviceState
from devices.models.devices import GONE_STATES
from devices.services.lifecycle import do_enroll_device
from enrollment.models import OPEN_STATES, IssuedCertificate, Registration, RegistrationState
from enrollment.services.registrations import registration_for_certificate

logger = logging.getLogger(__name__)

PLIST_CONTENT_TYPE = "application/xml"
UNRECOGNIZED_DEVICE = "com.apple.unrecognized.device"


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain"


def _plist_reply(value: dict) -> Reply:
    return Reply(200, plistlib.dumps(value, fmt=plistlib.FMT_XML), PLIST_CONTENT_TYPE)


class CheckinRefused(Exception):
    """Answer 400 and audit ``reason`` (nothing else is stored)."""

    def __init__(self, reason: str, action: AuditAction = AuditAction.DEVICE_CHECKIN_REJECTED,
                 **detail):
        super().__init__(reason)
        self.reason = reason
        self.action = action
        self.detail = detail


class DeviceUnrecognized(Exception):
    """The admin retired or wiped this device: Apple's 403 error, which unenrolls it."""

    def __init__(self, device: Device):
        super().__init__(f"device {device.pk} is {device.state}")
        self.device = device


def unrecognized_device_body() -> bytes:
    return plistlib.dumps({
        "code": UNRECOGNIZED_DEVICE,
        "description": "This device is no longer managed by this server.",
    }, fmt=plistlib.FMT_XML)


def _actor(message: msg.ChannelMessage) -> str:
    return f"device:{message.device_id}"[:200]


@dataclass
class _Context:
    tenant: object
    issued: IssuedCertificate | None  # set by identify(), after the message is decoded
    request: object = None
    detail: dict = field(default_factory=dict)
    certificate: x509.Certificate | None = None  # what signed the body (not yet trusted)

    def identify(self, candidate: IssuedCertificate | None = None) -> IssuedCertificate:
        self.issued = store.issued_certificate(self.tenant, self.certificate,
                                               candidate=candidate)
        return self.issued


# --- entry points ----------------------------------------------------------------------------

def serve_checkin(tenant, body: bytes, *, signature: str | None,
                  forwarded_certificate: str | None, request=None) -> Reply:
    """One check-in request (PUT to the CheckInURL)."""
    return _serve(tenant, body, signature, forwarded_certificate, request, _checkin)


def serve_report(tenant, body: bytes, *, signature: str | None,
                 forwarded_certificate: str | None, request=None) -> Reply:
    """One ServerURL request: a command result or Idle; the reply is the next command."""
    return _serve(tenant, body, signature, forwarded_certificate, request, _report)


def _serve(tenant, body, signature, forwarded_certificate, request, handler) -> Reply:
    ctx = _Context(tenant, None, request)
    try:
        ctx.certificate = identity.presented_certificate(
            body, signature=signature, forwarded_certificate=forwarded_certificate)
        return handler(ctx, body)
    except store.RevokedCertificate as exc:
        device = exc.issued.device
        if device is not None and device.is_gone:  # retiring revokes: still Apple's 403
            return _unrecognized(tenant, device, exc.issued, request)
        return _identity_refused(tenant, exc, request)
    except IdentityError as exc:
        return _identity_refused(tenant, exc, request)
    except msg.MessageError as exc:
        reason = ("missing_key" if isinstance(exc, msg.MissingKey) else
                  "unknown_message_type" if isinstance(exc, msg.UnknownMessageType) else
                  "malformed")
        return _refused(ctx, CheckinRefused(reason, error=str(exc)[:200]))
    except CheckinRefused as exc:
        return _refused(ctx, exc)
    except DeviceUnrecognized as exc:
        return _unrecognized(tenant, exc.device, ctx.issued, request)


def _identity_refused(tenant, exc: IdentityError, request) -> Reply:
    record(tenant, AuditAction.DEVICE_IDENTITY_REJECTED, actor="mdm", request=request,
           detail={"reason": exc.reason, "error": str(exc)[:200]})
    logger.info("MDM identity refused for tenant %s: %s", tenant.slug, exc)
    return Reply(400, b"The device identity could not be verified.\n")


def _unrecognized(tenant, device: Device, issued: IssuedCertificate | None, request) -> Reply:
    record(tenant, AuditAction.DEVICE_UNRECOGNIZED, actor=f"device:{device.udid}",
           target=device, device=device, request=request,
           detail={"state": device.state, "certificate": issued.serial_hex if issued else ""})
    return Reply(403, unrecognized_device_body(), PLIST_CONTENT_TYPE)


def _refused(ctx: _Context, exc: CheckinRefused) -> Reply:
    device = ctx.issued.device if ctx.issued else None
    serial = ctx.issued.serial_hex if ctx.issued else ""
    record(ctx.tenant, exc.action, actor="mdm", request=ctx.request, device=device,
           target=device, detail={"reason": exc.reason, "certificate": serial,
                                  **ctx.detail, **exc.detail})
    logger.info("MDM request refused for tenant %s: %s", ctx.tenant.slug, exc.reason)
    return Reply(400, f"Refused: {exc.reason}\n".encode())


# --- check-in messages ------------------------------------------------------------------------

def _checkin(ctx: _Context, body: bytes) -> Reply:
    message = msg.decode_checkin(body)
    ctx.detail.update(message_type=message.message_type, udid=message.device_id[:128])
    ctx.identify()
    if isinstance(message, msg.Authenticate):
        return _authenticate(ctx, message)
    if isinstance(message, msg.DeclarativeManagement):
        raise CheckinRefused("unsupported_message_type")
    handlers = {
        msg.TokenUpdate: _token_update,
        msg.CheckOut: _check_out,
        msg.UserAuthenticate: _user_authenticate,
        msg.SetBootstrapToken: _set_bootstrap_token,
        msg.GetBootstrapToken: _get_bootstrap_token,
    }
    with transaction.atomic():
        channel = _bound_device_channel(ctx, message)
        reply = handlers[type(message)](ctx, message, channel)
        _touch(channel)
    return reply


def _registration_accepts(registration: Registration, device: Device | None) -> bool:
    if registration.state in OPEN_STATES:
        return registration.is_open  # the expiry sweep may not have run yet
    return (registration.state == RegistrationState.ENROLLED and device is not None
            and registration.device_id == device.pk)


def _check_claim(device: Device | None, registration: Registration) -> None:
    """A new enrollment may take over a device record only if it is the owner's, or the
    device has left management (checked out, retired, wiped) or has no owner yet: a user
    cannot enroll "as" another user's managed device by sending its UDID."""
    if (device is None or device.owner_id is None or device.owner_id == registration.user_id
            or device.is_gone or device.state == DeviceState.INACTIVE):
        return
    raise CheckinRefused("device_enrolled_by_another_user",
                         AuditAction.DEVICE_ENROLLMENT_REFUSED, registration_id=registration.pk,
                         device_id=device.pk)


def _authenticate(ctx: _Context, m: msg.Authenticate) -> Reply:
    if m.is_user_channel:
        raise CheckinRefused("authenticate_on_user_channel")
    issued = ctx.issued
    registration = registration_for_certificate(issued)
    if registration is None:
        raise CheckinRefused("certificate_not_issued_for_a_registration")
    with transaction.atomic():
        device = (Device.objects.for_tenant(ctx.tenant).select_for_update()
                  .filter(udid=m.device_id).first())
        if issued.device_id is not None and (device is None or issued.device_id != device.pk):
            # A certificate bound to one UDID replayed for another.
            raise CheckinRefused("certificate_bound_to_another_device")
        fresh = issued.device_id is None
        if device is not None and device.is_gone and not fresh:
            raise DeviceUnrecognized(device)
        if not _registration_accepts(registration, device):
            raise CheckinRefused("registration_closed", AuditAction.DEVICE_ENROLLMENT_REFUSED,
                                 registration_id=registration.pk,
                                 registration_state=registration.state)
        if fresh:
            _check_claim(device, registration)
        now = timezone.now()
        device = _save_device_facts(ctx.tenant, device, m, registration.platform)
        IssuedCertificate.objects.filter(pk=issued.pk).update(device=device)
        issued.device = device
        channel, _ = AppleChannel.objects.select_for_update().get_or_create(
            tenant=ctx.tenant, channel_id=m.device_id, defaults={"device": device})
        channel.device, channel.is_user_channel = device, False
        channel.certificate, channel.registration = issued, registration
        channel.topic, channel.enabled, channel.authenticated_at = m.topic, False, now
        channel.last_seen_at = now
        channel.save()
        cancel_pending(channel)
        AppleChannel.objects.filter(device=device, is_user_channel=True).update(enabled=False)
        record(ctx.tenant, AuditAction.DEVICE_AUTHENTICATED, actor=_actor(m), target=device,
               device=device, user=registration.user, request=ctx.request,
               detail={"registration_id": registration.pk, "certificate": issued.serial_hex,
                       "new_certificate": fresh})
    return Reply()


def _save_device_facts(tenant, device: Device | None, m: msg.Authenticate,
                       platform: str) -> Device:
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
                                     state=DeviceState.PENDING, last_seen_at=now, **facts)
    for key, value in facts.items():
        setattr(device, key, value)
    # Until its TokenUpdate, a (re-)authenticated device is enrolling, not managed.
    device.platform, device.state, device.last_seen_at = platform, DeviceState.PENDING, now
    device.save()
    return device


def _bound_device_channel(ctx: _Context, m: msg.ChannelMessage) -> AppleChannel:
    """The device channel of ``m``'s UDID, locked, if the request's certificate may speak for
    it: the certificate bound at Authenticate, its SCEP renewal, or (TokenUpdate only) a fresh
    certificate of an open registration: identity renewal by a new enrollment profile."""
    channel = (AppleChannel.objects.for_tenant(ctx.tenant).select_for_update()
               .select_related("device").filter(channel_id=m.device_id, is_user_channel=False)
               .first())
    if channel is None:
        raise CheckinRefused("not_authenticated")
    issued = ctx.issued
    if channel.certificate_id == issued.pk:
        pass
    elif issued.device_id is None and issued.renewed_from_id is not None \
            and issued.renewed_from_id == channel.certificate_id:
        _rebind(channel, issued)
    elif (issued.device_id is None and isinstance(m, msg.TokenUpdate)
          and not m.is_user_channel):
        registration = registration_for_certificate(issued)
        if registration is None or not registration.is_open:
            raise CheckinRefused("certificate_not_bound_to_this_device")
        _check_claim(channel.device, registration)
        _rebind(channel, issued, registration)
    else:
        raise CheckinRefused("certificate_not_bound_to_this_device")
    if channel.device.is_gone:
        raise DeviceUnrecognized(channel.device)
    if channel.device.state == DeviceState.INACTIVE and not isinstance(m, msg.CheckOut):
        # Checked out: the device left management; only a new Authenticate brings it back.
        raise CheckinRefused("checked_out")
    return channel


def _rebind(channel: AppleChannel, issued: IssuedCertificate,
            registration: Registration | None = None) -> None:
    IssuedCertificate.objects.filter(pk=issued.pk).update(device=channel.device)
    issued.device = channel.device
    channel.certificate = issued
    fields = ["certificate"]
    if registration is not None:
        channel.registration = registration
        fields.append("registration")
    channel.save(update_fields=fields)


def _token_update(ctx: _Context, m: msg.TokenUpdate, channel: AppleChannel) -> Reply:
    if m.is_user_channel:
        return _user_token_update(ctx, m, channel)
    device = Device.objects.select_for_update().get(pk=channel.device_id)
    registration = (registration_for_certificate(ctx.issued) if channel.registration_id is None
                    else Registration.objects.get(pk=channel.registration_id))
    if registration is None or not _registration_accepts(registration, device):
        raise CheckinRefused("registration_closed", AuditAction.DEVICE_ENROLLMENT_REFUSED,
                             registration_id=getattr(registration, "pk", None),
                             registration_state=getattr(registration, "state", None))
    _store_push(channel, m)
    if m.unlock_token:
        channel.unlock_token_encrypted = encrypt(m.unlock_token,
                                                 AppleChannel.UNLOCK_TOKEN_PURPOSE)
    channel.save()
    enrolled = do_enroll_device(registration, device, actor=_actor(m),
                                        request=ctx.request)
    if enrolled:
        _on_enrolled(ctx.tenant, device, channel, registration.user, m)
    elif device.state == DeviceState.PENDING:
        device.state = DeviceState.ACTIVE  # re-authenticated with the same enrollment
        device.save(update_fields=["state"])
    return Reply()


def _store_push(channel: AppleChannel, m: msg.TokenUpdate) -> None:
    channel.topic, channel.push_token, channel.push_magic = m.topic, m.token, m.push_magic
    channel.enabled, channel.token_updated_at = True, timezone.now()


def _on_enrolled(tenant, device: Device, channel: AppleChannel, user, m) -> None:
    from devices.services.profiles import queue_enrollment_profiles

    do_enqueue_command(tenant, device, "DeviceInformation", actor="system", channel=channel)
    # iOS has no user channel: user-scope profiles go on the device channel there.
    scopes = ["device"] if device.platform == "macos" else ["device", "user"]
    queue_enrollment_profiles(tenant, device, channel, user, scopes, actor="system")


def _check_out(ctx: _Context, m: msg.CheckOut, channel: AppleChannel) -> Reply:
    if m.is_user_channel:
        AppleChannel.objects.filter(device_id=channel.device_id,
                                    channel_id=m.channel_id).update(enabled=False)
        return Reply()
    device = Device.objects.select_for_update().get(pk=channel.device_id)
    AppleChannel.objects.filter(device=device).update(enabled=False)
    channel.enabled = False
    if device.state not in (DeviceState.INACTIVE, DeviceState.RETIRED, DeviceState.WIPED):
        device.state = DeviceState.INACTIVE
        device.save(update_fields=["state"])
        record(ctx.tenant, AuditAction.DEVICE_INACTIVE, actor=_actor(m), target=device,
               device=device, user=device.owner, request=ctx.request,
               detail={"reason": "checkout"})
    return Reply()


# --- macOS user channels ----------------------------------------------------------------------

def _directory_names(user) -> set[str]:
    names = {user.email.split("@", 1)[0].lower()}
    if getattr(user, "ldap_dn", ""):
        first = user.ldap_dn.split(",", 1)[0]
        if "=" in first:
            names.add(first.split("=", 1)[1].strip().lower())
    return names


def _user_channel_decision(device: Device, m: msg.ChannelMessage) -> str | None:
    """None when the user channel is allowed, else why it is declined. Only the user who
    enrolled the Mac gets one: the first user channel (that user was logged in to install the
    profile); a directory account must be that very user by its short name."""
    if device.state != DeviceState.ACTIVE or device.owner is None:
        return "device_not_enrolled"
    holder = (AppleChannel.objects.filter(device=device, is_user_channel=True)
              .exclude(user_guid=m.user_channel_user or "").exists())
    if holder:
        return "another_user_holds_the_user_channel"
    if device.owner.source == "ldap" and \
            (m.user_short_name or "").lower() not in _directory_names(device.owner):
        return "not_the_enrolled_directory_user"
    return None


def _decline(ctx: _Context, device: Device, m: msg.ChannelMessage, reason: str) -> Reply:
    record(ctx.tenant, AuditAction.USER_CHANNEL_DECLINED, actor=_actor(m), target=device,
           device=device, user=device.owner, request=ctx.request,
           detail={"reason": reason, "message_type": m.raw.get("MessageType"),
                   "user_id": m.user_channel_user, "user_short_name": m.user_short_name})
    return Reply(410, b"User channel declined.\n")


def _user_authenticate(ctx: _Context, m: msg.UserAuthenticate, channel: AppleChannel) -> Reply:
    device = channel.device
    reason = _user_channel_decision(device, m)
    if reason:
        return _decline(ctx, device, m, reason)
    if m.digest_response is None:
        return _plist_reply({"DigestChallenge": ""})  # no digest needed: go on to TokenUpdate
    return Reply()


def _user_token_update(ctx: _Context, m: msg.TokenUpdate, device_channel: AppleChannel) -> Reply:
    device = device_channel.device
    reason = _user_channel_decision(device, m)
    if reason:
        return _decline(ctx, device, m, reason)
    channel, created = AppleChannel.objects.select_for_update().get_or_create(
        tenant=ctx.tenant, channel_id=m.channel_id,
        defaults={"device": device, "is_user_channel": True})
    first = not channel.enabled and channel.token_updated_at is None
    channel.user_guid = (m.user_channel_user or "")[:128]
    channel.user_short_name = (m.user_short_name or "")[:128]
    channel.user_long_name = (m.user_long_name or "")[:200]
    _store_push(channel, m)
    channel.last_seen_at = timezone.now()
    channel.save()
    if created or first:
        from devices.services.profiles import queue_enrollment_profiles

        record(ctx.tenant, AuditAction.USER_CHANNEL_ACCEPTED, actor=_actor(m), target=device,
               device=device, user=device.owner, request=ctx.request,
               detail={"user_id": channel.user_guid, "user_short_name": channel.user_short_name})
        queue_enrollment_profiles(ctx.tenant, device, channel, device.owner, ["user"],
                                  actor="system")
    return Reply()


# --- Bootstrap Token (macOS) ------------------------------------------------------------------

def _set_bootstrap_token(ctx: _Context, m: msg.SetBootstrapToken,
                         channel: AppleChannel) -> Reply:
    token = m.bootstrap_token
    channel.bootstrap_token_encrypted = (
        encrypt(token, AppleChannel.BOOTSTRAP_TOKEN_PURPOSE) if token else None)
    channel.save(update_fields=["bootstrap_token_encrypted"])
    record(ctx.tenant, AuditAction.BOOTSTRAP_TOKEN_ESCROWED, actor=_actor(m),
           target=channel.device, device=channel.device, request=ctx.request,
           detail={"removed": not token})
    return Reply()


def _get_bootstrap_token(ctx: _Context, m: msg.GetBootstrapToken,
                         channel: AppleChannel) -> Reply:
    if not channel.bootstrap_token_encrypted:
        return Reply()
    token = decrypt(bytes(channel.bootstrap_token_encrypted), AppleChannel.BOOTSTRAP_TOKEN_PURPOSE)
    return _plist_reply({"BootstrapToken": token})


# --- ServerURL: results and Idle --------------------------------------------------------------

def _report(ctx: _Context, body: bytes) -> Reply:
    report = msg.decode_command_report(body)
    ctx.detail.update(status=report.status.value, udid=report.device_id[:128])
    if report.status is msg.CommandStatus.IDLE:
        outcome = store.idle(ctx.tenant, report.channel_id, ctx.certificate)
        if outcome.handled:
            return Reply(200, outcome.command, PLIST_CONTENT_TYPE) if outcome.command \
                else Reply()
        target = outcome.target  # something is off: the general path says what
    else:
        target = store.report_target(ctx.tenant, report.channel_id)
    if target is None or not store.bound_certificate_matches(target, ctx.certificate):
        _check_report_identity(ctx, report, target)  # slow path: says why, or lets through
    if target.device_state in GONE_STATES:
        raise DeviceUnrecognized(Device.objects.get(pk=target.device_pk))
    if not target.enabled:
        raise CheckinRefused("channel_not_enrolled")
    skip_not_now = False
    if report.status is not msg.CommandStatus.IDLE:
        channel = AppleChannel.objects.get(pk=target.channel_pk)
        do_record_report(ctx.tenant, channel, report, body)
        skip_not_now = report.status is msg.CommandStatus.NOT_NOW
    _touch_ids(target)
    command = next_command(target.channel_pk, skip_not_now=skip_not_now)
    if command is None:
        return Reply()
    return Reply(200, command, PLIST_CONTENT_TYPE)


def _check_report_identity(ctx: _Context, report: msg.CommandReport,
                           target: store.ReportTarget | None) -> None:
    """The request's certificate is not the one bound to the channel it names: fine for a
    user channel of the certificate's own device; otherwise refused with the reason."""
    issued = ctx.identify()
    device = issued.device
    if device is None or device.udid != report.device_id:
        raise CheckinRefused("certificate_not_bound_to_this_device")
    if device.is_gone:
        raise DeviceUnrecognized(device)
    if target is None or target.device_pk != device.pk:
        raise CheckinRefused("channel_not_enrolled")
    if not target.is_user_channel:
        raise CheckinRefused("certificate_not_bound_to_this_device")


def _touch_ids(target: store.ReportTarget) -> None:
    now = timezone.now()
    if target.last_seen_at is None or now - target.last_seen_at > store.LAST_SEEN_RESOLUTION:
        AppleChannel.objects.filter(pk=target.channel_pk).update(last_seen_at=now)
    if target.device_last_seen_at is None or \
            now - target.device_last_seen_at > store.LAST_SEEN_RESOLUTION:
        Device.objects.filter(pk=target.device_pk).update(last_seen_at=now)


def _touch(channel: AppleChannel, device: Device | None = None) -> None:
    """Record that the device was seen, at most once a minute (Idle is the hot path)."""
    now = timezone.now()
    device = device or channel.device
    if channel.last_seen_at is None or now - channel.last_seen_at > store.LAST_SEEN_RESOLUTION:
        AppleChannel.objects.filter(pk=channel.pk).update(last_seen_at=now)
    if device.last_seen_at is None or now - device.last_seen_at > store.LAST_SEEN_RESOLUTION:
        Device.objects.filter(pk=device.pk).update(last_seen_at=now)
