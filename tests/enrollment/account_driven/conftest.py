"""Fixtures of the account-driven enrollment tests: a tenant ready for Apple enrollment with
a managed domain, users, and the bodies a device posts."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from devices.simulator.account_driven import signed_machine_info
from enrollment.services.managed_domains import do_add_managed_domain
from tests.base.apple.devices import ready_tenant
from tests.conftest import PASSWORD
from users.models import User, UserSource


@pytest.fixture(scope="session")
def device_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def machine_info(device_key) -> bytes:
    return signed_machine_info(device_key)


@pytest.fixture
def apple_tenant(tenant, admin):
    """acme, with a push topic and the managed domain acme.test."""
    ready_tenant(tenant, admin)
    do_add_managed_domain(tenant, "acme.test", actor=admin)
    return tenant


@pytest.fixture
def alice(tenant):
    return User.objects.create_user(tenant, "alice@acme.test", PASSWORD, first_name="Alice")


@pytest.fixture
def bob(tenant):
    """No password: a one-time PIN, then a new password."""
    return User.objects.create_user(tenant, "bob@acme.test", None, first_name="Bob")


@pytest.fixture
def carol(tenant):
    """A directory (LDAP) user."""
    return User.objects.create_user(tenant, "carol@acme.test", None, source=UserSource.LDAP,
                                    ldap_dn="uid=carol,ou=people,dc=acme,dc=test")


def enroll_path(slug: str = "acme", mode: str = "adde") -> str:
    return f"/t/{slug}/enroll/account/{mode}"


def post_enroll(client, body: bytes, token: str | None = None, *, slug: str = "acme",
                mode: str = "adde"):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token is not None else {}
    return client.post(enroll_path(slug, mode), data=body,
                       content_type="application/pkcs7-signature", **headers)
