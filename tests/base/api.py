"""Shared REST API test cases, after NetBox's `APIViewTestCases`: a test class declares the
endpoint and its data, the base supplies the tests.

    class TestConfigurationProfileAPI(APIViewTestCases.APIViewTestCase):
        url = "/api/v1/configuration-profiles/"
        model = ConfigurationProfile
        list_fields = ["id", "name", ...]          # exactly the keys of a list row
        create_data = [{...}, {...}]               # POST bodies that succeed
        update_data = {"name": "VPN"}              # a PATCH that succeeds
        bad_data = [({"scope": "galaxy"}, "scope"), ...]  # (changes to create_data[0], field)

        def make_object(self, tenant, admin, index):      # one object of `tenant`
            return do_create_profile(tenant, actor=admin, ...)

Pick the mixins the endpoint has (`GetObject...`, `ListObjects...`, `CreateObject...`,
`UpdateObject...`, `DeleteObject...`), or `APIViewTestCase` (all five) and
`ReadOnlyAPIViewTestCase` (get and list). Every test calls as acme's admin token (the `api`
fixture) with objects of acme and one of globex; each mixin checks the tenant contract of its
method: another tenant's object is 404 on detail, update and delete and absent from the list;
without credentials every call is refused (401) and changes nothing; a bad body is 400, names
the field, and changes nothing. The list costs as many queries for 15 rows as for 3 (and at
most `list_max_queries` when declared); a read-only endpoint answers 405 to every write.
Endpoint-specific checks stay as extra methods of the class; they can use the `objects` and
`foreign_object` fixtures.

When the bodies depend on the tenant's rows (a user id, say), override `create_bodies` and
`update_body` instead of declaring `create_data` / `update_data`.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

OMIT = object()  # in `bad_data`: drop this key from the body


class APIViewTestCases:
    class Base:
        url: str = ""                # the list URL, e.g. "/api/v1/configuration-profiles/"
        model = None                 # the model behind the endpoint (tenant-owned)
        list_fields: list[str] = []  # the keys of a list row (empty: not checked)
        detail_fields: list[str] | None = None  # the keys of a detail; default: list_fields
        object_count = 3             # objects of acme made for each test
        unauthenticated_status = 401

        def make_object(self, tenant, admin, index: int):  # pragma: no cover - declared
            raise NotImplementedError

        def detail_url(self, obj) -> str:
            return f"{self.url}{obj.pk}/"

        def queryset(self, tenant):
            return self.model.objects.filter(tenant=tenant)

        def snapshot(self, obj) -> dict:
            """The stored state of `obj`, to show a refused call changed nothing."""
            return model_to_dict(type(obj).objects.get(pk=obj.pk))

        @pytest.fixture
        def objects(self, tenant, admin) -> list:
            return [self.make_object(tenant, admin, index) for index in range(self.object_count)]

        @pytest.fixture
        def foreign_object(self, other_tenant, other_admin):
            return self.make_object(other_tenant, other_admin, 0)

        @pytest.fixture
        def anonymous(self) -> APIClient:
            return APIClient()

        def assert_refused_unauthenticated(self, response) -> None:
            assert response.status_code == self.unauthenticated_status, response.content
            assert response.json()["error"]["code"] in ("not_authenticated",
                                                       "authentication_failed")

        def assert_not_found(self, response) -> None:
            assert response.status_code == 404, response.content
            assert response.json()["error"]["code"] == "not_found"

    class GetObjectViewTestCase(Base):
        def test_get_object(self, api, objects):
            expected = self.detail_fields if self.detail_fields is not None else self.list_fields
            for obj in objects:
                response = api.get(self.detail_url(obj))
                assert response.status_code == 200, response.json()
                row = response.json()
                assert row["id"] == obj.pk
                if expected:
                    assert sorted(row) == sorted(expected)

        def test_get_foreign_object_is_404(self, api, foreign_object):
            self.assert_not_found(api.get(self.detail_url(foreign_object)))

        def test_get_object_needs_credentials(self, anonymous, objects):
            self.assert_refused_unauthenticated(anonymous.get(self.detail_url(objects[0])))

    class ListObjectsViewTestCase(Base):
        list_max_queries: int | None = None  # a ceiling; the count must not grow either way

        def test_list_objects(self, api, tenant, objects):
            response = api.get(self.url, {"page_size": 500})
            assert response.status_code == 200, response.json()
            page = response.json()
            ours = set(self.queryset(tenant).values_list("pk", flat=True))
            assert page["count"] == len(ours)
            listed = {row["id"] for row in page["results"]}
            assert listed == ours and {obj.pk for obj in objects} <= listed
            if self.list_fields:
                for row in page["results"]:
                    assert sorted(row) == sorted(self.list_fields)

        def test_list_hides_foreign_objects(self, api, objects, foreign_object):
            response = api.get(self.url, {"page_size": 500})
            assert response.status_code == 200
            assert foreign_object.pk not in {row["id"] for row in response.json()["results"]}

        def test_list_needs_credentials(self, anonymous, objects):
            self.assert_refused_unauthenticated(anonymous.get(self.url))

        def test_list_queries_do_not_grow(self, api, tenant, admin, objects):
            api.get(self.url)  # the token's last-use stamp is written once a minute
            with CaptureQueriesContext(connection) as few:
                assert api.get(self.url).status_code == 200
            for index in range(self.object_count, self.object_count + 12):
                self.make_object(tenant, admin, index)
            with CaptureQueriesContext(connection) as many:
                assert api.get(self.url).status_code == 200
            assert len(many) == len(few), [query["sql"] for query in many]
            if self.list_max_queries is not None:
                assert len(many) <= self.list_max_queries, [query["sql"] for query in many]

    class CreateObjectViewTestCase(Base):
        create_data: list[dict] = []
        bad_data: list[tuple[dict, str]] = []  # (changes to the first create body, field)
        normalised_fields: tuple[str, ...] = ()  # sent keys the reply holds in another form

        def create_bodies(self, tenant) -> list[dict]:
            return [dict(body) for body in self.create_data]

        def pytest_generate_tests(self, metafunc):
            if "bad_case" in metafunc.fixturenames:
                metafunc.parametrize("bad_case", self.bad_data,
                                     ids=[f"{index}-{field}" for index, (_, field)
                                          in enumerate(self.bad_data)])

        def test_create_object(self, api, tenant, objects):
            bodies = self.create_bodies(tenant)
            assert bodies, "declare create_data or create_bodies"
            for body in bodies:
                before = self.queryset(tenant).count()
                response = api.post(self.url, body, format="json")
                assert response.status_code == 201, response.json()
                created = response.json()
                assert self.queryset(tenant).filter(pk=created["id"]).exists()
                assert self.queryset(tenant).count() == before + 1
                for key, value in body.items():
                    if key in created and key not in self.normalised_fields:
                        assert created[key] == value, key
                detail = api.get(self.detail_url(self.model.objects.get(pk=created["id"])))
                assert detail.status_code == 200 and detail.json()["id"] == created["id"]

        def test_create_object_needs_credentials(self, anonymous, tenant, objects):
            before = self.model.objects.count()
            body = self.create_bodies(tenant)[0]
            self.assert_refused_unauthenticated(anonymous.post(self.url, body, format="json"))
            assert self.model.objects.count() == before

        def test_create_bad_input_is_400(self, api, tenant, objects, bad_case):
            changes, field = bad_case
            body = {**self.create_bodies(tenant)[0], **changes}
            body = {key: value for key, value in body.items() if value is not OMIT}
            before = self.model.objects.count()
            response = api.post(self.url, body, format="json")
            assert response.status_code == 400, response.json()
            assert field in response.json()["error"]["fields"], response.json()
            assert self.model.objects.count() == before

    class UpdateObjectViewTestCase(Base):
        update_data: dict = {}

        def update_body(self, tenant) -> dict:
            return dict(self.update_data)

        def test_update_object(self, api, tenant, objects):
            body = self.update_body(tenant)
            assert body, "declare update_data or update_body"
            response = api.patch(self.detail_url(objects[0]), body, format="json")
            assert response.status_code == 200, response.json()
            stored = api.get(self.detail_url(objects[0])).json()
            for key, value in body.items():
                assert response.json()[key] == value, key
                assert stored[key] == value, key

        def test_update_foreign_object_is_404(self, api, tenant, foreign_object):
            before = self.snapshot(foreign_object)
            response = api.patch(self.detail_url(foreign_object), self.update_body(tenant),
                                 format="json")
            self.assert_not_found(response)
            assert self.snapshot(foreign_object) == before

        def test_update_object_needs_credentials(self, anonymous, tenant, objects):
            before = self.snapshot(objects[0])
            response = anonymous.patch(self.detail_url(objects[0]), self.update_body(tenant),
                                       format="json")
            self.assert_refused_unauthenticated(response)
            assert self.snapshot(objects[0]) == before

    class DeleteObjectViewTestCase(Base):
        def test_delete_object(self, api, tenant, objects):
            before = self.queryset(tenant).count()
            response = api.delete(self.detail_url(objects[0]))
            assert response.status_code == 204, response.content
            assert not self.model.objects.filter(pk=objects[0].pk).exists()
            assert self.queryset(tenant).count() == before - 1

        def test_delete_foreign_object_is_404(self, api, foreign_object):
            self.assert_not_found(api.delete(self.detail_url(foreign_object)))
            assert self.model.objects.filter(pk=foreign_object.pk).exists()

        def test_delete_object_needs_credentials(self, anonymous, objects):
            self.assert_refused_unauthenticated(anonymous.delete(self.detail_url(objects[0])))
            assert self.model.objects.filter(pk=objects[0].pk).exists()

    class ReadOnlyAPIViewTestCase(GetObjectViewTestCase, ListObjectsViewTestCase):
        def test_writes_are_not_allowed(self, api, tenant, objects):
            before = [self.snapshot(obj) for obj in objects]
            count = self.queryset(tenant).count()
            assert api.post(self.url, {}, format="json").status_code == 405
            for method in (api.put, api.patch, api.delete):
                assert method(self.detail_url(objects[0]), {}, format="json"
                              ).status_code == 405
            assert [self.snapshot(obj) for obj in objects] == before
            assert self.queryset(tenant).count() == count

    class APIViewTestCase(GetObjectViewTestCase, ListObjectsViewTestCase,
                          CreateObjectViewTestCase, UpdateObjectViewTestCase,
                          DeleteObjectViewTestCase):
        pass
