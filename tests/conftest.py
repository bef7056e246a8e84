"""Shared fixtures: tenants, admins, API clients. Tests run on PostgreSQL + Redis (see README)."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from tenants.tenancy import forget_tenant
from users.models import User
from users.services.accounts import do_create_api_token, do_create_tenant

# Fixtures several app folders use: real Celery workers (celery_processes), the real peers of
# the interop tests (openssl, scepclient), the fake Google and bound Android enterprises, the
# loopback APNs / FCM push rig.
pytest_plugins = ["tests.base.celery", "tests.base.interop", "tests.base.android",
                  "tests.base.push"]

E2E_DIR = Path(__file__).resolve().parent / "e2e"


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(config, items):
    """Mark the slow suites by what they use, so a new test is marked without anyone
    remembering to: `e2e` drives a browser (tests/e2e, or the `browser` fixture), `worker`
    starts real Celery workers on the real broker (`celery_processes`), `interop` drives a
    real peer (`openssl`, `scepclient`, `slapd`)."""
    from tests.base.interop import INTEROP_FIXTURES  # a plugin: imported once registered

    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if item.path.is_relative_to(E2E_DIR) or "browser" in names:
            item.add_marker(pytest.mark.e2e)
        if "celery_processes" in names:
            item.add_marker(pytest.mark.worker)
        if names & INTEROP_FIXTURES:
            item.add_marker(pytest.mark.interop)

# Under pytest-xdist each worker gets its own cache namespace: clear_cache() must never wipe
# another worker's rate-limit counters in the middle of its test.
if os.environ.get("PYTEST_XDIST_WORKER"):
    settings.CACHES["default"]["KEY_PREFIX"] = (
        f"{settings.CACHES['default'].get('KEY_PREFIX') or 'test'}-"
        f"{os.environ['PYTEST_XDIST_WORKER']}")

PASSWORD = "Corr3ct-horse-battery"


@pytest.fixture(scope="session")
def _rsa_key_pool():
    from pki.keys import new_rsa_key

    return [new_rsa_key() for _ in range(8)]


@pytest.fixture(autouse=True)
def _pooled_server_keys(monkeypatch, _rsa_key_pool):
    """Tenant CAs and profile-signing keys come from a pool of pre-generated keys: ~100 ms of
    RSA generation per tenant otherwise dominates the suite. Consecutive keys always differ,
    so the tenants of one test never share a key."""
    from pki import keys

    pool = itertools.cycle(_rsa_key_pool)
    real = keys.new_rsa_key
    monkeypatch.setattr(keys, "new_rsa_key",
                        lambda key_size=2048: next(pool) if key_size == 2048 else real(key_size))


def clear_cache() -> None:
    """Empty this run's cache only: parallel runs share the Redis database, each under its own
    MDM_CACHE_KEY_PREFIX (bin/test sets one per run)."""
    prefix = settings.CACHES["default"].get("KEY_PREFIX")
    if prefix and "redis" in settings.CACHES["default"]["BACKEND"].lower():
        client = cache._cache.get_client(write=True)
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    else:
        cache.clear()


@pytest.fixture(autouse=True)
def _clean_cache():
    clear_cache()
    forget_tenant()  # rolled-back tenants of earlier tests must not be served from memory
    from enrollment.services.authorities import forget_authorities

    forget_authorities()  # nor their certificate authorities
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
def jane(tenant):
    """An end user of acme, without a password."""
    return User.objects.create_user(tenant, "jane@acme.test", first_name="Jane")


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


@pytest.fixture
def other_portal(other_tenant, other_admin):
    """Another Django test client, signed in to globex's admin portal."""
    client = Client()
    client.force_login(other_admin, backend="users.auth.TenantEmailBackend")
    return client
