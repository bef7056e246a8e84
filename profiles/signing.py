"""Signing configuration profiles: CMS SignedData with the profile attached (DER).

Devices show a signed profile as "Verified" when the signer chains to a trusted root; the
signature also protects the enrollment profile from tampering on its way to the device.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from cryptography.x509.oid import NameOID

from pki import keys
from pki.authority import fit_name_component


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


def issue_signing_certificate(
    ca_key: rsa.RSAPrivateKey,
    ca_certificate: x509.Certificate,
    *,
    common_name: str,
    organization: str,
    days: int = 365,
    now: datetime.datetime | None = None,
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A new key and a certificate for it, issued by the tenant CA, fit to sign profiles.

    Key usage is digitalSignature only, with no extended key usage: OpenSSL's default
    ``cms -verify`` purpose (S/MIME signing) accepts that, and so do Apple devices.
    """
    now = now or datetime.datetime.now(datetime.UTC)
    key = keys.new_rsa_key(2048)
    not_after = min(now + datetime.timedelta(days=days), ca_certificate.not_valid_after_utc)
    subject = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, fit_name_component(organization)),
        x509.NameAttribute(NameOID.COMMON_NAME, fit_name_component(common_name)),
    ])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            ca_certificate.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, certificate


