"""Bulk device actions (the Devices page and `POST /api/v1/devices/bulk-actions/`): one action
on many devices of one tenant.

Each action first names what it will do (`confirmation`: the step the admin confirms), then
`run_bulk_action` hands every device to the single-device service of its platform and reports
each device's outcome: done, skipped (nothing to do) or failed, with the reason. Ids that are
not devices of this tenant are "not found", whether missing or another tenant's.

Queries: the devices are loaded once with what the services read (owner, Android entry and
enterprise, the Apple device channel); push, Apple re-registration and identity renewal are
batch services (constant queries); the other actions cost a constant number of queries per
device (Android ones also call Google once per device, as the single-device actions do).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db.models import Prefetch

from devices.android import actions as android_actions
from devices.android.actions import AndroidActionRefused
from devices.apple.commands import CommandRejected, do_enqueue_command
from devices.models import AppleChannel, Device, DeviceState
from devices.services import renewals
from devices.services.lifecycle import (
    DeviceActionRefused,
    device_channel,
    do_delete_device,
    do_push_devices,
    do_reregister_devices,
    do_retire_device,
)
from enrollment.android.amapi import AmapiError
from enrollment.android.binding import AndroidSetupError
from enrollment.models import IdentityRenewalPolicy
from enrollment.services.invitations import InvitationError
from enrollment.services.renewal_policy import renewal_policy

MAX_DEVICES = 1000  # per request; the Devices page selects at most one page (50)
MAX_ID = 2**63 - 1

DONE, SKIPPED, FAILED, NOT_FOUND = "done", "skipped", "failed", "not_found"
OUTCOMES = (DONE, SKIPPED, FAILED, NOT_FOUND)


@dataclass(frozen=True)
class BulkAction:
    name: str
    label: str        # the choice in the bulk-action menu
    verb: str         # "Erase 3 devices"
    apple: str        # what happens to Apple devices
    android: str      # what happens to Android devices
    summary: str = ""  # what happens in any case (leads the confirmation)
    title: str = ""    # the result's title when the verb needs an object (else the verb)


ACTIONS: dict[str, BulkAction] = {a.name: a for a in (
    BulkAction("refresh", "Refresh device information", "Refresh",
               apple="a DeviceInformation command is queued and the device is pushed",
               android="skipped: Android devices report to Google on their own"),
    BulkAction("push", "Push (wake the devices)", "Push",
               apple="woken over APNs; they check in and fetch their queued commands",
               android="skipped: Google reaches Android devices, not an MDM push"),
    BulkAction("reregister", "Re-register", "Re-register",
               summary="the devices show Reset until they enroll again",
               apple="the owner gets a new invitation by email and enrolls the device again",
               android="a new registration (enrollment token) is started for the owner"),
    BulkAction("retire", "Retire (take out of management)", "Retire",
               summary="the devices leave management; their data stays",
               apple="identity certificate revoked, queued commands cancelled; the device "
                     "unenrolls at its next check-in",
               android="work profile removed (personal), ownership relinquished (company-owned "
                       "work profile) or device disabled (fully managed)"),
    BulkAction("wipe", "Erase (wipe)", "Erase",
               summary="all data on them is destroyed; this cannot be undone",
               apple="EraseDevice (factory reset; a Mac needs a six-digit Find My PIN)",
               android="wiped via AMAPI: company-owned devices are factory reset, personal "
                       "devices lose the work profile and its data"),
    BulkAction("delete", "Delete", "Delete",
               summary="the entries are removed from this server; the audit trail keeps "
                       "every event",
               apple="retired first (identity revoked, it unenrolls at its next check-in), "
                     "then its entry, command history and push attempts are deleted",
               android="deleted on Google (a fully managed device is factory reset, a work "
                       "profile is removed), then its entry here"),
    BulkAction("renew_identity", "Renew MDM identity", "Renew the MDM identity of",
               title="Identity renewal",
               apple="a re-enrollment profile is sent; the device renews its identity at its "
                     "next check-in (at most {per_minute} a minute: the rest follow)",
               android="skipped: Android devices have no MDM identity"),
)}

# Renewal refusals that mean "nothing to do here", not "it went wrong".
_RENEWAL_SKIPS = (renewals.NOT_APPLE, renewals.NOT_MANAGED, renewals.PENDING)
DEFERRED_DETAIL = "queued for the next minutes"


def parse_ids(values: Iterable) -> list[int]:
    """Device ids from form or query values, in order, once each; anything that is not a
    positive 64-bit integer is dropped (it can name no device)."""
    ids: dict[int, None] = {}
    for value in values:
        text = str(value).strip()
        if text.isascii() and text.isdigit() and 0 < int(text) <= MAX_ID:
            ids[int(text)] = None
    return list(ids)


def load_devices(tenant, ids: Sequence[int]) -> tuple[list[Device], list[int]]:
    """(this tenant's devices among `ids`, the ids that are not), in one query plus one for
    the Apple device channels. At most MAX_DEVICES ids are considered."""
    ids = list(ids)[:MAX_DEVICES]
    devices = list(
        Device.objects.for_tenant(tenant).filter(pk__in=ids)
        .select_related("owner", "android__enterprise")
        .prefetch_related(Prefetch(
            "apple_channels", queryset=AppleChannel.objects.filter(is_user_channel=False),
            to_attr="device_channels"))
        .order_by("pk"))
    found = {device.pk for device in devices}
    return devices, [pk for pk in ids if pk not in found]


def _plural(count: int, word: str = "device") -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class Confirmation:
    """What the admin confirms: the action's consequence for exactly these devices."""

    action: BulkAction
    devices: list[Device]
    missing: list[int]
    headline: str                # "Erase 3 devices: all data on them is destroyed..."
    consequences: list[str]      # one line per platform present
    needs_pin: bool              # wipe with Macs among the devices

    @property
    def ids(self) -> list[int]:
        return [device.pk for device in self.devices]


def _per_minute(tenant, devices: Sequence[Device]) -> int:
    """The renewal policy's per-minute limit, for the confirmation's words."""
    if tenant is None and devices and devices[0].tenant_id:
        tenant = devices[0].tenant
    return (renewal_policy(tenant) if tenant is not None
            else IdentityRenewalPolicy()).max_per_minute


def confirmation(action_name: str, devices: Sequence[Device],
                 missing: Sequence[int] = (), *, tenant=None) -> Confirmation:
    action = ACTIONS[action_name]
    apple_words = action.apple
    if "{per_minute}" in apple_words:
        apple_words = apple_words.replace("{per_minute}", str(_per_minute(tenant, devices)))
    apple = sum(device.platform != "android" for device in devices)
    android = len(devices) - apple
    headline = f"{action.verb} {_plural(len(devices))}"
    if action.summary:
        headline += f": {action.summary}"
    lines = []
    if apple:
        lines.append(f"Apple ({_plural(apple)}): {apple_words}.")
    if android:
        lines.append(f"Android ({_plural(android)}): {action.android}.")
    if missing:
        lines.append(f"{_plural(len(missing), 'selected id')} matched no device of this "
                     "organization and will be left alone.")
    needs_pin = action.name == "wipe" and any(
        device.platform == "macos" and not device.is_gone for device in devices)
    return Confirmation(action, list(devices), list(missing), headline + ".", lines, needs_pin)


@dataclass(frozen=True)
class DeviceOutcome:
    device_id: int
    label: str
    outcome: str  # one of OUTCOMES
    detail: str = ""


@dataclass
class BulkResult:
    action: str
    outcomes: list[DeviceOutcome] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counted = Counter(outcome.outcome for outcome in self.outcomes)
        return {name: counted.get(name, 0) for name in OUTCOMES}

    def problems(self) -> list[str]:
        """Failures and unknown ids, named."""
        return [f"{o.label}: {o.detail}" for o in self.outcomes if o.outcome in (FAILED,
                                                                                  NOT_FOUND)]

    def summary(self) -> str:
        counts = self.counts()
        parts = [f"done for {_plural(counts[DONE])}"]
        parts += [f"{counts[name]} {name.replace('_', ' ')}" for name in OUTCOMES[1:]
                  if counts[name]]
        action = ACTIONS[self.action]
        return f"{action.title or action.verb}: {', '.join(parts)}."


# What a single-device service raises to refuse one device: that device fails, the rest go on.
_REFUSALS = (CommandRejected, DeviceActionRefused, AndroidActionRefused, AmapiError,
             AndroidSetupError, InvitationError)


def run_bulk_action(tenant, action_name: str, devices: Sequence[Device],
                    missing: Sequence[int] = (), *, actor, origin=None, pin: str | None = None,
                    preserve_data_plan: bool = True) -> BulkResult:
    """Apply a confirmed action to `devices` (loaded by `load_devices`: this tenant's)."""

    if action_name not in ACTIONS:
        raise ValueError(f"unknown bulk action {action_name!r}")
    assert all(device.tenant_id == tenant.id for device in devices)
    result = BulkResult(action_name)
    outcome = result.outcomes.append
    for pk in missing:
        outcome(DeviceOutcome(pk, f"device {pk}", NOT_FOUND, "no such device here"))

    if action_name == "push":  # batch service: Apple devices, Android ones skipped
        refused = do_push_devices(tenant, devices, actor=actor, origin=origin)
        for device in devices:
            reason = refused.get(device.pk, "")
            state = DONE if not reason else SKIPPED if device.platform == "android" else FAILED
            outcome(DeviceOutcome(device.pk, str(device), state, reason))
        return result
    if action_name == "renew_identity":  # one batch for every device, Android included
        _renew_identities(tenant, devices, result, actor=actor, origin=origin)
        return result
    if action_name == "reregister":  # Apple: one batch (one invitation per owner)
        apple = [device for device in devices if device.platform != "android"]
        refused = do_reregister_devices(tenant, apple, actor=actor, origin=origin)
        for device in apple:
            reason = refused.get(device.pk, "")
            outcome(DeviceOutcome(device.pk, str(device), FAILED if reason else DONE,
                                  reason or "owner invited to enroll it again"))

    for device in devices:
        if action_name == "reregister" and device.platform != "android":
            continue
        label = str(device)
        try:
            detail = _one(tenant, action_name, device, actor=actor, origin=origin, pin=pin,
                          preserve_data_plan=preserve_data_plan)
        except _Skip as exc:
            outcome(DeviceOutcome(device.pk, label, SKIPPED, str(exc)))
        except _REFUSALS as exc:
            outcome(DeviceOutcome(device.pk, label, FAILED, str(exc)))
        else:
            outcome(DeviceOutcome(device.pk, label, DONE, detail))
    return result


def _renew_identities(tenant, devices: Sequence[Device], result: BulkResult, *, actor,
                      origin) -> None:
    """One `do_request_renewal` for all: sent now, or deferred by the per-minute limit (both
    done), or refused with the service's words (skipped when there is nothing to do)."""
    batch = renewals.do_request_renewal(tenant, [device.pk for device in devices],
                                        actor=actor, origin=origin)
    queued = {renewal.device_id: renewal for renewal in batch.queued}
    deferred = set(batch.deferred)
    for device in devices:
        label = str(device)
        if device.pk in queued:
            detail = f"re-enrollment profile sent (attempt {queued[device.pk].attempt})"
            result.outcomes.append(DeviceOutcome(device.pk, label, DONE, detail))
        elif device.pk in deferred:
            result.outcomes.append(DeviceOutcome(device.pk, label, DONE, DEFERRED_DETAIL))
        else:
            reason = batch.skipped.get(device.pk, "not renewed")
            state = SKIPPED if reason in _RENEWAL_SKIPS else FAILED
            result.outcomes.append(DeviceOutcome(device.pk, label, state, reason))


class _Skip(Exception):
    """Nothing to do for this device (the reason is admin-facing)."""


def _one(tenant, action_name: str, device: Device, *, actor, origin, pin,
         preserve_data_plan) -> str:
    is_android = device.platform == "android"
    if action_name == "refresh":
        if is_android:
            raise _Skip("Android devices report to Google on their own")
        if device.is_gone:
            raise _Skip(f"the device is {device.get_state_display().lower()}")
        command = do_enqueue_command(tenant, device, "DeviceInformation", {}, actor=actor,
                                     channel=device_channel(device), origin=origin)
        return f"command {command.command_uuid} queued"
    if action_name == "retire":
        if device.state == DeviceState.RETIRED:
            raise _Skip("already retired")
        if is_android:
            return android_actions.retire(tenant, device, actor=actor, origin=origin)
        do_retire_device(tenant, device, actor=actor, origin=origin)
        return "retired"
    if action_name == "wipe":
        if device.is_gone:
            raise _Skip(f"the device is already {device.get_state_display().lower()}")
        if is_android:
            return android_actions.wipe(tenant, device, actor=actor, origin=origin)
        payload: dict = {"PreserveDataPlan": preserve_data_plan}
        if device.platform == "macos":
            if not pin:
                raise DeviceActionRefused("a Mac needs a six-digit Find My PIN to be erased")
            payload["PIN"] = pin
        command = do_enqueue_command(tenant, device, "EraseDevice", payload, actor=actor,
                                     channel=device_channel(device), origin=origin)
        return f"EraseDevice {command.command_uuid} queued"
    if action_name == "reregister":  # Android (Apple ones are done in one batch)
        started = android_actions.reregister(tenant, device, actor=actor, origin=origin)
        return f"registration {started.registration_id} started"
    if action_name == "delete":
        if is_android:
            android_actions.delete(tenant, device, actor=actor, origin=origin)
        else:
            do_delete_device(tenant, device, actor=actor, origin=origin)
        return "deleted"
    raise DeviceActionRefused(f"unknown action {action_name!r}")
