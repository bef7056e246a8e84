"""Google's wire formats as typed values, from recorded resources (pure functions)."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest

from enrollment.android.messages import (
    BadNotification,
    enterprise_of,
    parse_device,
    parse_operation,
    parse_push,
    parse_timestamp,
)
from tests.base import FIXTURES_DIR

FIXTURES = FIXTURES_DIR / "android"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def test_device_resource():
    report = parse_device(load("device_enrollment.json"))
    assert report.enterprise_name == "enterprises/LC0acme"
    assert report.android_version == "14" and report.android_major == 14
    assert report.api_level == 34 and not report.reuses_entry
    assert report.enterprise_specific_id == "E5PECIFIC1" and report.serial_number == ""
    assert report.previous_device_names[-1] == "enterprises/LC0acme/devices/22bb"
    assert report.enrollment_token_data == "registration:42"
    assert report.last_status_report_time == dt.datetime(2026, 11, 26, 9, 12, 45, 912345,
                                                         tzinfo=dt.UTC)


@pytest.mark.parametrize("version,api,reuses", [("9", None, True), ("8.1.0", None, True),
                                                ("10", None, False), (None, 28, True),
                                                (None, 29, False), (None, None, False)])
def test_the_android_9_10_boundary(version, api, reuses):
    resource = {"name": "enterprises/e/devices/d"}
    if version:
        resource["softwareInfo"] = {"androidVersion": version}
    if api:
        resource["apiLevel"] = api
    assert parse_device(resource).reuses_entry is reuses


def test_operation_resource():
    report = parse_operation(load("command_operation.json"))
    assert report.done and report.command_type == "RESET_PASSWORD"
    assert report.error == "The password does not meet the requirements."
    assert report.device_name == "enterprises/LC0acme/devices/3a5c0e5f1d2b"
    assert enterprise_of(report.name) == "enterprises/LC0acme"


def test_push_envelope():
    data = base64.b64encode(json.dumps(load("device_enrollment.json")).encode()).decode()
    envelope = parse_push(json.dumps({"message": {
        "attributes": {"notificationType": "ENROLLMENT"}, "data": data,
        "messageId": "2070443601311540", "publishTime": "2026-11-26T09:12:46.089Z"},
        "subscription": "projects/p/subscriptions/s"}).encode())
    assert envelope.notification_type == "ENROLLMENT"
    assert envelope.resource_name.endswith("/3a5c0e5f1d2b")
    assert type(envelope).from_dict(envelope.as_dict()) == envelope


@pytest.mark.parametrize("value", ["2026-11-26", "yesterday", "2026-13-45T00:00:00Z"])
def test_bad_timestamps(value):
    with pytest.raises(BadNotification):
        parse_timestamp(value)
