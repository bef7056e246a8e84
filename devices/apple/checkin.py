"""The Apple MDM service: what NanoMDM's service interface is, as functions.

``serve_checkin`` (CheckInURL) and ``serve_report`` (ServerURL) take the request body, the
identity headers' values and the ``CheckinStore`` the view chose, check the signature
(``identity.presented_certificate``), decode the typed message (``messages``), map the
certificate to the tenant's issued certificate (``identify``) and act on it; every read and
write goes through the store. Every refusal is audited and answered the protocol's way: 400
for identity and message problems (never 401, which can make a device unenroll), 403 with
Apple's ``com.apple.unrecognized.device`` error for a retired or wiped device, 410 to decline
a Mac user channel.

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
from django.utils import timezone

from audit.events import AuditAction
from devices.apple import identity
from devices.apple import messages as msg
from devices.apple.identity import IdentityError
from devices.apple.store import CheckinStore, ReportTarget
from devices.models import AppleChannel, Device, DeviceState
from devices.models.devices import GONE_STATES
from enrollment.models import OPEN_STATES, IssuedCertificate, Registration, RegistrationState
from pki.authority import fingerprint

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


class UnknownCertificate(IdentityError):
    reason = "unknown_certificate"


class RevokedCertificate(IdentityError):
    reason = "revoked"

    def __init__(self, message: str, issued: IssuedCertificate):
        super().__init__(message)
        self.issued = issued


def unrecognized_device_body() -> bytes:
    return plistlib.dumps({
        "code": UNRECOGNIZED_DEVICE,
        "description": "This device is no longer managed by this server.",
    }, fmt=plistlib.FMT_XML)


def _actor(message: msg.ChannelMessage) -> str:
    return f"device:{message.device_id}"[:200]


def identify(store: CheckinStore, tenant, cert: x509.Certificate) -> IssuedCertificate:
    """The tenant's unrevoked IssuedCertificate that ``cert`` is; IdentityError otherwise.

    The chain is checked against the issuing CA of the stored row, which is one of the
    tenant's CAs, active or rotated out; a certificate we do not know is checked against all
    of them to say why it is refused."""
    issued = store.issued_certificate(tenant, fingerprint(cert))
    now = timezone.now()
    if issued is None:
        identity.verify_chain(cert, [identity.load_certificate(der)
                                     for der in store.ca_certificates(tenant)], now)
        raise UnknownCertificate("signed by our CA but not a certificate we issued")
    issuer = identity.load_certificate(bytes(issued.authority.certificate_der))
    identity.verify_chain(cert, [issuer], now)
    if issued.revoked_at is not None:
        raise RevokedCertificate(f"certificate {issued.serial_hex} is revoked", issued)
    return issued


def bound_certificate_matches(target: ReportTarget, cert: x509.Certificate) -> bool:
    """The fast identity check: ``cert`` is the unrevoked certificate bound to the target's
    channel (same bytes, fingerprint compared) and chains to the CA that issued it."""
    if target.certificate_fingerprint is None or target.certificate_revoked:
        return False
    if fingerprint(cert) != target.certificate_fingerprint:
        return False
    identity.verify_chain(cert, [identity.load_certificate(target.authority_certificate_der)],
                          timezone.now())
    return True


@dataclass
class _Context:
    tenant: object
    store: CheckinStore
    issued: IssuedCertificate | None = None  # set by identify(), after the message is decoded
    request: object = None
    detail: dict = field(default_factory=dict)
    certificate: x509.Certificate | None = None  # what signed the body (not yet trusted)

    def identify(self) -> IssuedCertificate:
        self.issued = identify(self.store, self.tenant, self.certificate)
        return self.issued


# --- entry points ----------------------------------------------------------------------------

def serve_checkin(tenant, body: bytes, *, store: CheckinStore, signature: str | None,
                  forwarded_certificate: str | None, request=None) -> Reply:
    """One check-in request (PUT to the CheckInURL)."""
    return _serve(tenant, body, store, signature, forwarded_certificate, request, _checkin)


def serve_report(tenant, body: bytes, *, store: CheckinStore, signature: str | None,
                 forwarded_certificate: str | None, request=None) -> Reply:
    """One ServerURL request: a command result or Idle; the reply is the next command."""
    return _serve(tenant, body, store, signature, forwarded_certificate, request, _report)


def _serve(tenant, body, store, signature, forwarded_certificate, request, handler) -> Reply:
    ctx = _Context(tenant, store, request=request)
    try:
        ctx.certificate = identity.presented_certificate(
            body, signature=signature, forwarded_certificate=forwarded_certificate)
        return handler(ctx, body)
    except RevokedCertificate as exc:
        device = exc.issued.device
        if device is not None and device.is_gone:  # retiring revokes: still Apple's 403
            return _unrecognized(ctx, device, exc.issued)
        return _identity_refused(ctx, exc)
    except IdentityError as exc:
        return _identity_refused(ctx, exc)
    except msg.MessageError as exc:
        reason = ("missing_key" if isinstance(exc, msg.MissingKey) else
                  "unknown_message_type" if isinstance(exc, msg.UnknownMessageType) else
                  "malformed")
        return _refused(ctx, CheckinRefused(reason, error=str(exc)[:200]))
    except CheckinRefused as exc:
        return _refused(ctx, exc)
    except DeviceUnrecognized as exc:
        return _unrecognized(ctx, exc.device, ctx.issued)


def _identity_refused(ctx: _Context, exc: IdentityError) -> Reply:
    ctx.store.audit(ctx.tenant, AuditAction.DEVICE_IDENTITY_REJECTED, actor="mdm",
                    request=ctx.request, detail={"reason": exc.reason, "error": str(exc)[:200]})
    logger.info("MDM identity refused for tenant %s: %s", ctx.tenant.slug, exc)
    return Reply(400, b"The device identity could not be verified.\n")


def _unrecognized(ctx: _Context, device: Device, issued: IssuedCertificate | None) -> Reply:
    ctx.store.audit(ctx.tenant, AuditAction.DEVICE_UNRECOGNIZED, actor=f"device:{device.udid}",
                    target=device, device=device, request=ctx.request,
                    detail={"state": device.state,
                            "certificate": issued.serial_hex if issued else ""})
    return Reply(403, unrecognized_device_body(), PLIST_CONTENT_TYPE)


def _refused(ctx: _Context, exc: CheckinRefused) -> Reply:
    device = ctx.issued.device if ctx.issued else None
    serial = ctx.issued.serial_hex if ctx.issued else ""
    ctx.store.audit(ctx.tenant, exc.action, actor="mdm", request=ctx.request, device=device,
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
    with ctx.store.atomic():
        channel = _bound_device_channel(ctx, message)
        reply = handlers[type(message)](ctx, message, channel)
        _touch(ctx, channel)
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
    store, issued = ctx.store, ctx.issued
    registration = store.registration_for_certificate(issued)
    if registration is None:
        raise CheckinRefused("certificate_not_issued_for_a_registration")
    with store.atomic():
        device = store.lock_device_by_udid(ctx.tenant, m.device_id)
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
        channel = store.store_authenticate(ctx.tenant, m, certificate=issued,
                                           registration=registration, device=device,
                                           actor=_actor(m), request=ctx.request)
        store.clear_queue(channel)
        store.disable(channel.device_id)  # the device channel (stored disabled) and user ones
    return Reply()


def _bound_device_channel(ctx: _Context, m: msg.ChannelMessage) -> AppleChannel:
    """The device channel of ``m``'s UDID, locked, if the request's certificate may speak for
    it: the certificate bound at Authenticate, its SCEP renewal, or (TokenUpdate only) a fresh
    certificate of an open registration: identity renewal by a new enrollment profile."""
    store, issued = ctx.store, ctx.issued
    channel = store.lock_device_channel(ctx.tenant, m.device_id)
    if channel is None:
        raise CheckinRefused("not_authenticated")
    if channel.certificate_id == issued.pk:
        pass
    elif issued.device_id is None and issued.renewed_from_id is not None \
            and issued.renewed_from_id == channel.certificate_id:
        store.bind_certificate(channel, issued)
    elif (issued.device_id is None and isinstance(m, msg.TokenUpdate)
          and not m.is_user_channel):
        registration = store.registration_for_certificate(issued)
        if registration is None or not registration.is_open:
            raise CheckinRefused("certificate_not_bound_to_this_device")
        _check_claim(channel.device, registration)
        store.bind_certificate(channel, issued, registration)
    else:
        raise CheckinRefused("certificate_not_bound_to_this_device")
    if channel.device.is_gone:
        raise DeviceUnrecognized(channel.device)
    if channel.device.state == DeviceState.INACTIVE and not isinstance(m, msg.CheckOut):
        # Checked out: the device left management; only a new Authenticate brings it back.
        raise CheckinRefused("checked_out")
    return channel


def _token_update(ctx: _Context, m: msg.TokenUpdate, channel: AppleChannel) -> Reply:
    if m.is_user_channel:
        return _user_token_update(ctx, m, channel)
    store = ctx.store
    device = store.lock_device(channel.device_id)
    registration = (store.registration_for_certificate(ctx.issued)
                    if channel.registration_id is None
                    else store.registration(channel.registration_id))
    if registration is None or not _registration_accepts(registration, device):
        raise CheckinRefused("registration_closed", AuditAction.DEVICE_ENROLLMENT_REFUSED,
                             registration_id=getattr(registration, "pk", None),
                             registration_state=getattr(registration, "state", None))
    store.store_token_update(channel, m)
    if store.enroll_device(registration, device, actor=_actor(m), request=ctx.request):
        _on_enrolled(ctx, device, channel, registration.user)  # loaded by enrolling
    elif device.state == DeviceState.PENDING:  # re-authenticated with the same enrollment
        store.set_device_state(device, DeviceState.ACTIVE)
    return Reply()


def _on_enrolled(ctx: _Context, device: Device, channel: AppleChannel, user) -> None:
    ctx.store.enqueue_command(ctx.tenant, device, "DeviceInformation", channel=channel,
                              actor="system")
    # iOS has no user channel: user-scope profiles go on the device channel there.
    scopes = ["device"] if device.platform == "macos" else ["device", "user"]
    ctx.store.queue_profiles(ctx.tenant, device, channel, user, scopes, actor="system")


def _check_out(ctx: _Context, m: msg.CheckOut, channel: AppleChannel) -> Reply:
    store = ctx.store
    if m.is_user_channel:
        store.disable(channel.device_id, m.channel_id)
        return Reply()
    device = store.lock_device(channel.device_id)
    store.disable(device.pk)
    channel.enabled = False
    if device.state not in (DeviceState.INACTIVE, DeviceState.RETIRED, DeviceState.WIPED):
        store.check_out_device(ctx.tenant, device, actor=_actor(m), request=ctx.request)
    return Reply()


# --- macOS user channels ----------------------------------------------------------------------

def _directory_names(user) -> set[str]:
    names = {user.email.split("@", 1)[0].lower()}
    if getattr(user, "ldap_dn", ""):
        first = user.ldap_dn.split(",", 1)[0]
        if "=" in first:
            names.add(first.split("=", 1)[1].strip().lower())
    return names


def _user_channel_decision(ctx: _Context, device: Device, m: msg.ChannelMessage) -> str | None:
    """None when the user channel is allowed, else why it is declined. Only the user who
    enrolled the Mac gets one: the first user channel (that user was logged in to install the
    profile); a directory account must be that very user by its short name."""
    if device.state != DeviceState.ACTIVE or device.owner is None:
        return "device_not_enrolled"
    if ctx.store.user_channel_held_by_another(device, m.user_channel_user or ""):
        return "another_user_holds_the_user_channel"
    if device.owner.source == "ldap" and \
            (m.user_short_name or "").lower() not in _directory_names(device.owner):
        return "not_the_enrolled_directory_user"
    return None


def _decline(ctx: _Context, device: Device, m: msg.ChannelMessage, reason: str) -> Reply:
    ctx.store.audit(ctx.tenant, AuditAction.USER_CHANNEL_DECLINED, actor=_actor(m),
                    target=device, device=device, user=device.owner, request=ctx.request,
                    detail={"reason": reason, "message_type": m.raw.get("MessageType"),
                            "user_id": m.user_channel_user,
                            "user_short_name": m.user_short_name})
    return Reply(410, b"User channel declined.\n")


def _user_authenticate(ctx: _Context, m: msg.UserAuthenticate, channel: AppleChannel) -> Reply:
    device = channel.device
    reason = _user_channel_decision(ctx, device, m)
    if reason:
        return _decline(ctx, device, m, reason)
    if m.digest_response is None:
        return _plist_reply({"DigestChallenge": ""})  # no digest needed: go on to TokenUpdate
    return Reply()


def _user_token_update(ctx: _Context, m: msg.TokenUpdate, device_channel: AppleChannel) -> Reply:
    device = device_channel.device
    reason = _user_channel_decision(ctx, device, m)
    if reason:
        return _decline(ctx, device, m, reason)
    channel, first = ctx.store.store_user_token_update(ctx.tenant, device, m, actor=_actor(m),
                                                       request=ctx.request)
    if first:
        ctx.store.queue_profiles(ctx.tenant, device, channel, device.owner, ["user"],
                                 actor="system")
    return Reply()


# --- Bootstrap Token (macOS) ------------------------------------------------------------------

def _set_bootstrap_token(ctx: _Context, m: msg.SetBootstrapToken,
                         channel: AppleChannel) -> Reply:
    ctx.store.store_bootstrap_token(ctx.tenant, channel, m.bootstrap_token, actor=_actor(m),
                                    request=ctx.request)
    return Reply()


def _get_bootstrap_token(ctx: _Context, m: msg.GetBootstrapToken,
                         channel: AppleChannel) -> Reply:
    token = ctx.store.bootstrap_token(channel)
    return Reply() if token is None else _plist_reply({"BootstrapToken": token})


# --- ServerURL: results and Idle --------------------------------------------------------------

def _report(ctx: _Context, body: bytes) -> Reply:
    store = ctx.store
    report = msg.decode_command_report(body)
    ctx.detail.update(status=report.status.value, udid=report.device_id[:128])
    idle = report.status is msg.CommandStatus.IDLE
    if idle:
        outcome = store.idle(ctx.tenant, report.channel_id, fingerprint(ctx.certificate))
        if outcome.accepted:
            return _command_reply(outcome.command)
    target = store.report_target(ctx.tenant, report.channel_id)
    if target is None or not bound_certificate_matches(target, ctx.certificate):
        _check_report_identity(ctx, report, target)  # slow path: says why, or lets through
    if target.device_state in GONE_STATES:
        raise DeviceUnrecognized(store.device(ctx.tenant, target.device_pk))
    if not target.enabled:
        raise CheckinRefused("channel_not_enrolled")
    if not idle:
        store.store_command_report(ctx.tenant, target.channel_pk, report, body)
    store.mark_seen(target.channel_pk, target.device_pk, channel_seen_at=target.last_seen_at,
                    device_seen_at=target.device_last_seen_at)
    return _command_reply(store.next_command(
        target.channel_pk, skip_not_now=report.status is msg.CommandStatus.NOT_NOW))


def _command_reply(command: bytes | None) -> Reply:
    return Reply() if command is None else Reply(200, command, PLIST_CONTENT_TYPE)


def _check_report_identity(ctx: _Context, report: msg.CommandReport,
                           target: ReportTarget | None) -> None:
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


def _touch(ctx: _Context, channel: AppleChannel) -> None:
    ctx.store.mark_seen(channel.pk, channel.device.pk, channel_seen_at=channel.last_seen_at,
                        device_seen_at=channel.device.last_seen_at)
