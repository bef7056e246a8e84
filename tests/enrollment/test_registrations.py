"""Registrations: the admin API, the self-service portal's register pages, the QR code and the
agent app's API (sign-in, PIN, QR, OS versions, re-registration). The admin API and the
registrations list page run the shared base cases (tests/base)."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from enrollment.models import AppQrToken, Registration, RegistrationState
from enrollment.selfservice.register import PIN_OK_SESSION_KEY
from enrollment.services.pins import do_issue_pin
from tests.base.api import OMIT, APIViewTestCases
from tests.base.portal import PortalViewTestCases
from users.models import User

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15"
MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Safari/605.1.15"
PASSWORD = "Ann-pass-12345"


@pytest.fixture
def ann(tenant):
    return User.objects.create_user(tenant, "ann@acme.test", PASSWORD, first_name="Ann")


@pytest.fixture
def ann_portal(client, ann):
    client.force_login(ann, backend="users.auth.TenantEmailBackend")
    return client


# --- admin API -----------------------------------------------------------------------------

_new_users = itertools.count()


def make_registration(tenant, admin, index: int) -> Registration:
    from enrollment.services.registrations import do_start_registration

    user = User.objects.create_user(tenant, f"reg-{tenant.slug}-{index:03}@{tenant.slug}.test")
    return do_start_registration(tenant, user, "ios", "api", actor=admin).registration


class TestRegistrationAPI(APIViewTestCases.GetObjectViewTestCase,
                          APIViewTestCases.ListObjectsViewTestCase,
                          APIViewTestCases.CreateObjectViewTestCase):
    url = "/api/v1/registrations/"
    model = Registration
    list_fields = ["id", "user", "user_email", "platform", "method", "state", "expires_at",
                   "device", "failure_reason", "created_at", "profile_downloaded_at",
                   "certificate_issued_at", "enrolled_at", "ended_at"]
    bad_data = [
        ({"platform": "windows"}, "platform"),
        ({"platform": OMIT}, "platform"),
        ({"user": "x"}, "user"),
        ({"user": 0}, "user"),
        ({"user": OMIT}, "user"),
    ]
    list_max_queries = 6

    def make_object(self, tenant, admin, index):
        return make_registration(tenant, admin, index)

    def create_bodies(self, tenant):
        users = [User.objects.create_user(tenant, f"new-{next(_new_users)}@{tenant.slug}.test")
                 for _ in range(3)]
        return [{"user": users[0].pk, "platform": "ios"},
                {"user": users[1].pk, "platform": "macos"},
                {"user": users[2].pk, "platform": "android"}]

    def test_unknown_user_is_404(self, api):
        response = api.post(self.url, {"user": 999999, "platform": "ios"}, format="json")
        assert response.status_code == 404
        assert not Registration.objects.exists()

    def test_api_start_apple_registration(self, api, tenant, ann):
        response = api.post("/api/v1/registrations/", {"user": ann.pk, "platform": "ios"},
                            format="json")
        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["state"] == "started" and body["method"] == "api"
        assert body["go_url"].endswith("/go")
        assert f"/t/{tenant.slug}/" in body["profile_url"]
        assert body["pin"] is None  # Ann has a password and no PIN requirement
        expires = dt.datetime.fromisoformat(body["expires_at"])
        # The registration waits days for its profile download; the profile window comes later.
        assert dt.timedelta(hours=71) < expires - timezone.now() <= dt.timedelta(hours=72)
        listed = api.get("/api/v1/registrations/", {"user": ann.pk, "state": "started"}).json()
        assert [row["id"] for row in listed["results"]] == [body["id"]]

    def test_api_registration_for_user_without_password_returns_a_pin(self, api, tenant):
        bob = User.objects.create_user(tenant, "bob@acme.test")
        body = api.post("/api/v1/registrations/", {"user": bob.pk, "platform": "macos"},
                        format="json").json()
        assert body["pin"] and body["pin"].isdigit()

    def test_api_android_registration_has_no_profile_url(self, api, ann):
        body = api.post("/api/v1/registrations/", {"user": ann.pk, "platform": "android"},
                        format="json").json()
        assert body["profile_url"] is None

    def test_api_registration_rejects_bad_platform_and_disabled_user(self, api, ann):
        assert api.post("/api/v1/registrations/", {"user": ann.pk, "platform": "windows"},
                        format="json").status_code == 400
        ann.is_active = False
        ann.save()
        assert api.post("/api/v1/registrations/", {"user": ann.pk, "platform": "ios"},
                        format="json").status_code == 409

    def test_api_cancel_registration(self, api, ann):
        body = api.post("/api/v1/registrations/", {"user": ann.pk, "platform": "ios"},
                        format="json").json()
        response = api.post(f"/api/v1/registrations/{body['id']}/cancel/")
        assert response.status_code == 200 and response.json()["state"] == "cancelled"
        # The profile link of a cancelled registration no longer serves a profile.
        from enrollment.services.registrations import ProfileUnavailable, do_claim_profile

        token = body["profile_url"].rsplit("/", 1)[1].removesuffix(".mobileconfig")
        with pytest.raises(ProfileUnavailable, match="closed"):
            do_claim_profile(ann.tenant, token)

    def test_api_cannot_start_registration_for_foreign_user(self, api, other_tenant):
        foreign = User.objects.create_user(other_tenant, "eve@globex.test")
        response = api.post("/api/v1/registrations/", {"user": foreign.pk, "platform": "ios"},
                            format="json")
        assert response.status_code == 404
        assert not Registration.objects.filter(user=foreign).exists()

    def test_foreign_registration_cannot_be_cancelled(self, api, foreign_object):
        assert api.post(f"/api/v1/registrations/{foreign_object.pk}/cancel/").status_code == 404
        foreign_object.refresh_from_db()
        assert foreign_object.state == "started"


class TestRegistrationListPage(PortalViewTestCases.ListViewTestCase):
    path = "registrations/"
    max_queries = 8

    def make_object(self, tenant, admin, index):
        return make_registration(tenant, admin, index)

    def object_marker(self, obj) -> str:
        return obj.user.email


# --- self-service portal ---------------------------------------------------------------------

def test_register_page_suggests_this_device(ann_portal, tenant):
    html = ann_portal.get(f"/t/{tenant.slug}/portal/register/",
                          HTTP_USER_AGENT=MAC).content.decode()
    assert "this device" in html and "?platform=macos" in html


def test_mac_registration_shows_install_steps_and_one_time_profile(ann_portal, tenant, ann):
    response = ann_portal.post(f"/t/{tenant.slug}/portal/register/", {"platform": "macos"},
                               HTTP_USER_AGENT=MAC)
    assert response.status_code == 302
    registration = Registration.objects.get(user=ann)
    assert registration.method == "self_service"
    page = ann_portal.get(response["Location"]).content.decode()
    assert "Install management profile" in page and "System Settings" in page
    assert "Download the management profile" in page
    assert "Download the profile within 71 hours" in page or "within 72 hours" in page


def test_expired_registration_page_says_start_again(ann_portal, tenant, ann):
    ann_portal.post(f"/t/{tenant.slug}/portal/register/", {"platform": "ios"})
    registration = Registration.objects.get(user=ann)
    Registration.objects.filter(pk=registration.pk).update(
        expires_at=timezone.now() - dt.timedelta(minutes=1))
    page = ann_portal.get(f"/t/{tenant.slug}/portal/registrations/{registration.pk}/")
    html = page.content.decode()
    assert "expired" in html and "Start registration again" in html
    assert "SCEP server returned an invalid response" in html


def test_registration_page_of_another_user_is_404(ann_portal, tenant, admin):
    from enrollment.services.registrations import do_start_registration

    bob = User.objects.create_user(tenant, "bob@acme.test", "Bob-pass-12345")
    other = do_start_registration(tenant, bob, "ios", "api", actor=admin).registration
    assert ann_portal.get(f"/t/{tenant.slug}/portal/registrations/{other.pk}/"
                          ).status_code == 404


def test_pin_required_by_user_setting(ann_portal, tenant, ann, admin):
    ann.require_registration_pin = True
    ann.save()
    url = f"/t/{tenant.slug}/portal/register/"
    assert "one-time PIN" in ann_portal.get(url, {"platform": "ios"}).content.decode()
    issued = do_issue_pin(tenant, ann, actor=admin)
    wrong = "0" * len(issued.raw) if issued.raw != "0" * len(issued.raw) else "1" * len(
        issued.raw)
    response = ann_portal.post(url, {"platform": "ios", "pin": wrong})
    assert response.status_code == 400 and not Registration.objects.filter(user=ann).exists()
    response = ann_portal.post(url, {"platform": "ios", "pin": issued.raw})
    assert response.status_code == 302
    assert ann_portal.session[PIN_OK_SESSION_KEY] == ann.pk
    # The PIN is single use; the session remembers it was verified.
    assert ann_portal.post(url, {"platform": "ios"}).status_code == 302


def test_qr_code_page(ann_portal, tenant, ann):
    response = ann_portal.post(f"/t/{tenant.slug}/portal/app-qr/")
    html = response.content.decode()
    assert response.status_code == 200 and "<svg" in html and "iOS 14" in html
    assert AppQrToken.objects.filter(user=ann, used_at__isnull=True).count() == 1


# --- agent app API ----------------------------------------------------------------------------

def app_url(tenant, name):
    return f"/t/{tenant.slug}/app/v1/{name}"


def test_app_registers_with_password_and_follows_registration(client, tenant, ann):
    response = client.post(app_url(tenant, "register"), {
        "email": "ann@acme.test", "password": PASSWORD, "platform": "ios",
        "os_version": "17.4"}, content_type="application/json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["method"] == "in_app" and body["profile_url"] and body["app_token"]
    status = client.get(app_url(tenant, "registration"),
                        HTTP_AUTHORIZATION=f"Bearer {body['app_token']}")
    assert status.status_code == 200 and status.json()["id"] == body["id"]


def test_app_wrong_password_is_403_and_audited(client, tenant, ann):
    response = client.post(app_url(tenant, "register"), {
        "email": "ann@acme.test", "password": "nope", "platform": "android",
        "os_version": "14"}, content_type="application/json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "invalid_credentials"
    assert AuditEvent.objects.filter(tenant=tenant, action="auth.login_failed").exists()


def test_app_pin_flow_for_user_without_password(client, tenant, admin):
    bob = User.objects.create_user(tenant, "bob@acme.test")
    issued = do_issue_pin(tenant, bob, actor=admin)
    base = {"email": "bob@acme.test", "pin": issued.raw, "platform": "android",
            "os_version": "13"}
    response = client.post(app_url(tenant, "register"), base, content_type="application/json")
    assert response.json()["error"]["code"] == "password_required"
    # Nothing was unlocked, so the PIN is not spent: the app asks for a password and sends
    # the same PIN again. Spent with the registration, it then never works again.
    response = client.post(app_url(tenant, "register"),
                           {**base, "new_password": "Bob-new-pass-123"},
                           content_type="application/json")
    assert response.status_code == 201, response.json()
    bob.refresh_from_db()
    assert bob.check_password("Bob-new-pass-123")
    again = client.post(app_url(tenant, "register"),
                        {**base, "new_password": "Bob-other-pass-456"},
                        content_type="application/json")
    assert again.status_code == 403 and again.json()["error"]["code"] == "pin_refused"


def test_app_pin_required_when_policy_demands(client, tenant, ann):
    ann.require_registration_pin = True
    ann.save()
    response = client.post(app_url(tenant, "register"), {
        "email": "ann@acme.test", "password": PASSWORD, "platform": "ios",
        "os_version": "17"}, content_type="application/json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "pin_required"
    assert not Registration.objects.filter(user=ann).exists()


def test_app_qr_registration_single_use_and_os_versions(client, tenant, ann):
    from enrollment.services.app_access import do_create_qr_token

    minted = do_create_qr_token(tenant, ann)
    raw = minted.payload.split("qr=", 1)[1]
    old = client.post(app_url(tenant, "register"), {"qr_token": raw, "platform": "ios",
                                                    "os_version": "13.7"},
                      content_type="application/json")
    assert old.status_code == 400 and old.json()["error"]["code"] == "os_not_supported"
    assert "iOS 14 or later" in old.json()["error"]["message"]
    old_android = client.post(app_url(tenant, "register"), {
        "qr_token": raw, "platform": "android", "os_version": "8.1"},
        content_type="application/json")
    assert old_android.json()["error"]["code"] == "os_not_supported"
    ok = client.post(app_url(tenant, "register"), {"qr_token": raw, "platform": "android",
                                                   "os_version": "9"},
                     content_type="application/json")
    assert ok.status_code == 201 and ok.json()["method"] == "qr"
    again = client.post(app_url(tenant, "register"), {"qr_token": raw, "platform": "android",
                                                      "os_version": "12"},
                        content_type="application/json")
    assert again.status_code == 403 and again.json()["error"]["code"] == "qr_invalid"


def test_app_qr_expired(client, tenant, ann):
    from enrollment.services.app_access import do_create_qr_token

    minted = do_create_qr_token(tenant, ann)
    AppQrToken.objects.filter(pk=minted.token.pk).update(expires_at=timezone.now())
    response = client.post(app_url(tenant, "register"), {
        "qr_token": minted.payload.split("qr=", 1)[1], "platform": "ios", "os_version": "17"},
        content_type="application/json")
    assert response.json()["error"]["code"] == "qr_expired"


def test_qr_token_of_another_tenant_is_invalid_here(client, tenant, other_tenant):
    from enrollment.services.app_access import do_create_qr_token

    eve = User.objects.create_user(other_tenant, "eve@globex.test", "Eve-pass-12345")
    raw = do_create_qr_token(other_tenant, eve).payload.split("qr=", 1)[1]
    response = client.post(app_url(tenant, "register"), {"qr_token": raw, "platform": "ios",
                                                         "os_version": "17"},
                           content_type="application/json")
    assert response.json()["error"]["code"] == "qr_invalid"


@pytest.mark.parametrize("payload", [
    {}, {"platform": "ios", "os_version": "17"},
    {"email": "ann@acme.test", "qr_token": "x", "platform": "ios", "os_version": "17"},
    {"email": "ann@acme.test", "password": "x", "platform": "ios", "os_version": "seventeen"},
    {"email": "ann@acme.test", "password": "x", "platform": "windows", "os_version": "11"},
])
def test_app_register_bad_input_is_400(client, tenant, payload):
    response = client.post(app_url(tenant, "register"), payload,
                           content_type="application/json")
    assert response.status_code == 400
    assert client.post(app_url(tenant, "register"), "{not json",
                       content_type="application/json").status_code == 400


def test_app_reregister_needs_confirmation_and_supersedes(client, tenant, ann):
    body = client.post(app_url(tenant, "register"), {
        "email": "ann@acme.test", "password": PASSWORD, "platform": "ios",
        "os_version": "17"}, content_type="application/json").json()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {body['app_token']}"}
    refused = client.post(app_url(tenant, "reregister"), {"confirm": False},
                          content_type="application/json", **auth)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "confirmation_required"
    response = client.post(app_url(tenant, "reregister"), {"confirm": True},
                           content_type="application/json", **auth)
    assert response.status_code == 201
    old = Registration.objects.get(pk=body["id"])
    assert old.state == RegistrationState.CANCELLED
    new = Registration.objects.get(pk=response.json()["id"])
    assert new.supersedes_id == old.pk
    assert AuditEvent.objects.filter(tenant=tenant, action="registration.reregister").exists()


def test_app_session_of_another_tenant_is_refused(client, tenant, other_tenant, ann):
    body = client.post(app_url(tenant, "register"), {
        "email": "ann@acme.test", "password": PASSWORD, "platform": "ios",
        "os_version": "17"}, content_type="application/json").json()
    response = client.get(f"/t/{other_tenant.slug}/app/v1/registration",
                          HTTP_AUTHORIZATION=f"Bearer {body['app_token']}")
    assert response.status_code == 401
    assert client.get(app_url(tenant, "registration")).status_code == 401


def test_app_password_set_after_pin_is_audited(client, tenant, admin):
    bob = User.objects.create_user(tenant, "bob@acme.test")
    issued = do_issue_pin(tenant, bob, actor=admin)
    response = client.post(app_url(tenant, "register"), {
        "email": "bob@acme.test", "pin": issued.raw, "platform": "ios", "os_version": "16",
        "new_password": "short"}, content_type="application/json")
    assert response.json()["error"]["code"] == "password_rejected"
    response = client.post(app_url(tenant, "register"), {  # the same PIN: it was not spent
        "email": "bob@acme.test", "pin": issued.raw, "platform": "ios", "os_version": "16",
        "new_password": "Bob-new-pass-123"}, content_type="application/json")
    assert response.status_code == 201
    assert AuditEvent.objects.filter(tenant=tenant, user=bob,
                                     action="registration.password_set").exists()


def test_profile_download_starts_the_short_profile_window(tenant, ann, admin, settings):
    from enrollment.services.registrations import do_claim_profile, do_start_registration

    settings.MDM_SCEP_CHALLENGE_TTL_MINUTES = 10
    started = do_start_registration(tenant, ann, "ios", "api", actor=admin)
    assert started.registration.expires_at - timezone.now() > dt.timedelta(hours=71)
    registration, minted = do_claim_profile(tenant, started.profile_token)
    window = registration.expires_at - timezone.now()
    assert dt.timedelta(minutes=9) < window <= dt.timedelta(minutes=10)
    assert abs(minted.challenge.expires_at - registration.expires_at) < dt.timedelta(seconds=1)


# --- completion ------------------------------------------------------------------------------

def test_completing_a_registration_is_audited_once_for_it_and_for_the_device(tenant, ann,
                                                                             admin):
    from audit.events import AuditAction
    from devices.models import Device
    from devices.services.lifecycle import do_enroll_device
    from enrollment.services.registrations import do_start_registration

    device = Device.objects.create(tenant=tenant, platform="ios", state="pending")
    first = do_start_registration(tenant, ann, "ios", "api", actor=admin).registration
    assert do_enroll_device(first, device, actor="device:test") is True
    assert do_enroll_device(first, device, actor="device:test") is False  # once
    second = do_start_registration(tenant, ann, "ios", "api", actor=admin).registration
    do_enroll_device(second, device, actor="device:test")

    events = list(AuditEvent.objects.filter(tenant=tenant, device=device).order_by("id")
                  .values_list("action", "target_id", "user_id", "detail"))
    assert [event[:3] for event in events] == [
        ("registration.enrolled", str(first.pk), ann.pk),
        ("device.registered", str(device.pk), ann.pk),
        ("registration.superseded", str(first.pk), ann.pk),
        ("registration.enrolled", str(second.pk), ann.pk),
        ("device.reregistered", str(device.pk), ann.pk),
    ]
    assert events[0][3] == {"registration_id": first.pk, "platform": "ios"}
    completed = AuditEvent.objects.get(tenant=tenant, target_id=str(second.pk),
                                       action="registration.enrolled")
    assert AuditAction(completed.action).label == "Registration completed"
    assert completed.actor_label == "device:test" and completed.target_type == \
        "enrollment.registration"


def test_failed_registration_page_names_the_step_and_the_fix(ann_portal, tenant, ann):
    from audit.events import AuditAction
    from audit.record import record

    ann_portal.post(f"/t/{tenant.slug}/portal/register/", {"platform": "ios"})
    registration = Registration.objects.get(user=ann)
    Registration.objects.filter(pk=registration.pk).update(
        profile_downloaded_at=timezone.now() - dt.timedelta(minutes=20),
        expires_at=timezone.now() - dt.timedelta(minutes=1))
    url = f"/t/{tenant.slug}/portal/registrations/{registration.pk}/"
    html = ann_portal.get(url).content.decode()
    assert "not installed in time, or its installation was cancelled" in html
    assert "Profile downloaded: 20" in html or "Profile downloaded: " in html
    assert "Identity certificate issued (SCEP): <strong>not reached</strong>" in html
    assert "Start registration again" in html

    # The SCEP server refused the stale challenge: the same words the admin sees.
    record(tenant, AuditAction.SCEP_REJECTED, actor="scep",
           detail={"registration_id": registration.pk, "reason": "challenge expired"})
    html = ann_portal.get(url).content.decode()
    assert "certificate request was refused (challenge expired)" in html
    assert "the SCEP server returned an invalid response" in html
