"""Push credentials: the tenant's APNs MDM certificate, the push certificate requests made
here and the MDM vendor certificate that signs them, the agent app's APNs key and FCM service
account (uploads audited; secrets encrypted at rest), and the per-process clients built from
them.

Uploading the MDM certificate also sets the Apple MDM push topic that enrollment profiles
carry (`enrollment.services.apple_settings.do_save_apple_settings`); a certificate of another
topic is installed only when the admin confirms that every Apple device enrolls again.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.events import AuditAction
from audit.record import actor_fields, record
from core.encryption import decrypt, encrypt
from core.platforms import Platform
from devices.models import (
    ApnsCertificate,
    ApnsCertificateRequest,
    AppPushCredentials,
    Device,
    MdmVendorCertificate,
)
from devices.models.devices import GONE_STATES
from devices.models.push import EXPIRY_WARNING
from devices.push import apns, certificate_request, fcm
from enrollment.services.apple_settings import apple_settings, do_save_apple_settings
from pki import keys


class TopicChangeRequired(apns.ApnsCertificateError):
    """The certificate has another topic than the current one: every Apple device would have
    to enroll again, so the admin must confirm."""

    audit_action = AuditAction.APNS_TOPIC_CHANGE_REFUSED

    def __init__(self, current_topic: str, new_topic: str, apple_devices: int, *,
                 what: str = "This certificate's topic"):
        self.current_topic, self.new_topic = current_topic, new_topic
        self.apple_devices = apple_devices
        self.audit_detail = {"topic": new_topic, "previous_topic": current_topic,
                             "apple_devices": apple_devices}
        renew = ("" if what != "This certificate's topic" else
                 " To renew, use Renew on the current certificate in Apple's Push Certificates "
                 "Portal (same Apple ID);")
        super().__init__(
            f"{what} ({new_topic or 'none'}) is not the current one ({current_topic}): "
            f"all {apple_devices} Apple device(s) would have to enroll again.{renew} "
            f"To change the topic anyway, confirm it.")


class NoMatchingRequest(apns.ApnsCertificateError):
    """A certificate without its key whose key is none of this tenant's requests' keys."""

    audit_action = AuditAction.APNS_CERTIFICATE_UNMATCHED

    def __init__(self, certificate: x509.Certificate, key_id: str):
        self.audit_detail = {"subject": certificate.subject.rfc4514_string()[:500],
                             "serial_number": format(certificate.serial_number, "x"),
                             "public_key_sha256": key_id}
        super().__init__(
            "This certificate matches none of the push certificate requests created here, and "
            "no private key came with it. Upload the certificate Apple issued for a request "
            "made on this page, or the .p12 (or PEM certificate and key) it belongs to.")


def _refusals_audited(service):
    """A refusal (topic change not confirmed, certificate of no request) rolls the service's
    transaction back, then is audited in its own: nothing is written but the event."""

    @functools.wraps(service)
    def audited(tenant, *args, actor, origin=None, **kwargs):
        try:
            return service(tenant, *args, actor=actor, origin=origin, **kwargs)
        except (TopicChangeRequired, NoMatchingRequest) as refusal:
            with transaction.atomic():
                record(tenant, refusal.audit_action, actor=actor, origin=origin,
                       detail=refusal.audit_detail)
            raise

    return audited


def apple_device_count(tenant) -> int:
    """Apple devices still managed (not retired or wiped): those a new topic would lose. One
    COUNT on the (tenant, platform, state) index."""
    return (Device.objects.for_tenant(tenant)
            .filter(platform__in=(Platform.IOS, Platform.MACOS))
            .exclude(state__in=GONE_STATES).count())


@_refusals_audited
@transaction.atomic
def do_save_apple_mdm_settings(tenant, *, actor, origin=None, confirm_topic_change: bool = False,
                               **values):
    """Save the Apple MDM settings (enrollment.services.apple_settings), with the push
    certificate's guard on the topic: while an APNs certificate is installed its topic is the
    topic (ApnsCertificateError otherwise: pushes would fail); without one, a topic that
    differs from the current one loses every managed Apple device, so it needs
    ``confirm_topic_change`` (TopicChangeRequired, audited, otherwise)."""
    topic = values.get("push_topic")
    current = apple_settings(tenant).push_topic
    if topic is not None and topic != current:
        certificate = apns_certificate(tenant)
        if certificate is not None and certificate.topic != topic:
            raise apns.ApnsCertificateError(
                f"The push topic is the APNs certificate's ({certificate.topic}): upload "
                "another certificate (Settings > APNs certificate) to change it.")
        apple_devices = apple_device_count(tenant) if current else 0
        if apple_devices and not confirm_topic_change:
            raise TopicChangeRequired(current, topic, apple_devices, what="The new topic")
    return do_save_apple_settings(tenant, actor=actor, origin=origin, **values)


def _refuse_expired(not_after) -> None:
    if not_after <= timezone.now():
        raise apns.ApnsCertificateError("This certificate has expired: renew it in Apple's "
                                        "Push Certificates Portal.")


def _install(tenant, parsed: apns.PushCertificate, *, actor, confirm_topic_change: bool,
             origin, source: str) -> ApnsCertificate:
    """Make `parsed` the tenant's push certificate (renewed in place when the topic is the
    same) and its topic the enrollment profiles' push topic."""
    _refuse_expired(parsed.not_after)
    current = ApnsCertificate.objects.for_tenant(tenant).select_for_update().first()
    previous_topic = current.topic if current else None
    if previous_topic and previous_topic != parsed.topic:
        apple_devices = apple_device_count(tenant)
        if not confirm_topic_change:
            raise TopicChangeRequired(previous_topic, parsed.topic, apple_devices)
        record(tenant, AuditAction.APNS_TOPIC_CHANGE_CONFIRMED, actor=actor, target=current,
               origin=origin, detail={"topic": parsed.topic, "previous_topic": previous_topic,
                                        "apple_devices": apple_devices})
    certificate = current or ApnsCertificate(tenant=tenant)
    certificate.certificate_pem = parsed.certificate_pem.decode()
    certificate.private_key_encrypted = encrypt(parsed.private_key_pem,
                                                ApnsCertificate.KEY_PURPOSE)
    certificate.topic, certificate.subject = parsed.topic, parsed.subject
    certificate.serial_number = parsed.serial_number
    certificate.not_before, certificate.not_after = parsed.not_before, parsed.not_after
    certificate.uploaded_at = timezone.now()
    certificate.uploaded_by_label = actor_fields(actor)["actor_label"]
    certificate.expiry_warned_at = None
    certificate.save()
    do_save_apple_settings(tenant, actor=actor, origin=origin, push_topic=parsed.topic)
    record(tenant, AuditAction.APNS_CERTIFICATE_UPLOADED, actor=actor, target=certificate,
           origin=origin, detail={"topic": parsed.topic, "serial_number": parsed.serial_number,
                                    "not_after": parsed.not_after.isoformat(),
                                    "previous_topic": previous_topic, "source": source})
    return certificate


def _install_requested(tenant, issued: x509.Certificate, *, actor, confirm_topic_change: bool,
                       origin) -> ApnsCertificate:
    """Apple's certificate for a request made here, joined to the request's key."""
    apns.topic_of(issued)  # the vendor certificate or another certificate: say so first
    _refuse_expired(issued.not_valid_after_utc)
    key_id = certificate_request.certificate_key_sha256(issued) or ""
    pending = (ApnsCertificateRequest.objects.for_tenant(tenant)
               .filter(public_key_sha256=key_id).select_for_update().first()) if key_id else None
    if pending is None:
        raise NoMatchingRequest(issued, key_id)
    key_pem = decrypt(bytes(pending.private_key_encrypted), ApnsCertificateRequest.KEY_PURPOSE)
    parsed = apns.load_push_certificate(
        issued.public_bytes(serialization.Encoding.PEM), key_data=key_pem)
    certificate = _install(tenant, parsed, actor=actor, origin=origin, source="request",
                           confirm_topic_change=confirm_topic_change)
    pending.matched_at = timezone.now()
    pending.save(update_fields=["matched_at"])
    record(tenant, AuditAction.APNS_CERTIFICATE_MATCHED, actor=actor, target=certificate,
           origin=origin, detail={"request_id": pending.pk, "topic": parsed.topic,
                                    "serial_number": parsed.serial_number,
                                    "public_key_sha256": key_id})
    return certificate


@_refusals_audited
@transaction.atomic
def do_upload_apns_certificate(tenant, data: bytes, *, actor, password: str | None = None,
                               key_data: bytes | None = None, confirm_topic_change: bool = False,
                               origin=None) -> ApnsCertificate:
    """Store the MDM push certificate and make its topic the tenant's push topic.

    Apple's certificate alone (PEM or DER, no key) is joined to the key of the request made
    here that it answers; a PKCS#12, or a PEM with its key, is taken as it is. A certificate
    of another topic than the current one is refused (TopicChangeRequired, audited) unless
    `confirm_topic_change`. Raises apns.ApnsCertificateError (user-facing) for an unusable
    file."""
    issued = certificate_request.certificate_only(data, key_data)
    if issued is not None:
        return _install_requested(tenant, issued, actor=actor, origin=origin,
                                  confirm_topic_change=confirm_topic_change)
    parsed = apns.load_push_certificate(data, password=password, key_data=key_data)
    return _install(tenant, parsed, actor=actor, origin=origin, source="upload",
                    confirm_topic_change=confirm_topic_change)


# --- push certificate requests and the MDM vendor certificate that signs them --------------

def apns_certificate_requests(tenant):
    return ApnsCertificateRequest.objects.for_tenant(tenant)


def mdm_vendor_certificate(tenant) -> MdmVendorCertificate | None:
    return MdmVendorCertificate.objects.for_tenant(tenant).first()


def deployment_vendor_certificate() -> certificate_request.VendorCertificate | None:
    """This server's vendor certificate (MDM_VENDOR_CERTIFICATE_FILE, MDM_VENDOR_KEY_FILE),
    read when used; None when not configured."""
    path = settings.MDM_VENDOR_CERTIFICATE_FILE
    if not path:
        return None
    try:
        data = Path(path).read_bytes()
        key_path = settings.MDM_VENDOR_KEY_FILE
        key_data = Path(key_path).read_bytes() if key_path else None
        return certificate_request.load_vendor_certificate(
            data, key_data=key_data, password=settings.MDM_VENDOR_KEY_PASSWORD or None)
    except (OSError, certificate_request.VendorCertificateError) as exc:
        raise certificate_request.VendorCertificateError(
            f"This server's MDM vendor certificate (MDM_VENDOR_CERTIFICATE_FILE) cannot sign: "
            f"{exc}") from None


def signing_vendor(tenant) -> tuple[certificate_request.VendorCertificate | None, str]:
    """The vendor certificate that signs the tenant's requests and whose it is: the tenant's
    own, else this server's, else (None, ""). Raises VendorCertificateError when the one that
    should sign cannot (expired, unreadable)."""
    own = mdm_vendor_certificate(tenant)
    if own is not None:
        key_pem = decrypt(bytes(own.private_key_encrypted), MdmVendorCertificate.KEY_PURPOSE)
        try:
            vendor = certificate_request.load_vendor_certificate(
                (own.certificate_pem + own.issuers_pem).encode(), key_data=key_pem)
        except certificate_request.VendorCertificateError as exc:
            raise certificate_request.VendorCertificateError(
                f"Your MDM vendor certificate cannot sign: {exc}") from None
        return vendor, ApnsCertificateRequest.SignedBy.TENANT
    vendor = deployment_vendor_certificate()
    return vendor, (ApnsCertificateRequest.SignedBy.DEPLOYMENT if vendor else "")


@transaction.atomic
def do_create_apns_certificate_request(tenant, *, actor, email: str = "",
                                       origin=None) -> ApnsCertificateRequest:
    """A new push key (RSA 2048, kept encrypted) and its CSR, signed into the file for Apple's
    Push Certificates Portal when a vendor certificate is at hand. Raises
    VendorCertificateError when the vendor certificate that should sign cannot."""
    vendor, signed_by = signing_vendor(tenant)
    key = keys.new_rsa_key(2048)
    csr_der = certificate_request.new_push_csr(key, common_name=f"{tenant.name} MDM push",
                                               email=email)
    pending = ApnsCertificateRequest(
        tenant=tenant, csr_pem=certificate_request.csr_pem(csr_der),
        private_key_encrypted=encrypt(
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()),
            ApnsCertificateRequest.KEY_PURPOSE),
        public_key_sha256=certificate_request.public_key_sha256(key.public_key()),
        created_by_label=actor_fields(actor)["actor_label"])
    if vendor is not None:
        pending.signed_request = certificate_request.sign_push_request(csr_der, vendor).decode()
        pending.signed_by, pending.vendor_subject = signed_by, vendor.subject
    pending.save()
    record(tenant, AuditAction.APNS_CERTIFICATE_REQUEST_CREATED, actor=actor, target=pending,
           origin=origin, detail={"public_key_sha256": pending.public_key_sha256,
                                    "signed_by": pending.signed_by,
                                    "vendor_subject": pending.vendor_subject})
    return pending


@transaction.atomic
def do_save_mdm_vendor_certificate(tenant, data: bytes, *, actor, password: str | None = None,
                                   key_data: bytes | None = None,
                                   chain_data: bytes | None = None,
                                   origin=None) -> MdmVendorCertificate:
    """Store the tenant's MDM vendor certificate, its key (encrypted) and Apple's chain; it
    signs the tenant's next requests. Raises VendorCertificateError (user-facing) for a
    certificate without its key, a key of another certificate, an incomplete chain, ..."""
    vendor = certificate_request.load_vendor_certificate(data, password=password,
                                                         key_data=key_data,
                                                         chain_data=chain_data)
    saved = (MdmVendorCertificate.objects.for_tenant(tenant).select_for_update().first()
             or MdmVendorCertificate(tenant=tenant))
    saved.certificate_pem, saved.issuers_pem = vendor.certificate_pem, vendor.issuers_pem
    saved.private_key_encrypted = encrypt(vendor.key_pem, MdmVendorCertificate.KEY_PURPOSE)
    saved.subject, saved.serial_number = vendor.subject, vendor.serial_number
    saved.not_after = vendor.not_after
    saved.uploaded_at = timezone.now()
    saved.uploaded_by_label = actor_fields(actor)["actor_label"]
    saved.save()
    record(tenant, AuditAction.MDM_VENDOR_CERTIFICATE_SAVED, actor=actor, target=saved,
           origin=origin, detail={"subject": saved.subject,
                                    "serial_number": saved.serial_number,
                                    "not_after": saved.not_after.isoformat(),
                                    "chain": [cert.subject.rfc4514_string()[:200]
                                              for cert in vendor.issuers]})
    return saved


def apns_certificate(tenant) -> ApnsCertificate | None:
    return ApnsCertificate.objects.for_tenant(tenant).first()


def app_push_credentials(tenant) -> AppPushCredentials:
    """The tenant's app credentials, unsaved empty ones when never saved."""
    return (AppPushCredentials.objects.for_tenant(tenant).first()
            or AppPushCredentials(tenant=tenant))


@transaction.atomic
def do_save_app_push_credentials(tenant, *, actor, origin=None, apns_key_id=None,
                                 apns_team_id=None, apns_bundle_id=None, apns_key_pem=None,
                                 apns_use_sandbox=None, fcm_service_account=None
                                 ) -> AppPushCredentials:
    """Save what is given (None leaves a value as it is). `apns_key_pem` is the .p8 file;
    `fcm_service_account` the parsed service account JSON. Raises ValueError subclasses
    with a user-facing message for unusable keys."""
    credentials, _ = AppPushCredentials.objects.select_for_update().get_or_create(tenant=tenant)
    changed = []
    for name, value in (("apns_key_id", apns_key_id), ("apns_team_id", apns_team_id),
                        ("apns_bundle_id", apns_bundle_id),
                        ("apns_use_sandbox", apns_use_sandbox)):
        if value is not None and getattr(credentials, name) != value:
            setattr(credentials, name, value.strip() if isinstance(value, str) else value)
            changed.append(name)
    if apns_key_pem:
        apns.ProviderToken(apns_key_pem, credentials.apns_key_id or "KEY",
                           credentials.apns_team_id or "TEAM")  # validates the key
        credentials.apns_key_encrypted = encrypt(apns_key_pem, AppPushCredentials.APNS_KEY_PURPOSE)
        changed.append("apns_key")
    if fcm_service_account is not None:
        fcm.parse_service_account(fcm_service_account)
        credentials.fcm_project_id = fcm_service_account["project_id"]
        credentials.fcm_client_email = fcm_service_account["client_email"]
        credentials.fcm_service_account_encrypted = encrypt(
            json.dumps(fcm_service_account).encode(), AppPushCredentials.FCM_PURPOSE)
        changed.append("fcm_service_account")
    credentials.save()
    record(tenant, AuditAction.APP_PUSH_CREDENTIALS_SAVED, actor=actor, target=credentials,
           origin=origin, detail={"changed": changed,
                                  "apns_key_id": credentials.apns_key_id,
                                  "apns_bundle_id": credentials.apns_bundle_id,
                                  "fcm_project_id": credentials.fcm_project_id})
    return credentials


def certificates_expiring(now: dt.datetime | None = None):
    """Certificates within the 30-day warning whose warning was not audited yet."""
    now = now or timezone.now()
    return ApnsCertificate.objects.filter(not_after__lte=now + EXPIRY_WARNING,
                                          expiry_warned_at__isnull=True)


@transaction.atomic
def do_warn_expiring_certificates(now: dt.datetime | None = None) -> int:
    """Audit each certificate entering its last 30 days, once."""
    now = now or timezone.now()
    due = list(certificates_expiring(now).select_for_update(skip_locked=True))
    for certificate in due:
        record(certificate.tenant, AuditAction.APNS_CERTIFICATE_EXPIRING, actor="system",
               target=certificate, detail={"topic": certificate.topic,
                                           "not_after": certificate.not_after.isoformat()})
    ApnsCertificate.objects.filter(pk__in=[c.pk for c in due]).update(expiry_warned_at=now)
    return len(due)


# --- clients, one per process per topic / key ------------------------------------------------

def _client_options() -> dict:
    return {"concurrency": settings.MDM_PUSH_CONCURRENCY,
            "max_retries": settings.MDM_PUSH_MAX_RETRIES,
            "backoff_seconds": settings.MDM_PUSH_BACKOFF_MS / 1000}


def mdm_client(certificate: ApnsCertificate) -> apns.ApnsClient:
    """The MDM client of this certificate's topic: one HTTP/2 connection reused across
    pushes (a new upload has a new serial, hence a new client)."""
    url = settings.MDM_APNS_URL

    def make() -> apns.ApnsClient:
        key = decrypt(bytes(certificate.private_key_encrypted), ApnsCertificate.KEY_PURPOSE)
        context = apns.client_ssl_context(certificate.certificate_pem.encode(), key,
                                          ca_file=settings.MDM_APNS_CA_FILE)
        return apns.ApnsClient(url, context, **_client_options())

    return apns.client_for(("mdm", url, certificate.topic, certificate.serial_number), make)


def app_apns_client(credentials: AppPushCredentials) -> apns.ApnsClient:
    url = settings.MDM_APNS_URL
    if credentials.apns_use_sandbox and url == "https://api.push.apple.com":
        url = "https://api.sandbox.push.apple.com"
    key_pem = decrypt(bytes(credentials.apns_key_encrypted), AppPushCredentials.APNS_KEY_PURPOSE)

    def make() -> apns.ApnsClient:
        token = apns.ProviderToken(key_pem, credentials.apns_key_id, credentials.apns_team_id)
        context = apns.client_ssl_context(None, None, ca_file=settings.MDM_APNS_CA_FILE)
        return apns.ApnsClient(url, context, provider_token=token, **_client_options())

    digest = hashlib.sha256(key_pem).hexdigest()[:16]
    return apns.client_for(("app", url, credentials.apns_team_id, credentials.apns_key_id,
                            digest), make)


_fcm_clients: dict[tuple, fcm.FcmClient] = {}


def fcm_client(credentials: AppPushCredentials) -> fcm.FcmClient:
    info = json.loads(decrypt(bytes(credentials.fcm_service_account_encrypted),
                              AppPushCredentials.FCM_PURPOSE))
    key = (settings.MDM_FCM_URL, info["client_email"], info.get("private_key_id", ""))
    client = _fcm_clients.get(key)
    if client is None:
        opts = _client_options()
        client = _fcm_clients[key] = fcm.FcmClient(
            info, base_url=settings.MDM_FCM_URL, concurrency=min(16, opts["concurrency"]),
            max_retries=opts["max_retries"], backoff_seconds=opts["backoff_seconds"])
    return client


def close_clients() -> None:
    apns.close_clients()
    for client in _fcm_clients.values():
        client.close()
    _fcm_clients.clear()
