"""The Pub/Sub push endpoint and notification processing: authentication, permanently bad
payloads, ENROLLMENT of a new device, duplicates, out-of-order delivery, the DELETED final
report, COMMAND results, and tenant isolation."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from devices.android import tasks
from devices.models import AndroidDevice, Device, DeviceState, ProcessedPubSubMessage
from enrollment.models import RegistrationMethod, RegistrationState
from enrollment.services.registration_journey import start_registration
from tests.base.android import ENTERPRISE, OTHER_ENTERPRISE
from tests.base.android.fake_google import device_resource, push_body
from tests.conftest import PASSWORD
from tests.enrollment.android.test_tokens import token_answer
from users.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def run_tasks_inline(monkeypatch):
    """The endpoint queues a Celery task; run it right away, as a plain function."""
    ran = []

    def delay(*args):
        ran.append(tasks.process_notification(*args))

    monkeypatch.setattr(tasks.process_notification, "delay", delay)
    return ran


def push(client, enterprise, kind, resource, *, message_id, token=None,
         publish_time="2026-11-26T10:00:00.123456789Z"):
    url = f"/android/pubsub/{enterprise.push_endpoint_id}/?token={token or enterprise.push_token()}"
    return client.post(url, push_body(kind, resource, message_id=message_id,
                                      publish_time=publish_time),
                       content_type="application/json")


@pytest.fixture
def alice(tenant):
    return User.objects.create_user(tenant, "alice@acme.test", PASSWORD)


@pytest.fixture
def registration(google, enterprise, tenant, admin, alice):
    google.queue(token_answer())
    return start_registration(tenant, alice, "android", RegistrationMethod.API,
                              actor=admin).registration


def test_wrong_or_missing_token_is_refused(client, enterprise):
    resource = device_resource(ENTERPRISE, "d1")
    assert push(client, enterprise, "ENROLLMENT", resource, message_id="1",
                token="wrong").status_code == 403
    response = client.post(f"/android/pubsub/{enterprise.push_endpoint_id}/",
                           push_body("ENROLLMENT", resource, message_id="1"),
                           content_type="application/json")
    assert response.status_code == 403
    response = client.post(f"/android/pubsub/nosuchendpoint/?token={enterprise.push_token()}",
                           push_body("ENROLLMENT", resource, message_id="1"),
                           content_type="application/json")
    assert response.status_code == 403
    assert client.get(f"/android/pubsub/{enterprise.push_endpoint_id}/").status_code == 405
    assert not Device.objects.exists()


@pytest.mark.parametrize("body", [
    b"not json", b"{}", b'{"message": {"messageId": "1", "attributes": '
                        b'{"notificationType": "ENROLLMENT"}, "data": "!!"}}',
    b'{"message": {"messageId": "1", "attributes": {"notificationType": "NOPE"}}}',
    b'{"message": {"messageId": "1", "attributes": {"notificationType": "ENROLLMENT"}, '
    b'"data": "eyJuYW1lIjogIngifQ=="}}',  # {"name": "x"}: not a device name
])
def test_permanently_bad_payloads_get_2xx_and_an_audit_entry(client, enterprise, tenant, body):
    url = f"/android/pubsub/{enterprise.push_endpoint_id}/?token={enterprise.push_token()}"
    response = client.post(url, body, content_type="application/json")
    assert response.status_code == 204
    assert AuditEvent.objects.filter(tenant=tenant,
                                     action="android.notification_rejected").count() == 1


def test_enrollment_of_a_new_device_completes_its_registration(client, enterprise, tenant,
                                                               registration, alice):
    resource = device_resource(ENTERPRISE, "d1", serial="SER1",
                               registration_id=registration.pk)
    assert push(client, enterprise, "ENROLLMENT", resource, message_id="m1").status_code == 204
    device = Device.objects.get(tenant=tenant)
    assert device.platform == "android" and device.state == DeviceState.ACTIVE
    assert device.owner == alice and device.serial_number == "SER1"
    assert device.os_version == "14" and device.model == "Pixel 8"
    android = device.android
    assert android.amapi_name == f"{ENTERPRISE}/devices/d1"
    assert android.management_mode == "PROFILE_OWNER"
    assert android.ownership == "PERSONALLY_OWNED"
    assert android.security_patch_level == "2026-10-05"
    assert android.policy_compliant is True and android.enrollment_time is not None
    registration.refresh_from_db()
    assert registration.state == RegistrationState.ENROLLED and registration.device == device
    assert AuditEvent.objects.filter(tenant=tenant, action="device.registered",
                                     device=device).count() == 1


def test_duplicate_messages_are_applied_once(client, enterprise, tenant, run_tasks_inline):
    resource = device_resource(ENTERPRISE, "d1")
    for _ in range(3):
        assert push(client, enterprise, "ENROLLMENT", resource,
                    message_id="same").status_code == 204
    assert Device.objects.filter(tenant=tenant).count() == 1
    assert [r["outcome"] for r in run_tasks_inline] == ["applied", "duplicate", "duplicate"]
    assert ProcessedPubSubMessage.objects.count() == 1
    assert AuditEvent.objects.filter(tenant=tenant, action="device.registered").count() == 1


def test_out_of_order_reports_never_go_back_in_time(client, enterprise, tenant,
                                                    run_tasks_inline):
    name = "d1"
    newer = device_resource(ENTERPRISE, name, android_version="15",
                            report_time="2026-11-26T11:00:00Z")
    older = device_resource(ENTERPRISE, name, android_version="14",
                            report_time="2026-11-26T09:30:00Z")
    # The status report overtakes the enrollment: it enrolls the device itself.
    push(client, enterprise, "STATUS_REPORT", newer, message_id="2",
         publish_time="2026-11-26T11:00:01Z")
    push(client, enterprise, "ENROLLMENT", older, message_id="1",
         publish_time="2026-11-26T09:30:01Z")
    push(client, enterprise, "STATUS_REPORT", older, message_id="3",
         publish_time="2026-11-26T10:00:00Z")
    assert [r["outcome"] for r in run_tasks_inline] == ["applied", "stale", "stale"]
    device = Device.objects.get(tenant=tenant)
    assert device.os_version == "15" and device.state == DeviceState.ACTIVE


def test_deleted_final_report_makes_the_device_inactive(client, enterprise, tenant):
    push(client, enterprise, "ENROLLMENT", device_resource(ENTERPRISE, "d1"), message_id="1",
         publish_time="2026-11-26T10:00:00Z")
    push(client, enterprise, "STATUS_REPORT", device_resource(ENTERPRISE, "d1",
                                                              state="DELETED"),
         message_id="2", publish_time="2026-11-26T10:05:00Z")
    device = Device.objects.get(tenant=tenant)
    assert device.state == DeviceState.INACTIVE
    assert device.android.removed_at is not None
    event = AuditEvent.objects.get(tenant=tenant, action="device.inactive", device=device)
    assert event.detail["reason"] == "deleted_on_google"
    # A DELETED report for a device never seen creates nothing.
    push(client, enterprise, "STATUS_REPORT", device_resource(ENTERPRISE, "zz",
                                                              state="DELETED"),
         message_id="3")
    assert Device.objects.filter(tenant=tenant).count() == 1


def test_test_notification_is_acknowledged(client, enterprise, run_tasks_inline):
    assert push(client, enterprise, "test", None, message_id="t").status_code == 204
    assert run_tasks_inline[0]["outcome"] == "ignored"


def test_a_message_about_another_enterprise_never_touches_it(client, enterprise,
                                                             other_enterprise, tenant,
                                                             other_tenant, run_tasks_inline):
    # Tenant B's device enrolled in B.
    push(client, other_enterprise, "ENROLLMENT", device_resource(OTHER_ENTERPRISE, "b1"),
         message_id="b-1")
    before = Device.objects.get(tenant=other_tenant).state
    # A's endpoint and token, carrying B's device: refused (2xx, audited in A).
    response = push(client, enterprise, "STATUS_REPORT",
                    device_resource(OTHER_ENTERPRISE, "b1", state="DELETED"), message_id="x")
    assert response.status_code == 204
    assert Device.objects.get(tenant=other_tenant).state == before
    assert not Device.objects.filter(tenant=tenant).exists()
    assert AuditEvent.objects.filter(tenant=tenant,
                                     action="android.notification_rejected").exists()
    assert not AuditEvent.objects.filter(tenant=other_tenant,
                                         action="android.notification_rejected").exists()
    # A's token on B's endpoint: not authenticated.
    url = f"/android/pubsub/{other_enterprise.push_endpoint_id}/?token={enterprise.push_token()}"
    assert client.post(url, push_body("STATUS_REPORT", device_resource(OTHER_ENTERPRISE, "b1"),
                                      message_id="y"),
                       content_type="application/json").status_code == 403
    # The same messageId in two enterprises is two messages.
    push(client, enterprise, "ENROLLMENT", device_resource(ENTERPRISE, "a1"), message_id="b-1")
    assert Device.objects.filter(tenant=tenant).count() == 1


def test_task_rejects_a_foreign_resource_even_if_queued(enterprise, other_enterprise, tenant):
    from enrollment.android.messages import parse_push

    envelope = parse_push(push_body("ENROLLMENT", device_resource(OTHER_ENTERPRISE, "b9"),
                                    message_id="q"))
    result = tasks.process_notification(enterprise.pk, envelope.as_dict())
    assert result["outcome"] == "rejected"
    assert not AndroidDevice.objects.exists()


def test_broker_down_answers_503_so_pubsub_retries(client, enterprise, monkeypatch):
    def down(*args):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.process_notification, "delay", down)
    response = push(client, enterprise, "ENROLLMENT", device_resource(ENTERPRISE, "d1"),
                    message_id="1")
    assert response.status_code == 503
