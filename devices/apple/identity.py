"""Device identity for Apple MDM requests: who sent this body, and do we trust them.

Two sources of the device's identity certificate (issued over SCEP during enrollment):
the ``Mdm-Signature`` header (profile key ``SignMessage``: a base64 detached CMS SignedData
over the request body) or a TLS client certificate forwarded by the proxy. ``verify_chain``
then checks that our CA issued it and that it is in date. Pure functions, no Django.

Every failure, whatever the input, is an :class:`IdentityError`; the view answers 400 (never
401, which can make a device unenroll) and audits ``error.reason``.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import unquote

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from pki import der, signed_data
from pki.malformed import DECODE_ERRORS


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
        return binascii.a2b_base64(text, strict_mode=True)  # devices send one clean line
    except (binascii.Error, ValueError):
        pass
    try:  # line breaks or spaces (a PEM body, a folded header)
        return binascii.a2b_base64("".join(text.split()), strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedIdentity(f"not base64: {exc}") from exc


def _load_der_certificate(der: bytes) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(der)
    except DECODE_ERRORS as exc:
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


_Parsed = tuple[x509.Certificate, bytes, bytes, hashes.HashAlgorithm, str]


@lru_cache(maxsize=8192)
def load_certificate(der_bytes: bytes) -> x509.Certificate:
    """A DER certificate loaded once per process: devices sign every request with the same
    one, and the CA certificates they chain to are few."""
    return _load_der_certificate(der_bytes)


def _parse_signature(header_value: str, body: bytes) -> _Parsed:
    """Signer cert, signed bytes, signature, hash and key family; or MalformedIdentity."""
    try:
        signed = signed_data.parse(_b64decode(header_value))
        if len(signed.signers) != 1:
            raise MalformedIdentity(f"expected one signer, found {len(signed.signers)}")
        signer = signed.signers[0]
        if signer.digest_name not in _DIGESTS:
            raise MalformedIdentity(f"unsupported digest {signer.digest_algorithm}")
        hash_algorithm = _DIGESTS[signer.digest_name]()
        family = signer.signature_family
        if family is None:
            raise MalformedIdentity(f"unsupported signature algorithm {signer.signature_algorithm}")
        signer_der = signed_data.signer_certificate(signed, signer)
        if signer_der is None:
            raise MalformedIdentity("signer certificate not among the embedded certificates")
        cert = load_certificate(signer_der)
        if signer.signed_attrs is None:  # no signed attributes: the signature covers the body
            return cert, body, signer.signature, hash_algorithm, family
        digest = signed_data.only(signer.values(signed_data.MESSAGE_DIGEST_ATTR))
        digest_value = der.decode_octets(digest) if digest is not None else None
    except der.DerError as exc:
        raise MalformedIdentity(f"not a CMS SignedData: {exc}") from exc
    if digest is None or digest.tag != der.OCTET_STRING:
        raise MalformedIdentity("signed attributes need exactly one messageDigest")
    body_digest = hashlib.new(hash_algorithm.name, body).digest()
    if not hmac.compare_digest(digest_value, body_digest):
        raise BadSignature("messageDigest does not match the body")
    return cert, signer.signed_attrs, signer.signature, hash_algorithm, family


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
        if algo == "rsa" and isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, signed_bytes, padding.PKCS1v15(), hash_algorithm)
        elif algo == "ecdsa" and isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, signed_bytes, ec.ECDSA(hash_algorithm))
        else:
            raise MalformedIdentity(f"{algo} signature with a {type(public_key).__name__}")
    except InvalidSignature as exc:
        raise BadSignature("signature does not verify") from exc
    except DECODE_ERRORS as exc:
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


def presented_certificate(body: bytes, *, signature: str | None,
                          forwarded_certificate: str | None) -> x509.Certificate:
    """The certificate whose key signed ``body`` (Mdm-Signature), else the forwarded TLS
    client certificate. Proves possession of the key, not that we trust it."""
    if signature:
        return verify_mdm_signature(signature, body)
    if forwarded_certificate:
        return load_forwarded_client_cert(forwarded_certificate)
    raise MalformedIdentity("no Mdm-Signature and no client certificate")
