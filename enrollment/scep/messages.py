"""SCEP pkiMessage: parse and verify requests, decrypt their CSR, build CertRep replies.

A pkiMessage is a CMS SignedData whose signed attributes carry the SCEP fields and whose
content is the pkcsPKIEnvelope (RFC 8894 section 3). Parsing uses asn1crypto (cryptography
cannot parse SignedData nor add custom signed attributes); keys and signatures use
cryptography. Untrusted input only ever raises ``ScepError`` subclasses.
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

from asn1crypto import cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from . import envelope
from .envelope import ContentCipher
from .errors import (
    DECODE_ERRORS,
    BadAlg,
    BadMessageCheck,
    BadRequest,
    ReplyTo,
    ScepError,
    UnparseableMessage,
)
from .oids import (
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
    ScepString,
)

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
_RSA_SIGNATURES = {"rsassa_pkcs1v15", "sha1_rsa", "sha256_rsa", "sha384_rsa", "sha512_rsa"}
_ECDSA_SIGNATURES = {"sha1_ecdsa", "sha256_ecdsa", "sha384_ecdsa", "sha512_ecdsa", "ecdsa"}
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
    """What is read from the SignedData before any check; plain values, no lazy asn1crypto."""

    attributes: dict[str, list[object]]
    signed_attrs_der: bytes
    digest_algorithm: str
    signature_algorithm: str
    signature: bytes
    content_type: str
    content: bytes | None
    signer_der: bytes | None


def _attribute_value(value: object) -> object:
    if isinstance(value, ScepString):
        return value.chosen.native
    if isinstance(value, cms.ContentType):
        return value.dotted
    return value.native  # type: ignore[attr-defined]


def _find_signer(signed_data: cms.SignedData, sid: cms.SignerIdentifier) -> bytes | None:
    for choice in signed_data["certificates"] or []:
        if choice.name != "certificate":
            continue
        cert: asn1_x509.Certificate = choice.chosen
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            if (
                cert.serial_number == wanted["serial_number"].native
                and cert.issuer == wanted["issuer"]
            ):
                return cert.dump()
        elif cert.key_identifier == sid.chosen.native:
            return cert.dump()
    return None


def _read_parts(der: bytes) -> _Parts:
    info = cms.ContentInfo.load(der, strict=True)
    if info["content_type"].native != "signed_data":
        raise ValueError("not a SignedData")
    signed_data: cms.SignedData = info["content"]
    signer_infos = signed_data["signer_infos"]
    if len(signer_infos) != 1:
        raise ValueError("a pkiMessage has exactly one signer")
    signer = signer_infos[0]
    signed_attrs = signer["signed_attrs"]
    if not signed_attrs:
        raise ValueError("signed attributes are missing")
    attributes: dict[str, list[object]] = {}
    for attribute in signed_attrs:
        oid = attribute["type"].dotted
        if oid in _SINGLE_VALUED:
            if oid in attributes or len(attribute["values"]) != 1:
                raise ValueError(f"attribute {oid} must appear once with one value")
            attributes[oid] = [_attribute_value(attribute["values"][0])]
    contents = signed_attrs.contents
    encap = signed_data["encap_content_info"]
    if encap["content_type"].native != "data":
        raise ValueError("the encapsulated content is not of type data")
    content = encap["content"]
    return _Parts(
        attributes=attributes,
        # The signature covers the attributes as received, re-tagged as a SET OF.
        signed_attrs_der=b"\x31" + _der_length(len(contents)) + contents,
        digest_algorithm=signer["digest_algorithm"]["algorithm"].native,
        signature_algorithm=signer["signature_algorithm"]["algorithm"].native,
        signature=signer["signature"].native,
        content_type=encap["content_type"].dotted,
        content=None if content is None or not content.contents else bytes(content.native),
        signer_der=_find_signer(signed_data, signer["sid"]),
    )


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(encoded)]) + encoded


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
        if isinstance(public_key, rsa.RSAPublicKey) and parts.signature_algorithm in (
            _RSA_SIGNATURES
        ):
            public_key.verify(parts.signature, parts.signed_attrs_der, padding.PKCS1v15(), digest)
        elif isinstance(public_key, ec.EllipticCurvePublicKey) and parts.signature_algorithm in (
            _ECDSA_SIGNATURES
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
    msg: PKIMessage, ca_key: rsa.RSAPrivateKey, ca_cert: x509.Certificate
) -> bytes:
    """The decrypted pkcsPKIEnvelope of ``msg`` (CSR, IssuerAndSerial... by message type)."""
    try:
        return envelope.decrypt(msg.envelope, ca_key, ca_cert)
    except ScepError as exc:
        exc.reply_to = msg.reply_to
        raise


class _AnyValues(core.SetOf):
    _child_spec = core.Any


class _RawAttribute(core.Sequence):
    _fields = [("type", core.ObjectIdentifier), ("values", _AnyValues)]


class _RawAttributes(core.SetOf):
    _child_spec = _RawAttribute


class _RawRequestInfo(core.Sequence):
    _fields = [
        ("version", core.Integer),
        ("subject", core.Any),
        ("subject_pk_info", core.Any),
        ("attributes", _RawAttributes, {"implicit": 0, "optional": True}),
    ]


class _RawCertificationRequest(core.Sequence):
    _fields = [
        ("certification_request_info", _RawRequestInfo),
        ("signature_algorithm", core.Any),
        ("signature", core.Any),
    ]


def _challenge_password(csr_der: bytes) -> str | None:
    """challengePassword of a CSR, whatever its string type (Printable, UTF8, IA5, BMP...)."""
    request = _RawCertificationRequest.load(csr_der)
    passwords = [
        value
        for attribute in request["certification_request_info"]["attributes"] or []
        if attribute["type"].dotted == CHALLENGE_PASSWORD
        for value in attribute["values"]
    ]
    if not passwords:
        return None
    if len(passwords) > 1:
        raise BadRequest("the CSR has several challengePassword values")
    password = core.load(passwords[0].dump()).native
    if not isinstance(password, str):
        raise BadRequest("challengePassword is not a string")
    return password


def decrypt_request(
    msg: PKIMessage, ca_key: rsa.RSAPrivateKey, ca_cert: x509.Certificate
) -> CertificationRequest:
    """Decrypt the CSR of a PKCSReq or RenewalReq and check its self-signature."""
    reply_to = msg.reply_to
    if msg.message_type not in (MessageType.PKCS_REQ, MessageType.RENEWAL_REQ):
        raise BadRequest(f"{msg.message_type.name} carries no CSR", reply_to=reply_to)
    if not isinstance(msg.signer_cert.public_key(), rsa.RSAPublicKey):
        # The CertRep is enveloped for this key: refuse before anything is issued.
        raise BadAlg("the signer certificate has no RSA key", reply_to=reply_to)
    try:
        csr_der = envelope.decrypt(msg.envelope, ca_key, ca_cert)
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


def _asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))


def degenerate_certificates(certs: Sequence[x509.Certificate]) -> bytes:
    """A certs-only ContentInfo(SignedData) DER ("degenerate PKCS#7")."""
    signed_data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [],
            "encap_content_info": {"content_type": "data"},
            "certificates": [
                cms.CertificateChoices(name="certificate", value=_asn1_cert(c)) for c in certs
            ],
            "signer_infos": [],
        }
    )
    return cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()


def _time(value: datetime) -> cms.Time:
    if value.year < 2050:
        return cms.Time(name="utc_time", value=value)
    return cms.Time(name="general_time", value=value)


def _string_attribute(kind: str, value: str) -> cms.CMSAttribute:
    # PrintableString as RFC 8894 says; UTF8String for a transactionID it cannot carry.
    string_type = "printable_string" if set(value) <= _PRINTABLE else "utf8_string"
    return cms.CMSAttribute({"type": kind, "values": [ScepString(name=string_type, value=value)]})


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
    digest = hashlib.new(digest_algorithm, content or b"").digest()
    attributes = [
        cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
        cms.CMSAttribute({"type": "message_digest", "values": [digest]}),
        cms.CMSAttribute(
            {"type": "signing_time", "values": [_time(signing_time or datetime.now(UTC))]}
        ),
        _string_attribute("scep_message_type", str(int(message_type))),
        _string_attribute("scep_transaction_id", transaction_id),
        cms.CMSAttribute({"type": "scep_sender_nonce", "values": [sender_nonce]}),
    ]
    if recipient_nonce is not None:
        attributes.append(
            cms.CMSAttribute({"type": "scep_recipient_nonce", "values": [recipient_nonce]})
        )
    if pki_status is not None:
        attributes.append(_string_attribute("scep_pki_status", str(int(pki_status))))
    if fail_info is not None:
        attributes.append(_string_attribute("scep_fail_info", str(int(fail_info))))
    # DER orders a SET OF by encoding; OpenSSL re-encodes before verifying, so sort here.
    encoded = sorted(attribute.dump() for attribute in attributes)
    signed_attrs = cms.CMSAttributes([cms.CMSAttribute.load(item) for item in encoded])
    hash_algorithm = _HASHES[digest_algorithm]()
    if isinstance(signer_key, rsa.RSAPrivateKey):
        signature = signer_key.sign(signed_attrs.dump(), padding.PKCS1v15(), hash_algorithm)
        signature_algorithm = "rsassa_pkcs1v15"
    else:
        signature = signer_key.sign(signed_attrs.dump(), ec.ECDSA(hash_algorithm))
        signature_algorithm = f"{digest_algorithm}_ecdsa"
    signer = _asn1_cert(signer_cert)
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value={"issuer": signer.issuer, "serial_number": signer.serial_number},
            ),
            "digest_algorithm": {"algorithm": digest_algorithm},
            "signed_attrs": signed_attrs,
            "signature_algorithm": {"algorithm": signature_algorithm},
            "signature": signature,
        }
    )
    encap: dict[str, object] = {"content_type": "data"}
    if content is not None:
        encap["content"] = content
    signed_data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [{"algorithm": digest_algorithm}],
            "encap_content_info": encap,
            "certificates": [
                cms.CertificateChoices(name="certificate", value=_asn1_cert(cert))
                for cert in (signer_cert, *extra_certs)
            ],
            "signer_infos": [signer_info],
        }
    )
    return cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()


def _cert_rep(
    request: PKIMessage | ReplyTo,
    content: bytes | None,
    status: PKIStatus,
    ca_key: rsa.RSAPrivateKey,
    ca_cert: x509.Certificate,
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
        signer_key=ca_key,
        signer_cert=ca_cert,
        digest_algorithm=reply_to.digest_algorithm,
        pki_status=status,
        fail_info=fail_info,
        extra_certs=extra_certs,
    )


def build_cert_rep_success(
    request: PKIMessage,
    issued_cert: x509.Certificate,
    ca_key: rsa.RSAPrivateKey,
    ca_cert: x509.Certificate,
    *,
    cipher: ContentCipher | None = None,
    chain: Sequence[x509.Certificate] = (),
) -> bytes:
    """CertRep SUCCESS: the issued certificate (plus ``chain``) as a degenerate SignedData,
    enveloped for the request's signer certificate with ``cipher`` (default: mirror the
    request's, single DES answered with DES3)."""
    if cipher is None:
        cipher = envelope.response_cipher_for(envelope.content_cipher(request.envelope))
    certs_only = degenerate_certificates([issued_cert, *chain])
    enveloped = envelope.encrypt_for(request.signer_cert, certs_only, cipher)
    return _cert_rep(request, enveloped, PKIStatus.SUCCESS, ca_key, ca_cert)


def build_cert_rep_failure(
    request: PKIMessage | ReplyTo,
    fail_info: FailInfo,
    ca_key: rsa.RSAPrivateKey,
    ca_cert: x509.Certificate,
) -> bytes:
    """CertRep FAILURE with ``fail_info``; no pkcsPKIEnvelope (RFC 8894 section 3.3.2)."""
    return _cert_rep(request, None, PKIStatus.FAILURE, ca_key, ca_cert, fail_info)


def build_cert_rep_pending(
    request: PKIMessage | ReplyTo, ca_key: rsa.RSAPrivateKey, ca_cert: x509.Certificate
) -> bytes:
    """CertRep PENDING: the client polls later with CertPoll under the same transactionID."""
    return _cert_rep(request, None, PKIStatus.PENDING, ca_key, ca_cert)
