"""The Apple check-in protocol through the HTTP endpoint, with signed requests."""

from __future__ import annotations

import datetime as dt
import plistlib

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.events import AuditAction
from audit.models import AuditEvent
from core.encryption import decrypt
from devices.models import AppleChannel, Command, CommandStatus, Device, DeviceState
from enrollment.models import IssuedCertificate, Registration, RegistrationState
from tests.base.apple.simulator import parse_command
from tests.devices.conftest import enroll

pytestmark = pytest.mark.django_db


def test_authenticate_then_token_update_enrolls(iphone, jane, apple_tenant):
    status, body = iphone.authenticate()  # no DeviceName, Model, ModelName: iOS omits them
    assert (status, body) == (200, b"")
    device = Device.objects.get(udid=iphone.udid)
    assert device.state == DeviceState.PENDING  # not Active before TokenUpdate
    assert device.tenant == apple_tenant and device.platform == "ios"
    assert device.serial_number == iphone.serial_number
    issued = IssuedCertificate.objects.get(device=device)
    assert issued.fingerprint_sha256 == iphone.cert.fingerprint(
        __import__("cryptography").hazmat.primitives.hashes.SHA256()).hex()

    assert iphone.token_update()[0] == 200
    device.refresh_from_db()
    assert device.state == DeviceState.ACTIVE and device.owner == jane
    assert device.enrolled_at is not None
    registration = Registration.objects.get(pk=iphone.registration.pk)
    assert registration.state == RegistrationState.ENROLLED and registration.device == device
    channel = AppleChannel.objects.get(channel_id=iphone.udid)
    assert channel.enabled and channel.push_magic and bytes(channel.push_token)
    assert decrypt(bytes(channel.unlock_token_encrypted),
                   AppleChannel.UNLOCK_TOKEN_PURPOSE).startswith(b"unlock-")
    actions = set(AuditEvent.objects.filter(device=device).values_list("action", flat=True))
    assert {AuditAction.DEVICE_AUTHENTICATED, AuditAction.DEVICE_REGISTERED} <= actions


def test_device_information_is_queued_on_enrollment_and_fills_the_device(iphone):
    enroll(iphone)
    status, body = iphone.idle()
    assert status == 200
    command = parse_command(body)
    assert command["Command"]["RequestType"] == "DeviceInformation"
    assert "SerialNumber" in command["Command"]["Queries"]
    status, body = iphone.device_information(command["CommandUUID"])
    assert (status, body) == (200, b"")  # queue empty: 200 with an empty body
    device = Device.objects.get(udid=iphone.udid)
    assert (device.name, device.model, device.model_name, device.os_version) == (
        "Test iPhone", "MQA52", "iPhone", "17.4")
    assert device.device_information["IMEI"] == "35 000000 000000 0"
    stored = Command.objects.get(command_uuid=command["CommandUUID"])
    assert stored.status == CommandStatus.ACKNOWLEDGED and stored.completed_at
    assert plistlib.loads(bytes(stored.result_plist))["QueryResponses"]["DeviceName"] == \
        "Test iPhone"


def test_second_token_update_keeps_one_registration(iphone):
    enroll(iphone)
    assert iphone.token_update()[0] == 200
    assert Command.objects.filter(request_type="DeviceInformation").count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.DEVICE_REGISTERED).count() == 1


def test_not_now_is_retried_on_the_next_idle(iphone):
    enroll(iphone)
    uuid = parse_command(iphone.idle()[1])["CommandUUID"]
    status, body = iphone.report("NotNow", uuid)
    assert (status, body) == (200, b"")  # not handed straight back
    assert Command.objects.get(command_uuid=uuid).status == CommandStatus.NOT_NOW
    assert parse_command(iphone.idle()[1])["CommandUUID"] == uuid
    assert Command.objects.get(command_uuid=uuid).delivered_count == 2


def test_error_result_is_stored_with_its_chain(iphone):
    enroll(iphone)
    uuid = parse_command(iphone.idle()[1])["CommandUUID"]
    chain = [{"ErrorCode": 12021, "ErrorDomain": "MCMDMErrorDomain",
              "LocalizedDescription": "Unknown command", "USEnglishDescription": "Unknown"}]
    assert iphone.report("Error", uuid, ErrorChain=chain)[0] == 200
    command = Command.objects.get(command_uuid=uuid)
    assert command.status == CommandStatus.ERROR
    assert command.error_chain[0]["error_code"] == 12021
    # A repeated report changes nothing.
    assert iphone.report("Acknowledged", uuid)[0] == 200
    assert Command.objects.get(command_uuid=uuid).status == CommandStatus.ERROR


def test_checkout_makes_the_device_inactive(iphone):
    enroll(iphone)
    assert iphone.checkout()[0] == 200
    device = Device.objects.get(udid=iphone.udid)
    assert device.state == DeviceState.INACTIVE
    assert not AppleChannel.objects.filter(device=device, enabled=True).exists()
    assert AuditEvent.objects.filter(action=AuditAction.DEVICE_INACTIVE, device=device).exists()
    assert iphone.idle()[0] == 400  # a disabled channel gets no commands


def test_without_token_update_the_registration_does_not_complete(iphone):
    assert iphone.authenticate()[0] == 200
    Registration.objects.filter(pk=iphone.registration.pk).update(
        state=RegistrationState.EXPIRED)  # what the expiry sweep does when the window closes
    status, _ = iphone.token_update()
    assert status == 400
    device = Device.objects.get(udid=iphone.udid)
    assert device.state == DeviceState.PENDING and device.owner is None
    assert not AppleChannel.objects.filter(enabled=True).exists()
    assert AuditEvent.objects.filter(action=AuditAction.DEVICE_ENROLLMENT_REFUSED).exists()


def test_reinstalling_inside_the_window_resumes_the_same_registration(iphone):
    assert iphone.authenticate()[0] == 200
    assert iphone.authenticate()[0] == 200  # the user cancelled, then installed again
    assert iphone.token_update()[0] == 200
    assert Device.objects.get().state == DeviceState.ACTIVE
    assert Registration.objects.get().state == RegistrationState.ENROLLED


def test_bootstrap_token_is_escrowed_encrypted(mac):
    enroll(mac)
    assert mac.checkin("SetBootstrapToken", BootstrapToken=b"bootstrap-secret")[0] == 200
    channel = AppleChannel.objects.get(channel_id=mac.udid)
    assert b"bootstrap-secret" not in bytes(channel.bootstrap_token_encrypted)
    status, body = mac.checkin("GetBootstrapToken")
    assert status == 200 and plistlib.loads(body) == {"BootstrapToken": b"bootstrap-secret"}


def test_declarative_management_is_refused(iphone):
    enroll(iphone)
    assert iphone.checkin("DeclarativeManagement", Endpoint="tokens")[0] == 400


def test_idle_query_count(iphone, apple_tenant):
    from devices.apple.commands import do_enqueue_command

    enroll(iphone)
    iphone.device_information(parse_command(iphone.idle()[1])["CommandUUID"])
    with CaptureQueriesContext(connection) as empty:
        assert iphone.idle() == (200, b"")
    # One statement on PostgreSQL: channel + device + bound certificate + its CA, the next
    # command picked and marked, last-seen refreshed; the tenant comes from the per-process
    # tenant cache (tenants.tenancy.tenant_by_slug). SQLite reads, then picks and marks.
    postgres = connection.vendor == "postgresql"
    assert len(empty) == (1 if postgres else 2), [q["sql"] for q in empty]
    device = Device.objects.get(udid=iphone.udid)
    do_enqueue_command(apple_tenant, device, "ProfileList", actor="test")
    with CaptureQueriesContext(connection) as pending:
        assert parse_command(iphone.idle()[1])["Command"]["RequestType"] == "ProfileList"
    assert len(pending) == (1 if postgres else 3), [q["sql"] for q in pending]


@pytest.mark.django_db(transaction=True)
def test_idle_outside_a_transaction_goes_straight_to_libpq(iphone, apple_tenant):
    """Autocommit (a real request): the prepared statement runs through libpq directly, and
    is still one logged query, accepted or refused."""
    from core import prepared
    from devices.apple.commands import do_enqueue_command

    enroll(iphone)
    iphone.device_information(parse_command(iphone.idle()[1])["CommandUUID"])
    assert connection.get_autocommit()
    by_cursor = prepared.PreparedStatement._fetchone_by_cursor
    prepared.PreparedStatement._fetchone_by_cursor = None  # any use of it fails the test
    try:
        with CaptureQueriesContext(connection) as empty:
            assert iphone.idle() == (200, b"")
        assert [q["sql"].split(" (")[0] for q in empty] == ["EXECUTE mdm_apple_idle"]
        device = Device.objects.get(udid=iphone.udid)
        command = do_enqueue_command(apple_tenant, device, "ProfileList", actor="test")
        with CaptureQueriesContext(connection) as pending:
            assert parse_command(iphone.idle()[1])["CommandUUID"] == command.command_uuid
        assert len(pending) == 1
        command.refresh_from_db()
        assert command.delivered_count == 1 and command.sent_at is not None
        IssuedCertificate.objects.filter(device=device).update(revoked_at=timezone.now())
        with CaptureQueriesContext(connection) as refused:
            assert iphone.idle()[0] == 400  # refused: the target is read again to say why
        assert len(refused) >= 2
    finally:
        prepared.PreparedStatement._fetchone_by_cursor = by_cursor
    assert AuditEvent.objects.filter(action=AuditAction.DEVICE_IDENTITY_REJECTED).exists()


def test_prepared_statement_errors_are_django_errors(transactional_db):
    from django.db import DatabaseError

    from core.prepared import PreparedStatement

    broken = PreparedStatement("mdm_test_broken", "SELECT 1 / $1", ("int8",), ("int8",))
    assert broken.fetchone([1]) == (1,)
    with pytest.raises(DatabaseError):
        broken.fetchone([0])  # division by zero, raised as Django's error
    assert broken.fetchone([2]) == (0,)  # the connection is still usable
    with pytest.raises(ValueError):
        PreparedStatement("mdm_test_bad", "SELECT $1", ("int8",), ("numeric",))


def test_idle_refreshes_last_seen_to_the_minute(iphone):
    enroll(iphone)
    long_ago = timezone.now() - dt.timedelta(hours=2)
    Device.objects.filter(udid=iphone.udid).update(last_seen_at=long_ago)
    AppleChannel.objects.filter(channel_id=iphone.udid).update(last_seen_at=long_ago)
    assert iphone.idle()[0] == 200
    device = Device.objects.get(udid=iphone.udid)
    channel = AppleChannel.objects.get(channel_id=iphone.udid)
    assert device.last_seen_at > long_ago and channel.last_seen_at > long_ago
    seen = device.last_seen_at
    assert iphone.idle()[0] == 200  # within the minute: nothing written
    assert Device.objects.get(udid=iphone.udid).last_seen_at == seen


def test_refused_idle_delivers_nothing(iphone, apple_tenant):
    from devices.apple.commands import do_enqueue_command

    enroll(iphone)
    device = Device.objects.get(udid=iphone.udid)
    IssuedCertificate.objects.filter(device=device).update(revoked_at=timezone.now())
    command = do_enqueue_command(apple_tenant, device, "ProfileList", actor="test")
    long_ago = timezone.now() - dt.timedelta(hours=2)
    Device.objects.filter(pk=device.pk).update(last_seen_at=long_ago)
    assert iphone.idle()[0] == 400
    command.refresh_from_db()
    assert command.sent_at is None and command.delivered_count == 0
    assert Device.objects.get(pk=device.pk).last_seen_at == long_ago


def test_redelivery_before_an_answer_writes_nothing(iphone):
    enroll(iphone)
    uuid = parse_command(iphone.idle()[1])["CommandUUID"]
    first = Command.objects.get(command_uuid=uuid)
    assert first.delivered_count == 1 and first.sent_at is not None
    # The device idles again without answering (it lost our reply): same command, no write.
    assert parse_command(iphone.idle()[1])["CommandUUID"] == uuid
    again = Command.objects.get(command_uuid=uuid)
    assert (again.delivered_count, again.sent_at) == (1, first.sent_at)
    # After NotNow the next delivery counts, and the command waits for an answer again.
    iphone.report("NotNow", uuid)
    assert parse_command(iphone.idle()[1])["CommandUUID"] == uuid
    after = Command.objects.get(command_uuid=uuid)
    assert after.delivered_count == 2 and after.status == CommandStatus.QUEUED
