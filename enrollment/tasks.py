"""Celery tasks of the enrollment app: expiry sweeps and registration reminders.

Thin: they take ids, call one service, return a result dict. All run with `acks_late`: a worker
killed mid-task leaves the message to be redelivered, and every service here is idempotent
(sweeps pick only rows still due, batch by batch; a reminder is sent only by whoever claimed
its row and moved it out of `pending`). Overlapping sweeps and scans skip under an advisory
lock. Retries only for database connection errors.
"""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from enrollment.services import reminders, sweeps

TRANSIENT_ERRORS = (OperationalError, InterfaceError)


@shared_task(name="enrollment.run_expiry_sweeps", acks_late=True,
             autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=5)
def run_expiry_sweeps() -> dict:
    """Every MDM_SWEEP_INTERVAL_SECONDS (beat): expire registrations, challenges, profile
    links, PINs and invitations past their time."""
    return sweeps.run_expiry_sweeps()


@shared_task(name="enrollment.send_reminders", acks_late=True,
             autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=5)
def send_reminders() -> dict:
    """Every MDM_REMINDER_SCAN_SECONDS (beat): claim the reminders due now; each claimed
    batch is delivered by `enrollment.deliver_reminders` (devices.tasks)."""
    return reminders.run_reminder_scan()
