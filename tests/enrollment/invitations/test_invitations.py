"""Invitations (S1, S11, S12): bulk send, emails, resend, expiry, API, isolation."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from enrollment.models import Invitation, InvitationStatus, RegistrationPin
from enrollment.services.invitations import (
    InvitationError,
    do_send_invitations,
    expire_invitations,
)
from enrollment.services.links import current_link
from enrollment.services.pins import verify_pin
from enrollment.services.policies import do_save_registration_policy, policy_for
from tests.base.tenancy import TenantIsolationContract
from tests.enrollment.invitations.conftest import make_user
from users.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    def _send(tenant, users, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return do_send_invitations(tenant, users, **kwargs)
    return _send


def _parts(message):
    html = next(body for body, kind in message.alternatives if kind == "text/html")
    return message.body, html


def test_invitation_email_has_link_pin_and_steps(send, tenant, admin, alice, bob):
    sent = send(tenant, [alice, bob], actor=admin)
    assert len(mail.outbox) == 2
    by_email = {message.to[0]: message for message in mail.outbox}
    for result in sent:
        text, html = _parts(by_email[result.invitation.user.email])
        assert result.url.endswith("/go") and result.url in text and result.url in html
        assert "Settings > General > VPN & Device Management" in text
        assert "Google Play" in text and "self-service portal" in text
        assert "VPN &amp; Device Management" in html
    alice_result = next(r for r in sent if r.invitation.user == alice)
    bob_result = next(r for r in sent if r.invitation.user == bob)
    assert alice_result.pin is None and "PIN" not in _parts(by_email[alice.email])[0]
    bob_text, bob_html = _parts(by_email[bob.email])
    assert bob_result.pin and bob_result.pin in bob_text and bob_result.pin in bob_html
    assert "You will then set your password" in bob_text
    assert all(i.status == InvitationStatus.SENT and i.sent_at
               for i in Invitation.objects.for_tenant(tenant))
    assert AuditEvent.objects.filter(tenant=tenant, action="invitation.sent").count() == 2
    assert "Acme" in mail.outbox[0].subject


def test_ldap_user_is_told_to_use_network_credentials(send, tenant, admin, carol):
    result = send(tenant, [carol], actor=admin)[0]
    text, html = _parts(mail.outbox[0])
    assert "network (directory) credentials" in text and "network (directory) credentials" in html
    assert result.pin is None  # the directory password is the credential


def test_temporary_password_goes_in_the_email_only_when_the_policy_allows(send, tenant, admin):
    dave = make_user(tenant, "dave@acme.test", "Temp-password-1", must_change_password=True)
    send(tenant, [dave], actor=admin, temporary_passwords={dave.pk: "Temp-password-1"})
    text, _ = _parts(mail.outbox[0])
    assert "Temp-password-1" not in text and "temporary password your administrator" in text
    do_save_registration_policy(tenant, {"email_temporary_password": True}, actor=admin)
    send(tenant, [dave], actor=admin, temporary_passwords={dave.pk: "Temp-password-1"})
    text, html = _parts(mail.outbox[1])
    assert "Temporary password: Temp-password-1" in text and "Temp-password-1" in html


def test_policy_always_sends_a_pin_to_everyone(send, tenant, admin, alice, carol):
    do_save_registration_policy(tenant, {"pin_requirement": "always"}, actor=admin)
    sent = send(tenant, [alice, carol], actor=admin)
    assert all(result.pin for result in sent)
    assert "enter it after your password" in mail.outbox[0].body


def test_resend_invalidates_the_old_pin_and_invitation(send, client, tenant, admin, bob):
    first = send(tenant, [bob], actor=admin)[0]
    second = send(tenant, [bob], actor=admin)[0]
    first.invitation.refresh_from_db()
    assert first.invitation.status == InvitationStatus.REVOKED
    assert RegistrationPin.objects.get(pk=first.invitation.pin_id).revoked_at is not None
    if first.pin != second.pin:
        assert not verify_pin(tenant, bob, first.pin).ok
    # The old invitation URL no longer prefills or counts as opened.
    path = "/" + first.url.split("://", 1)[1].split("/", 1)[1]
    client.get(path, HTTP_USER_AGENT="iPhone")
    first.invitation.refresh_from_db()
    assert first.invitation.status == InvitationStatus.REVOKED
    assert verify_pin(tenant, bob, second.pin).ok
    assert AuditEvent.objects.filter(tenant=tenant, action="invitation.revoked").exists()


def _users(tenant, prefix, count):
    return User.objects.bulk_create([
        User(tenant=tenant, email=f"{prefix}{n}@acme.test", password="!") for n in range(count)])


def test_bulk_invitations_use_a_constant_number_of_queries(tenant, admin,
                                                           django_capture_on_commit_callbacks):
    few, many = _users(tenant, "few", 5), _users(tenant, "many", 50)
    policy_for(tenant), current_link(tenant)  # made once per tenant, on first use
    counts = []
    for group in (few, many):
        with CaptureQueriesContext(connection) as queries, \
                django_capture_on_commit_callbacks(execute=True):
            sent = do_send_invitations(tenant, group, actor=admin)
        assert len(sent) == len(group) and all(result.pin for result in sent)
        counts.append(len(queries))
    assert counts[0] == counts[1] <= 12, counts
    assert len(mail.outbox) == 55


def test_invitations_expire_in_a_set_based_sweep(send, tenant, other_tenant, admin, other_admin,
                                                 alice, bob):
    send(tenant, [alice, bob], actor=admin)
    send(other_tenant, [make_user(other_tenant, "x@globex.test")], actor=other_admin)
    assert expire_invitations() == 0
    later = timezone.now() + dt.timedelta(days=15)
    with CaptureQueriesContext(connection) as queries:
        assert expire_invitations(later) == 3
    assert len(queries) <= 5
    assert set(Invitation.objects.values_list("status", flat=True)) == {InvitationStatus.EXPIRED}
    summary = AuditEvent.objects.get(tenant=tenant, action="invitation.expired")
    assert summary.detail == {"expired": 2}
    assert expire_invitations(later) == 0


def test_cannot_invite_foreign_or_disabled_users(tenant, admin, other_tenant):
    stranger = make_user(other_tenant, "s@globex.test")
    with pytest.raises(InvitationError):
        do_send_invitations(tenant, [stranger], actor=admin)
    gone = make_user(tenant, "gone@acme.test", is_active=False)
    with pytest.raises(InvitationError):
        do_send_invitations(tenant, [gone], actor=admin)
    assert not Invitation.objects.exists() and not mail.outbox
    assert do_send_invitations(tenant, [], actor=admin) == []


def test_email_failure_is_audited_and_leaves_the_invitation_pending(send, tenant, admin, alice,
                                                                    settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens there
    send(tenant, [alice], actor=admin)
    assert Invitation.objects.get(user=alice).status == InvitationStatus.PENDING
    assert AuditEvent.objects.filter(tenant=tenant, action="invitation.email_failed").exists()


# API

def test_api_invites_one_user(api, tenant, bob, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/users/{bob.pk}/invitations/")
    assert response.status_code == 201
    body = response.json()
    assert body["url"].endswith("/go") and body["pin"].isdigit() and body["expires_at"]
    assert len(mail.outbox) == 1 and body["pin"] in mail.outbox[0].body


def test_api_refuses_foreign_unknown_and_disabled_users(api, tenant, other_tenant):
    stranger = make_user(other_tenant, "s@globex.test")
    assert api.post(f"/api/v1/users/{stranger.pk}/invitations/").status_code == 404
    assert api.post("/api/v1/users/999999/invitations/").status_code == 404
    gone = make_user(tenant, "gone@acme.test", is_active=False)
    response = api.post(f"/api/v1/users/{gone.pk}/invitations/")
    assert response.status_code == 409 and response.json()["error"]["code"] == "conflict"


def test_api_lists_and_filters_invitations(api, send, tenant, admin, alice, bob):
    send(tenant, [alice, bob], actor=admin)
    send(tenant, [bob], actor=admin)
    rows = api.get("/api/v1/invitations/").json()["results"]
    assert len(rows) == 3
    assert {row["email"] for row in rows} == {alice.email, bob.email}
    sent = api.get(f"/api/v1/invitations/?user={bob.pk}&status=sent").json()["results"]
    assert len(sent) == 1 and sent[0]["has_pin"]
    revoked = api.get("/api/v1/invitations/?status=revoked").json()["results"]
    assert [row["user"] for row in revoked] == [bob.pk]
    for bad in ("?status=bogus", "?user=abc"):
        response = api.get("/api/v1/invitations/" + bad)
        assert response.status_code == 400, bad
    one = api.get(f"/api/v1/invitations/{rows[0]['id']}/")
    assert one.status_code == 200 and "token_hash" not in one.json()


def test_api_needs_authentication(client, tenant, bob):
    assert client.post(f"/api/v1/users/{bob.pk}/invitations/").status_code in (401, 403)
    assert client.get("/api/v1/invitations/").status_code in (401, 403)
    assert client.get("/api/v1/registration-policy/").status_code in (401, 403)


def test_api_registration_policy(api, tenant, other_api):
    body = api.get("/api/v1/registration-policy/").json()
    assert body["pin_requirement"] == "no_password" and body["pin_length"] == 6
    assert body["pin_max_attempts"] == 5 and body["invitation_validity_days"] == 14
    assert body["pin_validity_hours"] == 72 and body["link_format_version"] == 2
    response = api.put("/api/v1/registration-policy/",
                       {"pin_requirement": "always", "pin_length": 8}, format="json")
    assert response.status_code == 200 and response.json()["pin_length"] == 8
    assert other_api.get("/api/v1/registration-policy/").json()["pin_length"] == 6
    for bad in ({"pin_requirement": "never-ever"}, {"pin_length": 3}, {"pin_length": "x"},
                {"pin_max_attempts": 0}, {"invitation_validity_days": 10**9},
                {"email_temporary_password": "maybe"}):
        response = api.put("/api/v1/registration-policy/", bad, format="json")
        assert response.status_code == 400, bad
        assert response.json()["error"]["fields"]
    assert api.get("/api/v1/registration-policy/").json()["pin_length"] == 8
    assert AuditEvent.objects.filter(tenant=tenant, action="registration.policy_saved").count() == 1


def test_settings_page_saves_the_policy(portal, tenant):
    url = f"/t/{tenant.slug}/admin/settings/registration/"
    response = portal.post(url, {"action": "policy", "pin_requirement": "always",
                                 "pin_length": 7, "pin_validity_hours": 24,
                                 "pin_max_attempts": 3, "invitation_validity_days": 7,
                                 "email_temporary_password": "on"})
    assert response.status_code == 302
    body = portal.get("/api/v1/registration-policy/").json()
    assert body["pin_length"] == 7 and body["email_temporary_password"] is True
    bad = portal.post(url, {"action": "policy", "pin_requirement": "always", "pin_length": 99,
                            "pin_validity_hours": -1, "pin_max_attempts": "x",
                            "invitation_validity_days": 7})
    assert bad.status_code == 400


class TestInvitationIsolation(TenantIsolationContract):
    api_list_url = "/api/v1/invitations/"
    api_detail_url = "/api/v1/invitations/{pk}/"

    def make_object(self, tenant, admin):
        user = make_user(tenant, f"invitee@{tenant.slug}.test")
        return do_send_invitations(tenant, [user], actor=admin)[0].invitation


def test_invitation_list_query_count_does_not_grow(api, tenant, admin):
    def listing_queries():
        with CaptureQueriesContext(connection) as queries:
            assert api.get("/api/v1/invitations/?page_size=100").status_code == 200
        return len(queries)

    do_send_invitations(tenant, _users(tenant, "a", 3), actor=admin)
    listing_queries()  # the token's first use records last_used_at
    few = listing_queries()
    do_send_invitations(tenant, _users(tenant, "b", 30), actor=admin)
    assert listing_queries() == few
