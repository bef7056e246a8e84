"""S20/S22 re-registration: a reset device enrolls under a new AMAPI name listing the old one
in previousDeviceNames. Android 9 and older: one entry, reused. Android 10+: a new entry,
the newest Active, older ones Inactive. Matching order: previousDeviceNames,
enterpriseSpecificId, serial. Each step is on the audit trail (S21)."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from devices.android import tasks
from devices.android.actions import delete, retire, wipe
from devices.models import AndroidDevice, Device, DeviceState
from enrollment.android.messages import parse_push
from enrollment.models import RegistrationMethod, RegistrationState
from enrollment.services.registration_journey import start_registration
from tests.base.android import ENTERPRISE
from tests.base.android.fake_google import device_resource, ok, push_body
from tests.conftest import PASSWORD
from tests.enrollment.android.test_tokens import token_answer
from users.models import User

pytestmark = pytest.mark.django_db
_counter = iter(range(1, 10_000))


def deliver(enterprise, kind, resource, publish_time="2026-11-26T10:00:00Z") -> dict:
    envelope = parse_push(push_body(kind, resource, message_id=f"m{next(_counter)}",
                                    publish_time=publish_time))
    return tasks.process_notification(enterprise.pk, envelope.as_dict())


@pytest.fixture
def alice(tenant):
    return User.objects.create_user(tenant, "alice@acme.test", PASSWORD)


def new_registration(google, tenant, admin, user, n):
    google.queue(token_answer(n))
    return start_registration(tenant, user, "android", RegistrationMethod.API,
                              actor=admin).registration


def enroll_then_reenroll(google, enterprise, tenant, admin, alice, version, **match):
    first = new_registration(google, tenant, admin, alice, 1)
    deliver(enterprise, "ENROLLMENT", device_resource(
        ENTERPRISE, "old", android_version=version, serial="SER1", esid=match.get("esid", ""),
        registration_id=first.pk))
    second = new_registration(google, tenant, admin, alice, 2)
    resource = device_resource(ENTERPRISE, "new", android_version=version,
                               serial=match.get("serial", "SER1"), esid=match.get("esid", ""),
                               previous=match.get("previous", [f"{ENTERPRISE}/devices/old"]),
                               registration_id=second.pk)
    deliver(enterprise, "ENROLLMENT", resource, "2026-11-26T11:00:00Z")
    return first, second


def test_android_9_reuses_its_entry(google, enterprise, tenant, admin, alice):
    first, second = enroll_then_reenroll(google, enterprise, tenant, admin, alice, "9")
    device = Device.objects.get(tenant=tenant)  # one entry
    assert device.state == DeviceState.ACTIVE
    assert device.android.amapi_name == f"{ENTERPRISE}/devices/new"
    assert device.android.previous_device_names == [f"{ENTERPRISE}/devices/old"]
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.state == RegistrationState.SUPERSEDED
    assert second.state == RegistrationState.ENROLLED and second.device == device
    actions = list(AuditEvent.objects.filter(tenant=tenant, device=device,
                                             action__startswith="device.")
                   .order_by("id").values_list("action", flat=True))
    assert actions == ["device.registered", "device.reregistered"]


def test_android_9_entry_is_not_moved_back_by_its_old_name(google, enterprise, tenant,
                                                          admin, alice):
    """A report about the old name published before the re-registration arrives late, and
    devices.list keeps listing the old name for a while: the entry stays under its new name,
    the registrations stay as they are, and no event is written."""
    first, second = enroll_then_reenroll(google, enterprise, tenant, admin, alice, "9")
    events = AuditEvent.objects.filter(tenant=tenant).count()
    late = deliver(enterprise, "STATUS_REPORT", device_resource(
        ENTERPRISE, "old", android_version="9", serial="SER1"), "2026-11-26T10:30:00Z")
    assert late["outcome"] == "ignored"
    for _ in range(2):
        google.queue(ok({"devices": [
            device_resource(ENTERPRISE, "new", android_version="9", serial="SER1",
                            previous=[f"{ENTERPRISE}/devices/old"]),
            device_resource(ENTERPRISE, "old", android_version="9", serial="SER1")]}))
        outcome = tasks.reconcile_enterprise(enterprise.pk)
        assert outcome["enrolled"] == 0 and outcome["removed"] == 0
    device = Device.objects.get(tenant=tenant)
    assert device.android.amapi_name == f"{ENTERPRISE}/devices/new"
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, second.state) == (RegistrationState.SUPERSEDED,
                                           RegistrationState.ENROLLED)
    assert AuditEvent.objects.filter(tenant=tenant).count() == events


@pytest.mark.parametrize("old_state", ["ACTIVE", "DELETED"])
def test_android_9_reregistration_found_by_reconciliation_keeps_its_new_name(
        google, enterprise, tenant, admin, alice, old_state):
    """devices.list names the new device first and the old one after it, on one page: the
    entry moves to the new name and the old name's report, read before the move, changes
    nothing (not the entry's name, its previous names, nor its state)."""
    first = new_registration(google, tenant, admin, alice, 1)
    deliver(enterprise, "ENROLLMENT", device_resource(
        ENTERPRISE, "old", android_version="9", serial="SER1", registration_id=first.pk))
    second = new_registration(google, tenant, admin, alice, 2)
    google.queue(ok({"devices": [
        device_resource(ENTERPRISE, "new", android_version="9", serial="SER1",
                        previous=[f"{ENTERPRISE}/devices/old"], registration_id=second.pk),
        device_resource(ENTERPRISE, "old", android_version="9", serial="SER1",
                        state=old_state)]}))
    tasks.reconcile_enterprise(enterprise.pk)
    device = Device.objects.get(tenant=tenant)
    assert device.android.amapi_name == f"{ENTERPRISE}/devices/new"
    assert device.android.previous_device_names == [f"{ENTERPRISE}/devices/old"]
    assert device.state == DeviceState.ACTIVE and device.android.removed_at is None


@pytest.mark.parametrize("version", ["10", "14"])
def test_android_10_and_newer_get_a_new_entry_and_the_old_one_goes_inactive(
        google, enterprise, tenant, admin, alice, version):
    enroll_then_reenroll(google, enterprise, tenant, admin, alice, version)
    entries = list(Device.objects.filter(tenant=tenant).order_by("created_at", "id"))
    assert [d.state for d in entries] == [DeviceState.INACTIVE, DeviceState.ACTIVE]
    old, new = entries
    assert new.android.previous_device_names == [f"{ENTERPRISE}/devices/old"]
    assert new.owner == alice
    assert AuditEvent.objects.filter(tenant=tenant, action="device.inactive",
                                     device=old).count() == 1
    assert AuditEvent.objects.filter(tenant=tenant, action="device.reregistered",
                                     device=new).count() == 1
    # A third enrollment: still exactly one Active entry.
    third = new_registration(google, tenant, admin, alice, 3)
    deliver(enterprise, "ENROLLMENT", device_resource(
        ENTERPRISE, "newest", android_version=version, serial="SER1",
        previous=[f"{ENTERPRISE}/devices/old", f"{ENTERPRISE}/devices/new"],
        registration_id=third.pk), "2026-11-26T12:00:00Z")
    states = list(Device.objects.filter(tenant=tenant).order_by("created_at", "id")
                  .values_list("state", flat=True))
    assert states == [DeviceState.INACTIVE, DeviceState.INACTIVE, DeviceState.ACTIVE]


def test_audit_trail_page_shows_registration_reregistration_and_inactive(
        google, enterprise, tenant, admin, alice, portal):
    enroll_then_reenroll(google, enterprise, tenant, admin, alice, "13")
    page = portal.get("/t/acme/admin/audit/").content.decode()
    for label in ("Device registered", "Device re-registered", "Device inactive"):
        assert label in page


def test_match_by_enterprise_specific_id_when_names_are_unknown(google, enterprise, tenant,
                                                                admin, alice):
    enroll_then_reenroll(google, enterprise, tenant, admin, alice, "9", esid="ESID-1",
                         serial="OTHER-SERIAL", previous=[])
    assert Device.objects.filter(tenant=tenant).count() == 1


def test_match_by_serial_last(google, enterprise, tenant, admin, alice):
    enroll_then_reenroll(google, enterprise, tenant, admin, alice, "8.1.0", previous=[])
    assert Device.objects.filter(tenant=tenant).count() == 1


def test_previous_names_win_over_serial(google, enterprise, tenant, admin, alice):
    """Two entries: one named in previousDeviceNames, another with the same serial. The
    named one is the device's earlier entry."""
    deliver(enterprise, "ENROLLMENT", device_resource(ENTERPRISE, "a", android_version="9",
                                                      serial="S-A"))
    deliver(enterprise, "ENROLLMENT", device_resource(ENTERPRISE, "b", android_version="9",
                                                      serial="S-B"))
    deliver(enterprise, "ENROLLMENT", device_resource(
        ENTERPRISE, "c", android_version="9", serial="S-B",
        previous=[f"{ENTERPRISE}/devices/a"]), "2026-11-26T11:00:00Z")
    assert AndroidDevice.objects.get(amapi_name=f"{ENTERPRISE}/devices/c").device.serial_number \
        == "S-B"
    assert not AndroidDevice.objects.filter(amapi_name=f"{ENTERPRISE}/devices/a").exists()
    assert Device.objects.filter(tenant=tenant).count() == 2


def test_no_match_without_identifiers_is_a_new_device(enterprise, tenant):
    deliver(enterprise, "ENROLLMENT", device_resource(ENTERPRISE, "a", android_version="9"))
    deliver(enterprise, "ENROLLMENT", device_resource(ENTERPRISE, "b", android_version="9"))
    assert Device.objects.filter(tenant=tenant).count() == 2
    assert AuditEvent.objects.filter(tenant=tenant, action="device.registered").count() == 2


def test_devices_are_matched_only_in_their_own_tenant(google, enterprise, other_enterprise,
                                                      tenant, other_tenant):
    from tests.base.android import OTHER_ENTERPRISE

    deliver(other_enterprise, "ENROLLMENT", device_resource(OTHER_ENTERPRISE, "x",
                                                            android_version="9",
                                                            serial="SAME"))
    deliver(enterprise, "ENROLLMENT", device_resource(ENTERPRISE, "y", android_version="9",
                                                      serial="SAME"))
    assert Device.objects.filter(tenant=tenant).count() == 1
    assert Device.objects.filter(tenant=other_tenant).count() == 1


@pytest.mark.parametrize("version,entries", [("9", 1), ("12", 2)])
@pytest.mark.parametrize("action", ["retire", "wipe", "delete"])
def test_reregistration_after_retire_wipe_or_delete_without_clearing(
        google, enterprise, tenant, admin, alice, action, version, entries):
    """S20: the admin did not clear the active entry first; the device still re-registers
    in the same tenant."""
    first = new_registration(google, tenant, admin, alice, 1)
    deliver(enterprise, "ENROLLMENT", device_resource(ENTERPRISE, "old", android_version=version,
                                                      serial="SER1", registration_id=first.pk))
    device = Device.objects.get(tenant=tenant)
    google.queue(ok({}))
    {"retire": retire, "wipe": wipe, "delete": delete}[action](tenant, device, actor=admin)
    second = new_registration(google, tenant, admin, alice, 2)
    deliver(enterprise, "ENROLLMENT", device_resource(
        ENTERPRISE, "new", android_version=version, serial="SER1",
        previous=[f"{ENTERPRISE}/devices/old"], registration_id=second.pk),
        "2026-11-26T11:00:00Z")
    second.refresh_from_db()
    assert second.state == RegistrationState.ENROLLED
    assert second.device.state == DeviceState.ACTIVE and second.device.tenant == tenant
    expected = 1 if action == "delete" else entries
    assert Device.objects.filter(tenant=tenant).count() == expected
    assert Device.objects.filter(tenant=tenant, state=DeviceState.ACTIVE).count() == 1
