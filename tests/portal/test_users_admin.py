"""Admins add users (rows, CSV), list/search/filter them, bulk-act on them; API for the same.
The API and the users pages run the shared base cases (tests/base)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audit.models import AuditEvent
from core.platforms import Platform
from devices.models import Device, DeviceState
from tests.base.api import OMIT, APIViewTestCases
from tests.base.portal import PortalViewTestCases
from users.csv_import import parse_users_csv
from users.models import User


def _rows(*emails, **extra):
    data = {"u-TOTAL_FORMS": "5", "u-INITIAL_FORMS": "0", "u-MIN_NUM_FORMS": "0",
            "u-MAX_NUM_FORMS": "200", **extra}
    for index, email in enumerate(emails):
        data[f"u-{index}-email"] = email
        data[f"u-{index}-first_name"] = f"First{index}"
    return data


def test_add_several_users_from_rows(portal, tenant):
    response = portal.post(f"/t/{tenant.slug}/admin/users/add/",
                           _rows("ann@acme.test", "bob@acme.test"))
    assert response.status_code == 302
    ann = User.objects.get(tenant=tenant, email="ann@acme.test")
    assert ann.role == "user" and ann.source == "local" and not ann.has_usable_password()
    assert AuditEvent.objects.filter(tenant=tenant, action="user.created",
                                     target_id=str(ann.pk)).exists()


def test_add_user_with_temporary_password(portal, tenant):
    data = _rows("ann@acme.test", **{"u-0-password": "Temp-pass-1234",
                                     "u-0-temporary_password": "on", "u-0-require_pin": "on"})
    assert portal.post(f"/t/{tenant.slug}/admin/users/add/", data).status_code == 302
    ann = User.objects.get(tenant=tenant, email="ann@acme.test")
    assert ann.check_password("Temp-pass-1234") and ann.must_change_password
    assert ann.require_registration_pin


def test_bad_rows_add_nothing_and_say_why(portal, tenant, admin):
    data = _rows("ann@acme.test", "ANN@acme.test", admin.email,
                 **{"u-3-email": "bob@acme.test", "u-3-password": "short"})
    response = portal.post(f"/t/{tenant.slug}/admin/users/add/", data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing was added" in html
    assert "ann@acme.test is already on row 1" in html
    assert "admin@acme.test already has an account" in html
    assert "password rejected" in html
    assert not User.objects.filter(tenant=tenant, role="user").exists()


def test_csv_import_with_per_line_errors_and_nothing_partial(portal, tenant):
    bad = (b"email,first_name,last_name,temporary_password\n"
           b"ann@acme.test,Ann,A,no\nnot-an-email,X,Y,no\nann@acme.test,Dup,D,maybe\n")
    response = portal.post(f"/t/{tenant.slug}/admin/users/import/",
                           {"file": SimpleUploadedFile("u.csv", bad)})
    assert response.status_code == 400
    html = response.content.decode()
    assert "line 4: temporary_password must be yes or no" in html
    assert not User.objects.filter(tenant=tenant, role="user").exists()
    good = b"\xef\xbb\xbfEmail,First_Name,last_name\nann@acme.test,Ann,A\nbob@acme.test,Bob,B\n"
    response = portal.post(f"/t/{tenant.slug}/admin/users/import/",
                           {"file": SimpleUploadedFile("u.csv", good)})
    assert response.status_code == 302
    assert set(User.objects.filter(tenant=tenant, role="user").values_list("email", flat=True)
               ) == {"ann@acme.test", "bob@acme.test"}


@pytest.mark.parametrize(("data", "message"), [
    (b"\xff\xfe\x00", "not UTF-8"),
    (b"name\nx\n", "including 'email'"),
    (b"email,shoe_size\na@b.test,42\n", "Unknown columns: shoe_size"),
])
def test_csv_parse_errors(data, message):
    assert message in " ".join(parse_users_csv(data).errors)


def test_csv_duplicate_lines_reported_with_line_numbers(portal, tenant):
    data = b"email\nann@acme.test\nbob@acme.test\nAnn@acme.test\n"
    response = portal.post(f"/t/{tenant.slug}/admin/users/import/",
                           {"file": SimpleUploadedFile("u.csv", data)})
    assert "line 4: ann@acme.test is already on line 2" in response.content.decode()


def test_bulk_create_query_count_is_constant(tenant, admin, django_assert_max_num_queries):
    from users.csv_import import UserRow
    from users.services.people import do_create_users

    rows = [UserRow(line=i, email=f"u{i}@acme.test") for i in range(300)]
    with django_assert_max_num_queries(8):
        result = do_create_users(tenant, rows, actor=admin)
    assert result.ok and len(result.users) == 300


def test_user_list_search_filters_and_query_count(portal, tenant, django_assert_max_num_queries):
    users = User.objects.bulk_create([User(tenant=tenant, email=f"u{i}@acme.test",
                                           first_name="Zed" if i == 7 else "", password="!")
                                      for i in range(60)])
    Device.objects.create(tenant=tenant, platform=Platform.IOS, state=DeviceState.ACTIVE,
                          owner=users[3])
    with django_assert_max_num_queries(8):
        response = portal.get(f"/t/{tenant.slug}/admin/users/")
    assert response.status_code == 200 and "Page 1 of 2" in response.content.decode()
    html = portal.get(f"/t/{tenant.slug}/admin/users/", {"q": "zed"}).content.decode()
    assert "u7@acme.test" in html and "u8@acme.test" not in html
    html = portal.get(f"/t/{tenant.slug}/admin/users/", {"registered": "true"}).content.decode()
    assert "u3@acme.test" in html and "u4@acme.test" not in html


def test_bulk_disable_and_enable(portal, tenant, admin):
    ann = User.objects.create_user(tenant, "ann@acme.test")
    response = portal.post(f"/t/{tenant.slug}/admin/users/bulk/",
                           {"action": "disable", "users": [ann.pk, admin.pk]})
    assert response.status_code == 302
    ann.refresh_from_db()
    admin.refresh_from_db()
    assert not ann.is_active and admin.is_active  # an admin cannot disable themself
    portal.post(f"/t/{tenant.slug}/admin/users/bulk/", {"action": "enable", "users": [ann.pk]})
    ann.refresh_from_db()
    assert ann.is_active


def test_bulk_action_ignores_foreign_users(portal, tenant, other_tenant):
    foreign = User.objects.create_user(other_tenant, "eve@globex.test")
    portal.post(f"/t/{tenant.slug}/admin/users/bulk/", {"action": "disable",
                                                         "users": [foreign.pk]})
    foreign.refresh_from_db()
    assert foreign.is_active


def test_bulk_send_invitation_emails_each_user(portal, tenant,
                                               django_capture_on_commit_callbacks):
    from django.core import mail

    from enrollment.models import Invitation

    ann = User.objects.create_user(tenant, "ann@acme.test")
    bob = User.objects.create_user(tenant, "bob@acme.test", "Bob-pass-12345")
    with django_capture_on_commit_callbacks(execute=True):
        response = portal.post(f"/t/{tenant.slug}/admin/users/bulk/",
                               {"action": "invite", "users": [ann.pk, bob.pk]})
    assert response.status_code == 302
    assert Invitation.objects.filter(tenant=tenant).count() == 2
    assert sorted(message.to[0] for message in mail.outbox) == ["ann@acme.test",
                                                                 "bob@acme.test"]
    assert "/go" in mail.outbox[0].body


def test_add_users_form_can_send_invitations(portal, tenant, django_capture_on_commit_callbacks):
    from django.core import mail

    with django_capture_on_commit_callbacks(execute=True):
        response = portal.post(f"/t/{tenant.slug}/admin/users/add/",
                               _rows("ann@acme.test", send_invitation="on"))
    assert response.status_code == 302
    assert [message.to for message in mail.outbox] == [["ann@acme.test"]]


def make_user(tenant, index: int) -> User:
    return User.objects.create_user(tenant, f"user-{tenant.slug}-{index:03}@{tenant.slug}.test",
                                    first_name=f"User{index}")


class TestUserAPI(APIViewTestCases.GetObjectViewTestCase,
                  APIViewTestCases.ListObjectsViewTestCase,
                  APIViewTestCases.CreateObjectViewTestCase,
                  APIViewTestCases.UpdateObjectViewTestCase):
    url = "/api/v1/users/"
    model = User
    list_fields = ["id", "email", "first_name", "last_name", "role", "source", "is_active",
                   "must_change_password", "require_registration_pin", "has_password",
                   "is_registered", "date_joined"]
    create_data = [
        {"email": "ann@acme.test", "first_name": "Ann", "last_name": "Lee"},
        {"email": "bob@acme.test", "password": "Bob-pass-12345",
         "require_registration_pin": True},
        {"email": "cy@acme.test", "first_name": "Cy", "temporary_password": False},
    ]
    update_data = {"first_name": "Annie", "last_name": "Lee", "require_registration_pin": True}
    bad_data = [
        ({"email": "not-an-email"}, "email"),
        ({"email": OMIT}, "email"),
        ({"password": "123"}, "password"),
        ({"first_name": "x" * 151}, "first_name"),
    ]
    list_max_queries = 6

    def make_object(self, tenant, admin, index):
        return make_user(tenant, index)

    def test_api_create_list_update_user(self, api, tenant):
        response = api.post("/api/v1/users/", {"email": "Ann@Acme.test", "first_name": "Ann",
                                               "last_name": "Lee"}, format="json")
        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["email"] == "ann@acme.test" and body["has_password"] is False
        duplicate = api.post("/api/v1/users/", {"email": "ann@acme.test"}, format="json")
        assert duplicate.status_code == 409
        assert "already has an account" in duplicate.json()["error"]["fields"]["email"][0]
        taken = api.post("/api/v1/users/", {"email": "admin@acme.test"}, format="json")
        assert taken.status_code == 409 and list(taken.json()["error"]["fields"]) == ["email"]
        weak = api.post("/api/v1/users/", {"email": "x@acme.test", "password": "123"},
                        format="json")
        assert weak.status_code == 400 and "password" in weak.json()["error"]["fields"]
        listed = api.get("/api/v1/users/", {"q": "ann"}).json()
        assert [row["email"] for row in listed["results"]] == ["ann@acme.test"]
        patched = api.patch(f"/api/v1/users/{body['id']}/", {"require_registration_pin": True},
                            format="json")
        assert patched.status_code == 200 and patched.json()["require_registration_pin"]
        read_only = api.patch(f"/api/v1/users/{body['id']}/", {"email": "new@acme.test"},
                              format="json")
        assert read_only.status_code == 400
        assert read_only.json()["error"]["fields"] == {"email": ["Read-only field."]}
        assert api.delete(f"/api/v1/users/{body['id']}/").status_code == 405

    def test_api_create_user_with_invitation(self, api, tenant, django_capture_on_commit_callbacks):
        from django.core import mail

        with django_capture_on_commit_callbacks(execute=True):
            response = api.post("/api/v1/users/", {"email": "cy@acme.test",
                                                   "send_invitation": True}, format="json")
        assert response.status_code == 201
        assert [message.to for message in mail.outbox] == [["cy@acme.test"]]


class TestUserListPage(PortalViewTestCases.ListViewTestCase,
                       PortalViewTestCases.ObjectViewTestCase):
    path = "users/"
    detail_paths = ("users/{pk}/",)
    max_queries = 8

    def make_object(self, tenant, admin, index):
        return make_user(tenant, index)

    def object_marker(self, obj) -> str:
        return obj.email
