"""Celery tasks of the devices app: MDM pushes, reminder delivery, the APNs certificate check,
the identity renewal scan.

Thin: they take ids, call one service, return a result dict. A push may be repeated harmlessly
(the device only checks in), so `acks_late` redelivery after a lost worker is safe. Retries:
database connection errors (Celery autoretry); throttled / unavailable APNs answers come back
from the service as data and are pushed again later, a few rounds with growing delay.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from devices.push import credentials, reminders, service
from devices.services import renewals

TRANSIENT_ERRORS = (OperationalError, InterfaceError)
PUSH_ROUNDS = 4


@shared_task(name="devices.push_channels", acks_late=True, autoretry_for=TRANSIENT_ERRORS,
             retry_backoff=True, max_retries=5)
def push_channels(channel_ids: list[int], reason: str = "command", round_number: int = 0
                  ) -> dict:
    outcome = service.push_channels(channel_ids, reason=reason)
    requeued = bool(outcome.retry_channel_ids) and round_number + 1 < PUSH_ROUNDS
    if requeued:
        delay = settings.MDM_PUSH_BACKOFF_MS / 1000 * 10 * (2 ** round_number)
        push_channels.apply_async((outcome.retry_channel_ids, reason, round_number + 1),
                                  countdown=delay)
    return {**outcome.as_dict(), "round": round_number, "requeued": requeued}


@shared_task(name="devices.push_devices", acks_late=True, autoretry_for=TRANSIENT_ERRORS,
             retry_backoff=True, max_retries=5)
def push_devices(device_ids: list[int], reason: str = "manual") -> dict:
    return service.push_devices(device_ids, reason=reason).as_dict()


@shared_task(name="devices.check_apns_certificates", acks_late=True,
             autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=3)
def check_apns_certificates() -> dict:
    """Audit (once) every APNs MDM certificate entering its last 30 days."""
    return {"warned": credentials.do_warn_expiring_certificates()}


@shared_task(name="devices.scan_identity_renewals", acks_late=True,
             autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=3)
def scan_identity_renewals() -> dict:
    """Every minute: send renewals to the devices whose identity is due (per-minute limit per
    tenant), end overdue attempts, revoke identities whose grace period ended."""
    return renewals.scan_all()


@shared_task(name="devices.purge_push_attempts", acks_late=True,
             autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=3)
def purge_push_attempts() -> dict:
    """Daily: forget push attempts older than MDM_PUSH_ATTEMPT_RETENTION_DAYS."""
    return {"deleted": service.purge_push_attempts(
        older_than_days=settings.MDM_PUSH_ATTEMPT_RETENTION_DAYS)}


# Claimed by enrollment's reminder scan, delivered here through the agent app's pushes; the
# name is the one the scan queues (and queued messages may already carry).
@shared_task(name="enrollment.deliver_reminders", acks_late=True,
             autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=5)
def deliver_reminders(reminder_ids: list[int]) -> dict:
    return reminders.deliver_reminders(reminder_ids)
