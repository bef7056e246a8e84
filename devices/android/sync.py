"""Android device state from Google: Pub/Sub notifications (ENROLLMENT, STATUS_REPORT,
COMMAND) and the periodic reconciliation against `devices.list` (SPEC R6, S20, S21, S22).

Every notification is applied once (messageId dedupe row in the same transaction) and only if
it is not older than what the device already holds (publishTime). A device name the tenant
does not know is an enrollment: it is matched to an earlier entry of the same physical device
(previousDeviceNames, then enterpriseSpecificId, then serial number); Android 9 and older
reuse that entry, Android 10 and newer get a new entry and the older ones become Inactive.
A device Google reports DELETED, or that is missing from `devices.list`, is removed: an
Active entry becomes Inactive (S20); Wiped, Retired and Reset entries keep their state.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone

from audit.events import AuditAction
from audit.record import record, record_many
from core import jobs
from core.locks import transaction_lock
from devices.models import (
    AndroidDevice,
    AndroidOperation,
    AndroidOperationStatus,
    Device,
    DeviceState,
    EndedAndroidDeviceName,
    Platform,
    ProcessedPubSubMessage,
)
from devices.services.lifecycle import do_enroll_device
from enrollment.android.amapi import AmapiClient, client_for
from enrollment.android.messages import (
    BadNotification,
    DeviceReport,
    PushEnvelope,
    parse_device,
    parse_operation,
)
from enrollment.android.tokens import registration_id_from
from enrollment.models import AndroidEnterprise, Registration

log = logging.getLogger(__name__)

# Entries that a newer enrollment of the same device turns Inactive (S22). Wiped and Retired
# were ended by an admin and keep that state on the trail.
SUPERSEDABLE_STATES = (DeviceState.ACTIVE, DeviceState.PENDING, DeviceState.RESET)
RECONCILE_LOCK_SECONDS = 3600


def device_actor(name: str) -> str:
    return f"android:{name}"


# --- notifications -------------------------------------------------------------------------

def _claim_message(enterprise: AndroidEnterprise, envelope: PushEnvelope) -> bool:
    """Insert the dedupe row; False when this messageId was already applied. One statement
    (INSERT ... ON CONFLICT DO NOTHING RETURNING) inside the caller's transaction, so a
    failed apply rolls the claim back and the redelivery is applied."""
    table = ProcessedPubSubMessage._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (tenant_id, enterprise_id, message_id, notification_type, "  # noqa: S608
            "publish_time, processed_at) VALUES (%s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (enterprise_id, message_id) DO NOTHING RETURNING id",
            [enterprise.tenant_id, enterprise.pk, envelope.message_id,
             envelope.notification_type, envelope.publish_time, timezone.now()])
        return cursor.fetchone() is not None


def apply_notification(enterprise: AndroidEnterprise, envelope: PushEnvelope) -> dict:
    """Apply one notification of `enterprise` (whose tenant it is). Returns
    {"outcome": applied|duplicate|stale|ignored|rejected, ...}."""
    if not enterprise.is_bound:
        return {"outcome": "ignored", "reason": "enterprise not bound"}
    with transaction.atomic():
        if not _claim_message(enterprise, envelope):
            return {"outcome": "duplicate"}
        kind = envelope.notification_type
        if kind == "test":
            return {"outcome": "ignored", "reason": "test notification"}
        if not envelope.resource_name.startswith(enterprise.enterprise_name + "/"):
            # Never let one tenant's endpoint touch another enterprise's devices.
            record(enterprise.tenant, AuditAction.ANDROID_NOTIFICATION_REJECTED,
                   actor="google-pubsub", target=enterprise,
                   detail={"message_id": envelope.message_id,
                           "reason": "resource of another enterprise",
                           "resource": envelope.resource_name[:200]})
            return {"outcome": "rejected", "reason": "foreign enterprise"}
        if kind == "COMMAND":
            return apply_operation(enterprise, envelope.resource)
        return apply_device_report(enterprise, parse_device(envelope.resource),
                                   publish_time=envelope.publish_time)


def _one(queryset):
    """The row of a lookup on a unique key, or None. Not `.first()`: its ORDER BY pk LIMIT 1
    can make PostgreSQL walk the primary key instead of using the unique index."""
    return next(iter(queryset[:1]), None)


def _is_stale(known: dt.datetime | None, incoming: dt.datetime | None) -> bool:
    return known is not None and incoming is not None and incoming < known


def apply_device_report(enterprise: AndroidEnterprise, report: DeviceReport, *,
                        publish_time: dt.datetime | None) -> dict:
    tenant = enterprise.tenant
    android = _one(AndroidDevice.objects.for_tenant(tenant).select_for_update()
                   .select_related("device").filter(amapi_name=report.name))
    if android is None:
        if report.is_deleted:  # remembered, so that an older report arriving later is ignored
            EndedAndroidDeviceName.objects.get_or_create(tenant=tenant, amapi_name=report.name)
            return {"outcome": "ignored", "reason": "unknown device already deleted"}
        if EndedAndroidDeviceName.objects.for_tenant(tenant).filter(
                amapi_name=report.name).exists():
            return {"outcome": "ignored", "reason": "device name no longer in use"}
        device = enroll_device(enterprise, report, publish_time=publish_time)
        return {"outcome": "applied", "action": "enrolled", "device_id": device.pk}
    if _is_stale(android.last_publish_time, publish_time):
        return {"outcome": "stale", "device_id": android.device_id}
    _copy_report(android, android.device, report, publish_time)
    android.save(update_fields=ANDROID_FIELDS)
    android.device.save(update_fields=DEVICE_FIELDS)
    if report.is_deleted and android.removed_at is None:
        mark_removed_many(tenant, [android], reason="deleted_on_google")
        return {"outcome": "applied", "action": "removed", "device_id": android.device_id}
    return {"outcome": "applied", "action": "updated", "device_id": android.device_id}


DEVICE_FIELDS = ["serial_number", "model", "model_name", "os_version", "last_seen_at"]
ANDROID_FIELDS = ["amapi_state", "applied_state", "management_mode", "ownership",
                  "android_version", "api_level", "security_patch_level",
                  "enterprise_specific_id", "previous_device_names", "policy_name",
                  "applied_policy_name", "policy_compliant", "enrollment_token_data",
                  "enrollment_time", "last_status_report_time", "last_publish_time",
                  "last_report", "updated_at"]


def _copy_report(android: AndroidDevice, device: Device, report: DeviceReport,
                 publish_time: dt.datetime | None) -> None:
    android.amapi_state, android.applied_state = report.state, report.applied_state
    android.management_mode, android.ownership = report.management_mode, report.ownership
    android.android_version = report.android_version or android.android_version
    android.api_level = report.api_level or android.api_level
    android.security_patch_level = report.security_patch_level or \
        android.security_patch_level
    android.enterprise_specific_id = report.enterprise_specific_id or \
        android.enterprise_specific_id
    android.previous_device_names = report.previous_device_names
    android.policy_name, android.applied_policy_name = (report.policy_name,
                                                        report.applied_policy_name)
    android.policy_compliant = report.policy_compliant
    android.enrollment_token_data = report.enrollment_token_data or \
        android.enrollment_token_data
    android.enrollment_time = report.enrollment_time or android.enrollment_time
    android.last_status_report_time = report.last_status_report_time or \
        android.last_status_report_time
    if publish_time is not None:
        android.last_publish_time = max(filter(None, [android.last_publish_time,
                                                      publish_time]))
    android.last_report = report.raw
    android.updated_at = timezone.now()
    device.serial_number = report.serial_number or device.serial_number
    device.model = report.model or device.model
    device.model_name = report.brand or device.model_name
    device.os_version = report.android_version or device.os_version
    device.last_seen_at = report.last_status_report_time or publish_time or \
        device.last_seen_at or timezone.now()


def _report_changed(android: AndroidDevice, report: DeviceReport) -> bool:
    """Whether `report` says anything the entry does not hold yet (reconciliation writes only
    those: most devices were already updated by their Pub/Sub status reports)."""
    return (report.last_status_report_time != android.last_status_report_time
            or (report.state, report.applied_state) != (android.amapi_state,
                                                        android.applied_state)
            or report.previous_device_names != android.previous_device_names
            or report.policy_compliant != android.policy_compliant
            or report.applied_policy_name != android.applied_policy_name
            or (report.android_version or android.android_version) != android.android_version
            or (report.management_mode, report.ownership) != (android.management_mode,
                                                              android.ownership)
            or (report.is_deleted and android.removed_at is None))


def _ensure_company_policy(enterprise: AndroidEnterprise, android: AndroidDevice,
                           report: DeviceReport) -> None:
    """S17: a company-owned device (fully managed, or a work profile on a company device set up
    from a work-profile token) must run the company policy with the CA clean-up. Google is
    asked after commit, by a task."""
    policy = enterprise.company_policy_name
    if report.ownership != "COMPANY_OWNED" or not policy or report.policy_name == policy:
        return
    jobs.enqueue("android.assign_company_policy", android.pk)


def _earlier_entries(tenant, report: DeviceReport) -> list[AndroidDevice]:
    """Entries of the same physical device, newest first: by previousDeviceNames, else by
    enterpriseSpecificId, else by serial number (S22's order)."""
    base = (AndroidDevice.objects.for_tenant(tenant).select_for_update(of=("self", "device"))
            .select_related("device").order_by("-device__created_at", "-pk"))
    if report.previous_device_names:
        found = list(base.filter(amapi_name__in=report.previous_device_names))
        if found:
            return found
    if report.enterprise_specific_id:
        found = list(base.filter(enterprise_specific_id=report.enterprise_specific_id))
        if found:
            return found
    if report.serial_number:
        # Two steps, each on its own index ((tenant, serial_number), then device_id): a join
        # filter lets the planner scan every Android entry of the tenant.
        same_serial = list(Device.objects.for_tenant(tenant).filter(
            platform=Platform.ANDROID, serial_number=report.serial_number)
            .values_list("pk", flat=True))
        return list(base.filter(device_id__in=same_serial)) if same_serial else []
    return []


def _registration_for(tenant, report: DeviceReport) -> Registration | None:
    registration_id = registration_id_from(report.enrollment_token_data)
    if registration_id is None:
        return None
    return (Registration.objects.for_tenant(tenant).select_related("user")
            .filter(pk=registration_id, platform="android").first())


def enroll_device(enterprise: AndroidEnterprise, report: DeviceReport, *,
                  publish_time: dt.datetime | None) -> Device:
    """A device name we have not seen: a first registration or a re-registration (S22)."""
    tenant = enterprise.tenant
    earlier = _earlier_entries(tenant, report)
    registration = _registration_for(tenant, report)
    actor = device_actor(report.name)
    if earlier and report.reuses_entry:
        # Android 9 and older: one entry, now under the new AMAPI name.
        android = earlier[0]
        device = android.device
        EndedAndroidDeviceName.objects.get_or_create(tenant=tenant, amapi_name=android.amapi_name)
        android.amapi_name, android.removed_at = report.name, None
        android.last_publish_time = None
        older = earlier[1:]
        reused = True
    else:
        device = Device(tenant=tenant, platform=Platform.ANDROID, state=DeviceState.PENDING)
        android = AndroidDevice(tenant=tenant, enterprise=enterprise, amapi_name=report.name)
        older = earlier
        reused = False
        if earlier:
            # Makes do_enroll_device record a re-registration (the device was
            # enrolled before, under its earlier entry).
            device.enrolled_at = report.enrollment_time or timezone.now()
    _copy_report(android, device, report, publish_time)
    device.save()
    android.device = device
    android.save()
    inactive = [entry.device for entry in older if entry.device.state in SUPERSEDABLE_STATES]
    for old in inactive:
        old.state = DeviceState.INACTIVE
        old.save(update_fields=["state"])
        record(tenant, AuditAction.DEVICE_INACTIVE, actor=actor, target=old, device=old,
               user=old.owner, detail={"reason": "re-registered", "platform": "android",
                                       "newer_device_id": device.pk})
    if registration is not None:
        do_enroll_device(registration, device, actor=actor)
    else:
        was_enrolled = reused or bool(earlier)
        device.state, device.enrolled_at = DeviceState.ACTIVE, timezone.now()
        device.save(update_fields=["state", "enrolled_at"])
        record(tenant, AuditAction.DEVICE_REREGISTERED if was_enrolled
               else AuditAction.DEVICE_REGISTERED, actor=actor, target=device, device=device,
               user=device.owner, detail={"platform": "android", "amapi_name": report.name,
                                          "registration_id": None})
    _ensure_company_policy(enterprise, android, report)
    if earlier:
        log.info("android re-registration %s: %s entry, %d older set inactive", report.name,
                 "reused" if reused else "new", len(inactive))
    return device


def mark_removed_many(tenant, androids: list[AndroidDevice], *, reason: str,
                      actor: str = "google") -> int:
    """Google no longer has these devices (DELETED reports, or missing from devices.list).
    Active/Enrolling entries become Inactive, the others keep their state; each is audited.
    One UPDATE per table and one INSERT per kind of event, whatever their number (select
    their owners with them). Returns how many devices were marked removed."""
    if not androids:
        return 0
    now = timezone.now()
    AndroidDevice.objects.filter(pk__in=[android.pk for android in androids]).update(
        removed_at=now)
    devices = [android.device for android in androids]
    leaving = [device for device in devices
               if device.state in (DeviceState.ACTIVE, DeviceState.PENDING)]
    kept = [device for device in devices
            if device.state not in (DeviceState.ACTIVE, DeviceState.PENDING)]
    record_many(tenant, AuditAction.DEVICE_INACTIVE, leaving, actor=actor,
                user_of=lambda device: device.owner, device_of=lambda device: device,
                detail_of=lambda device: {"reason": reason, "previous_state": device.state,
                                          "platform": "android"})
    record_many(tenant, AuditAction.ANDROID_DEVICE_REMOVED, kept, actor=actor,
                user_of=lambda device: device.owner, device_of=lambda device: device,
                detail_of=lambda device: {"reason": reason, "state_kept": device.state})
    Device.objects.filter(pk__in=[device.pk for device in leaving]).update(
        state=DeviceState.INACTIVE)
    for android in androids:
        android.removed_at = now
    for device in leaving:
        device.state = DeviceState.INACTIVE
    return len(androids)


def apply_operation(enterprise: AndroidEnterprise, resource: dict) -> dict:
    """A COMMAND notification: the operation finished (or failed) on the device."""
    report = parse_operation(resource)
    operation = _one(AndroidOperation.objects.for_tenant(enterprise.tenant)
                     .select_for_update().filter(name=report.name))
    if operation is None:
        return {"outcome": "ignored", "reason": "unknown operation"}
    if not report.done and not report.error:
        return {"outcome": "ignored", "reason": "operation not finished"}
    finish_operation(operation, failed_with=report.error)
    return {"outcome": "applied", "action": "command", "operation": operation.name}


def finish_operation(operation: AndroidOperation, *, failed_with: str = "",
                     status: str | None = None) -> bool:
    if operation.status != AndroidOperationStatus.PENDING:
        return False
    operation.status = status or (AndroidOperationStatus.FAILED if failed_with
                                  else AndroidOperationStatus.DONE)
    operation.error, operation.completed_at = failed_with[:300], timezone.now()
    operation.save(update_fields=["status", "error", "completed_at"])
    record(operation.tenant, AuditAction.ANDROID_COMMAND_FINISHED, actor="google",
           target=operation.device, device=operation.device,
           detail={"operation": operation.name, "command": operation.command_type,
                   "status": operation.status, "error": operation.error})
    return True


# --- reconciliation ------------------------------------------------------------------------

@dataclass
class ReconcileOutcome:
    enterprise: str
    skipped: bool = False
    pages: int = 0
    listed: int = 0
    updated: int = 0
    unchanged: int = 0
    enrolled: int = 0
    removed: int = 0
    unreadable: list[str] = field(default_factory=list)  # why listed devices were skipped

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _reconcile_lock(enterprise_id: int):
    """Overlapping runs for one enterprise skip; held until the reconciliation's transaction
    ends (see core.locks)."""
    return transaction_lock(f"android-reconcile:{enterprise_id}", RECONCILE_LOCK_SECONDS)


@transaction.atomic
def reconcile_enterprise(enterprise: AndroidEnterprise, *,
                         client: AmapiClient | None = None) -> ReconcileOutcome:
    """Page through devices.list (100 a page), bring every known device up to date, enroll
    unknown ones, and mark devices Google no longer lists as removed. One transaction: a
    failure part-way (Google down) changes nothing, and the next run starts over."""
    outcome = ReconcileOutcome(enterprise=enterprise.enterprise_name)
    with _reconcile_lock(enterprise.pk) as acquired:
        if not acquired:
            outcome.skipped = True
            return outcome
        client = client or client_for(enterprise)
        tenant = enterprise.tenant
        started = timezone.now()
        seen: set[str] = set()
        for page in client.iter_device_pages(enterprise.enterprise_name):
            outcome.pages += 1
            reports = []
            for resource in page:
                try:
                    reports.append(parse_device(resource))
                except BadNotification as exc:
                    # One odd device must not stop the others; listed, it is not removed.
                    name = resource.get("name") if isinstance(resource, dict) else None
                    if isinstance(name, str):
                        seen.add(name)
                    outcome.unreadable.append(str(exc)[:200])
            reports = [r for r in reports if r.enterprise_name == enterprise.enterprise_name]
            seen.update(r.name for r in reports)
            outcome.listed += len(reports)
            names = [r.name for r in reports]
            known = {a.amapi_name: a for a in AndroidDevice.objects.for_tenant(tenant)
                     .select_related("device", "device__owner").filter(amapi_name__in=names)}
            unknown = [name for name in names if name not in known]
            deleted = set(EndedAndroidDeviceName.objects.for_tenant(tenant)
                          .filter(amapi_name__in=unknown).values_list("amapi_name", flat=True)
                          ) if unknown else set()
            changed: list[AndroidDevice] = []
            for report in reports:
                if report.name in deleted:  # over, possibly just now by a re-registration
                    continue
                android = known.get(report.name)
                if android is not None and not _report_changed(android, report):
                    outcome.unchanged += 1  # Pub/Sub already brought it up to date
                    continue
                if android is None:
                    if not report.is_deleted:
                        enroll_device(enterprise, report, publish_time=started)
                        outcome.enrolled += 1
                        deleted.update(report.previous_device_names)  # may end an old name
                    continue
                _copy_report(android, android.device, report, started)
                changed.append(android)
            # One UPDATE per changed row: inside the run's transaction these cost no commit,
            # and they are several times faster than bulk_update's CASE WHEN for 18 fields.
            for android in changed:
                android.save(update_fields=ANDROID_FIELDS)
                android.device.save(update_fields=DEVICE_FIELDS)
            outcome.updated += len(changed)
            outcome.removed += mark_removed_many(tenant, [
                android for android in changed if android.device
                and android.removed_at is None and android.amapi_state == "DELETED"],
                reason="deleted_on_google")
        missing = (AndroidDevice.objects.filter(enterprise=enterprise, removed_at__isnull=True)
                   .select_related("device", "device__owner"))
        if seen:
            missing = missing.exclude(amapi_name__in=seen)
        outcome.removed += mark_removed_many(tenant, list(missing),
                                             reason="missing_from_google")
        AndroidEnterprise.objects.filter(pk=enterprise.pk).update(last_reconciled_at=started)
    return outcome
