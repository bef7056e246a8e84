"""Open a CMS SignedData that carries its content (an attached signature): the content and
the certificate that signed it, once the signature checks out against that certificate.

Apple devices sign their machine-info plist this way (account-driven enrollment) with their
built-in device identity, whose CA is Apple's: this module proves the body was not altered
and who signed it, not that Apple issued the signer. Pure: no Django.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from pki import der, signed_data
from pki.malformed import DECODE_ERRORS

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1, "sha224": hashes.SHA224, "sha256": hashes.SHA256,
    "sha384": hashes.SHA384, "sha512": hashes.SHA512,
}


class SignedContentError(ValueError):
    """Not an attached SignedData, or its signature does not verify; the message says why."""


@dataclass(frozen=True)
class SignedContent:
    content: bytes
    signer_certificate: bytes  # DER


def open_signed(data: bytes) -> SignedContent:
    """The content of ``data`` (DER/BER ContentInfo) and its one signer's certificate."""
    try:
        signed = signed_data.parse(bytes(data))
    except der.DerError as exc:
        raise SignedContentError(f"not a CMS SignedData: {exc}") from None
    if signed.content is None:
        raise SignedContentError("the SignedData carries no content")
    if len(signed.signers) != 1:
        raise SignedContentError(f"expected one signer, found {len(signed.signers)}")
    signer = signed.signers[0]
    hash_class = _HASHES.get(signer.digest_name or "")
    family = signer.signature_family
    if hash_class is None or family is None:
        raise SignedContentError("unsupported digest or signature algorithm")
    try:
        certificate_der = signed_data.signer_certificate(signed, signer)
        if certificate_der is None:
            raise SignedContentError("the signer's certificate is not in the SignedData")
        covered = signed.content
        if signer.signed_attrs is not None:
            digest = signed_data.only(signer.values(signed_data.MESSAGE_DIGEST_ATTR))
            if digest is None or digest.tag != der.OCTET_STRING:
                raise SignedContentError("signed attributes need one messageDigest")
            expected = hashlib.new(hash_class.name, signed.content).digest()
            if not hmac.compare_digest(der.decode_octets(digest), expected):
                raise SignedContentError("messageDigest does not match the content")
            covered = signer.signed_attrs
        key = x509.load_der_x509_certificate(certificate_der).public_key()
        if family == "rsa" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signer.signature, covered, padding.PKCS1v15(), hash_class())
        elif family == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signer.signature, covered, ec.ECDSA(hash_class()))
        else:
            raise SignedContentError(f"{family} signature with a {type(key).__name__}")
    except InvalidSignature:
        raise SignedContentError("the signature does not verify") from None
    except SignedContentError:
        raise
    except DECODE_ERRORS as exc:
        raise SignedContentError(f"malformed signer: {exc}") from None
    return SignedContent(signed.content, certificate_der)
