"""Enrollment tokens: one per Android registration, with policy, duration, oneTimeOnly,
allowPersonalUsage by ownership and additionalData; value and qrCode stored at creation and
shown by the API, the app API and the self-service page; revoked when the registration ends."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from enrollment.android import tasks
from enrollment.models import AndroidEnrollmentToken, RegistrationMethod, RegistrationState
from enrollment.services.registration_journey import start_registration
from enrollment.services.registrations import do_cancel_registration
from tests.base.android import ENTERPRISE
from tests.base.android.fake_google import check_request, error, ok
from tests.conftest import PASSWORD
from users.models import User

pytestmark = pytest.mark.django_db

QR = json.dumps({"android.app.extra.PROVISIONING_DEVICE_ADMIN_COMPONENT_NAME":
                 "com.google.android.apps.work.clouddpc/.receivers.CloudDeviceAdminReceiver",
                 "android.app.extra.PROVISIONING_ADMIN_EXTRAS_BUNDLE":
                     {"com.google.android.apps.work.clouddpc.EXTRA_ENROLLMENT_TOKEN": "TOKVAL"}})


def token_answer(n: int = 1, policy: str = "default") -> tuple:
    return ok({"name": f"{ENTERPRISE}/enrollmentTokens/t{n}", "value": f"TOKVAL{n}",
               "qrCode": QR, "policyName": f"{ENTERPRISE}/policies/{policy}",
               "oneTimeOnly": True, "additionalData": "x"})


@pytest.fixture
def alice(tenant):
    return User.objects.create_user(tenant, "alice@acme.test", PASSWORD)


def test_start_registration_creates_a_work_profile_token(google, enterprise, tenant, admin,
                                                         alice):
    google.queue(token_answer())
    result = start_registration(tenant, alice, "android", RegistrationMethod.API, actor=admin)
    assert result.android_enrollment_token == "TOKVAL1"
    assert result.android_qr_payload == QR
    request = google.requests[-1]
    assert request.method_id == "enterprises.enrollmentTokens.create"
    assert request.path_params["parent"] == ENTERPRISE
    body = request.body
    assert body["policyName"] == f"{ENTERPRISE}/policies/default"
    assert body["oneTimeOnly"] is True
    assert body["allowPersonalUsage"] == "PERSONAL_USAGE_ALLOWED"
    assert body["additionalData"] == f"registration:{result.registration.pk}"
    seconds = int(body["duration"].rstrip("s"))
    window = (result.registration.expires_at - timezone.now()).total_seconds()
    assert window - 5 <= seconds <= window + 1
    stored = AndroidEnrollmentToken.objects.get(registration=result.registration)
    assert stored.value == "TOKVAL1" and stored.qr_code == QR
    assert b"TOKVAL1" not in bytes(stored.secret_encrypted)  # encrypted at rest
    assert AuditEvent.objects.filter(tenant=tenant, action="android.token_created").exists()


def test_fully_managed_token_uses_the_company_policy(google, enterprise, tenant, admin, alice):
    enterprise.default_ownership = "fully_managed"
    enterprise.save()
    google.queue(token_answer(policy="company-owned"))
    start_registration(tenant, alice, "android", RegistrationMethod.API, actor=admin)
    body = google.requests[-1].body
    assert body["policyName"] == f"{ENTERPRISE}/policies/company-owned"
    assert body["allowPersonalUsage"] == "PERSONAL_USAGE_DISALLOWED"


def test_no_token_without_a_bound_enterprise(google, tenant, admin, alice):
    result = start_registration(tenant, alice, "android", RegistrationMethod.API, actor=admin)
    assert result.android_enrollment_token is None and google.requests == []


def test_google_failure_leaves_the_registration_without_a_token(google, enterprise, tenant,
                                                                admin, alice):
    google.queue(error(400, "Invalid policy name"))
    result = start_registration(tenant, alice, "android", RegistrationMethod.API, actor=admin)
    assert result.android_enrollment_token is None
    assert result.registration.state == RegistrationState.STARTED


def test_registration_api_returns_the_token_and_qr(google, enterprise, api, alice):
    google.queue(token_answer())
    response = api.post("/api/v1/registrations/", {"user": alice.pk, "platform": "android"},
                        format="json")
    assert response.status_code == 201, response.content
    assert response.json()["android_enrollment_token"] == "TOKVAL1"
    assert response.json()["android_qr_payload"] == QR


def test_app_registration_returns_the_token(google, enterprise, client, alice):
    google.queue(token_answer())
    response = client.post("/t/acme/app/v1/register", {
        "platform": "android", "os_version": "14", "email": "alice@acme.test",
        "password": PASSWORD}, content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["android_enrollment_token"] == "TOKVAL1"


def test_self_service_page_shows_the_qr_or_the_work_profile_link(google, enterprise, client,
                                                                 tenant, alice):
    client.force_login(alice, backend="users.auth.TenantEmailBackend")
    google.queue(token_answer())
    response = client.post("/t/acme/portal/register/", {"platform": "android"})
    assert response.status_code == 302, response.content
    page = client.get(response["Location"]).content.decode()
    assert "https://enterprise.google.com/android/enroll?et=TOKVAL1" in page
    assert "<svg" in page

    enterprise.default_ownership = "fully_managed"
    enterprise.save()
    google.queue(token_answer(2, "company-owned"))
    response = client.post("/t/acme/portal/register/", {"platform": "android"})
    page = client.get(response["Location"]).content.decode()
    assert "tap the welcome screen six times" in page and "<svg" in page
    assert "enterprise.google.com/android/enroll" not in page


def test_cancel_revokes_the_token_on_google(google, enterprise, tenant, admin, alice,
                                            django_capture_on_commit_callbacks, monkeypatch):
    google.queue(token_answer())
    result = start_registration(tenant, alice, "android", RegistrationMethod.API, actor=admin)
    queued = []
    monkeypatch.setattr(tasks.revoke_token, "apply_async",
                        lambda args, **options: queued.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        do_cancel_registration(result.registration, actor=admin)
    assert len(queued) == 1
    google.queue(ok({}))
    assert tasks.revoke_token(*queued[0]) == {"token_id": queued[0][0], "revoked": True}
    request = google.requests[-1]
    assert request.method_id == "enterprises.enrollmentTokens.delete"
    assert request.path_params["name"] == f"{ENTERPRISE}/enrollmentTokens/t1"
    token = AndroidEnrollmentToken.objects.get(registration=result.registration)
    assert token.revoked_at is not None and token.revoke_reason == "cancelled"
    page_context = AuditEvent.objects.filter(tenant=tenant, action="android.token_revoked")
    assert page_context.count() == 1


def test_sweep_revokes_expired_tokens_and_tolerates_404(google, enterprise, tenant, admin,
                                                        alice):
    google.queue(token_answer(1), token_answer(2))
    first = start_registration(tenant, alice, "android", RegistrationMethod.API, actor=admin)
    start_registration(tenant, alice, "android", RegistrationMethod.API, actor=admin)
    AndroidEnrollmentToken.objects.filter(registration=first.registration).update(
        expires_at=timezone.now())
    google.queue(error(404, "not found"))  # already gone on Google: still revoked here
    assert tasks.revoke_ended_tokens() == {"revoked": 1, "failed": 0}
    assert AndroidEnrollmentToken.objects.filter(revoked_at__isnull=False).count() == 1
    assert tasks.revoke_ended_tokens() == {"revoked": 0, "failed": 0}


def test_the_request_checker_refuses_what_the_api_does_not_describe():
    url = f"https://androidmanagement.googleapis.com/v1/{ENTERPRISE}/enrollmentTokens"
    with pytest.raises(AssertionError, match="not a field"):
        check_request(url, "POST", json.dumps({"policy": "x"}))
    with pytest.raises(AssertionError, match="is not one of"):
        check_request(url, "POST", json.dumps({"allowPersonalUsage": "YES"}))
    with pytest.raises(AssertionError, match="not an androidmanagement"):
        check_request("https://androidmanagement.googleapis.com/v1/nope", "GET", None)
