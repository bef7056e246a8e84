"""What a black-box probe of the check-in and command endpoints found: every case here was a
500, a stuck queue or a device record taken over before it was fixed."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from devices.apple.commands import do_enqueue_command
from devices.models import AppleChannel, Command, CommandStatus, Device, DeviceState
from devices.simulator.apple import parse_command
from enrollment.models import Registration
from tests.base.apple.devices import simulated_device
from tests.devices.conftest import enroll
from users.models import User

pytestmark = pytest.mark.django_db


def refusals(tenant) -> list[str]:
    return list(AuditEvent.objects.filter(tenant=tenant).order_by("pk")
                .values_list("detail__reason", flat=True))


@pytest.fixture
def mallory(tenant):
    return User.objects.create_user(tenant, "mallory@acme.test")


@pytest.mark.parametrize(("message", "keys"), [
    ("Authenticate", {"UDID": "A" * 129}),
    ("Authenticate", {"Topic": "t" * 256}),
    ("TokenUpdate", {"PushMagic": "m" * 129}),
    ("TokenUpdate", {"UserID": "u" * 129}),
    ("Authenticate", {"UDID": "00008030-001A:501"}),  # would name a user channel
    ("Authenticate", {"UDID": "0000 8030"}),
])
def test_identifiers_too_long_or_malformed_are_a_400(iphone, apple_tenant, message, keys):
    if message == "TokenUpdate":
        assert iphone.authenticate()[0] == 200
        status, _ = iphone.token_update(**keys)
    else:
        status, _ = iphone.authenticate(**keys)
    assert status == 400
    assert refusals(apple_tenant)[-1] == "malformed"


def test_another_user_cannot_claim_an_enrolled_device_by_its_udid(iphone, apple_tenant,
                                                                  mallory):
    """Mallory's own, valid enrollment sends Jane's iPhone's UDID: refused at Authenticate
    and at a TokenUpdate that would rebind the channel; Jane's device keeps working."""
    enroll(iphone)
    device = Device.objects.get(udid=iphone.udid)
    intruder = simulated_device(apple_tenant, mallory, "ios", udid=iphone.udid)
    assert intruder.authenticate()[0] == 400
    assert refusals(apple_tenant)[-1] == "device_enrolled_by_another_user"
    assert intruder.token_update()[0] == 400
    assert refusals(apple_tenant)[-1] == "device_enrolled_by_another_user"
    device.refresh_from_db()
    assert device.owner.email == "jane@acme.test" and device.state == DeviceState.ACTIVE
    assert iphone.idle()[0] == 200
    # Once Jane's device has left management (checked out), it may be enrolled by anyone.
    assert iphone.checkout()[0] == 200
    enroll(intruder)
    device.refresh_from_db()
    assert device.owner.email == "mallory@acme.test"


def test_a_mac_user_channel_cannot_be_named_by_a_crafted_udid(mac, apple_tenant, mallory):
    enroll(mac)
    assert mac.user_token_update("501", "jane")[0] == 200
    intruder = simulated_device(apple_tenant, mallory, "macos", udid=f"{mac.udid}:501")
    assert intruder.authenticate()[0] == 400
    channel = AppleChannel.objects.get(channel_id=f"{mac.udid}:501")
    assert channel.is_user_channel and channel.device.udid == mac.udid


def test_command_results_json_cannot_hold_are_stored_not_a_500(iphone, apple_tenant):
    """NaN, infinities and nesting deeper than any real answer: the result is stored (so the
    command is done, not stuck in the queue) with those values as text."""
    enroll(iphone)
    device = Device.objects.get(udid=iphone.udid)
    Command.objects.filter(device=device).update(status=CommandStatus.CANCELLED)
    lock = do_enqueue_command(apple_tenant, device, "DeviceLock", actor="test")
    status, body = iphone.idle()
    assert parse_command(body)["CommandUUID"] == lock.command_uuid
    depth = 2000  # plistlib writes no such nesting: the body is written here
    body = (f'<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict>'
            f"<key>UDID</key><string>{iphone.udid}</string>"
            f"<key>Status</key><string>Acknowledged</string>"
            f"<key>CommandUUID</key><string>{lock.command_uuid}</string>"
            f"<key>Odd</key><real>nan</real><key>Big</key><real>inf</real>"
            f"<key>Deep</key>{'<array>' * depth}{'</array>' * depth}"
            f"</dict></plist>").encode()
    status, _ = iphone.send(iphone.server_path, body)
    assert status == 200
    lock.refresh_from_db()
    assert lock.status == CommandStatus.ACKNOWLEDGED
    assert (lock.result["Odd"], lock.result["Big"]) == ("nan", "inf")
    assert "nested deeper than" in str(lock.result["Deep"])


def test_a_command_never_delivered_cannot_be_answered(iphone, apple_tenant):
    enroll(iphone)
    device = Device.objects.get(udid=iphone.udid)
    erase = do_enqueue_command(apple_tenant, device, "EraseDevice", actor="test")
    assert iphone.report("Acknowledged", erase.command_uuid)[0] == 200
    erase.refresh_from_db()
    device.refresh_from_db()
    assert erase.status == CommandStatus.QUEUED and device.state == DeviceState.ACTIVE


def test_after_checkout_only_authenticate_brings_the_device_back(iphone, apple_tenant):
    enroll(iphone)
    assert iphone.checkout()[0] == 200
    assert iphone.token_update()[0] == 400
    assert refusals(apple_tenant)[-1] == "checked_out"
    assert iphone.checkin("GetBootstrapToken")[0] == 400
    device = Device.objects.get(udid=iphone.udid)
    assert device.state == DeviceState.INACTIVE
    assert not AppleChannel.objects.get(device=device, is_user_channel=False).enabled
    enroll(iphone)  # reinstalling the profile: Authenticate, then TokenUpdate
    device.refresh_from_db()
    assert device.state == DeviceState.ACTIVE


def test_an_expired_registration_cannot_enroll_before_the_sweep_runs(iphone, apple_tenant):
    Registration.objects.filter(pk=iphone.registration.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert iphone.authenticate()[0] == 400
    assert refusals(apple_tenant)[-1] == "registration_closed"
    assert not Device.objects.filter(udid=iphone.udid).exists()
