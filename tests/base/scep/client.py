"""Test helpers around the SCEP client (`enrollment.scep.client`, re-exported here):
throwaway CAs and issued certificates, so tests need no committed keys, and the captured
micromdm fixtures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from enrollment.scep.client import (  # noqa: F401  (re-exported for the tests)
    CHALLENGE_TAGS,
    CertRepResult,
    Identity,
    ScepClientError,
    ScepRequest,
    _name,
    build_request,
    decode_cert_rep,
    make_csr,
    make_signer,
    new_key,
)
from pki import der
from tests.base import FIXTURES_DIR


def make_ca(cn: str = "Test SCEP CA", key: rsa.RSAPrivateKey | None = None,
            path_length: int | None = 0) -> Identity:
    key = key or new_key()
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return Identity(key, cert)






def issue_certificate(
    ca: Identity, csr: x509.CertificateSigningRequest, days: int = 365
) -> x509.Certificate:
    """A minimal client certificate for ``csr`` (tests only: no policy)."""
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(ca.cert.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
        .sign(ca.key, hashes.SHA256())
    )






FIXTURES = FIXTURES_DIR / "scep"


@cache
def micromdm_ca() -> Identity:
    """The test-only CA of the captured micromdm scepclient requests (tests/fixtures/scep)."""
    key = serialization.load_pem_private_key((FIXTURES / "ca.key.pem").read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    cert = x509.load_pem_x509_certificate((FIXTURES / "ca.cert.pem").read_bytes())
    return Identity(key, cert)


@cache
def shared_ca() -> Identity:
    """A fresh CA made once per test session (RSA key generation is slow)."""
    return make_ca()


_EXTENSION_REQUEST = "1.2.840.113549.1.9.14"


def _resigned(top: der.Node, body: bytes, key: rsa.RSAPrivateKey) -> bytes:
    """``top`` (a certificate or CSR) with its signed part replaced by ``body``, signed again."""
    signature = key.sign(body, padding.PKCS1v15(), hashes.SHA256())
    algorithm = top.children()[1].raw
    return der.sequence(body, algorithm, der.tlv(der.BIT_STRING, b"\x00" + signature))


def _doubled(extensions: der.Node) -> bytes:
    items = [node.raw for node in extensions.children()]
    return der.sequence(*items, items[0])


def with_duplicate_extension(data: bytes, key: rsa.RSAPrivateKey) -> bytes:
    """The DER certificate or CSR ``data`` with its first extension repeated, re-signed with
    ``key`` (cryptography's builders refuse a repeated extension; parsers must not crash)."""
    top = der.read_whole(data)
    signed = top.children()[0]
    parts = signed.children()
    last = parts[-1]
    if last.tag == der.CONTEXT | der.CONSTRUCTED | 3:  # certificate: [3] EXPLICIT Extensions
        [extensions] = last.children()
        rebuilt = der.explicit(3, _doubled(extensions))
    else:  # CSR: [0] IMPLICIT SET OF Attribute, one of them extensionRequest
        attributes = []
        for attribute in last.children():
            kind, values = attribute.children()
            if der.decode_oid(kind) == _EXTENSION_REQUEST:
                [extensions] = values.children()
                attribute_raw = der.sequence(kind.raw, der.tlv(der.SET, _doubled(extensions)))
            else:
                attribute_raw = attribute.raw
            attributes.append(attribute_raw)
        rebuilt = der.tlv(der.CONTEXT | der.CONSTRUCTED, *attributes)
    body = der.sequence(*(part.raw for part in parts[:-1]), rebuilt)
    return _resigned(top, body, key)


def make_intermediate_ca(root: Identity, cn: str = "Test Intermediate CA",
                         path_length: int = 0) -> Identity:
    """A CA issued by ``root`` (as an imported, enterprise-issued SCEP CA would be)."""
    key = new_key()
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(root.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1825))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=True,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(root.key, hashes.SHA256())
    )
    return Identity(key, cert)
