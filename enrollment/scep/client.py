"""A SCEP client (RFC 8894), the device's side: the GetCACert answer read (CA, and the RA told
apart by its key usage), a self-signed signer certificate, a CSR with its challengePassword,
a PKCSReq/RenewalReq enveloped for the RA (or the CA) with a chosen cipher and digest, and the
CertRep decoded (signature by the CA or its RA checked, envelope decrypted).

Used by the device simulator (`simulate_devices`), the tests and the benchmarks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import AttributeOID, NameOID

from enrollment.scep import envelope
from enrollment.scep.capabilities import CA_CERT_CONTENT_TYPE
from enrollment.scep.messages import PKIMessage, parse_pki_message, sign_pki_message
from enrollment.scep.oids import FailInfo, MessageType, PKIStatus
from pki.malformed import DECODE_ERRORS
from pki.registration_authority import is_ra_certificate


class ScepClientError(Exception):
    """The server's answer is not a valid CertRep for our request."""


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


@dataclass(frozen=True)
class CACertificates:
    """A GetCACert answer: ``ca`` issues; ``ra`` signs CertReps and requests are encrypted
    to it (the CA itself when the answer has no RA)."""

    ca: x509.Certificate
    ra: x509.Certificate
    all: tuple[x509.Certificate, ...]


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
    except (*DECODE_ERRORS, InvalidSignature):
        return False
    return True


def read_ca_certificates(content_type: str, body: bytes) -> CACertificates:
    """The certificates of a GetCACert answer: one DER certificate (the CA), or a degenerate
    PKCS#7 of the CA, its chain and the RA, which RFC 8894 clients tell by key usage."""
    if content_type.split(";")[0].strip().lower() == CA_CERT_CONTENT_TYPE:
        certificate = x509.load_der_x509_certificate(body)
        return CACertificates(certificate, certificate, (certificate,))
    certificates = tuple(pkcs7.load_der_pkcs7_certificates(body))
    for ra in certificates:
        if is_ra_certificate(ra):
            ca = next((c for c in certificates if c is not ra and _issued_by(ra, c)), None)
            if ca is None:
                raise ScepClientError("GetCACert: the RA certificate's CA is missing")
            return CACertificates(ca, ra, certificates)
    return CACertificates(certificates[0], certificates[0], certificates)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def new_key(key_size: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=key_size)


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
    subject: x509.Name | None = None,
) -> x509.CertificateSigningRequest:
    """A CSR for `key`, named CN=`cn` (or the whole `subject`), with a challengePassword."""
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject or _name(cn))
    if challenge is not None:
        tag = CHALLENGE_TAGS[challenge_type]
        encoded = challenge.encode("utf-16-be" if challenge_type == "bmp" else "utf-8")
        builder = builder.add_attribute(AttributeOID.CHALLENGE_PASSWORD, encoded, _tag=tag)
    return builder.sign(key, hashes.SHA256())


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


def decode_cert_rep(der: bytes, request: ScepRequest, ca_cert: x509.Certificate, *,
                    ra_cert: x509.Certificate | None = None) -> CertRepResult:
    """Verify a CertRep answers ``request`` and is signed by ``ra_cert`` (the RA GetCACert
    named; ``read_ca_certificates`` checked that ``ca_cert`` issued it) or by ``ca_cert``;
    decrypt it."""
    message = parse_pki_message(der)
    if message.message_type is not MessageType.CERT_REP:
        raise ScepClientError(f"expected a CertRep, got {message.message_type.name}")
    if message.signer_cert not in (ca_cert, ra_cert):
        raise ScepClientError("the CertRep is not signed by the CA or its RA")
    if (message.transaction_id, message.recipient_nonce) != (request.transaction_id,
                                                             request.sender_nonce):
        raise ScepClientError("the CertRep answers another request")
    if message.pki_status is None:
        raise ScepClientError("the CertRep has no pkiStatus")
    if message.pki_status is not PKIStatus.SUCCESS:
        return CertRepResult(message, message.pki_status, message.fail_info)
    certs_only = envelope.decrypt(message.envelope, request.signer.key, request.signer.cert)
    certificates = pkcs7.load_der_pkcs7_certificates(certs_only)
    return CertRepResult(message, message.pki_status, None, certificates)
