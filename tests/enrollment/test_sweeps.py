"""Expiry sweeps as plain functions: what they expire, audit, idempotence, skip under the
lock, constant queries per batch."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from enrollment import tasks
from enrollment.models import (
    Challenge,
    Invitation,
    InvitationStatus,
    Registration,
    RegistrationPin,
    RegistrationState,
)
from enrollment.services import sweeps
from tests.base.push import make_registrations

PAST = dt.timedelta(minutes=-1)


def _challenge(tenant, n: int, *, expires_in=dt.timedelta(minutes=10)) -> Challenge:
    return Challenge.objects.create(tenant=tenant, challenge_hash=f"{n:064x}",
                                    expires_at=timezone.now() + expires_in)


def test_expire_registrations(tenant, jane):
    due = make_registrations(tenant, jane, 3, expires_in=PAST)
    challenge = _challenge(tenant, 1)
    Registration.objects.filter(pk=due[0].pk).update(challenge=challenge)
    fresh = make_registrations(tenant, jane, 2)
    done = make_registrations(tenant, jane, 1, state=RegistrationState.ENROLLED,
                              expires_in=PAST)
    assert sweeps.do_expire_registrations() == 3
    states = dict(Registration.objects.values_list("pk", "state"))
    assert {states[r.pk] for r in due} == {"expired"}
    assert {states[r.pk] for r in fresh} == {"profile_downloaded"}
    assert states[done[0].pk] == "enrolled"
    challenge.refresh_from_db()
    assert challenge.is_expired
    events = AuditEvent.objects.filter(action="registration.expired")
    assert sorted(int(e.target_id) for e in events) == sorted(r.pk for r in due)
    assert {e.user_id for e in events} == {jane.pk}
    assert sweeps.do_expire_registrations() == 0  # idempotent
    assert events.count() == 3


@pytest.mark.parametrize("count", [5, 50, 500])
def test_registration_sweep_queries_are_constant_per_batch(tenant, jane, count):
    regs = make_registrations(tenant, jane, count, expires_in=PAST)
    for n, registration in enumerate(regs[::10]):
        Registration.objects.filter(pk=registration.pk).update(challenge=_challenge(tenant, n))
    batch = 40
    with CaptureQueriesContext(connection) as queries:
        assert sweeps.do_expire_registrations(batch_size=batch) == count
    full, rest = divmod(count, batch)
    batches = full + 1  # the last (short or empty) batch
    # per batch: SELECT ... FOR UPDATE, UPDATE registrations, UPDATE challenges, INSERT audit
    # (an empty last batch: the SELECT only), plus the savepoint pair of each atomic block
    sql = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(sql) == 4 * full + (4 if rest else 1), len(sql)
    assert len(sql) <= 4 * batches


def test_other_sweeps(tenant, jane, admin):
    now = timezone.now()
    # a cancelled registration whose challenge is still valid
    (cancelled,) = make_registrations(tenant, jane, 1, state=RegistrationState.CANCELLED)
    live_challenge = _challenge(tenant, 7)
    Registration.objects.filter(pk=cancelled.pk).update(challenge=live_challenge)
    # a closed registration two days past its window still holding its profile link
    (old,) = make_registrations(tenant, jane, 1, state=RegistrationState.EXPIRED,
                                expires_in=dt.timedelta(days=-2))
    Registration.objects.filter(pk=old.pk).update(profile_token_hash="ab" * 32)
    # an expired live PIN, and a live one
    RegistrationPin.objects.create(tenant=tenant, user=jane, pin_hash="x",
                                   expires_at=now - dt.timedelta(hours=1))
    # an invitation past its expiry
    Invitation.objects.create(tenant=tenant, user=jane, token_hash="cd" * 32, created_at=now,
                              expires_at=now - dt.timedelta(minutes=1))
    result = sweeps.run_expiry_sweeps()
    assert result == {"registrations": 0, "challenges": 1, "profile_tokens": 1, "pins": 1,
                      "invitations": 1}
    live_challenge.refresh_from_db()
    assert live_challenge.is_expired
    assert Registration.objects.get(pk=old.pk).profile_token_hash is None
    pin = RegistrationPin.objects.get(user=jane)
    assert pin.revoked_at == pin.expires_at
    assert Invitation.objects.get(user=jane).status == InvitationStatus.EXPIRED
    for action in ("scep.challenges_expired", "registration.profile_tokens_expired",
                   "pin.expired", "invitation.expired"):
        assert AuditEvent.objects.filter(tenant=tenant, action=action).count() == 1, action
    assert sweeps.run_expiry_sweeps() == dict.fromkeys(result, 0)  # idempotent


def test_a_new_pin_can_be_issued_after_the_sweep(tenant, jane):
    from enrollment.services.pins import do_issue_pin

    RegistrationPin.objects.create(tenant=tenant, user=jane, pin_hash="x",
                                   expires_at=timezone.now() - dt.timedelta(hours=1))
    sweeps.do_expire_pins()
    do_issue_pin(tenant, jane, actor="system")
    assert RegistrationPin.objects.filter(user=jane).count() == 2


@pytest.mark.django_db(transaction=True)
def test_overlapping_sweep_skips_under_the_advisory_lock(tenant, jane):
    make_registrations(tenant, jane, 2, expires_in=PAST)
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            import hashlib

            digest = hashlib.blake2b(b"enrollment-expiry-sweeps", digest_size=8).digest()
            cursor.execute("SELECT pg_advisory_lock(%s)",
                           [int.from_bytes(digest, "big", signed=True)])
            assert tasks.run_expiry_sweeps() == {"skipped": True}
            assert Registration.objects.filter(state="expired").count() == 0
            cursor.execute("SELECT pg_advisory_unlock_all()")
    finally:
        other.close()
    assert tasks.run_expiry_sweeps()["registrations"] == 2


@pytest.mark.django_db(transaction=True)
def test_rows_locked_by_another_transaction_are_skipped_not_waited_for(tenant, jane):
    """A registration being enrolled right now (row locked) is left for the next run."""
    regs = make_registrations(tenant, jane, 3, expires_in=PAST)
    other = connections.create_connection("default")
    try:
        other.set_autocommit(False)
        with other.cursor() as cursor:
            cursor.execute("SELECT id FROM enrollment_registration WHERE id = %s FOR UPDATE",
                           [regs[0].pk])
            assert sweeps.do_expire_registrations() == 2
        other.rollback()
    finally:
        other.close()
    assert sweeps.do_expire_registrations() == 1
