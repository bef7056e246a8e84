from __future__ import annotations

import pytest

from tests.android.conftest import (  # noqa: F401  (fixtures: fake Google, bound enterprise)
    configured,
    enterprise,
    google,
    service_account_info,
)
from tests.devices.enrollment import ready_tenant, simulated_device
from users.models import User


@pytest.fixture
def jane(tenant):
    return User.objects.create_user(tenant, "jane@acme.test", first_name="Jane")


@pytest.fixture
def apple_tenant(tenant, admin):
    ready_tenant(tenant, admin)
    return tenant


@pytest.fixture
def iphone(apple_tenant, jane):
    return simulated_device(apple_tenant, jane, "ios")


@pytest.fixture
def mac(apple_tenant, jane):
    return simulated_device(apple_tenant, jane, "macos")


def enroll(device) -> None:
    """Authenticate + TokenUpdate: the device is enrolled."""
    assert device.authenticate()[0] == 200
    assert device.token_update()[0] == 200
