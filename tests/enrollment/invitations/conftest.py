"""Fixtures of the invitation / PIN / registration-URL tests."""

from __future__ import annotations

import pytest

from enrollment.services.links import current_link
from tests.conftest import PASSWORD
from users.models import User, UserSource

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")
ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/124.0 Mobile Safari/537.36")
MAC = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) "
       "Version/17.4 Safari/605.1.15")
WINDOWS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/124.0 Safari/537.36")


def make_user(tenant, email: str, password: str | None = PASSWORD, **fields) -> User:
    return User.objects.create_user(tenant, email, password, **fields)


@pytest.fixture
def alice(tenant):
    """A local user with a password."""
    return make_user(tenant, "alice@acme.test", first_name="Alice")


@pytest.fixture
def bob(tenant):
    """A local user without a password (needs a PIN, then sets one)."""
    return make_user(tenant, "bob@acme.test", None, first_name="Bob")


@pytest.fixture
def carol(tenant):
    """A directory (LDAP) user: signs in with network credentials."""
    return make_user(tenant, "carol@acme.test", None, first_name="Carol",
                     source=UserSource.LDAP, ldap_dn="uid=carol,ou=people,dc=acme,dc=test")


@pytest.fixture
def link(tenant):
    return current_link(tenant)


def go_path(link) -> str:
    return f"/r/{link.format_version}/{link.token}/go"
