"""The tenant-isolation contract every tenant-owned endpoint and page must meet.

Subclass `TenantIsolationContract` (in a `Test*` class), declare how to make one object in a
tenant and where it shows up; the contract probes every list, detail and portal page from
another tenant and expects nothing but 404 / absence. The API and portal base cases
(api.py, portal.py) carry the same contract for what they test; this one serves the endpoints
and pages that do not use them yet.
"""

from __future__ import annotations

import pytest


class TenantIsolationContract:
    api_list_url: str = ""               # e.g. "/api/v1/audit-events/"
    api_detail_url: str | None = None    # format string with {pk}
    portal_detail_urls: tuple[str, ...] = ()  # format strings with {slug} and {pk}
    portal_list_url: str | None = None   # format string with {slug}

    def make_object(self, tenant, admin):  # pragma: no cover - declared by subclasses
        raise NotImplementedError

    def object_marker(self, obj) -> str:
        """A string that appears in list output when the object is listed."""
        return str(obj.pk)

    @pytest.fixture
    def foreign_object(self, other_tenant, other_admin):
        return self.make_object(other_tenant, other_admin)

    def test_api_list_hides_foreign_objects(self, api, foreign_object):
        response = api.get(self.api_list_url)
        assert response.status_code == 200
        ids = {row["id"] for row in response.json()["results"]}
        assert foreign_object.pk not in ids

    def test_api_detail_of_foreign_object_is_404(self, api, foreign_object):
        if not self.api_detail_url:
            return
        response = api.get(self.api_detail_url.format(pk=foreign_object.pk))
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"

    def test_portal_pages_of_foreign_object_are_404(self, portal, tenant, foreign_object):
        for template in self.portal_detail_urls:
            url = template.format(slug=tenant.slug, pk=foreign_object.pk)
            assert portal.get(url).status_code == 404, url

    def test_portal_list_hides_foreign_objects(self, portal, tenant, foreign_object):
        if not self.portal_list_url:
            return
        response = portal.get(self.portal_list_url.format(slug=tenant.slug))
        assert response.status_code == 200
        assert self.object_marker(foreign_object) not in response.content.decode()

    def test_other_tenants_portal_refuses_our_admin(self, portal, other_tenant):
        if not self.portal_list_url:
            return
        response = portal.get(self.portal_list_url.format(slug=other_tenant.slug))
        assert response.status_code == 302
        assert "/login/" in response["Location"]
