"""Delivery of the registration reminders enrollment claimed (SPEC S13): through the user's
agent app (APNs / FCM) or, with no app token, by email. See enrollment.services.reminders for
the claim step that guarantees a reminder is never sent twice: `deliver_reminders` moves its
claimed rows from pending to sending under a row lock (a retried delivery finds nothing
pending), re-reads the registration (enrolled or expired since: skipped), pushes, emails,
records and audits (constant queries per batch).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import timezone

from audit.events import AuditAction
from audit.models import AuditEvent
from devices.push.service import AppPush, push_apps
from enrollment.models import OPEN_STATES, AppSession, Registration, Reminder, ReminderStatus
from enrollment.services.reminders import REMINDER_ACTOR, reminder_email, reminder_text

logger = logging.getLogger(__name__)


def deliver_reminders(reminder_ids: Iterable[int]) -> dict:
    """Send claimed reminders (see module doc). Returns counts by final status."""
    ids = sorted(set(reminder_ids))
    with transaction.atomic():
        reminders = list(Reminder.objects.filter(pk__in=ids, status=ReminderStatus.PENDING)
                         .select_for_update(skip_locked=True, of=("self",))
                         .select_related("registration__user", "registration__tenant"))
        Reminder.objects.filter(pk__in=[r.pk for r in reminders]).update(
            status=ReminderStatus.SENDING)
    if not reminders:
        return {}
    now = timezone.now()
    live = [r for r in reminders if r.registration.state in OPEN_STATES
            and r.registration.expires_at > now]
    sessions = defaultdict(list)
    for session in (AppSession.objects.filter(
            user_id__in={r.registration.user_id for r in live}, revoked_at__isnull=True)
            .exclude(push_token="").order_by("pk")):
        sessions[session.user_id].append(session)

    pushes = []
    for reminder in live:
        title, body = reminder_text(reminder.registration, reminder.slot)
        pushes += [AppPush(session, title, body, {"registration_id": reminder.registration_id,
                                                  "kind": "reminder"},
                           registration_id=reminder.registration_id)
                   for session in sessions[reminder.registration.user_id]]
    results = push_apps(pushes, reason="reminder")

    emails = []
    for reminder in reminders:
        registration = reminder.registration
        if reminder not in live:
            state = registration.state if registration.state not in OPEN_STATES else "expired"
            reminder.status, reminder.error = ReminderStatus.SKIPPED, f"registration {state}"
            continue
        user_sessions = sessions[registration.user_id]
        reached = [("fcm" if s.push_service == "fcm" else "app_apns") for s in user_sessions
                   if results.get(s.pk) == "sent"]
        reminder.channels = reached
        if not reached and settings.MDM_REMINDER_EMAIL_FALLBACK and registration.user.email:
            emails.append((reminder, reminder_email(registration, *reminder_text(registration,
                                                                        reminder.slot))))
            reminder.channels = ["email"]
        if reminder.channels:
            reminder.status, reminder.sent_at = ReminderStatus.SENT, now
        else:
            reminder.status = ReminderStatus.NO_CHANNEL
            reminder.error = ", ".join(sorted({str(results.get(s.pk)) for s in user_sessions})
                                       )[:200] or "no app token, email fallback off"
    if emails:
        _send_emails(emails)

    with transaction.atomic():
        Reminder.objects.bulk_update(reminders, ["status", "channels", "error", "sent_at"])
        AuditEvent.objects.bulk_create([
            AuditEvent(tenant_id=r.tenant_id, action=AuditAction.REMINDER_SENT,
                       actor_label=REMINDER_ACTOR, user_id=r.registration.user_id,
                       target_type=Registration._meta.label_lower,
                       target_id=str(r.registration_id),
                       target_label=str(r.registration)[:200],
                       detail={"slot": r.slot, "channels": r.channels, "status": r.status})
            for r in reminders if r.status in (ReminderStatus.SENT, ReminderStatus.FAILED,
                                               ReminderStatus.NO_CHANNEL)])
    counts: dict[str, int] = defaultdict(int)
    for reminder in reminders:
        counts[reminder.status] += 1
    return dict(counts)


def _send_emails(emails: list[tuple[Reminder, EmailMessage]]) -> None:
    """One SMTP connection for the batch; a failure marks those reminders failed."""
    mail = get_connection()
    try:
        mail.open()
        for reminder, message in emails:
            message.connection = mail
            try:
                message.send()
            except Exception as exc:  # SMTP errors are many; one bad address must not stop all
                reminder.status, reminder.error = ReminderStatus.FAILED, str(exc)[:200]
                reminder.channels, reminder.sent_at = [], None
    except Exception as exc:
        logger.exception("reminder emails not delivered")
        for reminder, _message in emails:
            reminder.status, reminder.error = ReminderStatus.FAILED, str(exc)[:200]
            reminder.channels, reminder.sent_at = [], None
    finally:
        mail.close()
