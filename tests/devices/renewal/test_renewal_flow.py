"""Identity renewal end to end over the check-in endpoints (issue 16): the scan sends the
re-enrollment profile, the device renews over SCEP and speaks with its new identity, the
enrollment stays as it was, the old identity works through the grace period and no longer
after it."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from audit.events import AuditAction
from audit.models import AuditEvent
from devices.apple.commands import do_enqueue_command
from devices.models import (
    AppleChannel,
    Command,
    CommandStatus,
    IdentityRenewal,
    RenewalState,
)
from devices.services.renewals import scan_tenant
from enrollment.apple.profile import profile_identifier
from enrollment.models import IssuedCertificate, Registration, RevocationReason
from pki.authority import fingerprint
from tests.base.apple.renewal import renewal_profile, renewed_identity, scep_payload
from tests.base.apple.simulator import parse_command
from tests.devices.renewal.conftest import enrolled_device, make_due

pytestmark = pytest.mark.django_db


def pending(tenant) -> IdentityRenewal:
    return IdentityRenewal.objects.for_tenant(tenant).get(state=RenewalState.PENDING)


def window(renewal: IdentityRenewal) -> dt.timedelta:
    """The attempt's window, to the minute."""
    seconds = (renewal.expires_at - renewal.created_at).total_seconds()
    return dt.timedelta(minutes=round(seconds / 60))


def test_a_due_device_gets_a_re_enrollment_profile_of_the_same_enrollment(
        apple_tenant, enrolled):
    device = make_due(enrolled)
    assert scan_tenant(apple_tenant)["queued"] == 1

    renewal = pending(apple_tenant)
    assert (renewal.device_id, renewal.attempt, renewal.reason) == (device.pk, 1, "expiring")
    status, body = enrolled.idle()
    command = parse_command(body)
    assert (status, command["Command"]["RequestType"]) == (200, "InstallProfile")
    profile = renewal_profile(renewal)
    mdm = next(p for p in profile["PayloadContent"] if p["PayloadType"] == "com.apple.mdm")
    assert profile["PayloadIdentifier"] == profile_identifier(apple_tenant)
    assert mdm["Topic"] == enrolled.topic
    scep = scep_payload(profile)
    assert scep["Subject"] == [[["O", "Acme"]], [["CN", f"acme device {device.pk}"]]]
    registration = Registration.objects.get(pk=renewal.registration_id)
    assert (registration.method, registration.state, registration.device_id) == (
        "renewal", "profile_downloaded", device.pk)
    assert AuditEvent.objects.filter(action=AuditAction.IDENTITY_RENEWAL_QUEUED,
                                     device=device).count() == 1


def test_the_device_renews_and_keeps_its_enrollment(apple_tenant, enrolled, _rsa_key_pool):
    device = make_due(enrolled)
    old_key, old_cert = enrolled.key, enrolled.cert
    do_enqueue_command(apple_tenant, device, "ProfileList", actor="test")  # waits behind
    scan_tenant(apple_tenant)
    renewal = pending(apple_tenant)
    enrolled.idle()  # ProfileList comes first (older)
    command = parse_command(enrolled.report("Acknowledged", parse_command(
        enrolled.idle()[1])["CommandUUID"], ProfileList=[])[1])
    assert command["Command"]["RequestType"] == "InstallProfile"

    enrolled.key, enrolled.cert = _rsa_key_pool[1], renewed_identity(
        apple_tenant, renewal, _rsa_key_pool[1])
    assert enrolled.authenticate()[0] == 200
    assert enrolled.token_update()[0] == 200
    assert enrolled.report("Acknowledged", command["CommandUUID"]) == (200, b"")

    renewal.refresh_from_db()
    device.refresh_from_db()
    new = IssuedCertificate.objects.get(fingerprint_sha256=fingerprint(enrolled.cert))
    assert renewal.state == RenewalState.COMPLETED and renewal.new_certificate_id == new.pk
    assert (device.state, device.identity_expires_at) == ("active", new.not_after)
    channel = AppleChannel.objects.get(channel_id=enrolled.udid)
    assert channel.enabled and channel.certificate_id == new.pk
    assert channel.registration_id == enrolled.registration.pk  # the enrollment stays
    assert Command.objects.get(command_uuid=command["CommandUUID"]).status == \
        CommandStatus.ACKNOWLEDGED
    # Nothing was queued again (no DeviceInformation, no profiles): the Fleet #17232 trap.
    assert enrolled.idle() == (200, b"")
    assert AuditEvent.objects.filter(action=AuditAction.IDENTITY_RENEWED,
                                     device=device).count() == 1

    # The old identity speaks through the grace period (7 days), then no longer.
    enrolled_old = copy.copy(enrolled)
    enrolled_old.key, enrolled_old.cert = old_key, old_cert
    assert enrolled_old.idle() == (200, b"")
    with time_machine.travel(timezone.now() + dt.timedelta(days=7, minutes=1), tick=False):
        status, body = enrolled_old.idle()
        assert (status, body) == (400, b"Refused: superseded_certificate\n")
        assert enrolled.idle() == (200, b"")
        scan_tenant(apple_tenant)  # the grace period ended: revoked as superseded
        old = IssuedCertificate.objects.get(fingerprint_sha256=fingerprint(old_cert))
        assert old.revocation_reason == RevocationReason.SUPERSEDED
        assert enrolled_old.idle()[0] == 400
        assert enrolled.idle() == (200, b"")


def test_the_new_identity_may_speak_first_in_a_command_result(
        apple_tenant, enrolled, _rsa_key_pool):
    """A device that reports the InstallProfile result before any check-in message."""
    make_due(enrolled)
    scan_tenant(apple_tenant)
    renewal = pending(apple_tenant)
    uuid = parse_command(enrolled.idle()[1])["CommandUUID"]
    enrolled.key, enrolled.cert = _rsa_key_pool[2], renewed_identity(
        apple_tenant, renewal, _rsa_key_pool[2])
    assert enrolled.report("Acknowledged", uuid) == (200, b"")
    renewal.refresh_from_db()
    assert renewal.state == RenewalState.COMPLETED
    assert enrolled.idle() == (200, b"")


def test_a_mac_keeps_its_user_channel(apple_tenant, mac, _rsa_key_pool):
    enrolled_device(mac)
    assert mac.user_token_update("501", "jane")[0] == 200
    while (body := mac.idle()[1]):
        mac.report("Acknowledged", parse_command(body)["CommandUUID"])
    make_due(mac)
    scan_tenant(apple_tenant)
    renewal = pending(apple_tenant)
    uuid = parse_command(mac.idle()[1])["CommandUUID"]
    mac.key, mac.cert = _rsa_key_pool[3], renewed_identity(apple_tenant, renewal,
                                                           _rsa_key_pool[3])
    assert mac.authenticate()[0] == 200 and mac.token_update()[0] == 200
    assert mac.report("Acknowledged", uuid) == (200, b"")
    user_channel = AppleChannel.objects.get(channel_id=f"{mac.udid}:501")
    assert user_channel.enabled
    assert mac.user_token_update("501", "jane")[0] == 200


def test_an_offline_device_gets_the_next_attempt_with_a_longer_window(apple_tenant, enrolled):
    device = make_due(enrolled)
    scan_tenant(apple_tenant)
    first = pending(apple_tenant)
    assert window(first) == dt.timedelta(days=1)
    assert scan_tenant(apple_tenant)["queued"] == 0  # never two at once
    with time_machine.travel(timezone.now() + dt.timedelta(days=1, minutes=1), tick=False):
        outcome = scan_tenant(apple_tenant)
        assert (outcome["expired"], outcome["queued"]) == (1, 1)
        first.refresh_from_db()
        second = pending(apple_tenant)
    assert first.state == RenewalState.FAILED
    assert "not completed within its window" in first.failure_reason
    assert Command.objects.get(pk=first.command_id).status == CommandStatus.CANCELLED
    assert Registration.objects.get(pk=first.registration_id).state == "failed"
    assert (second.attempt, window(second)) == (2, dt.timedelta(days=2))
    # The device, back online, is handed only the live attempt.
    body = enrolled.idle()[1]
    assert parse_command(body)["CommandUUID"] == \
        Command.objects.get(pk=second.command_id).command_uuid
    device.refresh_from_db()
    assert device.renewal_retry_at == second.expires_at


def test_a_refused_profile_fails_the_attempt_and_waits_out_the_back_off(
        apple_tenant, enrolled):
    device = make_due(enrolled)
    scan_tenant(apple_tenant)
    renewal = pending(apple_tenant)
    uuid = parse_command(enrolled.idle()[1])["CommandUUID"]
    status, _ = enrolled.report("Error", uuid, ErrorChain=[{
        "ErrorCode": 4001, "ErrorDomain": "MCProfileErrorDomain",
        "LocalizedDescription": "Profile installation failed.",
        "USEnglishDescription": "The profile could not be installed."}])
    assert status == 200
    renewal.refresh_from_db()
    device.refresh_from_db()
    assert renewal.state == RenewalState.FAILED
    assert renewal.failure_reason == \
        "the device refused the profile: The profile could not be installed."
    assert device.renewal_retry_at - timezone.now() > dt.timedelta(days=1, hours=23)
    assert scan_tenant(apple_tenant)["queued"] == 0
    assert AuditEvent.objects.filter(action=AuditAction.IDENTITY_RENEWAL_FAILED,
                                     device=device).count() == 1
    with time_machine.travel(timezone.now() + dt.timedelta(days=2, minutes=1), tick=False):
        assert scan_tenant(apple_tenant)["queued"] == 1
        assert pending(apple_tenant).attempt == 2


def test_a_device_not_due_is_left_alone(apple_tenant, enrolled):
    assert scan_tenant(apple_tenant)["queued"] == 0
    assert not IdentityRenewal.objects.exists()
