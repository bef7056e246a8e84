"""Celery tasks of the Android channel. Thin: take ids, call one function of `sync`,
or `actions`, return a result dict. (Enrollment tokens: enrollment.android.tasks.)

- `android.process_notification`: one Pub/Sub message (queued by the push endpoint); retried
  on database connection errors and on the unique-name race of two workers enrolling one
  device. Dedupe and ordering live in `sync.apply_notification`.
- `android.reconcile_all` (beat) queues `android.reconcile_enterprise` per bound enterprise;
  overlapping runs skip under an advisory lock; Google's 429/5xx retry later.
- `android.refresh_operations` (beat): follow commands whose COMMAND notification is late.
- `android.purge_processed_messages` (beat): forget dedupe rows older than Pub/Sub's
  7-day retention.
"""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.utils import timezone

from audit.events import AuditAction
from audit.record import record
from devices.android import sync
from devices.android.actions import refresh_operation
from devices.models import (
    AndroidDevice,
    AndroidOperation,
    AndroidOperationStatus,
    ProcessedPubSubMessage,
)
from enrollment.android.amapi import AmapiError, AmapiUnavailable, client_for
from enrollment.android.messages import BadNotification, PushEnvelope
from enrollment.models import AndroidEnterprise

log = logging.getLogger(__name__)
SYSTEM_ACTOR = "system:android-sync"
PROCESSED_RETENTION = dt.timedelta(days=8)


# IntegrityError: two messages about one new device applied at once by two workers; the
# loser's retry finds the device and updates it.
@shared_task(name="android.process_notification", bind=True, acks_late=True,
             autoretry_for=(OperationalError, InterfaceError, IntegrityError),
             retry_backoff=True, retry_backoff_max=300, max_retries=10)
def process_notification(self, enterprise_id: int, envelope: dict) -> dict:
    enterprise = AndroidEnterprise.objects.select_related("tenant").filter(
        pk=enterprise_id).first()
    if enterprise is None:
        return {"outcome": "ignored", "reason": "no such enterprise"}
    try:
        parsed = PushEnvelope.from_dict(envelope)
        return sync.apply_notification(enterprise, parsed)
    except (BadNotification, KeyError) as exc:
        with transaction.atomic():
            record(enterprise.tenant, AuditAction.ANDROID_NOTIFICATION_REJECTED,
                   actor="google-pubsub", target=enterprise,
                   detail={"reason": str(exc)[:300],
                           "message_id": str(envelope.get("message_id", ""))[:128]})
        return {"outcome": "rejected", "reason": str(exc)}


@shared_task(name="android.reconcile_all")
def reconcile_all() -> dict:
    ids = list(AndroidEnterprise.objects.exclude(enterprise_name="")
               .filter(tenant__is_active=True).values_list("pk", flat=True))
    for enterprise_id in ids:
        reconcile_enterprise.delay(enterprise_id)
    return {"queued": ids}


@shared_task(name="android.reconcile_enterprise", bind=True, max_retries=5)
def reconcile_enterprise(self, enterprise_id: int) -> dict:
    enterprise = AndroidEnterprise.objects.select_related("tenant").filter(
        pk=enterprise_id).exclude(enterprise_name="").first()
    if enterprise is None:
        return {"enterprise_id": enterprise_id, "status": "skipped", "error": "not bound"}
    try:
        outcome = sync.reconcile_enterprise(enterprise)
    except AmapiUnavailable as exc:
        raise self.retry(exc=exc, countdown=60 * (2 ** self.request.retries)) from exc
    except AmapiError as exc:
        AndroidEnterprise.objects.filter(pk=enterprise.pk).update(last_error=exc.message[:500])
        return {"enterprise_id": enterprise_id, "status": "failed", "error": exc.message}
    if outcome.unreadable:
        AndroidEnterprise.objects.filter(pk=enterprise.pk).update(last_error=(
            f"{len(outcome.unreadable)} listed device(s) could not be read, e.g. "
            f"{outcome.unreadable[0]}")[:500])
    return {"enterprise_id": enterprise_id, "status": "done", **outcome.as_dict()}


@shared_task(name="android.refresh_operations")
def refresh_operations() -> dict:
    pending = (AndroidOperation.objects.filter(status=AndroidOperationStatus.PENDING)
               .select_related("device__android__enterprise", "tenant")[:500])
    finished = 0
    for operation in pending:
        try:
            finished += refresh_operation(operation)
        except AmapiError as exc:
            log.warning("could not refresh %s: %s", operation.name, exc)
    return {"checked": len(pending), "finished": finished}


@shared_task(name="android.purge_processed_messages")
def purge_processed_messages() -> dict:
    deleted, _ = ProcessedPubSubMessage.objects.filter(
        processed_at__lt=timezone.now() - PROCESSED_RETENTION).delete()
    return {"deleted": deleted}


@shared_task(name="android.assign_company_policy", bind=True, max_retries=5)
def assign_company_policy(self, android_device_id: int) -> dict:
    """Move a company-owned device to the company policy (S17 CA clean-up)."""
    android = (AndroidDevice.objects.select_related("enterprise")
               .filter(pk=android_device_id, removed_at__isnull=True).first())
    if android is None or not android.enterprise.company_policy_name:
        return {"android_device_id": android_device_id, "status": "skipped"}
    policy = android.enterprise.company_policy_name
    try:
        client_for(android.enterprise).patch_device(android.amapi_name, {"policyName": policy},
                                                    "policyName")
    except AmapiUnavailable as exc:
        raise self.retry(exc=exc, countdown=30 * (2 ** self.request.retries)) from exc
    except AmapiError as exc:
        return {"android_device_id": android_device_id, "status": "failed",
                "error": exc.message}
    AndroidDevice.objects.filter(pk=android.pk).update(policy_name=policy)
    return {"android_device_id": android_device_id, "status": "done", "policy": policy}
