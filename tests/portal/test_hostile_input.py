"""What a black-box probe of the admin API and portals found: each case was a 500, a bypass
or a leak before it was fixed."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections

from audit.events import AuditAction
from audit.models import AuditEvent
from audit.record import record
from enrollment.models import RegistrationPin
from enrollment.services.pins import do_issue_pin
from users.csv_import import UserRow
from users.models import Tenant, User
from users.services import people


def test_a_deactivated_organizations_admin_session_opens_no_api(portal, tenant):
    assert portal.get("/api/v1/users/").status_code == 200
    Tenant.objects.filter(pk=tenant.pk).update(is_active=False)
    assert portal.get("/api/v1/users/").status_code in (401, 403)


def test_sign_in_lockout_counts_case_folded_spellings_as_one_account(client, tenant, admin,
                                                                    settings):
    """"ſ" (long s) upper-cases to "S": sign-in finds the same account, so the lockout must
    count it as the same account too."""
    settings.MDM_LOGIN_ATTEMPT_LIMIT = 3
    User.objects.create_user(tenant, "victim@acme.test", password="Victim-pass-123")
    url = f"/t/{tenant.slug}/portal/login/"
    for _ in range(3):
        client.post(url, {"email": "victim@acme.test", "password": "wrong-password"})
    response = client.post(url, {"email": "victim@acme.teſt", "password": "Victim-pass-123"})
    assert response.status_code == 400
    assert "Too many failed attempts" in response.content.decode()


def test_addresses_that_fold_to_another_are_refused(tenant, admin):
    result = people.do_create_users(tenant, [UserRow(line=2, email="sam@acme.teſt")],
                                    actor=admin)
    assert result.errors == ["row 2: write 'sam@acme.teſt' as 'sam@acme.test'"]


def test_a_concurrent_duplicate_address_is_a_clear_error(tenant, admin, monkeypatch):
    """Both requests passed validation; the database's constraint stops the second."""
    User.objects.create_user(tenant, "dup@acme.test")
    monkeypatch.setattr(people, "check_rows", lambda *args: [])
    result = people.do_create_users(tenant, [UserRow(line=2, email="dup@acme.test")],
                                    actor=admin)
    assert result.errors and "already has an account" in result.errors[0]
    assert User.objects.filter(tenant=tenant, email="dup@acme.test").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_pins_for_one_user_leave_one_live_pin(tenant, admin):
    ann = User.objects.create_user(tenant, "ann@acme.test")

    def issue(_index: int) -> None:
        try:
            do_issue_pin(tenant, ann, actor=admin)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(issue, range(8)))
    live = RegistrationPin.objects.filter(user=ann, used_at=None, revoked_at=None)
    assert live.count() == 1


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-23:00", "0001-01-01T00:00:00+05:00"])
def test_date_filters_past_the_calendar_in_utc_are_a_400(api, portal, tenant, value):
    assert api.get("/api/v1/devices/", {"seen_since": value}).status_code == 400
    assert api.get("/api/v1/audit-events/", {"since": value}).status_code == 400
    assert portal.get(f"/t/{tenant.slug}/admin/devices/", {"seen_since": value}
                      ).status_code in (200, 400)
    assert portal.get(f"/t/{tenant.slug}/admin/audit/export.csv", {"since": value}
                      ).status_code == 400


def test_csv_import_with_a_nul_byte_is_a_row_error(portal, tenant):
    response = portal.post(f"/t/{tenant.slug}/admin/users/import/", {
        "file": SimpleUploadedFile("u.csv", b"email,first_name\ncsv1@acme.test,a\x00b\n")})
    assert response.status_code == 400
    assert "NUL character" in response.content.decode()
    assert not User.objects.filter(tenant=tenant, email="csv1@acme.test").exists()


def test_audit_export_neutralises_formulas_in_the_actor_column(portal, tenant):
    record(tenant, AuditAction.LOGIN_FAILED, actor="=2+5-cmd|calc!A0@x.com",
           detail={"reason": "unknown account"})
    body = b"".join(portal.get(f"/t/{tenant.slug}/admin/audit/export.csv").streaming_content)
    assert b",'=2+5-cmd|calc!A0@x.com," in body and b",=2+5" not in body


def test_users_bulk_action_odd_ids_and_foreign_next(portal, tenant):
    """"²" is a digit to isdigit() but not to int(), an id past a bigint overflows the query:
    both are refused like any id not of this organization; after the action, a "next" on
    another site is not followed."""
    ann = User.objects.create_user(tenant, "ann@acme.test")
    users_page = f"/t/{tenant.slug}/admin/users/"
    odd = portal.post(f"/t/{tenant.slug}/admin/users/bulk/",
                      {"action": "disable", "users": ["²", "9" * 30]})
    assert odd.status_code == 302 and odd["Location"] == users_page
    ann.refresh_from_db()
    assert ann.is_active
    done = portal.post(f"/t/{tenant.slug}/admin/users/bulk/", {
        "action": "disable", "users": [str(ann.pk)], "next": "https://evil.example/x"})
    assert done.status_code == 302 and done["Location"] == users_page
    ann.refresh_from_db()
    assert not ann.is_active


def test_home_with_a_nul_byte_is_an_unknown_organization(client):
    assert client.get("/", {"organization": "\x00"}).status_code == 404


def test_add_users_form_never_echoes_a_password(portal, tenant):
    response = portal.post(f"/t/{tenant.slug}/admin/users/new/", {
        "form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "0",
        "form-0-email": "not-an-email", "form-0-password": "Secret-pass-987"})
    assert b"Secret-pass-987" not in response.content


def test_audit_event_schema_allows_null_emails(api):
    schema = api.get("/api/schema/", {"format": "json"}).json()
    fields = schema["components"]["schemas"]["AuditEvent"]["properties"]
    assert fields["actor_email"].get("nullable") and fields["user_email"].get("nullable")


def test_enabling_and_disabling_is_in_each_users_own_trail(portal, api, tenant):
    ann = User.objects.create_user(tenant, "ann@acme.test")
    bob = User.objects.create_user(tenant, "bob@acme.test")
    portal.post(f"/t/{tenant.slug}/admin/users/bulk/",
                {"action": "disable", "users": [ann.pk, bob.pk]})
    for user in (ann, bob):
        events = api.get("/api/v1/audit-events/", {"user": user.pk}).json()["results"]
        assert [(e["action"], e["detail"]) for e in events] == [
            ("user.updated", {"is_active": False})]


def test_an_update_that_changes_nothing_writes_no_event(api, tenant):
    ann = User.objects.create_user(tenant, "ann@acme.test", first_name="Ann")
    before = AuditEvent.objects.filter(tenant=tenant).count()
    response = api.patch(f"/api/v1/users/{ann.pk}/", {"first_name": "Ann"}, format="json")
    assert response.status_code == 200
    assert AuditEvent.objects.filter(tenant=tenant).count() == before


def test_a_read_only_or_unknown_field_is_refused_by_name(api, tenant):
    ann = User.objects.create_user(tenant, "ann@acme.test", first_name="Ann")
    response = api.patch(f"/api/v1/users/{ann.pk}/",
                         {"first_name": "Anne", "email": "x@y.z", "nickname": "A"})
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"email": ["Read-only field."],
                                                   "nickname": ["Unknown field."]}
    ann.refresh_from_db()
    assert (ann.email, ann.first_name) == ("ann@acme.test", "Ann")
