"""Registration reminders (SPEC S13): remind users who started a registration (profile
downloaded, or registered in the app) but whose device has not enrolled, on the tenant's
cadence, through their agent app (APNs / FCM) or, with no app token, by email.

Two steps, so that no reminder is ever sent twice:
1. `claim_due_reminders` scans open registrations in batches (3 queries per batch) and inserts
   one `Reminder` row per (registration, due slot) with ON CONFLICT DO NOTHING RETURNING: only
   the inserter of a row may send it, so two beat schedulers or a retried scan cannot double it.
2. `devices.push.reminders.deliver_reminders` (it pushes through the agent app, a devices
   concern) sends each claimed row once: see its module.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from audit.events import AuditAction
from audit.record import record
from core import jobs
from enrollment.models import (
    OPEN_STATES,
    Registration,
    RegistrationMethod,
    Reminder,
    ReminderPolicy,
    ReminderStatus,
)
from enrollment.services.invitations import selfservice_url
from enrollment.services.sweeps import advisory_lock

logger = logging.getLogger(__name__)

# Registrations started from the agent app count as "started" without a profile download.
APP_METHODS = (RegistrationMethod.IN_APP, RegistrationMethod.QR)
REMINDER_ACTOR = "system:reminders"


def reminder_policy(tenant) -> ReminderPolicy:
    """The tenant's cadence; unsaved defaults when never saved."""
    return ReminderPolicy.objects.for_tenant(tenant).first() or ReminderPolicy(tenant=tenant)


@transaction.atomic
def do_save_reminder_policy(tenant, *, actor, enabled: bool, interval_minutes: int,
                            max_reminders: int, origin=None) -> ReminderPolicy:
    if interval_minutes < 1 or max_reminders < 0:
        raise ValueError("interval_minutes must be >= 1 and max_reminders >= 0")
    policy, _ = ReminderPolicy.objects.select_for_update().get_or_create(tenant=tenant)
    policy.enabled, policy.interval_minutes = enabled, interval_minutes
    policy.max_reminders = max_reminders
    policy.save()
    record(tenant, AuditAction.REMINDER_POLICY_SAVED, actor=actor, target=policy,
           origin=origin, detail={"enabled": enabled, "interval_minutes": interval_minutes,
                                  "max_reminders": max_reminders})
    return policy


def due_slot(anchor: dt.datetime, now: dt.datetime, policy: ReminderPolicy) -> int:
    """The reminder due now: 1 after one interval, 2 after two... capped at max_reminders;
    0 when none is due. Missed slots are not made up: only the latest due one is sent."""
    if not policy.enabled or policy.max_reminders < 1 or now <= anchor:
        return 0
    elapsed = int((now - anchor).total_seconds() // (policy.interval_minutes * 60))
    return min(elapsed, policy.max_reminders)


def _insert_claims(rows: list[tuple[int, int, int]], now: dt.datetime) -> list[int]:
    """INSERT (tenant, registration, slot) ... ON CONFLICT DO NOTHING RETURNING id."""
    if not rows:
        return []
    table = connection.ops.quote_name(Reminder._meta.db_table)
    values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(rows))
    params: list = []
    for tenant_id, registration_id, slot in rows:
        params += [tenant_id, registration_id, slot, ReminderStatus.PENDING, "[]", "", now]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (tenant_id, registration_id, slot, status, channels, error, "  # noqa: S608
            f"created_at) VALUES {values} ON CONFLICT (registration_id, slot) DO NOTHING "
            "RETURNING id", params)
        return [row[0] for row in cursor.fetchall()]


def claim_due_reminders(*, now: dt.datetime | None = None, batch_size: int | None = None,
                        queue: bool = True) -> list[int]:
    """Claim every reminder due now (see module doc); returns the claimed reminder ids. With
    `queue`, each batch's delivery task is queued when the batch commits."""
    now = now or timezone.now()
    size = batch_size or settings.MDM_SWEEP_BATCH_SIZE
    claimed: list[int] = []
    last_pk = 0
    while True:
        batch_ids, last_pk, scanned = _claim_batch(now, size, last_pk, queue)
        claimed += batch_ids
        if scanned < size:
            return claimed


@transaction.atomic
def _claim_batch(now: dt.datetime, size: int, after_pk: int, queue: bool
                 ) -> tuple[list[int], int, int]:
    rows = list(Registration.objects.filter(pk__gt=after_pk, state__in=OPEN_STATES,
                                            expires_at__gt=now)
                .filter(Q(profile_downloaded_at__isnull=False) | Q(method__in=APP_METHODS))
                .order_by("pk")
                .values_list("pk", "tenant_id", "profile_downloaded_at", "created_at")[:size])
    if not rows:
        return [], after_pk, 0
    policies = {p.tenant_id: p for p in ReminderPolicy.objects.filter(
        tenant_id__in={row[1] for row in rows})}
    default = ReminderPolicy()
    due = []
    for pk, tenant_id, downloaded_at, created_at in rows:
        slot = due_slot(downloaded_at or created_at, now, policies.get(tenant_id, default))
        if slot:
            due.append((tenant_id, pk, slot))
    ids = _insert_claims(due, now)
    if ids and queue:
        jobs.enqueue("enrollment.deliver_reminders", ids)
    return ids, rows[-1][0], len(rows)


def run_reminder_scan(*, now: dt.datetime | None = None) -> dict:
    """The periodic task's body: overlapping scans skip (the claim is safe without the lock;
    the lock only saves the duplicate work)."""
    with advisory_lock("enrollment-reminder-scan") as acquired:
        if not acquired:
            return {"skipped": True}
        return {"claimed": len(claim_due_reminders(now=now))}


# --- delivery --------------------------------------------------------------------------------

def reminder_text(registration: Registration, slot: int) -> tuple[str, str]:
    device = {"ios": "iPhone or iPad", "macos": "Mac", "android": "Android device"}.get(
        registration.platform, "device")
    return ("Finish setting up your device",
            f"Your {device} is not enrolled yet. Open the app (or the downloaded profile in "
            "Settings) to finish registration.")


def reminder_email(registration: Registration, title: str, body: str) -> EmailMessage:
    link = selfservice_url(registration.tenant)
    return EmailMessage(subject=f"{registration.tenant.name}: {title.lower()}",
                        body=f"Hello,\n\n{body}\n\nNeed a new link? {link}\n", to=[
                            registration.user.email])
