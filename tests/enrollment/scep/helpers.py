"""Helpers for SCEP endpoint tests: a device identity and a request for a tenant's CA, encrypted
to its RA as RFC 8894 clients do (or to the CA, when a test says so)."""

from __future__ import annotations

import warnings

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs7

from enrollment.scep.oids import MessageType
from enrollment.services.authorities import active_authority, key_pair, ra_key_pair
from tests.base.scep.client import (
    Identity,
    ScepRequest,
    build_request,
    decode_cert_rep,
    make_csr,
    make_signer,
    new_key,
)


def tenant_ca_cert(tenant) -> x509.Certificate:
    return key_pair(active_authority(tenant)).certificate


def tenant_ra_cert(tenant) -> x509.Certificate:
    return ra_key_pair(active_authority(tenant)).certificate


def pkcs_req(tenant, challenge: str | None, *, cn: str = "device-1", key=None,
             cipher: str = "aes256", digest: str = "sha256",
             ca_cert: x509.Certificate | None = None,
             signer: Identity | None = None) -> ScepRequest:
    """A PKCSReq encrypted to ``ca_cert`` (default: the tenant's RA), signed by ``signer``
    (default: a self-signed certificate of the new key, as on a first enrollment)."""
    key = key or new_key()
    signer = signer or make_signer(cn, key)
    return build_request(make_csr(key, cn, challenge), signer, ca_cert or tenant_ra_cert(tenant),
                         cipher=cipher, digest=digest)


def renewal_req(tenant, identity: Identity, *, cn: str = "device-1") -> ScepRequest:
    key = new_key()
    return build_request(make_csr(key, cn), identity, tenant_ra_cert(tenant),
                         message_type=MessageType.RENEWAL_REQ)


def load_certificates(degenerate_pkcs7: bytes) -> list[x509.Certificate]:
    """The certificates of a GetCACert answer, in their order (kept, not DER-sorted: hence
    cryptography's BER fallback, and its warning, silenced here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return pkcs7.load_der_pkcs7_certificates(degenerate_pkcs7)


def post(client, tenant, request: ScepRequest):
    return client.post(f"/t/{tenant.slug}/scep?operation=PKIOperation", data=request.der,
                       content_type="application/x-pki-message")


def decode(response, request: ScepRequest, tenant):
    assert response.status_code == 200, response.content[:200]
    assert response["Content-Type"] == "application/x-pki-message"
    return decode_cert_rep(response.content, request, tenant_ca_cert(tenant),
                           ra_cert=tenant_ra_cert(tenant))
