"""The pusher by channel/device id: batches, attempts recorded, dead tokens flagged, constant
queries per batch; certificate upload sets the enrollment push topic; commands push on
commit."""

from __future__ import annotations

import json

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from core.encryption import decrypt
from devices.models import ApnsCertificate, InvalidPushToken, PushAttempt
from devices.push import apns, service
from devices.push.credentials import do_upload_apns_certificate
from devices.tasks import push_channels as push_task
from enrollment.services.apple_settings import apple_settings
from tests.base.push import make_devices
from tests.base.push.pki import TOPIC


def test_upload_p12_stores_encrypted_key_and_sets_push_topic(tenant, admin, pki, push_settings):
    certificate = do_upload_apns_certificate(tenant, pki.push_p12, password="secret",
                                             actor=admin)
    assert certificate.topic == TOPIC
    assert apple_settings(tenant).push_topic == TOPIC
    stored = ApnsCertificate.objects.get(tenant=tenant)
    assert b"PRIVATE KEY" not in bytes(stored.private_key_encrypted)
    assert decrypt(bytes(stored.private_key_encrypted), ApnsCertificate.KEY_PURPOSE) \
        == pki.push_key_pem
    assert not certificate.expires_soon
    assert AuditEvent.objects.filter(tenant=tenant,
                                     action="push.apns_certificate_uploaded").count() == 1


def test_upload_pem_replaces_and_warns_before_expiry(tenant, admin, pki, push_settings):
    cert, key = pki.push_certificate(days=20, topic="com.apple.mgmt.External.other")
    certificate = do_upload_apns_certificate(tenant, cert, key_data=key, actor=admin)
    assert certificate.expires_soon and certificate.days_left <= 20
    assert apple_settings(tenant).push_topic == "com.apple.mgmt.External.other"
    with pytest.raises(apns.ApnsCertificateError, match="topic"):  # another topic: confirm
        do_upload_apns_certificate(tenant, pki.push_cert_pem + pki.push_key_pem, actor=admin)
    do_upload_apns_certificate(tenant, pki.push_cert_pem + pki.push_key_pem, actor=admin,
                               confirm_topic_change=True)
    assert ApnsCertificate.objects.filter(tenant=tenant).count() == 1
    assert apple_settings(tenant).push_topic == TOPIC


def test_expired_certificate_is_refused(tenant, admin, pki, push_settings):
    from devices.push.credentials import certificates_expiring, do_warn_expiring_certificates

    cert, key = pki.push_certificate(days=0)
    with pytest.raises(apns.ApnsCertificateError, match="expired"):
        do_upload_apns_certificate(tenant, cert + key, actor=admin)
    cert, key = pki.push_certificate(days=10)
    do_upload_apns_certificate(tenant, cert + key, actor=admin)
    assert certificates_expiring().count() == 1
    assert do_warn_expiring_certificates() == 1
    assert do_warn_expiring_certificates() == 0  # once
    assert AuditEvent.objects.filter(action="push.apns_certificate_expiring").count() == 1


def test_push_channels_sends_and_records(tenant, apns_ready, apns_server):
    channels = make_devices(tenant, 5)
    outcome = service.push_channels([c.pk for c in channels])
    assert outcome.as_dict() == {"sent": 5, "invalid": 0, "skipped": 0, "failed": 0,
                                 "retry": 0}
    assert {r.path.rsplit("/", 1)[1] for r in apns_server.requests} == {
        bytes(c.push_token).hex() for c in channels}
    by_token = {r.path.rsplit("/", 1)[1]: json.loads(r.body) for r in apns_server.requests}
    assert by_token[bytes(channels[0].push_token).hex()] == {"mdm": channels[0].push_magic}
    attempts = PushAttempt.objects.filter(tenant=tenant)
    assert attempts.count() == 5
    assert set(attempts.values_list("result", flat=True)) == {"sent"}
    assert all(a.message_id for a in attempts)


def test_dead_tokens_flag_the_device_and_stop_pushes(tenant, apns_ready, apns_server):
    ok, bad, gone, busy = make_devices(tenant, 4)
    apns_server.script(bytes(bad.push_token).hex(), 400)
    apns_server.script(bytes(gone.push_token).hex(), 410)
    apns_server.script(bytes(busy.push_token).hex(), 429, 429, 429, 429)
    outcome = service.push_channels([ok.pk, bad.pk, gone.pk, busy.pk])
    assert outcome.as_dict() == {"sent": 1, "invalid": 2, "skipped": 0, "failed": 0,
                                 "retry": 1}
    assert outcome.retry_channel_ids == [busy.pk]
    flagged = InvalidPushToken.objects.filter(tenant=tenant)
    assert set(flagged.values_list("device_id", "result")) == {
        (bad.device_id, "bad_token"), (gone.device_id, "unregistered")}
    assert AuditEvent.objects.filter(tenant=tenant, action="push.token_invalid").count() == 2
    sent_before = len(apns_server.requests)
    again = service.push_channels([bad.pk, gone.pk])
    assert again.skipped == 2 and len(apns_server.requests) == sent_before
    # a new token from the device (TokenUpdate) makes it reachable again
    gone.push_token = b"\x07" * 32
    gone.save(update_fields=["push_token"])
    assert service.push_channels([gone.pk]).sent == 1


def test_no_certificate_means_no_push(tenant, push_settings, apns_server):
    channels = make_devices(tenant, 2)
    outcome = service.push_channels([c.pk for c in channels])
    assert outcome.skipped == 2 and not apns_server.requests
    assert set(PushAttempt.objects.values_list("result", flat=True)) == {"no_credentials"}


def test_disabled_or_tokenless_channels_are_not_pushed(tenant, apns_ready, apns_server):
    a, b = make_devices(tenant, 2)
    a.enabled = False
    a.save(update_fields=["enabled"])
    b.push_token = None
    b.save(update_fields=["push_token"])
    assert service.push_channels([a.pk, b.pk]).as_dict()["sent"] == 0
    assert not apns_server.requests and not PushAttempt.objects.exists()


@pytest.mark.parametrize("count", [10, 120])
def test_push_queries_are_constant_per_batch(tenant, apns_ready, apns_server, settings, count):
    settings.MDM_PUSH_BATCH_SIZE = 50
    channels = make_devices(tenant, count)
    batches = -(-count // 50)
    for channel in channels[::7]:
        apns_server.script(bytes(channel.push_token).hex(), 410)
    with CaptureQueriesContext(connection) as queries:
        service.push_channels([c.pk for c in channels])
    # per batch: channels, known-invalid tokens, certificates, attempts INSERT, and for dead
    # tokens their INSERT and the audit INSERT (+ savepoints of the write transaction)
    writes = [q for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(writes) <= 6 * batches, [q["sql"][:80] for q in writes]
    assert PushAttempt.objects.count() == count


def test_push_devices_uses_the_device_channel(tenant, apns_ready, apns_server):
    (channel,) = make_devices(tenant, 1)
    assert service.push_devices([channel.device_id]).sent == 1


def test_push_task_as_plain_function_requeues_throttled(tenant, apns_ready, apns_server,
                                                        monkeypatch):
    ok, busy = make_devices(tenant, 2)
    apns_server.script(bytes(busy.push_token).hex(), *([429] * 10))
    queued = []
    monkeypatch.setattr(push_task, "apply_async",
                        lambda args, countdown: queued.append((args, countdown)))
    result = push_task([ok.pk, busy.pk])
    assert result["sent"] == 1 and result["requeued"] is True
    assert queued[0][0] == ([busy.pk], "command", 1)
    assert push_task([busy.pk], "command", 3)["requeued"] is False  # last round


@pytest.mark.django_db(transaction=True)
def test_commands_queued_in_one_transaction_push_once_after_commit(tenant, apns_ready,
                                                                   monkeypatch):
    channels = make_devices(tenant, 3)
    sent = []
    monkeypatch.setattr(push_task, "apply_async", lambda args, **kw: sent.append(args))
    with transaction.atomic():
        for channel in channels:
            service.push_after_commit([channel.pk])
        assert sent == []
    assert sent == [(sorted(c.pk for c in channels),)]
    with pytest.raises(RuntimeError), transaction.atomic():
        service.push_after_commit([channels[0].pk])
        raise RuntimeError
    with transaction.atomic():  # the rolled-back one does not leak into the next
        service.push_after_commit([channels[1].pk])
    assert sent[-1] == ([channels[1].pk],)
    assert len(sent) == 2


@pytest.mark.django_db(transaction=True)
def test_no_broker_traffic_without_a_certificate(tenant, monkeypatch):
    channels = make_devices(tenant, 1)
    monkeypatch.setattr(push_task, "apply_async", lambda *a, **k: pytest.fail("queued"))
    with transaction.atomic():
        service.push_after_commit([channels[0].pk])


@pytest.mark.django_db(transaction=True)
def test_queued_command_wakes_the_device_over_apns(tenant, admin, apns_ready, apns_server,
                                                   monkeypatch):
    """do_enqueue_command -> on commit -> push task (run inline here) -> loopback APNs."""
    from devices.apple.commands import do_enqueue_command

    (channel,) = make_devices(tenant, 1)
    monkeypatch.setattr(push_task, "apply_async",
                        lambda args, **kw: push_task.run(*args))
    do_enqueue_command(tenant, channel.device, "DeviceInformation", actor=admin)
    (request,) = apns_server.requests
    assert request.path == f"/3/device/{bytes(channel.push_token).hex()}"
    assert json.loads(request.body) == {"mdm": channel.push_magic}
    assert request.headers["apns-push-type"] == "mdm"
    assert PushAttempt.objects.get().reason == "command"


def test_old_push_attempts_are_purged(tenant, apns_ready, apns_server, settings):
    import datetime as dt

    from django.utils import timezone

    from devices import tasks

    channels = make_devices(tenant, 3)
    service.push_channels([c.pk for c in channels])
    PushAttempt.objects.filter(channel=channels[0]).update(
        created_at=timezone.now() - dt.timedelta(days=31))
    assert tasks.purge_push_attempts() == {"deleted": 1}
    assert PushAttempt.objects.count() == 2
