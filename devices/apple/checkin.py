"""The Apple MDM endpoints' protocol side: bytes and identity headers in, a ``Reply`` out.

``serve_checkin`` (CheckInURL) and ``serve_report`` (ServerURL) take the request body, the
identity headers' values and the store the view chose; they check the signature (whose key
signed the body: ``identity.presented_certificate``), decode the typed message
(``messages``) and hand it to the service chain: the certificate binding (binding.py)
wrapped around the service (service.py), both over that store. Every refusal is audited and
answered the protocol's way: 400 for identity and message problems (never 401, which can
make a device unenroll), 403 with Apple's ``com.apple.unrecognized.device`` error for a
retired or wiped device; the service declines a Mac user channel with 410.
"""

from __future__ import annotations

import functools
import logging
import plistlib

from audit.events import AuditAction
from devices.apple import identity
from devices.apple import messages as msg
from devices.apple.binding import CertificateBinding, RevokedCertificate
from devices.apple.identity import IdentityError
from devices.apple.service import (
    PLIST_CONTENT_TYPE,
    CheckinRefused,
    CheckinRequest,
    CheckinService,
    DeviceUnrecognized,
    MDMService,
    Reply,
)
from devices.apple.store import CheckinStore
from devices.models import Device
from enrollment.models import IssuedCertificate

__all__ = ["Reply", "serve_checkin", "serve_report"]

logger = logging.getLogger(__name__)

UNRECOGNIZED_DEVICE = "com.apple.unrecognized.device"


def unrecognized_device_body() -> bytes:
    return plistlib.dumps({
        "code": UNRECOGNIZED_DEVICE,
        "description": "This device is no longer managed by this server.",
    }, fmt=plistlib.FMT_XML)


@functools.cache
def service_chain(store: CheckinStore) -> MDMService:
    """The service with the certificate binding around it, both over ``store``."""
    return CertificateBinding(CheckinService(store), store)


def serve_checkin(tenant, body: bytes, *, store: CheckinStore, signature: str | None,
                  forwarded_certificate: str | None, origin=None) -> Reply:
    """One check-in request (PUT to the CheckInURL)."""
    return _serve(tenant, body, store, signature, forwarded_certificate, origin, _checkin)


def serve_report(tenant, body: bytes, *, store: CheckinStore, signature: str | None,
                 forwarded_certificate: str | None, origin=None) -> Reply:
    """One ServerURL request: a command result or Idle; the reply is the next command."""
    return _serve(tenant, body, store, signature, forwarded_certificate, origin, _report)


def _checkin(service: MDMService, store: CheckinStore, r: CheckinRequest,
             body: bytes) -> Reply:
    message = msg.decode_checkin(body)
    r.detail.update(message_type=message.message_type, udid=message.device_id[:128])
    if isinstance(message, msg.DeclarativeManagement):  # refused: writes nothing to undo
        return service.declarative_management(r, message)
    with store.atomic():  # a refusal leaves nothing behind, a binding made on the way neither
        match message:
            case msg.Authenticate():
                return service.authenticate(r, message)
            case msg.TokenUpdate():
                return service.token_update(r, message)
            case msg.CheckOut():
                return service.check_out(r, message)
            case msg.UserAuthenticate():
                return service.user_authenticate(r, message)
            case msg.SetBootstrapToken():
                return service.set_bootstrap_token(r, message)
            case msg.GetBootstrapToken():
                return service.get_bootstrap_token(r, message)
    raise msg.UnknownMessageType(type(message).__name__)  # decode_checkin knows no other


def _report(service: MDMService, store: CheckinStore, r: CheckinRequest, body: bytes) -> Reply:
    # No transaction: Idle's one statement goes straight through libpq in autocommit.
    report = msg.decode_command_report(body)
    r.detail.update(status=report.status.value, udid=report.device_id[:128])
    return service.command_report(r, report, body)


def _serve(tenant, body, store: CheckinStore, signature, forwarded_certificate, origin,
           handler) -> Reply:
    r = CheckinRequest(tenant, origin)
    try:
        r.certificate = identity.presented_certificate(
            body, signature=signature, forwarded_certificate=forwarded_certificate)
        return handler(service_chain(store), store, r, body)
    except RevokedCertificate as exc:
        device = exc.issued.device
        if device is not None and device.is_gone:  # retiring revokes: still Apple's 403
            return _unrecognized(store, tenant, device, exc.issued, origin)
        return _identity_refused(store, tenant, exc, origin)
    except IdentityError as exc:
        return _identity_refused(store, tenant, exc, origin)
    except msg.MessageError as exc:
        reason = ("missing_key" if isinstance(exc, msg.MissingKey) else
                  "unknown_message_type" if isinstance(exc, msg.UnknownMessageType) else
                  "malformed")
        return _refused(store, r, CheckinRefused(reason, error=str(exc)[:200]))
    except CheckinRefused as exc:
        return _refused(store, r, exc)
    except DeviceUnrecognized as exc:
        return _unrecognized(store, tenant, exc.device, r.issued, origin)


def _identity_refused(store: CheckinStore, tenant, exc: IdentityError, origin) -> Reply:
    store.audit(tenant, AuditAction.DEVICE_IDENTITY_REJECTED, actor="mdm", origin=origin,
                detail={"reason": exc.reason, "error": str(exc)[:200]})
    logger.info("MDM identity refused for tenant %s: %s", tenant.slug, exc)
    return Reply(400, b"The device identity could not be verified.\n")


def _unrecognized(store: CheckinStore, tenant, device: Device,
                  issued: IssuedCertificate | None, origin) -> Reply:
    store.audit(tenant, AuditAction.DEVICE_UNRECOGNIZED, actor=f"device:{device.udid}",
                target=device, device=device, origin=origin,
                detail={"state": device.state,
                        "certificate": issued.serial_hex if issued else ""})
    return Reply(403, unrecognized_device_body(), PLIST_CONTENT_TYPE)


def _refused(store: CheckinStore, r: CheckinRequest, exc: CheckinRefused) -> Reply:
    device = r.issued.device if r.issued else None
    serial = r.issued.serial_hex if r.issued else ""
    store.audit(r.tenant, exc.action, actor="mdm", origin=r.origin, device=device,
                target=device, detail={"reason": exc.reason, "certificate": serial,
                                       **r.detail, **exc.detail})
    logger.info("MDM request refused for tenant %s: %s", r.tenant.slug, exc.reason)
    return Reply(400, f"Refused: {exc.reason}\n".encode())
