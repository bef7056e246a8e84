"""Certificate binding: which device channel an identity certificate may speak for.

A wrapper around the check-in service (NanoMDM's ``service/certauth``; our SCEP signer chain
wraps issuance the same way): each message is let through to the next service only once the
request's certificate is known to be one the tenant issued (``identify``) and bound, or
bindable, to the channel the message names:

- Authenticate (a new enrollment): the certificate was issued for a registration that still
  accepts this device, and is bound to no other device; a fresh certificate may not take over
  another user's managed device. The service stores the binding with the enrollment.
- Identity renewal (issue 16): a certificate issued for a *renewal registration* of the
  device speaks for it from its first request, whatever that is (Authenticate, another
  check-in, a command result): the renewal completes here and the replaced certificate is
  still accepted until the tenant's grace period ends. A renewal's certificate never speaks
  for another device.
- Other check-in messages (an existing enrollment): the certificate is the one bound to the
  device channel, or its SCEP renewal, or (TokenUpdate only) the fresh certificate of an open
  registration, a new enrollment profile renewing the identity: those are bound here. A device
  that left management is answered here too: 403 when retired or wiped, refused when checked
  out (only a new Authenticate brings it back).
- ServerURL requests: a grant (the SCEP signer's shape) that the store's Idle checks in the
  statement that serves it, and the general check that says why a request is refused: the
  channel's own certificate, or a certificate of the same device on one of its user channels.

Every failure is an exception the transport answers with 400 (never 401), or Apple's 403.
"""

from __future__ import annotations

from cryptography import x509
from django.utils import timezone

from audit.events import AuditAction
from devices.apple import identity
from devices.apple import messages as msg
from devices.apple.service import (
    CheckinRefused,
    CheckinRequest,
    DeviceUnrecognized,
    MDMService,
    Reply,
    ReportGrant,
    registration_accepts,
    registration_closed,
)
from devices.apple.store import CheckinStore, ReportTarget
from devices.models import Device, DeviceState
from devices.models.devices import GONE_STATES
from enrollment.models import OPEN_STATES, IssuedCertificate, Registration, RegistrationMethod
from enrollment.services.registrations import is_renewal_of
from pki.authority import fingerprint


class UnknownCertificate(identity.IdentityError):
    reason = "unknown_certificate"


class RevokedCertificate(identity.IdentityError):
    reason = "revoked"

    def __init__(self, message: str, issued: IssuedCertificate):
        super().__init__(message)
        self.issued = issued


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


def check_claim(device: Device | None, registration: Registration) -> None:
    """A new enrollment may take over a device record only if it is the owner's, or the
    device has left management (checked out, retired, wiped) or has no owner yet: a user
    cannot enroll "as" another user's managed device by sending its UDID."""
    if (device is None or device.owner_id is None or device.owner_id == registration.user_id
            or device.is_gone or device.state == DeviceState.INACTIVE):
        return
    raise CheckinRefused("device_enrolled_by_another_user",
                         AuditAction.DEVICE_ENROLLMENT_REFUSED, registration_id=registration.pk,
                         device_id=device.pk)


def renewal_refused(registration: Registration, channel) -> CheckinRefused:
    """A renewal's certificate presented for a device it was not issued for."""
    return CheckinRefused("renewal_certificate_of_another_device",
                          AuditAction.IDENTITY_RENEWAL_REFUSED,
                          registration_id=registration.pk,
                          renewal_device_id=registration.device_id,
                          channel_device_id=getattr(channel, "device_id", None))


class CertificateBinding:
    """``MDMService`` that checks, or makes, the binding, then hands the message on."""

    def __init__(self, next_service: MDMService, store: CheckinStore) -> None:
        self.next = next_service
        self.store = store

    def authenticate(self, r: CheckinRequest, m: msg.Authenticate) -> Reply:
        self._identify(r)
        if m.is_user_channel:
            raise CheckinRefused("authenticate_on_user_channel")
        registration = self.store.registration_for_certificate(r.issued)
        if registration is not None and registration.method == RegistrationMethod.RENEWAL:
            self._renew_on_authenticate(r, m, registration)
        else:
            self._associate_new_enrollment(r, m, registration)
        return self.next.authenticate(r, m)

    def token_update(self, r: CheckinRequest, m: msg.TokenUpdate) -> Reply:
        self._validate_or_associate(r, m)
        return self.next.token_update(r, m)

    def check_out(self, r: CheckinRequest, m: msg.CheckOut) -> Reply:
        self._validate_or_associate(r, m)
        return self.next.check_out(r, m)

    def user_authenticate(self, r: CheckinRequest, m: msg.UserAuthenticate) -> Reply:
        self._validate_or_associate(r, m)
        return self.next.user_authenticate(r, m)

    def set_bootstrap_token(self, r: CheckinRequest, m: msg.SetBootstrapToken) -> Reply:
        self._validate_or_associate(r, m)
        return self.next.set_bootstrap_token(r, m)

    def get_bootstrap_token(self, r: CheckinRequest, m: msg.GetBootstrapToken) -> Reply:
        self._validate_or_associate(r, m)
        return self.next.get_bootstrap_token(r, m)

    def declarative_management(self, r: CheckinRequest,
                               m: msg.DeclarativeManagement) -> Reply:
        self._identify(r)  # the service refuses it before any channel is read
        return self.next.declarative_management(r, m)

    def command_report(self, r: CheckinRequest, report: msg.CommandReport,
                       body: bytes) -> Reply:
        r.grant = ReportGrant(fingerprint(r.certificate), lambda: self._report_target(r, report))
        return self.next.command_report(r, report, body)

    # --- the checks ----------------------------------------------------------------------------

    def _identify(self, r: CheckinRequest) -> IssuedCertificate:
        r.issued = identify(self.store, r.tenant, r.certificate)
        return r.issued

    def _renew_on_authenticate(self, r: CheckinRequest, m: msg.Authenticate,
                               registration: Registration) -> None:
        """The Authenticate a device sends after installing its re-enrollment profile: the
        same enrollment, a new identity. ``r.renewed`` tells the service to reset nothing."""
        channel = self.store.lock_device_channel(r.tenant, m.device_id)
        if channel is None or not is_renewal_of(registration, channel.device_id):
            raise renewal_refused(registration, channel)
        self._check_managed(channel, m)
        if channel.certificate_id != r.issued.pk:
            self._renew(r, channel, registration)
        r.channel, r.renewed = channel, True

    def _renew(self, r: CheckinRequest, channel, registration: Registration) -> None:
        if registration.state not in OPEN_STATES or not registration.is_open:
            raise registration_closed(registration)
        self.store.complete_renewal(channel, r.issued, registration,
                                    actor=f"device:{channel.channel_id}"[:200],
                                    origin=r.origin)

    def _renewal_registration(self, issued: IssuedCertificate,
                              device_pk: int) -> Registration | None:
        """The renewal registration of ``device_pk`` that ``issued`` was certified for; None
        when it was certified for no renewal; refused when for another device's."""
        if issued.challenge_id is None:
            return None
        registration = self.store.registration_for_certificate(issued)
        if registration is None or registration.method != RegistrationMethod.RENEWAL:
            return None
        if registration.device_id != device_pk:
            raise renewal_refused(registration, None)
        return registration

    def _associate_new_enrollment(self, r: CheckinRequest, m: msg.Authenticate,
                                  registration: Registration | None) -> None:
        issued = r.issued
        if registration is None:
            raise CheckinRefused("certificate_not_issued_for_a_registration")
        device = self.store.lock_device_by_udid(r.tenant, m.device_id)
        if issued.device_id is not None and (device is None or issued.device_id != device.pk):
            # A certificate bound to one UDID replayed for another.
            raise CheckinRefused("certificate_bound_to_another_device")
        fresh = issued.device_id is None
        if device is not None and device.is_gone and not fresh:
            raise DeviceUnrecognized(device)
        if not registration_accepts(registration, device):
            raise registration_closed(registration)
        if fresh:
            check_claim(device, registration)
        r.registration, r.device = registration, device

    def _validate_or_associate(self, r: CheckinRequest, m: msg.CheckinMessage) -> None:
        """``r.channel``: the device channel of ``m``'s UDID, locked, if the certificate may
        speak for it: the certificate bound at Authenticate, its SCEP renewal, or (TokenUpdate
        only) a fresh certificate of an open registration: identity renewal by a new
        enrollment profile."""
        issued = self._identify(r)
        channel = self.store.lock_device_channel(r.tenant, m.device_id)
        if channel is None:
            raise CheckinRefused("not_authenticated")
        if channel.certificate_id == issued.pk:
            pass
        elif channel.previous_certificate_id == issued.pk:
            if timezone.now() >= channel.previous_certificate_until:
                raise CheckinRefused("superseded_certificate")
        elif issued.device_id is None and issued.renewed_from_id is not None \
                and issued.renewed_from_id == channel.certificate_id:
            self.store.bind_certificate(channel, issued)
        elif issued.device_id is None and (
                renewal := self._renewal_registration(issued, channel.device_id)):
            self._check_managed(channel, m)
            self._renew(r, channel, renewal)
        elif (issued.device_id is None and isinstance(m, msg.TokenUpdate)
              and not m.is_user_channel):
            registration = self.store.registration_for_certificate(issued)
            if registration is None or not registration.is_open:
                raise CheckinRefused("certificate_not_bound_to_this_device")
            check_claim(channel.device, registration)
            self.store.bind_certificate(channel, issued, registration)
        else:
            raise CheckinRefused("certificate_not_bound_to_this_device")
        self._check_managed(channel, m)
        r.channel = channel

    @staticmethod
    def _check_managed(channel, m: msg.CheckinMessage) -> None:
        if channel.device.is_gone:
            raise DeviceUnrecognized(channel.device)
        if channel.device.state == DeviceState.INACTIVE and not isinstance(m, msg.CheckOut):
            # Checked out: the device left management; only a new Authenticate brings it back.
            raise CheckinRefused("checked_out")

    def _report_target(self, r: CheckinRequest, report: msg.CommandReport) -> ReportTarget:
        """The channel a ServerURL request names, if its certificate may speak for it: the
        certificate bound to it, or (a user channel) a certificate of the same device."""
        target = self.store.report_target(r.tenant, report.channel_id)
        if target is not None and bound_certificate_matches(target, r.certificate):
            return target
        issued = self._identify(r)
        if target is not None and issued.pk == target.previous_certificate_pk:
            if not target.accepts_previous(issued.pk, timezone.now()):
                raise CheckinRefused("superseded_certificate")
            return target
        if target is not None and issued.device_id is None and not target.is_user_channel \
                and (renewal := self._renewal_registration(issued, target.device_pk)):
            if target.device_state in GONE_STATES:
                raise DeviceUnrecognized(self.store.device(r.tenant, target.device_pk))
            with self.store.atomic():  # ServerURL requests run outside a transaction
                channel = self.store.lock_device_channel(r.tenant, target.device_udid)
                self._renew(r, channel, renewal)
            return self.store.report_target(r.tenant, report.channel_id)
        device = issued.device
        if device is None or device.udid != report.device_id:
            raise CheckinRefused("certificate_not_bound_to_this_device")
        if device.is_gone:
            raise DeviceUnrecognized(device)
        if target is None or target.device_pk != device.pk:
            raise CheckinRefused("channel_not_enrolled")
        if not target.is_user_channel:
            raise CheckinRefused("certificate_not_bound_to_this_device")
        return target
