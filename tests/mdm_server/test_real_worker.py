"""Through real Celery workers (and beats) on the real broker (Redis in bin/test), against this
test's database: reminders on cadence and stopped on enrollment; a worker SIGKILLed during a
sweep and restarted processes every registration exactly once; two beat schedulers do not
double-send."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.db import connection
from django.db.models import Count

from audit.models import AuditEvent
from enrollment import tasks
from enrollment.models import Registration, RegistrationState, Reminder
from enrollment.services.reminders import do_save_reminder_policy
from tests.base.push import app_session, make_registrations

pytestmark = pytest.mark.django_db(transaction=True)


def _wait(condition, timeout: float, processes, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}\n{processes.logs()}")
        time.sleep(0.1)


def _task_done(processes, result) -> bool:
    return f"[{result.id}] succeeded" in processes.logs()


def test_reminders_on_cadence_stop_on_enrollment(tenant, admin, jane, app_push_ready,
                                                 fcm_server, celery_processes):
    from devices.models import Device
    from enrollment.services.registrations import do_complete_registration

    do_save_reminder_policy(tenant, actor=admin, enabled=True, interval_minutes=60,
                            max_reminders=3)
    registration, = make_registrations(tenant, jane, 1, platform="android",
                                       downloaded_ago=dt.timedelta(minutes=61))
    app_session(tenant, jane, registration, service="fcm", token="fcm-jane")
    processes = celery_processes({"MDM_FCM_URL": fcm_server.url})
    processes.worker()

    def tick(expected_messages: int) -> None:
        result = tasks.send_reminders.apply_async(queue=processes.queue)
        _wait(lambda: _task_done(processes, result), 60, processes, "the scan")
        _wait(lambda: len(fcm_server.messages) >= expected_messages, 60, processes,
              f"{expected_messages} reminder(s)")

    def shift(minutes: int) -> None:  # time passes: the registration started earlier
        Registration.objects.filter(pk=registration.pk).update(
            profile_downloaded_at=registration.profile_downloaded_at
            - dt.timedelta(minutes=minutes))
        registration.refresh_from_db()

    tick(1)
    tick(1)                      # same slot: nothing new
    shift(60)
    tick(2)                      # second slot
    device = Device.objects.create(tenant=tenant, platform="android", udid="A-1")
    do_complete_registration(registration, device, actor="test")
    shift(60)
    tick(2)                      # enrolled: no third reminder
    _wait(lambda: Reminder.objects.filter(status="sent").count() == 2, 30, processes,
          "reminders marked sent")
    assert list(Reminder.objects.order_by("slot").values_list("slot", "channels")) == [
        (1, ["fcm"]), (2, ["fcm"])]
    assert len(fcm_server.messages) == 2
    assert AuditEvent.objects.filter(action="reminder.sent").count() == 2


def _other_sessions() -> int:
    """Sessions on this test database besides ours: a killed worker's backend stays until
    PostgreSQL has finished what the worker sent before dying (a COMMIT may still land)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                       "AND backend_type = 'client backend'")
        return cursor.fetchone()[0]


def test_worker_killed_during_a_sweep_then_restarted(tenant, jane, celery_processes):
    total = 30_000
    make_registrations(tenant, jane, total, expires_in=dt.timedelta(minutes=-5))
    processes = celery_processes({"MDM_SWEEP_BATCH_SIZE": 100})
    worker = processes.worker(concurrency=1)
    tasks.run_expiry_sweeps.apply_async(queue=processes.queue)
    expired = Registration.objects.filter(state=RegistrationState.EXPIRED)
    _wait(lambda: expired.count() >= 500, 60, processes, "the sweep to start")
    processes.kill(worker)  # SIGKILL, pool included, mid-sweep
    _wait(lambda: _other_sessions() == 0, 30, processes, "the killed worker's sessions to end")
    at_kill = expired.count()
    assert 0 < at_kill < total, at_kill
    time.sleep(1)
    assert expired.count() == at_kill  # nothing runs any more

    processes.worker(concurrency=1)  # the unacknowledged task comes back to this one
    _wait(lambda: expired.count() == total, 120, processes, "the redelivered sweep")
    events = (AuditEvent.objects.filter(action="registration.expired")
              .values("target_id").annotate(n=Count("id")))
    assert events.count() == total
    assert {row["n"] for row in events} == {1}   # each registration processed exactly once
    assert not Registration.objects.exclude(state=RegistrationState.EXPIRED).exists()


def test_two_beat_schedulers_do_not_double_send(tenant, admin, app_push_ready, fcm_server,
                                                celery_processes):
    from users.models import User

    count = 20
    for i in range(count):
        user = User.objects.create_user(tenant, f"user{i}@acme.test")
        registration, = make_registrations(tenant, user, 1, platform="android")
        app_session(tenant, user, registration, service="fcm", token=f"fcm-{i}")
    processes = celery_processes({"MDM_FCM_URL": fcm_server.url,
                                  "MDM_REMINDER_SCAN_SECONDS": 1,
                                  "MDM_SWEEP_INTERVAL_SECONDS": 3600})
    processes.worker(concurrency=2)
    processes.beat()
    processes.beat()
    _wait(lambda: len(fcm_server.messages) >= count, 60, processes, "the reminders")
    started = time.monotonic()
    _wait(lambda: processes.logs().count("Sending due task send-registration-reminders") >= 8
          and time.monotonic() - started > 3, 60, processes, "more beats")
    time.sleep(1)
    assert Reminder.objects.count() == count
    assert len(fcm_server.messages) == count
    assert sorted(m["token"] for m in fcm_server.messages) == sorted(
        f"fcm-{i}" for i in range(count))
    beat_logs = [log.read_text() for _, log in processes.processes if "beat" in log.name]
    assert all("send-registration-reminders" in text for text in beat_logs)
