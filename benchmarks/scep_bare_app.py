"""A reference point for `scep_enroll.py`, not a server: our SCEP protocol code alone under
gunicorn, with no Django, no database, no challenge and no policy. What it costs per issuance
is about the least this protocol code can cost under gunicorn; the real server's CPU is
compared with it and with the RSA floor.

    gunicorn benchmarks.scep_bare_app:application --preload   (one CA shared by all workers)
"""

from __future__ import annotations

from cryptography.hazmat.primitives.serialization import Encoding

from enrollment.pki.authority import generate_ca, random_serial
from enrollment.pki.issuance import issue_certificate
from enrollment.scep.capabilities import CA_CAPS_CONTENT_TYPE, CA_CERT_CONTENT_TYPE, get_ca_caps
from enrollment.scep.messages import build_cert_rep_success, decrypt_request, parse_pki_message
from enrollment.scep.transport import PKI_MESSAGE_CONTENT_TYPE

CA = generate_ca("Bare SCEP CA", "Benchmark")
CA_CERT_DER = CA.certificate.public_bytes(Encoding.DER)
CA_CAPS = get_ca_caps().encode()


def application(environ, start_response):
    operation = environ.get("QUERY_STRING", "")
    if "GetCACaps" in operation:
        content_type, body = CA_CAPS_CONTENT_TYPE, CA_CAPS
    elif "GetCACert" in operation:
        content_type, body = CA_CERT_CONTENT_TYPE, CA_CERT_DER
    else:
        message = parse_pki_message(environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"])))
        request = decrypt_request(message, CA.key, CA.certificate)
        certificate = issue_certificate(request.csr, CA, serial=random_serial(),
                                        validity_days=365)
        content_type = PKI_MESSAGE_CONTENT_TYPE
        body = build_cert_rep_success(message, certificate, CA.key, CA.certificate)
    start_response("200 OK", [("Content-Type", content_type)])
    return [body]
