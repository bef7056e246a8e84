"""Test helpers: make a tenant ready for Apple enrollment and get device identities issued by
the real SCEP service for a real registration (no HTTP)."""

from __future__ import annotations

from cryptography.hazmat.primitives.serialization import Encoding
from django.test import Client

from enrollment.scep.service import handle_pki_operation
from enrollment.services.apple_settings import do_save_apple_settings
from enrollment.services.authorities import active_authority, key_pair, ra_key_pair
from enrollment.services.registrations import do_claim_profile, do_start_registration
from tests.base.apple.simulator import TOPIC, SimulatedDevice, shared_key
from tests.base.scep.client import build_request, decode_cert_rep, make_csr, make_signer


def ready_tenant(tenant, admin=None) -> None:
    do_save_apple_settings(tenant, actor=admin or "test", push_topic=TOPIC)


def issue_identity(tenant, user, platform: str = "ios", *, key=None):
    """(registration, certificate) for a fresh registration of ``user``."""
    started = do_start_registration(tenant, user, platform, "api", actor=user)
    registration, minted = do_claim_profile(tenant, started.profile_token)
    key = key or shared_key()
    authority = active_authority(tenant)
    ca, ra = key_pair(authority).certificate, ra_key_pair(authority).certificate
    signer = make_signer(key=key)
    csr = make_csr(key, f"{tenant.slug} registration {registration.pk}", minted.raw)
    request = build_request(csr, signer, ra)
    reply = handle_pki_operation(tenant, authority, request.der)
    result = decode_cert_rep(reply.body, request, ca, ra_cert=ra)
    assert result.fail_info is None, result
    registration.refresh_from_db()
    return registration, result.certificate


def django_transport(client: Client | None = None):
    client = client or Client()

    def transport(path: str, body: bytes, headers: dict) -> tuple[int, bytes]:
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
        response = client.generic("PUT", path, body,
                                  content_type="application/x-apple-aspen-mdm-checkin", **extra)
        return response.status_code, response.content

    return transport


def simulated_device(tenant, user, platform: str = "ios", **kwargs) -> SimulatedDevice:
    registration, cert = issue_identity(tenant, user, platform)
    device = SimulatedDevice(tenant.slug, django_transport(), shared_key(), cert, **kwargs)
    if platform == "macos":
        device.product_name, device.os_version = "MacBookPro18,3", "14.4"
    device.registration = registration
    return device


def cert_pem(cert) -> bytes:
    return cert.public_bytes(Encoding.PEM)
