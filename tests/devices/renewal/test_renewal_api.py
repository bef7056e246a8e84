"""The identity renewal API (issue 16): the attempts (list, detail, summary), "renew now"
for one device, the devices' identity fields and filter, the tenant's policy."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from audit.events import AuditAction
from audit.models import AuditEvent
from devices.models import Device, DeviceState, IdentityRenewal
from tests.base.api import APIViewTestCases
from tests.devices.renewal.conftest import enrolled_device, make_due

pytestmark = pytest.mark.django_db


class TestIdentityRenewalAPI(APIViewTestCases.ReadOnlyAPIViewTestCase):
    url = "/api/v1/identity-renewals/"
    model = IdentityRenewal
    list_fields = ["id", "device", "state", "reason", "attempt", "previous_certificate",
                   "new_certificate", "registration", "requested_by", "failure_reason",
                   "created_at", "expires_at", "ended_at"]

    def make_object(self, tenant, admin, index):
        device = Device.objects.create(tenant=tenant, platform="ios", state=DeviceState.ACTIVE,
                                       udid=str(uuid.uuid4()))
        return IdentityRenewal.objects.create(
            tenant=tenant, device=device, reason="expiring", requested_by_label="system",
            expires_at=timezone.now() + dt.timedelta(days=1))

    def test_filter_by_device_and_state(self, api, objects):
        rows = api.get(self.url, {"device": objects[1].device_id, "state": "pending"}).json()
        assert [row["id"] for row in rows["results"]] == [objects[1].pk]
        assert api.get(self.url, {"state": "galaxy"}).status_code == 400


def test_renew_now_sends_a_renewal_and_says_so(api, apple_tenant, enrolled):
    device = Device.objects.get(udid=enrolled.udid)
    response = api.post(f"/api/v1/devices/{device.pk}/renew-identity/")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["deferred"] is False
    renewal = body["renewal"]
    assert (renewal["device"], renewal["state"], renewal["reason"], renewal["attempt"]) == (
        device.pk, "pending", "requested", 1)
    assert renewal["requested_by"] == "api-token:test"
    assert AuditEvent.objects.get(action=AuditAction.IDENTITY_RENEWAL_QUEUED).actor_label == \
        "api-token:test"
    again = api.post(f"/api/v1/devices/{device.pk}/renew-identity/")
    assert again.status_code == 409
    assert again.json()["error"] == {
        "code": "cannot_renew", "message": "A renewal is already waiting for the device."}

    detail = api.get(f"/api/v1/devices/{device.pk}/").json()
    assert detail["identity_renewal"]["id"] == renewal["id"]
    assert detail["identity_expires_at"] is not None
    assert detail["previous_identity_accepted_until"] is None


def test_renew_now_refuses_android_and_other_tenants(api, other_api, apple_tenant, enrolled):
    android = Device.objects.create(tenant=apple_tenant, platform="android",
                                    state=DeviceState.ACTIVE)
    refused = api.post(f"/api/v1/devices/{android.pk}/renew-identity/")
    assert refused.status_code == 409
    assert refused.json()["error"]["message"] == \
        "Only Apple devices have an MDM identity to renew."
    device = Device.objects.get(udid=enrolled.udid)
    assert other_api.post(f"/api/v1/devices/{device.pk}/renew-identity/").status_code == 404
    assert not IdentityRenewal.objects.exists()


def test_renew_now_beyond_the_per_minute_limit_is_deferred(api, apple_tenant, jane):
    from enrollment.services.renewal_policy import do_save_renewal_policy
    from tests.base.apple.devices import simulated_device

    do_save_renewal_policy(apple_tenant, actor="test", max_per_minute=1)
    first, second = (Device.objects.get(udid=enrolled_device(
        simulated_device(apple_tenant, jane)).udid) for _ in range(2))
    assert api.post(f"/api/v1/devices/{first.pk}/renew-identity/").json()["deferred"] is False
    deferred = api.post(f"/api/v1/devices/{second.pk}/renew-identity/")
    assert (deferred.status_code, deferred.json()) == (202, {"renewal": None, "deferred": True})
    second.refresh_from_db()
    assert second.renewal_requested_at is not None


def test_devices_filter_and_summary_by_identity_expiry(api, apple_tenant, enrolled):
    device = make_due(enrolled, days=20)
    rows = api.get("/api/v1/devices/", {"identity_expires": "30"}).json()["results"]
    assert [row["id"] for row in rows] == [device.pk]
    assert rows[0]["identity_expires_at"] == \
        device.identity_expires_at.isoformat().replace("+00:00", "Z")
    assert api.get("/api/v1/devices/", {"identity_expires": "expired"}).json()["results"] == []
    assert api.get("/api/v1/devices/", {"identity_expires": "7"}).status_code == 400
    summary = api.get("/api/v1/identity-renewals/summary/").json()
    assert summary == {"expired": 0, "within_30": 1, "within_60": 1, "within_90": 1,
                       "renewing": 0, "failed_recently": 0}


def test_the_policy_reads_saves_and_refuses(api, other_api, tenant, settings):
    settings.MDM_CERTIFICATE_VALIDITY_DAYS = 200
    url = "/api/v1/identity-renewal-policy/"
    assert api.get(url).json() == {"renew_days_before": 60, "max_per_minute": 100,
                                   "grace_days": 7, "updated_at": None}
    saved = api.patch(url, {"grace_days": 3}, format="json")
    assert saved.status_code == 200 and saved.json()["grace_days"] == 3
    assert other_api.get(url).json()["grace_days"] == 7  # another tenant's policy
    too_soon = api.patch(url, {"renew_days_before": 250}, format="json")
    assert too_soon.status_code == 400
    assert "lifetime" in too_soon.json()["error"]["fields"]["renew_days_before"]
    assert api.put(url, {"grace_days": "soon"}, format="json").status_code == 400
    assert api.patch(url, {"grace_days": -1}, format="json").status_code == 400
    assert api.get(url).json()["grace_days"] == 3
