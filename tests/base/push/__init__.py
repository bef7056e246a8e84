"""The push rig (a fixture plugin, see tests/conftest.py): the test PKI, the loopback APNs
(HTTP/2 + TLS) and FCM servers, settings pointing at them, and the data factories of the
push, reminder and sweep tests."""

from __future__ import annotations

import datetime as dt
import secrets
import tempfile
import uuid

import pytest
from cryptography.hazmat.primitives import serialization
from django.utils import timezone

from devices.models import AppleChannel, Device
from devices.push import credentials as push_credentials
from devices.push.credentials import do_save_app_push_credentials, do_upload_apns_certificate
from enrollment.models import AppSession, Registration, RegistrationMethod, RegistrationState
from tests.base.push.apns_server import ApnsTestServer
from tests.base.push.fcm_server import FcmTestServer
from tests.base.push.pki import TOPIC, TestPki, make_pki


@pytest.fixture(scope="session")
def pki() -> TestPki:
    return make_pki(tempfile.mkdtemp(prefix="mdm-push-pki-"))


@pytest.fixture
def apns_server(pki):
    server = ApnsTestServer(str(pki.ca_file), str(pki.server_cert_file),
                            str(pki.server_key_file), jwt_key=pki.app_public_key).start()
    yield server
    server.stop()


@pytest.fixture
def fcm_server(pki):
    key = serialization.load_pem_private_key(pki.service_account_key_pem, None)
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    server = FcmTestServer(public).start()
    yield server
    server.stop()


@pytest.fixture
def push_settings(settings, apns_server, fcm_server, pki):
    settings.MDM_APNS_URL = apns_server.url
    settings.MDM_APNS_CA_FILE = str(pki.ca_file)
    settings.MDM_FCM_URL = fcm_server.url
    settings.MDM_PUSH_BACKOFF_MS = 1
    settings.MDM_PUSH_MAX_RETRIES = 2
    yield settings
    push_credentials.close_clients()


@pytest.fixture
def apns_ready(tenant, admin, pki, push_settings):
    """acme has the MDM push certificate."""
    return do_upload_apns_certificate(tenant, pki.push_p12, password="secret", actor=admin)


@pytest.fixture
def app_push_ready(tenant, admin, pki, push_settings, fcm_server):
    return do_save_app_push_credentials(
        tenant, actor=admin, apns_key_id="KEY1234567", apns_team_id="TEAM123456",
        apns_bundle_id="com.example.agent", apns_key_pem=pki.app_key_pem,
        fcm_service_account=pki.service_account(fcm_server.token_uri))


def make_devices(tenant, count: int, *, topic: str = TOPIC) -> list[AppleChannel]:
    devices = Device.objects.bulk_create([
        Device(tenant=tenant, platform="ios", state="active", udid=str(uuid.uuid4()).upper())
        for _ in range(count)])
    return AppleChannel.objects.bulk_create([
        AppleChannel(tenant=tenant, device=device, channel_id=device.udid, topic=topic,
                     push_token=secrets.token_bytes(32), push_magic=str(uuid.uuid4()).upper(),
                     enabled=True)
        for device in devices])


def make_registrations(tenant, user, count: int, *, state=RegistrationState.PROFILE_DOWNLOADED,
                       downloaded_ago: dt.timedelta | None = dt.timedelta(hours=5),
                       expires_in: dt.timedelta = dt.timedelta(days=2),
                       method=RegistrationMethod.INVITATION, platform="ios"
                       ) -> list[Registration]:
    now = timezone.now()
    return Registration.objects.bulk_create([
        Registration(tenant=tenant, user=user, platform=platform, method=method, state=state,
                     expires_at=now + expires_in,
                     profile_downloaded_at=now - downloaded_ago if downloaded_ago else None)
        for _ in range(count)], batch_size=2000)


def app_session(tenant, user, registration, *, service: str, token: str) -> AppSession:
    return AppSession.objects.create(
        tenant=tenant, user=user, token_hash=secrets.token_hex(32),
        platform="ios" if service == "apns" else "android", registration=registration,
        push_token=token, push_service=service, push_token_updated_at=timezone.now())


