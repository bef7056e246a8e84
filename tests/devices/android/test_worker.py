"""The push endpoint through a real Celery worker on the configured broker: the task module is
registered in the worker (CELERY_IMPORTS) and the notification lands in this test's
database."""

from __future__ import annotations

import pytest

from devices.android import tasks
from devices.models import Device
from tests.base.android import ENTERPRISE
from tests.base.android.fake_google import device_resource, push_body


@pytest.mark.django_db(transaction=True)
def test_notification_is_applied_by_a_real_worker(client, enterprise, tenant, monkeypatch,
                                                  celery_processes):
    processes = celery_processes()
    processes.worker(concurrency=1)
    original = tasks.process_notification.apply_async
    monkeypatch.setattr(tasks.process_notification, "delay",
                        lambda *args: original(args, queue=processes.queue))
    url = f"/android/pubsub/{enterprise.push_endpoint_id}/?token={enterprise.push_token()}"
    response = client.post(url, push_body("ENROLLMENT", device_resource(ENTERPRISE, "w1"),
                                          message_id="w-1"),
                           content_type="application/json")
    assert response.status_code == 204
    processes.wait_for(lambda: Device.objects.filter(tenant=tenant).exists(), 60)
    assert Device.objects.get(tenant=tenant).android.amapi_name == f"{ENTERPRISE}/devices/w1"
