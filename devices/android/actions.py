"""What an admin does to an Android device (SPEC S20): retire, wipe, delete, re-register, and
the lock / reboot / reset-password commands, tracked to completion.

Google is called first, outside any transaction; the local change and its audit row follow
in one transaction. A device Google no longer knows (404) counts as done. None of these
clears anything that would stop the device from enrolling again in the same tenant: the next
ENROLLMENT is matched to this entry by `sync.enroll_device` (S20, S22).

- retire: work profile on a personal device -> `devices.delete` (the work profile goes,
  personal data stays); work profile on a company-owned device -> `RELINQUISH_OWNERSHIP`;
  fully managed -> `devices.patch state=DISABLED` (AMAPI cannot take management off a
  fully managed device without a factory reset: the device is blocked until wiped).
- wipe: company-owned -> `issueCommand WIPE` (factory reset, external storage too, tracked);
  personal -> `devices.delete` with a reason message (the work profile and its data go).
- delete: `devices.delete`, then the entry is removed here.
- re-register: a new registration (enrollment token) for the device's owner; the entry shows
  Reset until that registration arrives.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from audit.events import AuditAction
from audit.record import record
from devices.android.sync import finish_operation
from devices.models import (
    AndroidDevice,
    AndroidOperation,
    AndroidOperationStatus,
    Device,
    DeviceState,
    EndedAndroidDeviceName,
)
from devices.models.devices import GONE_STATES
from enrollment.android.amapi import AmapiClient, AmapiNotFound, AmapiUnavailable, client_for
from enrollment.models import RegistrationMethod
from enrollment.services.registration_journey import start_registration
from enrollment.services.registrations import do_cancel_registration

COMMAND_TYPES = ("LOCK", "REBOOT", "RESET_PASSWORD")
COMMAND_DURATION = dt.timedelta(minutes=10)  # AMAPI's default; expired commands vanish
WIPE_REASON = "Your organization's administrator wiped this device's work data."


class AndroidActionRefused(Exception):
    """The action does not apply to this device (message is admin-facing)."""


def _android(device: Device) -> AndroidDevice:
    android = getattr(device, "android", None) if device.platform == "android" else None
    if android is None:
        raise AndroidActionRefused("This is not an Android Enterprise device.")
    return android


def _managed(device: Device) -> None:
    """Commands go to managed devices only: a retired or wiped one answers nothing."""
    if device.state in GONE_STATES:
        raise AndroidActionRefused(f"The device is {device.state}: it is no longer managed.")


def _client(android: AndroidDevice, client: AmapiClient | None) -> AmapiClient:
    return client or client_for(android.enterprise)


def _set_state(tenant, device: Device, state: str, action: str, *, actor, origin,
               detail: dict) -> None:
    locked = Device.objects.for_tenant(tenant).select_for_update().get(pk=device.pk)
    previous = locked.state
    locked.state = state
    locked.save(update_fields=["state"])
    device.state = state
    record(tenant, action, actor=actor, target=locked, device=locked, user=locked.owner,
           origin=origin, detail={"previous_state": previous, "platform": "android",
                                  **detail})


def _issue(tenant, device: Device, android: AndroidDevice, command: dict, *, actor, origin,
           client: AmapiClient | None) -> AndroidOperation:
    command = {"duration": f"{int(COMMAND_DURATION.total_seconds())}s", **command}
    operation = _client(android, client).issue_command(android.amapi_name, command)
    with transaction.atomic():
        tracked = AndroidOperation.objects.create(
            tenant=tenant, device=device, name=operation["name"],
            command_type=command["type"], expires_at=timezone.now() + COMMAND_DURATION,
            created_by_label=str(getattr(actor, "email", None) or actor)[:200])
        record(tenant, AuditAction.ANDROID_COMMAND_ISSUED, actor=actor, target=device,
               device=device, user=device.owner, origin=origin,
               detail={"command": command["type"], "operation": tracked.name})
        if operation.get("done"):
            finish_operation(tracked, failed_with=str((operation.get("error") or {})
                                                      .get("message", "")))
    return tracked


def issue_command(tenant, device: Device, command_type: str, *, actor, origin=None,
                  new_password: str | None = None,
                  client: AmapiClient | None = None) -> AndroidOperation:
    """Lock, reboot or reset the password. The operation is followed through COMMAND
    notifications (and `refresh_operation` when one is late)."""
    android = _android(device)
    _managed(device)
    if command_type not in COMMAND_TYPES:
        raise AndroidActionRefused(f"Unknown command {command_type!r}.")
    if command_type == "REBOOT" and android.management_mode != "DEVICE_OWNER":
        raise AndroidActionRefused("Reboot only works on fully managed devices.")
    command: dict = {"type": command_type}
    if command_type == "RESET_PASSWORD":
        command["newPassword"] = new_password or ""
        command["resetPasswordFlags"] = ["LOCK_NOW"] + (["REQUIRE_ENTRY"] if new_password
                                                        else [])
    return _issue(tenant, device, android, command, actor=actor, origin=origin,
                  client=client)


def refresh_operation(operation: AndroidOperation, *, client: AmapiClient | None = None) -> bool:
    """Ask Google about a pending operation; past its duration without an answer it expired
    (AMAPI drops expired commands silently). True when it finished."""
    android = getattr(operation.device, "android", None)
    if android is None:
        return finish_operation(operation, status=AndroidOperationStatus.CANCELLED,
                                failed_with="device no longer managed")
    try:
        current = _client(android, client).get_operation(operation.name)
    except AmapiNotFound:
        current = {}
    with transaction.atomic():
        locked = AndroidOperation.objects.select_for_update().get(pk=operation.pk)
        if current.get("done") or current.get("error"):
            return finish_operation(locked, failed_with=str(
                (current.get("error") or {}).get("message", "")))
        if locked.expires_at <= timezone.now():
            return finish_operation(locked, status=AndroidOperationStatus.EXPIRED,
                                    failed_with="not acknowledged before it expired")
    return False


def retire(tenant, device: Device, *, actor, origin=None,
           client: AmapiClient | None = None) -> str:
    """Take management off (see module doc). Returns what was done on Google."""
    android = _android(device)
    if device.state in GONE_STATES:  # a wiped device is not managed any more either
        return f"already {device.state}"
    api = _client(android, client)
    try:
        if android.management_mode == "DEVICE_OWNER":
            api.patch_device(android.amapi_name, {"state": "DISABLED", "disabledReason": {
                "defaultMessage": "This device was retired by your organization."}}, "state,"
                "disabledReason")
            done = "disabled"
        elif android.ownership == "COMPANY_OWNED":
            _issue(tenant, device, android, {"type": "RELINQUISH_OWNERSHIP"}, actor=actor,
                   origin=origin, client=api)
            done = "relinquish_ownership"
        else:
            api.delete_device(android.amapi_name)
            done = "work_profile_removed"
    except AmapiNotFound:
        done = "already gone from Google"
    with transaction.atomic():
        _set_state(tenant, device, DeviceState.RETIRED, AuditAction.DEVICE_RETIRED,
                   actor=actor, origin=origin, detail={"google": done})
    return done


def wipe(tenant, device: Device, *, actor, origin=None,
         client: AmapiClient | None = None) -> str:
    android = _android(device)
    if device.state == DeviceState.WIPED:
        return "already wiped"  # a second WIPE would only fail on the device
    _managed(device)
    api = _client(android, client)
    try:
        if android.ownership == "COMPANY_OWNED":
            _issue(tenant, device, android, {"type": "WIPE", "wipeParams": {
                "wipeDataFlags": ["WIPE_EXTERNAL_STORAGE"]}}, actor=actor, origin=origin,
                client=api)
            done = "wipe_command"
        else:
            api.delete_device(android.amapi_name, wipe_reason_message=WIPE_REASON)
            done = "work_profile_wiped"
    except AmapiNotFound:
        done = "already gone from Google"
    with transaction.atomic():
        _set_state(tenant, device, DeviceState.WIPED, AuditAction.DEVICE_WIPED, actor=actor,
                   origin=origin, detail={"google": done})
    return done


def delete(tenant, device: Device, *, actor, origin=None,
           client: AmapiClient | None = None) -> None:
    """Delete on Google (which wipes a fully managed device or removes the work profile), then
    remove the entry here; the audit trail keeps its label."""
    android = _android(device)
    if android.removed_at is None:
        with contextlib.suppress(AmapiNotFound):
            _client(android, client).delete_device(android.amapi_name)
    with transaction.atomic():
        locked = Device.objects.for_tenant(tenant).select_for_update().get(pk=device.pk)
        record(tenant, AuditAction.DEVICE_DELETED, actor=actor, target=locked, device=locked,
               user=locked.owner, origin=origin,
               detail={"amapi_name": android.amapi_name, "state": locked.state,
                       "serial_number": locked.serial_number, "platform": "android"})
        # A notification about it published before the delete may still arrive: it must not
        # bring the entry back (the device gets a new name if it ever enrolls again).
        EndedAndroidDeviceName.objects.get_or_create(tenant=tenant, amapi_name=android.amapi_name)
        locked.delete()


@dataclass(frozen=True)
class Reregistration:
    registration_id: int
    enrollment_token: str | None
    qr_payload: str | None


def reregister(tenant, device: Device, *, actor, origin=None) -> Reregistration:
    """Start a new registration for the device's owner; the entry shows Reset until the
    device enrolls again (then S22 decides: same entry on Android 9-, a new one on 10+)."""
    _android(device)
    if device.owner is None or not device.owner.is_active:
        raise AndroidActionRefused("The device has no active owner to register it again.")
    result = start_registration(tenant, device.owner, "android", RegistrationMethod.API,
                                actor=actor, origin=origin)
    if result.android_enrollment_token is None:
        # Google gave no token (down, or the binding is broken): nobody could enroll with
        # this registration, so it is withdrawn and the device keeps its state.
        do_cancel_registration(result.registration, actor=actor, origin=origin,
                               reason="no Android enrollment token")
        raise AmapiUnavailable("Google issued no enrollment token; nothing changed. Try again "
                               "later (Settings > Android shows the last error).")
    with transaction.atomic():
        _set_state(tenant, device, DeviceState.RESET, AuditAction.DEVICE_REREGISTER_REQUESTED,
                   actor=actor, origin=origin,
                   detail={"registration_id": result.registration.pk})
    return Reregistration(result.registration.pk, result.android_enrollment_token,
                          result.android_qr_payload)
