"""Helpers for SCEP endpoint tests: a device identity and a request for a tenant's CA."""

from __future__ import annotations

from cryptography import x509

from enrollment.scep.oids import MessageType
from enrollment.services.authorities import active_authority, key_pair
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


def pkcs_req(tenant, challenge: str | None, *, cn: str = "device-1", key=None,
             cipher: str = "aes256", digest: str = "sha256",
             ca_cert: x509.Certificate | None = None) -> ScepRequest:
    key = key or new_key()
    signer = make_signer(cn, key)
    return build_request(make_csr(key, cn, challenge), signer, ca_cert or tenant_ca_cert(tenant),
                         cipher=cipher, digest=digest)


def renewal_req(tenant, identity: Identity, *, cn: str = "device-1") -> ScepRequest:
    key = new_key()
    return build_request(make_csr(key, cn), identity, tenant_ca_cert(tenant),
                         message_type=MessageType.RENEWAL_REQ)


def post(client, tenant, request: ScepRequest):
    return client.post(f"/t/{tenant.slug}/scep?operation=PKIOperation", data=request.der,
                       content_type="application/x-pki-message")


def decode(response, request: ScepRequest, tenant):
    assert response.status_code == 200, response.content[:200]
    assert response["Content-Type"] == "application/x-pki-message"
    return decode_cert_rep(response.content, request, tenant_ca_cert(tenant))
