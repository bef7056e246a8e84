"""The SCEP endpoint against the tenant CA: operations, challenges, renewal, isolation, audit."""

from __future__ import annotations

import base64
import datetime as dt
import io

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.test import RequestFactory
from django.utils import timezone

from audit.models import AuditEvent
from enrollment.models import Challenge, IssuedCertificate
from enrollment.scep import envelope
from enrollment.scep.messages import sign_pki_message
from enrollment.scep.oids import FailInfo, MessageType, PKIStatus
from enrollment.scep.views import read_body
from enrollment.services.certificates import do_revoke_certificate
from enrollment.services.challenges import do_create_challenge
from pki import der
from tests.base.scep.client import (
    Identity,
    ScepRequest,
    make_csr,
    make_signer,
    new_key,
    with_duplicate_extension,
)
from tests.enrollment.scep.helpers import (
    decode,
    load_certificates,
    pkcs_req,
    post,
    renewal_req,
    tenant_ca_cert,
    tenant_ra_cert,
)


@pytest.fixture
def challenge(tenant, admin):
    return do_create_challenge(tenant, actor=admin, purpose="test")


def rejections(tenant):
    return list(AuditEvent.objects.filter(tenant=tenant, action="scep.rejected")
                .order_by("pk").values_list("detail", flat=True))


def test_get_ca_caps(client, tenant):
    response = client.get(f"/t/{tenant.slug}/scep?operation=GetCACaps")
    assert response.status_code == 200
    caps = response.content.decode().split("\n")
    for cap in ("POSTPKIOperation", "SHA-256", "SHA-512", "AES", "DES3", "SCEPStandard",
                "Renewal"):
        assert cap in caps


def test_get_ca_cert_is_the_tenant_ca_and_its_ra(client, tenant, other_tenant):
    response = client.get(f"/t/{tenant.slug}/scep?operation=GetCACert")
    assert response["Content-Type"] == "application/x-x509-ca-ra-cert"
    assert load_certificates(response.content) == [tenant_ca_cert(tenant), tenant_ra_cert(tenant)]
    other = client.get(f"/t/{other_tenant.slug}/scep?operation=GetCACert").content
    assert other != response.content


def test_unknown_operation_and_tenant(client, tenant):
    assert client.get(f"/t/{tenant.slug}/scep?operation=Nope").status_code == 400
    assert client.get(f"/t/{tenant.slug}/scep").status_code == 400
    assert client.get("/t/nobody/scep?operation=GetCACaps").status_code == 404


@pytest.mark.parametrize(("cipher", "digest"), [
    ("aes256", "sha256"), ("aes128", "sha512"), ("des3", "sha1"), ("des", "sha1"),
])
def test_pkcs_req_issues_a_client_certificate(client, tenant, challenge, cipher, digest):
    request = pkcs_req(tenant, challenge.raw, cn="Ann's iPhone", cipher=cipher, digest=digest)
    reply = decode(post(client, tenant, request), request, tenant)
    assert reply.status is PKIStatus.SUCCESS
    cert = reply.certificate
    ca = tenant_ca_cert(tenant)
    cert.verify_directly_issued_by(ca)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Ann's iPhone"
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in eku
    validity = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert dt.timedelta(days=364) < validity < dt.timedelta(days=366)
    stored = IssuedCertificate.objects.get(tenant=tenant)
    assert stored.fingerprint_sha256 == cert.fingerprint(hashes.SHA256()).hex()
    assert int(stored.serial_hex, 16) == cert.serial_number
    assert stored.challenge_id == challenge.challenge.pk
    challenge.challenge.refresh_from_db()
    assert challenge.challenge.used_at is not None
    event = AuditEvent.objects.get(tenant=tenant, action="certificate.issued")
    assert event.detail["serial"] == stored.serial_hex


def test_subject_is_limited_to_apple_attributes(client, tenant, challenge):
    key = new_key()
    subject = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Acme"),
        x509.NameAttribute(NameOID.COMMON_NAME, "dev"),
        x509.NameAttribute(NameOID.EMAIL_ADDRESS, "x@acme.test"),
    ])
    from cryptography.x509.oid import AttributeOID

    csr = (x509.CertificateSigningRequestBuilder().subject_name(subject)
           .add_attribute(AttributeOID.CHALLENGE_PASSWORD, challenge.raw.encode())
           .sign(key, hashes.SHA256()))
    from tests.base.scep.client import build_request, make_signer

    request = build_request(csr, make_signer("dev", key), tenant_ca_cert(tenant))
    cert = decode(post(client, tenant, request), request, tenant).certificate
    oids = [attr.oid for attr in cert.subject]
    assert NameOID.EMAIL_ADDRESS not in oids
    assert oids == [NameOID.COUNTRY_NAME, NameOID.ORGANIZATION_NAME, NameOID.COMMON_NAME]


@pytest.mark.parametrize("variant", ["standard", "urlsafe", "unescaped-plus"])
def test_pki_operation_over_get(client, tenant, admin, variant):
    # Find a message whose base64 holds "+" or "/", so each variant differs.
    while True:
        minted = do_create_challenge(tenant, actor=admin)
        request = pkcs_req(tenant, minted.raw)
        encoded = base64.b64encode(request.der).decode()
        if "+" in encoded and "/" in encoded:
            break
    if variant == "standard":
        query = encoded.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    elif variant == "urlsafe":
        query = base64.urlsafe_b64encode(request.der).decode().rstrip("=")
    else:
        query = encoded  # "+" left unescaped, as Apple devices send it
    response = client.get(f"/t/{tenant.slug}/scep?operation=PKIOperation&message={query}")
    assert decode(response, request, tenant).status is PKIStatus.SUCCESS


@pytest.mark.parametrize("case", ["wrong", "reused", "expired", "missing"])
def test_bad_challenges_get_failure_bad_request(client, tenant, admin, challenge, case):
    if case == "wrong":
        value = "not-the-challenge"
    elif case == "missing":
        value = None
    else:
        value = challenge.raw
        if case == "reused":
            first = pkcs_req(tenant, value)
            assert decode(post(client, tenant, first), first, tenant).status is PKIStatus.SUCCESS
        else:
            Challenge.objects.filter(pk=challenge.challenge.pk).update(
                expires_at=timezone.now() - dt.timedelta(seconds=1))
    request = pkcs_req(tenant, value)
    reply = decode(post(client, tenant, request), request, tenant)
    assert reply.status is PKIStatus.FAILURE
    assert reply.fail_info is FailInfo.BAD_REQUEST
    expected = {"wrong": "unknown", "missing": "missing"}.get(case, case)
    assert rejections(tenant)[-1]["reason"] == f"challenge {expected}"
    if case in ("reused", "expired"):
        assert rejections(tenant)[-1]["challenge_id"] == challenge.challenge.pk
    assert IssuedCertificate.objects.filter(tenant=tenant).count() == (1 if case == "reused"
                                                                        else 0)


def test_resent_request_gets_the_same_certificate(client, tenant, challenge):
    request = pkcs_req(tenant, challenge.raw)
    first = decode(post(client, tenant, request), request, tenant).certificate
    again = decode(post(client, tenant, request), request, tenant)
    assert again.status is PKIStatus.SUCCESS and again.certificate == first
    assert IssuedCertificate.objects.filter(tenant=tenant).count() == 1


def _enrolled_identity(client, tenant, challenge) -> tuple[Identity, IssuedCertificate]:
    key = new_key()
    request = pkcs_req(tenant, challenge.raw, key=key)
    cert = decode(post(client, tenant, request), request, tenant).certificate
    return Identity(key, cert), IssuedCertificate.objects.get(tenant=tenant)


def test_renewal_signed_by_issued_certificate(client, tenant, challenge):
    identity, issued = _enrolled_identity(client, tenant, challenge)
    request = renewal_req(tenant, identity)
    reply = decode(post(client, tenant, request), request, tenant)
    assert reply.status is PKIStatus.SUCCESS
    renewed = IssuedCertificate.objects.get(tenant=tenant, renewed_from=issued)
    assert renewed.fingerprint_sha256 != issued.fingerprint_sha256
    assert AuditEvent.objects.filter(tenant=tenant, action="certificate.renewed").count() == 1


def test_renewal_by_revoked_certificate_fails(client, tenant, admin, challenge):
    identity, issued = _enrolled_identity(client, tenant, challenge)
    do_revoke_certificate(tenant, issued, actor=admin)
    request = renewal_req(tenant, identity)
    reply = decode(post(client, tenant, request), request, tenant)
    assert (reply.status, reply.fail_info) == (PKIStatus.FAILURE, FailInfo.BAD_REQUEST)
    assert rejections(tenant)[-1]["reason"] == "renewal signer revoked"


def test_revocation_between_check_and_store_wins(client, tenant, admin, challenge,
                                                 monkeypatch):
    """The renewal policy reads the signer unrevoked; a revocation that commits before the
    store is still seen, by the store's own grant, and nothing is written."""
    from enrollment.scep import depot

    identity, issued = _enrolled_identity(client, tenant, challenge)
    store = depot.store

    def revoke_first(signed, *args, **kwargs):
        do_revoke_certificate(tenant, issued, actor=admin)
        return store(signed, *args, **kwargs)

    monkeypatch.setattr(depot, "store", revoke_first)
    request = renewal_req(tenant, identity)
    reply = decode(post(client, tenant, request), request, tenant)
    assert (reply.status, reply.fail_info) == (PKIStatus.FAILURE, FailInfo.BAD_REQUEST)
    assert rejections(tenant)[-1]["reason"] == "renewal signer revoked"
    assert not IssuedCertificate.objects.filter(tenant=tenant, renewed_from=issued).exists()
    assert not AuditEvent.objects.filter(tenant=tenant, action="certificate.renewed").exists()


def test_renewal_by_foreign_certificate_fails(client, tenant, other_tenant, other_admin):
    foreign = do_create_challenge(other_tenant, actor=other_admin)
    identity, _ = _enrolled_identity(client, other_tenant, foreign)
    request = renewal_req(tenant, identity)
    reply = decode(post(client, tenant, request), request, tenant)
    assert (reply.status, reply.fail_info) == (PKIStatus.FAILURE, FailInfo.BAD_REQUEST)
    assert rejections(tenant)[-1]["reason"] == "renewal signer not issued by this CA"
    assert not IssuedCertificate.objects.filter(tenant=tenant).exists()


def test_other_tenants_challenge_never_works_here(client, tenant, other_tenant, other_admin):
    foreign = do_create_challenge(other_tenant, actor=other_admin)
    # Encrypted for our CA but with their challenge: unknown here.
    request = pkcs_req(tenant, foreign.raw)
    reply = decode(post(client, tenant, request), request, tenant)
    assert (reply.status, reply.fail_info) == (PKIStatus.FAILURE, FailInfo.BAD_REQUEST)
    # Encrypted for their CA, sent to us: we cannot even read it.
    request = pkcs_req(tenant, foreign.raw, ca_cert=tenant_ca_cert(other_tenant))
    reply = decode(post(client, tenant, request), request, tenant)
    assert (reply.status, reply.fail_info) == (PKIStatus.FAILURE, FailInfo.BAD_CERT_ID)
    assert not IssuedCertificate.objects.exists()
    Challenge.objects.get(pk=foreign.challenge.pk, used_at__isnull=True)


def test_weak_csr_key_is_refused(client, tenant, challenge):
    request = pkcs_req(tenant, challenge.raw, key=new_key(1024))
    reply = decode(post(client, tenant, request), request, tenant)
    assert (reply.status, reply.fail_info) == (PKIStatus.FAILURE, FailInfo.BAD_REQUEST)
    # The refused request did not burn the challenge.
    challenge.challenge.refresh_from_db()
    assert challenge.challenge.used_at is None


@pytest.mark.parametrize("body", [b"", b"garbage", b"\x30\x82\xff\xff" + b"\x00" * 10])
def test_unparseable_bodies_are_plain_400(client, tenant, body):
    response = client.post(f"/t/{tenant.slug}/scep?operation=PKIOperation", data=body,
                           content_type="application/x-pki-message")
    assert response.status_code == 400
    assert rejections(tenant)[-1]["reason"] == "unparseable"


def test_bad_get_message_is_400(client, tenant):
    response = client.get(f"/t/{tenant.slug}/scep?operation=PKIOperation&message=%%%")
    assert response.status_code == 400


def test_chunked_post_body_is_read():
    payload = b"x" * 5000
    request = RequestFactory().generic("POST", "/", data=b"",
                                       HTTP_TRANSFER_ENCODING="chunked")
    request.META.pop("CONTENT_LENGTH", None)
    request.META["wsgi.input"] = io.BytesIO(payload)
    assert read_body(request, 10_000) == payload
    request.META["wsgi.input"] = io.BytesIO(payload)
    assert read_body(request, 100) is None


def test_oversized_post_is_413(client, tenant):
    response = client.post(f"/t/{tenant.slug}/scep?operation=PKIOperation",
                           data=b"\x00" * (300 * 1024), content_type="application/x-pki-message")
    assert response.status_code == 413


def test_make_csr_helper_sanity():
    assert make_csr(new_key(), "x", "y").is_signature_valid


def test_serial_collision_issues_again_under_a_new_serial(client, tenant, admin, monkeypatch):
    from enrollment.scep import depot

    first = pkcs_req(tenant, do_create_challenge(tenant, actor=admin).raw)
    taken = int(decode(post(client, tenant, first), first, tenant).certificate.serial_number)
    serials = iter([taken, taken, taken + 1])
    monkeypatch.setattr(depot, "random_serial", lambda: next(serials))
    minted = do_create_challenge(tenant, actor=admin)
    request = pkcs_req(tenant, minted.raw)
    reply = decode(post(client, tenant, request), request, tenant)
    assert reply.status is PKIStatus.SUCCESS
    assert reply.certificate.serial_number == taken + 1
    issued = IssuedCertificate.objects.get(serial_hex=f"{taken + 1:040x}")
    assert issued.challenge_id == minted.challenge.pk  # consumed once, by the stored one
    assert IssuedCertificate.objects.filter(tenant=tenant).count() == 2
    assert AuditEvent.objects.filter(tenant=tenant, action="certificate.issued").count() == 2


def test_serial_collisions_without_end_fail_cleanly(client, tenant, admin, monkeypatch):
    from enrollment.scep import depot

    first = pkcs_req(tenant, do_create_challenge(tenant, actor=admin).raw)
    taken = int(decode(post(client, tenant, first), first, tenant).certificate.serial_number)
    monkeypatch.setattr(depot, "random_serial", lambda: taken)
    minted = do_create_challenge(tenant, actor=admin)
    request = pkcs_req(tenant, minted.raw)
    reply = decode(post(client, tenant, request), request, tenant)
    assert (reply.status, reply.fail_info) == (PKIStatus.FAILURE, FailInfo.BAD_REQUEST)
    assert rejections(tenant)[-1]["reason"] == "certificate could not be stored"
    assert IssuedCertificate.objects.filter(tenant=tenant).count() == 1
    assert Challenge.objects.get(pk=minted.challenge.pk).used_at is None  # rolled back


def test_issuance_writes_certificate_registration_step_and_audit_together(client, tenant,
                                                                         admin):
    """On PostgreSQL all of it is one statement (CTEs); each row must still be right."""
    from enrollment.models import Registration, RegistrationState
    from enrollment.services.registrations import do_claim_profile, do_start_registration

    started = do_start_registration(tenant, admin, "ios", "api", actor=admin)
    registration, minted = do_claim_profile(tenant, started.profile_token)
    request = pkcs_req(tenant, minted.raw)
    assert decode(post(client, tenant, request), request, tenant).status is PKIStatus.SUCCESS
    issued = IssuedCertificate.objects.get(tenant=tenant)
    assert issued.challenge_id == minted.challenge.pk and issued.created_at is not None
    registration = Registration.objects.get(pk=registration.pk)
    assert registration.state == RegistrationState.CERTIFICATE_ISSUED
    assert registration.certificate_issued_at is not None
    audited = AuditEvent.objects.get(tenant=tenant, action="certificate.issued")
    assert (audited.target_type, audited.target_id, audited.target_label) == (
        "enrollment.issuedcertificate", str(issued.pk), str(issued))
    assert audited.actor_label == "scep" and audited.source_ip == "127.0.0.1"
    assert audited.detail == {"serial": issued.serial_hex, "subject": issued.subject,
                              "challenge_id": minted.challenge.pk,
                              "purpose": minted.challenge.purpose, "renewed_from": None}


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_a_collision_leaves_nothing_behind(client, tenant, admin,
                                                                 monkeypatch):
    """As in production (autocommit): one statement per attempt, no transaction block or
    savepoint; the colliding attempt writes nothing, the next one writes everything."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from enrollment.scep import depot

    first = pkcs_req(tenant, do_create_challenge(tenant, actor=admin).raw)
    taken = int(decode(post(client, tenant, first), first, tenant).certificate.serial_number)
    serials = iter([taken, taken + 1])
    monkeypatch.setattr(depot, "random_serial", lambda: next(serials))
    minted = do_create_challenge(tenant, actor=admin)
    request = pkcs_req(tenant, minted.raw)
    with CaptureQueriesContext(connection) as queries:
        reply = decode(post(client, tenant, request), request, tenant)
    assert reply.status is PKIStatus.SUCCESS
    assert reply.certificate.serial_number == taken + 1
    statements = [query["sql"] for query in queries]
    assert sum(sql.startswith("WITH authorized AS (UPDATE") for sql in statements) == 2
    assert not any("SAVEPOINT" in sql for sql in statements)
    issued = IssuedCertificate.objects.get(serial_hex=f"{taken + 1:040x}")
    assert issued.challenge_id == minted.challenge.pk
    assert list(AuditEvent.objects.filter(tenant=tenant, action="certificate.issued")
                .order_by("id").values_list("detail__challenge_id", flat=True))[-1] \
        == minted.challenge.pk
    assert IssuedCertificate.objects.filter(tenant=tenant).count() == 2


def _csr_der(key, subject: x509.Name, challenge: str, *, extensions=()) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import AttributeOID

    builder = (x509.CertificateSigningRequestBuilder().subject_name(subject)
               .add_attribute(AttributeOID.CHALLENGE_PASSWORD, challenge.encode()))
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(Encoding.DER)


def _request_for_csr(tenant, key, csr_der: bytes):
    signer = make_signer("dev", key)
    transaction_id, nonce = "hostile-1", b"n" * 16
    message = sign_pki_message(
        envelope.encrypt_for(tenant_ca_cert(tenant), csr_der), message_type=MessageType.PKCS_REQ,
        transaction_id=transaction_id, sender_nonce=nonce, signer_key=key,
        signer_cert=signer.cert)
    return ScepRequest(message, transaction_id, nonce, signer, None)


def test_csr_with_a_repeated_extension_is_refused_not_a_500(client, tenant, challenge):
    """cryptography reads extensions lazily and raises DuplicateExtension, not a ValueError."""
    key = new_key()
    csr_der = _csr_der(key, x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dev")]),
                       challenge.raw, extensions=[x509.BasicConstraints(ca=False,
                                                                        path_length=None)])
    request = _request_for_csr(tenant, key, with_duplicate_extension(csr_der, key))
    reply = decode(post(client, tenant, request), request, tenant)
    assert (reply.status, reply.fail_info) == (PKIStatus.FAILURE, FailInfo.BAD_REQUEST)
    assert rejections(tenant)[-1]["reason"].startswith("malformed CSR")
    assert not IssuedCertificate.objects.exists()
    challenge.challenge.refresh_from_db()
    assert challenge.challenge.used_at is None


@pytest.mark.parametrize(("subject", "reason"), [
    ([(NameOID.EMAIL_ADDRESS, "x@acme.test")], "CSR subject has none of C, L, ST, O, OU, CN"),
    ([(NameOID.SERIAL_NUMBER, "42"), (NameOID.USER_ID, "u")],
     "CSR subject has none of C, L, ST, O, OU, CN"),
    ([(NameOID.COMMON_NAME, "d" * 65)], "CSR subject attribute too long"),
    ([(NameOID.COMMON_NAME, "dev"), (NameOID.ORGANIZATION_NAME, "o" * 65)],
     "CSR subject attribute too long"),
])
def test_csr_subject_a_certificate_cannot_carry_is_refused(client, tenant, challenge, subject,
                                                           reason):
    """The subject is checked as the certificate will carry it (Apple's six attributes, RFC 5280
    lengths): refused before the challenge is spent, not issued with an empty subject."""
    key = new_key()
    name = x509.Name([x509.NameAttribute(oid, value, _validate=False) for oid, value in subject])
    request = _request_for_csr(tenant, key, _csr_der(key, name, challenge.raw))
    reply = decode(post(client, tenant, request), request, tenant)
    assert (reply.status, reply.fail_info) == (PKIStatus.FAILURE, FailInfo.BAD_REQUEST)
    assert rejections(tenant)[-1]["reason"] == reason
    assert not IssuedCertificate.objects.exists()
    challenge.challenge.refresh_from_db()
    assert challenge.challenge.used_at is None


def _cert_poll(tenant, signer: Identity, transaction_id: str, *, with_envelope: bool = True):
    ca = tenant_ca_cert(tenant)
    # IssuerAndSubject (RFC 8894 section 3.3.3), enveloped for the CA.
    issuer_and_subject = der.sequence(ca.subject.public_bytes(),
                                      signer.cert.subject.public_bytes())
    content = envelope.encrypt_for(ca, issuer_and_subject, "des3") if with_envelope else None
    nonce = b"p" * 16
    message = sign_pki_message(content, message_type=MessageType.CERT_POLL,
                               transaction_id=transaction_id, sender_nonce=nonce,
                               signer_key=signer.key, signer_cert=signer.cert)
    return ScepRequest(message, transaction_id, nonce, signer, None)


def test_cert_poll_returns_the_certificate_only_to_its_key(client, tenant, challenge):
    """A client that lost our CertRep polls with the same key and gets its certificate; a poll
    for that transaction signed by another key gets badCertID; a poll without its envelope
    gets a signed FAILURE (audited), not a plain 400."""
    request = pkcs_req(tenant, challenge.raw, cipher="des3")
    issued = decode(post(client, tenant, request), request, tenant).certificate
    poll = _cert_poll(tenant, request.signer, request.transaction_id)
    reply = decode(post(client, tenant, poll), poll, tenant)
    assert reply.status is PKIStatus.SUCCESS and reply.certificate == issued

    stranger = _cert_poll(tenant, make_signer("stranger", new_key()), request.transaction_id)
    reply = decode(post(client, tenant, stranger), stranger, tenant)
    assert (reply.status, reply.fail_info) == (PKIStatus.FAILURE, FailInfo.BAD_CERT_ID)
    assert rejections(tenant)[-1]["reason"] == "poll signed by another key than the certificate's"

    bare = _cert_poll(tenant, request.signer, request.transaction_id, with_envelope=False)
    reply = decode(post(client, tenant, bare), bare, tenant)
    assert (reply.status, reply.fail_info) == (PKIStatus.FAILURE, FailInfo.BAD_REQUEST)
    assert "EnvelopedData" in rejections(tenant)[-1]["reason"]
    assert IssuedCertificate.objects.filter(tenant=tenant).count() == 1
