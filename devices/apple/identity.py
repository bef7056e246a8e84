"""Device identity for Apple MDM requests: who sent this body, and do we trust them.

Two sources of the device's identity certificate (issued over SCEP during enrollment):
the ``Mdm-Signature`` header (profile key ``SignMessage``: a base64 detached CMS SignedData
over the request body) or a TLS client certificate forwarded by the proxy. ``verify_chain``
then checks that our CA issued it and that it is in date. Pure functions, no Django.

Every failure, whatever the input, is an :class:`IdentityError`; the view answers 400 (never
401, which can make a device unenroll) and audits ``error.reason``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import unquote

from asn1crypto import cms
from asn1crypto.core import Void
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa


class IdentityError(Exception):
    """The request's device identity cannot be established."""

    reason = "identity"


class MalformedIdentity(IdentityError):
    reason = "malformed"


class BadSignature(IdentityError):
    reason = "bad_signature"


class UntrustedCertificate(IdentityError):
    reason = "not_issued_by_ca"


class CertificateExpired(IdentityError):
    """Outside its validity period (expired, or not yet valid)."""

    reason = "expired"


_DIGESTS: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,  # older iOS/macOS sign with SHA-1
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}

_PEM_BODY = re.compile(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.S)


def _b64decode(text: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedIdentity(f"not base64: {exc}") from exc


def _load_der_certificate(der: bytes) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(der)
    except (ValueError, TypeError) as exc:
        raise MalformedIdentity(f"not a DER certificate: {exc}") from exc


def load_forwarded_client_cert(header_value: str) -> x509.Certificate:
    """The TLS client certificate a proxy forwarded in a header.

    Accepts URL-encoded PEM (nginx ``$ssl_client_escaped_cert``), PEM whose line breaks became
    spaces or tabs, or bare base64 DER.
    """
    if not isinstance(header_value, str) or not header_value.strip():
        raise MalformedIdentity("no client certificate")
    # unquote, not unquote_plus: a literal "+" in base64 must stay a "+".
    text = unquote(header_value) if "%" in header_value else header_value
    match = _PEM_BODY.search(text)
    return _load_der_certificate(_b64decode(match.group(1) if match else text))


def _signer_certificate(signed_data: cms.SignedData, signer: cms.SignerInfo) -> cms.Certificate:
    sid = signer["sid"]
    for choice in signed_data["certificates"] or []:
        if choice.name != "certificate":
            continue
        cert = choice.chosen
        if sid.name == "issuer_and_serial_number":
            if cert.serial_number != sid.chosen["serial_number"].native:
                continue
            # Byte equality first: Name.__eq__ runs LDAP string preparation (slow).
            issuer = sid.chosen["issuer"]
            if cert.issuer.dump() == issuer.dump() or cert.issuer == issuer:
                return cert
        elif cert.key_identifier == sid.chosen.native:
            return cert
    raise MalformedIdentity("signer certificate not among the embedded certificates")


_Parsed = tuple[x509.Certificate, bytes, bytes, hashes.HashAlgorithm, str]


def _parse_signature(header_value: str, body: bytes) -> _Parsed:
    """Signer cert, signed bytes, signature, hash and algorithm; or MalformedIdentity."""
    der = _b64decode(header_value)
    try:
        info = cms.ContentInfo.load(der, strict=True)
        if info["content_type"].native != "signed_data":
            raise MalformedIdentity("not a CMS SignedData")
        signed_data = info["content"]
        signers = signed_data["signer_infos"]
        if len(signers) != 1:
            raise MalformedIdentity(f"expected one signer, found {len(signers)}")
        signer = signers[0]
        digest_name = signer["digest_algorithm"]["algorithm"].native
        if digest_name not in _DIGESTS:
            raise MalformedIdentity(f"unsupported digest {digest_name}")
        hash_algorithm = _DIGESTS[digest_name]()
        signature_algo = signer["signature_algorithm"].signature_algo
        if signature_algo not in ("rsassa_pkcs1v15", "ecdsa"):
            raise MalformedIdentity(f"unsupported signature algorithm {signature_algo}")
        cert = _load_der_certificate(_signer_certificate(signed_data, signer).dump())
        signature = signer["signature"].native
        signed_attrs = signer["signed_attrs"]
        if isinstance(signed_attrs, Void):  # no signed attributes: signature over the body
            return cert, body, signature, hash_algorithm, signature_algo
        digests = [attr["values"][0].native for attr in signed_attrs
                   if attr["type"].native == "message_digest"]
        # The signature covers the attributes DER-encoded as a SET OF, not as [0] IMPLICIT.
        signed_bytes = b"\x31" + signed_attrs.dump()[1:]
    except IdentityError:
        raise
    except Exception as exc:  # asn1crypto parses lazily and raises assorted types on garbage
        raise MalformedIdentity(f"not a CMS SignedData: {exc}") from exc
    if len(digests) != 1 or not isinstance(digests[0], bytes):
        raise MalformedIdentity("signed attributes need exactly one messageDigest")
    body_digest = hashlib.new(hash_algorithm.name, body).digest()
    if not hmac.compare_digest(digests[0], body_digest):
        raise BadSignature("messageDigest does not match the body")
    return cert, signed_bytes, signature, hash_algorithm, signature_algo


def verify_mdm_signature(header_value: str, body: bytes) -> x509.Certificate:
    """Verify the ``Mdm-Signature`` header over ``body``; return the signer's certificate.

    Only proves the holder of that certificate's key sent the body: call
    :func:`verify_chain` to know whether we issued it.
    """
    if not isinstance(header_value, str) or not header_value.strip():
        raise MalformedIdentity("no Mdm-Signature")
    if not isinstance(body, bytes | bytearray):
        raise MalformedIdentity("body must be bytes")
    body = bytes(body)
    cert, signed_bytes, signature, hash_algorithm, algo = _parse_signature(header_value, body)
    try:
        public_key = cert.public_key()
        if algo == "rsassa_pkcs1v15" and isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, signed_bytes, padding.PKCS1v15(), hash_algorithm)
        elif algo == "ecdsa" and isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, signed_bytes, ec.ECDSA(hash_algorithm))
        else:
            raise MalformedIdentity(f"{algo} signature with a {type(public_key).__name__}")
    except InvalidSignature as exc:
        raise BadSignature("signature does not verify") from exc
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise MalformedIdentity(f"unusable signer key: {exc}") from exc
    return cert


def _check_validity(cert: x509.Certificate, now: datetime, what: str) -> None:
    if now < cert.not_valid_before_utc:
        raise CertificateExpired(f"{what} not valid before {cert.not_valid_before_utc}")
    if now > cert.not_valid_after_utc:
        raise CertificateExpired(f"{what} expired at {cert.not_valid_after_utc}")


def verify_chain(
    cert: x509.Certificate, ca_certs: Iterable[x509.Certificate], now: datetime
) -> None:
    """Check ``cert`` was issued (directly) by one of ``ca_certs`` and both are in date.

    ``now`` should be timezone-aware; a naive datetime is taken as UTC.
    """
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    for ca in ca_certs:
        try:
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            continue  # another subject, or a rotated CA with the same subject
        _check_validity(ca, now, "issuing CA")
        _check_validity(cert, now, "certificate")
        return
    raise UntrustedCertificate("not issued by any of our CA certificates")
