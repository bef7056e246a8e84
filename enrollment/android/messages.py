"""Google's wire formats as typed values (no Django): the Pub/Sub push envelope, AMAPI Device
and Operation resources. Anything malformed raises `BadNotification` (permanent: retrying
the same bytes cannot help)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from dataclasses import dataclass, field

NOTIFICATION_TYPES = ("ENROLLMENT", "STATUS_REPORT", "COMMAND", "test")
# Android 10 is API level 29: the S22 re-registration rule switches there.
API_LEVEL_ANDROID_10 = 29
_DEVICE_NAME = re.compile(r"^(enterprises/[^/]+)/devices/[^/]+$")
_OPERATION_NAME = re.compile(r"^((enterprises/[^/]+)/devices/[^/]+)/operations/[^/]+$")
_TIMESTAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")


class BadNotification(ValueError):
    """The push body or its resource is malformed or unsupported."""


def parse_timestamp(value) -> dt.datetime | None:
    """RFC 3339 as Google writes it (up to nanoseconds, Z or an offset)."""
    if value in (None, ""):
        return None
    match = _TIMESTAMP.match(str(value))
    if not match:
        raise BadNotification(f"bad timestamp {value!r}")
    base, fraction, zone = match.groups()
    fraction = (fraction or ".0")[:7]
    text = f"{base}{fraction}{'+00:00' if zone == 'Z' else zone}"
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise BadNotification(f"bad timestamp {value!r}") from None


@dataclass(frozen=True)
class PushEnvelope:
    message_id: str
    publish_time: dt.datetime | None
    notification_type: str
    resource: dict  # the decoded `data`: a Device, an Operation, or {} for "test"
    subscription: str = ""

    @property
    def resource_name(self) -> str:
        return str(self.resource.get("name", ""))

    def as_dict(self) -> dict:
        """JSON-safe form for a Celery task argument."""
        return {"message_id": self.message_id, "notification_type": self.notification_type,
                "publish_time": self.publish_time.isoformat() if self.publish_time else None,
                "resource": self.resource, "subscription": self.subscription}

    @classmethod
    def from_dict(cls, data: dict) -> PushEnvelope:
        return cls(message_id=data["message_id"], notification_type=data["notification_type"],
                   publish_time=parse_timestamp(data.get("publish_time")),
                   resource=data.get("resource") or {},
                   subscription=data.get("subscription", ""))


def parse_push(body: bytes) -> PushEnvelope:
    """The body Pub/Sub POSTs: {"message": {"attributes", "data" (base64), "messageId",
    "publishTime"}, "subscription"}."""
    try:
        outer = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: "[[[[..."
        raise BadNotification("body is not JSON") from None
    message = outer.get("message") if isinstance(outer, dict) else None
    if not isinstance(message, dict):
        raise BadNotification("no message object")
    message_id = message.get("messageId") or message.get("message_id")
    if not isinstance(message_id, str) or not message_id or len(message_id) > 128 or \
            not message_id.isprintable():
        raise BadNotification("missing or bad messageId")
    attributes = message.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise BadNotification("attributes is not an object")
    kind = attributes.get("notificationType", "")
    if kind not in NOTIFICATION_TYPES:
        raise BadNotification(f"unsupported notificationType {kind!r}")
    resource: dict = {}
    raw = message.get("data")
    if raw:
        try:
            resource = json.loads(base64.b64decode(raw, validate=True))
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError, RecursionError):
            raise BadNotification("data is not base64-encoded JSON") from None
        if not isinstance(resource, dict):
            raise BadNotification("data is not a JSON object")
    if kind in ("ENROLLMENT", "STATUS_REPORT") and not _DEVICE_NAME.match(
            str(resource.get("name", ""))):
        raise BadNotification(f"{kind} without a device name")
    if kind == "COMMAND" and not _OPERATION_NAME.match(str(resource.get("name", ""))):
        raise BadNotification("COMMAND without an operation name")
    return PushEnvelope(message_id=message_id,
                        publish_time=parse_timestamp(message.get("publishTime")),
                        notification_type=kind, resource=resource,
                        subscription=str(outer.get("subscription", ""))[:300])


def enterprise_of(resource_name: str) -> str:
    """enterprises/x of a device or operation name ("" when it is neither)."""
    match = _DEVICE_NAME.match(resource_name) or _OPERATION_NAME.match(resource_name)
    if match is None:
        return ""
    return match.group(match.re.groups)


def _text(value, limit: int) -> str:
    return str(value)[:limit] if value is not None else ""


@dataclass(frozen=True)
class DeviceReport:
    name: str
    enterprise_name: str
    state: str
    applied_state: str
    management_mode: str
    ownership: str
    android_version: str
    api_level: int | None
    security_patch_level: str
    serial_number: str
    enterprise_specific_id: str
    model: str
    brand: str
    previous_device_names: list[str] = field(default_factory=list)
    enrollment_time: dt.datetime | None = None
    last_status_report_time: dt.datetime | None = None
    policy_compliant: bool | None = None
    policy_name: str = ""
    applied_policy_name: str = ""
    enrollment_token_data: str = ""
    raw: dict = field(default_factory=dict)

    @property
    def is_deleted(self) -> bool:
        return "DELETED" in (self.state, self.applied_state)

    @property
    def android_major(self) -> int | None:
        """Android's major version (softwareInfo.androidVersion, "9" / "8.1.0" / "14")."""
        match = re.match(r"^(\d+)", self.android_version)
        return int(match.group(1)) if match else None

    @property
    def reuses_entry(self) -> bool:
        """S22: Android 9 and older re-register into their existing entry; 10+ (API 29+) get
        a new one. Unknown version: a new entry (history is never overwritten)."""
        major = self.android_major
        if major is not None:
            return major <= 9
        return self.api_level is not None and self.api_level < API_LEVEL_ANDROID_10


MAX_API_LEVEL = 1000  # Android 16 is 36; anything near a database integer is malformed
MAX_NAME = 255  # the amapi_name column


def _storable(resource: dict) -> None:
    """PostgreSQL stores no NUL character, in text or JSON; the resource is kept whole."""
    try:
        text = json.dumps(resource)
    except (TypeError, ValueError, RecursionError):
        raise BadNotification("the resource cannot be stored as JSON") from None
    if "\\u0000" in text:
        raise BadNotification("a value holds a NUL character")


def parse_device(resource: dict) -> DeviceReport:
    if not isinstance(resource, dict):
        raise BadNotification("device resource is not an object")
    _storable(resource)
    name = str(resource.get("name", ""))
    match = _DEVICE_NAME.match(name)
    if not match or len(name) > MAX_NAME:
        raise BadNotification(f"bad device name {name[:300]!r}")
    software = resource.get("softwareInfo") or {}
    hardware = resource.get("hardwareInfo") or {}
    if not isinstance(software, dict) or not isinstance(hardware, dict):
        raise BadNotification("softwareInfo/hardwareInfo are not objects")
    previous = resource.get("previousDeviceNames") or []
    if not isinstance(previous, list):
        raise BadNotification("previousDeviceNames is not a list")
    api_level = resource.get("apiLevel")
    try:
        api_level = int(api_level) if api_level not in (None, "") else None
    except (TypeError, ValueError):
        raise BadNotification("apiLevel is not a number") from None
    if api_level is not None and not 0 <= api_level <= MAX_API_LEVEL:
        raise BadNotification(f"apiLevel {api_level} is out of range")
    compliant = resource.get("policyCompliant")
    return DeviceReport(
        name=name, enterprise_name=match.group(1),
        state=_text(resource.get("state"), 40),
        applied_state=_text(resource.get("appliedState"), 40),
        management_mode=_text(resource.get("managementMode"), 40),
        ownership=_text(resource.get("ownership"), 40),
        android_version=_text(software.get("androidVersion"), 32),
        api_level=api_level,
        security_patch_level=_text(software.get("securityPatchLevel"), 32),
        serial_number=_text(hardware.get("serialNumber"), 64),
        enterprise_specific_id=_text(hardware.get("enterpriseSpecificId"), 128),
        model=_text(hardware.get("model"), 100),
        brand=_text(hardware.get("brand") or hardware.get("manufacturer"), 100),
        previous_device_names=[str(n) for n in previous
                               if _DEVICE_NAME.match(str(n)) and len(str(n)) <= MAX_NAME],
        enrollment_time=parse_timestamp(resource.get("enrollmentTime")),
        last_status_report_time=parse_timestamp(resource.get("lastStatusReportTime")),
        policy_compliant=compliant if isinstance(compliant, bool) else None,
        policy_name=_text(resource.get("policyName"), 255),
        applied_policy_name=_text(resource.get("appliedPolicyName"), 255),
        enrollment_token_data=_text(resource.get("enrollmentTokenData"), 255),
        raw=resource,
    )


@dataclass(frozen=True)
class OperationReport:
    name: str
    device_name: str
    done: bool
    error: str
    command_type: str


def parse_operation(resource: dict) -> OperationReport:
    name = str(resource.get("name", "")) if isinstance(resource, dict) else ""
    match = _OPERATION_NAME.match(name)
    if not match:
        raise BadNotification(f"bad operation name {name!r}")
    metadata = resource.get("metadata") or {}
    error = resource.get("error") or {}
    message = ""
    if isinstance(error, dict) and error:
        message = _text(error.get("message") or f"error code {error.get('code')}", 300)
    elif isinstance(metadata, dict) and metadata.get("errorCode"):
        message = _text(metadata.get("errorCode"), 300)
    return OperationReport(name=name, device_name=match.group(1),
                           done=bool(resource.get("done")), error=message,
                           command_type=_text(metadata.get("type")
                                              if isinstance(metadata, dict) else "", 40))
