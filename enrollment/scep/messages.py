"""SCEP pkiMessage: parse and verify requests, decrypt their CSR, build CertRep replies.

A pkiMessage is a CMS SignedData whose signed attributes carry the SCEP fields and whose
content is the pkcsPKIEnvelope (RFC 8894 section 3). The CMS is read and written by
``pki.signed_data`` (cryptography can neither parse SignedData nor add custom
signed attributes); keys and signatures use cryptography. Untrusted input only ever raises
``ScepError`` subclasses.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import string
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from enrollment.scep import envelope
from enrollment.scep.envelope import ContentCipher
from enrollment.scep.errors import (
    BadAlg,
    BadMessageCheck,
    BadRequest,
    ReplyTo,
    ScepError,
    UnparseableMessage,
)
from enrollment.scep.oids import (
    CHALLENGE_PASSWORD,
    FAIL_INFO,
    MESSAGE_TYPE,
    PKI_STATUS,
    RECIPIENT_NONCE,
    SENDER_NONCE,
    TRANSACTION_ID,
    FailInfo,
    MessageType,
    PKIStatus,
)
from pki import der, signed_data
from pki.malformed import DECODE_ERRORS

_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
_SIGNING_TIME = "1.2.840.113549.1.9.5"
_SINGLE_VALUED = (
    _CONTENT_TYPE, _MESSAGE_DIGEST, _SIGNING_TIME, MESSAGE_TYPE, PKI_STATUS, FAIL_INFO,
    SENDER_NONCE, RECIPIENT_NONCE, TRANSACTION_ID,
)  # fmt: skip
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha512": hashes.SHA512,
}
_MAX_TRANSACTION_ID = 255
_MAX_NONCE = 64
_E = TypeVar("_E", MessageType, PKIStatus, FailInfo)
_PRINTABLE = frozenset(string.ascii_letters + string.digits + " '()+,-./:=?")


@dataclass(frozen=True)
class PKIMessage:
    """A SCEP pkiMessage whose signature has been verified against ``signer_cert``."""

    message_type: MessageType
    transaction_id: str
    sender_nonce: bytes
    digest_algorithm: str  # "sha1" | "sha256" | "sha512"
    signer_cert: x509.Certificate
    signing_time: datetime | None
    envelope: bytes  # pkcsPKIEnvelope, ContentInfo(EnvelopedData) DER, still encrypted
    recipient_nonce: bytes | None = None  # CertRep only
    pki_status: PKIStatus | None = None  # CertRep only
    fail_info: FailInfo | None = None  # CertRep FAILURE only

    @property
    def reply_to(self) -> ReplyTo:
        return ReplyTo(self.transaction_id, self.sender_nonce, self.digest_algorithm)


@dataclass(frozen=True)
class CertificationRequest:
    """The decrypted PKCS#10 request of a PKCSReq or RenewalReq."""

    csr: x509.CertificateSigningRequest  # signature already verified
    challenge_password: str | None
    content_cipher: ContentCipher  # what the client encrypted with; the CertRep mirrors it


# --- parsing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Parts:
    """What is read from the SignedData before any check, as plain values."""

    attributes: dict[str, list[object]]
    signed_attrs_der: bytes
    digest_algorithm: str
    signature_algorithm: str
    signature: bytes
    content_type: str
    content: bytes | None
    signer_der: bytes | None


def _attribute_value(oid: str, node: der.Node) -> object:
    if oid == _SIGNING_TIME:
        try:
            return der.decode_time(node)
        except der.DerError:
            return None  # informative only: an odd time format is no reason to refuse
    return der.decode_native(node)


def _read_parts(data: bytes) -> _Parts:
    signed = signed_data.parse(data)
    if len(signed.signers) != 1:
        raise ValueError("a pkiMessage has exactly one signer")
    signer = signed.signers[0]
    if not signer.signed_attrs:
        raise ValueError("signed attributes are missing")
    attributes: dict[str, list[object]] = {}
    for oid in _SINGLE_VALUED:
        values = signer.attributes.get(oid)
        if values is None:
            continue
        if len(values) != 1:
            raise ValueError(f"attribute {oid} must appear once with one value")
        attributes[oid] = [_attribute_value(oid, values[0])]
    if signed.content_type != signed_data.DATA:
        raise ValueError("the encapsulated content is not of type data")
    return _Parts(
        attributes=attributes,
        signed_attrs_der=signer.signed_attrs,
        digest_algorithm=signer.digest_name or signer.digest_algorithm,
        signature_algorithm=signer.signature_family or signer.signature_algorithm,
        signature=signer.signature,
        content_type=signed.content_type,
        content=signed.content or None,
        signer_der=signed_data.signer_certificate(signed, signer),
    )


def _one(parts: _Parts, oid: str) -> object | None:
    values = parts.attributes.get(oid)
    return values[0] if values else None


def _reply_to(parts: _Parts) -> ReplyTo:
    transaction_id = _one(parts, TRANSACTION_ID)
    sender_nonce = _one(parts, SENDER_NONCE)
    if not isinstance(transaction_id, str) or not 0 < len(transaction_id) <= _MAX_TRANSACTION_ID:
        raise UnparseableMessage("transactionID is missing or malformed")
    if not transaction_id.isprintable():
        raise UnparseableMessage("transactionID has control characters")
    if not isinstance(sender_nonce, bytes) or not 0 < len(sender_nonce) <= _MAX_NONCE:
        raise UnparseableMessage("senderNonce is missing or malformed")
    digest = parts.digest_algorithm if parts.digest_algorithm in _HASHES else "sha256"
    return ReplyTo(transaction_id, sender_nonce, digest)


def _verify_signature(parts: _Parts, signer: x509.Certificate, reply_to: ReplyTo) -> None:
    digest = _HASHES[parts.digest_algorithm]()
    public_key = signer.public_key()
    try:
        if isinstance(public_key, rsa.RSAPublicKey) and parts.signature_algorithm == "rsa":
            public_key.verify(parts.signature, parts.signed_attrs_der, padding.PKCS1v15(), digest)
        elif isinstance(public_key, ec.EllipticCurvePublicKey) and (
            parts.signature_algorithm == "ecdsa"
        ):
            public_key.verify(parts.signature, parts.signed_attrs_der, ec.ECDSA(digest))
        else:
            raise BadAlg(
                f"unsupported signature {parts.signature_algorithm} for this key",
                reply_to=reply_to,
            )
    except ScepError:
        raise
    except DECODE_ERRORS as exc:
        raise BadMessageCheck("pkiMessage signature is invalid", reply_to=reply_to) from exc


def _enum(kind: type[_E], value: object) -> _E | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.isdigit() or len(value) > 3:
        raise ValueError(f"{kind.__name__} {value!r} is not a small number")
    return kind(int(value))  # ValueError for values the enum does not know


def parse_pki_message(der: bytes) -> PKIMessage:
    """Parse a pkiMessage and verify its signature by the certificate it carries.

    Raises UnparseableMessage when no CertRep can be built in answer (HTTP 400), otherwise a
    ScepError whose ``reply_to`` lets the caller answer with a CertRep FAILURE. The signer
    certificate is not checked against any trust anchor here: that is policy.
    """
    if not isinstance(der, bytes) or not der:
        raise UnparseableMessage("empty pkiMessage")
    try:
        parts = _read_parts(der)
    except DECODE_ERRORS as exc:
        raise UnparseableMessage(f"malformed pkiMessage: {exc}") from exc
    reply_to = _reply_to(parts)
    if parts.digest_algorithm not in _HASHES:
        raise BadAlg(f"unsupported digest {parts.digest_algorithm}", reply_to=reply_to)
    if parts.signer_der is None:
        raise BadMessageCheck("the signer certificate is missing", reply_to=reply_to)
    try:
        signer = x509.load_der_x509_certificate(parts.signer_der)
        signer.public_key()
    except DECODE_ERRORS as exc:
        raise BadMessageCheck("unreadable signer certificate", reply_to=reply_to) from exc
    content = parts.content or b""
    digest = hashlib.new(parts.digest_algorithm, content).digest()
    message_digest = _one(parts, _MESSAGE_DIGEST)
    if not isinstance(message_digest, bytes) or not hmac.compare_digest(digest, message_digest):
        raise BadMessageCheck("messageDigest does not match the content", reply_to=reply_to)
    if _one(parts, _CONTENT_TYPE) != parts.content_type:
        raise BadMessageCheck("contentType attribute does not match", reply_to=reply_to)
    _verify_signature(parts, signer, reply_to)
    try:
        message_type = _enum(MessageType, _one(parts, MESSAGE_TYPE))
        pki_status = _enum(PKIStatus, _one(parts, PKI_STATUS))
        fail_info = _enum(FailInfo, _one(parts, FAIL_INFO))
    except ValueError as exc:
        raise BadRequest(f"unknown SCEP value: {exc}", reply_to=reply_to) from exc
    if message_type is None:
        raise BadRequest("messageType is missing", reply_to=reply_to)
    signing_time = _one(parts, _SIGNING_TIME)
    recipient_nonce = _one(parts, RECIPIENT_NONCE)
    return PKIMessage(
        message_type=message_type,
        transaction_id=reply_to.transaction_id,
        sender_nonce=reply_to.sender_nonce,
        digest_algorithm=parts.digest_algorithm,
        signer_cert=signer,
        signing_time=signing_time if isinstance(signing_time, datetime) else None,
        envelope=content,
        recipient_nonce=recipient_nonce if isinstance(recipient_nonce, bytes) else None,
        pki_status=pki_status,
        fail_info=fail_info,
    )


# --- decrypting a request --------------------------------------------------------------------


def decrypt_pki_envelope(
    msg: PKIMessage, key: rsa.RSAPrivateKey, cert: x509.Certificate, *,
    also: Sequence[envelope.Recipient] = (),
) -> bytes:
    """The decrypted pkcsPKIEnvelope of ``msg`` (CSR, IssuerAndSerial... by message type),
    encrypted to ``cert`` (the RA) or to a certificate of ``also`` (its CA)."""
    try:
        return envelope.decrypt(msg.envelope, key, cert, also=also)
    except ScepError as exc:
        exc.reply_to = msg.reply_to
        raise


def _challenge_password(csr_der: bytes) -> str | None:
    """challengePassword of a CSR, whatever its string type (Printable, UTF8, IA5, BMP...)."""
    info = der.read_whole(csr_der).expect(der.SEQUENCE).children()[0]
    attribute_sets = [node for node in info.expect(der.SEQUENCE).children()[3:]
                      if node.tag == der.CONTEXT | der.CONSTRUCTED]  # [0] IMPLICIT attributes
    passwords = []
    for attribute in attribute_sets[0].children() if attribute_sets else []:
        kind, values = attribute.expect(der.SEQUENCE).children()
        if der.decode_oid(kind) == CHALLENGE_PASSWORD:
            passwords.extend(values.expect(der.SET).children())
    if not passwords:
        return None
    if len(passwords) > 1:
        raise BadRequest("the CSR has several challengePassword values")
    try:
        return der.decode_string(passwords[0])
    except der.DerError as exc:
        raise BadRequest("challengePassword is not a string") from exc


def decrypt_request(
    msg: PKIMessage, key: rsa.RSAPrivateKey, cert: x509.Certificate, *,
    also: Sequence[envelope.Recipient] = (),
) -> CertificationRequest:
    """Decrypt the CSR of a PKCSReq or RenewalReq, encrypted to ``cert`` (the RA) or to a
    certificate of ``also`` (its CA), and check its self-signature."""
    reply_to = msg.reply_to
    if msg.message_type not in (MessageType.PKCS_REQ, MessageType.RENEWAL_REQ):
        raise BadRequest(f"{msg.message_type.name} carries no CSR", reply_to=reply_to)
    if not isinstance(msg.signer_cert.public_key(), rsa.RSAPublicKey):
        # The CertRep is enveloped for this key: refuse before anything is issued.
        raise BadAlg("the signer certificate has no RSA key", reply_to=reply_to)
    try:
        csr_der = envelope.decrypt(msg.envelope, key, cert, also=also)
        cipher = envelope.content_cipher(msg.envelope)
        csr = x509.load_der_x509_csr(csr_der)
        # Touch the lazily parsed parts now, so that issuance cannot trip on them later.
        csr.public_key(), csr.subject, csr.extensions
        signature_valid = csr.is_signature_valid
        challenge_password = _challenge_password(csr_der)
    except ScepError as exc:
        exc.reply_to = reply_to
        raise
    except UnsupportedAlgorithm as exc:
        raise BadAlg(f"unsupported CSR algorithm: {exc}", reply_to=reply_to) from exc
    except DECODE_ERRORS as exc:
        raise BadRequest(f"malformed CSR: {exc}", reply_to=reply_to) from exc
    if not signature_valid:
        raise BadMessageCheck("the CSR signature is invalid", reply_to=reply_to)
    return CertificationRequest(csr, challenge_password, cipher)


# --- building --------------------------------------------------------------------------------


def degenerate_certificates(certs: Sequence[x509.Certificate]) -> bytes:
    """A certs-only ContentInfo(SignedData) DER ("degenerate PKCS#7")."""
    return signed_data.certificates_only([cert.public_bytes(Encoding.DER) for cert in certs])


def _string(value: str) -> bytes:
    # PrintableString as RFC 8894 says; UTF8String for a transactionID it cannot carry.
    if set(value) <= _PRINTABLE:
        return der.tlv(der.PRINTABLE_STRING, value.encode("ascii"))
    return der.tlv(der.UTF8_STRING, value.encode("utf-8"))


def sign_pki_message(
    content: bytes | None,
    *,
    message_type: MessageType,
    transaction_id: str,
    sender_nonce: bytes,
    signer_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    signer_cert: x509.Certificate,
    digest_algorithm: str = "sha256",
    recipient_nonce: bytes | None = None,
    pki_status: PKIStatus | None = None,
    fail_info: FailInfo | None = None,
    extra_certs: Sequence[x509.Certificate] = (),
    signing_time: datetime | None = None,
) -> bytes:
    """A pkiMessage: SignedData over ``content`` (the pkcsPKIEnvelope, or None) with SCEP
    signed attributes. Used for CertRep replies and by the test client for requests."""
    if digest_algorithm not in _HASHES:
        raise ValueError(f"unsupported digest {digest_algorithm}")
    attribute = signed_data.attribute
    attributes = [
        attribute(_CONTENT_TYPE, der.encode_oid(signed_data.DATA)),
        attribute(_MESSAGE_DIGEST, der.encode_octets(
            hashlib.new(digest_algorithm, content or b"").digest())),
        attribute(_SIGNING_TIME, der.encode_time(signing_time or datetime.now(UTC))),
        attribute(MESSAGE_TYPE, _string(str(int(message_type)))),
        attribute(TRANSACTION_ID, _string(transaction_id)),
        attribute(SENDER_NONCE, der.encode_octets(sender_nonce)),
    ]
    if recipient_nonce is not None:
        attributes.append(attribute(RECIPIENT_NONCE, der.encode_octets(recipient_nonce)))
    if pki_status is not None:
        attributes.append(attribute(PKI_STATUS, _string(str(int(pki_status)))))
    if fail_info is not None:
        attributes.append(attribute(FAIL_INFO, _string(str(int(fail_info)))))
    signed_attrs = signed_data.signed_attributes(attributes)
    hash_algorithm = _HASHES[digest_algorithm]()
    if isinstance(signer_key, rsa.RSAPrivateKey):
        signature = signer_key.sign(signed_attrs, padding.PKCS1v15(), hash_algorithm)
        signature_algorithm = signed_data.RSA_ENCRYPTION
    else:
        signature = signer_key.sign(signed_attrs, ec.ECDSA(hash_algorithm))
        signature_algorithm = signed_data.ECDSA_WITH[digest_algorithm]
    signer_der = signer_cert.public_bytes(Encoding.DER)
    return signed_data.build(
        content=content,
        certificates=[signer_der, *(cert.public_bytes(Encoding.DER) for cert in extra_certs)],
        signer_certificate=signer_der, digest_name=digest_algorithm,
        signature_algorithm=signature_algorithm, signed_attrs=signed_attrs, signature=signature)


def _cert_rep(
    request: PKIMessage | ReplyTo,
    content: bytes | None,
    status: PKIStatus,
    signer_key: rsa.RSAPrivateKey,
    signer_cert: x509.Certificate,
    fail_info: FailInfo | None = None,
    extra_certs: Sequence[x509.Certificate] = (),
) -> bytes:
    reply_to = request.reply_to if isinstance(request, PKIMessage) else request
    return sign_pki_message(
        content,
        message_type=MessageType.CERT_REP,
        transaction_id=reply_to.transaction_id,
        sender_nonce=os.urandom(16),
        recipient_nonce=reply_to.sender_nonce,
        signer_key=signer_key,
        signer_cert=signer_cert,
        digest_algorithm=reply_to.digest_algorithm,
        pki_status=status,
        fail_info=fail_info,
        extra_certs=extra_certs,
    )


def build_cert_rep_success(
    request: PKIMessage,
    issued_cert: x509.Certificate,
    signer_key: rsa.RSAPrivateKey,
    signer_cert: x509.Certificate,
    *,
    cipher: ContentCipher | None = None,
    chain: Sequence[x509.Certificate] = (),
) -> bytes:
    """CertRep SUCCESS, signed with ``signer_key`` (the RA's, or the CA's when it has none):
    the issued certificate (plus ``chain``) as a degenerate SignedData, enveloped for the
    request's signer certificate with ``cipher`` (default: mirror the request's, single DES
    answered with DES3)."""
    if cipher is None:
        cipher = envelope.response_cipher_for(envelope.content_cipher(request.envelope))
    certs_only = degenerate_certificates([issued_cert, *chain])
    enveloped = envelope.encrypt_for(request.signer_cert, certs_only, cipher)
    return _cert_rep(request, enveloped, PKIStatus.SUCCESS, signer_key, signer_cert)


# Without a pkcsPKIEnvelope, the SignedData still encapsulates empty data (as micromdm's
# does): OpenSSL's PKCS7_verify, which certmonger uses, refuses a SignedData with no content
# at all ("no content"), so certmonger could not read a refusal and took us for unreachable.
_NO_ENVELOPE = b""


def build_cert_rep_failure(
    request: PKIMessage | ReplyTo,
    fail_info: FailInfo,
    signer_key: rsa.RSAPrivateKey,
    signer_cert: x509.Certificate,
) -> bytes:
    """CertRep FAILURE with ``fail_info``; no pkcsPKIEnvelope (RFC 8894 section 3.3.2)."""
    return _cert_rep(request, _NO_ENVELOPE, PKIStatus.FAILURE, signer_key, signer_cert,
                     fail_info)


def build_cert_rep_pending(
    request: PKIMessage | ReplyTo, signer_key: rsa.RSAPrivateKey, signer_cert: x509.Certificate
) -> bytes:
    """CertRep PENDING: the client polls later with CertPoll under the same transactionID."""
    return _cert_rep(request, _NO_ENVELOPE, PKIStatus.PENDING, signer_key, signer_cert)
