"""Simulated Android devices: they arrive the way Google reports them, as AMAPI Pub/Sub push
notifications (ENROLLMENT, then STATUS_REPORT) posted to the tenant's push endpoint, for
registrations whose enrollment token they "used" (enrollmentTokenData = registration:<id>).

Google cannot be asked for real enrollment tokens here, so the registrations are started
without one; everything after Google's notification is the server's real path."""

from __future__ import annotations

import base64
import json
import time
import uuid

import httpx
from django.core.management.base import CommandError
from django.utils import timezone

from devices.models import Device
from devices.simulator.accounts import simulated_users
from devices.simulator.summary import Summary
from enrollment.models import AndroidEnterprise, RegistrationMethod
from enrollment.services.registrations import do_start_registration

WAIT_SECONDS = 60


def _body(kind: str, resource: dict) -> bytes:
    published = timezone.now().isoformat().replace("+00:00", "Z")
    message = {"attributes": {"notificationType": kind}, "messageId": uuid.uuid4().hex,
               "publishTime": published,
               "data": base64.b64encode(json.dumps(resource).encode()).decode()}
    return json.dumps({"message": message, "subscription": "simulated"}).encode()


def _resource(enterprise: str, registration_id: int, index: int) -> dict:
    now = timezone.now()
    return {
        "name": f"{enterprise}/devices/sim{uuid.uuid4().hex[:12]}", "state": "ACTIVE",
        "appliedState": "ACTIVE", "managementMode": "PROFILE_OWNER",
        "ownership": "PERSONALLY_OWNED", "policyName": f"{enterprise}/policies/default",
        "policyCompliant": True, "enrollmentTokenData": f"registration:{registration_id}",
        "enrollmentTime": now.isoformat().replace("+00:00", "Z"),
        "lastStatusReportTime": now.isoformat().replace("+00:00", "Z"),
        "hardwareInfo": {"serialNumber": f"SIM{index:06d}{uuid.uuid4().hex[:4].upper()}",
                         "model": "Pixel 8", "brand": "google",
                         "enterpriseSpecificId": uuid.uuid4().hex[:16].upper()},
        "softwareInfo": {"androidVersion": "14", "securityPatchLevel": "2026-10-05"},
    }


def simulate_android(tenant, count: int, server: str, *, progress) -> Summary:
    enterprise = AndroidEnterprise.objects.for_tenant(tenant).first()
    if enterprise is None or not enterprise.enterprise_name:
        raise CommandError("Android Enterprise is not bound for this tenant (Settings > "
                           "Android): simulated devices arrive as its Pub/Sub notifications.")
    users = simulated_users(tenant, "android", count)
    url = f"{server}/android/pubsub/{enterprise.push_endpoint_id}/"
    summary = Summary(count)
    before = Device.objects.for_tenant(tenant).filter(platform="android").count()
    with httpx.Client(timeout=30) as http:
        for index, user in enumerate(users):
            registration = do_start_registration(tenant, user, "android", RegistrationMethod.API,
                                                 actor="simulate_devices").registration
            resource = _resource(enterprise.enterprise_name, registration.pk, index)
            started = time.perf_counter()
            try:
                for kind in ("ENROLLMENT", "STATUS_REPORT"):
                    response = http.post(url, params={"token": enterprise.push_token()},
                                         content=_body(kind, resource),
                                         headers={"Content-Type": "application/json"})
                    if response.status_code >= 300:
                        raise httpx.HTTPError(f"{kind}: HTTP {response.status_code}")
            except httpx.HTTPError as exc:
                summary.fail(str(exc))
            else:
                summary.timings.setdefault("pubsub", []).append(time.perf_counter() - started)
                summary.enrolled += 1
            progress(summary.done, count)
    # The endpoint hands notifications to the Celery worker: wait for the devices to appear.
    deadline = time.monotonic() + WAIT_SECONDS
    expected = before + summary.enrolled
    while time.monotonic() < deadline:
        if Device.objects.for_tenant(tenant).filter(platform="android").count() >= expected:
            break
        time.sleep(0.5)
    else:
        missing = expected - Device.objects.for_tenant(tenant).filter(platform="android").count()
        summary.enrolled -= missing
        summary.failed += missing
        summary.errors[f"not applied within {WAIT_SECONDS} s (is a worker running?)"] += missing
    return summary
