"""One-time PINs (S16): random, hashed, single use, expiring, attempt-limited, replaced."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from enrollment.models import RegistrationPin
from enrollment.services.pins import PinOutcome, do_issue_pin, verify_pin
from enrollment.services.policies import do_save_registration_policy

pytestmark = pytest.mark.django_db


def test_pin_is_random_digits_stored_hashed_and_single_use(tenant, admin, bob):
    issued = do_issue_pin(tenant, bob, actor=admin)
    assert issued.raw.isdigit() and len(issued.raw) == 6
    stored = RegistrationPin.objects.get(pk=issued.pin.pk)
    assert issued.raw not in stored.pin_hash and stored.pin_hash.startswith("pin_pbkdf2_sha256$")
    assert verify_pin(tenant, bob, issued.raw).ok
    again = verify_pin(tenant, bob, issued.raw)
    assert again.outcome is PinOutcome.NO_PIN and not again.ok
    assert AuditEvent.objects.filter(tenant=tenant, action="pin.issued", user=bob).exists()
    assert AuditEvent.objects.filter(tenant=tenant, action="pin.verified", user=bob).exists()


def test_pin_length_and_validity_follow_the_policy(tenant, admin, bob):
    do_save_registration_policy(tenant, {"pin_length": 8, "pin_validity_hours": 2}, actor=admin)
    issued = do_issue_pin(tenant, bob, actor=admin)
    assert len(issued.raw) == 8
    left = issued.expires_at - timezone.now()
    assert dt.timedelta(hours=1, minutes=59) < left <= dt.timedelta(hours=2)


def test_expired_pin_is_refused(tenant, admin, bob):
    issued = do_issue_pin(tenant, bob, actor=admin)
    RegistrationPin.objects.filter(pk=issued.pin.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1))
    check = verify_pin(tenant, bob, issued.raw)
    assert check.outcome is PinOutcome.EXPIRED and "expired" in check.message


def test_wrong_pins_lock_it_after_the_limit_and_are_audited(tenant, admin, bob):
    do_save_registration_policy(tenant, {"pin_max_attempts": 3}, actor=admin)
    issued = do_issue_pin(tenant, bob, actor=admin)
    wrong = "000000" if issued.raw != "000000" else "111111"
    first = verify_pin(tenant, bob, wrong)
    assert first.outcome is PinOutcome.WRONG and first.attempts_left == 2
    assert verify_pin(tenant, bob, wrong).attempts_left == 1
    third = verify_pin(tenant, bob, wrong)
    assert third.outcome is PinOutcome.LOCKED
    # Even the right PIN no longer opens a locked one.
    assert verify_pin(tenant, bob, issued.raw).outcome is PinOutcome.LOCKED
    assert AuditEvent.objects.filter(tenant=tenant, action="pin.failed", user=bob).count() >= 3
    locked = AuditEvent.objects.get(tenant=tenant, action="pin.locked", user=bob)
    assert locked.detail["failed_attempts"] == 3
    assert RegistrationPin.objects.get(pk=issued.pin.pk).locked_at is not None


def test_reissuing_invalidates_the_previous_pin(tenant, admin, bob):
    old = do_issue_pin(tenant, bob, actor=admin)
    new = do_issue_pin(tenant, bob, actor=admin)
    if old.raw != new.raw:
        assert not verify_pin(tenant, bob, old.raw).ok
    assert verify_pin(tenant, bob, new.raw).ok
    assert RegistrationPin.objects.get(pk=old.pin.pk).revoked_at is not None


def test_a_new_pin_after_a_lock_works(tenant, admin, bob):
    do_save_registration_policy(tenant, {"pin_max_attempts": 1}, actor=admin)
    issued = do_issue_pin(tenant, bob, actor=admin)
    verify_pin(tenant, bob, "0" * 6 if issued.raw != "0" * 6 else "1" * 6)
    fresh = do_issue_pin(tenant, bob, actor=admin)
    assert verify_pin(tenant, bob, fresh.raw).ok


@pytest.mark.parametrize("garbage", ["", "abc", "12 34", "1" * 500, "١٢٣٤٥٦", None])
def test_garbage_pins_count_as_wrong(tenant, admin, bob, garbage):
    do_issue_pin(tenant, bob, actor=admin)
    assert verify_pin(tenant, bob, garbage).outcome is PinOutcome.WRONG


def test_unknown_account_and_throttle(tenant, settings):
    settings.MDM_LOGIN_ATTEMPT_LIMIT = 3
    for _ in range(3):
        check = verify_pin(tenant, None, "123456", email="nobody@acme.test")
        assert check.outcome is PinOutcome.NO_PIN
        assert check.message == "The email or PIN is not correct."
    assert verify_pin(tenant, None, "123456",
                      email="nobody@acme.test").outcome is PinOutcome.THROTTLED


def test_pin_of_another_tenant_does_not_work(tenant, other_tenant, other_admin, admin):
    from tests.enrollment.invitations.conftest import make_user

    stranger = make_user(other_tenant, "bob@globex.test", None)
    issued = do_issue_pin(other_tenant, stranger, actor=other_admin)
    assert verify_pin(tenant, stranger, issued.raw).outcome is PinOutcome.NO_PIN
    with pytest.raises(ValueError):
        do_issue_pin(tenant, stranger, actor=admin)
