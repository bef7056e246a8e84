"""One-time SCEP challenges: spent once, by one of any number of concurrent issuances, and
only together with the certificate they pay for."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from django.db import connection
from django.utils import timezone

from enrollment.models import Challenge, IssuedCertificate
from enrollment.scep import depot
from enrollment.scep.signer import PolicyRejection, Signed, challenge_grant
from enrollment.services.authorities import active_authority, key_pair
from enrollment.services.challenges import (
    ChallengeRejected,
    do_create_challenge,
    refusal,
    spend_statement,
)
from pki.authority import fingerprint, random_serial, subject_text
from pki.issuance import issue_certificate
from tests.base.scep.client import make_csr, new_key


def spend(tenant, raw: str):
    statement, params = spend_statement(tenant, raw, "x")
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchone()


@pytest.mark.django_db
def test_spent_once_then_reused(tenant, admin):
    minted = do_create_challenge(tenant, actor=admin, purpose="test")
    assert spend(tenant, minted.raw) == (minted.challenge.pk, "test")
    assert Challenge.objects.get(pk=minted.challenge.pk).used_at is not None
    assert spend(tenant, minted.raw) is None
    why = refusal(tenant, minted.raw)
    assert why.reason == "reused" and why.challenge.pk == minted.challenge.pk


@pytest.mark.django_db
@pytest.mark.parametrize("raw", [None, ""])
def test_missing_is_refused_before_any_statement(tenant, raw):
    with pytest.raises(ChallengeRejected) as refused:
        spend_statement(tenant, raw, "x")
    assert refused.value.reason == "missing" and refused.value.challenge is None
    with pytest.raises(PolicyRejection, match="challenge missing"):
        challenge_grant(tenant, raw, "x")


@pytest.mark.django_db
def test_unknown(tenant):
    assert spend(tenant, "nope") is None
    why = refusal(tenant, "nope")
    assert why.reason == "unknown" and why.challenge is None


@pytest.mark.django_db
def test_expired_is_not_spent(tenant, admin):
    minted = do_create_challenge(tenant, actor=admin, ttl=dt.timedelta(minutes=1))
    Challenge.objects.filter(pk=minted.challenge.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert spend(tenant, minted.raw) is None
    assert refusal(tenant, minted.raw).reason == "expired"
    assert Challenge.objects.get(pk=minted.challenge.pk).used_at is None


@pytest.mark.django_db
def test_another_tenants_challenge_is_unknown(tenant, other_tenant, other_admin):
    minted = do_create_challenge(other_tenant, actor=other_admin)
    assert spend(tenant, minted.raw) is None
    assert refusal(tenant, minted.raw).reason == "unknown"
    assert Challenge.objects.get(pk=minted.challenge.pk).used_at is None


def signed_with(tenant, raw: str, key) -> Signed:
    authority = active_authority(tenant)
    serial = random_serial()
    cert = issue_certificate(make_csr(key, "device"), key_pair(authority), serial=serial,
                             validity_days=30)
    return Signed(IssuedCertificate(
        tenant=tenant, authority=authority, serial_hex=f"{serial:040x}",
        subject=subject_text(cert.subject), common_name="device",
        fingerprint_sha256=fingerprint(cert), certificate_der=cert.public_bytes(Encoding.DER),
        not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc,
    ), challenge_grant(tenant, raw, "x"))


@pytest.mark.django_db
def test_a_refused_grant_stores_nothing(tenant, admin):
    minted = do_create_challenge(tenant, actor=admin)
    key = new_key()
    assert depot.store(signed_with(tenant, minted.raw, key)) is True
    again = signed_with(tenant, minted.raw, key)
    assert depot.store(again) is False
    assert again.grant.refused().reason == "challenge reused"
    assert list(IssuedCertificate.objects.filter(tenant=tenant).values_list(
        "challenge_id", flat=True)) == [minted.challenge.pk]


@pytest.mark.django_db(transaction=True)
def test_concurrent_issuances_spend_it_once(tenant, admin):
    minted = do_create_challenge(tenant, actor=admin)
    key = new_key()
    signed = [signed_with(tenant, minted.raw, key) for _ in range(4)]
    barrier, outcomes = threading.Barrier(4), []

    def attempt(one: Signed) -> None:
        try:
            barrier.wait()
            outcomes.append(depot.store(one))  # autocommit: the statement is the transaction
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(one,)) for one in signed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [False, False, False, True]
    assert IssuedCertificate.objects.filter(challenge=minted.challenge).count() == 1
