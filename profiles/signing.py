"""Signing configuration profiles: CMS SignedData with the profile attached (DER).

Devices show a signed profile as "Verified" when the signer chains to a trusted root; the
signature also protects the enrollment profile from tampering on its way to the device.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7


def sign_profile(
    data: bytes,
    cert: x509.Certificate,
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    chain: Sequence[x509.Certificate] = (),
) -> bytes:
    """Sign ``data`` (a serialized profile) with SHA-256; ``chain``: intermediates to embed.

    ``Binary`` keeps the plist bytes exactly as given (no MIME canonicalisation of line ends).
    """
    builder = pkcs7.PKCS7SignatureBuilder().set_data(data).add_signer(cert, key, hashes.SHA256())
    for intermediate in chain:
        builder = builder.add_certificate(intermediate)
    return builder.sign(Encoding.DER, [pkcs7.PKCS7Options.Binary])
