"""Registration URLs (S4, S8-S10): generated, versioned, revoked; invalid ones answer 410."""

from __future__ import annotations

import pytest
from django.conf import settings

from audit.models import AuditEvent
from enrollment.models import CURRENT_LINK_FORMAT, RegistrationLink
from enrollment.services.links import current_go_url, current_link, do_generate_link
from tests.base.tenancy import TenantIsolationContract
from tests.enrollment.invitations.conftest import IPHONE, go_path

pytestmark = pytest.mark.django_db
GONE_TEXT = "This registration link is no longer valid. Ask your administrator for a new one."


def test_current_go_url_is_generated_once_and_ends_in_go(tenant):
    url = current_go_url(tenant)
    assert url == current_go_url(tenant)
    assert url.startswith(f"{settings.MDM_PUBLIC_URL}/r/{CURRENT_LINK_FORMAT}/")
    assert url.endswith("/go")
    assert RegistrationLink.objects.for_tenant(tenant).count() == 1


def test_regenerating_revokes_the_old_link(client, tenant, admin):
    old = current_link(tenant)
    new = do_generate_link(tenant, actor=admin)
    old.refresh_from_db()
    assert old.revoked_at is not None and new.token != old.token
    response = client.get(go_path(old), HTTP_USER_AGENT=IPHONE)
    assert response.status_code == 410
    assert GONE_TEXT in response.content.decode()
    assert client.get(go_path(new), HTTP_USER_AGENT=IPHONE).status_code == 200
    assert AuditEvent.objects.filter(tenant=tenant, action="registration.link_revoked").exists()
    assert AuditEvent.objects.filter(tenant=tenant, action="registration.link_rejected",
                                     detail__reason="revoked").exists()


def test_old_format_links_are_gone_and_replaced_on_first_use(client, tenant):
    old = RegistrationLink.objects.create(tenant=tenant, token="oldformattoken", format_version=1)
    response = client.get(go_path(old), HTTP_USER_AGENT=IPHONE)
    assert response.status_code == 410 and GONE_TEXT in response.content.decode()
    # The same token under the current version number is not accepted either.
    assert client.get(f"/r/{CURRENT_LINK_FORMAT}/{old.token}/go").status_code == 410
    # The server makes a current-format link when one is needed, revoking the old one.
    assert current_link(tenant).format_version == CURRENT_LINK_FORMAT
    old.refresh_from_db()
    assert old.revoked_at is not None


@pytest.mark.parametrize("path", [
    "/r/", "/r/2", "/r/2/", "/r/2/unknown-token/go", "/r/1/unknown/go", "/r/x/y/go",
    "/r/2/unknown/go/pin", "/r/2/unknown/go/password", "/r/2/unknown/i/abc/go",
    "/r/99999999999999999999/t/go", "/r/2/" + "a" * 300 + "/go", "/r/2/%00%ff/go",
    "/r/2/tok/go/extra/segments", "/r/2/<script>/go",
])
def test_unknown_or_malformed_links_answer_410_never_500(client, db, path):
    response = client.get(path, HTTP_USER_AGENT=IPHONE)
    assert response.status_code == 410, path
    assert GONE_TEXT in response.content.decode()
    assert client.post(path, {"email": "x", "password": "y"}).status_code in (403, 410)


def test_api_lists_and_generates_links(api, tenant):
    first = api.post("/api/v1/registration-links/")
    assert first.status_code == 201
    body = first.json()
    assert body["url"].endswith("/go") and body["is_current"]
    assert body["format_version"] == CURRENT_LINK_FORMAT
    second = api.post("/api/v1/registration-links/", {"garbage": [1, 2]}, format="json").json()
    listed = api.get("/api/v1/registration-links/").json()["results"]
    by_id = {row["id"]: row for row in listed}
    assert by_id[second["id"]]["revoked_at"] is None
    assert by_id[body["id"]]["revoked_at"] is not None and not by_id[body["id"]]["is_current"]


def test_settings_page_shows_and_regenerates_the_url(portal, tenant):
    page = portal.get(f"/t/{tenant.slug}/admin/settings/registration/")
    assert page.status_code == 200 and "Generate the URL" in page.content.decode()
    response = portal.post(f"/t/{tenant.slug}/admin/settings/registration/",
                           {"action": "regenerate"})
    assert response.status_code == 302
    link = current_link(tenant)
    page = portal.get(f"/t/{tenant.slug}/admin/settings/registration/").content.decode()
    assert go_path(link) in page
    portal.post(f"/t/{tenant.slug}/admin/settings/registration/", {"action": "regenerate"})
    page = portal.get(f"/t/{tenant.slug}/admin/settings/registration/").content.decode()
    assert go_path(link) not in page and "Revoked URLs" in page


def test_settings_page_needs_an_admin(client, tenant):
    response = client.get(f"/t/{tenant.slug}/admin/settings/registration/")
    assert response.status_code == 302 and "/login/" in response["Location"]


class TestRegistrationLinkIsolation(TenantIsolationContract):
    api_list_url = "/api/v1/registration-links/"
    portal_list_url = "/t/{slug}/admin/settings/registration/"

    def make_object(self, tenant, admin):
        return do_generate_link(tenant, actor=admin)

    def object_marker(self, obj) -> str:
        return obj.token
