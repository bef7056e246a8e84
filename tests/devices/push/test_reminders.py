"""Reminders as plain functions: cadence, claim once per slot, delivery through the app
(APNs token auth / FCM) or email, stop on enrollment, constant queries per batch."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from devices import tasks as devices_tasks
from devices.models import InvalidPushToken, PushAttempt
from devices.push.reminders import deliver_reminders
from enrollment import tasks
from enrollment.models import (
    Registration,
    RegistrationMethod,
    RegistrationState,
    Reminder,
    ReminderPolicy,
)
from enrollment.services import reminders
from tests.base.push import app_session, make_registrations


def test_due_slot():
    policy = ReminderPolicy(interval_minutes=60, max_reminders=3)
    anchor = timezone.now()
    assert reminders.due_slot(anchor, anchor + dt.timedelta(minutes=59), policy) == 0
    assert reminders.due_slot(anchor, anchor + dt.timedelta(minutes=60), policy) == 1
    assert reminders.due_slot(anchor, anchor + dt.timedelta(minutes=150), policy) == 2
    assert reminders.due_slot(anchor, anchor + dt.timedelta(days=3), policy) == 3
    policy.enabled = False
    assert reminders.due_slot(anchor, anchor + dt.timedelta(days=3), policy) == 0


def test_claim_is_once_per_slot(tenant, jane):
    regs = make_registrations(tenant, jane, 3, downloaded_ago=dt.timedelta(hours=5))
    make_registrations(tenant, jane, 1, downloaded_ago=dt.timedelta(hours=1))   # not yet
    make_registrations(tenant, jane, 1, downloaded_ago=None,
                       state=RegistrationState.STARTED)                          # not started
    make_registrations(tenant, jane, 1, state=RegistrationState.ENROLLED)       # done
    make_registrations(tenant, jane, 1, expires_in=dt.timedelta(minutes=-1))    # expired
    (in_app,) = make_registrations(tenant, jane, 1, downloaded_ago=None,
                                   state=RegistrationState.STARTED,
                                   method=RegistrationMethod.IN_APP)
    Registration.objects.filter(pk=in_app.pk).update(
        created_at=timezone.now() - dt.timedelta(hours=4, minutes=1))
    claimed = reminders.claim_due_reminders(queue=False)
    assert len(claimed) == 4
    assert set(Reminder.objects.values_list("registration_id", "slot")) == {
        *((r.pk, 1) for r in regs), (in_app.pk, 1)}
    assert reminders.claim_due_reminders(queue=False) == []   # a second beat: nothing
    later = timezone.now() + dt.timedelta(hours=4)
    # slot 2 of the four, slot 1 of the one that was "not yet"
    assert len(reminders.claim_due_reminders(now=later, queue=False)) == 5
    assert len(reminders.claim_due_reminders(now=later, queue=False)) == 0
    assert Reminder.objects.filter(slot=2).count() == 4


@pytest.mark.parametrize("count", [30, 130])
def test_claim_queries_are_constant_per_batch(tenant, jane, count):
    make_registrations(tenant, jane, count)
    with CaptureQueriesContext(connection) as queries:
        assert len(reminders.claim_due_reminders(batch_size=50, queue=False)) == count
    batches = count // 50 + 1
    sql = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    # per batch: registrations, policies, INSERT ... RETURNING
    assert len(sql) <= 3 * batches, sql


def test_delivery_through_app_and_email(tenant, jane, app_push_ready, apns_server,
                                        fcm_server, settings):
    from users.models import User

    bob = User.objects.create_user(tenant, "bob@acme.test")
    cy = User.objects.create_user(tenant, "cy@acme.test")
    r_jane, = make_registrations(tenant, jane, 1)
    r_bob, = make_registrations(tenant, bob, 1, platform="android")
    r_cy, = make_registrations(tenant, cy, 1)
    app_session(tenant, jane, r_jane, service="apns", token="aa" * 32)
    app_session(tenant, bob, r_bob, service="fcm", token="fcm-bob")
    claimed = reminders.claim_due_reminders(queue=False)
    result = deliver_reminders(claimed)
    assert result == {"sent": 3}
    by_reg = {r.registration_id: r for r in Reminder.objects.all()}
    assert by_reg[r_jane.pk].channels == ["app_apns"]
    assert by_reg[r_bob.pk].channels == ["fcm"]
    assert by_reg[r_cy.pk].channels == ["email"]
    assert [m.to for m in mail.outbox] == [["cy@acme.test"]]
    assert apns_server.requests[0].headers["apns-push-type"] == "alert"
    assert fcm_server.messages[0]["data"]["registration_id"] == str(r_bob.pk)
    assert AuditEvent.objects.filter(action="reminder.sent").count() == 3
    assert set(PushAttempt.objects.values_list("kind", "reason", "result")) == {
        ("app_apns", "reminder", "sent"), ("fcm", "reminder", "sent")}
    assert deliver_reminders(claimed) == {}   # a retried delivery sends nothing
    assert len(mail.outbox) == 1 and len(apns_server.requests) == 1


def test_dead_app_token_falls_back_to_email(tenant, jane, app_push_ready, fcm_server):
    r, = make_registrations(tenant, jane, 1, platform="android")
    app_session(tenant, jane, r, service="fcm", token="fcm-gone")
    fcm_server.script("fcm-gone", 404)
    deliver_reminders(reminders.claim_due_reminders(queue=False))
    assert Reminder.objects.get().channels == ["email"]
    assert InvalidPushToken.objects.filter(kind="fcm", result="unregistered").count() == 1


def test_enrolled_before_delivery_is_skipped(tenant, jane):
    r, = make_registrations(tenant, jane, 1)
    claimed = reminders.claim_due_reminders(queue=False)
    Registration.objects.filter(pk=r.pk).update(state=RegistrationState.ENROLLED)
    assert deliver_reminders(claimed) == {"skipped": 1}
    assert mail.outbox == []


def test_cadence_and_stop_on_enrollment(tenant, jane, admin):
    reminders.do_save_reminder_policy(tenant, actor=admin, enabled=True, interval_minutes=60,
                                      max_reminders=2)
    make_registrations(tenant, jane, 1, downloaded_ago=dt.timedelta(minutes=61))
    now = timezone.now()
    for hours, expected in ((0, 1), (0.5, 0), (1, 1), (2, 0), (3, 0)):
        claimed = reminders.claim_due_reminders(now=now + dt.timedelta(hours=hours),
                                                queue=False)
        deliver_reminders(claimed)
        assert len(claimed) == expected, hours
    assert list(Reminder.objects.order_by("slot").values_list("slot", flat=True)) == [1, 2]
    assert len(mail.outbox) == 2
    r2, = make_registrations(tenant, jane, 1, downloaded_ago=dt.timedelta(minutes=61))
    deliver_reminders(reminders.claim_due_reminders(queue=False))
    Registration.objects.filter(pk=r2.pk).update(state=RegistrationState.ENROLLED)
    assert reminders.claim_due_reminders(now=now + dt.timedelta(hours=1), queue=False) == []
    assert AuditEvent.objects.filter(action="reminder.policy_saved").count() == 1


def test_delivery_queries_are_constant_per_batch(tenant, jane, app_push_ready, apns_server,
                                                 fcm_server):
    from users.models import User

    def run(count: int) -> int:
        Reminder.objects.all().delete()
        Registration.objects.all().delete()
        users = [User.objects.create_user(tenant, f"u{count}-{i}@acme.test")
                 for i in range(count)]
        for i, user in enumerate(users):
            r, = make_registrations(tenant, user, 1)
            if i % 3 == 0:
                app_session(tenant, user, r, service="apns", token=f"{count:02x}{i:062x}")
            elif i % 3 == 1:
                app_session(tenant, user, r, service="fcm", token=f"fcm-{count}-{i}")
        claimed = reminders.claim_due_reminders(queue=False)
        with CaptureQueriesContext(connection) as queries:
            deliver_reminders(claimed)
        return len([q for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]])

    assert run(6) == run(30)


def test_task_as_plain_function(tenant, jane, monkeypatch):
    make_registrations(tenant, jane, 2)
    assert tasks.send_reminders() == {"claimed": 2}
    assert tasks.send_reminders() == {"claimed": 0}
    ids = list(Reminder.objects.values_list("pk", flat=True))
    assert devices_tasks.deliver_reminders(ids) == {"sent": 2}


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_never_double(tenant, jane):
    """Two scans at once (two beats, no lock): the unique (registration, slot) row decides."""
    import threading

    from django.db import connections

    make_registrations(tenant, jane, 300)
    results: list[list[int]] = []
    barrier = threading.Barrier(4)

    def scan():
        barrier.wait()
        try:
            results.append(reminders.claim_due_reminders(batch_size=25, queue=False))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=scan) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claimed = [pk for result in results for pk in result]
    assert len(claimed) == len(set(claimed)) == 300
    assert Reminder.objects.count() == 300
