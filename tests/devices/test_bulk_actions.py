"""Bulk actions on the Devices page and `POST /api/v1/devices/bulk-actions/`: refresh, push,
re-register, retire, wipe, delete, each confirmed before it acts, each device's outcome
counted, failures named, other tenants' devices untouched, audit rows written, and the
batch services in constant queries."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from devices import tasks
from devices.models import ApnsCertificate, AppleChannel, Command, Device, DeviceState
from devices.services import bulk
from enrollment.models import Invitation, IssuedCertificate, Registration
from tests.base.android.fake_google import ok
from tests.devices.android.test_actions import enrolled, fully_managed, operation_answer
from tests.devices.conftest import enroll
from tests.enrollment.android.test_tokens import token_answer

pytestmark = pytest.mark.django_db
BULK = "/t/acme/admin/devices/bulk/"
API = "/api/v1/devices/bulk-actions/"


def apple(tenant, n: int, *, platform: str = "ios", owner=None, channel: bool = True,
          state: str = DeviceState.ACTIVE) -> Device:
    device = Device.objects.create(tenant=tenant, platform=platform, state=state, owner=owner,
                                   udid=str(uuid.uuid4()).upper(), name=f"Apple {n}",
                                   serial_number=f"SER{n}")
    if channel:
        AppleChannel.objects.create(tenant=tenant, device=device, channel_id=device.udid,
                                    push_token=secrets.token_bytes(32),
                                    push_magic=str(uuid.uuid4()), enabled=True)
    return device


def apns_certificate(tenant) -> ApnsCertificate:
    now = timezone.now()
    return ApnsCertificate.objects.create(
        tenant=tenant, certificate_pem="-", private_key_encrypted=b"-",
        topic="com.apple.mgmt.External.test", not_before=now - dt.timedelta(days=1),
        not_after=now + dt.timedelta(days=300))


def confirm(portal, action: str, devices, **extra):
    return portal.post(BULK, {"action": action, "devices": [d.pk for d in devices],
                              "confirmed": "1", **extra})


# --- the confirmation step ---------------------------------------------------------------

def test_first_post_names_what_will_happen_and_does_nothing(portal, tenant, jane):
    phone, mac = apple(tenant, 1, owner=jane), apple(tenant, 2, platform="macos")
    response = portal.post(BULK, {"action": "wipe", "devices": [phone.pk, mac.pk],
                                  "next": "/t/acme/admin/devices/?platform=ios"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Erase 2 devices: all data on them is destroyed" in page
    assert "Apple (2 devices): EraseDevice" in page
    assert "Apple 1" in page and "Apple 2" in page and "jane@acme.test" in page
    assert "Find My PIN" in page and 'name="confirmed" value="1"' in page
    assert "/t/acme/admin/devices/?platform=ios" in page
    assert not Command.objects.exists()
    # An explicit "not confirmed" does not act either.
    assert portal.post(BULK, {"action": "delete", "devices": [phone.pk],
                              "confirmed": "false"}).status_code == 200
    assert Device.objects.filter(pk=phone.pk).exists()


def test_each_action_names_its_consequence():
    for name, action in bulk.ACTIONS.items():
        plan = bulk.confirmation(name, [Device(pk=1, platform="ios"),
                                        Device(pk=2, platform="android")], [99])
        assert plan.headline.startswith(f"{action.verb} 2 devices")
        assert plan.consequences[0].startswith("Apple (1 device): ")
        assert plan.consequences[1].startswith("Android (1 device): ")
        assert "1 selected id matched no device" in plan.consequences[2]


# --- each action, Apple and Android --------------------------------------------------------

def test_refresh_queues_device_information_and_skips_android(portal, tenant, admin):
    phone = apple(tenant, 1)
    android = Device.objects.create(tenant=tenant, platform="android", state="active")
    response = confirm(portal, "refresh", [phone, android])
    assert response.status_code == 302
    assert Command.objects.get(device=phone).request_type == "DeviceInformation"
    page = portal.get("/t/acme/admin/devices/").content.decode()
    assert "Refresh: done for 1 device, 1 skipped." in page


def test_wipe_apple_sends_erase_device_with_the_macs_pin(portal, tenant):
    phone, mac = apple(tenant, 1), apple(tenant, 2, platform="macos")
    refused = confirm(portal, "wipe", [phone, mac])  # a Mac needs the PIN: the form says so
    assert refused.status_code == 400 and "A Mac needs a six-digit PIN" in refused.content.decode()
    assert not Command.objects.exists()
    assert confirm(portal, "wipe", [phone, mac], pin="123456",
                   preserve_data_plan="on").status_code == 302
    erase = {c.device_id: c.payload for c in Command.objects.filter(request_type="EraseDevice")}
    assert erase[phone.pk] == {"PreserveDataPlan": True}
    assert erase[mac.pk] == {"PreserveDataPlan": True, "PIN": "123456"}
    assert AuditEvent.objects.filter(tenant=tenant, action="command.queued").count() == 2


def test_wipe_android_through_amapi(portal, tenant, google, enterprise):
    company, personal = fully_managed(enterprise), enrolled(enterprise, "p1")
    google.queue(operation_answer(company), ok({}))
    assert confirm(portal, "wipe", [company, personal]).status_code == 302
    methods = [r.method_id for r in google.requests]
    assert methods == ["enterprises.devices.issueCommand", "enterprises.devices.delete"]
    assert set(Device.objects.filter(pk__in=[company.pk, personal.pk])
               .values_list("state", flat=True)) == {DeviceState.WIPED}
    assert AuditEvent.objects.filter(tenant=tenant, action="device.wiped").count() == 2


def test_retire_apple_and_android(portal, tenant, iphone, google, enterprise):
    enroll(iphone)
    phone = Device.objects.get(udid=iphone.udid)
    android = fully_managed(enterprise)
    google.queue(ok({"name": android.android.amapi_name, "state": "DISABLED"}))
    assert confirm(portal, "retire", [phone, android]).status_code == 302
    assert set(Device.objects.values_list("state", flat=True)) == {DeviceState.RETIRED}
    assert not IssuedCertificate.objects.filter(device=phone, revoked_at__isnull=True).exists()
    assert AuditEvent.objects.filter(tenant=tenant, action="device.retired").count() == 2
    confirm(portal, "retire", [phone])  # again: nothing to do, said so
    assert "Retire: done for 0 devices, 1 skipped." in portal.get(
        "/t/acme/admin/devices/").content.decode()


def test_delete_apple_retires_first_and_keeps_the_audit_trail(portal, tenant, iphone):
    enroll(iphone)
    phone = Device.objects.get(udid=iphone.udid)
    events_before = AuditEvent.objects.filter(tenant=tenant, device=phone).count()
    certificate_ids = list(IssuedCertificate.objects.filter(device=phone)
                           .values_list("pk", flat=True))
    assert events_before
    assert confirm(portal, "delete", [phone]).status_code == 302
    assert not Device.objects.filter(pk=phone.pk).exists()
    deleted = AuditEvent.objects.get(tenant=tenant, action="device.deleted")
    assert deleted.target_id == str(phone.pk)
    assert deleted.detail["udid"] == iphone.udid and deleted.detail["state"] == "active"
    assert AuditEvent.objects.filter(tenant=tenant, action="device.retired",
                                     target_id=str(phone.pk)).exists()
    # Its identity is revoked (it unenrolls at its next check-in); history stays, unlinked.
    certificates = IssuedCertificate.objects.filter(pk__in=certificate_ids)
    assert certificates.count() == len(certificate_ids) == 1
    assert not certificates.filter(revoked_at__isnull=True).exists()
    assert not certificates.exclude(device=None).exists()
    assert Registration.objects.filter(tenant=tenant, state="enrolled", device=None).exists()
    assert AuditEvent.objects.filter(tenant=tenant).count() > events_before


def test_delete_android_on_google_and_here(portal, tenant, google, enterprise):
    device = enrolled(enterprise)
    google.queue(ok({}))
    assert confirm(portal, "delete", [device]).status_code == 302
    assert google.requests[-1].method_id == "enterprises.devices.delete"
    assert not Device.objects.filter(pk=device.pk).exists()


def test_reregister_invites_apple_owners_once_and_starts_android_registrations(
        portal, tenant, jane, google, enterprise, django_capture_on_commit_callbacks):
    phone, mac = apple(tenant, 1, owner=jane), apple(tenant, 2, platform="macos", owner=jane)
    orphan = apple(tenant, 3)
    android = enrolled(enterprise)
    Device.objects.filter(pk=android.pk).update(owner=jane)
    android.refresh_from_db()
    google.queue(token_answer(1))
    with django_capture_on_commit_callbacks(execute=True):
        response = confirm(portal, "reregister", [phone, mac, orphan, android])
    assert response.status_code == 302
    assert Invitation.objects.filter(tenant=tenant, user=jane).count() == 1
    assert [m.to for m in mail.outbox] == [["jane@acme.test"]]
    states = dict(Device.objects.values_list("pk", "state"))
    assert states[phone.pk] == states[mac.pk] == states[android.pk] == DeviceState.RESET
    assert states[orphan.pk] == DeviceState.ACTIVE
    assert Registration.objects.filter(tenant=tenant, user=jane, platform="android").exists()
    requested = AuditEvent.objects.filter(tenant=tenant, action="device.reregister_requested")
    assert set(requested.values_list("device_id", flat=True)) == {phone.pk, mac.pk, android.pk}
    page = portal.get("/t/acme/admin/devices/").content.decode()
    assert "Re-register: done for 3 devices, 1 failed." in page
    assert "Apple 3: the device has no active owner" in page


def test_push_wakes_apple_devices_after_commit(portal, tenant, monkeypatch,
                                                django_capture_on_commit_callbacks):
    queued = []
    monkeypatch.setattr(tasks.push_channels, "apply_async",
                        lambda args, **kwargs: queued.append(args))
    ready, unenrolled = apple(tenant, 1), apple(tenant, 2, channel=False)
    android = Device.objects.create(tenant=tenant, platform="android", state="active")
    confirm(portal, "push", [ready])
    assert "no APNs certificate" in portal.get("/t/acme/admin/devices/").content.decode()
    apns_certificate(tenant)
    with django_capture_on_commit_callbacks(execute=True):
        confirm(portal, "push", [ready, unenrolled, android])
    channel = AppleChannel.objects.get(device=ready)
    assert queued == [([channel.pk], "manual")]
    assert list(AuditEvent.objects.filter(tenant=tenant, action="device.push_requested")
                .values_list("device_id", flat=True)) == [ready.pk]
    page = portal.get("/t/acme/admin/devices/").content.decode()
    assert "Push: done for 1 device, 1 skipped, 1 failed." in page
    assert "Apple 2: no push token yet" in page


# --- bad input and tenant isolation ----------------------------------------------------------

@pytest.mark.parametrize("data", [
    {},
    {"action": "explode", "devices": ["1"]},
    {"action": "retire"},
    {"action": "retire", "devices": ["abc", "-1", "1e3", "", "99999999999999999999999", "٣"]},
    {"action": ["retire", "wipe"], "devices": ["x"]},
])
def test_bad_input_changes_nothing_and_never_fails(portal, tenant, data):
    phone = apple(tenant, 1)
    response = portal.post(BULK, data)
    assert response.status_code == 302
    assert Device.objects.get(pk=phone.pk).state == DeviceState.ACTIVE
    assert not AuditEvent.objects.filter(tenant=tenant, device=phone).exists()


def test_next_is_only_followed_on_this_site(portal, tenant):
    response = portal.post(BULK, {"action": "retire", "next": "https://evil.example/"})
    assert response["Location"] == "/t/acme/admin/devices/"


def test_foreign_devices_are_not_found_and_untouched(portal, api, tenant, other_tenant):
    ours, theirs = apple(tenant, 1), apple(other_tenant, 2)
    response = portal.post(BULK, {"action": "delete", "devices": [theirs.pk]})
    assert response.status_code == 302  # none of ours: no confirmation page at all
    page = portal.post(BULK, {"action": "delete", "devices": [ours.pk, theirs.pk]})
    assert "1 selected id matched no device" in page.content.decode()
    assert "Apple 2" not in page.content.decode()
    confirm(portal, "delete", [ours, theirs])
    assert Device.objects.filter(pk=theirs.pk, state=DeviceState.ACTIVE).exists()
    assert not Device.objects.filter(pk=ours.pk).exists()
    body = api.post(API, {"action": "retire", "devices": [theirs.pk], "confirm": True},
                    format="json").json()
    assert body["not_found"] == 1 and body["done"] == 0
    assert body["results"] == [{"device": theirs.pk, "name": f"device {theirs.pk}",
                                "outcome": "not_found", "detail": "no such device here"}]
    theirs.refresh_from_db()
    assert theirs.state == DeviceState.ACTIVE
    assert not AuditEvent.objects.filter(tenant=other_tenant, device=theirs).exists()


# --- the API -------------------------------------------------------------------------------

def test_api_requires_confirmation_then_reports_each_device(api, tenant):
    phone, mac = apple(tenant, 1), apple(tenant, 2, platform="macos")
    refused = api.post(API, {"action": "wipe", "devices": [phone.pk, mac.pk], "confirm": False},
                       format="json")
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "confirmation_required"
    assert error["message"].startswith("Erase 2 devices: all data on them is destroyed")
    assert not Command.objects.exists()
    unsaid = api.post(API, {"action": "wipe", "devices": [phone.pk]}, format="json")
    assert unsaid.json()["error"]["fields"] == {"confirm": ["This field is required."]}
    response = api.post(API, {"action": "wipe", "devices": [phone.pk, mac.pk, phone.pk],
                              "confirm": True}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["done"], body["failed"], body["skipped"], body["not_found"]) == (1, 1, 0, 0)
    outcomes = {row["device"]: row for row in body["results"]}
    assert outcomes[phone.pk]["outcome"] == "done"
    assert outcomes[mac.pk] == {"device": mac.pk, "name": "Apple 2", "outcome": "failed",
                                "detail": "a Mac needs a six-digit Find My PIN to be erased"}
    assert body["summary"] == "Erase: done for 1 device, 1 failed."


@pytest.mark.parametrize("payload", [
    {"action": "explode", "devices": [1]},
    {"action": "retire", "devices": []},
    {"action": "retire", "devices": ["abc"]},
    {"action": "retire", "devices": [-4]},
    {"action": "retire", "devices": [2**64]},
    {"action": "retire", "devices": "1,2"},
    {"action": "retire", "devices": list(range(1, 1002))},
    {"action": "wipe", "devices": [1], "pin": "12ab56", "confirm": True},
    {"devices": [1]},
    [],
])
def test_api_bad_input_is_400(api, tenant, payload):
    phone = apple(tenant, 1)
    response = api.post(API, payload, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid"
    assert Device.objects.get(pk=phone.pk).state == DeviceState.ACTIVE


def test_api_retire_is_audited_with_the_token(api, tenant):
    phone = apple(tenant, 1)
    body = api.post(API, {"action": "retire", "devices": [phone.pk], "confirm": True},
                    format="json").json()
    assert body["done"] == 1
    event = AuditEvent.objects.get(tenant=tenant, action="device.retired")
    assert event.device_id == phone.pk and event.actor_label == "api-token:test"


# --- queries ---------------------------------------------------------------------------------

def _queries(api, action: str, devices) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = api.post(API, {"action": action, "devices": [d.pk for d in devices],
                                  "confirm": True}, format="json")
    assert response.status_code == 200 and response.json()["failed"] == 0, response.content
    return len(captured)


def test_push_and_reregister_run_in_constant_queries(api, tenant, jane, monkeypatch):
    monkeypatch.setattr(tasks.push_channels, "apply_async", lambda *a, **k: None)
    apns_certificate(tenant)
    api.get("/api/v1/devices/")  # the token's first use of the minute is written down
    few = [apple(tenant, n, owner=jane) for n in range(2)]
    many = [apple(tenant, n, owner=jane) for n in range(2, 12)]
    assert _queries(api, "push", few) == _queries(api, "push", many)
    _queries(api, "reregister", [apple(tenant, 99, owner=jane)])  # creates the /go link once
    assert _queries(api, "reregister", few) == _queries(api, "reregister", many)


def test_per_device_actions_cost_a_constant_number_of_queries_per_device(api, tenant):
    api.get("/api/v1/devices/")  # the token's first use of the minute is written down

    def cost(action: str, count: int) -> int:
        return _queries(api, action, [apple(tenant, n) for n in range(count)])

    # The single-device services run per device (delete: retire, then Django's cascade over
    # the device's related tables); what must not happen is a cost growing with the batch.
    for action, per_device in (("refresh", 6), ("wipe", 6), ("retire", 12), ("delete", 30)):
        one, three, five = cost(action, 1), cost(action, 3), cost(action, 5)
        assert five - three == three - one, action
        assert (three - one) / 2 <= per_device, (action, (three - one) / 2)
