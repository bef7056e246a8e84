"""Android sync: 10,000 Pub/Sub notifications (ENROLLMENT + STATUS_REPORT, 10% duplicates)
through the push endpoint and the notification task, then reconciliations of 10,000 devices.

    .venv/bin/python benchmarks/android_pubsub.py [--notifications 10000] [--devices 10000]

Prints notifications/s and SQL queries per notification, and for the reconciliation devices/s
and queries per device. The endpoint runs in-process (Django test client) and the Celery task
is called as a plain function right after it (what the worker would do), so the figures are
our side only. Google is the library's HttpMockSequence (static discovery document). Uses a
scratch PostgreSQL database `test_mdm_bench_android` (tables made from the models).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def device(enterprise: str, n: int, version: str, when: str) -> dict:
    return {"name": f"{enterprise}/devices/d{n}", "state": "ACTIVE", "appliedState": "ACTIVE",
            "managementMode": "PROFILE_OWNER", "ownership": "PERSONALLY_OWNED",
            "softwareInfo": {"androidVersion": version, "securityPatchLevel": "2026-10-05"},
            "hardwareInfo": {"serialNumber": f"SER{n}", "model": "Pixel 8", "brand": "google"},
            "enrollmentTime": "2026-11-26T09:00:00Z", "lastStatusReportTime": when,
            "policyName": f"{enterprise}/policies/default", "policyCompliant": True}


def push(kind: str, resource: dict, message_id: str, when: str) -> bytes:
    return json.dumps({"message": {
        "attributes": {"notificationType": kind}, "messageId": message_id, "publishTime": when,
        "data": base64.b64encode(json.dumps(resource).encode()).decode()},
        "subscription": "projects/bench/subscriptions/mdm"}).encode()


class QueryCounter:
    """Counts every SQL statement (CaptureQueriesContext keeps only the last 9,000)."""

    def __init__(self, connection):
        self.connection, self.count = connection, 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)

    def __enter__(self):
        self._wrapper = self.connection.execute_wrapper(self)
        self._wrapper.__enter__()
        return self

    def __exit__(self, *exc):
        self._wrapper.__exit__(*exc)

    def __len__(self) -> int:
        return self.count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--notifications", type=int, default=10_000)
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    os.environ.update({"DATABASE_URL": args.database_url + "/mdm_bench_android",
                       "DJANGO_SETTINGS_MODULE": "mdm_server.settings",
                       "MDM_DATA_DIR": "/tmp/mdm-bench-android"})
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.utils import timezone
    from googleapiclient.discovery import build
    from googleapiclient.http import HttpMockSequence

    connection.settings_dict["TEST"]["MIGRATE"] = False  # tables from the models
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        run(args, Client, connection, timezone, build, HttpMockSequence,
            settings)
    finally:
        connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)


def run(args, Client, connection, timezone, build, HttpMockSequence,
        settings) -> None:
    from devices.android import tasks
    from devices.android.sync import reconcile_enterprise
    from devices.models import AndroidDevice, Device
    from enrollment.android import amapi
    from enrollment.android.binding import _new_enterprise
    from users.services.accounts import do_create_tenant

    tenant, _admin = do_create_tenant("bench", "Bench", admin_email="a@bench.test",
                                      admin_password="Bench-pass-123")
    enterprise = _new_enterprise(tenant)
    name = "enterprises/LCbench"
    enterprise.enterprise_name, enterprise.bound_at = name, timezone.now()
    enterprise.save()
    settings.ALLOWED_HOSTS = ["*"]

    # --- notifications -------------------------------------------------------------------
    unique = args.notifications - args.notifications // 10
    enrollments = unique // 3
    messages: list[bytes] = []
    for n in range(enrollments):
        messages.append(push("ENROLLMENT", device(name, n, "14", "2026-11-26T09:00:00Z"),
                             f"e{n}", "2026-11-26T09:00:01Z"))
    for i in range(unique - enrollments):
        n, minute = i % enrollments, 10 + i // enrollments
        when = f"2026-11-26T09:{minute:02d}:00Z"
        messages.append(push("STATUS_REPORT", device(name, n, "15", when), f"s{i}", when))
    rng = random.Random(6)
    messages += rng.sample(messages, args.notifications - unique)  # Pub/Sub redelivery
    rng.shuffle(messages)
    queued: list[tuple] = []
    tasks.process_notification.delay = lambda *a: queued.append(a)
    client = Client()
    url = f"/android/pubsub/{enterprise.push_endpoint_id}/?token={enterprise.push_token()}"
    outcomes: dict[str, int] = {}
    with QueryCounter(connection) as queries:
        started = time.perf_counter()
        for body in messages:
            response = client.post(url, body, content_type="application/json")
            assert response.status_code == 204, response.status_code
            result = tasks.process_notification(*queued.pop())
            outcomes[result["outcome"]] = outcomes.get(result["outcome"], 0) + 1
        seconds = time.perf_counter() - started
    total = len(messages)
    print(f"Android Pub/Sub, PostgreSQL, {os.cpu_count()} CPUs")
    print(f"  {total} notifications ({enrollments} ENROLLMENT, {unique - enrollments} "
          f"STATUS_REPORT, {total - unique} duplicates) in {seconds:.2f} s: "
          f"{total / seconds:,.0f} notifications/s, "
          f"{len(queries) / total:.2f} queries/notification (endpoint + task)")
    print(f"  outcomes: {outcomes}; devices: {Device.objects.filter(tenant=tenant).count()}")

    # --- reconciliation ------------------------------------------------------------------
    def pages(count: int, version: str, when: str) -> list[tuple]:
        answers = []
        for start in range(0, count, 100):
            page = {"devices": [device(name, n, version, when)
                                for n in range(start, min(start + 100, count))]}
            if start + 100 < count:
                page["nextPageToken"] = f"p{start + 100}"
            answers.append(({"status": "200"}, json.dumps(page)))
        return answers

    def client_with(answers):
        service = build("androidmanagement", "v1", http=HttpMockSequence(answers),
                        static_discovery=True, cache_discovery=False)
        return amapi.AmapiClient(service)

    runs = (("first run (enrolls the devices Pub/Sub did not bring)", args.devices, "15",
             "2026-11-26T10:00:00Z"),
            ("every device changed", args.devices, "16", "2026-11-26T10:15:00Z"),
            ("steady state (unchanged, 1% gone from Google)", args.devices - args.devices // 100,
             "16", "2026-11-26T10:15:00Z"))
    for label, listed, version, when in runs:
        api = client_with(pages(listed, version, when))
        with QueryCounter(connection) as queries:
            started = time.perf_counter()
            outcome = reconcile_enterprise(enterprise, client=api)
            seconds = time.perf_counter() - started
        print(f"  reconciliation, {label}: {outcome.listed} listed in {outcome.pages} pages "
              f"({outcome.updated} updated, {outcome.unchanged} unchanged, {outcome.enrolled} "
              f"enrolled, {outcome.removed} removed) in {seconds:.2f} s: "
              f"{outcome.listed / seconds:,.0f} devices/s, "
              f"{len(queries) / max(outcome.listed, 1):.3f} queries/device")
    print(f"  android entries: {AndroidDevice.objects.filter(tenant=tenant).count()}")


if __name__ == "__main__":
    main()
