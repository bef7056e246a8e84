"""The whole account-driven Device Enrollment over HTTP, as a device does it (the
simulator): discovery, 401, web sign-in, the token, the profile, SCEP, check-in. The device
ends Active, its registration enrolled by method account_driven."""

from __future__ import annotations

import io

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.management import call_command

from devices.models import Device, DeviceState
from devices.simulator.account_driven import AccountDrivenEnrollment
from devices.simulator.enroll_apple import AppleEnrollment, SimulationError
from enrollment.models import (
    AccountEnrollmentToken,
    ManagedDomain,
    Registration,
    RegistrationMethod,
    RegistrationState,
)
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("platform", ["ios", "macos"])
def test_adde_journey_ends_active(live_server, settings, apple_tenant, alice, platform):
    settings.MDM_PUBLIC_URL = live_server.url
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with httpx.Client(timeout=60) as http:
        device = AccountDrivenEnrollment(AppleEnrollment(http, live_server.url, live_server.url))
        run = device.enroll("acme", alice.email, PASSWORD, key, platform=platform)
    assert {"account", "profile", "scep", "checkin", "commands"} <= set(run.timings)
    assert "DeviceInformation" in run.commands
    registration = Registration.objects.get(tenant=apple_tenant)
    assert (registration.user, registration.method, registration.state, registration.platform) \
        == (alice, RegistrationMethod.ACCOUNT_DRIVEN, RegistrationState.ENROLLED, platform)
    enrolled = Device.objects.get(tenant=apple_tenant)
    assert (enrolled.state, enrolled.owner, enrolled.udid) == (DeviceState.ACTIVE, alice,
                                                               run.udid)
    assert registration.device == enrolled
    token = AccountEnrollmentToken.objects.get()
    assert token.used_at is not None and token.registration == registration


def test_wrong_password_stops_the_journey(live_server, settings, apple_tenant, alice):
    settings.MDM_PUBLIC_URL = live_server.url
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with httpx.Client(timeout=60) as http:
        device = AccountDrivenEnrollment(AppleEnrollment(http, live_server.url, live_server.url))
        with pytest.raises(SimulationError, match="sign-in: HTTP 400"):
            device.enroll("acme", alice.email, "wrong-password", key)
        with pytest.raises(SimulationError, match="service discovery: HTTP 404"):
            device.enroll("acme", "alice@unmanaged.test", PASSWORD, key)
    assert not Registration.objects.exists() and not Device.objects.exists()


def test_simulate_devices_account_driven(live_server, settings, tenant):
    settings.MDM_PUBLIC_URL = live_server.url
    out, err = io.StringIO(), io.StringIO()
    call_command("simulate_devices", tenant=tenant.slug, platform="ios", count=2,
                 method="account-driven", mode="adde", concurrency=2, stdout=out, stderr=err)
    assert "enrolled 2, failed 0 of 2" in out.getvalue()
    assert "account" in out.getvalue()
    assert ManagedDomain.objects.get(tenant=tenant).domain == "acme.sim"
    assert set(Device.objects.filter(tenant=tenant).values_list("state", flat=True)) == {
        DeviceState.ACTIVE}
    assert set(Registration.objects.filter(tenant=tenant).values_list("method", "state")) == {
        (RegistrationMethod.ACCOUNT_DRIVEN, RegistrationState.ENROLLED)}
    call_command("simulate_devices", tenant=tenant.slug, platform="ios", count=1,
                 method="account-driven", mode="byod", stdout=out, stderr=err)
    assert "enrolled 1, failed 0 of 1" in out.getvalue()
    assert Device.objects.filter(tenant=tenant, user_enrollment=True).count() == 1


def test_byod_journey_checks_in_by_enrollment_id(live_server, settings, apple_tenant, alice,
                                                 api):
    """User Enrollment: the device names itself by an EnrollmentID, is shown personal, and
    only the commands Apple allows on personal devices are accepted."""
    settings.MDM_PUBLIC_URL = live_server.url
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with httpx.Client(timeout=60) as http:
        device = AccountDrivenEnrollment(AppleEnrollment(http, live_server.url, live_server.url))
        run = device.enroll("acme", alice.email, PASSWORD, key, mode="byod")
    assert run.device.user_enrollment and "DeviceInformation" in run.commands
    enrolled = Device.objects.get(tenant=apple_tenant)
    assert (enrolled.state, enrolled.owner, enrolled.udid, enrolled.user_enrollment,
            enrolled.serial_number) == (DeviceState.ACTIVE, alice, run.udid, True, "")
    assert Registration.objects.get().state == RegistrationState.ENROLLED
    assert api.get(f"/api/v1/devices/{enrolled.pk}/").json()["user_enrollment"] is True
    erase = api.post(f"/api/v1/devices/{enrolled.pk}/commands/",
                     {"request_type": "EraseDevice", "payload": {}}, format="json")
    assert erase.status_code == 400
    assert "not allowed on a personal device enrolled by User Enrollment" in \
        erase.json()["error"]["message"]
    listed = api.post(f"/api/v1/devices/{enrolled.pk}/commands/",
                      {"request_type": "ProfileList", "payload": {}}, format="json")
    assert listed.status_code == 201
