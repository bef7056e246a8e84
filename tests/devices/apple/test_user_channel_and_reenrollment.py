"""macOS user channels (only the enrolling user), configuration profiles on enrollment, and
re-enrollment of the same device."""

from __future__ import annotations

import plistlib

import pytest

from audit.events import AuditAction
from audit.models import AuditEvent
from devices.models import AppleChannel, Command, Device, DeviceState
from enrollment.models import Registration, RegistrationState
from profiles.services.configuration import do_create_profile
from tests.base.apple.devices import issue_identity
from tests.base.apple.simulator import parse_command
from tests.devices.conftest import enroll
from users.models import User

pytestmark = pytest.mark.django_db

WIFI = plistlib.dumps([{"PayloadType": "com.apple.wifi.managed", "SSID_STR": "Acme",
                        "EncryptionType": "WPA2", "AutoJoin": True}]).decode()
VPN = plistlib.dumps([{"PayloadType": "com.apple.vpn.managed", "UserDefinedName": "VPN",
                       "VPNType": "IKEv2"}]).decode()


def profile(tenant, name, scope, platforms=("ios", "macos"), **kwargs):
    return do_create_profile(tenant, actor="test", name=name, identifier=f"com.acme.{name}",
                             payload_plist=WIFI if scope == "device" else VPN, scope=scope,
                             platforms=list(platforms), **kwargs)


def queued(channel_id: str) -> list[str]:
    return list(Command.objects.filter(channel__channel_id=channel_id)
                .order_by("created_at", "id").values_list("request_type", flat=True))


def installed_identifiers(channel_id: str) -> list[str]:
    identifiers = []
    for command in Command.objects.filter(channel__channel_id=channel_id,
                                          request_type="InstallProfile"):
        signed = plistlib.loads(bytes(command.command_plist))["Command"]["Payload"]
        # The payload is CMS SignedData; the plist sits inside it in clear.
        start, end = signed.index(b"<?xml"), signed.index(b"</plist>") + 8
        identifiers.append(plistlib.loads(signed[start:end])["PayloadIdentifier"])
    return sorted(identifiers)


def test_mac_user_channel_for_the_enrolling_user(mac, apple_tenant, jane):
    profile(apple_tenant, "wifi", "device")
    profile(apple_tenant, "vpn", "user")
    enroll(mac)
    # Device scope on the device channel (every user of the Mac); user scope waits.
    assert queued(mac.udid) == ["DeviceInformation", "InstallProfile"]
    assert installed_identifiers(mac.udid) == ["com.acme.wifi"]

    user_id = "A1B2C3D4-0000-0000-0000-000000000001"
    status, body = mac.checkin("UserAuthenticate", UserID=user_id, UserShortName="jane")
    assert status == 200 and plistlib.loads(body) == {"DigestChallenge": ""}
    assert mac.user_token_update(user_id, "jane")[0] == 200
    channel = AppleChannel.objects.get(channel_id=f"{mac.udid}:{user_id}")
    assert channel.is_user_channel and channel.enabled and channel.user_short_name == "jane"
    assert installed_identifiers(channel.channel_id) == ["com.acme.vpn"]
    assert AuditEvent.objects.filter(action=AuditAction.USER_CHANNEL_ACCEPTED).count() == 1

    # The user channel fetches its own queue.
    status, body = mac.report("Idle", UserID=user_id)
    assert parse_command(body)["Command"]["RequestType"] == "InstallProfile"

    # Another user of the same Mac is declined (410) and audited.
    other = "A1B2C3D4-0000-0000-0000-000000000002"
    assert mac.checkin("UserAuthenticate", UserID=other, UserShortName="eve")[0] == 410
    assert mac.user_token_update(other, "eve")[0] == 410
    assert not AppleChannel.objects.filter(user_guid=other).exists()
    assert AuditEvent.objects.filter(action=AuditAction.USER_CHANNEL_DECLINED).count() == 2

    # Checking out disables every channel of the Mac.
    assert mac.checkout()[0] == 200
    assert not AppleChannel.objects.filter(enabled=True).exists()


def test_directory_user_must_be_the_logged_in_user(mac, jane):
    User.objects.filter(pk=jane.pk).update(source="ldap",
                                           ldap_dn="uid=jdoe,ou=people,dc=acme,dc=test")
    enroll(mac)
    user_id = "B1B2C3D4-0000-0000-0000-000000000001"
    assert mac.user_token_update(user_id, "someoneelse")[0] == 410
    assert mac.user_token_update(user_id, "jdoe")[0] == 200


def test_user_channel_needs_an_enrolled_mac(mac):
    assert mac.authenticate()[0] == 200
    assert mac.user_token_update("C1", "jane")[0] == 410


def test_assignment_to_chosen_users_and_platforms(apple_tenant, jane, iphone):
    bob = User.objects.create_user(apple_tenant, "bob@acme.test")
    profile(apple_tenant, "for-bob", "device", assign_to_all=False, assigned_users=[bob])
    profile(apple_tenant, "for-jane", "device", assign_to_all=False, assigned_users=[jane])
    profile(apple_tenant, "mac-only", "device", platforms=["macos"])
    profile(apple_tenant, "user-vpn", "user")  # iOS: user scope on the device channel
    enroll(iphone)
    assert installed_identifiers(iphone.udid) == ["com.acme.for-jane", "com.acme.user-vpn"]


def test_re_enrollment_keeps_one_device_row(iphone, apple_tenant, jane):
    enroll(iphone)
    first = Registration.objects.get(pk=iphone.registration.pk)
    assert iphone.checkout()[0] == 200  # the user removed the profile
    registration, cert = issue_identity(apple_tenant, jane)
    iphone.cert = cert
    enroll(iphone)
    assert Device.objects.count() == 1
    device = Device.objects.get()
    assert device.state == DeviceState.ACTIVE
    first.refresh_from_db()
    registration.refresh_from_db()
    assert first.state == RegistrationState.SUPERSEDED
    assert registration.state == RegistrationState.ENROLLED and registration.supersedes == first
    assert AuditEvent.objects.filter(action=AuditAction.DEVICE_REREGISTERED).exists()
    assert queued(iphone.udid).count("DeviceInformation") == 2
    # The old identity no longer speaks for the device.
    assert AppleChannel.objects.get(channel_id=iphone.udid).certificate.device == device


def test_identity_renewal_by_a_fresh_enrollment_profile(iphone, apple_tenant, jane):
    """InstallProfile of a new enrollment profile: the device switches identity with a
    TokenUpdate (no Authenticate); same device, new registration."""
    enroll(iphone)
    registration, cert = issue_identity(apple_tenant, jane)
    iphone.cert = cert
    assert iphone.token_update()[0] == 200
    assert Device.objects.count() == 1
    registration.refresh_from_db()
    assert registration.state == RegistrationState.ENROLLED
    assert iphone.idle()[0] == 200
