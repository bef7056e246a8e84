"""Shared fixtures: tenants, admins, API clients. Tests run on PostgreSQL + Redis (see README)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from mdm_server.tenancy import forget_tenant
from users.services.accounts import do_create_api_token, do_create_tenant

PASSWORD = "Corr3ct-horse-battery"


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    forget_tenant()  # rolled-back tenants of earlier tests must not be served from memory
    yield


def make_tenant(slug: str):
    tenant, admin = do_create_tenant(slug, slug.title(), admin_email=f"admin@{slug}.test",
                                     admin_password=PASSWORD)
    return tenant, admin


@pytest.fixture
def tenant(db):
    return make_tenant("acme")[0]


@pytest.fixture
def admin(tenant):
    return tenant.users.get(email="admin@acme.test")


@pytest.fixture
def other_tenant(db):
    return make_tenant("globex")[0]


@pytest.fixture
def other_admin(other_tenant):
    return other_tenant.users.get(email="admin@globex.test")


def token_client(tenant, admin) -> APIClient:
    client = APIClient()
    raw = do_create_api_token(tenant, "test", actor=admin).raw
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def api(tenant, admin) -> APIClient:
    return token_client(tenant, admin)


@pytest.fixture
def other_api(other_tenant, other_admin) -> APIClient:
    return token_client(other_tenant, other_admin)


@pytest.fixture
def portal(client, tenant, admin):
    """A Django test client signed in to acme's admin portal."""
    client.force_login(admin, backend="users.auth.TenantEmailBackend")
    return client
