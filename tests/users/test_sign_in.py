"""Portals: sign-in for admins and end users, lockout, tenant resolution, CSRF, error pages."""

from django.test import Client

from audit.models import AuditEvent
from tests.conftest import PASSWORD


def test_admin_signs_in_and_out(client, tenant, admin):
    response = client.post(f"/t/{tenant.slug}/admin/login/",
                           {"email": "ADMIN@acme.test", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == f"/t/{tenant.slug}/admin/"
    page = client.get(f"/t/{tenant.slug}/admin/")
    assert page.status_code == 200 and "Dashboard" in page.content.decode()
    assert client.post(f"/t/{tenant.slug}/admin/logout/").status_code == 302
    assert client.get(f"/t/{tenant.slug}/admin/").status_code == 302
    actions = set(AuditEvent.objects.filter(tenant=tenant).values_list("action", flat=True))
    assert {"auth.login", "auth.logout"} <= actions


def test_end_user_cannot_use_admin_portal_but_can_self_service(client, tenant):
    tenant.users.create_user(tenant, "ann@acme.test", "Ann-pass-12345")
    response = client.post(f"/t/{tenant.slug}/admin/login/",
                           {"email": "ann@acme.test", "password": "Ann-pass-12345"})
    assert response.status_code == 400
    response = client.post(f"/t/{tenant.slug}/portal/login/",
                           {"email": "ann@acme.test", "password": "Ann-pass-12345"})
    assert response.status_code == 302
    assert "My devices" in client.get(f"/t/{tenant.slug}/portal/").content.decode()
    assert client.get(f"/t/{tenant.slug}/admin/").status_code == 302


def test_wrong_password_is_audited_and_locked_out(client, tenant, admin, settings):
    settings.MDM_LOGIN_ATTEMPT_LIMIT = 3
    url = f"/t/{tenant.slug}/admin/login/"
    for _ in range(3):
        response = client.post(url, {"email": admin.email, "password": "wrong"})
        assert response.status_code == 400
        assert "not correct" in response.content.decode()
    response = client.post(url, {"email": admin.email, "password": PASSWORD})
    assert "Too many failed attempts" in response.content.decode()
    assert AuditEvent.objects.filter(tenant=tenant, action="auth.login_failed").count() == 3
    assert AuditEvent.objects.filter(tenant=tenant, action="auth.login_locked").count() == 1


def test_credentials_of_one_tenant_do_not_open_another(client, tenant, other_tenant):
    response = client.post(f"/t/{other_tenant.slug}/admin/login/",
                           {"email": "admin@acme.test", "password": PASSWORD})
    assert response.status_code == 400


def test_session_of_one_tenant_does_not_open_another(portal, other_tenant):
    response = portal.get(f"/t/{other_tenant.slug}/admin/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_unknown_tenant_is_404_page(client, db):
    response = client.get("/t/nobody/admin/login/")
    assert response.status_code == 404
    assert b"Traceback" not in response.content
    assert client.get("/?organization=nobody").status_code == 404


def test_login_form_requires_csrf(tenant, admin):
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(f"/t/{tenant.slug}/admin/login/",
                           {"email": admin.email, "password": PASSWORD})
    assert response.status_code == 403


def test_open_redirect_is_refused(client, tenant, admin):
    response = client.post(f"/t/{tenant.slug}/admin/login/?next=https://evil.test/",
                           {"email": admin.email, "password": PASSWORD,
                            "next": "https://evil.test/"})
    assert response["Location"] == f"/t/{tenant.slug}/admin/"


def test_api_token_page_shows_token_once_and_revokes(portal, tenant):
    response = portal.post(f"/t/{tenant.slug}/admin/settings/api-tokens/", {"name": "CI"})
    html = response.content.decode()
    assert "will not be shown again" in html
    token = tenant_token = html.split('<code class="secret">')[1].split("</code>")[0]
    assert token.startswith("mdm_")
    again = portal.get(f"/t/{tenant.slug}/admin/settings/api-tokens/").content.decode()
    assert tenant_token not in again
    from users.models import ApiToken

    created = ApiToken.objects.get(tenant=tenant, name="CI")
    response = portal.post(f"/t/{tenant.slug}/admin/settings/api-tokens/{created.pk}/revoke/")
    assert response.status_code == 302
    created.refresh_from_db()
    assert created.revoked_at is not None


def test_foreign_api_token_cannot_be_revoked(portal, tenant, other_tenant, other_admin):
    from users.services.accounts import do_create_api_token

    foreign = do_create_api_token(other_tenant, "theirs", actor=other_admin).token
    response = portal.post(f"/t/{tenant.slug}/admin/settings/api-tokens/{foreign.pk}/revoke/")
    assert response.status_code == 404
    foreign.refresh_from_db()
    assert foreign.revoked_at is None


def test_deactivated_tenant_is_404_at_once(client, tenant, admin):
    assert client.get(f"/t/{tenant.slug}/admin/login/").status_code == 200
    tenant.is_active = False
    tenant.save()
    assert client.get(f"/t/{tenant.slug}/admin/login/").status_code == 404
