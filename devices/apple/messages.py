"""Apple MDM wire messages: check-in plists in, command plists out, command reports back.

Pure functions over bytes and typed dataclasses (no Django). Every decoded message keeps its
raw plist dict in ``raw`` for audit and for keys we do not model. Decoding failures raise a
:class:`MessageError` subclass and nothing else, whatever the input.
"""

from __future__ import annotations

import plistlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

# Shared iPad sends this UserID on the user channel; the user is then named by UserShortName.
SHARED_IPAD_USER_ID = "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"

T = TypeVar("T")


class MessageError(ValueError):
    """Base class: the body is not a message we can act on."""


class MalformedMessage(MessageError):
    """Not an XML plist dictionary, or a key holds the wrong type or value."""


class MissingKey(MessageError):
    """A key the message cannot do without is absent (or empty)."""

    def __init__(self, key: str) -> None:
        super().__init__(f"missing key: {key}")
        self.key = key


class UnknownMessageType(MessageError):
    """The check-in ``MessageType`` is not one we handle."""

    def __init__(self, name: object) -> None:
        super().__init__(f"unknown MessageType: {name!r}")
        self.name = name


# --- reading plist values -------------------------------------------------------------------

# A dictionary of plain ASCII strings, as every Idle is, read without expat (plistlib costs
# as much as the rest of an Idle's parsing). The pattern admits only what plistlib reads to the
# same dictionary: the standard declaration and DOCTYPE or none, XML whitespace, and text with
# no markup, entity, carriage return or control character. Anything else goes to plistlib.
_TEXT = rb"[\t\n\x20-\x25\x27-\x3b\x3d\x3f-\x7e]*"
_WS = rb"[ \t\r\n]*"
_PAIR = rb"<key>(" + _TEXT + rb")</key>" + _WS + rb"<string>(" + _TEXT + rb")</string>"
_FLAT_PLIST = re.compile(
    rb'(?:<\?xml version="1\.0" encoding="UTF-8"\?>' + _WS + rb")?"
    rb'(?:<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1\.0//EN" '
    rb'"http://www\.apple\.com/DTDs/PropertyList-1\.0\.dtd">' + _WS + rb")?"
    rb'<plist version="1\.0">' + _WS + rb"<dict>((?:" + _WS + _PAIR + rb")*)" + _WS
    + rb"</dict>" + _WS + rb"</plist>" + _WS)
_PAIRS = re.compile(_PAIR)


def _flat_plist(body: bytes) -> dict[str, str] | None:
    match = _FLAT_PLIST.fullmatch(body)
    if match is None:
        return None
    return {key.decode(): value.decode() for key, value in _PAIRS.findall(match.group(1))}


def _parse_plist(body: bytes) -> dict[str, Any]:
    if not isinstance(body, bytes | bytearray):
        raise MalformedMessage("body must be bytes")
    flat = _flat_plist(bytes(body))
    if flat is not None:
        return flat
    try:
        # XML only: devices never send binary plists, and the binary reader trusts object
        # counts from the input. The XML reader refuses entity declarations.
        raw = plistlib.loads(bytes(body), fmt=plistlib.FMT_XML)
    except Exception as exc:  # expat, base64 and plistlib raise assorted types on garbage
        raise MalformedMessage(f"not an XML plist: {exc}") from exc
    if not isinstance(raw, dict):
        raise MalformedMessage("plist root is not a dictionary")
    return raw


# Identifiers and push fields are stored as they come: longer than their column is malformed.
_MAX_CHARACTERS = {
    "UDID": 128, "EnrollmentID": 128, "UserID": 128, "EnrollmentUserID": 128,
    "UserShortName": 128, "UserLongName": 200, "Topic": 255, "PushMagic": 128,
}


def _opt(raw: Mapping[str, Any], key: str, kind: type[T]) -> T | None:
    value = raw.get(key)
    if value is None:
        return None
    # bool is an int subclass; plist <true/> must never pass for <integer> and vice versa.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise MalformedMessage(f"{key} must be {kind.__name__}, not {type(value).__name__}")
    if isinstance(value, str) and len(value) > _MAX_CHARACTERS.get(key, len(value)):
        raise MalformedMessage(f"{key} is longer than {_MAX_CHARACTERS[key]} characters")
    return value


def _req(raw: Mapping[str, Any], key: str, kind: type[T]) -> T:
    value = _opt(raw, key, kind)
    if value is None or (isinstance(value, str | bytes) and not value):
        raise MissingKey(key)
    return value


def _ids(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Channel identity keys shared by check-ins and command reports."""
    ids = {
        "udid": _opt(raw, "UDID", str) or None,
        "enrollment_id": _opt(raw, "EnrollmentID", str) or None,
        "user_id": _opt(raw, "UserID", str) or None,
        "enrollment_user_id": _opt(raw, "EnrollmentUserID", str) or None,
        "user_short_name": _opt(raw, "UserShortName", str) or None,
        "user_long_name": _opt(raw, "UserLongName", str) or None,
    }
    if not ids["udid"] and not ids["enrollment_id"]:
        raise MissingKey("UDID")
    for key in ("udid", "enrollment_id"):
        # A user channel's id is "<device id>:<user>": a device id with a colon, or with
        # spaces or control characters no device sends, could name another channel.
        if ids[key] and (":" in ids[key] or not ids[key].isprintable() or " " in ids[key]):
            raise MalformedMessage(f"{key} has characters no device identifier has")
    return ids


@dataclass(frozen=True, kw_only=True)
class ChannelMessage:
    """Identity of the MDM channel a message came on (device channel or a user channel)."""

    raw: dict[str, Any] = field(repr=False, compare=False)
    udid: str | None = None
    enrollment_id: str | None = None  # User Enrollment (BYOD) devices send this, not UDID
    user_id: str | None = None
    enrollment_user_id: str | None = None
    user_short_name: str | None = None
    user_long_name: str | None = None

    @property
    def device_id(self) -> str:
        """The device channel's id: UDID, or EnrollmentID for User Enrollment."""
        return self.udid or self.enrollment_id or ""

    @property
    def is_user_channel(self) -> bool:
        return bool(self.user_id or self.enrollment_user_id)

    @property
    def user_channel_user(self) -> str | None:
        """Who the user channel belongs to (Shared iPad: the managed Apple ID)."""
        if self.enrollment_user_id:
            return self.enrollment_user_id
        if self.user_id == SHARED_IPAD_USER_ID and self.user_short_name:
            return self.user_short_name
        return self.user_id

    @property
    def channel_id(self) -> str:
        """Unique channel id: ``device_id`` or ``device_id:user`` (as NanoMDM does)."""
        if self.is_user_channel:
            return f"{self.device_id}:{self.user_channel_user}"
        return self.device_id


# --- check-in messages ----------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class CheckinMessage(ChannelMessage):
    message_type: str = ""
    topic: str | None = None


@dataclass(frozen=True, kw_only=True)
class Authenticate(CheckinMessage):
    topic: str
    build_version: str | None = None
    os_version: str | None = None
    product_name: str | None = None
    serial_number: str | None = None
    imei: str | None = None
    meid: str | None = None
    device_name: str | None = None  # iOS omits DeviceName, Model and ModelName
    model: str | None = None
    model_name: str | None = None


@dataclass(frozen=True, kw_only=True)
class TokenUpdate(CheckinMessage):
    topic: str
    token: bytes = field(repr=False)
    push_magic: str = field(repr=False)
    unlock_token: bytes | None = field(default=None, repr=False)
    awaiting_configuration: bool = False
    not_on_console: bool | None = None


@dataclass(frozen=True, kw_only=True)
class CheckOut(CheckinMessage):
    topic: str


@dataclass(frozen=True, kw_only=True)
class UserAuthenticate(CheckinMessage):
    # Absent on the first request (answer with a DigestChallenge or 410), set on the second.
    digest_response: str | None = None


@dataclass(frozen=True, kw_only=True)
class SetBootstrapToken(CheckinMessage):
    bootstrap_token: bytes | None = field(default=None, repr=False)  # None/empty: remove it
    awaiting_configuration: bool = False


@dataclass(frozen=True, kw_only=True)
class GetBootstrapToken(CheckinMessage):
    awaiting_configuration: bool = False


@dataclass(frozen=True, kw_only=True)
class DeclarativeManagement(CheckinMessage):
    endpoint: str
    data: bytes | None = field(default=None, repr=False)


def _authenticate(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "topic": _req(raw, "Topic", str),
        "build_version": _opt(raw, "BuildVersion", str),
        "os_version": _opt(raw, "OSVersion", str),
        "product_name": _opt(raw, "ProductName", str),
        "serial_number": _opt(raw, "SerialNumber", str),
        "imei": _opt(raw, "IMEI", str),
        "meid": _opt(raw, "MEID", str),
        "device_name": _opt(raw, "DeviceName", str),
        "model": _opt(raw, "Model", str),
        "model_name": _opt(raw, "ModelName", str),
    }


def _token_update(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "topic": _req(raw, "Topic", str),
        "token": _req(raw, "Token", bytes),
        "push_magic": _req(raw, "PushMagic", str),
        "unlock_token": _opt(raw, "UnlockToken", bytes),
        "awaiting_configuration": bool(_opt(raw, "AwaitingConfiguration", bool)),
        "not_on_console": _opt(raw, "NotOnConsole", bool),
    }


_CHECKIN_TYPES: dict[str, tuple[type[CheckinMessage], Callable[[dict[str, Any]], dict]]] = {
    "Authenticate": (Authenticate, _authenticate),
    "TokenUpdate": (TokenUpdate, _token_update),
    "CheckOut": (CheckOut, lambda raw: {"topic": _req(raw, "Topic", str)}),
    "UserAuthenticate": (UserAuthenticate, lambda raw: {
        "digest_response": _opt(raw, "DigestResponse", str),
    }),
    "SetBootstrapToken": (SetBootstrapToken, lambda raw: {
        "bootstrap_token": _opt(raw, "BootstrapToken", bytes),
        "awaiting_configuration": bool(_opt(raw, "AwaitingConfiguration", bool)),
    }),
    "GetBootstrapToken": (GetBootstrapToken, lambda raw: {
        "awaiting_configuration": bool(_opt(raw, "AwaitingConfiguration", bool)),
    }),
    "DeclarativeManagement": (DeclarativeManagement, lambda raw: {
        "endpoint": _req(raw, "Endpoint", str),
        "data": _opt(raw, "Data", bytes),
    }),
}
CHECKIN_MESSAGE_TYPES = frozenset(_CHECKIN_TYPES)


def decode_checkin(body: bytes) -> CheckinMessage:
    """Decode a check-in request body (``PUT`` to the CheckInURL) into its typed message."""
    raw = _parse_plist(body)
    message_type = raw.get("MessageType")
    if message_type is None:
        raise MissingKey("MessageType")
    if not isinstance(message_type, str):
        raise MalformedMessage("MessageType must be str")
    if message_type not in _CHECKIN_TYPES:
        raise UnknownMessageType(message_type)
    cls, fields = _CHECKIN_TYPES[message_type]
    if message_type == "UserAuthenticate":
        _req(raw, "UserID", str)
    values = {"topic": _opt(raw, "Topic", str), **_ids(raw), **fields(raw)}
    return cls(raw=raw, message_type=message_type, **values)


# --- command reports (ServerURL) ------------------------------------------------------------

class CommandStatus(StrEnum):
    IDLE = "Idle"
    ACKNOWLEDGED = "Acknowledged"
    ERROR = "Error"
    COMMAND_FORMAT_ERROR = "CommandFormatError"
    NOT_NOW = "NotNow"


@dataclass(frozen=True)
class ErrorChainItem:
    error_code: int | None
    error_domain: str | None
    localized_description: str | None
    us_english_description: str | None = None


@dataclass(frozen=True, kw_only=True)
class CommandReport(ChannelMessage):
    """What a device sends to the ServerURL: a result for ``command_uuid``, or Idle."""

    status: CommandStatus
    command_uuid: str | None = None  # None only when Idle
    request_type: str | None = None  # macOS often echoes it, iOS does not: use the queue's
    error_chain: tuple[ErrorChainItem, ...] = ()


def _error_chain(raw: Mapping[str, Any]) -> tuple[ErrorChainItem, ...]:
    chain = _opt(raw, "ErrorChain", list) or []
    items = []
    for entry in chain:
        if not isinstance(entry, dict):
            raise MalformedMessage("ErrorChain entries must be dictionaries")
        items.append(ErrorChainItem(
            error_code=_opt(entry, "ErrorCode", int),
            error_domain=_opt(entry, "ErrorDomain", str),
            localized_description=_opt(entry, "LocalizedDescription", str),
            us_english_description=_opt(entry, "USEnglishDescription", str),
        ))
    return tuple(items)


def decode_command_report(body: bytes) -> CommandReport:
    """Decode a ServerURL request body: command result or Idle."""
    raw = _parse_plist(body)
    status_name = _req(raw, "Status", str)
    try:
        status = CommandStatus(status_name)
    except ValueError:
        raise MalformedMessage(f"unknown Status: {status_name!r}") from None
    command_uuid = _opt(raw, "CommandUUID", str) or None
    if status is not CommandStatus.IDLE and command_uuid is None:
        raise MissingKey("CommandUUID")
    return CommandReport(
        raw=raw, **_ids(raw), status=status, command_uuid=command_uuid,
        request_type=_opt(raw, "RequestType", str), error_chain=_error_chain(raw),
    )


# --- DeviceInformation results --------------------------------------------------------------

DEVICE_INFORMATION_QUERIES: tuple[str, ...] = (
    "UDID", "DeviceName", "OSVersion", "BuildVersion", "ModelName", "Model", "ProductName",
    "SerialNumber", "IMEI", "MEID", "DeviceCapacity", "AvailableDeviceCapacity", "IsSupervised",
    "WiFiMAC", "BluetoothMAC",
)


@dataclass(frozen=True)
class DeviceInformation:
    """The DeviceInformation answers that fill a device row (absent answers are None)."""

    udid: str | None
    serial_number: str | None
    device_name: str | None
    model: str | None
    model_name: str | None
    product_name: str | None
    os_version: str | None
    build_version: str | None
    imei: str | None
    meid: str | None


def parse_device_information(report: CommandReport) -> DeviceInformation:
    """Summarise an Acknowledged DeviceInformation report's ``QueryResponses``."""
    answers = _opt(report.raw, "QueryResponses", dict)
    if answers is None:
        raise MissingKey("QueryResponses")
    return DeviceInformation(
        udid=_opt(answers, "UDID", str),
        serial_number=_opt(answers, "SerialNumber", str),
        device_name=_opt(answers, "DeviceName", str),
        model=_opt(answers, "Model", str),
        model_name=_opt(answers, "ModelName", str),
        product_name=_opt(answers, "ProductName", str),
        os_version=_opt(answers, "OSVersion", str),
        build_version=_opt(answers, "BuildVersion", str),
        imei=_opt(answers, "IMEI", str),
        meid=_opt(answers, "MEID", str),
    )


# --- commands (server to device) ------------------------------------------------------------

def build_command(
    request_type: str, command_uuid: str, payload: Mapping[str, Any] | None = None
) -> bytes:
    """The XML plist a device fetches from the ServerURL for one queued command."""
    if not request_type or not command_uuid:
        raise ValueError("request_type and command_uuid are required")
    payload = dict(payload or {})
    if "RequestType" in payload:
        raise ValueError("payload must not carry RequestType")
    command = {"RequestType": request_type, **payload}
    return plistlib.dumps({"CommandUUID": command_uuid, "Command": command},
                          fmt=plistlib.FMT_XML, sort_keys=True)


def _find_my_pin(pin: str | None) -> dict[str, str]:
    if pin is None:
        return {}
    if len(pin) != 6 or not pin.isascii() or not pin.isdigit():
        raise ValueError("the Find My PIN must be six digits")
    return {"PIN": pin}


def device_information_command(
    command_uuid: str, queries: Sequence[str] = DEVICE_INFORMATION_QUERIES
) -> bytes:
    return build_command("DeviceInformation", command_uuid, {"Queries": list(queries)})


def profile_list_command(command_uuid: str, *, managed_only: bool | None = None) -> bytes:
    payload = {} if managed_only is None else {"ManagedOnly": managed_only}
    return build_command("ProfileList", command_uuid, payload)


def install_profile_command(command_uuid: str, profile: bytes) -> bytes:
    """``profile``: the .mobileconfig bytes, signed or not."""
    if not profile:
        raise ValueError("profile is empty")
    return build_command("InstallProfile", command_uuid, {"Payload": bytes(profile)})


def remove_profile_command(command_uuid: str, identifier: str) -> bytes:
    if not identifier:
        raise ValueError("identifier is empty")
    return build_command("RemoveProfile", command_uuid, {"Identifier": identifier})


def device_lock_command(
    command_uuid: str, *, pin: str | None = None, message: str | None = None,
    phone_number: str | None = None,
) -> bytes:
    """``pin`` is required by macOS (Find My PIN), ignored by iOS."""
    payload: dict[str, Any] = _find_my_pin(pin)
    if message:
        payload["Message"] = message
    if phone_number:
        payload["PhoneNumber"] = phone_number
    return build_command("DeviceLock", command_uuid, payload)


def erase_device_command(
    command_uuid: str, *, pin: str | None = None, preserve_data_plan: bool | None = None
) -> bytes:
    """``pin`` is required by macOS (Find My PIN), ignored by iOS."""
    payload: dict[str, Any] = _find_my_pin(pin)
    if preserve_data_plan is not None:
        payload["PreserveDataPlan"] = preserve_data_plan
    return build_command("EraseDevice", command_uuid, payload)
