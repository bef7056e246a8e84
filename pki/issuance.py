"""Issue a device identity certificate from a CSR (the policy's last step)."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pki.authority import KeyPair

# Apple's SCEP payload limits the subject to these; anything else in a CSR is dropped.
ALLOWED_SUBJECT_OIDS = (
    NameOID.COUNTRY_NAME, NameOID.LOCALITY_NAME, NameOID.STATE_OR_PROVINCE_NAME,
    NameOID.ORGANIZATION_NAME, NameOID.ORGANIZATIONAL_UNIT_NAME, NameOID.COMMON_NAME,
)


# RFC 5280 appendix A upper bounds, in characters.
SUBJECT_UPPER_BOUNDS = {
    NameOID.COUNTRY_NAME: 2, NameOID.LOCALITY_NAME: 128, NameOID.STATE_OR_PROVINCE_NAME: 128,
    NameOID.ORGANIZATION_NAME: 64, NameOID.ORGANIZATIONAL_UNIT_NAME: 64, NameOID.COMMON_NAME: 64,
}


def allowed_subject(name: x509.Name) -> x509.Name:
    return x509.Name([attr for attr in name if attr.oid in ALLOWED_SUBJECT_OIDS])


def issue_certificate(csr: x509.CertificateSigningRequest, ca: KeyPair, *, serial: int,
                      validity_days: int, now: dt.datetime | None = None) -> x509.Certificate:
    now = now or dt.datetime.now(dt.UTC)
    public = csr.public_key()
    # Never outlive the CA or any issuer above it: past that, no device could verify it.
    not_after = min(now + dt.timedelta(days=validity_days), ca.certificate.not_valid_after_utc,
                    *(issuer.not_valid_after_utc for issuer in ca.chain))
    return (
        x509.CertificateBuilder()
        .subject_name(allowed_subject(csr.subject))
        .issuer_name(ca.certificate.subject)
        .public_key(public)
        .serial_number(serial)
        .not_valid_before(now - dt.timedelta(minutes=5))  # tolerate device clock skew
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=True,
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            ca.certificate.public_key()), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
