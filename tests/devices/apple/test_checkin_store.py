"""The check-in store contract: one suite, run against every ``CheckinStore`` (the plain ORM
store and the PostgreSQL fast path), as NanoMDM runs one suite against every storage backend.

Each case calls one store method and states everything it must do: the result, every row and
column it writes (``writes()`` diffs the tables the check-in touches) and the audit events, in
full. Both stores passing the same statements is what makes the fast path equal to the plain
one. The last case holds a whole conversation through the service over each store.
"""

from __future__ import annotations

import datetime as dt
import inspect
import plistlib
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.events import AuditAction
from audit.models import AuditEvent
from audit.record import event as audit_event
from core.encryption import decrypt
from devices.apple import messages as msg
from devices.apple.checkin import serve_checkin, serve_report
from devices.apple.commands import do_enqueue_command
from devices.apple.postgres_store import PostgresCheckinStore
from devices.apple.store import CheckinStore, IdleOutcome, OrmCheckinStore, ReportTarget
from devices.apple.views import checkin_store
from devices.models import (
    AppleChannel,
    Command,
    CommandStatus,
    Device,
    DeviceState,
    IdentityRenewal,
    RenewalState,
)
from enrollment.models import (
    CertificateAuthority,
    IssuedCertificate,
    Registration,
    RegistrationState,
)
from enrollment.services.authorities import active_authority
from pki.authority import fingerprint
from profiles.services.configuration import do_create_profile
from tests.base.apple.devices import issue_identity
from tests.base.apple.renewal import queue_renewal, renewed_identity
from tests.base.apple.simulator import mdm_signature, parse_command
from tests.devices.conftest import enroll

pytestmark = pytest.mark.django_db

STORES = {"orm": OrmCheckinStore, "postgres": PostgresCheckinStore}
NOW = "<now>"  # a time written by the block (within a minute of its end)
TABLES = {"device": Device, "channel": AppleChannel, "command": Command,
          "certificate": IssuedCertificate, "registration": Registration,
          "renewal": IdentityRenewal, "audit": AuditEvent}
WIFI = plistlib.dumps([{"PayloadType": "com.apple.wifi.managed", "SSID_STR": "Acme",
                        "EncryptionType": "WPA2", "AutoJoin": True}]).decode()


@pytest.fixture(params=sorted(STORES))
def store(request):
    # The suite always runs on PostgreSQL (README): the fast path is never skipped.
    assert connection.vendor == "postgresql"
    return STORES[request.param]()


# --- what a block wrote ----------------------------------------------------------------------

def _plain(value, now: dt.datetime):
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, dt.datetime) and abs(now - value) < dt.timedelta(minutes=1):
        return NOW
    return value


def _rows() -> dict[str, dict[int, dict]]:
    return {name: {row["id"]: row for row in model.objects.values()}
            for name, model in TABLES.items()}


@dataclass
class Writes:
    changed: dict = field(default_factory=dict)  # {table: {pk: {column: new value}}}
    inserted: dict = field(default_factory=dict)  # {table: [row without its id]}
    deleted: dict = field(default_factory=dict)  # {table: [pk]}

    @property
    def audit(self) -> list[dict]:
        return [{k: v for k, v in row.items() if k != "created_at"}
                for row in self.inserted.get("audit", [])]

    @property
    def nothing(self) -> bool:
        return not (self.changed or self.inserted or self.deleted)


@contextmanager
def writes():
    """Every row the block inserted, changed (the changed columns) or deleted."""
    before, result = _rows(), Writes()
    yield result
    after, now = _rows(), timezone.now()
    for name in TABLES:
        old, new = before[name], after[name]
        changed = {pk: {k: _plain(v, now) for k, v in row.items() if old[pk][k] != v}
                   for pk, row in new.items() if pk in old and row != old[pk]}
        inserted = [{k: _plain(v, now) for k, v in row.items() if k != "id"}
                    for pk, row in sorted(new.items()) if pk not in old]
        deleted = sorted(set(old) - set(new))
        for target, value in ((result.changed, changed), (result.inserted, inserted),
                              (result.deleted, deleted)):
            if value:
                target[name] = value


def audit_row(tenant, action, **fields) -> dict:
    """The row ``record(tenant, action, **fields)`` writes, its id and time aside."""
    written = audit_event(tenant, action, **fields)
    return {f.attname: getattr(written, f.attname) for f in AuditEvent._meta.concrete_fields
            if f.attname not in ("id", "created_at")}


# --- set-up ----------------------------------------------------------------------------------

@pytest.fixture
def enrolled(iphone):
    """An enrolled iPhone that has answered its DeviceInformation: an empty queue."""
    enroll(iphone)
    iphone.device_information(parse_command(iphone.idle()[1])["CommandUUID"])
    return iphone


def device_of(sim) -> Device:
    return Device.objects.get(udid=sim.udid)


def channel_of(sim) -> AppleChannel:
    return AppleChannel.objects.get(channel_id=sim.udid)


def issued_of(sim) -> IssuedCertificate:
    return IssuedCertificate.objects.get(fingerprint_sha256=fingerprint(sim.cert))


def checkin_message(sim, message_type: str, **keys):
    return msg.decode_checkin(plistlib.dumps(sim.checkin_message(message_type, **keys)))


def authenticate_message(sim) -> msg.Authenticate:
    return checkin_message(sim, "Authenticate", BuildVersion="21E219",
                           OSVersion=sim.os_version, ProductName=sim.product_name,
                           SerialNumber=sim.serial_number, DeviceName="Jane's iPhone")


def token_update_message(sim, **keys) -> msg.TokenUpdate:
    return checkin_message(sim, "TokenUpdate", Token=b"push-token", PushMagic="MAGIC",
                           UnlockToken=b"unlock-token", **keys)


def report_message(sim, status: str, command_uuid: str | None = None) -> msg.CommandReport:
    message = {"UDID": sim.udid, "Status": status}
    if command_uuid:
        message["CommandUUID"] = command_uuid
    return msg.decode_command_report(plistlib.dumps(message))


def pending_command(tenant, sim, request_type: str = "ProfileList") -> Command:
    return do_enqueue_command(tenant, device_of(sim), request_type, actor="test")


def seen_long_ago(sim) -> dt.datetime:
    long_ago = timezone.now() - dt.timedelta(hours=2)
    Device.objects.filter(udid=sim.udid).update(last_seen_at=long_ago)
    AppleChannel.objects.filter(device__udid=sim.udid).update(last_seen_at=long_ago)
    return long_ago


def with_user_channel(mac, user_id: str = "USER-1", short_name: str = "jane") -> AppleChannel:
    enroll(mac)
    assert mac.user_token_update(user_id, short_name)[0] == 200
    return AppleChannel.objects.get(channel_id=f"{mac.udid}:{user_id}")


# --- the contract ----------------------------------------------------------------------------

class TestCheckinStoreContract:

    # Transactions and audit.

    def test_atomic_keeps_nothing_of_a_failed_block(self, store, enrolled):
        device = device_of(enrolled)
        with writes() as written, pytest.raises(RuntimeError), store.atomic():
            store.set_device_state(device, DeviceState.INACTIVE)
            raise RuntimeError
        assert written.nothing

    def test_audit_writes_one_event(self, store, enrolled, apple_tenant):
        device = device_of(enrolled)
        with writes() as written:
            store.audit(apple_tenant, AuditAction.DEVICE_CHECKIN_REJECTED, actor="mdm",
                        device=device, target=device, detail={"reason": "test"})
        assert written.audit == [audit_row(
            apple_tenant, AuditAction.DEVICE_CHECKIN_REJECTED, actor="mdm", device=device,
            target=device, detail={"reason": "test"})]
        assert list(written.inserted) == ["audit"] and not written.changed

    # Identity and binding: reads.

    def test_issued_certificate_with_its_device_and_authority(self, store, enrolled,
                                                             apple_tenant, other_tenant):
        expected = issued_of(enrolled)
        with writes() as written:
            issued = store.issued_certificate(apple_tenant, expected.fingerprint_sha256)
            with CaptureQueriesContext(connection) as loaded:
                assert issued.device.udid == enrolled.udid
                assert bytes(issued.authority.certificate_der)
            assert len(loaded) == 0
            assert store.issued_certificate(apple_tenant, "00" * 32) is None
            assert store.issued_certificate(other_tenant, expected.fingerprint_sha256) is None
        assert issued.pk == expected.pk
        assert written.nothing

    def test_issued_certificate_revoked_is_still_found(self, store, enrolled, apple_tenant):
        issued = issued_of(enrolled)
        IssuedCertificate.objects.filter(pk=issued.pk).update(revoked_at=timezone.now())
        found = store.issued_certificate(apple_tenant, issued.fingerprint_sha256)
        assert found.pk == issued.pk and found.revoked_at is not None

    def test_ca_certificates_of_the_tenant(self, store, apple_tenant, other_tenant):
        assert store.ca_certificates(apple_tenant) == [
            bytes(active_authority(apple_tenant).certificate_der)]
        assert store.ca_certificates(other_tenant) != store.ca_certificates(apple_tenant)

    def test_registrations(self, store, iphone):
        issued = issued_of(iphone)
        assert store.registration_for_certificate(issued) == iphone.registration
        assert store.registration(iphone.registration.pk) == iphone.registration

    def test_devices_by_udid_and_id(self, store, enrolled, apple_tenant, other_tenant):
        device = device_of(enrolled)
        with writes() as written:
            assert store.lock_device_by_udid(apple_tenant, enrolled.udid) == device
            assert store.lock_device_by_udid(apple_tenant, "UNKNOWN") is None
            assert store.lock_device_by_udid(other_tenant, enrolled.udid) is None
            assert store.lock_device(device.pk) == device
            assert store.device(apple_tenant, device.pk) == device
            with pytest.raises(Device.DoesNotExist):
                store.device(other_tenant, device.pk)
        assert written.nothing

    def test_lock_device_channel_with_device_and_owner(self, store, mac, apple_tenant,
                                                       other_tenant, jane):
        user_channel = with_user_channel(mac)
        channel = store.lock_device_channel(apple_tenant, mac.udid)
        with CaptureQueriesContext(connection) as loaded:
            assert channel.device.udid == mac.udid and channel.device.owner == jane
        assert len(loaded) == 0
        assert channel.pk == channel_of(mac).pk and not channel.is_user_channel
        assert store.lock_device_channel(apple_tenant, user_channel.channel_id) is None
        assert store.lock_device_channel(apple_tenant, "UNKNOWN") is None
        assert store.lock_device_channel(other_tenant, mac.udid) is None

    # Identity and binding: writes.

    def test_bind_certificate_of_a_new_registration(self, store, enrolled, apple_tenant, jane):
        registration, cert = issue_identity(apple_tenant, jane)
        issued = IssuedCertificate.objects.get(fingerprint_sha256=fingerprint(cert))
        channel, device = channel_of(enrolled), device_of(enrolled)
        Device.objects.filter(pk=device.pk).update(identity_expires_at=None)
        with writes() as written:
            store.bind_certificate(channel, issued, registration)
        assert written.changed == {
            "certificate": {issued.pk: {"device_id": device.pk}},
            "channel": {channel.pk: {"certificate_id": issued.pk,
                                     "registration_id": registration.pk}},
            "device": {device.pk: {"identity_expires_at": issued.not_after}},
        }
        assert not written.inserted and issued.device == device

    def test_bind_certificate_renewal_keeps_the_registration(self, store, enrolled,
                                                             apple_tenant, jane):
        _, cert = issue_identity(apple_tenant, jane)
        issued = IssuedCertificate.objects.get(fingerprint_sha256=fingerprint(cert))
        channel = channel_of(enrolled)
        Device.objects.filter(pk=channel.device_id).update(identity_expires_at=None)
        with writes() as written:
            store.bind_certificate(channel, issued)
        assert written.changed == {
            "certificate": {issued.pk: {"device_id": channel.device_id}},
            "channel": {channel.pk: {"certificate_id": issued.pk}},
            "device": {channel.device_id: {"identity_expires_at": issued.not_after}},
        }

    def test_complete_renewal_binds_the_new_identity_and_keeps_the_old_one_for_a_while(
            self, store, enrolled, apple_tenant, jane, _rsa_key_pool):
        device, channel, previous = device_of(enrolled), channel_of(enrolled), issued_of(enrolled)
        Device.objects.filter(pk=device.pk).update(identity_expires_at=previous.not_before)
        renewal = queue_renewal(apple_tenant, device.pk)
        cert = renewed_identity(apple_tenant, renewal, _rsa_key_pool[1])
        issued = IssuedCertificate.objects.get(fingerprint_sha256=fingerprint(cert))
        registration = Registration.objects.get(pk=renewal.registration_id)
        with writes() as written:
            store.complete_renewal(channel, issued, registration, actor="device:X")
        until = channel.previous_certificate_until
        assert until - timezone.now() > dt.timedelta(days=6, hours=23)  # the 7-day default
        assert written.changed == {
            "certificate": {issued.pk: {"device_id": device.pk}},
            "channel": {channel.pk: {"certificate_id": issued.pk,
                                     "previous_certificate_id": previous.pk,
                                     "previous_certificate_until": until}},
            "device": {device.pk: {"identity_expires_at": issued.not_after,
                                   "renewal_retry_at": None}},
            "registration": {registration.pk: {"state": RegistrationState.ENROLLED,
                                               "enrolled_at": NOW}},
            "renewal": {renewal.pk: {"state": RenewalState.COMPLETED,
                                     "new_certificate_id": issued.pk, "ended_at": NOW}},
        }
        assert written.audit == [audit_row(
            apple_tenant, AuditAction.IDENTITY_RENEWED, actor="device:X", target=device,
            device=device, user=jane, detail={
                "renewal_id": renewal.pk, "registration_id": registration.pk,
                "previous_certificate": previous.serial_hex, "certificate": issued.serial_hex,
                "expires_at": issued.not_after.isoformat(),
                "previous_accepted_until": until.isoformat()})]
        assert channel.certificate_id == issued.pk  # the caller's channel is brought along

    # Check-in messages.

    def test_store_authenticate_of_a_new_device(self, store, iphone, apple_tenant, jane):
        issued, registration = issued_of(iphone), iphone.registration
        m = authenticate_message(iphone)
        with writes() as written:
            channel = store.store_authenticate(apple_tenant, m, certificate=issued,
                                               registration=registration, device=None,
                                               actor="device:X")
        device = device_of(iphone)
        assert written.inserted["device"] == [{
            "tenant_id": apple_tenant.pk, "platform": "ios", "state": DeviceState.PENDING,
            "owner_id": None, "udid": iphone.udid, "serial_number": iphone.serial_number,
            "name": "Jane's iPhone", "model": "", "model_name": "",
            "product_name": iphone.product_name, "os_version": iphone.os_version,
            "build_version": "21E219", "imei": "", "meid": "", "device_information": {},
            "enrolled_at": None, "identity_expires_at": issued.not_after,
            "user_enrollment": False,
            "renewal_retry_at": None, "renewal_requested_at": None, "last_seen_at": NOW,
            "created_at": NOW}]
        assert written.inserted["channel"] == [{
            "tenant_id": apple_tenant.pk, "device_id": device.pk, "channel_id": iphone.udid,
            "is_user_channel": False, "user_guid": "", "user_short_name": "",
            "user_long_name": "", "certificate_id": issued.pk,
            "registration_id": registration.pk, "previous_certificate_id": None,
            "previous_certificate_until": None, "topic": iphone.topic, "push_token": None,
            "push_magic": "", "unlock_token_encrypted": None, "bootstrap_token_encrypted": None,
            "enabled": False, "authenticated_at": NOW, "token_updated_at": None,
            "last_seen_at": NOW, "created_at": NOW}]
        assert written.changed == {"certificate": {issued.pk: {"device_id": device.pk}}}
        assert written.audit == [audit_row(
            apple_tenant, AuditAction.DEVICE_AUTHENTICATED, actor="device:X", target=device,
            device=device, user=jane, detail={"registration_id": registration.pk,
                                              "certificate": issued.serial_hex,
                                              "new_certificate": True})]
        assert channel.pk == channel_of(iphone).pk and issued.device == device

    def test_store_authenticate_of_a_known_device(self, store, enrolled, apple_tenant, jane):
        issued, registration = issued_of(enrolled), enrolled.registration
        device, channel = device_of(enrolled), channel_of(enrolled)
        seen_long_ago(enrolled)
        with writes() as written:
            returned = store.store_authenticate(
                apple_tenant, authenticate_message(enrolled), certificate=issued,
                registration=registration, device=store.lock_device(device.pk),
                actor="device:X")
        assert returned.pk == channel.pk
        device.refresh_from_db()
        assert written.changed == {
            "device": {device.pk: {"state": DeviceState.PENDING, "name": "Jane's iPhone",
                                   "last_seen_at": NOW}},
            "channel": {channel.pk: {"enabled": False, "authenticated_at": NOW,
                                     "last_seen_at": NOW}},
        }
        assert written.audit == [audit_row(
            apple_tenant, AuditAction.DEVICE_AUTHENTICATED, actor="device:X", target=device,
            device=device, user=jane, detail={"registration_id": registration.pk,
                                              "certificate": issued.serial_hex,
                                              "new_certificate": False})]

    def test_clear_queue_cancels_what_waits(self, store, enrolled, apple_tenant):
        waiting = pending_command(apple_tenant, enrolled)
        with writes() as written:
            assert store.clear_queue(channel_of(enrolled)) == 1
        assert written.changed == {"command": {waiting.pk: {
            "status": CommandStatus.CANCELLED, "completed_at": NOW}}}
        assert not written.inserted

    def test_disable_every_channel_of_the_device(self, store, mac):
        user_channel = with_user_channel(mac)
        device, channel = device_of(mac), channel_of(mac)
        with writes() as written:
            store.disable(device.pk)
        assert written.changed == {"channel": {channel.pk: {"enabled": False},
                                               user_channel.pk: {"enabled": False}}}

    def test_disable_one_user_channel(self, store, mac):
        user_channel = with_user_channel(mac)
        with writes() as written:
            store.disable(device_of(mac).pk, user_channel.channel_id)
        assert written.changed == {"channel": {user_channel.pk: {"enabled": False}}}

    def test_store_token_update(self, store, iphone):
        assert iphone.authenticate()[0] == 200
        channel = channel_of(iphone)
        with writes() as written:
            store.store_token_update(channel, token_update_message(iphone))
        changed = written.changed["channel"][channel.pk]
        encrypted = changed.pop("unlock_token_encrypted")
        assert changed == {"push_token": b"push-token", "push_magic": "MAGIC", "enabled": True,
                           "token_updated_at": NOW}
        assert decrypt(encrypted, AppleChannel.UNLOCK_TOKEN_PURPOSE) == b"unlock-token"
        assert list(written.changed) == ["channel"] and not written.inserted

    def test_enroll_device_once(self, store, iphone, apple_tenant, jane):
        assert iphone.authenticate()[0] == 200
        device, registration = device_of(iphone), iphone.registration
        with writes() as written:
            assert store.enroll_device(registration, device, actor="device:X")
        assert written.changed["device"] == {device.pk: {
            "state": DeviceState.ACTIVE, "owner_id": jane.pk, "enrolled_at": NOW}}
        assert written.changed["registration"][registration.pk]["state"] == \
            RegistrationState.ENROLLED
        assert [row["action"] for row in written.audit] == [
            AuditAction.REGISTRATION_ENROLLED, AuditAction.DEVICE_REGISTERED]
        with writes() as again:
            assert not store.enroll_device(Registration.objects.get(pk=registration.pk),
                                           device_of(iphone), actor="device:X")
        assert again.nothing

    def test_set_device_state(self, store, enrolled):
        device = device_of(enrolled)
        with writes() as written:
            store.set_device_state(device, DeviceState.PENDING)
        assert written.changed == {"device": {device.pk: {"state": DeviceState.PENDING}}}
        assert not written.inserted

    def test_check_out_device(self, store, enrolled, apple_tenant, jane):
        device = device_of(enrolled)
        with writes() as written:
            store.check_out_device(apple_tenant, device, actor="device:X")
        assert written.changed == {"device": {device.pk: {"state": DeviceState.INACTIVE}}}
        assert written.audit == [audit_row(
            apple_tenant, AuditAction.DEVICE_INACTIVE, actor="device:X", target=device,
            device=device, user=jane, detail={"reason": "checkout"})]

    def test_enqueue_command(self, store, enrolled, apple_tenant):
        device, channel = device_of(enrolled), channel_of(enrolled)
        with writes() as written:
            store.enqueue_command(apple_tenant, device, "ProfileList", channel=channel,
                                  actor="system")
        [command] = written.inserted["command"]
        assert (command["request_type"], command["status"], command["channel_id"],
                command["device_id"], command["created_by_label"], command["sent_at"]) == (
            "ProfileList", CommandStatus.QUEUED, channel.pk, device.pk, "system", None)
        assert [(row["action"], row["detail"]["request_type"]) for row in written.audit] == [
            (AuditAction.COMMAND_QUEUED, "ProfileList")]
        assert not written.changed

    def test_queue_profiles(self, store, enrolled, apple_tenant, jane):
        do_create_profile(apple_tenant, actor="test", name="wifi", identifier="com.acme.wifi",
                          payload_plist=WIFI, scope="device", platforms=["ios"])
        device, channel = device_of(enrolled), channel_of(enrolled)
        with writes() as written:
            store.queue_profiles(apple_tenant, device, channel, jane, ["device"],
                                 actor="system")
        assert [(c["request_type"], c["channel_id"]) for c in written.inserted["command"]] == [
            ("InstallProfile", channel.pk)]
        with writes() as none:
            store.queue_profiles(apple_tenant, device, channel, jane, ["user"], actor="system")
        assert none.nothing

    def test_user_channel_held_by_another(self, store, mac):
        with_user_channel(mac, "USER-1")
        device = device_of(mac)
        assert not store.user_channel_held_by_another(device, "USER-1")
        assert store.user_channel_held_by_another(device, "USER-2")

    def test_store_user_token_update(self, store, mac, apple_tenant, jane):
        enroll(mac)
        device = device_of(mac)
        m = token_update_message(mac, UserID="USER-1", UserShortName="jane",
                                 UserLongName="Jane Doe")
        with writes() as written:
            channel, first = store.store_user_token_update(apple_tenant, device, m,
                                                           actor="device:X")
        assert first and channel.channel_id == f"{mac.udid}:USER-1"
        [row] = written.inserted["channel"]
        assert {k: row[k] for k in ("device_id", "is_user_channel", "user_guid",
                                    "user_short_name", "user_long_name", "push_token",
                                    "push_magic", "enabled", "token_updated_at",
                                    "last_seen_at", "certificate_id")} == {
            "device_id": device.pk, "is_user_channel": True, "user_guid": "USER-1",
            "user_short_name": "jane", "user_long_name": "Jane Doe",
            "push_token": b"push-token", "push_magic": "MAGIC", "enabled": True,
            "token_updated_at": NOW, "last_seen_at": NOW, "certificate_id": None}
        assert written.audit == [audit_row(
            apple_tenant, AuditAction.USER_CHANNEL_ACCEPTED, actor="device:X", target=device,
            device=device, user=jane, detail={"user_id": "USER-1", "user_short_name": "jane"})]
        with writes() as again:
            assert store.store_user_token_update(apple_tenant, device, m,
                                                 actor="device:X") == (channel, False)
        assert not again.inserted and list(again.changed) == ["channel"]

    def test_bootstrap_token_escrowed_read_and_removed(self, store, mac, apple_tenant):
        enroll(mac)
        channel, device = channel_of(mac), device_of(mac)
        assert store.bootstrap_token(channel) is None
        with writes() as written:
            store.store_bootstrap_token(apple_tenant, channel, b"secret", actor="device:X")
        encrypted = written.changed["channel"][channel.pk]["bootstrap_token_encrypted"]
        assert b"secret" not in encrypted
        assert written.audit == [audit_row(
            apple_tenant, AuditAction.BOOTSTRAP_TOKEN_ESCROWED, actor="device:X",
            target=device, device=device, detail={"removed": False})]
        assert store.bootstrap_token(channel_of(mac)) == b"secret"
        with writes() as removed:
            store.store_bootstrap_token(apple_tenant, channel, None, actor="device:X")
        assert removed.changed == {"channel": {channel.pk: {
            "bootstrap_token_encrypted": None}}}
        assert removed.audit[0]["detail"] == {"removed": True}
        assert store.bootstrap_token(channel_of(mac)) is None

    def test_mark_seen_to_the_minute(self, store, enrolled):
        channel, device = channel_of(enrolled), device_of(enrolled)
        long_ago = seen_long_ago(enrolled)
        with writes() as written:
            store.mark_seen(channel.pk, device.pk, channel_seen_at=long_ago,
                            device_seen_at=long_ago)
        assert written.changed == {"channel": {channel.pk: {"last_seen_at": NOW}},
                                   "device": {device.pk: {"last_seen_at": NOW}}}
        just_now = timezone.now()
        with writes() as fresh:
            store.mark_seen(channel.pk, device.pk, channel_seen_at=just_now,
                            device_seen_at=just_now)
        assert fresh.nothing

    # ServerURL.

    def test_report_target(self, store, enrolled, apple_tenant, other_tenant):
        channel, device, issued = channel_of(enrolled), device_of(enrolled), issued_of(enrolled)
        authority = issued.authority
        with writes() as written:
            target = store.report_target(apple_tenant, enrolled.udid)
            assert store.report_target(apple_tenant, "UNKNOWN") is None
            assert store.report_target(other_tenant, enrolled.udid) is None
        assert written.nothing
        assert target == ReportTarget(
            channel.pk, True, False, channel.last_seen_at, device.pk, enrolled.udid,
            DeviceState.ACTIVE, device.last_seen_at, issued.pk, issued.fingerprint_sha256,
            False, issued.not_before, issued.not_after, bytes(authority.certificate_der),
            authority.not_before, authority.not_after)
        assert target.serves_idle(issued.fingerprint_sha256, timezone.now())

    def test_report_target_of_a_user_channel(self, store, mac, apple_tenant):
        user_channel = with_user_channel(mac)
        target = store.report_target(apple_tenant, user_channel.channel_id)
        assert (target.channel_pk, target.is_user_channel, target.device_pk,
                target.certificate_pk, target.certificate_fingerprint,
                target.certificate_revoked, target.authority_certificate_der) == (
            user_channel.pk, True, device_of(mac).pk, None, None, False, None)
        assert not target.serves_idle(fingerprint(mac.cert), timezone.now())

    def test_idle_with_an_empty_queue(self, store, enrolled, apple_tenant):
        channel, device = channel_of(enrolled), device_of(enrolled)
        seen_long_ago(enrolled)
        with writes() as written:
            outcome = store.idle(apple_tenant, enrolled.udid, fingerprint(enrolled.cert))
        assert outcome == IdleOutcome(True, None)
        assert written.changed == {"channel": {channel.pk: {"last_seen_at": NOW}},
                                   "device": {device.pk: {"last_seen_at": NOW}}}
        with writes() as again:  # seen within the minute: nothing to write
            assert store.idle(apple_tenant, enrolled.udid, fingerprint(enrolled.cert)) == \
                IdleOutcome(True, None)
        assert again.nothing

    def test_idle_hands_out_the_oldest_command_once(self, store, enrolled, apple_tenant):
        first = pending_command(apple_tenant, enrolled)
        pending_command(apple_tenant, enrolled, "DeviceInformation")
        with writes() as written:
            outcome = store.idle(apple_tenant, enrolled.udid, fingerprint(enrolled.cert))
        assert outcome == IdleOutcome(True, bytes(first.command_plist))
        assert written.changed == {"command": {first.pk: {"sent_at": NOW,
                                                          "delivered_count": 1}}}
        with writes() as again:  # not answered yet: the same command, nothing written
            assert store.idle(apple_tenant, enrolled.udid, fingerprint(enrolled.cert)) == \
                outcome
        assert again.nothing

    def test_idle_after_not_now_counts_the_delivery_again(self, store, enrolled,
                                                          apple_tenant):
        command = pending_command(apple_tenant, enrolled)
        Command.objects.filter(pk=command.pk).update(status=CommandStatus.NOT_NOW,
                                                     sent_at=timezone.now(),
                                                     delivered_count=1)
        with writes() as written:
            outcome = store.idle(apple_tenant, enrolled.udid, fingerprint(enrolled.cert))
        assert outcome == IdleOutcome(True, bytes(command.command_plist))
        assert written.changed == {"command": {command.pk: {
            "status": CommandStatus.QUEUED, "delivered_count": 2, "sent_at": NOW}}}

    @pytest.mark.parametrize("change", [
        "another_certificate", "revoked", "certificate_expired", "certificate_not_yet_valid",
        "authority_expired", "channel_disabled", "device_retired", "device_wiped",
        "unknown_channel", "user_channel",
    ])
    def test_idle_refused_writes_nothing(self, store, mac, apple_tenant, jane, change):
        user_channel = with_user_channel(mac)
        pending_command(apple_tenant, mac)
        seen_long_ago(mac)
        channel_id, presented = mac.udid, fingerprint(mac.cert)
        issued = issued_of(mac)
        now = timezone.now()
        if change == "another_certificate":
            presented = fingerprint(issue_identity(apple_tenant, jane)[1])
        elif change == "revoked":
            IssuedCertificate.objects.filter(pk=issued.pk).update(revoked_at=now)
        elif change == "certificate_expired":
            IssuedCertificate.objects.filter(pk=issued.pk).update(not_after=now)
        elif change == "certificate_not_yet_valid":
            IssuedCertificate.objects.filter(pk=issued.pk).update(
                not_before=now + dt.timedelta(hours=1))
        elif change == "authority_expired":
            CertificateAuthority.objects.filter(pk=issued.authority_id).update(
                not_after=now - dt.timedelta(seconds=1))
        elif change == "channel_disabled":
            AppleChannel.objects.filter(pk=channel_of(mac).pk).update(enabled=False)
        elif change in ("device_retired", "device_wiped"):
            Device.objects.filter(udid=mac.udid).update(state=change.split("_")[1])
        elif change == "unknown_channel":
            channel_id = "UNKNOWN"
        elif change == "user_channel":
            channel_id = user_channel.channel_id  # no certificate is bound to a user channel
        with writes() as written:
            outcome = store.idle(apple_tenant, channel_id, presented)
        assert outcome == IdleOutcome(False, None)
        assert written.nothing
        target = store.report_target(apple_tenant, channel_id)
        assert target is None or not target.serves_idle(presented, timezone.now())

    def test_store_command_report(self, store, enrolled, apple_tenant):
        command = pending_command(apple_tenant, enrolled)
        store.next_command(channel_of(enrolled).pk, skip_not_now=False)  # delivered
        body = plistlib.dumps({"UDID": enrolled.udid, "Status": "Acknowledged",
                               "CommandUUID": command.command_uuid, "ProfileList": []})
        report = msg.decode_command_report(body)
        with writes() as written:
            store.store_command_report(apple_tenant, channel_of(enrolled).pk, report, body)
        assert written.changed == {"command": {command.pk: {
            "status": CommandStatus.ACKNOWLEDGED, "result_plist": body,
            "result": {"UDID": enrolled.udid, "Status": "Acknowledged",
                       "CommandUUID": command.command_uuid, "ProfileList": []},
            "completed_at": NOW}}}
        with writes() as unknown:
            store.store_command_report(apple_tenant, channel_of(enrolled).pk,
                                       report_message(enrolled, "Acknowledged", "NOT-OURS"),
                                       b"")
        assert unknown.nothing

    def test_next_command(self, store, enrolled, apple_tenant):
        channel = channel_of(enrolled)
        assert store.next_command(channel.pk, skip_not_now=False) is None
        not_now = pending_command(apple_tenant, enrolled)
        Command.objects.filter(pk=not_now.pk).update(status=CommandStatus.NOT_NOW,
                                                     sent_at=timezone.now(),
                                                     delivered_count=1)
        queued = pending_command(apple_tenant, enrolled, "DeviceInformation")
        with writes() as written:  # right after NotNow: NotNow commands wait
            assert store.next_command(channel.pk, skip_not_now=True) == \
                bytes(queued.command_plist)
        assert written.changed == {"command": {queued.pk: {"sent_at": NOW,
                                                           "delivered_count": 1}}}
        with writes() as written:  # otherwise the oldest, counted again after NotNow
            assert store.next_command(channel.pk, skip_not_now=False) == \
                bytes(not_now.command_plist)
        assert written.changed == {"command": {not_now.pk: {
            "status": CommandStatus.QUEUED, "sent_at": NOW, "delivered_count": 2}}}

    # The service over the store, end to end.

    def test_a_conversation_through_the_service(self, store, iphone, apple_tenant, jane):
        def send(serve, message: dict) -> tuple[int, bytes]:
            body = plistlib.dumps(message)
            reply = serve(apple_tenant, body, store=store, forwarded_certificate=None,
                          signature=mdm_signature(iphone.key, iphone.cert, body))
            return reply.status, reply.body

        def checkin(message_type: str, **keys) -> tuple[int, bytes]:
            return send(serve_checkin, iphone.checkin_message(message_type, **keys))

        def report(status: str, command_uuid: str | None = None) -> tuple[int, bytes]:
            message = {"UDID": iphone.udid, "Status": status}
            if command_uuid:
                message["CommandUUID"] = command_uuid
            return send(serve_report, message)

        assert checkin("Authenticate", SerialNumber="C02TEST")[0] == 200
        assert checkin("TokenUpdate", Token=b"t", PushMagic="m")[0] == 200
        device = device_of(iphone)
        assert (device.state, device.owner) == (DeviceState.ACTIVE, jane)
        uuid = parse_command(report("Idle")[1])["CommandUUID"]
        assert report("NotNow", uuid) == (200, b"")
        assert parse_command(report("Idle")[1])["CommandUUID"] == uuid
        assert report("Acknowledged", uuid) == (200, b"")
        assert report("Idle") == (200, b"")
        assert Command.objects.get(command_uuid=uuid).delivered_count == 2
        assert checkin("DeclarativeManagement", Endpoint="tokens")[0] == 400
        assert checkin("CheckOut")[0] == 200
        assert report("Idle")[0] == 400  # checked out: the channel is disabled
        assert device_of(iphone).state == DeviceState.INACTIVE
        events = [(action, device_id, detail.get("reason")) for action, device_id, detail in
                  AuditEvent.objects.filter(tenant=apple_tenant, created_at__gte=device.created_at)
                  .order_by("id").values_list("action", "device_id", "detail")]
        assert events == [
            (AuditAction.DEVICE_AUTHENTICATED, device.pk, None),
            (AuditAction.REGISTRATION_ENROLLED, device.pk, None),
            (AuditAction.DEVICE_REGISTERED, device.pk, None),
            (AuditAction.COMMAND_QUEUED, device.pk, None),
            (AuditAction.DEVICE_CHECKIN_REJECTED, device.pk, "unsupported_message_type"),
            (AuditAction.DEVICE_INACTIVE, device.pk, "checkout"),
            # The channel's own certificate, on a disabled channel: the certificate was not
            # looked up, so the event names no device (as before the store existed).
            (AuditAction.DEVICE_CHECKIN_REJECTED, None, "channel_not_enrolled"),
        ]


def test_the_contract_covers_every_store_method():
    cases = inspect.getsource(TestCheckinStoreContract)
    methods = [name for name in vars(CheckinStore) if not name.startswith("_")]
    assert len(methods) > 20
    assert [name for name in methods if f"store.{name}(" not in cases] == []


def test_the_endpoints_use_the_fast_path_on_postgresql():
    expected = PostgresCheckinStore if connection.vendor == "postgresql" else OrmCheckinStore
    assert type(checkin_store()) is expected
