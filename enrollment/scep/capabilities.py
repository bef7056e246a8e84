"""GetCACaps and GetCACert answers (RFC 8894 sections 3.5.2 and 4.2)."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from enrollment.scep.messages import degenerate_certificates

CA_CAPABILITIES: tuple[str, ...] = (
    "POSTPKIOperation",
    "SHA-1",
    "SHA-256",
    "SHA-512",
    "AES",
    "DES3",
    "SCEPStandard",
    "Renewal",
)
CA_CAPS_CONTENT_TYPE = "text/plain"
CA_CERT_CONTENT_TYPE = "application/x-x509-ca-cert"
CA_RA_CERT_CONTENT_TYPE = "application/x-x509-ca-ra-cert"


def get_ca_caps() -> str:
    """The GetCACaps body: one capability a line."""
    return "\n".join(CA_CAPABILITIES)


def get_ca_cert_response(chain: Sequence[x509.Certificate]) -> tuple[str, bytes]:
    """(content type, body) of GetCACert: the CA certificate as DER when it is alone,
    otherwise a degenerate certs-only PKCS#7 of them all, in the order given (the server
    gives the CA first, its chain, then the RA; clients tell the RA by its key usage)."""
    if not chain:
        raise ValueError("GetCACert needs at least the CA certificate")
    if len(chain) == 1:
        return CA_CERT_CONTENT_TYPE, chain[0].public_bytes(Encoding.DER)
    return CA_RA_CERT_CONTENT_TYPE, degenerate_certificates(chain)
