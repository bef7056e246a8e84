"""The Apple MDM service (NanoMDM's ``service/nanomdm``): one method per message, over a store.

``CheckinService`` says what each check-in message (Authenticate, TokenUpdate, CheckOut,
UserAuthenticate, Set/GetBootstrapToken, DeclarativeManagement) and each ServerURL request (a
command's result, or Idle) does; every read and write goes through its ``CheckinStore``
(store.py: the plain ORM store, or postgres_store.py: the PostgreSQL fast path). It trusts
the request: who is speaking, and for which channel, was settled by the certificate binding
that wraps it (binding.py), as NanoMDM's ``certauth`` wraps its service.

Channel rules (NanoMDM): Authenticate binds the identity certificate to the device channel,
resets its queue and disables it until TokenUpdate; the first device-channel TokenUpdate of a
registration completes it (the device becomes Active and belongs to the user); CheckOut
disables the device channel and its user channels (the device becomes Inactive). A refusal is
an exception (``CheckinRefused``, ``DeviceUnrecognized``) that checkin.py answers and audits.
"""

from __future__ import annotations

import plistlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from cryptography import x509

from audit.events import AuditAction
from devices.apple import messages as msg
from devices.apple.store import CheckinStore, ReportTarget
from devices.models import AppleChannel, Device, DeviceState
from devices.models.devices import GONE_STATES
from enrollment.models import OPEN_STATES, IssuedCertificate, Registration, RegistrationState

PLIST_CONTENT_TYPE = "application/xml"


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain"


OK = Reply()


def plist_reply(value: dict) -> Reply:
    return Reply(200, plistlib.dumps(value, fmt=plistlib.FMT_XML), PLIST_CONTENT_TYPE)


def command_reply(command: bytes | None) -> Reply:
    """ServerURL's answer: the next command, or 200 with an empty body when there is none."""
    return OK if command is None else Reply(200, command, PLIST_CONTENT_TYPE)


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


@dataclass(frozen=True)
class ReportGrant:
    """What lets a ServerURL request speak for the channel it names, as the SCEP signer's
    ``Grant`` authorizes an issuance: the presented certificate's ``fingerprint``, which the
    store's Idle checks against the channel's bound certificate in the very statement that
    serves it, and ``target``, the general check, which returns the channel once the
    certificate may speak for it and raises why not otherwise."""

    fingerprint: str
    target: Callable[[], ReportTarget]


@dataclass(eq=False)
class CheckinRequest:
    """One MDM request on its way (NanoMDM's ``mdm.Request``): filled in as it goes, by the
    identity step and the certificate binding, and read by the refusals' audit."""

    tenant: object
    origin: object = None  # core.origin.Origin: where the request came from (audit trail)
    certificate: x509.Certificate | None = None  # signed the body; not yet trusted
    detail: dict = field(default_factory=dict)  # what a refusal audits about the message
    issued: IssuedCertificate | None = None  # the tenant's certificate it is (identity)
    # Set by the binding: Authenticate's registration and device (locked; None: new device),
    # the device channel a check-in speaks for (locked, with its device and owner), or the
    # grant of a ServerURL request.
    registration: Registration | None = None
    device: Device | None = None
    channel: AppleChannel | None = None
    grant: ReportGrant | None = None
    renewed: bool = False  # Authenticate of a renewed identity: the enrollment stays as is


class MDMService(Protocol):
    """The protocol as an interface: the service and the wrappers around it."""

    def authenticate(self, r: CheckinRequest, m: msg.Authenticate) -> Reply: ...
    def token_update(self, r: CheckinRequest, m: msg.TokenUpdate) -> Reply: ...
    def check_out(self, r: CheckinRequest, m: msg.CheckOut) -> Reply: ...
    def user_authenticate(self, r: CheckinRequest, m: msg.UserAuthenticate) -> Reply: ...
    def set_bootstrap_token(self, r: CheckinRequest, m: msg.SetBootstrapToken) -> Reply: ...
    def get_bootstrap_token(self, r: CheckinRequest, m: msg.GetBootstrapToken) -> Reply: ...
    def declarative_management(self, r: CheckinRequest,
                               m: msg.DeclarativeManagement) -> Reply: ...
    def command_report(self, r: CheckinRequest, report: msg.CommandReport,
                       body: bytes) -> Reply: ...


def device_actor(m: msg.ChannelMessage) -> str:
    return f"device:{m.device_id}"[:200]


def registration_accepts(registration: Registration, device: Device | None) -> bool:
    """A registration enrolls a device while it is open, and keeps enrolling the device it
    enrolled (a re-Authenticate, a second TokenUpdate)."""
    if registration.state in OPEN_STATES:
        return registration.is_open  # the expiry sweep may not have run yet
    return (registration.state == RegistrationState.ENROLLED and device is not None
            and registration.device_id == device.pk)


def registration_closed(registration: Registration | None) -> CheckinRefused:
    return CheckinRefused("registration_closed", AuditAction.DEVICE_ENROLLMENT_REFUSED,
                          registration_id=getattr(registration, "pk", None),
                          registration_state=getattr(registration, "state", None))


class CheckinService:
    """What each message does; every read and write through ``store``."""

    def __init__(self, store: CheckinStore) -> None:
        self.store = store

    # --- check-in (CheckInURL) -----------------------------------------------------------------

    def authenticate(self, r: CheckinRequest, m: msg.Authenticate) -> Reply:
        """NanoMDM: StoreAuthenticate, ClearQueue, Disable. The device is enrolling, not
        managed, until its TokenUpdate. Not so when the device renewed its identity with a
        re-enrollment profile (issue 16): the enrollment, its queue (the very InstallProfile
        still awaits its result) and its user channels stay; the binding renewed it."""
        if r.renewed:
            self._seen(r)
            return OK
        channel = self.store.store_authenticate(
            r.tenant, m, certificate=r.issued, registration=r.registration, device=r.device,
            actor=device_actor(m), origin=r.origin)
        self.store.clear_queue(channel)
        self.store.disable(channel.device_id)
        return OK

    def token_update(self, r: CheckinRequest, m: msg.TokenUpdate) -> Reply:
        """Store the push token; the first one of a registration enrolls the device."""
        if m.is_user_channel:
            return self._user_token_update(r, m)
        channel = r.channel
        device = self.store.lock_device(channel.device_id)
        registration = (self.store.registration_for_certificate(r.issued)
                        if channel.registration_id is None
                        else self.store.registration(channel.registration_id))
        if registration is None or not registration_accepts(registration, device):
            raise registration_closed(registration)
        self.store.store_token_update(channel, m)
        if self.store.enroll_device(registration, device, actor=device_actor(m),
                                    origin=r.origin):
            self._on_enrolled(r, device, channel, registration.user)  # loaded by enrolling
        elif device.state == DeviceState.PENDING:  # re-authenticated with the same enrollment
            self.store.set_device_state(device, DeviceState.ACTIVE)
        self._seen(r)
        return OK

    def _on_enrolled(self, r: CheckinRequest, device: Device, channel: AppleChannel,
                     owner) -> None:
        self.store.enqueue_command(r.tenant, device, "DeviceInformation", channel=channel,
                                   actor="system")
        # iOS has no user channel: user-scope profiles go on the device channel there.
        scopes = ["device"] if device.platform == "macos" else ["device", "user"]
        self.store.queue_profiles(r.tenant, device, channel, owner, scopes, actor="system")

    def check_out(self, r: CheckinRequest, m: msg.CheckOut) -> Reply:
        """NanoMDM: Disable (a device channel's user channels too); the device is Inactive."""
        channel = r.channel
        if m.is_user_channel:
            self.store.disable(channel.device_id, m.channel_id)
        else:
            device = self.store.lock_device(channel.device_id)
            self.store.disable(device.pk)
            channel.enabled = False
            if device.state not in (DeviceState.INACTIVE, DeviceState.RETIRED,
                                    DeviceState.WIPED):
                self.store.check_out_device(r.tenant, device, actor=device_actor(m),
                                            origin=r.origin)
        self._seen(r)
        return OK

    def user_authenticate(self, r: CheckinRequest, m: msg.UserAuthenticate) -> Reply:
        device = r.channel.device
        reason = self._user_channel_refusal(device, m)
        if reason:
            reply = self._decline(r, device, m, reason)
        elif m.digest_response is None:
            reply = plist_reply({"DigestChallenge": ""})  # no digest needed: on to TokenUpdate
        else:
            reply = OK
        self._seen(r)
        return reply

    def _user_token_update(self, r: CheckinRequest, m: msg.TokenUpdate) -> Reply:
        device = r.channel.device
        reason = self._user_channel_refusal(device, m)
        if reason:
            reply = self._decline(r, device, m, reason)
        else:
            channel, first = self.store.store_user_token_update(
                r.tenant, device, m, actor=device_actor(m), origin=r.origin)
            if first:
                self.store.queue_profiles(r.tenant, device, channel, device.owner, ["user"],
                                          actor="system")
            reply = OK
        self._seen(r)
        return reply

    def _user_channel_refusal(self, device: Device, m: msg.ChannelMessage) -> str | None:
        """None when the user channel is allowed, else why it is declined. Only the user who
        enrolled the Mac gets one: the first user channel (that user was logged in to install
        the profile); a directory account must be that very user by its short name."""
        if device.state != DeviceState.ACTIVE or device.owner is None:
            return "device_not_enrolled"
        if self.store.user_channel_held_by_another(device, m.user_channel_user or ""):
            return "another_user_holds_the_user_channel"
        if device.owner.source == "ldap" and \
                (m.user_short_name or "").lower() not in _directory_names(device.owner):
            return "not_the_enrolled_directory_user"
        return None

    def _decline(self, r: CheckinRequest, device: Device, m: msg.ChannelMessage,
                 reason: str) -> Reply:
        self.store.audit(r.tenant, AuditAction.USER_CHANNEL_DECLINED, actor=device_actor(m),
                         target=device, device=device, user=device.owner, origin=r.origin,
                         detail={"reason": reason, "message_type": m.raw.get("MessageType"),
                                 "user_id": m.user_channel_user,
                                 "user_short_name": m.user_short_name})
        return Reply(410, b"User channel declined.\n")

    def set_bootstrap_token(self, r: CheckinRequest, m: msg.SetBootstrapToken) -> Reply:
        """Escrow the Mac's Bootstrap Token, encrypted (none: remove it)."""
        self.store.store_bootstrap_token(r.tenant, r.channel, m.bootstrap_token,
                                         actor=device_actor(m), origin=r.origin)
        self._seen(r)
        return OK

    def get_bootstrap_token(self, r: CheckinRequest, m: msg.GetBootstrapToken) -> Reply:
        token = self.store.bootstrap_token(r.channel)
        self._seen(r)
        return OK if token is None else plist_reply({"BootstrapToken": token})

    def declarative_management(self, r: CheckinRequest,
                               m: msg.DeclarativeManagement) -> Reply:
        raise CheckinRefused("unsupported_message_type")

    def _seen(self, r: CheckinRequest) -> None:
        channel = r.channel
        self.store.mark_seen(channel.pk, channel.device.pk,
                             channel_seen_at=channel.last_seen_at,
                             device_seen_at=channel.device.last_seen_at)

    # --- ServerURL: results and Idle ----------------------------------------------------------

    def command_report(self, r: CheckinRequest, report: msg.CommandReport,
                       body: bytes) -> Reply:
        """NanoMDM: StoreCommandReport, RetrieveNextCommand. An Idle of the channel's own
        certificate is served by the store in one step (the grant is checked in it); anything
        else, or anything unusual, takes the general path, which says why it refuses."""
        idle = report.status is msg.CommandStatus.IDLE
        if idle:
            outcome = self.store.idle(r.tenant, report.channel_id, r.grant.fingerprint)
            if outcome.accepted:
                return command_reply(outcome.command)
        target = r.grant.target()
        if target.device_state in GONE_STATES:
            raise DeviceUnrecognized(self.store.device(r.tenant, target.device_pk))
        if not target.enabled:
            raise CheckinRefused("channel_not_enrolled")
        if not idle:
            self.store.store_command_report(r.tenant, target.channel_pk, report, body)
        self.store.mark_seen(target.channel_pk, target.device_pk,
                             channel_seen_at=target.last_seen_at,
                             device_seen_at=target.device_last_seen_at)
        # Right after NotNow, NotNow commands wait (else the same one would loop).
        return command_reply(self.store.next_command(
            target.channel_pk, skip_not_now=report.status is msg.CommandStatus.NOT_NOW))


def _directory_names(user) -> set[str]:
    names = {user.email.split("@", 1)[0].lower()}
    if getattr(user, "ldap_dn", ""):
        first = user.ldap_dn.split(",", 1)[0]
        if "=" in first:
            names.add(first.split("=", 1)[1].strip().lower())
    return names
