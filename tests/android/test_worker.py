"""The push endpoint through a real Celery worker on the configured broker: the task module is
registered in the worker (CELERY_IMPORTS) and the notification lands in this test's
database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import pytest
from django.conf import settings
from django.db import connection

from devices.android import tasks
from devices.models import Device

from .conftest import ENTERPRISE
from .fake_google import device_resource, push_body


@pytest.mark.django_db(transaction=True)
def test_notification_is_applied_by_a_real_worker(client, enterprise, tenant, monkeypatch):
    db = connection.settings_dict
    queue = f"test-android-{uuid.uuid4().hex[:8]}"
    env = {**os.environ,
           "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}"
                           f"/{db['NAME']}",
           "CELERY_BROKER_URL": settings.CELERY_BROKER_URL}
    original = tasks.process_notification.apply_async
    monkeypatch.setattr(tasks.process_notification, "delay",
                        lambda *args: original(args, queue=queue))
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "mdm_server", "worker", "--pool=solo",
         "-Q", queue, "--without-gossip", "--without-mingle", "--without-heartbeat",
         "-l", "WARNING"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"/android/pubsub/{enterprise.push_endpoint_id}/?token={enterprise.push_token()}"
        response = client.post(url, push_body("ENROLLMENT", device_resource(ENTERPRISE, "w1"),
                                              message_id="w-1"),
                               content_type="application/json")
        assert response.status_code == 204
        deadline = time.monotonic() + 60
        while not Device.objects.filter(tenant=tenant).exists():
            assert worker.poll() is None, worker.stdout.read().decode(errors="replace")
            assert time.monotonic() < deadline, "the worker did not apply it within 60 s"
            time.sleep(0.2)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        worker.stdout.close()
    assert Device.objects.get(tenant=tenant).android.amapi_name == f"{ENTERPRISE}/devices/w1"
