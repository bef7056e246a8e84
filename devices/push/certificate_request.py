"""The MDM push certificate request made here: this server's push key and CSR, an MDM vendor
certificate (with its key and Apple's chain) that signs the CSR into the file Apple's Push
Certificates Portal (identity.apple.com) accepts, and Apple's answer read back.

No Django here. The vendor-signed request is the file micromdm's `mdmctl mdmcert vendor -sign`
writes: base64 (one line) of an XML plist whose keys are, in this order,

- `PushCertRequestCSR`: base64 of the DER CSR;
- `PushCertCertificateChain`: PEM of the vendor certificate, Apple's WWDR intermediate and
  Apple Root CA, in that order;
- `PushCertSignature`: base64 of the vendor key's RSA PKCS#1 v1.5 SHA-256 signature of the
  DER CSR.

Apple answers with a certificate only (`MDM_<org>_Certificate.pem`): the key stayed here, and
the certificate is matched to it by public key (`public_key_sha256`).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import plistlib
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from devices.push.apns import ApnsCertificateError
from pki.malformed import DECODE_ERRORS

REQUEST_FILENAME = "PushCertificateRequest.plist"
CSR_FILENAME = "PushCertificateRequest.csr"
_PEM_KEY = re.compile(rb"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.+?-----END \1PRIVATE KEY-----",
                      re.DOTALL)


class VendorCertificateError(ValueError):
    """The MDM vendor certificate, its key or its chain cannot be used (user-facing)."""


class PushCertificateFileError(ApnsCertificateError):
    """The upload is not a certificate (user-facing)."""


# --- keys, CSRs, certificates ----------------------------------------------------------------

def public_key_sha256(public_key) -> str:
    """SHA-256 (hex) of the SubjectPublicKeyInfo: how Apple's certificate finds its key."""
    return hashlib.sha256(public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).hexdigest()


def certificate_key_sha256(certificate: x509.Certificate) -> str | None:
    """`public_key_sha256` of a certificate's key; None when its key cannot be read."""
    try:
        return public_key_sha256(certificate.public_key())
    except (*DECODE_ERRORS, UnsupportedAlgorithm):
        return None


def new_push_csr(key: rsa.RSAPrivateKey, *, common_name: str, email: str = "") -> bytes:
    """The push certificate's CSR (DER), shaped as Keychain Access makes them."""
    names = [x509.NameAttribute(NameOID.COMMON_NAME,
                                common_name.encode()[:64].decode(errors="ignore") or "MDM")]
    if email:
        names.append(x509.NameAttribute(NameOID.EMAIL_ADDRESS, email))
    csr = (x509.CertificateSigningRequestBuilder().subject_name(x509.Name(names))
           .sign(key, hashes.SHA256()))
    return csr.public_bytes(serialization.Encoding.DER)


def csr_pem(csr_der: bytes) -> str:
    return x509.load_der_x509_csr(csr_der).public_bytes(serialization.Encoding.PEM).decode()


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _split_der(data: bytes) -> list[bytes]:
    """Concatenated DER certificates (`cat AppleWWDRCAG3.cer AppleIncRootCertificate.cer`)."""
    parts, offset = [], 0
    while offset < len(data):
        if offset + 2 > len(data) or data[offset] != 0x30:
            raise ValueError("not DER")
        first = data[offset + 1]
        if first < 0x80:
            header, length = 2, first
        else:
            count = first & 0x7F
            if not 1 <= count <= 4 or offset + 2 + count > len(data):
                raise ValueError("not DER")
            header = 2 + count
            length = int.from_bytes(data[offset + 2:offset + header], "big")
        end = offset + header + length
        if end > len(data):
            raise ValueError("truncated DER")
        parts.append(data[offset:end])
        offset = end
    return parts


def _certificates(data: bytes) -> list[x509.Certificate]:
    """Every certificate of a PEM file (other blocks ignored) or of concatenated DER."""
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificates(data)
    return [x509.load_der_x509_certificate(part) for part in _split_der(data)]


def certificate_only(data: bytes, key_data: bytes | None = None) -> x509.Certificate | None:
    """Apple's answer to a request made here: the first certificate of a PEM file without a
    private key, or a DER certificate, when no key was uploaded with it. None when the upload
    carries a key (or is something else, e.g. a .p12): the caller reads it with its key."""
    if key_data and key_data.strip():
        return None
    if b"PushCertRequestCSR" in data or b"PD94bWwg" in data[:16]:  # "<?xml " in base64
        raise PushCertificateFileError(
            "This is the push certificate request: upload it to Apple's Push Certificates "
            "Portal (identity.apple.com), then upload the certificate Apple gives back here.")
    if b"-----BEGIN" in data:
        if _PEM_KEY.search(data):
            return None
        try:
            return x509.load_pem_x509_certificates(data)[0]
        except DECODE_ERRORS:
            raise PushCertificateFileError(
                "No certificate found in the PEM file: upload the .pem from Apple's Push "
                "Certificates Portal.") from None
    try:
        return x509.load_der_x509_certificate(data)
    except DECODE_ERRORS:
        return None  # perhaps a .p12: read with its password elsewhere


# --- the vendor certificate ------------------------------------------------------------------

@dataclass(frozen=True)
class VendorCertificate:
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate
    issuers: tuple[x509.Certificate, ...]  # nearest first, up to a self-signed root

    @property
    def chain_pem(self) -> str:
        """The vendor certificate, then its issuers: `PushCertCertificateChain`."""
        return b"".join(_pem(cert) for cert in (self.certificate, *self.issuers)).decode()

    @property
    def issuers_pem(self) -> str:
        return b"".join(_pem(cert) for cert in self.issuers).decode()

    @property
    def certificate_pem(self) -> str:
        return _pem(self.certificate).decode()

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())

    @property
    def subject(self) -> str:
        return self.certificate.subject.rfc4514_string()[:500]

    @property
    def serial_number(self) -> str:
        return format(self.certificate.serial_number, "x")

    @property
    def not_after(self) -> dt.datetime:
        return self.certificate.not_valid_after_utc


def _load_key(blob: bytes, password: bytes | None):
    found = _PEM_KEY.search(blob)
    try:
        if found is not None:
            return serialization.load_pem_private_key(found.group(0), password=password)
        return serialization.load_der_private_key(blob, password=password)
    except TypeError:  # a password for a clear key, or none for an encrypted one
        raise VendorCertificateError("The vendor key is not encrypted: leave the password "
                                     "empty." if password else "The vendor key is encrypted: "
                                     "give its password.") from None
    except (*DECODE_ERRORS, UnsupportedAlgorithm):
        raise VendorCertificateError("The vendor key cannot be read (wrong password, or not "
                                     "a PEM private key).") from None


def load_vendor_certificate(data: bytes, *, password: str | None = None,
                            key_data: bytes | None = None, chain_data: bytes | None = None,
                            now: dt.datetime | None = None) -> VendorCertificate:
    """Read the MDM vendor certificate ("MDM CSR" certificate from Apple Developer) with its
    key and Apple's chain from a .p12, or from PEM/DER files: `data` (certificate, and maybe
    the chain and the key), `key_data` (the key), `chain_data` (Apple's WWDR intermediate and
    Apple Root CA). Raises VendorCertificateError with a message for the admin."""
    pw = password.encode() if password else None
    key, certificates = None, []
    is_pem = b"-----BEGIN" in data
    if not is_pem:
        try:
            certificates = _certificates(data)
        except DECODE_ERRORS:
            try:
                key, first, others = pkcs12.load_key_and_certificates(data, pw)
            except (*DECODE_ERRORS, UnsupportedAlgorithm):
                raise VendorCertificateError(
                    "The vendor certificate cannot be read: give a .p12 (and its password), "
                    "or the certificate as PEM or DER (.cer).") from None
            certificates = [cert for cert in (first, *others) if cert is not None]
    else:
        try:
            certificates = x509.load_pem_x509_certificates(data)
        except DECODE_ERRORS:
            raise VendorCertificateError("No certificate found in the vendor certificate "
                                         "file.") from None
    if not certificates:
        raise VendorCertificateError("No certificate found in the vendor certificate file.")
    if chain_data and chain_data.strip():
        try:
            certificates += _certificates(chain_data)
        except DECODE_ERRORS:
            raise VendorCertificateError("The chain file holds no certificate: give Apple's "
                                         "WWDR intermediate and Apple Root CA, PEM or "
                                         "DER.") from None
    if key is None:
        if key_data and key_data.strip():
            key = _load_key(key_data, pw)
        elif is_pem and _PEM_KEY.search(data):
            key = _load_key(data, pw)
        else:
            raise VendorCertificateError(
                "The vendor certificate's private key is missing: upload the key you made the "
                "MDM CSR with (PEM), or a .p12 holding both.")
    if not isinstance(key, rsa.RSAPrivateKey):
        raise VendorCertificateError("The vendor key must be an RSA key.")
    wanted = public_key_sha256(key.public_key())
    vendor = next((cert for cert in certificates if certificate_key_sha256(cert) == wanted),
                  None)
    if vendor is None:
        raise VendorCertificateError("The private key does not belong to the vendor "
                                     "certificate.")
    now = now or dt.datetime.now(dt.UTC)
    if vendor.not_valid_after_utc <= now:
        raise VendorCertificateError(
            f"The vendor certificate expired on {vendor.not_valid_after_utc:%Y-%m-%d}: renew it "
            f"in Apple Developer (Certificates, MDM CSR).")
    if vendor.not_valid_before_utc > now:
        raise VendorCertificateError("The vendor certificate is not valid yet.")
    return VendorCertificate(key, vendor, _issuers(vendor, certificates))


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
    except UnsupportedAlgorithm:  # names match; an old signature algorithm
        return certificate.issuer == issuer.subject
    except (*DECODE_ERRORS, InvalidSignature):
        return False
    return True


def _issuers(vendor: x509.Certificate,
             certificates: list[x509.Certificate]) -> tuple[x509.Certificate, ...]:
    """The chain above the vendor certificate, nearest first, which Apple wants complete: up to
    a self-signed root (Apple Root CA), with nothing else in the files."""
    remaining = list(dict.fromkeys(cert for cert in certificates if cert != vendor))
    chain, current = [], vendor
    while current.issuer != current.subject:
        issuer = next((cert for cert in remaining if _issued_by(current, cert)), None)
        if issuer is None:
            raise VendorCertificateError(
                f"The chain stops at {current.issuer.rfc4514_string()}: add Apple's WWDR "
                f"intermediate and Apple Root CA (PEM or DER) after the vendor certificate.")
        remaining.remove(issuer)
        chain.append(issuer)
        current = issuer
    if remaining:
        raise VendorCertificateError(f"The certificate {remaining[0].subject.rfc4514_string()} "
                                     f"is not on the vendor certificate's chain.")
    if not chain:
        raise VendorCertificateError("The vendor certificate is self-signed: use the MDM CSR "
                                     "certificate Apple Developer issued.")
    return tuple(chain)


# --- the vendor-signed request ---------------------------------------------------------------

def sign_push_request(csr_der: bytes, vendor: VendorCertificate) -> bytes:
    """The file to upload to identity.apple.com (base64 of the XML plist, ASCII)."""
    signature = vendor.key.sign(csr_der, padding.PKCS1v15(), hashes.SHA256())
    plist = plistlib.dumps({
        "PushCertRequestCSR": base64.b64encode(csr_der).decode(),
        "PushCertCertificateChain": vendor.chain_pem,
        "PushCertSignature": base64.b64encode(signature).decode(),
    }, fmt=plistlib.FMT_XML, sort_keys=False)
    return base64.b64encode(plist)
