"""Reference points for `scep_enroll.py`, not a server: what an enrollment costs gunicorn with
less and less of our code in it. ``SCEP_REFERENCE`` chooses how much a PKIOperation does:

- ``protocol`` (default): our SCEP protocol code alone (parse, decrypt, issue, CertRep), with
  no Django, no database, no challenge and no policy;
- ``rsa``: only the three RSA private-key operations an issuance cannot avoid (decrypt the
  content key with the RA's key, sign the certificate with the CA's, sign the CertRep with the
  RA's), answered with bytes no client accepts;
- ``http``: nothing, an empty answer: gunicorn's own cost of the three requests.

GetCACaps and GetCACert answer as the real server does in every mode, so a client always
sends its three requests.

    SCEP_REFERENCE=rsa gunicorn benchmarks.scep_bare_app:application --preload
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from enrollment.scep.capabilities import CA_CAPS_CONTENT_TYPE, get_ca_caps, get_ca_cert_response
from enrollment.scep.messages import build_cert_rep_success, decrypt_request, parse_pki_message
from enrollment.scep.transport import PKI_MESSAGE_CONTENT_TYPE
from pki.authority import generate_ca, random_serial
from pki.issuance import issue_certificate
from pki.registration_authority import issue_ra

REFERENCE = os.environ.get("SCEP_REFERENCE", "protocol")
CA = generate_ca("Bare SCEP CA", "Benchmark")
RA = issue_ra(CA)
CA_CERT_CONTENT_TYPE, CA_CERT_BODY = get_ca_cert_response([CA.certificate, RA.certificate])
CA_CAPS = get_ca_caps().encode()
WRAPPED_KEY = RA.key.public_key().encrypt(os.urandom(24), padding.PKCS1v15())


def protocol(body: bytes) -> bytes:
    message = parse_pki_message(body)
    request = decrypt_request(message, RA.key, RA.certificate,
                              also=[(CA.key, CA.certificate)])
    certificate = issue_certificate(request.csr, CA, serial=random_serial(), validity_days=365)
    return build_cert_rep_success(message, certificate, RA.key, RA.certificate)


def rsa_only(body: bytes) -> bytes:
    RA.key.decrypt(WRAPPED_KEY, padding.PKCS1v15())
    CA.key.sign(body, padding.PKCS1v15(), hashes.SHA256())
    return RA.key.sign(body[:64], padding.PKCS1v15(), hashes.SHA256())


PKI_OPERATION = {"protocol": protocol, "rsa": rsa_only, "http": lambda body: b""}[REFERENCE]


def application(environ, start_response):
    operation = environ.get("QUERY_STRING", "")
    if "GetCACaps" in operation:
        content_type, body = CA_CAPS_CONTENT_TYPE, CA_CAPS
    elif "GetCACert" in operation:
        content_type, body = CA_CERT_CONTENT_TYPE, CA_CERT_BODY
    else:
        content_type = PKI_MESSAGE_CONTENT_TYPE
        body = PKI_OPERATION(environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"])))
    start_response("200 OK", [("Content-Type", content_type)])
    return [body]
