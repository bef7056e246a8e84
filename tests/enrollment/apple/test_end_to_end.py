"""End to end, in one test: a registration created through the API, its signed enrollment
profile downloaded over HTTP, verified with `openssl cms -verify`, SCEP enrollment by Debian's
`scepclient` with the profile's URL and challenge, then a simulated device signing
Authenticate, TokenUpdate, Idle and the DeviceInformation result with that identity. The
device ends Active, filled in.

`scepclient` is a required peer (Debian package `scep`, installed by .ci/run): a missing
binary fails the test, it is never skipped.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from devices.models import AppleChannel, Command, CommandStatus, Device, DeviceState
from enrollment.models import IssuedCertificate, Registration, RegistrationState
from enrollment.services.authorities import active_authority
from tests.base.apple.devices import ready_tenant
from tests.base.apple.simulator import SimulatedDevice, parse_command
from tests.enrollment.apple.signed_profiles import loads, payload
from users.models import User

pytestmark = pytest.mark.django_db(transaction=True)


def http_transport(base_url: str):
    def transport(path: str, body: bytes, headers: dict) -> tuple[int, bytes]:
        request = urllib.request.Request(base_url + path, data=body, method="PUT", headers={
            "Content-Type": "application/x-apple-aspen-mdm-checkin", **headers})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    return transport


def scep_enroll(scepclient, scep: dict, folder: Path) -> tuple[Path, Path]:
    """Run Debian's scepclient with the profile's SCEP settings; (key, certificate) paths."""
    subject = {name: value for [[name, value]] in scep["Subject"]}
    result = scepclient(scep["URL"], folder, scep["Challenge"], cn=subject["CN"],
                        organization=subject["O"], timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return folder / "key.pem", folder / "cert.pem"


def test_apple_enrollment_end_to_end(scepclient, openssl_verify, live_server, settings, tenant,
                                     admin, api, tmp_path):
    settings.MDM_PUBLIC_URL = live_server.url
    ready_tenant(tenant, admin)
    jane = User.objects.create_user(tenant, "jane@acme.test")

    # 1. A registration through the API, with its one-time profile URL.
    created = api.post("/api/v1/registrations/", {"user": jane.pk, "platform": "ios"},
                       format="json")
    assert created.status_code == 201, created.json()
    url = created.json()["profile_url"]
    assert url.startswith(live_server.url + "/t/acme/enroll/apple/")
    started = Registration.objects.get(pk=created.json()["id"])

    # 2. Download it over HTTP, once; verify the signature against the tenant CA.
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.headers["Content-Type"] == "application/x-apple-aspen-config"
        signed = response.read()
    with pytest.raises(urllib.error.HTTPError) as again:
        urllib.request.urlopen(url, timeout=30)
    assert again.value.code == 410
    ca_der = bytes(active_authority(tenant).certificate_der)
    profile = loads(openssl_verify(signed, ca_der, tmp_path))
    scep = payload(profile, "com.apple.security.scep")["PayloadContent"]
    mdm = payload(profile, "com.apple.mdm")

    # 3. SCEP enrollment with Debian's scepclient, using the profile's URL and challenge.
    key_path, cert_path = scep_enroll(scepclient, scep, tmp_path / "device")
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    cert.verify_directly_issued_by(x509.load_der_x509_certificate(ca_der))
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    registration = Registration.objects.get(pk=started.pk)
    assert registration.state == RegistrationState.CERTIFICATE_ISSUED

    # 4. The device speaks MDM with that identity (Mdm-Signature) to the profile's URLs.
    base = live_server.url
    device = SimulatedDevice("acme", http_transport(base), key, cert, topic=mdm["Topic"])
    assert device.checkin_path == mdm["CheckInURL"].removeprefix(base)
    assert device.server_path == mdm["ServerURL"].removeprefix(base)
    assert device.authenticate() == (200, b"")
    assert Device.objects.get(udid=device.udid).state == DeviceState.PENDING
    assert device.token_update() == (200, b"")
    status, body = device.idle()
    assert status == 200
    command = parse_command(body)
    assert command["Command"]["RequestType"] == "DeviceInformation"
    assert device.device_information(command["CommandUUID"]) == (200, b"")

    enrolled = Device.objects.get(udid=device.udid)
    assert enrolled.state == DeviceState.ACTIVE
    assert enrolled.owner == jane and enrolled.enrolled_at is not None
    assert (enrolled.serial_number, enrolled.name, enrolled.model_name, enrolled.os_version) \
        == (device.serial_number, "Test iPhone", "iPhone", "17.4")
    assert Command.objects.get(command_uuid=command["CommandUUID"]).status == \
        CommandStatus.ACKNOWLEDGED
    registration.refresh_from_db()
    assert registration.state == RegistrationState.ENROLLED and registration.device == enrolled
    issued = IssuedCertificate.objects.get(device=enrolled)
    assert AppleChannel.objects.get(device=enrolled).certificate == issued
    assert issued.common_name == f"acme registration {registration.pk}"
