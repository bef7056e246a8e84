"""Pure-Python SCEP client for tests and benchmarks.

Builds what a device sends (self-signed signer certificate, CSR with challengePassword,
PKCSReq/RenewalReq with a chosen content cipher and digest) and decodes the CertRep
(CA signature verified, envelope decrypted, issued certificate extracted). Also makes
throwaway CAs and issues certificates, so tests need no committed keys.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import AttributeOID, ExtendedKeyUsageOID, NameOID

from enrollment.scep import envelope
from enrollment.scep.messages import PKIMessage, parse_pki_message, sign_pki_message
from enrollment.scep.oids import FailInfo, MessageType, PKIStatus

CHALLENGE_TAGS = {
    "printable": _ASN1Type.PrintableString,
    "utf8": _ASN1Type.UTF8String,
    "ia5": _ASN1Type.IA5String,
    "bmp": _ASN1Type.BMPString,
}


@dataclass(frozen=True)
class Identity:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate


@dataclass(frozen=True)
class ScepRequest:
    der: bytes
    transaction_id: str
    sender_nonce: bytes
    signer: Identity
    csr: x509.CertificateSigningRequest


@dataclass(frozen=True)
class CertRepResult:
    message: PKIMessage
    status: PKIStatus
    fail_info: FailInfo | None
    certificates: list[x509.Certificate] = field(default_factory=list)

    @property
    def certificate(self) -> x509.Certificate:
        return self.certificates[0]


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def new_key(key_size: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=key_size)


def make_ca(cn: str = "Test SCEP CA", key: rsa.RSAPrivateKey | None = None) -> Identity:
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
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return Identity(key, cert)


def make_signer(cn: str = "SCEP SIGNER", key: rsa.RSAPrivateKey | None = None) -> Identity:
    """The short-lived self-signed certificate a device signs its first PKCSReq with."""
    key = key or new_key()
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    return Identity(key, cert)


def make_csr(
    key: rsa.RSAPrivateKey,
    cn: str = "device",
    challenge: str | None = None,
    challenge_type: str = "printable",
) -> x509.CertificateSigningRequest:
    builder = x509.CertificateSigningRequestBuilder().subject_name(_name(cn))
    if challenge is not None:
        tag = CHALLENGE_TAGS[challenge_type]
        encoded = challenge.encode("utf-16-be" if challenge_type == "bmp" else "utf-8")
        builder = builder.add_attribute(AttributeOID.CHALLENGE_PASSWORD, encoded, _tag=tag)
    return builder.sign(key, hashes.SHA256())


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


def build_request(
    csr: x509.CertificateSigningRequest,
    signer: Identity,
    ca_cert: x509.Certificate,
    *,
    message_type: MessageType = MessageType.PKCS_REQ,
    cipher: str = "aes256",
    digest: str = "sha256",
    transaction_id: str | None = None,
    sender_nonce: bytes | None = None,
) -> ScepRequest:
    """A PKCSReq/RenewalReq: the CSR enveloped for ``ca_cert``, signed by ``signer``."""
    transaction_id = transaction_id or os.urandom(20).hex()
    sender_nonce = sender_nonce or os.urandom(16)
    enveloped = envelope.encrypt_for(ca_cert, csr.public_bytes(Encoding.DER), cipher)
    der = sign_pki_message(
        enveloped,
        message_type=message_type,
        transaction_id=transaction_id,
        sender_nonce=sender_nonce,
        signer_key=signer.key,
        signer_cert=signer.cert,
        digest_algorithm=digest,
    )
    return ScepRequest(der, transaction_id, sender_nonce, signer, csr)


def decode_cert_rep(der: bytes, request: ScepRequest, ca_cert: x509.Certificate) -> CertRepResult:
    """Verify a CertRep answers ``request`` and is signed by ``ca_cert``; decrypt it."""
    message = parse_pki_message(der)
    assert message.message_type is MessageType.CERT_REP
    assert message.signer_cert == ca_cert, "CertRep not signed by the CA"
    assert message.transaction_id == request.transaction_id
    assert message.recipient_nonce == request.sender_nonce
    assert message.pki_status is not None
    if message.pki_status is not PKIStatus.SUCCESS:
        return CertRepResult(message, message.pki_status, message.fail_info)
    certs_only = envelope.decrypt(message.envelope, request.signer.key, request.signer.cert)
    certificates = pkcs7.load_der_pkcs7_certificates(certs_only)
    return CertRepResult(message, message.pki_status, None, certificates)


FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "scep"


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
