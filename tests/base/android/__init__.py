"""Android fixtures: a fake Google (checked against the discovery document), a tenant with a
saved service account, and one with a bound enterprise."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.utils import timezone
from googleapiclient.discovery import build

from enrollment.android import amapi
from enrollment.android.binding import do_save_android_settings
from enrollment.models import AndroidEnterprise
from tests.base.android.fake_google import CheckedHttp

ENTERPRISE = "enterprises/LC0acme"
OTHER_ENTERPRISE = "enterprises/LC0globex"


@pytest.fixture(scope="session")
def service_account_info() -> dict:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return {"type": "service_account", "project_id": "mdm-test", "private_key_id": "k1",
            "private_key": pem, "client_email": "mdm@mdm-test.iam.gserviceaccount.com",
            "client_id": "1", "token_uri": "https://oauth2.googleapis.com/token"}


class FakeGoogle:
    """Queue Google's answers; every client the server builds talks to this one http."""

    def __init__(self):
        self.http = CheckedHttp([])
        self.pauses: list[float] = []
        self.builds = 0

    def queue(self, *responses) -> FakeGoogle:
        self.http._iterable.extend(responses)
        return self

    @property
    def requests(self):
        return self.http.requests

    @property
    def pending(self) -> int:
        return len(self.http._iterable)

    def build_service(self, *, credentials=None, http=None):
        # The server always passes the stored service account's credentials; the test swaps
        # the transport for the checked mock (the library refuses both at once).
        assert credentials is not None and credentials.service_account_email
        self.builds += 1
        return build("androidmanagement", "v1", http=self.http, static_discovery=True,
                     cache_discovery=False)


@pytest.fixture
def google(monkeypatch) -> FakeGoogle:
    fake = FakeGoogle()
    monkeypatch.setattr(amapi, "build_service", fake.build_service)
    monkeypatch.setattr(amapi, "pause_between_attempts", fake.pauses.append)
    return fake


@pytest.fixture
def https_public_url(settings):
    settings.MDM_PUBLIC_URL = "https://mdm.example.test"
    return settings.MDM_PUBLIC_URL


def configure(tenant, admin, info, **kwargs) -> AndroidEnterprise:
    return do_save_android_settings(tenant, actor=admin, project_id="mdm-test",
                                    service_account=info,
                                    pubsub_topic=kwargs.pop("pubsub_topic",
                                                            "projects/mdm-test/topics/amapi"),
                                    **kwargs)


def bind(enterprise: AndroidEnterprise, name: str) -> AndroidEnterprise:
    enterprise.enterprise_name = name
    enterprise.default_policy_name = f"{name}/policies/default"
    enterprise.company_policy_name = f"{name}/policies/company-owned"
    enterprise.bound_at = timezone.now()
    enterprise.enabled_notification_types = ["ENROLLMENT", "STATUS_REPORT", "COMMAND"]
    enterprise.save()
    return enterprise


@pytest.fixture
def configured(tenant, admin, service_account_info) -> AndroidEnterprise:
    return configure(tenant, admin, service_account_info)


@pytest.fixture
def enterprise(configured) -> AndroidEnterprise:
    return bind(configured, ENTERPRISE)


@pytest.fixture
def other_enterprise(other_tenant, other_admin, service_account_info) -> AndroidEnterprise:
    return bind(configure(other_tenant, other_admin, service_account_info), OTHER_ENTERPRISE)
