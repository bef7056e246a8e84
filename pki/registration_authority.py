"""The SCEP registration authority (RA) certificate of a CA (RFC 8894 sections 2.1 and 4.2).

A SCEP client that gets more than the CA from GetCACert files the RA as the certificate that
signs CertReps and that requests are encrypted to, and keeps the CA as the root it verifies
it with; one that gets the CA alone (certmonger) files the CA as the RA and has no root, so
it cannot verify a CertRep at all. The RA is an end-entity certificate of the CA, told apart
by its key usage (digitalSignature, keyEncipherment) and its basicConstraints (not a CA),
and never valid past the CA or any issuer above it.
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from pki import keys
from pki.authority import KeyPair, fit_name_component, random_serial


def _ra_name(ca: x509.Certificate) -> x509.Name:
    common_names = ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common_name = str(common_names[0].value) if common_names else "MDM CA"
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, str(org.value))
                  for org in ca.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[:1]]
    # The CA's name may fill the 64 characters: the suffix is what must survive.
    suffix = " SCEP RA"
    prefix = fit_name_component(common_name)[:64 - len(suffix)].rstrip()
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, prefix + suffix))
    return x509.Name(attributes)


def issue_ra(ca: KeyPair, *, now: dt.datetime | None = None) -> KeyPair:
    """A new RA key and certificate issued by ``ca``; its ``chain`` is the CA's path (the CA,
    then its issuers). Valid as long as the CA and every issuer above it, no longer: it is
    reissued with the CA, never on its own."""
    now = now or dt.datetime.now(dt.UTC)
    key = keys.new_rsa_key()  # RSA: clients encrypt their requests to it
    public = key.public_key()
    not_after = min(cert.not_valid_after_utc for cert in (ca.certificate, *ca.chain))
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_ra_name(ca.certificate))
        .issuer_name(ca.certificate.subject)
        .public_key(public)
        .serial_number(random_serial())
        .not_valid_before(max(now - dt.timedelta(minutes=5), ca.certificate.not_valid_before_utc))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=True,
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            ca.certificate.public_key()), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    return KeyPair(key, certificate, (ca.certificate, *ca.chain))


def is_ra_certificate(certificate: x509.Certificate) -> bool:
    """Whether ``certificate`` is what RFC 8894 clients take for an RA: not a CA, and allowed
    to sign and to receive encrypted keys (no keyUsage at all allows both)."""
    extensions = certificate.extensions
    try:
        if extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            return False
    except x509.ExtensionNotFound:
        pass
    try:
        usage = extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return usage.digital_signature and usage.key_encipherment
