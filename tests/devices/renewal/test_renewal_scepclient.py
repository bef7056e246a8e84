"""A device enrolled 320 days ago renews its identity through Debian's `scepclient` (issue
16), over HTTP against the live server: the clock is moved back for the enrollment (tenant,
CA and the device's first identity are made then), so that today the identity is due and
the real SCEP client runs on the real clock. Then, 80 days on, the first identity has
expired and the device still checks in with the renewed one.

`scepclient` is a required peer (Debian package `scep`): a missing binary fails the test.
"""

from __future__ import annotations

import copy
import datetime as dt

import pytest
import time_machine
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.utils import timezone

from devices.models import Device, IdentityRenewal, RenewalState
from devices.services.renewals import scan_tenant
from devices.simulator.enroll_apple import profile_contents
from enrollment.models import IssuedCertificate
from pki.authority import fingerprint
from tests.base.apple.devices import issue_identity, ready_tenant
from tests.base.apple.simulator import SimulatedDevice, parse_command, shared_key
from tests.conftest import make_tenant
from tests.enrollment.apple.test_end_to_end import http_transport, scep_enroll
from users.models import User

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_device_renews_its_identity_with_scepclient(scepclient, live_server, settings,
                                                      tmp_path):
    settings.MDM_PUBLIC_URL = live_server.url
    today = timezone.now()
    with time_machine.travel(today - dt.timedelta(days=320), tick=True):
        tenant, admin = make_tenant("acme")
        ready_tenant(tenant, admin)
        jane = User.objects.create_user(tenant, "jane@acme.test")
        _, cert = issue_identity(tenant, jane)
        device = SimulatedDevice("acme", http_transport(live_server.url), shared_key(), cert)
        assert device.authenticate()[0] == 200 and device.token_update()[0] == 200
        device.device_information(parse_command(device.idle()[1])["CommandUUID"])
        assert device.idle() == (200, b"")

    # Today: the identity expires in 45 days, inside the 60-day window.
    assert scan_tenant(tenant)["queued"] == 1
    status, body = device.idle()
    command = parse_command(body)
    assert (status, command["Command"]["RequestType"]) == (200, "InstallProfile")
    profile = profile_contents(command["Command"]["Payload"])
    scep = next(p for p in profile["PayloadContent"]
                if p["PayloadType"] == "com.apple.security.scep")["PayloadContent"]
    assert scep["URL"].startswith(live_server.url)

    key_path, cert_path = scep_enroll(scepclient, scep, tmp_path / "renewed")
    old = copy.copy(device)
    device.cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    device.key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    assert device.authenticate() == (200, b"")
    assert device.token_update() == (200, b"")
    assert device.report("Acknowledged", command["CommandUUID"]) == (200, b"")
    assert device.idle() == (200, b"")
    renewal = IdentityRenewal.objects.get(device__udid=device.udid)
    new = IssuedCertificate.objects.get(fingerprint_sha256=fingerprint(device.cert))
    assert (renewal.state, renewal.new_certificate_id) == (RenewalState.COMPLETED, new.pk)
    assert new.not_after > today + dt.timedelta(days=360)
    assert old.idle() == (200, b"")  # the grace period

    # 80 days on: the first identity expired 35 days ago; the device is still managed.
    with time_machine.travel(today + dt.timedelta(days=80), tick=True):
        assert device.idle() == (200, b"")
        assert old.idle()[0] == 400
        assert Device.objects.get(udid=device.udid).state == "active"
