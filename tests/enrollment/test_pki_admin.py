"""Tenant CA and issued certificates in the admin portal and the API."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from django.core.files.uploadedfile import SimpleUploadedFile

from audit.models import AuditEvent
from core.encryption import encrypt
from enrollment.models import CertificateAuthority, Challenge, IssuedCertificate
from enrollment.services.authorities import active_authority, key_pair
from enrollment.services.challenges import do_create_challenge
from pki.authority import generate_ca
from tests.base.api import APIViewTestCases
from tests.base.scep.client import make_ca, make_intermediate_ca, with_duplicate_extension
from tests.base.tenancy import TenantIsolationContract
from tests.enrollment.scep.helpers import decode, load_certificates, pkcs_req, post


def _issue(client, tenant, admin, cn="device"):
    minted = do_create_challenge(tenant, actor=admin)
    request = pkcs_req(tenant, minted.raw, cn=cn)
    decode(post(client, tenant, request), request, tenant)
    return IssuedCertificate.objects.filter(tenant=tenant).latest("created_at")


def test_new_tenant_has_a_generated_ca_with_encrypted_key(tenant):
    ca = active_authority(tenant)
    assert ca.source == "generated" and "Acme MDM CA" in ca.subject
    der = bytes(ca.private_key_encrypted)
    plain = key_pair(ca).key.private_bytes(serialization.Encoding.DER,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption())
    assert plain not in der and plain[:64] not in der
    cert = x509.load_der_x509_certificate(bytes(ca.certificate_der))
    years = (cert.not_valid_after_utc - cert.not_valid_before_utc).days / 365
    assert 9.9 < years < 10.1
    assert AuditEvent.objects.filter(tenant=tenant, action="ca.created").exists()


def test_ca_page_shows_fingerprint_and_downloads(portal, tenant):
    ca = active_authority(tenant)
    html = portal.get(f"/t/{tenant.slug}/admin/settings/ca/").content.decode()
    assert ca.fingerprint_sha256 in html and f"/t/{tenant.slug}/scep" in html
    response = portal.get(f"/t/{tenant.slug}/admin/settings/ca/{ca.pk}/certificate.pem")
    assert x509.load_pem_x509_certificate(response.content).fingerprint is not None


def test_generate_new_ca_from_portal(portal, tenant):
    old = active_authority(tenant)
    response = portal.post(f"/t/{tenant.slug}/admin/settings/ca/", {
        "action": "generate", "common_name": "Acme Devices CA", "organization": "Acme",
        "years": 5})
    assert response.status_code == 302
    new = active_authority(tenant)
    assert new.pk != old.pk and "Acme Devices CA" in new.subject
    old.refresh_from_db()
    assert not old.is_active


def test_import_pem_and_pkcs12(portal, tenant):
    pair = generate_ca("Imported CA", "Acme")
    key_pem = pair.key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.BestAvailableEncryption(b"pw"))
    cert_pem = pair.certificate.public_bytes(serialization.Encoding.PEM)
    response = portal.post(f"/t/{tenant.slug}/admin/settings/ca/", {
        "action": "import", "password": "pw",
        "private_key": SimpleUploadedFile("k.pem", key_pem),
        "certificate": SimpleUploadedFile("c.pem", cert_pem)})
    assert response.status_code == 302
    assert active_authority(tenant).subject.startswith("CN=Imported CA")
    bundle = pkcs12.serialize_key_and_certificates(
        b"x", pair.key, pair.certificate, None, serialization.BestAvailableEncryption(b"p12"))
    response = portal.post(f"/t/{tenant.slug}/admin/settings/ca/", {
        "action": "import", "password": "wrong", "pkcs12": SimpleUploadedFile("b.p12", bundle)})
    assert response.status_code == 400
    assert "password is wrong" in response.content.decode()


@pytest.mark.parametrize(("files", "message"), [
    ({}, "Upload a PKCS#12 bundle"),
    ({"private_key": b"nope", "certificate": b"nope"}, "not a valid PEM key"),
])
def test_import_rejects_bad_files(portal, tenant, files, message):
    data = {"action": "import", **{k: SimpleUploadedFile(k, v) for k, v in files.items()}}
    response = portal.post(f"/t/{tenant.slug}/admin/settings/ca/", data)
    assert response.status_code == 400 and message in response.content.decode()


def test_import_rejects_non_ca_certificate_and_mismatched_key(api):
    leaf = make_ca("x")  # a CA, but pair its cert with another key
    other = generate_ca("y", "y")
    response = api.post("/api/v1/certificate-authorities/import/", {
        "private_key_pem": other.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode(),
        "certificate_pem": leaf.cert.public_bytes(serialization.Encoding.PEM).decode()},
        format="json")
    assert response.status_code == 400
    assert "does not match" in response.json()["error"]["message"]


def test_api_ca_list_generate_import(api, tenant):
    listed = api.get("/api/v1/certificate-authorities/").json()["results"]
    assert listed[0]["certificate_pem"].startswith("-----BEGIN CERTIFICATE-----")
    assert "private" not in str(listed)
    created = api.post("/api/v1/certificate-authorities/generate/",
                       {"common_name": "API CA", "years": 2}, format="json")
    assert created.status_code == 201 and created.json()["is_active"]
    pair = generate_ca("P12 CA", "Acme")
    bundle = pkcs12.serialize_key_and_certificates(
        b"x", pair.key, pair.certificate, None, serialization.BestAvailableEncryption(b"pw"))
    response = api.post("/api/v1/certificate-authorities/import/", {
        "pkcs12_base64": base64.b64encode(bundle).decode(), "password": "pw"}, format="json")
    assert response.status_code == 201
    assert response.json()["subject"].startswith("CN=P12 CA")
    assert CertificateAuthority.objects.filter(tenant=tenant, is_active=True).count() == 1
    bad = api.post("/api/v1/certificate-authorities/import/", {"pkcs12_base64": "@@"},
                   format="json")
    assert bad.status_code == 400


def test_api_generate_rejects_long_names(api):
    response = api.post("/api/v1/certificate-authorities/generate/",
                        {"common_name": "é" * 40}, format="json")
    assert response.status_code == 400


class TestScepChallengeAPI(APIViewTestCases.GetObjectViewTestCase,
                           APIViewTestCases.ListObjectsViewTestCase,
                           APIViewTestCases.CreateObjectViewTestCase):
    url = "/api/v1/scep-challenges/"
    model = Challenge
    list_fields = ["id", "purpose", "created_at", "expires_at", "used_at"]
    create_data = [{"purpose": "lab", "ttl_minutes": 5}, {}, {"purpose": "kiosk"}]
    bad_data = [
        ({"ttl_minutes": 0}, "ttl_minutes"),
        ({"ttl_minutes": 24 * 60 + 1}, "ttl_minutes"),
        ({"ttl_minutes": "soon"}, "ttl_minutes"),
        ({"purpose": "x" * 101}, "purpose"),
    ]
    list_max_queries = 6

    def make_object(self, tenant, admin, index):
        return do_create_challenge(tenant, actor=admin, purpose=f"challenge {index}").challenge

    def test_api_mint_challenge_shows_value_once(self, api, tenant):
        response = api.post("/api/v1/scep-challenges/", {"purpose": "lab", "ttl_minutes": 5},
                            format="json")
        assert response.status_code == 201
        body = response.json()
        assert body["challenge"] and body["scep_url"].endswith(f"/t/{tenant.slug}/scep")
        detail = api.get(f"/api/v1/scep-challenges/{body['id']}/").json()
        assert "challenge" not in detail and detail["used_at"] is None
        assert api.post("/api/v1/scep-challenges/", {"ttl_minutes": 0}, format="json"
                        ).status_code == 400


def test_certificates_list_revoke_portal_and_api(portal, api, client, tenant, admin,
                                                 django_assert_max_num_queries):
    for index in range(5):
        _issue(client, tenant, admin, cn=f"device-{index}")
    with django_assert_max_num_queries(8):
        response = portal.get(f"/t/{tenant.slug}/admin/certificates/")
    assert response.content.decode().count("device-") >= 5
    target = IssuedCertificate.objects.get(tenant=tenant, common_name="device-3")
    response = portal.post(f"/t/{tenant.slug}/admin/certificates/{target.pk}/revoke/",
                           {"reason": "key_compromise"})
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.revoked_at and target.revocation_reason == "key_compromise"
    page = api.get("/api/v1/certificates/", {"revoked": "true"}).json()
    assert [row["id"] for row in page["results"]] == [target.pk]
    other = IssuedCertificate.objects.get(tenant=tenant, common_name="device-1")
    response = api.post(f"/api/v1/certificates/{other.pk}/revoke/", {"reason": "superseded"},
                        format="json")
    assert response.status_code == 200 and response.json()["revoked_at"]
    assert api.post(f"/api/v1/certificates/{other.pk}/revoke/", {"reason": "nope"},
                    format="json").status_code == 400
    assert AuditEvent.objects.filter(tenant=tenant, action="certificate.revoked").count() == 2


class TestCertificateIsolation(TenantIsolationContract):
    api_list_url = "/api/v1/certificates/"
    api_detail_url = "/api/v1/certificates/{pk}/"
    portal_list_url = "/t/{slug}/admin/certificates/"

    def make_object(self, tenant, admin):
        from django.test import Client

        return _issue(Client(), tenant, admin, cn="globex-secret-device")

    def object_marker(self, obj):
        return "globex-secret-device"

    def test_foreign_certificate_cannot_be_revoked(self, api, portal, tenant, foreign_object):
        assert api.post(f"/api/v1/certificates/{foreign_object.pk}/revoke/").status_code == 404
        url = f"/t/{tenant.slug}/admin/certificates/{foreign_object.pk}/revoke/"
        assert portal.post(url, {"reason": "unspecified"}).status_code == 404
        foreign_object.refresh_from_db()
        assert foreign_object.revoked_at is None


class TestCAIsolation(TenantIsolationContract):
    api_list_url = "/api/v1/certificate-authorities/"
    api_detail_url = "/api/v1/certificate-authorities/{pk}/"
    portal_detail_urls = ("/t/{slug}/admin/settings/ca/{pk}/certificate.pem",)
    portal_list_url = "/t/{slug}/admin/settings/ca/"

    def make_object(self, tenant, admin):
        return active_authority(tenant)

    def object_marker(self, obj):
        return obj.fingerprint_sha256


def _pem_pair(key, certificate: bytes | x509.Certificate) -> dict:
    der = certificate if isinstance(certificate, bytes) else certificate.public_bytes(
        serialization.Encoding.DER)
    return {"private_key_pem": key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode(),
        "certificate_pem": x509.load_der_x509_certificate(der).public_bytes(
            serialization.Encoding.PEM).decode()}


def _ca_certificate(key, *, starts: dt.timedelta = -dt.timedelta(minutes=5),
                    key_cert_sign: bool = True, days: int = 365,
                    path_length: int | None = 0) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Odd CA")])
    now = dt.datetime.now(dt.UTC)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now + starts).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length),
                           critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=key_cert_sign,
                crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))


def test_import_refuses_what_cannot_serve_as_a_ca_with_a_400(api, portal, tenant):
    """Malformed extensions, an unsupported key, a CA not valid yet or one that may not sign
    certificates: a clear 400 from the API and the portal, never a 500, nothing stored."""
    pair = generate_ca("Doubled CA", "Acme")
    doubled = with_duplicate_extension(
        pair.certificate.public_bytes(serialization.Encoding.DER), pair.key)
    # A PKCS#8 key whose algorithm OID no library knows (1.2.3.4).
    unknown_key = ("-----BEGIN PRIVATE KEY-----\n"
                   + base64.b64encode(bytes.fromhex("301a020100300506032a0304040e300c02010102"
                                                    "0101020101020101")).decode()
                   + "\n-----END PRIVATE KEY-----\n")
    cases = [
        (_pem_pair(pair.key, doubled), "malformed extension"),
        ({**_pem_pair(pair.key, pair.certificate), "private_key_pem": unknown_key},
         "not supported"),
        (_pem_pair(pair.key, _ca_certificate(pair.key, starts=dt.timedelta(days=2))),
         "not valid before"),
        (_pem_pair(pair.key, _ca_certificate(pair.key, key_cert_sign=False)), "keyCertSign"),
        ({**_pem_pair(pair.key, pair.certificate), "password": "needless"},
         "not encrypted: leave the password empty"),
    ]
    before = CertificateAuthority.objects.filter(tenant=tenant).count()
    for body, message in cases:
        response = api.post("/api/v1/certificate-authorities/import/", body, format="json")
        assert response.status_code == 400, (message, response.content[:300])
        assert message in response.json()["error"]["message"]
        page = portal.post(f"/t/{tenant.slug}/admin/settings/ca/", {
            "action": "import", "password": body.get("password", ""),
            "private_key": SimpleUploadedFile("k.pem", body["private_key_pem"].encode()),
            "certificate": SimpleUploadedFile("c.pem", body["certificate_pem"].encode())})
        assert page.status_code == 400 and message in page.content.decode()
    bundle = pkcs12.serialize_key_and_certificates(
        b"x", pair.key, x509.load_der_x509_certificate(doubled), None,
        serialization.BestAvailableEncryption(b"pw"))
    response = api.post("/api/v1/certificate-authorities/import/", {
        "pkcs12_base64": base64.b64encode(bundle).decode(), "password": "pw"}, format="json")
    assert response.status_code == 400
    assert "malformed extension" in response.json()["error"]["message"]
    assert CertificateAuthority.objects.filter(tenant=tenant).count() == before


def test_certificate_filters_refuse_values_they_cannot_mean(api, portal, tenant):
    """An id beyond a bigint or a boolean that is neither true nor false: 400 in the API,
    the unfiltered page with the field's error in the portal; never a 500."""
    for query in ({"device": "99999999999999999999"}, {"device": "1.5"},
                  {"revoked": "maybe"}):
        response = api.get("/api/v1/certificates/", query)
        assert response.status_code == 400, (query, response.content[:200])
        page = portal.get(f"/t/{tenant.slug}/admin/certificates/", query)
        assert page.status_code == 200
    assert api.get("/api/v1/certificates/", {"revoked": "false"}).status_code == 200
    assert api.get("/api/v1/certificate-authorities/", {"is_active": "maybe"}).status_code == 400
    active = api.get("/api/v1/certificate-authorities/", {"is_active": "true"}).json()
    assert [row["is_active"] for row in active["results"]] == [True]
    assert api.get("/api/v1/certificates/", {"device": str(2**63 - 1)}).status_code == 200


def _import_intermediate(api, intermediate, *chain) -> dict:
    pem = serialization.Encoding.PEM
    response = api.post("/api/v1/certificate-authorities/import/", {
        "private_key_pem": intermediate.key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode(),
        # The chain first: the certificate for the key is found wherever it stands.
        "certificate_pem": "".join(cert.public_bytes(pem).decode()
                                   for cert in [*chain, intermediate.cert])}, format="json")
    assert response.status_code == 201, response.content[:300]
    return response.json()


def test_intermediate_ca_is_imported_with_its_chain_and_serves_it(api, portal, client, tenant,
                                                                   admin):
    """An enterprise-issued SCEP CA: GetCACert answers the CA and its chain
    (application/x-x509-ca-ra-cert), the CertRep carries the whole path after the certificate, the
    API and the portal show it, the audit event names it."""
    root = make_ca("Acme Root", path_length=None)
    intermediate = make_intermediate_ca(root, "Acme Devices Intermediate")
    body = _import_intermediate(api, intermediate, root.cert)
    assert body["subject"] == "CN=Acme Devices Intermediate"
    assert [c for c in x509.load_pem_x509_certificates(body["chain_pem"].encode())] == [root.cert]

    response = client.get(f"/t/{tenant.slug}/scep?operation=GetCACert")
    assert response["Content-Type"] == "application/x-x509-ca-ra-cert"
    *served, ra = load_certificates(response.content)
    assert served == [intermediate.cert, root.cert]
    ra.verify_directly_issued_by(intermediate.cert)  # the RA, last, issued by the CA
    assert ra.not_valid_after_utc <= min(intermediate.cert.not_valid_after_utc,
                                         root.cert.not_valid_after_utc)

    challenge = do_create_challenge(tenant, actor=admin)
    request = pkcs_req(tenant, challenge.raw, ca_cert=intermediate.cert)
    reply = decode(post(client, tenant, request), request, tenant)
    assert reply.certificates[1:] == [intermediate.cert, root.cert]
    reply.certificate.verify_directly_issued_by(intermediate.cert)

    page = portal.get(f"/t/{tenant.slug}/admin/settings/ca/").content.decode()
    assert "Issued by" in page and "CN=Acme Root" in page
    download = portal.get(f"/t/{tenant.slug}/admin/settings/ca/{body['id']}/certificate.pem")
    assert x509.load_pem_x509_certificates(download.content) == [intermediate.cert, root.cert]
    event = AuditEvent.objects.filter(tenant=tenant, action="ca.imported").latest("pk")
    assert event.detail["chain"] == ["CN=Acme Root"]


def test_pkcs12_chain_is_ordered_and_a_stranger_refused(api, tenant):
    """PKCS#12 extra certificates come in any order; one that is not above the CA is an
    error, not silently served."""
    root = make_ca("Deep Root", path_length=None)
    middle = make_intermediate_ca(root, "Middle CA", path_length=1)
    issuing = make_intermediate_ca(middle, "Issuing CA")
    bundle = pkcs12.serialize_key_and_certificates(
        b"x", issuing.key, issuing.cert, [root.cert, middle.cert],
        serialization.BestAvailableEncryption(b"pw"))
    response = api.post("/api/v1/certificate-authorities/import/", {
        "pkcs12_base64": base64.b64encode(bundle).decode(), "password": "pw"}, format="json")
    assert response.status_code == 201, response.content[:300]
    chain = x509.load_pem_x509_certificates(response.json()["chain_pem"].encode())
    assert chain == [middle.cert, root.cert]

    before = CertificateAuthority.objects.filter(tenant=tenant).count()
    stranger = make_ca("Stranger Root")
    response = api.post("/api/v1/certificate-authorities/import/", {
        "private_key_pem": issuing.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode(),
        "certificate_pem": "".join(c.public_bytes(serialization.Encoding.PEM).decode()
                                   for c in [issuing.cert, middle.cert, stranger.cert])},
        format="json")
    assert response.status_code == 400
    assert "CN=Stranger Root is not on the CA certificate's chain" in \
        response.json()["error"]["message"]
    assert CertificateAuthority.objects.filter(tenant=tenant).count() == before


def test_chain_whose_path_length_forbids_the_ca_is_refused(api, tenant):
    """A root limited to no CA below it cannot vouch for an imported intermediate: devices
    would reject every certificate, so the import says so at once."""
    root = make_ca("Narrow Root", path_length=0)
    intermediate = make_intermediate_ca(root, "Refused Intermediate")
    response = api.post("/api/v1/certificate-authorities/import/", {
        "private_key_pem": intermediate.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode(),
        "certificate_pem": "".join(c.public_bytes(serialization.Encoding.PEM).decode()
                                   for c in [intermediate.cert, root.cert])}, format="json")
    assert response.status_code == 400
    assert "allows 0 CA certificate(s) below it, not 1" in response.json()["error"]["message"]
    assert not CertificateAuthority.objects.filter(tenant=tenant,
                                                   subject__contains="Refused").exists()


def _import_pem(api, identity, *chain):
    return api.post("/api/v1/certificate-authorities/import/", {
        "private_key_pem": identity.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode(),
        "certificate_pem": "".join(c.public_bytes(serialization.Encoding.PEM).decode()
                                   for c in [identity.cert, *chain])}, format="json")


def test_chain_checks_key_usage_duplicates_and_caps_issued_validity(api, client, tenant,
                                                                    admin):
    """A chain certificate that may not sign certificates is refused; one listed twice is
    taken once; a certificate issued under a chain never outlives any certificate of it."""
    from tests.base.scep.client import Identity

    weak_key = generate_ca("unused", "x").key
    weak_root = Identity(weak_key, _ca_certificate(weak_key, key_cert_sign=False,
                                                   path_length=None))
    response = _import_pem(api, make_intermediate_ca(weak_root), weak_root.cert)
    assert response.status_code == 400
    assert "keyCertSign" in response.json()["error"]["message"]

    short_key = generate_ca("unused", "x").key
    short_root = Identity(short_key, _ca_certificate(short_key, days=30, path_length=None))
    issuing = make_intermediate_ca(short_root, "Long-lived issuing CA")  # valid 5 years
    response = _import_pem(api, issuing, short_root.cert, short_root.cert)
    assert response.status_code == 201, response.content[:300]
    assert x509.load_pem_x509_certificates(response.json()["chain_pem"].encode()) == [
        short_root.cert]
    challenge = do_create_challenge(tenant, actor=admin)
    request = pkcs_req(tenant, challenge.raw, ca_cert=issuing.cert)
    issued = decode(post(client, tenant, request), request, tenant).certificate
    assert issued.not_valid_after_utc == short_root.cert.not_valid_after_utc


def test_a_rotation_committed_elsewhere_is_served_at_once(client, tenant):
    """No process keeps the active CA in memory: a rotation by another process (no signal
    here, as with a second gunicorn worker) changes GetCACert on the very next request."""
    before = client.get(f"/t/{tenant.slug}/scep?operation=GetCACert").content
    pair = generate_ca("Rotated elsewhere", "Acme")
    CertificateAuthority.objects.filter(tenant=tenant).update(is_active=False)
    CertificateAuthority.objects.bulk_create([CertificateAuthority(
        tenant=tenant, subject="CN=Rotated elsewhere", certificate_der=pair.certificate_der,
        private_key_encrypted=encrypt(pair.key_der, CertificateAuthority.KEY_PURPOSE),
        fingerprint_sha256="0" * 64, not_before=pair.certificate.not_valid_before_utc,
        not_after=pair.certificate.not_valid_after_utc, source="generated")])
    after = client.get(f"/t/{tenant.slug}/scep?operation=GetCACert").content
    assert after != before and load_certificates(after)[0] == pair.certificate


@pytest.mark.django_db(transaction=True)
def test_concurrent_rotations_leave_one_active_ca_and_no_error(tenant, admin):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    from enrollment.services.authorities import do_generate_ca

    def rotate(index: int) -> int:
        try:
            return do_generate_ca(tenant, actor=admin, common_name=f"Race {index}", years=1).pk
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=4) as pool:
        created = list(pool.map(rotate, range(4)))
    assert len(set(created)) == 4
    assert CertificateAuthority.objects.filter(tenant=tenant, is_active=True).count() == 1


def test_revoking_a_certificate_someone_revoked_meanwhile_shows_that_revocation(
        api, client, tenant, admin):
    """The API read the certificate before another request revoked it: the answer shows the
    stored revocation (the first one), not a certificate that looks unrevoked."""
    from enrollment.services.certificates import do_revoke_certificate

    certificate = _issue(client, tenant, admin)
    stale = IssuedCertificate.objects.get(pk=certificate.pk)
    do_revoke_certificate(tenant, certificate, actor=admin, reason="key_compromise")
    assert not do_revoke_certificate(tenant, stale, actor=admin, reason="superseded")
    assert (stale.revoked_at, stale.revocation_reason) == (certificate.revoked_at,
                                                           "key_compromise")
    body = api.post(f"/api/v1/certificates/{certificate.pk}/revoke/",
                    {"reason": "superseded"}, format="json").json()
    assert body["revoked_at"] and body["revocation_reason"] == "key_compromise"


def test_ca_and_certificate_events_name_the_callers_address(api, portal, client, tenant,
                                                            admin):
    api.post("/api/v1/certificate-authorities/generate/", {"years": 1}, format="json")
    certificate = _issue(client, tenant, admin)
    api.post("/api/v1/scep-challenges/", {}, format="json")
    api.post(f"/api/v1/certificates/{certificate.pk}/revoke/", {"reason": "superseded"},
             format="json")
    for action in ("ca.created", "scep.challenge_created", "certificate.revoked"):
        event = AuditEvent.objects.filter(tenant=tenant, action=action).latest("pk")
        assert event.source_ip == "127.0.0.1", action
