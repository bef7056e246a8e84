"""What a black-box probe of the Android side found: each case was a 500, a crashed worker,
a failed reconciliation or a stored unusable key before it was fixed."""

from __future__ import annotations

import base64
import json

import pytest

from audit.models import AuditEvent
from devices.android import tasks
from devices.models import AndroidDevice, Device
from tests.base.android import ENTERPRISE
from tests.base.android.fake_google import device_resource, ok
from tests.devices.android.test_pubsub import push

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def run_tasks_inline(monkeypatch):
    monkeypatch.setattr(tasks.process_notification, "delay",
                        lambda *args: tasks.process_notification(*args))


def rejections(tenant) -> list[str]:
    return list(AuditEvent.objects.filter(tenant=tenant, action="android.notification_rejected")
                .order_by("pk").values_list("detail__reason", flat=True))


def test_deeply_nested_json_is_rejected_not_a_500(client, enterprise, tenant):
    url = f"/android/pubsub/{enterprise.push_endpoint_id}/?token={enterprise.push_token()}"
    deep = b"[" * 200_000 + b"]" * 200_000
    assert client.post(url, deep, content_type="application/json").status_code == 204
    nested = base64.b64encode(deep).decode()
    body = json.dumps({"message": {"attributes": {"notificationType": "STATUS_REPORT"},
                                   "messageId": "deep-1", "data": nested}}).encode()
    assert client.post(url, body, content_type="application/json").status_code == 204
    assert rejections(tenant)[-1] == "data is not base64-encoded JSON"


@pytest.mark.parametrize(("change", "reason"), [
    (lambda r: r.update(name=f"{ENTERPRISE}/devices/{'x' * 300}"), "bad device name"),
    (lambda r: r["hardwareInfo"].update(model="Pixel\x008"), "a value holds a NUL character"),
    (lambda r: r.update(apiLevel=10**12), "apiLevel 1000000000000 is out of range"),
    (lambda r: r.update(apiLevel=-1), "apiLevel -1 is out of range"),
])
def test_values_the_database_cannot_hold_are_rejected_with_a_reason(client, enterprise, tenant,
                                                                   change, reason):
    """Once accepted with a 204, the worker must not crash on them (nor retry in vain)."""
    resource = device_resource(ENTERPRISE, "odd")
    change(resource)
    assert push(client, enterprise, "ENROLLMENT", resource, message_id="odd-1"
                ).status_code == 204
    assert rejections(tenant)[-1].startswith(reason)
    assert not AndroidDevice.objects.exists()


def test_a_message_id_with_control_characters_is_rejected(client, enterprise, tenant):
    response = push(client, enterprise, "ENROLLMENT", device_resource(ENTERPRISE, "d1"),
                    message_id="a\x00b")
    assert response.status_code == 204
    assert not AndroidDevice.objects.exists()


def test_one_unreadable_listed_device_does_not_stop_the_reconciliation(google, enterprise,
                                                                       tenant):
    """The others are enrolled, the odd one is neither enrolled nor taken for removed, and
    the admin sees why in the enterprise's last error."""
    good = device_resource(ENTERPRISE, "good")
    odd = device_resource(ENTERPRISE, "odd", report_time="2026-11-26 10:00:00")
    google.queue(ok({"devices": [good, odd]}))
    outcome = tasks.reconcile_enterprise(enterprise.pk)
    assert outcome["status"] == "done" and outcome["enrolled"] == 1
    assert outcome["unreadable"] == ["bad timestamp '2026-11-26 10:00:00'"]
    assert Device.objects.filter(android__amapi_name=f"{ENTERPRISE}/devices/good").exists()
    enterprise.refresh_from_db()
    assert enterprise.last_error.startswith("1 listed device(s) could not be read")


def test_a_service_account_key_that_cannot_be_loaded_is_refused(api, configured,
                                                               service_account_info):
    """Refused with a clear 400 before it is stored, not a 500 after."""
    broken = {**service_account_info, "private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n"
                                                     "-----END PRIVATE KEY-----\n"}
    response = api.put("/api/v1/android-enterprise/current/",
                       {"project_id": "p", "service_account_key": json.dumps(broken)},
                       format="json")
    assert response.status_code == 400, response.content[:300]
    assert "not usable" in json.dumps(response.json())
    configured.refresh_from_db()
    assert configured.service_account_info()["private_key"] == service_account_info["private_key"]
