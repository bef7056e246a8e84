"""The MDM command queue (ServerURL side of NanoMDM's service): enqueue typed or raw commands
on a channel, cancel what waits, store what the device answers.

Enqueueing is a ``do_*`` service (atomic, audited). Reports are the device's side:
``do_record_report``, which the check-in store calls; handing out the next command is the
store's (store.py, postgres_store.py).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import math
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.events import AuditAction
from audit.record import actor_fields, record
from devices.apple import messages as msg
from devices.apple import user_enrollment
from devices.models import AppleChannel, Command, CommandStatus, Device, DeviceState
from devices.models.commands import PENDING_STATUSES
from devices.services.renewal_outcomes import fail_renewal_of_command

ELIDE_DATA_OVER = 256  # bytes; longer data values show as a size in the stored payload


class CommandRejected(ValueError):
    """The command cannot be queued (no Apple channel, bad payload); message is user-facing."""


MAX_JSON_DEPTH = 64  # deeper plist values (no real result nests so far) become a note


def json_safe(value: Any, *, elide_data: bool = False, _depth: int = 0) -> Any:
    """A plist value as JSON: data as base64 (or a size note), dates as ISO 8601, NaN and
    infinities as text (JSON has neither), anything nested deeper than MAX_JSON_DEPTH as a
    note: a device's odd answer is stored, not a reason to keep its command queued."""
    if _depth > MAX_JSON_DEPTH:
        return f"<nested deeper than {MAX_JSON_DEPTH} levels>"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, bytes | bytearray):
        if elide_data and len(value) > ELIDE_DATA_OVER:
            return f"<{len(value)} bytes>"
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): json_safe(v, elide_data=elide_data, _depth=_depth + 1)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v, elide_data=elide_data, _depth=_depth + 1) for v in value]
    return value


# --- building commands from API/portal input ------------------------------------------------

def _string(payload: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    value = payload.get(key)
    if value is None or value == "":
        if required:
            raise CommandRejected(f"{key} is required.")
        return None
    if not isinstance(value, str):
        raise CommandRejected(f"{key} must be a string.")
    return value


def _bool(payload: Mapping[str, Any], key: str) -> bool | None:
    value = payload.get(key)
    if value is not None and not isinstance(value, bool):
        raise CommandRejected(f"{key} must be true or false.")
    return value


def _data(payload: Mapping[str, Any], key: str) -> bytes:
    value = payload.get(key)
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if not isinstance(value, str) or not value:
        raise CommandRejected(f"{key} is required (base64).")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise CommandRejected(f"{key} is not valid base64.") from None


def _device_information(command_uuid: str, p: Mapping[str, Any]) -> bytes:
    queries = p.get("Queries", list(msg.DEVICE_INFORMATION_QUERIES))
    if not isinstance(queries, list) or not all(isinstance(q, str) and q for q in queries):
        raise CommandRejected("Queries must be a list of strings.")
    return msg.device_information_command(command_uuid, queries)


def _install_profile(command_uuid: str, p: Mapping[str, Any]) -> bytes:
    return msg.install_profile_command(command_uuid, _data(p, "Payload"))


def _remove_profile(command_uuid: str, p: Mapping[str, Any]) -> bytes:
    return msg.remove_profile_command(command_uuid, _string(p, "Identifier", required=True))


def _device_lock(command_uuid: str, p: Mapping[str, Any]) -> bytes:
    return msg.device_lock_command(command_uuid, pin=_string(p, "PIN"),
                                   message=_string(p, "Message"),
                                   phone_number=_string(p, "PhoneNumber"))


def _erase_device(command_uuid: str, p: Mapping[str, Any]) -> bytes:
    return msg.erase_device_command(command_uuid, pin=_string(p, "PIN"),
                                    preserve_data_plan=_bool(p, "PreserveDataPlan"))


_TYPED: dict[str, Callable[[str, Mapping[str, Any]], bytes]] = {
    "DeviceInformation": _device_information,
    "ProfileList": lambda u, p: msg.profile_list_command(u, managed_only=_bool(p, "ManagedOnly")),
    "InstallProfile": _install_profile,
    "RemoveProfile": _remove_profile,
    "DeviceLock": _device_lock,
    "EraseDevice": _erase_device,
}
TYPED_REQUEST_TYPES = tuple(_TYPED)
_TYPED_KEYS = {
    "DeviceInformation": {"Queries"},
    "ProfileList": {"ManagedOnly"},
    "InstallProfile": {"Payload"},
    "RemoveProfile": {"Identifier"},
    "DeviceLock": {"PIN", "Message", "PhoneNumber"},
    "EraseDevice": {"PIN", "PreserveDataPlan"},
}


def build_command_plist(request_type: str, command_uuid: str,
                        payload: Mapping[str, Any]) -> bytes:
    """The command plist; typed commands are validated, others are passed through (raw)."""
    if not isinstance(request_type, str) or not request_type.isascii() or \
            not request_type.isalnum():
        raise CommandRejected("request_type must be an Apple RequestType such as ProfileList.")
    if not isinstance(payload, Mapping):
        raise CommandRejected("payload must be an object.")
    try:
        if request_type in _TYPED:
            unknown = sorted(set(payload) - _TYPED_KEYS[request_type])
            if unknown:
                raise CommandRejected(f"{request_type} takes no {', '.join(unknown)}.")
            return _TYPED[request_type](command_uuid, payload)
        return msg.build_command(request_type, command_uuid, payload)
    except CommandRejected:
        raise
    except (ValueError, TypeError, OverflowError) as exc:  # plistlib refuses odd values
        raise CommandRejected(f"Invalid payload: {exc}") from None


# --- enqueueing ------------------------------------------------------------------------------

def device_channel_of(device: Device) -> AppleChannel | None:
    return device.apple_channels.filter(is_user_channel=False).first()


def _enqueue(device: Device, channel: AppleChannel, request_type: str,
             payload: Mapping[str, Any], actor_label: str) -> Command:
    command_uuid = str(uuid.uuid4()).upper()
    plist = build_command_plist(request_type, command_uuid, payload)
    return Command.objects.create(
        tenant_id=device.tenant_id, device=device, channel=channel, command_uuid=command_uuid,
        request_type=request_type, payload=json_safe(dict(payload), elide_data=True),
        command_plist=plist, created_by_label=actor_label[:200])


@transaction.atomic
def do_enqueue_command(tenant, device: Device, request_type: str,
                       payload: Mapping[str, Any] | None = None, *, actor,
                       channel: AppleChannel | None = None, origin=None) -> Command:
    """Queue one command for ``device`` (its device channel unless ``channel``), audited."""
    assert device.tenant_id == tenant.id
    if device.platform not in ("ios", "macos"):
        raise CommandRejected("Only Apple devices take MDM commands.")
    if device.user_enrollment and (why := user_enrollment.refusal(request_type)):
        raise CommandRejected(why)
    channel = channel or device_channel_of(device)
    if channel is None:
        raise CommandRejected("This device has not checked in over MDM yet.")
    assert channel.device_id == device.pk
    command = _enqueue(device, channel, request_type, payload or {},
                       actor_fields(actor)["actor_label"])
    record(tenant, AuditAction.COMMAND_QUEUED, actor=actor, target=command, device=device,
           origin=origin, detail={"request_type": request_type,
                                  "command_uuid": command.command_uuid,
                                  "channel": channel.channel_id})
    from devices.push.service import push_after_commit  # late: push imports this module

    push_after_commit([channel.pk])  # wake the device once committed (one task per commit)
    return command


def cancel_pending(channel: AppleChannel) -> int:
    """Authenticate resets the queue (NanoMDM): what was waiting will never be answered."""
    return (Command.objects.filter(channel=channel, status__in=PENDING_STATUSES)
            .update(status=CommandStatus.CANCELLED, completed_at=timezone.now()))


def cancel_pending_of_device(device: Device) -> int:
    """A device that left for good (retired, wiped) will answer nothing on any channel."""
    return (Command.objects.filter(device=device, status__in=PENDING_STATUSES)
            .update(status=CommandStatus.CANCELLED, completed_at=timezone.now()))


# --- the device's side -----------------------------------------------------------------------

_STATUS = {
    msg.CommandStatus.ACKNOWLEDGED: CommandStatus.ACKNOWLEDGED,
    msg.CommandStatus.ERROR: CommandStatus.ERROR,
    msg.CommandStatus.COMMAND_FORMAT_ERROR: CommandStatus.COMMAND_FORMAT_ERROR,
    msg.CommandStatus.NOT_NOW: CommandStatus.NOT_NOW,
}


@transaction.atomic
def do_record_report(tenant, channel: AppleChannel, report: msg.CommandReport,
                     body: bytes) -> Command | None:
    """Store a command result with its raw plist; None when the UUID is not ours, the
    command already has a final answer (a repeated report changes nothing) or was never
    delivered (a device answers only what it was given)."""
    command = (Command.objects.for_tenant(tenant).select_for_update()
               .filter(channel=channel, command_uuid=report.command_uuid).first())
    if command is None or command.status not in PENDING_STATUSES or command.sent_at is None:
        return None  # not ours, answered already, or never handed to the device
    command.status = _STATUS[report.status]
    command.result_plist = bytes(body)
    command.result = json_safe(report.raw)
    command.error_chain = [item.__dict__ for item in report.error_chain]
    if command.status != CommandStatus.NOT_NOW:
        command.completed_at = timezone.now()
    command.save(update_fields=["status", "result_plist", "result", "error_chain",
                                "completed_at"])
    if command.status == CommandStatus.ACKNOWLEDGED:
        _apply_result(tenant, command, report)
    elif command.status in FAILED_STATUSES and command.request_type == "InstallProfile":
        fail_renewal_of_command(command, _refusal_words(report))
    return command


FAILED_STATUSES = (CommandStatus.ERROR, CommandStatus.COMMAND_FORMAT_ERROR)


def _refusal_words(report: msg.CommandReport) -> str:
    """What the device said when it refused a command, for an admin."""
    for item in report.error_chain:
        words = item.us_english_description or item.localized_description
        if words:
            return f"the device refused the profile: {words}"
    return f"the device refused the profile ({report.status.value})"


def _apply_result(tenant, command: Command, report: msg.CommandReport) -> None:
    device = Device.objects.select_for_update().get(pk=command.device_id)
    if command.request_type == "DeviceInformation":
        try:
            info = msg.parse_device_information(report)
        except msg.MessageError:
            return  # stored as sent; nothing to summarise
        answers = json_safe(report.raw.get("QueryResponses") or {})
        updates = {
            "serial_number": info.serial_number, "name": info.device_name,
            "model": info.model, "model_name": info.model_name,
            "product_name": info.product_name, "os_version": info.os_version,
            "build_version": info.build_version, "imei": info.imei, "meid": info.meid,
        }
        for field, value in updates.items():
            if value is not None:
                limit = Device._meta.get_field(field).max_length
                setattr(device, field, value[:limit])
        device.device_information = answers
        device.save(update_fields=[*updates, "device_information"])
    elif command.request_type == "EraseDevice" and device.state != DeviceState.WIPED:
        device.state = DeviceState.WIPED
        device.save(update_fields=["state"])
        AppleChannel.objects.filter(device=device).update(enabled=False)
        cancel_pending_of_device(device)  # nothing more is served to an erased device
        record(tenant, AuditAction.DEVICE_WIPED, actor=f"device:{device.udid}", target=device,
               device=device, user=device.owner, detail={"command_uuid": command.command_uuid})
