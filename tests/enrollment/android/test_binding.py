"""Enterprise binding: settings (encrypted key), sign-up URL with a one-time https callback
state, the callback (bad / missing / replayed state), policies and Pub/Sub on the enterprise,
unbind."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audit.models import AuditEvent
from enrollment.android.binding import AndroidSetupError, complete_signup, start_signup
from enrollment.models import AndroidEnterprise
from tests.base.android import ENTERPRISE
from tests.base.android.fake_google import error, ok

pytestmark = pytest.mark.django_db


def _start(google, tenant, admin) -> str:
    google.queue(ok({"name": "signupUrls/C123", "url": "https://play.google.com/work/"
                                                        "adminsignup?token=abc"}))
    url = start_signup(tenant, actor=admin)
    assert url.startswith("https://play.google.com/")
    request = google.requests[-1]
    assert request.method_id == "signupUrls.create"
    assert request.query["projectId"] == "mdm-test"
    callback = urlsplit(request.query["callbackUrl"])
    assert callback.scheme == "https"
    assert callback.path == f"/t/{tenant.slug}/admin/settings/android/callback/"
    return parse_qs(callback.query)["state"][0]


def _queue_create_and_configure(google):
    google.queue(ok({"name": ENTERPRISE, "enterpriseDisplayName": "Acme",
                     "enabledNotificationTypes": ["ENROLLMENT", "STATUS_REPORT", "COMMAND"],
                     "pubsubTopic": "projects/mdm-test/topics/amapi"}),
                 ok({"name": f"{ENTERPRISE}/policies/default"}),
                 ok({"name": f"{ENTERPRISE}/policies/company-owned"}))


def test_settings_store_the_service_account_encrypted(configured, service_account_info):
    raw = bytes(configured.service_account_encrypted)
    assert service_account_info["private_key"].encode()[:40] not in raw
    assert b"client_email" not in raw
    assert configured.service_account_info() == service_account_info
    assert configured.service_account_email == service_account_info["client_email"]


def test_signup_and_callback_bind_the_enterprise(google, https_public_url, configured, tenant,
                                                 admin, portal):
    state = _start(google, tenant, admin)
    _queue_create_and_configure(google)
    response = portal.get(f"/t/acme/admin/settings/android/callback/?state={state}"
                          "&enterpriseToken=ent-token-1")
    assert response.status_code == 302
    enterprise = AndroidEnterprise.objects.get(tenant=tenant)
    assert enterprise.enterprise_name == ENTERPRISE and enterprise.is_bound
    create, default, company = google.requests[-3:]
    assert create.method_id == "enterprises.create"
    assert create.query == {"projectId": "mdm-test", "signupUrlName": "signupUrls/C123",
                            "enterpriseToken": "ent-token-1", "agreementAccepted": "true"}
    assert create.body["pubsubTopic"] == "projects/mdm-test/topics/amapi"
    assert create.body["enabledNotificationTypes"] == ["ENROLLMENT", "STATUS_REPORT",
                                                       "COMMAND"]
    assert default.method_id == company.method_id == "enterprises.policies.patch"
    assert default.body["statusReportingSettings"]["softwareInfoEnabled"] is True
    assert company.body["credentialsConfigDisabled"] is True
    assert AuditEvent.objects.filter(tenant=tenant, action="android.enterprise_bound").exists()

    # The same callback again (a reload): no second enterprises.create.
    before = len(google.requests)
    response = portal.get(f"/t/acme/admin/settings/android/callback/?state={state}"
                          "&enterpriseToken=ent-token-1")
    assert response.status_code == 302 and len(google.requests) == before


@pytest.mark.parametrize("query", ["", "?enterpriseToken=x", "?state=forged&enterpriseToken=x"])
def test_callback_with_a_bad_or_missing_state_is_refused_clearly(google, https_public_url,
                                                                 configured, tenant, admin,
                                                                 portal, query):
    _start(google, tenant, admin)
    response = portal.get(f"/t/acme/admin/settings/android/callback/{query}")
    assert response.status_code == 400
    assert "sign-up link is not valid" in response.content.decode()
    assert not AndroidEnterprise.objects.get(tenant=tenant).is_bound
    assert google.pending == 0 and google.requests[-1].method_id == "signupUrls.create"
    assert AuditEvent.objects.filter(tenant=tenant, action="android.signup_rejected").exists()


def test_callback_without_any_signup_is_refused(google, configured, tenant, admin):
    with pytest.raises(AndroidSetupError, match="not valid"):
        complete_signup(tenant, state="anything", enterprise_token="x", actor=admin)


def test_state_of_another_tenant_does_not_bind_this_one(google, https_public_url, configured,
                                                        tenant, admin, other_tenant,
                                                        other_admin, service_account_info):
    from tests.base.android import configure

    configure(other_tenant, other_admin, service_account_info)
    state = _start(google, tenant, admin)
    with pytest.raises(AndroidSetupError):
        complete_signup(other_tenant, state=state, enterprise_token="x", actor=other_admin)
    assert google.pending == 0


def test_signup_needs_an_https_public_url(google, configured, tenant, admin, settings):
    settings.MDM_PUBLIC_URL = "http://localhost:8000"
    with pytest.raises(AndroidSetupError, match="https"):
        start_signup(tenant, actor=admin)
    assert google.requests == []


def test_google_refusing_the_signup_is_a_clear_admin_error(google, https_public_url,
                                                           configured, tenant, portal):
    google.queue(error(403, "The caller does not have permission", "PERMISSION_DENIED"))
    response = portal.post("/t/acme/admin/settings/android/", {"action": "signup"},
                           follow=True)
    assert "The caller does not have permission" in response.content.decode()
    assert google.pauses == []  # 403 is not retried


def test_settings_page_saves_and_shows_the_push_url(google, tenant, portal,
                                                    service_account_info):
    upload = SimpleUploadedFile("key.json", json.dumps(service_account_info).encode(),
                                content_type="application/json")
    response = portal.post("/t/acme/admin/settings/android/", {
        "action": "save", "project_id": "mdm-test", "service_account": upload,
        "pubsub_topic": "projects/mdm-test/topics/amapi", "default_ownership": "work_profile",
        "agent_app_package": "com.example.agent"})
    assert response.status_code == 302
    enterprise = AndroidEnterprise.objects.get(tenant=tenant)
    assert enterprise.service_account_email == service_account_info["client_email"]
    page = portal.get("/t/acme/admin/settings/android/").content.decode()
    assert f"/android/pubsub/{enterprise.push_endpoint_id}/?token=" in page
    assert "Bind Android Enterprise" in page
    bad = portal.post("/t/acme/admin/settings/android/", {
        "action": "save", "project_id": "mdm-test", "default_ownership": "work_profile",
        "service_account": SimpleUploadedFile("k.json", b"{not json")})
    assert bad.status_code == 400 and "not valid JSON" in bad.content.decode()


def test_unbind_deletes_on_google_and_allows_binding_again(google, enterprise, tenant, admin,
                                                           portal):
    google.queue(ok({}))
    response = portal.post("/t/acme/admin/settings/android/",
                           {"action": "unbind", "delete_on_google": "on"})
    assert response.status_code == 302
    assert google.requests[-1].method_id == "enterprises.delete"
    assert google.requests[-1].path_params["name"] == ENTERPRISE
    enterprise.refresh_from_db()
    assert not enterprise.is_bound
    assert AuditEvent.objects.filter(tenant=tenant, action="android.enterprise_unbound").exists()


def test_api_settings_and_signup(google, https_public_url, tenant, api, service_account_info):
    response = api.put("/api/v1/android-enterprise/current/", {
        "project_id": "mdm-test", "service_account_key": json.dumps(service_account_info),
        "pubsub_topic": "projects/mdm-test/topics/amapi"}, format="json")
    assert response.status_code == 200, response.content
    assert "service_account_key" not in response.json()
    assert response.json()["service_account_email"] == service_account_info["client_email"]
    nul = {**service_account_info, "client_email": "a\x00b@mdm-test.iam.gserviceaccount.com"}
    assert api.put("/api/v1/android-enterprise/current/", {  # not a text column's 500
        "service_account_key": json.dumps(nul)}, format="json").status_code == 400
    google.queue(ok({"name": "signupUrls/C9", "url": "https://play.google.com/x"}))
    response = api.post("/api/v1/android-enterprise/signup/", {}, format="json")
    assert response.status_code == 201 and response.json()["url"] == "https://play.google.com/x"
