"""The device simulator drives the real endpoints over HTTP: iPhones and Macs end Active."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from devices.models import Device, DeviceState
from enrollment.models import Registration, RegistrationState

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("platform", ["ios", "macos"])
def test_simulated_apple_devices_enroll(live_server, settings, tenant, platform):
    settings.MDM_PUBLIC_URL = live_server.url
    out, err = io.StringIO(), io.StringIO()
    call_command("simulate_devices", tenant=tenant.slug, platform=platform, count=3,
                 concurrency=2, stdout=out, stderr=err)
    report = out.getvalue()
    assert "enrolled 3, failed 0 of 3" in report
    for step in ("profile", "scep", "checkin", "commands"):
        assert step in report
    assert "3/3" in err.getvalue()
    devices = Device.objects.filter(tenant=tenant, platform=platform)
    assert devices.count() == 3
    assert set(devices.values_list("state", flat=True)) == {DeviceState.ACTIVE}
    assert all(device.serial_number and device.owner_id for device in devices)
    assert Registration.objects.filter(tenant=tenant,
                                       state=RegistrationState.ENROLLED).count() == 3


def test_a_simulated_mac_fleet_lives_400_days_with_its_identities_renewed(tenant):
    """The simulator's clock (--days): enrolled today, renewed before expiry, managed on
    day 400."""
    out, err = io.StringIO(), io.StringIO()
    call_command("simulate_devices", tenant=tenant.slug, platform="macos", count=2, days=400,
                 step_days=10, stdout=out, stderr=err)
    assert out.getvalue().splitlines()[0] == (
        "enrolled 2 of 2; after 400 days: 2 managed, 2 with an identity in date, "
        "2 identities renewed")
    assert "400/400" in err.getvalue()
    assert set(Device.objects.filter(tenant=tenant).values_list("state", flat=True)) == {
        DeviceState.ACTIVE}


def test_simulator_bad_input(db, tenant):
    with pytest.raises(CommandError, match="No active tenant"):
        call_command("simulate_devices", tenant="nobody", platform="ios", count=1)
    with pytest.raises(CommandError, match="--count"):
        call_command("simulate_devices", tenant=tenant.slug, platform="ios", count=0)
    with pytest.raises(CommandError, match="Apple identity renewal"):
        call_command("simulate_devices", tenant=tenant.slug, platform="android", days=10)
    with pytest.raises(CommandError, match="--step-days"):
        call_command("simulate_devices", tenant=tenant.slug, platform="ios", days=10,
                     step_days=11)


def test_simulated_android_devices_arrive_through_pubsub(live_server, settings, tenant,
                                                         enterprise, celery_processes):
    settings.MDM_PUBLIC_URL = live_server.url
    processes = celery_processes()
    processes.worker(concurrency=1)
    settings.CELERY_TASK_DEFAULT_QUEUE = processes.queue
    from mdm_server.celery import app

    app.conf.task_default_queue = processes.queue
    try:
        out = io.StringIO()
        call_command("simulate_devices", tenant=tenant.slug, platform="android", count=3,
                     stdout=out, stderr=io.StringIO())
    finally:
        app.conf.task_default_queue = "celery"
    assert "enrolled 3, failed 0 of 3" in out.getvalue()
    devices = Device.objects.filter(tenant=tenant, platform="android")
    assert devices.count() == 3
    assert set(devices.values_list("state", flat=True)) == {DeviceState.ACTIVE}


def test_android_simulation_needs_a_bound_enterprise(db, tenant):
    with pytest.raises(CommandError, match="not bound"):
        call_command("simulate_devices", tenant=tenant.slug, platform="android", count=1)
