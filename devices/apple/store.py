"""Storage side of Apple device identity: the tenant's CA certificates, the issued certificate
a request's identity maps to, and the channel rows the check-in service works on.

``identify`` is the identity "middleware" of DESIGN.md: extract the certificate (Mdm-Signature
or forwarded TLS client certificate), verify it against every CA of the tenant, and map it to
an unrevoked IssuedCertificate of the tenant. It never sees an HttpRequest.
"""

from __future__ import annotations

import os
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from django.utils import timezone

from enrollment.models import CertificateAuthority, IssuedCertificate

from ..models import AppleChannel
from . import identity

# Name of the request header a TLS-terminating proxy forwards the client certificate in, e.g.
# "X-Client-Cert" (nginx: proxy_set_header X-Client-Cert $ssl_client_escaped_cert). Unset:
# only Mdm-Signature is accepted. Never set it unless the proxy strips the header from clients.
CLIENT_CERT_HEADER_ENV = "MDM_CLIENT_CERT_HEADER"


class UnknownCertificate(identity.IdentityError):
    reason = "unknown_certificate"


class RevokedCertificate(identity.IdentityError):
    reason = "revoked"

    def __init__(self, message: str, issued: IssuedCertificate):
        super().__init__(message)
        self.issued = issued


def client_cert_meta_key() -> str | None:
    """The WSGI environ key of the configured forwarded-certificate header, if any."""
    name = os.environ.get(CLIENT_CERT_HEADER_ENV, "").strip()
    if not name:
        return None
    return "HTTP_" + name.upper().replace("-", "_")


@lru_cache(maxsize=1024)
def _ca_certificate(der: bytes) -> x509.Certificate:
    return x509.load_der_x509_certificate(der)


def tenant_ca_certificates(tenant) -> list[x509.Certificate]:
    """Every CA certificate of the tenant, active or not: devices enrolled under a rotated CA
    keep their identity."""
    rows = CertificateAuthority.objects.for_tenant(tenant).values_list("certificate_der",
                                                                        flat=True)
    return [_ca_certificate(bytes(der)) for der in rows]


def identify(tenant, body: bytes, *, signature: str | None,
             forwarded_certificate: str | None) -> IssuedCertificate:
    """The tenant's unrevoked IssuedCertificate that sent ``body``; IdentityError otherwise."""
    if signature:
        cert = identity.verify_mdm_signature(signature, body)
    elif forwarded_certificate:
        cert = identity.load_forwarded_client_cert(forwarded_certificate)
    else:
        raise identity.MalformedIdentity("no Mdm-Signature and no client certificate")
    identity.verify_chain(cert, tenant_ca_certificates(tenant), timezone.now())
    issued = (IssuedCertificate.objects.for_tenant(tenant).select_related("device")
              .filter(fingerprint_sha256=cert.fingerprint(hashes.SHA256()).hex()).first())
    if issued is None:
        raise UnknownCertificate("signed by our CA but not a certificate we issued")
    if issued.revoked_at is not None:
        raise RevokedCertificate(f"certificate {issued.serial_hex} is revoked", issued)
    return issued


def device_channel(tenant, udid: str) -> AppleChannel | None:
    return (AppleChannel.objects.for_tenant(tenant).select_related("device")
            .filter(channel_id=udid, is_user_channel=False).first())
