"""REST contract: /api/v1/devices/, /api/v1/devices/{id}/, /api/v1/devices/{id}/commands/,
/api/v1/apple-mdm-settings/current/. The devices list and detail run the shared read-only API
base case (tests/base/api.py); the isolation of the device pages is in test_portal.py."""

from __future__ import annotations

import base64
import plistlib

import pytest

from audit.events import AuditAction
from audit.models import AuditEvent
from devices.models import Command, Device, DeviceState
from tests.base.api import APIViewTestCases
from tests.base.apple.simulator import parse_command
from tests.devices.conftest import enroll
from users.models import User

pytestmark = pytest.mark.django_db


def make_device(tenant, n: int = 0, **fields) -> Device:
    owner = fields.pop("owner", None)
    values = {"platform": "ios", "state": DeviceState.ACTIVE, "udid": f"UDID-{tenant.slug}-{n}",
              "serial_number": f"SER{tenant.slug.upper()}{n}", "name": f"Phone {n}", **fields}
    return Device.objects.create(tenant=tenant, owner=owner, **values)


def make_owned_device(tenant, index: int) -> Device:
    owner = User.objects.create_user(tenant, f"owner-{tenant.slug}-{index:03}@{tenant.slug}.test")
    return make_device(tenant, index, owner=owner, name=f"Phone {tenant.slug}-{index:03}")


class TestDeviceAPI(APIViewTestCases.ReadOnlyAPIViewTestCase):
    url = "/api/v1/devices/"
    model = Device
    list_fields = ["id", "platform", "state", "owner", "udid", "serial_number", "name", "model",
                   "model_name", "product_name", "os_version", "build_version", "enrolled_at",
                   "last_seen_at", "identity_expires_at", "user_enrollment", "created_at"]
    detail_fields = [*list_fields, "imei", "meid", "device_information", "channels",
                     "identity_renewal", "previous_identity_accepted_until"]
    list_max_queries = 6

    def make_object(self, tenant, admin, index):
        return make_owned_device(tenant, index)

    def test_list_and_detail_contract(self, api, tenant, admin):
        jane = User.objects.create_user(tenant, "jane@acme.test")
        phone = make_device(tenant, 1, owner=jane, os_version="17.4", model="MQA52")
        make_device(tenant, 2, platform="macos", state=DeviceState.INACTIVE)
        response = api.get("/api/v1/devices/")
        assert response.status_code == 200
        assert response.json()["count"] == 2
        row = api.get(f"/api/v1/devices/{phone.pk}/").json()
        for key in ("id", "platform", "state", "owner", "udid", "serial_number", "model",
                    "os_version", "enrolled_at", "last_seen_at"):
            assert key in row
        assert row["owner"] == {"id": jane.pk, "email": "jane@acme.test"}
        assert (row["platform"], row["state"], row["model"]) == ("ios", "active", "MQA52")
        assert [d["id"] for d in api.get("/api/v1/devices/?platform=macos").json()["results"]
                ] == [phone.pk + 1]
        assert api.get("/api/v1/devices/?state=active&platform=ios").json()["count"] == 1
        assert api.get("/api/v1/devices/?state=wiped").json()["count"] == 0

    def test_bad_filter_values_are_400(self, api):
        assert api.get("/api/v1/devices/?platform=windows").status_code == 400
        assert api.get("/api/v1/devices/?state=lost").status_code == 400

    def test_foreign_commands_are_404(self, api, foreign_object):
        url = f"/api/v1/devices/{foreign_object.pk}/commands/"
        assert api.get(url).status_code == 404
        assert api.post(url, {"request_type": "ProfileList"}, format="json").status_code == 404
        assert api.post(f"/api/v1/devices/{foreign_object.pk}/retire/").status_code == 404


def test_enqueue_and_history(api, iphone):
    enroll(iphone)
    device = Device.objects.get(udid=iphone.udid)
    url = f"/api/v1/devices/{device.pk}/commands/"
    response = api.post(url, {"request_type": "DeviceLock",
                              "payload": {"Message": "Found? Call us"}}, format="json")
    assert response.status_code == 201, response.json()
    created = response.json()
    assert (created["request_type"], created["status"]) == ("DeviceLock", "queued")
    raw = api.post(url, {"request_type": "SecurityInfo"}, format="json")  # raw, untyped
    assert raw.status_code == 201
    assert AuditEvent.objects.filter(action=AuditAction.COMMAND_QUEUED).count() == 3

    # The device answers the first command (DeviceInformation, queued on enrollment).
    first = parse_command(iphone.idle()[1])
    iphone.device_information(first["CommandUUID"])
    lock = parse_command(iphone.idle()[1])
    assert lock["Command"] == {"RequestType": "DeviceLock", "Message": "Found? Call us"}
    iphone.report("Acknowledged", lock["CommandUUID"])

    history = api.get(url).json()
    assert history["count"] == 3
    by_type = {row["request_type"]: row for row in history["results"]}
    assert by_type["DeviceLock"]["status"] == "acknowledged"
    assert by_type["DeviceInformation"]["result"]["QueryResponses"]["DeviceName"] == \
        "Test iPhone"
    assert by_type["SecurityInfo"]["status"] == "queued"
    assert api.get(url + "?status=queued").json()["count"] == 1
    assert api.get(url + "?status=bogus").status_code == 400


def test_install_profile_payload_is_base64(api, iphone):
    enroll(iphone)
    device = Device.objects.get(udid=iphone.udid)
    url = f"/api/v1/devices/{device.pk}/commands/"
    mobileconfig = plistlib.dumps({"PayloadType": "Configuration"})
    ok = api.post(url, {"request_type": "InstallProfile",
                        "payload": {"Payload": base64.b64encode(mobileconfig).decode()}},
                  format="json")
    assert ok.status_code == 201
    command = plistlib.loads(bytes(Command.objects.get(pk=ok.json()["id"]).command_plist))
    assert command["Command"]["Payload"] == mobileconfig


@pytest.mark.parametrize("body", [
    {},
    {"request_type": ""},
    {"request_type": "Device Lock"},
    {"request_type": "RemoveProfile"},
    {"request_type": "RemoveProfile", "payload": {"Identifier": 5}},
    {"request_type": "InstallProfile", "payload": {"Payload": "not base64!"}},
    {"request_type": "DeviceLock", "payload": {"PIN": "12"}},
    {"request_type": "ProfileList", "payload": ["not", "an", "object"]},
    {"request_type": "ProfileList", "payload": {"x": None}},
    {"request_type": "ProfileList", "configuration_profile": 1},
    {"request_type": "InstallProfile", "configuration_profile": 999999},
    {"request_type": "ProfileList", "user_channel": "nope"},
])
def test_enqueue_bad_input_is_400(api, iphone, body):
    enroll(iphone)
    device = Device.objects.get(udid=iphone.udid)
    before = Command.objects.count()
    response = api.post(f"/api/v1/devices/{device.pk}/commands/", body, format="json")
    assert response.status_code == 400, response.json()
    assert "error" in response.json()
    assert Command.objects.count() == before


def test_device_without_mdm_channel_takes_no_commands(api, tenant):
    device = make_device(tenant, 1, platform="android")
    response = api.post(f"/api/v1/devices/{device.pk}/commands/",
                        {"request_type": "ProfileList"}, format="json")
    assert response.status_code == 400


def test_retire(api, iphone):
    enroll(iphone)
    device = Device.objects.get(udid=iphone.udid)
    response = api.post(f"/api/v1/devices/{device.pk}/retire/")
    assert response.status_code == 200 and response.json()["state"] == "retired"
    assert device.certificates.filter(revoked_at__isnull=True).count() == 0
    assert iphone.idle()[0] == 403


def test_apple_settings(api, tenant):
    assert api.get("/api/v1/apple-mdm-settings/current/").json()["push_topic"] == ""
    response = api.put("/api/v1/apple-mdm-settings/current/",
                       {"push_topic": "com.apple.mgmt.External.x",
                        "sign_enrollment_profiles": True}, format="json")
    assert response.status_code == 200
    assert api.patch("/api/v1/apple-mdm-settings/current/", {"push_topic": "bad topic"},
                     format="json").status_code == 400
    assert api.get("/api/v1/apple-mdm-settings/current/").json()["push_topic"] == \
        "com.apple.mgmt.External.x"
    assert AuditEvent.objects.filter(action=AuditAction.APPLE_SETTINGS_SAVED).count() == 1


def test_apple_settings_are_per_tenant(api, other_api):
    api.patch("/api/v1/apple-mdm-settings/current/",
              {"push_topic": "com.apple.mgmt.External.acme"}, format="json")
    assert other_api.get("/api/v1/apple-mdm-settings/current/").json()["push_topic"] == ""
