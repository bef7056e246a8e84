"""Reconciliation over several devices.list pages, and Google's 404/429/500: transient errors
are retried with backoff and lose nothing; the others become clear admin-facing errors."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from devices.android import tasks
from devices.android.sync import reconcile_enterprise
from devices.models import AndroidDevice, Device, DeviceState
from enrollment.android.amapi import AmapiNotFound, AmapiRequestError, AmapiUnavailable, client_for
from tests.base.android import ENTERPRISE
from tests.base.android.fake_google import device_resource, error, ok
from tests.devices.android.test_reregistration import deliver

pytestmark = pytest.mark.django_db


def pages_of(names: list[str], size: int = 100, **kwargs) -> list[tuple]:
    answers = []
    for start in range(0, len(names), size):
        chunk = names[start:start + size]
        page = {"devices": [device_resource(ENTERPRISE, n, **kwargs) for n in chunk]}
        if start + size < len(names):
            page["nextPageToken"] = f"page{start + size}"
        answers.append(ok(page))
    return answers


def test_reconciliation_pages_updates_enrolls_and_removes(google, enterprise, tenant):
    for name in ("keep", "gone"):
        deliver(enterprise, "ENROLLMENT", device_resource(ENTERPRISE, name,
                                                          android_version="13"))
    names = ["keep", *[f"n{i}" for i in range(249)]]
    google.queue(*pages_of(names, android_version="15"))
    outcome = reconcile_enterprise(enterprise)
    assert (outcome.pages, outcome.listed, outcome.updated, outcome.enrolled,
            outcome.removed) == (3, 250, 1, 249, 1)
    list_requests = [r for r in google.requests if r.method_id == "enterprises.devices.list"]
    assert len(list_requests) == 3
    assert all(int(r.query["pageSize"]) <= 100 for r in list_requests)
    assert [r.query.get("pageToken") for r in list_requests] == [None, "page100", "page200"]
    assert Device.objects.get(android__amapi_name=f"{ENTERPRISE}/devices/keep").os_version \
        == "15"
    gone = Device.objects.get(android__amapi_name=f"{ENTERPRISE}/devices/gone")
    assert gone.state == DeviceState.INACTIVE and gone.android.removed_at is not None
    assert Device.objects.filter(tenant=tenant, state=DeviceState.ACTIVE).count() == 250
    enterprise.refresh_from_db()
    assert enterprise.last_reconciled_at is not None


def test_second_reconciliation_is_cheap_and_changes_nothing(google, enterprise, tenant):
    names = [f"n{i}" for i in range(200)]
    google.queue(*pages_of(names))
    reconcile_enterprise(enterprise)
    google.queue(*pages_of(names))
    with CaptureQueriesContext(connection) as queries:
        outcome = reconcile_enterprise(enterprise)
    assert (outcome.updated, outcome.unchanged, outcome.enrolled, outcome.removed) == \
        (0, 200, 0, 0)
    # savepoints, lock, one SELECT per page, the missing-devices SELECT, last_reconciled_at
    assert len(queries) <= 8, [q["sql"][:80] for q in queries]


@pytest.fixture
def alice(tenant):
    from users.models import User

    return User.objects.create_user(tenant, "alice@acme.test")


@pytest.mark.parametrize("how", ["missing", "deleted"])
def test_removing_many_devices_costs_the_same_queries_as_removing_a_few(google, enterprise,
                                                                        tenant, alice, how):
    """Devices gone from devices.list, or listed as DELETED: the removals (state, audit
    events with their owners) are bulk statements, not a few queries per device."""
    def removal_queries(count: int, prefix: str) -> int:
        names = [f"{prefix}{i}" for i in range(count)]
        google.queue(*pages_of(names))
        reconcile_enterprise(enterprise)
        Device.objects.filter(android__amapi_name__startswith=f"{ENTERPRISE}/devices/{prefix}"
                              ).update(owner=alice)
        google.queue(*(pages_of(names, state="DELETED") if how == "deleted"
                       else pages_of(["keep"])))
        with CaptureQueriesContext(connection) as queries:
            outcome = reconcile_enterprise(enterprise)
        assert outcome.removed == count
        return len(queries)

    few, many = removal_queries(3, "a"), removal_queries(30, "b")
    # A DELETED report is first copied onto its rows (two UPDATEs each, by design); removing
    # them adds nothing per device.
    per_device = 2 if how == "deleted" else 0
    assert many - few <= per_device * 27, (few, many)
    events = AuditEvent.objects.filter(tenant=tenant, action="device.inactive",
                                       device__owner=alice)
    assert events.count() == 33 and set(events.values_list("user", flat=True)) == {alice.pk}


def test_429_and_500_are_retried_with_backoff(google, enterprise, tenant):
    google.queue(error(429, "Quota exceeded", "RESOURCE_EXHAUSTED"), error(500, "boom"),
                 error(503, "unavailable"), *pages_of(["a", "b"]))
    outcome = reconcile_enterprise(enterprise)
    assert outcome.enrolled == 2
    assert len(google.pauses) == 3
    assert google.pauses[0] < google.pauses[2]  # exponential backoff (with jitter)


def test_google_down_changes_nothing_and_the_task_retries(google, enterprise, tenant,
                                                          monkeypatch):
    deliver(enterprise, "ENROLLMENT", device_resource(ENTERPRISE, "keep"))
    # Page 1 fine, then page 2 fails on every attempt: nothing may be marked removed.
    google.queue(ok({"devices": [device_resource(ENTERPRISE, "other")],
                     "nextPageToken": "p2"}), *[error(500, "backend error")] * 5)
    with pytest.raises(AmapiUnavailable, match="500"):
        reconcile_enterprise(enterprise)
    assert len(google.pauses) == 4
    keep = Device.objects.get(tenant=tenant)
    assert keep.state == DeviceState.ACTIVE and keep.android.removed_at is None
    assert not AndroidDevice.objects.filter(amapi_name__endswith="/other").exists()

    retried = []

    def retry(*args, **kwargs):
        retried.append(kwargs)
        raise RuntimeError("retry scheduled")

    google.queue(*[error(503, "unavailable")] * 5)
    monkeypatch.setattr(tasks.reconcile_enterprise, "retry", retry)
    with pytest.raises(RuntimeError, match="retry scheduled"):
        tasks.reconcile_enterprise(enterprise.pk)
    assert retried and isinstance(retried[0]["exc"], AmapiUnavailable)


def test_404_and_403_are_clear_errors_without_retry(google, enterprise):
    client = client_for(enterprise)
    google.queue(error(404, "Device not found.", "NOT_FOUND"))
    with pytest.raises(AmapiNotFound, match="Device not found"):
        client.get_device(f"{ENTERPRISE}/devices/nope")
    google.queue(error(403, "Caller lacks permission", "PERMISSION_DENIED"))
    result = tasks.reconcile_enterprise(enterprise.pk)
    assert result["status"] == "failed" and "Caller lacks permission" in result["error"]
    enterprise.refresh_from_db()
    assert "Caller lacks permission" in enterprise.last_error
    assert google.pauses == []
    with pytest.raises(AmapiRequestError):
        google.queue(error(400, "bad"))
        client.get_device(f"{ENTERPRISE}/devices/x")


def test_reconcile_all_queues_bound_enterprises_only(enterprise, configured, monkeypatch,
                                                     other_enterprise):
    queued = []
    monkeypatch.setattr(tasks.reconcile_enterprise, "delay", queued.append)
    result = tasks.reconcile_all()
    assert sorted(queued) == sorted([enterprise.pk, other_enterprise.pk])
    assert result == {"queued": queued}


def test_reconciliation_of_one_tenant_never_touches_another(google, enterprise,
                                                            other_enterprise, other_tenant):
    from tests.base.android import OTHER_ENTERPRISE

    deliver(other_enterprise, "ENROLLMENT", device_resource(OTHER_ENTERPRISE, "b1"))
    google.queue(ok({"devices": [device_resource(ENTERPRISE, "a1")]}))
    reconcile_enterprise(enterprise)
    assert Device.objects.get(tenant=other_tenant).state == DeviceState.ACTIVE
