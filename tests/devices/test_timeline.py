"""The device page's history: registration steps with their times and why one stopped, the
unified timeline (certificates, commands and results, pushes, audit events) newest first and
bounded, in a constant number of queries."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.events import AuditAction
from audit.record import record
from devices.models import (
    AndroidOperation,
    Command,
    CommandStatus,
    Device,
    PushAttempt,
    PushKind,
    PushResult,
)
from devices.services.timeline import TIMELINE_LENGTH, device_history
from enrollment.models import Registration, RegistrationState
from tests.devices.conftest import enroll

pytestmark = pytest.mark.django_db
T0 = timezone.now() - dt.timedelta(days=3)


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def add_history(tenant, device, user, count: int, start: int = 0) -> None:
    """`count` rows of every kind, times start, start+1, ... minutes after T0."""
    channel = device.apple_channels.first()
    for n in range(start, start + count):
        registration = Registration.objects.create(
            tenant=tenant, user=user, platform=device.platform, method="api", device=device,
            state=RegistrationState.FAILED, failure_reason=f"reason {n}", expires_at=at(n + 60),
            ended_at=at(n))
        Registration.objects.filter(pk=registration.pk).update(created_at=at(n))
        command = Command.objects.create(
            tenant=tenant, device=device, channel=channel, command_uuid=str(uuid.uuid4()),
            request_type="ProfileList", command_plist=b"-", status=CommandStatus.ERROR,
            completed_at=at(n), error_chain=[{"localized_description": f"broken {n}",
                                              "us_english_description": "",
                                              "error_domain": "MCMDM", "error_code": 12021}])
        Command.objects.filter(pk=command.pk).update(created_at=at(n))
        PushAttempt.objects.create(tenant=tenant, device=device, kind=PushKind.MDM,
                                   reason="manual", result=PushResult.BAD_TOKEN,
                                   status_code=400, error="BadDeviceToken", created_at=at(n))
        AndroidOperation.objects.create(tenant=tenant, device=device, name=f"op-{uuid.uuid4()}",
                                        command_type="LOCK", expires_at=at(n + 10))
        record(tenant, AuditAction.DEVICE_INACTIVE, actor="system", target=device,
               device=device, detail={"n": n})


def test_registration_history_steps_and_failure_reasons(portal, tenant, iphone, jane):
    enroll(iphone)
    device = Device.objects.get(udid=iphone.udid)
    expired = Registration.objects.create(
        tenant=tenant, user=jane, platform="ios", method="invitation", device=device,
        state=RegistrationState.EXPIRED, expires_at=at(5), profile_downloaded_at=at(1),
        ended_at=at(5))
    page = portal.get(f"/t/acme/admin/devices/{device.pk}/").content.decode()
    assert "Registration history" in page
    enrolled = Registration.objects.get(pk=iphone.registration.pk)
    for step in (enrolled.created_at, enrolled.profile_downloaded_at,
                 enrolled.certificate_issued_at, enrolled.enrolled_at):
        assert timezone.localtime(step).strftime("%Y-%m-%d %H:%M:%S") in page
    assert "The device is enrolled." in page
    # The expired one says where it stopped and what fixes it, in the table and the timeline.
    assert "The profile was downloaded but not installed in time" in page
    assert "Start registration again." in page
    assert f"Registration {expired.pk}: expired" in page
    assert f"Registration {enrolled.pk}: enrolled" in page


def test_timeline_merges_every_source_newest_first(portal, tenant, iphone, jane):
    enroll(iphone)
    device = Device.objects.get(udid=iphone.udid)
    add_history(tenant, device, jane, 1, start=0)
    history = device_history(tenant, device)
    kinds = {entry.kind for entry in history.timeline}
    assert {"registration", "command", "push", "audit"} <= kinds
    times = [entry.at for entry in history.timeline]
    assert times == sorted(times, reverse=True)
    # Commands come with their result; queued-command audit rows are not repeated.
    titles = [entry.title for entry in history.timeline]
    assert "ProfileList: Error" in titles and "ProfileList queued" in titles
    assert "MDM command queued" not in titles
    failed = next(e for e in history.timeline if e.title == "ProfileList: Error")
    assert failed.problem and "broken 0 (MCMDM 12021)" in failed.detail
    push = next(e for e in history.timeline if e.kind == "push")
    assert push.problem and "BadDeviceToken" in push.detail
    assert any(e.title == "Device registered" for e in history.timeline)
    page = portal.get(f"/t/acme/admin/devices/{device.pk}/").content.decode()
    assert page.index("Timeline") < page.index("ProfileList: Error")
    assert "Failed: reason 0." in page and "Bad device token" in page


def test_timeline_is_bounded(tenant, iphone, jane):
    enroll(iphone)
    device = Device.objects.get(udid=iphone.udid)
    add_history(tenant, device, jane, 60)
    timeline = device_history(tenant, device).timeline
    assert len(timeline) == TIMELINE_LENGTH
    assert timeline[0].at >= timeline[-1].at


def test_device_page_queries_do_not_grow_with_history(portal, tenant, iphone, jane):
    enroll(iphone)
    device = Device.objects.get(udid=iphone.udid)
    url = f"/t/acme/admin/devices/{device.pk}/"
    add_history(tenant, device, jane, 1)
    portal.get(url)  # warm: session, tenant

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert portal.get(url).status_code == 200
        return len(captured)

    small = queries()
    add_history(tenant, device, jane, 40, start=100)
    assert queries() == small
    with CaptureQueriesContext(connection) as captured:
        device_history(tenant, device)
    assert len(captured) == 7


def test_foreign_history_stays_out(portal, tenant, other_tenant, iphone, jane):
    enroll(iphone)
    device = Device.objects.get(udid=iphone.udid)
    foreign = Device.objects.create(tenant=other_tenant, platform="ios", state="active")
    record(other_tenant, AuditAction.DEVICE_RETIRED, actor="x", target=foreign, device=foreign,
           detail={"marker": "foreign-zz"})
    assert portal.get(f"/t/acme/admin/devices/{foreign.pk}/").status_code == 404
    assert "foreign-zz" not in portal.get(f"/t/acme/admin/devices/{device.pk}/").content.decode()
