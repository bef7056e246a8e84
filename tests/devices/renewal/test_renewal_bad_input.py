"""Identity renewal's bad input (issue 16): another device's challenge, another subject, a
profile used twice, a renewal certificate presented for another device; each a clear
protocol answer, audited, nothing half-written. And the bounds: never two attempts at once,
the per-minute limit, constant queries per batch, one tenant's renewals only."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from cryptography import x509
from cryptography.x509.oid import NameOID
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.events import AuditAction
from audit.models import AuditEvent
from devices.models import Device, IdentityRenewal, RenewalState
from devices.services.renewals import (
    NOT_APPLE,
    PENDING,
    do_queue_renewals,
    do_request_renewal,
    scan_tenant,
)
from enrollment.models import Challenge
from enrollment.scep.oids import FailInfo
from enrollment.services.renewal_policy import (
    RenewalPolicyInvalid,
    do_save_renewal_policy,
    renewal_policy,
)
from tests.base.apple.devices import ready_tenant, simulated_device
from tests.base.apple.renewal import (
    queue_renewal,
    renewal_profile,
    renewed_identity,
    request_identity,
    scep_payload,
)
from tests.devices.renewal.conftest import enrolled_device, make_due

pytestmark = pytest.mark.django_db


@pytest.fixture
def second(apple_tenant, jane):
    return enrolled_device(simulated_device(apple_tenant, jane))


def refusals(action: AuditAction) -> list[dict]:
    return list(AuditEvent.objects.filter(action=action).values_list("detail", flat=True))


def test_a_renewal_certificate_never_takes_over_another_device(
        apple_tenant, enrolled, second, _rsa_key_pool):
    renewal = queue_renewal(apple_tenant, Device.objects.get(udid=enrolled.udid).pk)
    stolen = renewed_identity(apple_tenant, renewal, _rsa_key_pool[4])  # by `second`
    second.key, second.cert = _rsa_key_pool[4], stolen
    assert second.authenticate() == (400, b"Refused: renewal_certificate_of_another_device\n")
    assert second.token_update()[0] == 400
    assert second.idle()[0] == 400
    refused = refusals(AuditAction.IDENTITY_RENEWAL_REFUSED)
    assert len(refused) == 3 and refused[0]["registration_id"] == renewal.registration_id
    # Nothing moved: the second device keeps its own identity, the renewal still waits.
    renewal.refresh_from_db()
    assert renewal.state == RenewalState.PENDING
    assert Device.objects.get(udid=second.udid).state == "active"


def test_a_csr_with_another_subject_gets_a_certrep_failure_and_spends_nothing(
        apple_tenant, enrolled, _rsa_key_pool):
    renewal = queue_renewal(apple_tenant, Device.objects.get(udid=enrolled.udid).pk)
    scep = scep_payload(renewal_profile(renewal))
    other = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Acme"),
                       x509.NameAttribute(NameOID.COMMON_NAME, "acme device 999999")])
    result = request_identity(apple_tenant, scep, _rsa_key_pool[4], subject=other)
    assert result.fail_info == FailInfo.BAD_REQUEST
    assert refusals(AuditAction.SCEP_REJECTED)[-1]["reason"] == "challenge wrong_subject"
    assert Challenge.objects.get(registration__pk=renewal.registration_id).used_at is None
    # The device itself still renews with that challenge.
    assert renewed_identity(apple_tenant, renewal, _rsa_key_pool[5])


def test_a_profile_used_twice_is_refused_the_second_time(apple_tenant, enrolled,
                                                         _rsa_key_pool):
    renewal = queue_renewal(apple_tenant, Device.objects.get(udid=enrolled.udid).pk)
    scep = scep_payload(renewal_profile(renewal))
    assert request_identity(apple_tenant, scep, _rsa_key_pool[4]).fail_info is None
    again = request_identity(apple_tenant, scep, _rsa_key_pool[5])
    assert again.fail_info == FailInfo.BAD_REQUEST
    assert refusals(AuditAction.SCEP_REJECTED)[-1]["reason"] == "challenge reused"


def test_never_two_attempts_at_once(apple_tenant, enrolled):
    device = Device.objects.get(udid=enrolled.udid)
    queue_renewal(apple_tenant, device.pk)
    batch = do_queue_renewals(apple_tenant, [device.pk], reason="requested", actor="test")
    assert batch.skipped == {device.pk: PENDING} and not batch.queued
    with pytest.raises(IntegrityError), transaction.atomic():  # and the database says so
        IdentityRenewal.objects.create(tenant=apple_tenant, device=device, reason="requested",
                                       expires_at=timezone.now())


def test_the_per_minute_limit_spreads_a_wave(apple_tenant, jane):
    do_save_renewal_policy(apple_tenant, actor="test", max_per_minute=2)
    sims = [enrolled_device(simulated_device(apple_tenant, jane)) for _ in range(5)]
    for sim in sims:
        make_due(sim)
    assert scan_tenant(apple_tenant)["queued"] == 2
    assert scan_tenant(apple_tenant)["queued"] == 0
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=1, seconds=1), tick=False):
        assert scan_tenant(apple_tenant)["queued"] == 2
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=2, seconds=2), tick=False):
        assert scan_tenant(apple_tenant)["queued"] == 1
    # The soonest to expire went first.
    assert IdentityRenewal.objects.count() == 5


def test_a_batch_costs_the_same_queries_whatever_its_size(apple_tenant, jane):
    sims = [enrolled_device(simulated_device(apple_tenant, jane)) for _ in range(6)]
    ids = list(Device.objects.filter(udid__in=[s.udid for s in sims]).values_list("pk",
                                                                                   flat=True))
    do_queue_renewals(apple_tenant, ids[:1], reason="expiring", actor="test")  # warm caches
    counts = []
    for chunk in (ids[1:3], ids[3:6]):
        with CaptureQueriesContext(connection) as queries:
            batch = do_queue_renewals(apple_tenant, chunk, reason="expiring", actor="test")
        assert len(batch.queued) == len(chunk)
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_renew_now_refuses_what_cannot_renew(apple_tenant, enrolled, second):
    from devices.models import DeviceState

    android = Device.objects.create(tenant=apple_tenant, platform="android",
                                    state=DeviceState.ACTIVE)
    device, other = (Device.objects.get(udid=s.udid) for s in (enrolled, second))
    Device.objects.filter(pk=other.pk).update(state=DeviceState.RETIRED)
    batch = do_request_renewal(apple_tenant, [device.pk, other.pk, android.pk], actor="test")
    assert batch.skipped == {other.pk: "the device is not managed", android.pk: NOT_APPLE}
    assert [r.device_id for r in batch.queued] == [device.pk]
    assert batch.queued[0].reason == "requested"  # not due, sent anyway
    again = do_request_renewal(apple_tenant, [device.pk], actor="test")
    assert again.skipped == {device.pk: PENDING}


def test_renewal_is_per_tenant(apple_tenant, enrolled, other_tenant, jane):
    ready_tenant(other_tenant)
    make_due(enrolled)
    device = Device.objects.get(udid=enrolled.udid)
    assert scan_tenant(other_tenant)["queued"] == 0
    batch = do_request_renewal(other_tenant, [device.pk], actor="test")
    assert not batch.queued and not batch.skipped  # another tenant's device is not found
    assert do_queue_renewals(other_tenant, [device.pk], reason="requested",
                             actor="test").queued == []
    assert not IdentityRenewal.objects.exists()


@pytest.mark.parametrize(("values", "field", "words"), [
    ({"renew_days_before": 0}, "renew_days_before", "at least 1"),
    ({"max_per_minute": 0}, "max_per_minute", "at least 1"),
    ({"grace_days": 91}, "grace_days", "at most 90"),
    ({"grace_days": "7"}, "grace_days", "whole number"),
    ({"colour": 1}, "colour", "not a policy field"),
])
def test_the_policy_refuses_values_out_of_bounds(tenant, values, field, words):
    with pytest.raises(RenewalPolicyInvalid) as refused:
        do_save_renewal_policy(tenant, actor="test", **values)
    assert words in refused.value.errors[field]
    assert renewal_policy(tenant).pk is None  # nothing saved


def test_renewals_start_within_a_certificate_lifetime(tenant, settings):
    settings.MDM_CERTIFICATE_VALIDITY_DAYS = 90
    with pytest.raises(RenewalPolicyInvalid) as refused:
        do_save_renewal_policy(tenant, actor="test", renew_days_before=90)
    assert refused.value.errors == {
        "renew_days_before": "must be less than the identity certificates' lifetime (90 days)"}
    saved = do_save_renewal_policy(tenant, actor="test", renew_days_before=30, grace_days=3)
    assert (saved.renew_days_before, saved.max_per_minute, saved.grace_days) == (30, 100, 3)
    event = AuditEvent.objects.get(action=AuditAction.IDENTITY_RENEWAL_POLICY_SAVED)
    assert event.detail["changed"] == {"renew_days_before": 30, "grace_days": 3}


def test_a_device_that_cannot_renew_never_uses_up_the_limit(apple_tenant, enrolled, second):
    """Renew now for [no identity, renewable] with a limit of 1: the renewable one is sent."""
    from devices.models import AppleChannel

    do_save_renewal_policy(apple_tenant, actor="test", max_per_minute=1)
    blocked, device = (Device.objects.get(udid=s.udid) for s in (second, enrolled))
    AppleChannel.objects.filter(device=blocked).update(certificate=None)
    batch = do_request_renewal(apple_tenant, [blocked.pk, device.pk], actor="test")
    assert batch.skipped == {blocked.pk: "the device has no MDM identity yet"}
    assert [r.device_id for r in batch.queued] == [device.pk] and batch.deferred == []
