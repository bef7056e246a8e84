"""Bad input at the check-in and ServerURL endpoints: 400 (never 401), audited, nothing
stored; retired or wiped devices get Apple's 403."""

from __future__ import annotations

import plistlib
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from audit.events import AuditAction
from audit.models import AuditEvent
from devices.models import AppleChannel, Command, Device, DeviceState
from devices.services.lifecycle import do_retire_device
from enrollment.models import IssuedCertificate
from enrollment.services.authorities import active_authority, key_pair
from enrollment.services.certificates import do_revoke_certificate
from pki.issuance import issue_certificate
from tests.base.apple.devices import ready_tenant, simulated_device
from tests.base.apple.simulator import SimulatedDevice, mdm_signature, shared_key
from tests.base.scep.client import make_csr, make_signer
from tests.devices.conftest import enroll

pytestmark = pytest.mark.django_db


def stored() -> tuple[int, int, int]:
    return Device.objects.count(), AppleChannel.objects.count(), Command.objects.count()


def rejected(action=AuditAction.DEVICE_CHECKIN_REJECTED) -> list[dict]:
    return list(AuditEvent.objects.filter(action=action).values_list("detail", flat=True))


@pytest.mark.parametrize("body", [
    b"", b"not a plist", b"<?xml version='1.0'?><plist><dict><key>UDID</key>",
    plistlib.dumps(["a", "list"]),
    plistlib.dumps({"MessageType": 42, "UDID": "X", "Topic": "t"}),
])
def test_malformed_plist(iphone, body):
    before = stored()
    status, _ = iphone.send(iphone.checkin_path, body)
    assert status == 400
    assert stored() == before
    assert rejected()[-1]["reason"] in {"malformed", "missing_key"}


@pytest.mark.parametrize("drop", ["UDID", "Topic", "MessageType"])
def test_missing_keys(iphone, drop):
    message = iphone.checkin_message("Authenticate", SerialNumber="X")
    del message[drop]
    assert iphone.send(iphone.checkin_path, message)[0] == 400
    assert stored() == (0, 0, 0)
    assert rejected()[-1]["reason"] == "missing_key"


def test_token_update_missing_token(iphone):
    assert iphone.authenticate()[0] == 200
    message = iphone.checkin_message("TokenUpdate", PushMagic="x")
    assert iphone.send(iphone.checkin_path, message)[0] == 400
    assert Device.objects.get().state == DeviceState.PENDING
    assert not AppleChannel.objects.filter(enabled=True).exists()


def test_unknown_message_type(iphone):
    assert iphone.checkin("Bogus")[0] == 400
    assert stored() == (0, 0, 0)
    assert rejected()[-1]["reason"] == "unknown_message_type"


def test_unsigned_request(iphone):
    body = plistlib.dumps(iphone.checkin_message("Authenticate"))
    assert iphone.send(iphone.checkin_path, body, sign=False)[0] == 400
    assert stored() == (0, 0, 0)
    assert rejected(AuditAction.DEVICE_IDENTITY_REJECTED)[-1]["reason"] == "malformed"


def test_signature_over_another_body(iphone):
    body = plistlib.dumps(iphone.checkin_message("Authenticate"))
    signature = mdm_signature(iphone.key, iphone.cert, body + b" ")
    status, _ = iphone.transport(iphone.checkin_path, body, {"Mdm-Signature": signature})
    assert status == 400
    assert stored() == (0, 0, 0)
    assert rejected(AuditAction.DEVICE_IDENTITY_REJECTED)[-1]["reason"] == "bad_signature"


def test_garbage_signature(iphone):
    body = plistlib.dumps(iphone.checkin_message("Authenticate"))
    assert iphone.transport(iphone.checkin_path, body, {"Mdm-Signature": "%%%"})[0] == 400
    assert stored() == (0, 0, 0)


def test_self_signed_identity(iphone):
    stranger = make_signer("stranger", key=shared_key())
    iphone.cert = stranger.cert
    assert iphone.authenticate()[0] == 400
    assert stored() == (0, 0, 0)
    assert rejected(AuditAction.DEVICE_IDENTITY_REJECTED)[-1]["reason"] == "not_issued_by_ca"


def test_certificate_of_another_tenant(iphone, other_tenant, other_admin):
    from users.models import User

    ready_tenant(other_tenant, other_admin)
    bob = User.objects.create_user(other_tenant, "bob@globex.test")
    foreign = simulated_device(other_tenant, bob)
    iphone.cert = foreign.cert  # globex's identity, sent to acme
    assert iphone.authenticate()[0] == 400
    assert stored() == (0, 0, 0)
    assert rejected(AuditAction.DEVICE_IDENTITY_REJECTED)[-1]["reason"] == "not_issued_by_ca"


def test_certificate_signed_by_our_ca_but_never_issued(iphone, apple_tenant):
    ca = key_pair(active_authority(apple_tenant))
    forged = issue_certificate(make_csr(shared_key(), "forged"), ca, serial=12345,
                               validity_days=30)
    iphone.cert = forged
    assert iphone.authenticate()[0] == 400
    assert rejected(AuditAction.DEVICE_IDENTITY_REJECTED)[-1]["reason"] == \
        "unknown_certificate"
    assert stored() == (0, 0, 0)


def test_revoked_certificate(iphone, apple_tenant):
    fingerprint = iphone.cert.fingerprint(hashes.SHA256()).hex()
    do_revoke_certificate(apple_tenant, IssuedCertificate.objects.get(
        fingerprint_sha256=fingerprint), actor="test")
    assert iphone.authenticate()[0] == 400
    assert rejected(AuditAction.DEVICE_IDENTITY_REJECTED)[-1]["reason"] == "revoked"
    assert stored() == (0, 0, 0)


def test_replayed_authenticate_with_another_udids_certificate(iphone):
    enroll(iphone)
    before = stored()
    thief = SimulatedDevice(iphone.tenant_slug, iphone.transport, iphone.key, iphone.cert)
    assert thief.authenticate()[0] == 400
    assert thief.token_update()[0] == 400
    assert thief.idle()[0] == 400
    assert stored() == before
    assert not Device.objects.filter(udid=thief.udid).exists()
    assert rejected()[-1]["reason"] == "certificate_bound_to_another_device" or \
        rejected()[-1]["reason"] == "certificate_not_bound_to_this_device"
    assert Device.objects.get(udid=iphone.udid).state == DeviceState.ACTIVE


def test_another_enrolled_devices_certificate_cannot_speak_for_it(iphone, apple_tenant, jane):
    enroll(iphone)
    other = simulated_device(apple_tenant, jane)
    enroll(other)
    impostor = SimulatedDevice(iphone.tenant_slug, iphone.transport, other.key, other.cert,
                               udid=iphone.udid)
    assert impostor.checkout()[0] == 400
    assert impostor.idle()[0] == 400
    assert Device.objects.get(udid=iphone.udid).state == DeviceState.ACTIVE


def test_token_update_before_authenticate(iphone):
    assert iphone.token_update()[0] == 400
    assert stored() == (0, 0, 0)
    assert rejected()[-1]["reason"] == "not_authenticated"


def test_get_is_not_allowed(client, iphone):
    assert client.get(iphone.checkin_path).status_code == 405


@pytest.mark.parametrize("state", [DeviceState.RETIRED, DeviceState.WIPED])
def test_retired_or_wiped_device_gets_apples_403(iphone, apple_tenant, admin, state):
    enroll(iphone)
    device = Device.objects.get(udid=iphone.udid)
    if state == DeviceState.RETIRED:
        do_retire_device(apple_tenant, device, actor=admin)
    else:
        Device.objects.filter(pk=device.pk).update(state=state)
    for status, body in (iphone.idle(), iphone.token_update(), iphone.authenticate()):
        assert status == 403
        assert plistlib.loads(body)["code"] == "com.apple.unrecognized.device"
    assert AuditEvent.objects.filter(action=AuditAction.DEVICE_UNRECOGNIZED).count() == 3
    assert Device.objects.get(pk=device.pk).state == state


def test_forwarded_client_certificate_header(iphone, monkeypatch):
    body = plistlib.dumps(iphone.authenticate.__self__.checkin_message(
        "Authenticate", SerialNumber="S"))
    pem = iphone.cert.public_bytes(Encoding.PEM).decode()
    # Not configured: the header is ignored.
    assert iphone.transport(iphone.checkin_path, body, {"X-Client-Cert": quote(pem)})[0] == 400
    monkeypatch.setenv("MDM_CLIENT_CERT_HEADER", "X-Client-Cert")
    assert iphone.transport(iphone.checkin_path, body, {"X-Client-Cert": quote(pem)})[0] == 200
    assert Device.objects.filter(udid=iphone.udid).exists()
