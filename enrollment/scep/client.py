"""A SCEP client (RFC 8894), the device's side: a self-signed signer certificate, a CSR with
its challengePassword, a PKCSReq/RenewalReq enveloped for the CA with a chosen cipher and
digest, and the CertRep decoded (CA signature checked, envelope decrypted).

Used by the device simulator (`simulate_devices`), the tests and the benchmarks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import AttributeOID, NameOID

from enrollment.scep import envelope
from enrollment.scep.messages import PKIMessage, parse_pki_message, sign_pki_message
from enrollment.scep.oids import FailInfo, MessageType, PKIStatus


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


def decode_cert_rep(der: bytes, request: ScepRequest, ca_cert: x509.Certificate) -> CertRepResult:
    """Verify a CertRep answers ``request`` and is signed by ``ca_cert``; decrypt it."""
    message = parse_pki_message(der)
    if message.message_type is not MessageType.CERT_REP:
        raise ScepClientError(f"expected a CertRep, got {message.message_type.name}")
    if message.signer_cert != ca_cert:
        raise ScepClientError("the CertRep is not signed by the CA")
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
