from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from devices.models import Device
from tests.base.apple.simulator import parse_command
from tests.devices.conftest import enroll


def make_due(sim, days: int = 10) -> Device:
    """The device's identity now expires in ``days`` days (inside the 60-day window)."""
    device = Device.objects.get(udid=sim.udid)
    device.identity_expires_at = timezone.now() + dt.timedelta(days=days)
    device.save(update_fields=["identity_expires_at"])
    return device


def enrolled_device(sim):
    """Enrolled, its DeviceInformation answered: an empty queue."""
    enroll(sim)
    sim.device_information(parse_command(sim.idle()[1])["CommandUUID"])
    return sim


@pytest.fixture
def enrolled(iphone):
    return enrolled_device(iphone)
