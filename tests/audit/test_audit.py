"""Audit core: record() inside transactions, the API list and filters, the portal page.

The API and the trail page also run the shared base cases (tests/base)."""

import pytest
from django.db import transaction

from audit.events import AuditAction
from audit.models import AuditEvent
from audit.record import record
from core.origin import Origin
from core.platforms import Platform
from devices.models import Device
from tests.base.api import APIViewTestCases
from tests.base.portal import PortalViewTestCases


def test_record_rolls_back_with_the_change(tenant, admin):
    before = AuditEvent.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        record(tenant, AuditAction.USER_UPDATED, actor=admin, target=admin)
        raise RuntimeError("change failed")
    assert AuditEvent.objects.count() == before


def test_record_fields(tenant, admin):
    device = Device.objects.create(tenant=tenant, platform=Platform.IOS, name="Ann's iPhone")
    event = record(tenant, AuditAction.DEVICE_REGISTERED, actor=admin, target=device,
                   user=admin, device=device, detail={"platform": "ios"},
                   origin=Origin(address="203.0.113.7", user_agent="Safari/605"))
    event.refresh_from_db()
    assert event.actor == admin and event.actor_label == "admin@acme.test"
    assert event.target_type == "devices.device" and event.target_label == "Ann's iPhone"
    assert event.device == device and event.source_ip == "203.0.113.7"
    assert event.detail == {"platform": "ios"}


def test_origin_of_a_request_keeps_address_and_user_agent(rf):
    request = rf.get("/", REMOTE_ADDR="203.0.113.7", HTTP_USER_AGENT="Safari/605")
    assert Origin.of(request) == Origin(address="203.0.113.7", user_agent="Safari/605")
    assert Origin.of(rf.get("/", REMOTE_ADDR="")) == Origin(address=None, user_agent="")


def test_api_lists_filters_and_paginates(api, tenant, admin, django_assert_max_num_queries):
    device = Device.objects.create(tenant=tenant, platform=Platform.ANDROID)
    for _ in range(30):
        record(tenant, AuditAction.DEVICE_INACTIVE, actor="system", device=device)
    with django_assert_max_num_queries(6):
        page = api.get("/api/v1/audit-events/", {"page_size": 10}).json()
    assert page["count"] >= 30 and len(page["results"]) == 10 and page["next"]
    filtered = api.get("/api/v1/audit-events/", {"action": "device.inactive",
                                                "device": device.pk}).json()
    assert filtered["count"] == 30
    assert {row["action"] for row in filtered["results"]} == {"device.inactive"}
    assert api.get("/api/v1/audit-events/", {"action": "nope"}).status_code == 400
    assert api.get("/api/v1/audit-events/", {"since": "yesterday"}).status_code == 400


def test_portal_audit_page_filters_and_counts_queries(portal, tenant, admin,
                                                      django_assert_max_num_queries):
    devices = [Device.objects.create(tenant=tenant, platform=Platform.IOS, name=f"d{i}")
               for i in range(20)]
    for device in devices:
        record(tenant, AuditAction.DEVICE_REGISTERED, actor=admin, device=device, user=admin)
    with django_assert_max_num_queries(8):
        response = portal.get(f"/t/{tenant.slug}/admin/audit/")
    assert response.status_code == 200
    assert response.content.decode().count("<td>Device registered</td>") == 20
    response = portal.get(f"/t/{tenant.slug}/admin/audit/", {"action": "auth.login_failed"})
    assert "<td>Device registered</td>" not in response.content.decode()


def make_event(tenant, admin, index: int):
    return record(tenant, AuditAction.USER_UPDATED, actor=admin, target=admin,
                  detail={"marker": f"audit-{tenant.slug}-{index:03}"})


class TestAuditEventAPI(APIViewTestCases.ReadOnlyAPIViewTestCase):
    url = "/api/v1/audit-events/"
    model = AuditEvent
    list_fields = ["id", "created_at", "action", "actor", "actor_email", "actor_label",
                   "target_type", "target_id", "target_label", "user", "user_email", "device",
                   "detail", "source_ip"]
    list_max_queries = 6

    def make_object(self, tenant, admin, index):
        return make_event(tenant, admin, index)


class TestAuditTrailPage(PortalViewTestCases.ListViewTestCase):
    path = "audit/"
    max_queries = 8

    def make_object(self, tenant, admin, index):
        return make_event(tenant, admin, index)

    def object_marker(self, obj) -> str:
        return f"marker: {obj.detail['marker']}"


def test_audit_csv_export_streams_filtered_rows(portal, tenant, admin):
    import csv
    import io

    device = Device.objects.create(tenant=tenant, platform=Platform.IOS, name="=cmd|calc")
    record(tenant, AuditAction.DEVICE_REGISTERED, actor=admin, device=device, user=admin,
           target=device, detail={"platform": "ios"})
    record(tenant, AuditAction.LOGIN_FAILED, actor="x@acme.test")
    response = portal.get(f"/t/{tenant.slug}/admin/audit/export.csv",
                          {"action": "device.registered"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["time_utc", "action", "actor"]
    assert [row[1] for row in rows[1:]] == ["device.registered"]
    assert rows[1][5] == "'=cmd|calc"  # formula neutralised
    assert portal.get(f"/t/{tenant.slug}/admin/audit/export.csv",
                      {"since": "nope"}).status_code == 400


def test_audit_export_is_tenant_scoped(portal, tenant, other_tenant, other_admin):
    record(other_tenant, AuditAction.USER_UPDATED, actor=other_admin,
           detail={"marker": "globex-secret"})
    body = b"".join(portal.get(f"/t/{tenant.slug}/admin/audit/export.csv").streaming_content)
    assert b"globex-secret" not in body
