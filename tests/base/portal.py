"""Shared admin-portal test cases: a test class declares the page and how to make the rows it
shows, the base supplies the tests.

    class TestDeviceListPage(PortalViewTestCases.ListViewTestCase):
        path = "devices/"              # under /t/<tenant>/admin/
        max_queries = 8                # optional ceiling; the count must not grow either way

        def make_object(self, tenant, admin, index):
            return Device.objects.create(tenant=tenant, name=f"Phone {tenant.slug} {index}")

        def object_marker(self, obj):  # text that shows `obj` on the page
            return obj.name

`ListViewTestCase`: the page renders the tenant's rows for its admin, in a number of queries
that does not grow with the rows; another tenant's rows never show; anonymous visitors, end
users and other tenants' admins are sent to the page's tenant's sign-in page; another tenant's admin
sees none of our rows on their own page. `ObjectViewTestCase` (declare `detail_paths`): each
page of one object renders for its tenant's admin, is 404 for another tenant's object and
sends anonymous visitors to sign in. Page-specific checks stay as extra methods of the class.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext


class PortalViewTestCases:
    class Base:
        object_count = 3  # objects of acme made for each test

        def make_object(self, tenant, admin, index: int):  # pragma: no cover - declared
            raise NotImplementedError

        def object_marker(self, obj) -> str:
            """Text that appears on the page when `obj` is shown."""
            return str(obj)

        def admin_url(self, tenant, path: str) -> str:
            return f"/t/{tenant.slug}/admin/{path}"

        @pytest.fixture
        def objects(self, tenant, admin) -> list:
            return [self.make_object(tenant, admin, index) for index in range(self.object_count)]

        @pytest.fixture
        def foreign_object(self, other_tenant, other_admin):
            return self.make_object(other_tenant, other_admin, 0)

        def assert_sent_to_sign_in(self, response, tenant, url: str) -> None:
            assert response.status_code == 302
            location = urlsplit(response["Location"])
            assert location.path == f"/t/{tenant.slug}/admin/login/"
            assert parse_qs(location.query)["next"] == [url]

    class ListViewTestCase(Base):
        path: str = ""                   # the list page, under /t/<tenant>/admin/
        max_queries: int | None = None   # a ceiling for the page's queries

        def list_url(self, tenant) -> str:
            return self.admin_url(tenant, self.path)

        def test_list_shows_the_tenants_objects(self, portal, tenant, objects):
            response = portal.get(self.list_url(tenant))
            assert response.status_code == 200
            html = response.content.decode()
            for obj in objects:
                assert self.object_marker(obj) in html

        def test_list_hides_foreign_objects(self, portal, tenant, objects, foreign_object):
            response = portal.get(self.list_url(tenant))
            assert response.status_code == 200
            assert self.object_marker(foreign_object) not in response.content.decode()

        def test_anonymous_is_sent_to_sign_in(self, client, tenant, objects):
            url = self.list_url(tenant)
            self.assert_sent_to_sign_in(client.get(url), tenant, url)

        def test_end_user_is_sent_to_sign_in(self, client, tenant, jane, objects):
            client.force_login(jane, backend="users.auth.TenantEmailBackend")
            url = self.list_url(tenant)
            self.assert_sent_to_sign_in(client.get(url), tenant, url)

        def test_admins_of_other_tenants_are_sent_to_sign_in(self, portal, other_portal, tenant,
                                                             other_tenant, objects):
            ours, theirs = self.list_url(tenant), self.list_url(other_tenant)
            self.assert_sent_to_sign_in(other_portal.get(ours), tenant, ours)
            self.assert_sent_to_sign_in(portal.get(theirs), other_tenant, theirs)

        def test_other_tenants_admin_sees_none_of_ours(self, other_portal, other_tenant,
                                                       objects):
            response = other_portal.get(self.list_url(other_tenant))
            assert response.status_code == 200
            html = response.content.decode()
            for obj in objects:
                assert self.object_marker(obj) not in html

        def test_list_queries_do_not_grow(self, portal, tenant, admin, objects):
            url = self.list_url(tenant)
            portal.get(url)  # per-session and per-process caches warm up on the first view
            with CaptureQueriesContext(connection) as few:
                assert portal.get(url).status_code == 200
            more = [self.make_object(tenant, admin, index)
                    for index in range(self.object_count, self.object_count + 20)]
            with CaptureQueriesContext(connection) as many:
                response = portal.get(url)
            assert response.status_code == 200
            assert self.object_marker(more[-1]) in response.content.decode()
            assert len(many) == len(few), [query["sql"] for query in many]
            if self.max_queries is not None:
                assert len(many) <= self.max_queries, [query["sql"] for query in many]

    class ObjectViewTestCase(Base):
        detail_paths: tuple[str, ...] = ()  # pages of one object, with {pk}

        def detail_urls(self, tenant, obj) -> list[str]:
            assert self.detail_paths, "declare detail_paths"
            return [self.admin_url(tenant, path.format(pk=obj.pk)) for path in self.detail_paths]

        def test_object_pages_render(self, portal, tenant, objects):
            for url in self.detail_urls(tenant, objects[0]):
                response = portal.get(url)
                assert response.status_code == 200, url
                assert self.object_marker(objects[0]) in response.content.decode(), url

        def test_object_pages_of_foreign_object_are_404(self, portal, tenant, foreign_object):
            for url in self.detail_urls(tenant, foreign_object):
                assert portal.get(url).status_code == 404, url

        def test_object_pages_send_anonymous_to_sign_in(self, client, tenant, objects):
            for url in self.detail_urls(tenant, objects[0]):
                self.assert_sent_to_sign_in(client.get(url), tenant, url)
