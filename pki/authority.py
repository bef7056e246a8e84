"""Create or load a CA key pair: generated (RSA), PEM key + certificate, or PKCS#12."""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from pki import keys
from pki.malformed import DECODE_ERRORS


class CAImportError(ValueError):
    """The supplied key/certificate cannot serve as this tenant's CA (message is user-facing)."""


@dataclass(frozen=True)
class KeyPair:
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate
    # An imported intermediate CA's issuers, nearest first, up to the root when it was given.
    chain: tuple[x509.Certificate, ...] = ()

    @property
    def key_der(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.DER,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())

    @property
    def certificate_der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def chain_pem(self) -> str:
        return "".join(cert.public_bytes(serialization.Encoding.PEM).decode()
                       for cert in self.chain)


def random_serial() -> int:
    # 159 random bits: positive, fits the 20-octet limit of RFC 5280 with room to spare.
    return secrets.randbits(159) | 1 << 158


def fit_name_component(value: str) -> str:
    """Trim to the 64 UTF-8 bytes an X.509 name attribute may hold, on a character boundary."""
    return value.encode()[:64].decode(errors="ignore").strip() or "MDM"


def generate_ca(common_name: str, organization: str, *, years: int = 10,
                key_size: int = 2048) -> KeyPair:
    key = keys.new_rsa_key(key_size)
    name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, fit_name_component(organization)),
        x509.NameAttribute(NameOID.COMMON_NAME, fit_name_component(common_name)),
    ])
    now = dt.datetime.now(dt.UTC)
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(public)
        .serial_number(random_serial())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=True,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return KeyPair(key, certificate)


def _checked(key, certificate: x509.Certificate,
             others: Sequence[x509.Certificate] = ()) -> KeyPair:
    """``key`` and ``certificate`` as a CA that can issue, with ``others`` (in any order) as
    the chain above it."""
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CAImportError("The CA key must be an RSA key (SCEP clients encrypt to it).")
    try:  # both are parsed lazily: a malformed extension or key surfaces here
        extensions = certificate.extensions
        certificate_key = certificate.public_key()
    except DECODE_ERRORS:
        raise CAImportError("The certificate has a malformed extension or an unsupported "
                            "public key.") from None
    if not _same_key(key, certificate_key):
        raise CAImportError("The private key does not match the certificate.")
    try:
        constraints = extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        raise CAImportError("The certificate is not a CA certificate "
                            "(no basicConstraints).") from None
    if not constraints.ca:
        raise CAImportError("The certificate is not a CA certificate (basicConstraints CA:FALSE).")
    with contextlib.suppress(x509.ExtensionNotFound):
        if not extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign:
            raise CAImportError("The certificate may not sign certificates "
                                "(its keyUsage lacks keyCertSign).")
    now = dt.datetime.now(dt.UTC)
    if certificate.not_valid_before_utc > now:
        raise CAImportError(f"The certificate is not valid before "
                            f"{certificate.not_valid_before_utc:%Y-%m-%d %H:%M} UTC.")
    if certificate.not_valid_after_utc <= now:
        raise CAImportError("The certificate has expired.")
    return KeyPair(key, certificate, _chain_above(certificate, others, now))


def _issuer_among(certificate: x509.Certificate,
                  candidates: list[x509.Certificate]) -> x509.Certificate | None:
    for candidate in candidates:
        try:
            certificate.verify_directly_issued_by(candidate)
        except (*DECODE_ERRORS, InvalidSignature):
            continue
        return candidate
    return None


def _chain_above(certificate: x509.Certificate, others: Sequence[x509.Certificate],
                 now: dt.datetime) -> tuple[x509.Certificate, ...]:
    """``others`` ordered from ``certificate``'s issuer up; each must be a valid CA that
    signed the one below it, and every one of them must be on that path."""
    remaining = list(dict.fromkeys(other for other in others if other != certificate))
    chain: list[x509.Certificate] = []
    current = certificate
    while remaining and current.issuer != current.subject:
        issuer = _issuer_among(current, remaining)
        if issuer is None:
            break
        remaining.remove(issuer)
        chain.append(issuer)
        current = issuer
    if remaining:
        raise CAImportError(f"The certificate {subject_text(remaining[0].subject)} is not on "
                            f"the CA certificate's chain (one path from it up to its root).")
    for below, issuer in enumerate(chain, start=1):  # `below`: CA certificates under it
        try:
            constraints = issuer.extensions.get_extension_for_class(
                x509.BasicConstraints).value
        except (*DECODE_ERRORS, x509.ExtensionNotFound):
            constraints = None
        if constraints is None or not constraints.ca:
            raise CAImportError(f"The chain certificate {subject_text(issuer.subject)} is not "
                                f"a CA certificate.")
        with contextlib.suppress(x509.ExtensionNotFound):
            if not issuer.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign:
                raise CAImportError(f"The chain certificate {subject_text(issuer.subject)} may "
                                    f"not sign certificates (its keyUsage lacks keyCertSign).")
        if constraints.path_length is not None and constraints.path_length < below:
            raise CAImportError(f"The chain certificate {subject_text(issuer.subject)} allows "
                                f"{constraints.path_length} CA certificate(s) below it, not "
                                f"{below}: devices would not trust the chain.")
        if not issuer.not_valid_before_utc <= now < issuer.not_valid_after_utc:
            raise CAImportError(f"The chain certificate {subject_text(issuer.subject)} is not "
                                f"valid now.")
    return tuple(chain)


def load_pem(key_pem: bytes, certificate_pem: bytes, password: bytes | None = None) -> KeyPair:
    try:
        key = serialization.load_pem_private_key(key_pem, password=password or None)
    except TypeError:  # a password for a clear key, or none for an encrypted one
        raise CAImportError("The private key is not encrypted: leave the password empty."
                            if password else
                            "The private key is encrypted: give its password.") from None
    except UnsupportedAlgorithm:
        raise CAImportError("The private key's algorithm is not supported "
                            "(the CA key must be RSA).") from None
    except ValueError:
        raise CAImportError("The private key is not a valid PEM key, "
                            "or the password is wrong.") from None
    try:
        certificates = x509.load_pem_x509_certificates(certificate_pem)
    except DECODE_ERRORS:
        raise CAImportError("The certificate is not a valid PEM certificate.") from None
    return _checked(key, _matching(key, certificates), certificates)


def _same_key(key: rsa.RSAPrivateKey, public_key) -> bool:
    return isinstance(public_key, rsa.RSAPublicKey) and (
        key.public_key().public_numbers() == public_key.public_numbers())


def _matching(key, certificates: list[x509.Certificate]) -> x509.Certificate:
    """Of a CA certificate and its chain, in any order, the one for ``key``."""
    if isinstance(key, rsa.RSAPrivateKey):
        for certificate in certificates:
            with contextlib.suppress(*DECODE_ERRORS):
                if _same_key(key, certificate.public_key()):
                    return certificate
    return certificates[0]  # _checked says what is wrong with it


def load_pkcs12_bundle(data: bytes, password: bytes | None) -> KeyPair:
    try:
        key, certificate, others = pkcs12.load_key_and_certificates(data, password or None)
    except UnsupportedAlgorithm:
        raise CAImportError("The PKCS#12 file uses an algorithm that is not supported.") from None
    except DECODE_ERRORS:
        raise CAImportError("Not a PKCS#12 file, or the password is wrong.") from None
    if key is None or certificate is None:
        raise CAImportError("The PKCS#12 file must hold a private key and its certificate.")
    return _checked(key, certificate, others)


def load_key_pair(key_der: bytes, certificate_der: bytes, chain_pem: str = "") -> KeyPair:
    chain = tuple(x509.load_pem_x509_certificates(chain_pem.encode())) if chain_pem else ()
    return KeyPair(serialization.load_der_private_key(key_der, password=None),
                   x509.load_der_x509_certificate(certificate_der), chain)


@lru_cache(maxsize=8192)  # a device presents the same certificate on every request
def fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 of the DER, hex. Cached: ``Certificate.fingerprint`` re-encodes the
    certificate each time (10 us), hashing the object to find it costs a quarter of that."""
    return certificate.fingerprint(hashes.SHA256()).hex()


def subject_text(name: x509.Name) -> str:
    return name.rfc4514_string()
