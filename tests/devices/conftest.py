from __future__ import annotations

import pytest

from tests.base.apple.devices import ready_tenant, simulated_device


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
