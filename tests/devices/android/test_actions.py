"""Admin actions on Android devices (S20) through the API and the device page: retire, wipe,
delete, re-register, and lock / reboot / reset-password tracked to completion."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from devices.android import tasks
from devices.models import AndroidOperation, Device, DeviceState
from tests.base.android import ENTERPRISE
from tests.base.android.fake_google import device_resource, error, ok
from tests.conftest import PASSWORD
from tests.devices.android.test_reregistration import deliver
from tests.enrollment.android.test_tokens import token_answer
from users.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(tenant):
    return User.objects.create_user(tenant, "alice@acme.test", PASSWORD)


def enrolled(enterprise, name="d1", **kwargs) -> Device:
    deliver(enterprise, "ENROLLMENT", device_resource(ENTERPRISE, name, **kwargs))
    return Device.objects.get(android__amapi_name=f"{ENTERPRISE}/devices/{name}")


def fully_managed(enterprise, name="fm") -> Device:
    return enrolled(enterprise, name, ownership="COMPANY_OWNED", mode="DEVICE_OWNER")


def operation_answer(device: Device, n: int = 1, done: bool = False) -> tuple:
    return ok({"name": f"{device.android.amapi_name}/operations/op{n}", "done": done,
               "metadata": {"type": "LOCK"}})


def test_api_lists_android_devices_with_googles_view(enterprise, api, other_api):
    enrolled(enterprise)
    body = api.get("/api/v1/android-devices/").json()
    assert body["count"] == 1
    android = body["results"][0]["android"]
    assert android["amapi_name"] == f"{ENTERPRISE}/devices/d1"
    assert android["android_version"] == "14" and android["security_patch_level"]
    assert other_api.get("/api/v1/android-devices/").json()["count"] == 0
    device_id = body["results"][0]["id"]
    assert other_api.post(f"/api/v1/android-devices/{device_id}/wipe/").status_code == 404


def test_lock_is_tracked_to_completion_through_a_command_notification(google, enterprise, api,
                                                                      tenant):
    device = enrolled(enterprise)
    google.queue(operation_answer(device))
    response = api.post(f"/api/v1/android-devices/{device.pk}/commands/", {"type": "LOCK"},
                        format="json")
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "pending"
    request = google.requests[-1]
    assert request.method_id == "enterprises.devices.issueCommand"
    assert request.body == {"type": "LOCK", "duration": "600s"}
    operation = {"name": f"{ENTERPRISE}/devices/d1/operations/op1", "done": True,
                 "metadata": {"@type": "type.googleapis.com/google.android.devicemanagement."
                              "v1.Command", "type": "LOCK"}}
    assert deliver(enterprise, "COMMAND", operation)["outcome"] == "applied"
    listed = api.get(f"/api/v1/android-devices/{device.pk}/commands/").json()["results"]
    assert listed[0]["status"] == "done" and listed[0]["completed_at"]
    assert AuditEvent.objects.filter(tenant=tenant, action="android.command_finished").exists()


def test_reset_password_and_reboot(google, enterprise, api):
    device = fully_managed(enterprise)
    google.queue(operation_answer(device, 1), operation_answer(device, 2))
    assert api.post(f"/api/v1/android-devices/{device.pk}/commands/",
                    {"type": "RESET_PASSWORD", "new_password": "1234-abcd"},
                    format="json").status_code == 201
    body = google.requests[-1].body
    assert body["type"] == "RESET_PASSWORD" and body["newPassword"] == "1234-abcd"
    assert body["resetPasswordFlags"] == ["LOCK_NOW", "REQUIRE_ENTRY"]
    assert api.post(f"/api/v1/android-devices/{device.pk}/commands/", {"type": "REBOOT"},
                    format="json").status_code == 201


def test_reboot_refused_on_a_work_profile(google, enterprise, api):
    device = enrolled(enterprise)
    response = api.post(f"/api/v1/android-devices/{device.pk}/commands/", {"type": "REBOOT"},
                        format="json")
    assert response.status_code == 409 and "fully managed" in response.json()["error"]["message"]
    assert google.requests == []


def test_failed_and_expired_operations(google, enterprise, tenant, admin):
    from devices.android.actions import issue_command

    device = enrolled(enterprise)
    google.queue(operation_answer(device, 1), operation_answer(device, 2))
    failed = issue_command(tenant, device, "LOCK", actor=admin)
    late = issue_command(tenant, device, "LOCK", actor=admin)
    deliver(enterprise, "COMMAND", {"name": failed.name, "done": True,
                                    "error": {"code": 9, "message": "Device not capable"}})
    failed.refresh_from_db()
    assert failed.status == "failed" and failed.error == "Device not capable"
    AndroidOperation.objects.filter(pk=late.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1))
    google.queue(ok({"name": late.name, "done": False}))
    assert tasks.refresh_operations() == {"checked": 1, "finished": 1}
    late.refresh_from_db()
    assert late.status == "expired"


def test_wipe_company_owned_issues_wipe_and_personal_deletes(google, enterprise, api, tenant):
    company = fully_managed(enterprise)
    personal = enrolled(enterprise, "p1")
    google.queue(operation_answer(company))
    assert api.post(f"/api/v1/android-devices/{company.pk}/wipe/").status_code == 200
    assert google.requests[-1].method_id == "enterprises.devices.issueCommand"
    assert google.requests[-1].body["type"] == "WIPE"
    google.queue(ok({}))
    response = api.post(f"/api/v1/android-devices/{personal.pk}/wipe/")
    assert response.status_code == 200 and response.json()["state"] == DeviceState.WIPED
    request = google.requests[-1]
    assert request.method_id == "enterprises.devices.delete"
    assert request.query["wipeReasonMessage"]
    assert AuditEvent.objects.filter(tenant=tenant, action="device.wiped").count() == 2
    # Google's final DELETED report keeps the admin's Wiped state.
    deliver(enterprise, "STATUS_REPORT", device_resource(ENTERPRISE, "p1", state="DELETED"),
            "2026-11-26T12:00:00Z")
    personal.refresh_from_db()
    assert personal.state == DeviceState.WIPED


def test_retire_by_management_mode(google, enterprise, api):
    company = fully_managed(enterprise)
    google.queue(ok({"name": company.android.amapi_name, "state": "DISABLED"}))
    # The generic devices API dispatches Android devices to the AMAPI retire.
    assert api.post(f"/api/v1/devices/{company.pk}/retire/").status_code == 200
    request = google.requests[-1]
    assert request.method_id == "enterprises.devices.patch"
    assert request.body["state"] == "DISABLED"
    cope = enrolled(enterprise, "cope", ownership="COMPANY_OWNED", mode="PROFILE_OWNER")
    google.queue(operation_answer(cope))
    assert api.post(f"/api/v1/android-devices/{cope.pk}/retire/").status_code == 200
    assert google.requests[-1].body["type"] == "RELINQUISH_OWNERSHIP"
    company.refresh_from_db()
    assert company.state == DeviceState.RETIRED


def test_delete_on_google_and_here(google, enterprise, api, tenant):
    device = enrolled(enterprise)
    google.queue(error(404, "gone already"))  # already deleted on Google: fine
    assert api.post(f"/api/v1/android-devices/{device.pk}/delete/").status_code == 204
    assert not Device.objects.filter(pk=device.pk).exists()
    event = AuditEvent.objects.get(tenant=tenant, action="device.deleted")
    assert event.target_id == str(device.pk)


def test_google_error_is_reported_and_changes_nothing(google, enterprise, api):
    device = enrolled(enterprise)
    google.queue(error(400, "Invalid wipe request", "INVALID_ARGUMENT"))
    response = api.post(f"/api/v1/android-devices/{device.pk}/wipe/")
    assert response.status_code == 502
    assert "Invalid wipe request" in response.json()["error"]["message"]
    device.refresh_from_db()
    assert device.state == DeviceState.ACTIVE
    google.queue(*[error(500, "backend")] * 5)
    response = api.post(f"/api/v1/android-devices/{device.pk}/wipe/")
    assert response.status_code == 502


def test_reregister_starts_a_registration_and_shows_reset(google, enterprise, api, tenant,
                                                          alice):
    from enrollment.models import RegistrationMethod
    from enrollment.services.registration_journey import start_registration

    google.queue(token_answer(1))
    first = start_registration(tenant, alice, "android", RegistrationMethod.API,
                               actor=alice).registration
    device = enrolled(enterprise, "d1", android_version="12", serial="S1",
                      registration_id=first.pk)
    google.queue(token_answer(2))
    response = api.post(f"/api/v1/android-devices/{device.pk}/reregister/")
    assert response.status_code == 201, response.content
    assert response.json()["android_enrollment_token"] == "TOKVAL2"
    device.refresh_from_db()
    assert device.state == DeviceState.RESET
    deliver(enterprise, "ENROLLMENT", device_resource(
        ENTERPRISE, "d2", android_version="12", serial="S1",
        previous=[f"{ENTERPRISE}/devices/d1"],
        registration_id=response.json()["registration_id"]), "2026-11-26T11:00:00Z")
    device.refresh_from_db()
    assert device.state == DeviceState.INACTIVE
    assert Device.objects.filter(tenant=tenant, state=DeviceState.ACTIVE).count() == 1


def test_a_deleted_device_is_not_brought_back_by_late_notifications(google, enterprise,
                                                                    api, tenant):
    """Notifications are delivered late and out of order: a report published before the
    delete, a DELETED report for a name never seen and the ENROLLMENT published before it,
    and devices.list still naming it: none of them makes the entry again."""
    device = enrolled(enterprise, "d1")
    google.queue(ok({}))
    assert api.post(f"/api/v1/android-devices/{device.pk}/delete/").status_code == 204
    late = deliver(enterprise, "STATUS_REPORT", device_resource(ENTERPRISE, "d1"),
                   "2026-11-26T10:01:00Z")
    assert late == {"outcome": "ignored", "reason": "device name no longer in use"}
    deliver(enterprise, "STATUS_REPORT", device_resource(ENTERPRISE, "d2", state="DELETED"),
            "2026-11-26T10:05:00Z")
    deliver(enterprise, "ENROLLMENT", device_resource(ENTERPRISE, "d2"), "2026-11-26T10:00:00Z")
    google.queue(ok({"devices": [device_resource(ENTERPRISE, "d1")]}))
    assert tasks.reconcile_enterprise(enterprise.pk)["enrolled"] == 0
    assert not Device.objects.filter(tenant=tenant).exists()
    # A new enrollment of that phone has a new name: it registers as usual (S20).
    assert enrolled(enterprise, "d3").state == DeviceState.ACTIVE


def test_reregister_without_a_token_from_google_changes_nothing(google, enterprise, api,
                                                                tenant, alice):
    """Google down: a 502, the device keeps its state, and no registration stays open
    without the token that alone could complete it."""
    from enrollment.models import Registration, RegistrationMethod, RegistrationState
    from enrollment.services.registration_journey import start_registration

    google.queue(token_answer(1))
    first = start_registration(tenant, alice, "android", RegistrationMethod.API,
                               actor=alice).registration
    device = enrolled(enterprise, "d1", android_version="12", serial="S1",
                      registration_id=first.pk)
    google.queue(*[error(500, "backend")] * 5)
    response = api.post(f"/api/v1/android-devices/{device.pk}/reregister/")
    assert response.status_code == 502, response.content
    device.refresh_from_db()
    assert device.state == DeviceState.ACTIVE
    latest = Registration.objects.filter(user=alice).latest("pk")
    assert latest.pk != first.pk and latest.state == RegistrationState.CANCELLED


def test_device_page_shows_android_details_and_actions(google, enterprise, portal):
    device = enrolled(enterprise)
    page = portal.get(f"/t/acme/admin/devices/{device.pk}/").content.decode()
    assert f"{ENTERPRISE}/devices/d1" in page and "Re-register" in page
    google.queue(operation_answer(device))
    response = portal.post(f"/t/acme/admin/devices/{device.pk}/android/", {"action": "lock"})
    assert response.status_code == 302
    page = portal.get(f"/t/acme/admin/devices/{device.pk}/").content.decode()
    assert "LOCK" in page and "Pending" in page
    google.queue(error(403, "Permission denied on device"))
    response = portal.post(f"/t/acme/admin/devices/{device.pk}/android/", {"action": "wipe"},
                           follow=True)
    assert "Permission denied on device" in response.content.decode()
    listing = portal.get("/t/acme/admin/devices/?platform=android").content.decode()
    assert "Active" in listing


def test_generic_device_action_url_dispatches_android_devices(google, enterprise, portal):
    device = enrolled(enterprise)
    google.queue(ok({}))
    response = portal.post(f"/t/acme/admin/devices/{device.pk}/actions/", {"action": "retire"})
    assert response.status_code == 302
    assert google.requests[-1].method_id == "enterprises.devices.delete"
    device.refresh_from_db()
    assert device.state == DeviceState.RETIRED


def test_company_owned_device_is_moved_to_the_company_policy(google, enterprise, monkeypatch,
                                                             django_capture_on_commit_callbacks):
    queued = []
    monkeypatch.setattr(tasks.assign_company_policy, "apply_async",
                        lambda args, **options: queued.append(*args))
    with django_capture_on_commit_callbacks(execute=True):
        device = enrolled(enterprise, "cope", ownership="COMPANY_OWNED", mode="PROFILE_OWNER")
    assert queued == [device.android.pk]
    google.queue(ok({"name": device.android.amapi_name}))
    assert tasks.assign_company_policy(queued[0])["status"] == "done"
    request = google.requests[-1]
    assert request.method_id == "enterprises.devices.patch"
    assert request.query["updateMask"] == "policyName"
    assert request.body == {"policyName": f"{ENTERPRISE}/policies/company-owned"}
    with django_capture_on_commit_callbacks(execute=True):
        enrolled(enterprise, "byod")  # personally owned: default policy stays
    assert len(queued) == 1


def test_actions_on_a_device_that_left_management(google, enterprise, api):
    """Wiped: a second wipe and a retire change nothing and call Google no more; a command
    is refused. The state stays Wiped."""
    device = fully_managed(enterprise)
    google.queue(operation_answer(device))
    assert api.post(f"/api/v1/android-devices/{device.pk}/wipe/").status_code == 200
    calls = len(google.requests)
    assert api.post(f"/api/v1/android-devices/{device.pk}/wipe/").status_code == 200
    assert api.post(f"/api/v1/android-devices/{device.pk}/retire/").status_code == 200
    locked = api.post(f"/api/v1/android-devices/{device.pk}/commands/", {"type": "LOCK"},
                      format="json")
    assert locked.status_code == 409 and "no longer managed" in locked.json()["error"]["message"]
    assert len(google.requests) == calls
    device.refresh_from_db()
    assert device.state == DeviceState.WIPED
