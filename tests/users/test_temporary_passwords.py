"""A temporary password must be replaced wherever a password signs in: the self-service portal,
the admin portal, the /go flow and the agent app's API. Until it is, nothing opens."""

from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audit.models import AuditEvent
from enrollment.models import Registration
from enrollment.services.links import current_link
from tests.conftest import PASSWORD
from users.models import User
from users.views import PASSWORD_CHANGE_SESSION_KEY

pytestmark = pytest.mark.django_db
TEMPORARY = "Temp-pass-1234"
CHOSEN = "Purple-elephant-42"
MAC = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) "
       "Version/17.4 Safari/605.1.15")
ANDROID = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Mobile Safari/537.36"


@pytest.fixture
def dave(client, tenant, admin):
    """Imported by CSV with temporary_password=true, as in issue 19."""
    client.force_login(admin, backend="users.auth.TenantEmailBackend")
    csv = f"email,password,temporary_password\ndave@acme.test,{TEMPORARY},true\n".encode()
    response = client.post(f"/t/{tenant.slug}/admin/users/import/",
                           {"file": SimpleUploadedFile("users.csv", csv)})
    assert response.status_code == 302
    client.logout()
    user = User.objects.get(tenant=tenant, email="dave@acme.test")
    assert user.must_change_password
    return user


def _signed_in(client) -> int | None:
    value = client.session.get("_auth_user_id")
    return int(value) if value else None


def _sign_in(client, tenant, portal: str, email: str, password: str, next_url: str = ""):
    query = f"?next={next_url}" if next_url else ""
    return client.post(f"/t/{tenant.slug}/{portal}/login/{query}",
                       {"email": email, "password": password, "next": next_url})


# --- self-service portal -------------------------------------------------------------------

def test_selfservice_sign_in_asks_for_a_new_password_before_anything(client, tenant, dave):
    register = f"/t/{tenant.slug}/portal/register/?platform=macos"
    response = _sign_in(client, tenant, "portal", dave.email, TEMPORARY, register)
    assert response.status_code == 302
    assert response["Location"] == f"/t/{tenant.slug}/portal/login/password/"
    assert _signed_in(client) is None  # not signed in with the temporary password
    # The Mac cannot be registered meanwhile: the register page sends back to sign-in.
    blocked = client.post(register, {"platform": "macos"}, HTTP_USER_AGENT=MAC)
    assert blocked.status_code == 302 and "/portal/login/" in blocked["Location"]
    assert not Registration.objects.filter(user=dave).exists()

    page = client.get(f"/t/{tenant.slug}/portal/login/password/")
    assert page.status_code == 200 and "temporary password" in page.content.decode()
    done = client.post(f"/t/{tenant.slug}/portal/login/password/",
                       {"new_password1": CHOSEN, "new_password2": CHOSEN})
    assert done.status_code == 302 and done["Location"] == register
    assert _signed_in(client) == dave.pk
    dave.refresh_from_db()
    assert not dave.must_change_password and dave.check_password(CHOSEN)
    event = AuditEvent.objects.get(tenant=tenant, action="auth.password_changed")
    assert event.user_id == dave.pk and event.actor_label == dave.email
    assert client.get(register, HTTP_USER_AGENT=MAC).status_code == 200
    # The temporary password no longer signs in; the chosen one does, straight in.
    client.logout()
    assert _sign_in(client, tenant, "portal", dave.email, TEMPORARY).status_code == 400
    assert _sign_in(client, tenant, "portal", dave.email, CHOSEN)["Location"] == \
        f"/t/{tenant.slug}/portal/"


@pytest.mark.parametrize(("first", "second", "message"), [
    (CHOSEN, "Other-elephant-42", "The two passwords differ"),
    (TEMPORARY, TEMPORARY, "other than the temporary one"),
    ("short", "short", "too short"),
    ("", "", "This field is required"),
])
def test_a_bad_new_password_is_refused_and_nothing_opens(client, tenant, dave, first, second,
                                                         message):
    _sign_in(client, tenant, "portal", dave.email, TEMPORARY)
    response = client.post(f"/t/{tenant.slug}/portal/login/password/",
                           {"new_password1": first, "new_password2": second})
    assert response.status_code == 400 and message in response.content.decode()
    assert _signed_in(client) is None
    dave.refresh_from_db()
    assert dave.must_change_password and dave.check_password(TEMPORARY)
    assert not AuditEvent.objects.filter(action="auth.password_changed").exists()


def test_the_password_page_needs_a_fresh_sign_in_of_this_tenant(client, tenant, other_tenant,
                                                                dave):
    page = f"/t/{tenant.slug}/portal/login/password/"
    assert client.get(page)["Location"] == f"/t/{tenant.slug}/portal/login/"  # no sign-in
    _sign_in(client, tenant, "portal", dave.email, TEMPORARY)
    session = client.session
    session[PASSWORD_CHANGE_SESSION_KEY]["since"] = time.time() - 11 * 60  # too old
    session.save()
    assert client.post(page, {"new_password1": CHOSEN, "new_password2": CHOSEN})[
        "Location"] == f"/t/{tenant.slug}/portal/login/"
    _sign_in(client, tenant, "portal", dave.email, TEMPORARY)
    other = client.get(f"/t/{other_tenant.slug}/portal/login/password/")
    assert other["Location"] == f"/t/{other_tenant.slug}/portal/login/"
    # An end user's pending change does not open the admin portal's page.
    _sign_in(client, tenant, "portal", dave.email, TEMPORARY)
    admin_page = client.get(f"/t/{tenant.slug}/admin/login/password/")
    assert admin_page["Location"] == f"/t/{tenant.slug}/admin/login/"
    dave.refresh_from_db()
    assert dave.must_change_password


def test_a_session_whose_password_became_temporary_is_signed_out(client, tenant, dave):
    dave.set_password(PASSWORD)
    dave.must_change_password = False
    dave.save()
    client.force_login(dave, backend="users.auth.TenantEmailBackend")
    assert client.get(f"/t/{tenant.slug}/portal/").status_code == 200
    User.objects.filter(pk=dave.pk).update(must_change_password=True)
    response = client.get(f"/t/{tenant.slug}/portal/")
    assert response.status_code == 302 and "/portal/login/" in response["Location"]
    assert _signed_in(client) is None


def test_directory_accounts_never_get_the_password_page(client, tenant):
    carol = User.objects.create_user(tenant, "carol@acme.test", None, source="ldap",
                                     must_change_password=True)
    assert not carol.password_change_due


# --- admin portal --------------------------------------------------------------------------

def test_admin_with_a_temporary_password_changes_it_first(client, tenant, admin):
    User.objects.filter(pk=admin.pk).update(must_change_password=True)
    response = _sign_in(client, tenant, "admin", admin.email, PASSWORD)
    assert response["Location"] == f"/t/{tenant.slug}/admin/login/password/"
    assert _signed_in(client) is None
    assert client.get(f"/t/{tenant.slug}/admin/")["Location"].startswith(
        f"/t/{tenant.slug}/admin/login/")
    assert client.get("/api/v1/users/").status_code in (401, 403)
    bad = client.post(f"/t/{tenant.slug}/admin/login/password/",
                      {"new_password1": PASSWORD, "new_password2": PASSWORD})
    assert bad.status_code == 400 and "other than the temporary one" in bad.content.decode()
    done = client.post(f"/t/{tenant.slug}/admin/login/password/",
                       {"new_password1": CHOSEN, "new_password2": CHOSEN})
    assert done["Location"] == f"/t/{tenant.slug}/admin/"
    assert client.get(f"/t/{tenant.slug}/admin/").status_code == 200
    admin.refresh_from_db()
    assert not admin.must_change_password and admin.check_password(CHOSEN)


def test_admin_session_reset_to_temporary_opens_neither_portal_nor_api(client, tenant, admin):
    client.force_login(admin, backend="users.auth.TenantEmailBackend")
    assert client.get("/api/v1/users/").status_code == 200
    User.objects.filter(pk=admin.pk).update(must_change_password=True)
    assert client.get("/api/v1/users/").status_code in (401, 403)
    assert client.get(f"/t/{tenant.slug}/admin/users/").status_code == 302
    assert _signed_in(client) is None


# --- /go and the agent app -----------------------------------------------------------------

def test_go_flow_refuses_the_temporary_password_as_the_new_one(client, tenant, dave):
    link = current_link(tenant)
    go = f"/r/{link.format_version}/{link.token}/go"
    response = client.post(go, {"email": dave.email, "password": TEMPORARY},
                           HTTP_USER_AGENT=ANDROID)
    assert response["Location"].endswith("/go/password")
    same = client.post(f"{go}/password", {"new_password1": TEMPORARY,
                                          "new_password2": TEMPORARY}, HTTP_USER_AGENT=ANDROID)
    assert same.status_code == 400 and "other than the temporary one" in same.content.decode()
    assert _signed_in(client) is None
    done = client.post(f"{go}/password", {"new_password1": CHOSEN, "new_password2": CHOSEN},
                       HTTP_USER_AGENT=ANDROID)
    assert done.status_code == 302 and _signed_in(client) == dave.pk
    dave.refresh_from_db()
    assert not dave.must_change_password


def test_app_api_requires_a_new_password_other_than_the_temporary_one(client, tenant, dave):
    url = f"/t/{tenant.slug}/app/v1/register"
    base = {"email": dave.email, "password": TEMPORARY, "platform": "android",
            "os_version": "14"}
    missing = client.post(url, base, content_type="application/json")
    assert missing.status_code == 403
    assert missing.json()["error"]["code"] == "password_required"
    same = client.post(url, {**base, "new_password": TEMPORARY},
                       content_type="application/json")
    assert same.status_code == 403 and same.json()["error"]["code"] == "password_rejected"
    assert not Registration.objects.filter(user=dave).exists()
    done = client.post(url, {**base, "new_password": CHOSEN}, content_type="application/json")
    assert done.status_code == 201, done.json()
    dave.refresh_from_db()
    assert not dave.must_change_password and dave.check_password(CHOSEN)
