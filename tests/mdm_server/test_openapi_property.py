"""Property-based run of the whole OpenAPI schema with every schemathesis check on every
operation (as `schemathesis run --checks all`): no 5xx, every status, header and body as the
schema declares them, schema-valid requests accepted and schema-invalid ones refused. A few
examples per operation, positive and negative, with a fixed seed, so it fits CI and fails the
same way twice; it grows by itself as endpoints are added to the schema."""

import base64
import datetime as dt
import json
import plistlib

import pytest
import schemathesis
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from mdm_server.wsgi import application
from tests.base.push.pki import TOPIC, _cert, _pem_key, make_vendor_pki

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
EXAMPLES_PER_OPERATION = 6

# --- values for the schema's content formats (core.api.schema.CONTENT_FORMATS) ---------------
# JSON Schema cannot say what makes a key, a certificate, a plist or an LDAP filter valid; the
# schema names each such field's format and these strategies generate values the server takes.
# Every generated certificate (the MDM vendor's, a CA, a push certificate) is for one RSA key,
# the vendor's: whichever certificate and key fields the fuzzer puts in one body belong
# together. Keys and bundles are clear, so their password ("key-password") is empty.
VENDOR = make_vendor_pki()
KEY = VENDOR.key
KEY_PEMS = [VENDOR.key_pem.decode(), KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
    serialization.NoEncryption()).decode()]
_PEM = serialization.Encoding.PEM
CA = _cert(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Schemathesis CA")]), KEY, None,
           None, ca=True, days=3650)
PUSH = _cert(x509.Name([x509.NameAttribute(NameOID.USER_ID, TOPIC),  # one topic: no change
                        x509.NameAttribute(NameOID.COMMON_NAME, "APSP:schemathesis")]),
             KEY, CA, KEY, not_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
CA_PEM, PUSH_PEM = CA.public_bytes(_PEM).decode(), PUSH.public_bytes(_PEM).decode()


def _p12(certificate, chain=None) -> str:
    bundle = pkcs12.serialize_key_and_certificates(b"schemathesis", KEY, certificate, chain,
                                                   serialization.NoEncryption())
    return base64.b64encode(bundle).decode()


def _plist(value) -> str:
    return plistlib.dumps(value, fmt=plistlib.FMT_XML).decode()


WIFI = {"PayloadType": "com.apple.wifi.managed", "SSID_STR": "Office", "AutoJoin": True,
        "EncryptionType": "WPA2", "Password": "office-wifi-pass"}
RESTRICTIONS = {"PayloadType": "com.apple.applicationaccess", "allowCamera": False}
SERVICE_ACCOUNT = {"type": "service_account", "project_id": "mdm-test", "private_key_id": "k1",
                   "private_key": KEY_PEMS[0],
                   "client_email": "mdm@mdm-test.iam.gserviceaccount.com", "client_id": "1",
                   "token_uri": "https://oauth2.googleapis.com/token"}
CONTENT_FORMAT_VALUES = {
    "pem-private-key": KEY_PEMS,
    "pem-ca-certificate": [CA_PEM],
    "pem-certificate-chain": [VENDOR.chain_pem.decode()],
    "pkcs12-base64": [_p12(CA)],
    "key-password": [""],
    # with its key: Apple's certificate alone is for a request made here (no such state), a
    # .p12 cannot take the `private_key` the fuzzer may add
    "apns-certificate": [PUSH_PEM + key for key in KEY_PEMS],
    "mdm-vendor-certificate": [
        (VENDOR.certificate_pem + VENDOR.chain_pem + VENDOR.key_pem).decode(),
        _p12(x509.load_pem_x509_certificate(VENDOR.certificate_pem),
             x509.load_pem_x509_certificates(VENDOR.chain_pem))],
    "apple-p8-key": [_pem_key(ec.generate_private_key(ec.SECP256R1())).decode()],
    "plist-payloads": [_plist([WIFI]), _plist([WIFI, RESTRICTIONS, RESTRICTIONS]),
                       _plist({"PayloadType": "Configuration", "PayloadContent": [RESTRICTIONS]})],
    "ldap-url": ["ldap://ldap.example.com", "ldaps://ldap.example.com:636",
                 "ldap://192.0.2.10:389", "ldaps://dc1.corp.example.org"],
    "ldap-dn": ["dc=example,dc=com", "ou=People,dc=example,dc=com",
                "cn=mdm reader,ou=Services, dc=example, dc=org", r"uid=a\,b,dc=example,dc=com"],
    "ldap-filter": ["(objectClass=inetOrgPerson)", "(&(objectClass=person)(mail=*))",
                    "(|(ou=Staff)(!(ou=Contractors)))", "(cn=Jo*n)"],
    "password": ["Corr3ct-horse-battery", "vXq7!turbine-Lamp", "Quiet otter 58 rides"],
    "google-service-account-json": [json.dumps(SERVICE_ACCOUNT)],
    "dns-name": ["example.com", "Corp.Example.ORG", "mail.example.co.uk."],
}
for _name, _values in CONTENT_FORMAT_VALUES.items():
    schemathesis.openapi.format(_name, st.sampled_from(_values))


@pytest.fixture
def api_token(tenant, admin, other_tenant):
    from users.services.accounts import do_create_api_token

    # As Django's test client does: keep the test transaction's connection open across calls.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield do_create_api_token(tenant, "schemathesis", actor=admin).raw
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much, HealthCheck.data_too_large])
def test_every_answer_keeps_the_schema(case, api_token):
    case.call_and_validate(headers={"Authorization": f"Bearer {api_token}"})


def test_every_content_format_has_values():
    from core.api.schema import CONTENT_FORMATS

    assert set(CONTENT_FORMAT_VALUES) == set(CONTENT_FORMATS)
