"""Push certificates without a vendor detour: the push key and CSR made here, signed by an MDM
vendor certificate (the tenant's or the deployment's) into the file Apple's Push Certificates
Portal takes, checked with openssl; Apple's certificate matched back to its key; the vendor
certificate upload; the renewal guard on topic changes; portal, API, audit, tenant isolation."""

from __future__ import annotations

import base64
import datetime as dt
import plistlib
import re
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.models import AuditEvent
from core.config import ConfigError, load_config
from core.encryption import DecryptionError, decrypt
from devices.models import (
    ApnsCertificate,
    ApnsCertificateRequest,
    Device,
    MdmVendorCertificate,
)
from devices.push import certificate_request
from devices.push.apns import ApnsCertificateError
from devices.push.certificate_request import VendorCertificateError, load_vendor_certificate
from devices.push.credentials import (
    NoMatchingRequest,
    TopicChangeRequired,
    apple_device_count,
    do_create_apns_certificate_request,
    do_save_mdm_vendor_certificate,
    do_upload_apns_certificate,
)
from enrollment.services.apple_settings import apple_settings
from tests.base.push import make_devices
from tests.base.push.pki import TOPIC, make_vendor_pki

OTHER_TOPIC = "com.apple.mgmt.External.9f0c7d4e-1111-4c2b-8e3a-000000000002"


@pytest.fixture(scope="module")
def vendor():
    return make_vendor_pki()


def url(name, tenant, **kwargs):
    return reverse(f"portal:{name}", kwargs={"tenant_slug": tenant.slug, **kwargs})


def actions(tenant) -> list[str]:
    return list(AuditEvent.objects.filter(tenant=tenant).order_by("id")
                .values_list("action", flat=True))


def openssl(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True,
                          check=False)


def verify_with_openssl(content: bytes, folder: Path) -> dict:
    """Check a vendor-signed request independently of our code: the file is base64 of an XML
    plist; its CSR's self-signature verifies (`openssl req -verify`); PushCertSignature is the
    vendor key's RSA-SHA256 signature of the DER CSR (`openssl dgst -sha256 -verify` against
    the public key of the chain's first certificate); the chain is vendor, WWDR, root."""
    assert re.fullmatch(rb"[A-Za-z0-9+/]+=*", content), "one line of base64"
    document = base64.b64decode(content, validate=True)
    assert document.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist')
    body = plistlib.loads(document)
    assert list(body) == ["PushCertRequestCSR", "PushCertCertificateChain", "PushCertSignature"]
    (folder / "csr.der").write_bytes(base64.b64decode(body["PushCertRequestCSR"],
                                                      validate=True))
    (folder / "signature.bin").write_bytes(base64.b64decode(body["PushCertSignature"],
                                                            validate=True))
    chain = re.findall(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n",
                       body["PushCertCertificateChain"], re.DOTALL)
    assert "".join(chain) == body["PushCertCertificateChain"] and len(chain) == 3
    for name, pem in zip(("vendor.pem", "wwdr.pem", "root.pem"), chain, strict=True):
        (folder / name).write_text(pem)

    checked = openssl("req", "-inform", "DER", "-in", "csr.der", "-verify", "-noout", cwd=folder)
    assert checked.returncode == 0 and "verify OK" in checked.stdout + checked.stderr, checked
    public = openssl("x509", "-in", "vendor.pem", "-pubkey", "-noout", cwd=folder)
    assert public.returncode == 0, public
    (folder / "vendor-public.pem").write_text(public.stdout)
    checked = openssl("dgst", "-sha256", "-verify", "vendor-public.pem", "-signature",
                      "signature.bin", "csr.der", cwd=folder)
    assert checked.returncode == 0 and "Verified OK" in checked.stdout, checked
    checked = openssl("verify", "-CAfile", "root.pem", "-untrusted", "wwdr.pem", "vendor.pem",
                      cwd=folder)
    assert checked.returncode == 0, checked
    # The check is real: one flipped byte of the CSR and the signature no longer verifies.
    tampered = bytearray((folder / "csr.der").read_bytes())
    tampered[-1] ^= 1
    (folder / "tampered.der").write_bytes(bytes(tampered))
    assert openssl("dgst", "-sha256", "-verify", "vendor-public.pem", "-signature",
                   "signature.bin", "tampered.der", cwd=folder).returncode != 0
    return body


# --- the wire format, on its own ---------------------------------------------------------------

def test_signed_request_is_what_apple_takes(vendor, tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    csr_der = certificate_request.new_push_csr(key, common_name="Acme MDM push",
                                               email="it@acme.test")
    signer = load_vendor_certificate(vendor.certificate_pem + vendor.chain_pem,
                                     key_data=vendor.key_pem)
    body = verify_with_openssl(certificate_request.sign_push_request(csr_der, signer), tmp_path)
    assert base64.b64decode(body["PushCertRequestCSR"]) == csr_der
    assert body["PushCertCertificateChain"] == (vendor.certificate_pem + vendor.wwdr_pem
                                                + vendor.root_pem).decode()
    csr = x509.load_der_x509_csr(csr_der)
    assert csr.public_key().public_numbers() == key.public_key().public_numbers()
    assert csr.subject.get_attributes_for_oid(x509.NameOID.EMAIL_ADDRESS)[0].value \
        == "it@acme.test"


def test_vendor_certificate_is_read_from_every_shape(vendor):
    from_pem = load_vendor_certificate(vendor.certificate_pem + vendor.chain_pem + vendor.key_pem)
    from_p12 = load_vendor_certificate(vendor.p12(), password="secret")
    from_der = load_vendor_certificate(vendor.certificate_der, key_data=vendor.key_pem,
                                       chain_data=vendor.chain_der)
    # Any order in: always vendor, WWDR, root out.
    shuffled = load_vendor_certificate(vendor.root_pem + vendor.certificate_pem,
                                       key_data=vendor.key_pem, chain_data=vendor.wwdr_pem)
    expected = (vendor.certificate_pem + vendor.wwdr_pem + vendor.root_pem).decode()
    for loaded in (from_pem, from_p12, from_der, shuffled):
        assert loaded.chain_pem == expected
        assert loaded.subject == "CN=MDM Vendor: Example Corp,UID=TEAM123456"


@pytest.mark.parametrize(("files", "message"), [
    ({"data": "cert+chain"}, "private key is missing"),
    ({"data": "cert+chain", "key_data": "other key"}, "does not belong to the vendor"),
    ({"data": "cert", "key_data": "key"}, "chain stops at"),
    ({"data": "cert+chain+root again+stranger", "key_data": "key"}, "not on the vendor"),
    ({"data": "p12", "password": "wrong"}, "cannot be read"),
    ({"data": "garbage"}, "cannot be read"),
    ({"data": "csr", "key_data": "key"}, "No certificate found"),
    ({"data": "cert+chain", "key_data": "key", "chain_data": "garbage"}, "chain file holds no"),
])
def test_unusable_vendor_certificates_say_why(vendor, pki, files, message):
    stranger = pki.ca_file.read_bytes()
    blobs = {
        "cert+chain": vendor.certificate_pem + vendor.chain_pem,
        "cert": vendor.certificate_pem,
        "cert+chain+root again+stranger": (vendor.certificate_pem + vendor.chain_pem
                                           + vendor.root_pem + stranger),
        "key": vendor.key_pem, "other key": pki.push_key_pem, "p12": vendor.p12(),
        "garbage": b"\x00\x01 not a certificate",
        "csr": certificate_request.csr_pem(certificate_request.new_push_csr(
            vendor.key, common_name="x")).encode(),
    }
    kwargs = {name: (blobs[value] if name != "password" else value)
              for name, value in files.items()}
    with pytest.raises(VendorCertificateError, match=message):
        load_vendor_certificate(**kwargs)


def test_expired_vendor_certificate_is_refused():
    expired = make_vendor_pki(days=10, start_days_ago=20)
    with pytest.raises(VendorCertificateError, match="expired on"):
        load_vendor_certificate(expired.certificate_pem + expired.chain_pem,
                                key_data=expired.key_pem)


# --- services ----------------------------------------------------------------------------------

def test_request_without_vendor_keeps_an_encrypted_key_and_a_csr(tenant, admin):
    created = do_create_apns_certificate_request(tenant, actor=admin)
    assert created.signed_request == "" and created.signed_by == ""
    encrypted = bytes(created.private_key_encrypted)
    assert b"PRIVATE KEY" not in encrypted
    key = serialization.load_pem_private_key(
        decrypt(encrypted, ApnsCertificateRequest.KEY_PURPOSE), None)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    with pytest.raises(DecryptionError):  # its own purpose: not usable as another key
        decrypt(encrypted, ApnsCertificate.KEY_PURPOSE)
    csr = x509.load_pem_x509_csr(created.csr_pem.encode())
    assert csr.is_signature_valid
    assert certificate_request.public_key_sha256(csr.public_key()) \
        == certificate_request.public_key_sha256(key.public_key()) == created.public_key_sha256
    assert actions(tenant)[-1] == "push.apns_request_created"


def test_tenant_vendor_signs_and_apple_certificate_is_matched(tenant, admin, pki, vendor,
                                                               tmp_path):
    saved = do_save_mdm_vendor_certificate(tenant, vendor.p12(), password="secret",
                                           actor=admin)
    assert b"PRIVATE KEY" not in bytes(saved.private_key_encrypted)
    assert decrypt(bytes(saved.private_key_encrypted), MdmVendorCertificate.KEY_PURPOSE) \
        == vendor.key_pem
    created = do_create_apns_certificate_request(tenant, actor=admin)
    assert created.signed_by == "tenant" and "MDM Vendor: Example Corp" in created.vendor_subject
    body = verify_with_openssl(created.signed_request.encode(), tmp_path)
    assert x509.load_der_x509_csr(base64.b64decode(body["PushCertRequestCSR"])) \
        .public_bytes(serialization.Encoding.PEM).decode() == created.csr_pem

    issued = pki.issue_for_csr(created.csr_pem)
    certificate = do_upload_apns_certificate(tenant, issued, actor=admin)
    assert certificate.topic == TOPIC and apple_settings(tenant).push_topic == TOPIC
    assert certificate.certificate_pem.encode() == issued
    assert decrypt(bytes(certificate.private_key_encrypted), ApnsCertificate.KEY_PURPOSE) \
        == decrypt(bytes(created.private_key_encrypted), ApnsCertificateRequest.KEY_PURPOSE)
    created.refresh_from_db()
    assert created.matched_at is not None
    assert actions(tenant)[-4:] == ["push.apns_request_created", "apple.settings_saved",
                                    "push.apns_certificate_uploaded",
                                    "push.apns_certificate_matched"]
    matched = AuditEvent.objects.get(tenant=tenant, action="push.apns_certificate_matched")
    assert matched.detail["request_id"] == created.pk
    # A DER copy of the same certificate renews in place (same topic).
    der = x509.load_pem_x509_certificate(issued).public_bytes(serialization.Encoding.DER)
    assert do_upload_apns_certificate(tenant, der, actor=admin).pk == certificate.pk


def test_deployment_vendor_signs_when_the_tenant_has_none(tenant, other_tenant, admin, vendor,
                                                          settings, tmp_path):
    (tmp_path / "vendor.pem").write_bytes(vendor.certificate_pem + vendor.chain_pem)
    (tmp_path / "vendor.key").write_bytes(vendor.key_pem)
    settings.MDM_VENDOR_CERTIFICATE_FILE = tmp_path / "vendor.pem"
    settings.MDM_VENDOR_KEY_FILE = tmp_path / "vendor.key"
    created = do_create_apns_certificate_request(tenant, actor=admin)
    assert created.signed_by == "deployment"
    verify_with_openssl(created.signed_request.encode(), tmp_path)
    # The tenant's own vendor certificate comes first.
    own = make_vendor_pki(days=200)
    do_save_mdm_vendor_certificate(tenant, own.certificate_pem, key_data=own.key_pem,
                                   chain_data=own.chain_pem, actor=admin)
    assert do_create_apns_certificate_request(tenant, actor=admin).signed_by == "tenant"
    # A deployment file that no longer reads is named, and nothing is created.
    (tmp_path / "vendor.key").write_bytes(b"gone")
    with pytest.raises(VendorCertificateError, match="MDM_VENDOR_CERTIFICATE_FILE"):
        do_create_apns_certificate_request(other_tenant, actor="system")
    assert not ApnsCertificateRequest.objects.filter(tenant=other_tenant).exists()


def test_certificate_of_no_request_is_refused_audited_nothing_written(tenant, admin, pki):
    do_create_apns_certificate_request(tenant, actor=admin)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    csr = certificate_request.csr_pem(certificate_request.new_push_csr(stranger,
                                                                       common_name="x"))
    with pytest.raises(NoMatchingRequest, match="matches none of the push certificate"):
        do_upload_apns_certificate(tenant, pki.issue_for_csr(csr), actor=admin)
    assert not ApnsCertificate.objects.filter(tenant=tenant).exists()
    assert apple_settings(tenant).push_topic == ""
    refused = AuditEvent.objects.filter(tenant=tenant, action="push.apns_certificate_unmatched")
    assert refused.count() == 1
    assert refused.get().detail["public_key_sha256"] == certificate_request.public_key_sha256(
        stranger.public_key())
    assert ApnsCertificateRequest.objects.get(tenant=tenant).matched_at is None


def test_wrong_and_expired_files_are_refused(tenant, admin, pki, vendor):
    created = do_create_apns_certificate_request(tenant, actor=admin)
    expired = pki.issue_for_csr(created.csr_pem, days=5,
                                not_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=10))
    cases = [
        (expired, "has expired"),
        (created.csr_pem.encode(), "No certificate found"),
        (vendor.certificate_pem, "not an MDM push certificate"),
        (b"PD94bWwgdmVyc2lvbj0iMS4wIiBlbmNvZGluZz0iVVRGLTgiPz4K", "the push certificate "
                                                                    "request"),
        (b"\x00 not a file", "cannot be opened"),
    ]
    for data, message in cases:
        with pytest.raises(ApnsCertificateError, match=message):
            do_upload_apns_certificate(tenant, data, actor=admin)
    assert not ApnsCertificate.objects.filter(tenant=tenant).exists()
    assert "push.apns_certificate_unmatched" not in actions(tenant)


def test_topic_change_needs_confirmation_naming_the_apple_devices(tenant, other_tenant, admin,
                                                                  pki):
    first = do_upload_apns_certificate(tenant, pki.push_p12, password="secret", actor=admin)
    make_devices(tenant, 3)
    make_devices(other_tenant, 2)  # not acme's
    Device.objects.create(tenant=tenant, platform="android", state="active")
    Device.objects.create(tenant=tenant, platform="macos", state="retired", udid="GONE-1")
    Device.objects.create(tenant=tenant, platform="macos", state="pending", udid="MAC-1")
    with CaptureQueriesContext(connection) as queries:
        assert apple_device_count(tenant) == 4
    assert len(queries) == 1

    created = do_create_apns_certificate_request(tenant, actor=admin)
    issued = pki.issue_for_csr(created.csr_pem, topic=OTHER_TOPIC)
    with pytest.raises(TopicChangeRequired, match="all 4 Apple device") as refused:
        do_upload_apns_certificate(tenant, issued, actor=admin)
    assert (refused.value.current_topic, refused.value.new_topic) == (TOPIC, OTHER_TOPIC)
    first.refresh_from_db()
    assert first.topic == TOPIC and apple_settings(tenant).push_topic == TOPIC
    created.refresh_from_db()
    assert created.matched_at is None
    event = AuditEvent.objects.get(tenant=tenant, action="push.apns_topic_change_refused")
    assert event.detail == {"topic": OTHER_TOPIC, "previous_topic": TOPIC, "apple_devices": 4}
    # The other path (certificate with its key) is guarded too.
    cert, key = pki.push_certificate(topic=OTHER_TOPIC)
    with pytest.raises(TopicChangeRequired):
        do_upload_apns_certificate(tenant, cert + key, actor=admin)

    replaced = do_upload_apns_certificate(tenant, issued, actor=admin,
                                          confirm_topic_change=True)
    assert replaced.pk == first.pk and replaced.topic == OTHER_TOPIC
    assert apple_settings(tenant).push_topic == OTHER_TOPIC
    confirmed = AuditEvent.objects.get(tenant=tenant, action="push.apns_topic_change_confirmed")
    assert confirmed.detail["apple_devices"] == 4


def test_same_topic_renews_in_place_without_confirmation(tenant, admin, pki):
    first = do_upload_apns_certificate(tenant, pki.push_p12, password="secret", actor=admin)
    created = do_create_apns_certificate_request(tenant, actor=admin)
    renewed = do_upload_apns_certificate(tenant, pki.issue_for_csr(created.csr_pem),
                                         actor=admin)
    assert renewed.pk == first.pk and renewed.serial_number != first.serial_number
    assert ApnsCertificate.objects.filter(tenant=tenant).count() == 1
    assert "push.apns_topic_change_refused" not in actions(tenant)


def test_requests_and_keys_stay_in_their_tenant(tenant, other_tenant, admin, other_admin, pki):
    theirs = do_create_apns_certificate_request(tenant, actor=admin)
    ours = do_create_apns_certificate_request(other_tenant, actor=other_admin)
    assert theirs.public_key_sha256 != ours.public_key_sha256
    with pytest.raises(NoMatchingRequest):
        do_upload_apns_certificate(other_tenant, pki.issue_for_csr(theirs.csr_pem),
                                   actor=other_admin)
    assert not ApnsCertificate.objects.exists()
    theirs.refresh_from_db()
    assert theirs.matched_at is None
    assert AuditEvent.objects.filter(tenant=other_tenant,
                                     action="push.apns_certificate_unmatched").count() == 1
    assert not AuditEvent.objects.filter(tenant=tenant,
                                         action="push.apns_certificate_unmatched").exists()


# --- portal ------------------------------------------------------------------------------------

def test_portal_without_vendor_says_what_to_do(portal, tenant):
    page = portal.get(url("push-apns", tenant)).content.decode()
    assert "No MDM vendor certificate" in page and "mdmcert.download" in page
    assert "upload your MDM vendor certificate and its key below" in page
    assert "upload the .pem Apple gives back here" in page
    response = portal.post(url("push-apns-request", tenant), {"email": ""})
    assert response.status_code == 302
    created = ApnsCertificateRequest.objects.get(tenant=tenant)
    page = portal.get(url("push-apns", tenant)).content.decode()
    assert url("push-apns-request-csr", tenant, request_id=created.pk) in page
    assert url("push-apns-request-plist", tenant, request_id=created.pk) not in page
    assert portal.get(url("push-apns-request-plist", tenant,
                          request_id=created.pk)).status_code == 404
    csr = portal.get(url("push-apns-request-csr", tenant, request_id=created.pk))
    assert csr.status_code == 200 and csr.content.decode() == created.csr_pem
    assert 'filename="PushCertificateRequest.csr"' in csr["Content-Disposition"]


def test_portal_vendor_request_download_and_apple_pem(portal, tenant, pki, vendor, tmp_path):
    def post_vendor(**files):
        data = {name: SimpleUploadedFile(name, content) for name, content in files.items()
                if name != "vendor_password"}
        data["vendor_password"] = files.get("vendor_password", "")
        return portal.post(url("push-apns-vendor", tenant), data)

    bad = post_vendor(vendor_certificate=vendor.certificate_pem + vendor.chain_pem)
    assert bad.status_code == 400 and "private key is missing" in bad.content.decode()
    bad = post_vendor(vendor_certificate=vendor.certificate_pem + vendor.chain_pem,
                      vendor_key=pki.push_key_pem)
    assert bad.status_code == 400 and "does not belong to the vendor" in bad.content.decode()
    bad = post_vendor(vendor_certificate=vendor.certificate_pem, vendor_key=vendor.key_pem)
    assert bad.status_code == 400 and "WWDR" in bad.content.decode()
    assert not MdmVendorCertificate.objects.exists()
    assert "push.vendor_certificate_saved" not in actions(tenant)

    assert post_vendor(vendor_certificate=vendor.certificate_der, vendor_key=vendor.key_pem,
                       vendor_chain=vendor.chain_der).status_code == 302
    assert actions(tenant)[-1] == "push.vendor_certificate_saved"
    page = portal.get(url("push-apns", tenant)).content.decode()
    assert "Requests are signed with" in page and "your MDM vendor certificate" in page
    assert "No MDM vendor certificate" not in page

    assert portal.post(url("push-apns-request", tenant),
                       {"email": "it@acme.test"}).status_code == 302
    created = ApnsCertificateRequest.objects.get(tenant=tenant)
    download = portal.get(url("push-apns-request-plist", tenant, request_id=created.pk))
    assert download.status_code == 200
    assert download["Content-Disposition"] == 'attachment; filename="PushCertificateRequest.plist"'
    verify_with_openssl(download.content, tmp_path)

    issued = pki.issue_for_csr(created.csr_pem)
    response = portal.post(url("push-apns", tenant),
                           {"certificate": SimpleUploadedFile("MDM_Acme_Certificate.pem",
                                                              issued)})
    assert response.status_code == 302, response.content.decode()[:3000]
    assert ApnsCertificate.objects.get(tenant=tenant).topic == TOPIC
    page = portal.get(url("push-apns", tenant)).content.decode()
    assert TOPIC in page and "received" in page


def test_portal_upload_errors_and_topic_change_confirmation(portal, tenant, admin, pki):
    created = do_create_apns_certificate_request(tenant, actor=admin)
    stranger = pki.issue_for_csr(certificate_request.csr_pem(certificate_request.new_push_csr(
        rsa.generate_private_key(public_exponent=65537, key_size=2048), common_name="x")))
    bad = portal.post(url("push-apns", tenant),
                      {"certificate": SimpleUploadedFile("x.pem", stranger)})
    assert bad.status_code == 400 and "matches none of the push certificate requests" \
        in bad.content.decode()
    assert portal.post(url("push-apns", tenant), {}).status_code == 400

    do_upload_apns_certificate(tenant, pki.push_p12, password="secret", actor=admin)
    make_devices(tenant, 2)
    issued = pki.issue_for_csr(created.csr_pem, topic=OTHER_TOPIC)
    refused = portal.post(url("push-apns", tenant),
                          {"certificate": SimpleUploadedFile("new.pem", issued)})
    body = refused.content.decode()
    assert refused.status_code == 400
    assert "all 2 Apple devices will have to enroll again" in body
    assert 'name="confirm_topic_change"' in body
    assert "The certificate is kept in this form" in body
    assert ApnsCertificate.objects.get(tenant=tenant).topic == TOPIC
    kept = re.search(r'name="certificate_text" value="([^"]+)"', body).group(1)
    confirmed = portal.post(url("push-apns", tenant), {
        "certificate_text": kept.replace("&#x27;", "'"), "confirm_topic_change": "on"})
    assert confirmed.status_code == 302, confirmed.content.decode()[:3000]
    assert ApnsCertificate.objects.get(tenant=tenant).topic == OTHER_TOPIC


def test_portal_downloads_are_tenant_scoped(client, tenant, other_tenant, admin, other_admin):
    created = do_create_apns_certificate_request(tenant, actor=admin)
    client.force_login(other_admin, backend="users.auth.TenantEmailBackend")
    assert client.get(url("push-apns-request-csr", other_tenant,
                          request_id=created.pk)).status_code == 404
    assert client.get(url("push-apns-request-csr", tenant,
                          request_id=created.pk)).status_code == 302  # to acme's login
    assert created.csr_pem not in client.get(url("push-apns", other_tenant)).content.decode()


# --- API ---------------------------------------------------------------------------------------

def test_api_vendor_request_and_apple_certificate(api, other_api, tenant, pki, vendor, tmp_path):
    assert api.get("/api/v1/mdm-vendor-certificate/current/").status_code == 404
    bad = api.put("/api/v1/mdm-vendor-certificate/current/",
                  {"certificate": (vendor.certificate_pem + vendor.chain_pem).decode()},
                  format="json")
    assert bad.status_code == 400 and "private key is missing" in bad.json()["error"]["message"]
    bad = api.put("/api/v1/mdm-vendor-certificate/current/",
                  {"certificate": base64.b64encode(vendor.certificate_der).decode(),
                   "private_key": pki.push_key_pem.decode(),
                   "chain": base64.b64encode(vendor.chain_der).decode()}, format="json")
    assert bad.status_code == 400 and "does not belong" in bad.json()["error"]["message"]
    saved = api.put("/api/v1/mdm-vendor-certificate/current/",
                    {"certificate": base64.b64encode(vendor.p12()).decode(),
                     "password": "secret"}, format="json")
    assert saved.status_code == 200, saved.json()
    assert "Example Corp" in saved.json()["subject"] and "private_key" not in saved.json()
    assert other_api.get("/api/v1/mdm-vendor-certificate/current/").status_code == 404

    created = api.post("/api/v1/apns-certificate-requests/", {"email": "it@acme.test"},
                       format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["signed_by"] == "tenant"
    assert body["signed_request_filename"] == "PushCertificateRequest.plist"
    verify_with_openssl(body["signed_request"].encode(), tmp_path)
    assert api.get("/api/v1/apns-certificate-requests/").json()["count"] == 1
    assert api.get(f"/api/v1/apns-certificate-requests/{body['id']}/").json()["csr_pem"] \
        == body["csr_pem"]
    assert other_api.get("/api/v1/apns-certificate-requests/").json()["count"] == 0
    assert other_api.get(f"/api/v1/apns-certificate-requests/{body['id']}/").status_code == 404
    assert api.post("/api/v1/apns-certificate-requests/", {"email": "nope"},
                    format="json").status_code == 400

    issued = pki.issue_for_csr(body["csr_pem"]).decode()
    refused = other_api.put("/api/v1/apns-certificate/current/", {"certificate": issued},
                            format="json")  # another tenant's request: no key to match
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid"
    installed = api.put("/api/v1/apns-certificate/current/", {"certificate": issued},
                        format="json")
    assert installed.status_code == 200, installed.json()
    assert installed.json()["topic"] == TOPIC
    assert api.get(f"/api/v1/apns-certificate-requests/{body['id']}/").json()["matched_at"]


def test_api_topic_change_confirmation(api, tenant, admin, pki):
    do_upload_apns_certificate(tenant, pki.push_p12, password="secret", actor=admin)
    make_devices(tenant, 3)
    created = api.post("/api/v1/apns-certificate-requests/", {}, format="json").json()
    assert created["signed_request"] is None and created["signed_by"] is None
    issued = pki.issue_for_csr(created["csr_pem"], topic=OTHER_TOPIC).decode()
    refused = api.put("/api/v1/apns-certificate/current/", {"certificate": issued},
                      format="json")
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "confirmation_required" and "all 3 Apple device" in error["message"]
    assert error["confirmation"] == {"current_topic": TOPIC, "new_topic": OTHER_TOPIC,
                                     "apple_devices": 3}
    assert api.get("/api/v1/apns-certificate/current/").json()["topic"] == TOPIC
    confirmed = api.put("/api/v1/apns-certificate/current/",
                        {"certificate": issued, "confirm_topic_change": True}, format="json")
    assert confirmed.status_code == 200 and confirmed.json()["topic"] == OTHER_TOPIC


def test_api_schema_declares_the_endpoints_and_their_errors(api):
    schema = api.get("/api/schema/?format=json").json()
    paths = schema["paths"]
    assert set(paths["/api/v1/apns-certificate-requests/"]) >= {"get", "post"}
    assert "404" in paths["/api/v1/apns-certificate-requests/{id}/"]["get"]["responses"]
    assert {"200", "400"} <= set(paths["/api/v1/apns-certificate/current/"]["put"]["responses"])
    assert {"200", "400"} <= set(
        paths["/api/v1/mdm-vendor-certificate/current/"]["put"]["responses"])
    assert "201" in paths["/api/v1/apns-certificate-requests/"]["post"]["responses"]
    components = schema["components"]["schemas"]
    assert "confirmation" in components["ApnsUploadErrorBody"]["properties"]


# --- configuration -----------------------------------------------------------------------------

def test_deployment_vendor_settings(tmp_path):
    base = {"MDM_DATA_DIR": str(tmp_path)}
    assert load_config(base).vendor_certificate_file is None
    (tmp_path / "vendor.pem").write_text("x")
    (tmp_path / "vendor.key").write_text("x")
    config = load_config({**base, "MDM_VENDOR_CERTIFICATE_FILE": str(tmp_path / "vendor.pem"),
                          "MDM_VENDOR_KEY_FILE": str(tmp_path / "vendor.key"),
                          "MDM_VENDOR_KEY_PASSWORD": "pw"})
    assert (config.vendor_certificate_file, config.vendor_key_file, config.vendor_key_password) \
        == (tmp_path / "vendor.pem", tmp_path / "vendor.key", "pw")
    with pytest.raises(ConfigError, match="MDM_VENDOR_KEY_FILE is set without"):
        load_config({**base, "MDM_VENDOR_KEY_FILE": str(tmp_path / "vendor.key")})
    with pytest.raises(ConfigError, match="MDM_VENDOR_CERTIFICATE_FILE does not name a file"):
        load_config({**base, "MDM_VENDOR_CERTIFICATE_FILE": str(tmp_path / "missing.pem")})
