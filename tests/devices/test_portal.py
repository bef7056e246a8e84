"""Portal: Devices list (filters, pagination, query count), device page and its actions,
Settings > Apple MDM. The list and device pages run the shared portal base cases
(tests/base/portal.py)."""

from __future__ import annotations

import pytest

from audit.events import AuditAction
from audit.models import AuditEvent
from devices.models import Command, CommandStatus, Device, DeviceState
from devices.simulator.apple import parse_command
from enrollment.services.apple_settings import apple_settings
from profiles.services.configuration import do_create_profile
from tests.base.portal import PortalViewTestCases
from tests.devices.apple.test_user_channel_and_reenrollment import WIFI
from tests.devices.conftest import enroll
from tests.devices.test_api import make_device, make_owned_device

pytestmark = pytest.mark.django_db

LIST = "/t/acme/admin/devices/"


def test_nav_points_at_the_devices_page(portal):
    body = portal.get("/t/acme/admin/").content.decode()
    assert f'href="{LIST}"' in body


def test_list_filters_and_pagination(portal, tenant):
    for n in range(55):
        make_device(tenant, n, name=f"Phone {n:02}")
    make_device(tenant, 100, platform="macos", name="Studio Mac", state=DeviceState.INACTIVE)
    first = portal.get(LIST)
    assert first.status_code == 200
    assert "Page 1 of 2" in first.content.decode()
    assert "56 in all" in first.content.decode()
    macs = portal.get(LIST + "?platform=macos").content.decode()
    assert "Studio Mac" in macs and "Phone 01" not in macs
    inactive = portal.get(LIST + "?state=inactive").content.decode()
    assert "Studio Mac" in inactive and "Phone 01" not in inactive
    found = portal.get(LIST + "?q=SERACME7").content.decode()
    assert "Phone 07" in found and "Phone 08" not in found
    assert "Phone" in portal.get(LIST + "?page=2&platform=ios").content.decode()
    assert portal.get(LIST + "?platform=windows").status_code == 200  # invalid filter ignored


class TestDeviceListPage(PortalViewTestCases.ListViewTestCase,
                         PortalViewTestCases.ObjectViewTestCase):
    path = "devices/"
    detail_paths = ("devices/{pk}/",)
    max_queries = 8

    def make_object(self, tenant, admin, index):
        return make_owned_device(tenant, index)

    def object_marker(self, obj) -> str:
        return obj.owner.email  # the owner column: read in the page's constant queries

    def test_foreign_portal_action_is_404(self, portal, tenant, foreign_object):
        url = f"/t/{tenant.slug}/admin/devices/{foreign_object.pk}/actions/"
        assert portal.post(url, {"action": "retire"}).status_code == 404
        foreign_object.refresh_from_db()
        assert foreign_object.state == DeviceState.ACTIVE


def test_device_page_and_actions(portal, iphone, apple_tenant):
    enroll(iphone)
    device = Device.objects.get(udid=iphone.udid)
    page = f"/t/acme/admin/devices/{device.pk}/"
    actions = page + "actions/"
    body = portal.get(page).content.decode()
    assert "DeviceInformation" in body and iphone.udid in body
    assert "confirm(" in body  # every action asks first

    for action in ("device_information", "profile_list"):
        assert portal.post(actions, {"action": action}).status_code == 302
    assert portal.post(actions, {"action": "lock", "lock-message": "Call me"}).status_code == 302
    assert portal.post(actions, {"action": "erase", "erase-preserve_data_plan": "on"}
                       ).status_code == 302
    assert portal.post(actions, {"action": "remove_profile", "remove-identifier": "com.x"}
                       ).status_code == 302
    profile = do_create_profile(apple_tenant, actor="test", name="Wi-Fi",
                                identifier="com.acme.wifi", payload_plist=WIFI,
                                scope="device", platforms=["ios"])
    assert portal.post(actions, {"action": "install_profile", "install-profile": profile.pk}
                       ).status_code == 302
    types = list(Command.objects.filter(device=device).order_by("id")
                 .values_list("request_type", flat=True))
    assert types == ["DeviceInformation", "DeviceInformation", "ProfileList", "DeviceLock",
                     "EraseDevice", "RemoveProfile", "InstallProfile"]
    lock = Command.objects.get(request_type="DeviceLock")
    assert lock.payload == {"Message": "Call me"} and lock.created_by_label == "admin@acme.test"
    assert AuditEvent.objects.filter(action=AuditAction.COMMAND_QUEUED,
                                     actor__email="admin@acme.test").count() == 6

    # The device works through its queue and acknowledges the erase: it is Wiped, is handed
    # nothing more (what was queued after the erase is cancelled), and is then unrecognized.
    status, body = iphone.idle()
    while parse_command(body)["Command"]["RequestType"] != "EraseDevice":
        assert status == 200
        status, body = iphone.report("Acknowledged", parse_command(body)["CommandUUID"])
    assert iphone.report("Acknowledged", parse_command(body)["CommandUUID"]) == (200, b"")
    device.refresh_from_db()
    assert device.state == DeviceState.WIPED
    assert set(Command.objects.filter(request_type__in=["RemoveProfile", "InstallProfile"])
               .values_list("status", flat=True)) == {CommandStatus.CANCELLED}
    assert iphone.idle()[0] == 403

    assert portal.post(actions, {"action": "retire"}).status_code == 302
    device.refresh_from_db()
    assert device.state == DeviceState.RETIRED


def test_bad_action_input(portal, mac):
    enroll(mac)
    device = Device.objects.get(udid=mac.udid)
    actions = f"/t/acme/admin/devices/{device.pk}/actions/"
    response = portal.post(actions, {"action": "lock"})  # a Mac needs a PIN
    assert response.status_code == 400
    assert "six-digit PIN" in response.content.decode()
    assert portal.post(actions, {"action": "erase", "erase-pin": "12ab56"}).status_code == 400
    assert portal.post(actions, {"action": "remove_profile"}).status_code == 400
    assert portal.post(actions, {"action": "explode"}).status_code == 404
    assert portal.get(actions).status_code == 405
    assert portal.post(actions, {"action": "install_profile", "install-profile": "999"}
                       ).status_code == 302
    assert list(Command.objects.values_list("request_type", flat=True)) == [
        "DeviceInformation"]


def test_action_on_a_device_without_mdm(portal, tenant):
    device = make_device(tenant, 1)
    response = portal.post(f"/t/acme/admin/devices/{device.pk}/actions/",
                           {"action": "profile_list"}, follow=True)
    assert "not checked in" in response.content.decode()


def test_apple_settings_page(portal, tenant):
    url = "/t/acme/admin/settings/apple-mdm/"
    assert portal.get(url).status_code == 200
    assert portal.post(url, {"push_topic": "nope"}).status_code == 400
    response = portal.post(url, {"push_topic": "com.apple.mgmt.External.abc",
                                 "sign_enrollment_profiles": "on"})
    assert response.status_code == 302
    assert apple_settings(tenant).push_topic == "com.apple.mgmt.External.abc"


def test_device_list_sorts_and_filters_by_os_and_last_seen(portal, tenant):
    import datetime as dt

    from django.utils import timezone

    from devices.models import Device

    now = timezone.now()
    Device.objects.create(tenant=tenant, platform="ios", state="active", name="Alpha",
                          os_version="17.4", last_seen_at=now)
    Device.objects.create(tenant=tenant, platform="ios", state="active", name="Bravo",
                          os_version="16.7", last_seen_at=now - dt.timedelta(days=40))
    url = f"/t/{tenant.slug}/admin/devices/"
    html = portal.get(url, {"ordering": "-name"}).content.decode()
    assert html.index("Bravo") < html.index("Alpha") and "ordering=name" in html
    html = portal.get(url, {"os_version": "16"}).content.decode()
    assert "Bravo" in html and "Alpha" not in html
    cutoff = (now - dt.timedelta(days=30)).date().isoformat()
    html = portal.get(url, {"not_seen_since": cutoff}).content.decode()
    assert "Bravo" in html and "Alpha" not in html
    assert portal.get(url, {"ordering": "nonsense"}).status_code == 200


def test_device_bulk_actions(portal, tenant, iphone, other_tenant):
    from devices.models import Command, Device, DeviceState
    from tests.devices.conftest import enroll

    enroll(iphone)
    device = Device.objects.get(udid=iphone.udid)
    foreign = Device.objects.create(tenant=other_tenant, platform="ios", state="active")
    page = portal.get(f"/t/{tenant.slug}/admin/devices/").content.decode()
    assert "Review for selected" in page and "Retire (take out of management)" in page
    before = Command.objects.filter(device=device, request_type="DeviceInformation").count()
    response = portal.post(f"/t/{tenant.slug}/admin/devices/bulk/",
                           {"action": "refresh", "devices": [device.pk, foreign.pk],
                            "confirmed": "1"})
    assert response.status_code == 302
    assert Command.objects.filter(device=device,
                                  request_type="DeviceInformation").count() == before + 1
    assert not Command.objects.filter(device=foreign).exists()
    portal.post(f"/t/{tenant.slug}/admin/devices/bulk/",
                {"action": "retire", "devices": [device.pk, foreign.pk], "confirmed": "1"})
    device.refresh_from_db()
    foreign.refresh_from_db()
    assert device.state == DeviceState.RETIRED and foreign.state == "active"
    assert portal.post(f"/t/{tenant.slug}/admin/devices/bulk/",
                       {"action": "explode", "devices": [device.pk]}).status_code == 302
