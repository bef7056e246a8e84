"""One-time SCEP challenges: consumed once, by one of any number of concurrent requests."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from enrollment.models import Challenge
from enrollment.services.challenges import (
    ChallengeRejected,
    consume_challenge,
    do_create_challenge,
)


@pytest.mark.django_db
def test_consumed_once_then_reused(tenant, admin):
    minted = do_create_challenge(tenant, actor=admin, purpose="test")
    consumed = consume_challenge(tenant, minted.raw)
    assert consumed.pk == minted.challenge.pk and consumed.purpose == "test"
    assert consumed.used_at is not None
    assert Challenge.objects.get(pk=consumed.pk).used_at is not None
    with pytest.raises(ChallengeRejected) as again:
        consume_challenge(tenant, minted.raw)
    assert again.value.reason == "reused" and again.value.challenge.pk == consumed.pk


@pytest.mark.django_db
@pytest.mark.parametrize("raw, reason", [(None, "missing"), ("", "missing"),
                                         ("nope", "unknown")])
def test_missing_and_unknown(tenant, raw, reason):
    with pytest.raises(ChallengeRejected) as refused:
        consume_challenge(tenant, raw)
    assert refused.value.reason == reason and refused.value.challenge is None


@pytest.mark.django_db
def test_expired_is_not_consumed(tenant, admin):
    minted = do_create_challenge(tenant, actor=admin, ttl=dt.timedelta(minutes=1))
    Challenge.objects.filter(pk=minted.challenge.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1))
    with pytest.raises(ChallengeRejected) as refused:
        consume_challenge(tenant, minted.raw)
    assert refused.value.reason == "expired"
    assert Challenge.objects.get(pk=minted.challenge.pk).used_at is None


@pytest.mark.django_db
def test_another_tenants_challenge_is_unknown(tenant, other_tenant, other_admin):
    minted = do_create_challenge(other_tenant, actor=other_admin)
    with pytest.raises(ChallengeRejected) as refused:
        consume_challenge(tenant, minted.raw)
    assert refused.value.reason == "unknown"
    assert Challenge.objects.get(pk=minted.challenge.pk).used_at is None


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_consume_it_once(tenant, admin):
    minted = do_create_challenge(tenant, actor=admin)
    barrier, outcomes = threading.Barrier(4), []

    def attempt() -> None:
        try:
            barrier.wait()
            with transaction.atomic():
                consume_challenge(tenant, minted.raw)
            outcomes.append("consumed")
        except ChallengeRejected as exc:
            outcomes.append(exc.reason)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["consumed", "reused", "reused", "reused"]
