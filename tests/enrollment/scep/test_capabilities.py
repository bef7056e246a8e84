"""GetCACaps text and GetCACert bodies."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

from enrollment.scep import capabilities
from tests.base.scep.client import micromdm_ca, shared_ca


def test_ca_caps() -> None:
    lines = capabilities.get_ca_caps().split("\n")
    assert lines == ["POSTPKIOperation", "SHA-1", "SHA-256", "SHA-512", "AES", "DES3",
                     "SCEPStandard", "Renewal"]  # fmt: skip


def test_single_ca_certificate_is_plain_der() -> None:
    ca = shared_ca()
    content_type, body = capabilities.get_ca_cert_response([ca.cert])
    assert content_type == "application/x-x509-ca-cert"
    assert x509.load_der_x509_certificate(body) == ca.cert
    assert body == ca.cert.public_bytes(Encoding.DER)


def test_chain_is_degenerate_pkcs7() -> None:
    chain = [shared_ca().cert, micromdm_ca().cert]
    content_type, body = capabilities.get_ca_cert_response(chain)
    assert content_type == "application/x-x509-ca-ra-cert"
    assert pkcs7.load_der_pkcs7_certificates(body) == chain
