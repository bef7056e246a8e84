"""The enrollment profile of a registration, served once at its one-time URL."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from cryptography import x509
from django.utils import timezone

from audit.events import AuditAction
from audit.models import AuditEvent
from enrollment.apple.links import profile_url
from enrollment.models import Challenge, Registration, RegistrationState
from enrollment.services.apple_settings import do_save_apple_settings
from enrollment.services.authorities import active_authority, do_generate_ca
from enrollment.services.challenges import hash_challenge
from enrollment.services.registrations import do_start_registration
from profiles.models import ProfileSigningCertificate
from tests.base.apple.schema import check_profile
from tests.base.apple.simulator import TOPIC
from tests.enrollment.apple.signed_profiles import loads, payload
from users.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def apple_tenant(tenant, admin):
    do_save_apple_settings(tenant, actor=admin, push_topic=TOPIC)
    return tenant


@pytest.fixture
def jane(tenant):
    return User.objects.create_user(tenant, "jane@acme.test")


def start(tenant, user, platform="ios"):
    return do_start_registration(tenant, user, platform, "api", actor=user)


def path_of(url: str) -> str:
    return url.split("://", 1)[1].split("/", 1)[1].join(["/", ""])


@pytest.mark.parametrize("platform", ["ios", "macos"])
def test_signed_profile_verifies_and_follows_apples_schemas(openssl_verify, client, apple_tenant,
                                                            jane, platform, tmp_path, settings):
    settings.MDM_PUBLIC_URL = "https://mdm.example.com"
    started = start(apple_tenant, jane, platform)
    url = profile_url(apple_tenant, started.profile_token)
    assert url == f"https://mdm.example.com/t/acme/enroll/apple/{started.profile_token}.mobileconfig"
    response = client.get(path_of(url))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-apple-aspen-config"
    assert response["Cache-Control"] == "no-store"
    ca_der = bytes(active_authority(apple_tenant).certificate_der)
    profile = loads(openssl_verify(response.content, ca_der, tmp_path))
    assert check_profile(profile) == []

    registration = Registration.objects.get(pk=started.registration.pk)
    assert registration.state == RegistrationState.PROFILE_DOWNLOADED
    scep = payload(profile, "com.apple.security.scep")["PayloadContent"]
    assert scep["URL"] == "https://mdm.example.com/t/acme/scep"
    assert Challenge.objects.get(pk=registration.challenge_id).challenge_hash == \
        hash_challenge(scep["Challenge"])
    assert scep["Subject"] == [[["O", "Acme"]], [["CN", f"acme registration {registration.pk}"]]]
    assert (scep["Keysize"], scep["Key Type"], scep["Key Usage"]) == (2048, "RSA", 5)
    assert scep["CAFingerprint"] == hashlib.sha1(ca_der).digest()
    mdm = payload(profile, "com.apple.mdm")
    assert mdm["ServerURL"] == "https://mdm.example.com/t/acme/mdm/server"
    assert mdm["CheckInURL"] == "https://mdm.example.com/t/acme/mdm/checkin"
    assert mdm["Topic"] == TOPIC
    assert mdm["IdentityCertificateUUID"] == payload(profile, "com.apple.security.scep")[
        "PayloadUUID"]
    assert (mdm["AccessRights"], mdm["SignMessage"], mdm["CheckOutWhenRemoved"]) == (
        8191, True, True)
    if platform == "macos":
        assert mdm["ServerCapabilities"] == ["com.apple.mdm.per-user-connections",
                                             "com.apple.mdm.bootstraptoken"]
    else:
        assert "ServerCapabilities" not in mdm
    assert payload(profile, "com.apple.security.root")["PayloadContent"] == ca_der
    assert profile["PayloadIdentifier"] == "com.example.mdm.acme.enrollment"
    assert AuditEvent.objects.filter(action=AuditAction.PROFILE_DOWNLOADED).count() == 1


def test_signing_certificate_is_issued_once_by_the_tenant_ca(client, apple_tenant, jane):
    for _ in range(2):
        started = start(apple_tenant, jane)
        assert client.get(path_of(profile_url(apple_tenant, started.profile_token))
                          ).status_code == 200
    stored = ProfileSigningCertificate.objects.get()
    cert = x509.load_der_x509_certificate(bytes(stored.certificate_der))
    ca = x509.load_der_x509_certificate(bytes(active_authority(apple_tenant).certificate_der))
    cert.verify_directly_issued_by(ca)
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_encipherment and not usage.key_cert_sign
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert b"PRIVATE" not in bytes(stored.private_key_encrypted)
    assert AuditEvent.objects.filter(
        action=AuditAction.PROFILE_SIGNING_CERT_CREATED).count() == 1


def test_a_new_ca_gets_a_new_signing_certificate(openssl_verify, client, apple_tenant, jane,
                                                 admin, tmp_path):
    client.get(path_of(profile_url(apple_tenant, start(apple_tenant, jane).profile_token)))
    do_generate_ca(apple_tenant, actor=admin)
    response = client.get(path_of(profile_url(apple_tenant,
                                               start(apple_tenant, jane).profile_token)))
    openssl_verify(response.content, bytes(active_authority(apple_tenant).certificate_der),
                   tmp_path)
    assert ProfileSigningCertificate.objects.count() == 2


def test_unsigned_option_serves_the_plain_plist(client, apple_tenant, jane, admin, settings):
    settings.MDM_PUBLIC_URL = "https://mdm.example.com"
    do_save_apple_settings(apple_tenant, actor=admin, sign_enrollment_profiles=False)
    response = client.get(path_of(profile_url(apple_tenant,
                                              start(apple_tenant, jane).profile_token)))
    assert response.status_code == 200
    assert check_profile(loads(response.content)) == []


def test_second_download_is_refused(client, apple_tenant, jane):
    path = path_of(profile_url(apple_tenant, start(apple_tenant, jane).profile_token))
    assert client.get(path).status_code == 200
    response = client.get(path)
    assert response.status_code == 410
    assert b"already downloaded" in response.content


def test_unknown_token_is_404(client, apple_tenant):
    response = client.get("/t/acme/enroll/apple/nope.mobileconfig")
    assert response.status_code == 404
    assert b"not valid" in response.content


def test_expired_window_is_410(client, apple_tenant, jane):
    started = start(apple_tenant, jane)
    Registration.objects.filter(pk=started.registration.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = client.get(path_of(profile_url(apple_tenant, started.profile_token)))
    assert response.status_code == 410
    assert b"expired" in response.content


def test_closed_registration_is_410(client, apple_tenant, jane):
    started = start(apple_tenant, jane)
    Registration.objects.filter(pk=started.registration.pk).update(
        state=RegistrationState.CANCELLED)
    response = client.get(path_of(profile_url(apple_tenant, started.profile_token)))
    assert response.status_code == 410
    assert b"no longer open" in response.content


def test_without_push_topic_the_token_is_not_spent(client, tenant, jane, admin):
    started = start(tenant, jane)
    path = path_of(profile_url(tenant, started.profile_token))
    response = client.get(path)
    assert response.status_code == 503
    assert b"not set up" in response.content
    do_save_apple_settings(tenant, actor=admin, push_topic=TOPIC)
    assert client.get(path).status_code == 200


def test_token_of_another_tenant_is_404(client, apple_tenant, jane, other_tenant, other_admin):
    do_save_apple_settings(other_tenant, actor=other_admin, push_topic=TOPIC)
    started = start(apple_tenant, jane)
    response = client.get(f"/t/{other_tenant.slug}/enroll/apple/"
                          f"{started.profile_token}.mobileconfig")
    assert response.status_code == 404
    assert Registration.objects.get(pk=started.registration.pk).profile_downloaded_at is None


def test_post_is_not_allowed(client, apple_tenant, jane):
    path = path_of(profile_url(apple_tenant, start(apple_tenant, jane).profile_token))
    assert client.post(path).status_code == 405


def test_profile_under_an_intermediate_ca_verifies_with_the_root_alone(openssl_verify, client,
                                                                       apple_tenant, admin, jane,
                                                                       tmp_path, settings):
    """An imported intermediate CA: the signature embeds the CA and its chain, so OpenSSL
    verifies it trusting only the root; the profile trusts the root and installs the
    intermediate (com.apple.security.pkcs1); the SCEP payload pins the issuing CA."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from enrollment.services.authorities import do_import_ca
    from pki.authority import KeyPair
    from tests.base.scep.client import make_ca, make_intermediate_ca

    settings.MDM_PUBLIC_URL = "https://mdm.example.com"
    root = make_ca("Acme Root", path_length=None)
    intermediate = make_intermediate_ca(root, "Acme Devices CA")
    do_import_ca(apple_tenant, KeyPair(intermediate.key, intermediate.cert, (root.cert,)),
                 actor=admin)
    started = start(apple_tenant, jane)
    response = client.get(path_of(profile_url(apple_tenant, started.profile_token)))
    assert response.status_code == 200
    profile = loads(openssl_verify(response.content, root.cert.public_bytes(Encoding.DER),
                                   tmp_path))
    assert check_profile(profile) == []
    assert payload(profile, "com.apple.security.root")["PayloadContent"] == \
        root.cert.public_bytes(Encoding.DER)
    intermediate_der = intermediate.cert.public_bytes(Encoding.DER)
    assert payload(profile, "com.apple.security.pkcs1")["PayloadContent"] == intermediate_der
    scep = payload(profile, "com.apple.security.scep")["PayloadContent"]
    assert scep["CAFingerprint"] == hashlib.sha1(intermediate_der).digest()


def test_profile_under_a_chain_imported_without_its_root(openssl_verify, client, apple_tenant,
                                                         admin, jane, tmp_path, settings):
    """The top of such a chain is no root: nothing goes in a root payload, and the CA and the
    intermediates above it are installed (the device trusts the root already)."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from enrollment.services.authorities import do_import_ca
    from pki.authority import KeyPair
    from tests.base.scep.client import make_ca, make_intermediate_ca

    settings.MDM_PUBLIC_URL = "https://mdm.example.com"
    root = make_ca("Acme Root", path_length=None)
    middle = make_intermediate_ca(root, "Acme Middle", path_length=1)
    issuing = make_intermediate_ca(middle, "Acme Issuing")
    do_import_ca(apple_tenant, KeyPair(issuing.key, issuing.cert, (middle.cert,)), actor=admin)
    started = start(apple_tenant, jane)
    response = client.get(path_of(profile_url(apple_tenant, started.profile_token)))
    profile = loads(openssl_verify(response.content, root.cert.public_bytes(Encoding.DER),
                                   tmp_path))
    assert check_profile(profile) == []
    types = [p["PayloadType"] for p in profile["PayloadContent"]]
    assert "com.apple.security.root" not in types
    installed = [p["PayloadContent"] for p in profile["PayloadContent"]
                 if p["PayloadType"] == "com.apple.security.pkcs1"]
    assert installed == [issuing.cert.public_bytes(Encoding.DER),
                         middle.cert.public_bytes(Encoding.DER)]


def test_scep_subject_fits_the_policy_with_the_longest_slug(tenant):
    """Slugs have up to 50 characters; the CN the SCEP policy accepts has up to 64."""
    from enrollment.apple.profile import scep_subject

    tenant.slug = "s" * 50
    subject = dict(scep_subject(tenant, Registration(pk=123456789)))
    assert len(subject["CN"]) <= 64 and subject["CN"].endswith(" registration 123456789")
