"""The /go flow: desktop vs phone, password / network credentials / PIN sign-in, set a
password, then the self-service register page."""

from __future__ import annotations

from unittest import mock

import pytest

from audit.models import AuditEvent
from enrollment.models import InvitationStatus
from enrollment.selfservice.register import PIN_OK_SESSION_KEY
from enrollment.services.invitations import do_send_invitations
from enrollment.services.pins import do_issue_pin
from enrollment.services.policies import do_save_registration_policy
from tests.conftest import PASSWORD
from tests.enrollment.invitations.conftest import ANDROID, IPHONE, MAC, WINDOWS, go_path, make_user
from users.models import User

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "Purple-elephant-42"


def _signed_in_as(client) -> int | None:
    value = client.session.get("_auth_user_id")
    return int(value) if value else None


def _register_url(tenant, platform):
    return f"/t/{tenant.slug}/portal/register/?platform={platform}"


@pytest.mark.parametrize("agent", [WINDOWS, "", "curl/8.0", "x" * 5000])
def test_desktop_is_told_to_open_the_link_on_the_phone(client, link, agent):
    response = client.get(go_path(link), HTTP_USER_AGENT=agent)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Open this link on your phone" in html and go_path(link) in html
    assert "<svg" in html and 'name="password"' not in html
    assert "Register this Mac" not in html


def test_mac_is_offered_register_this_mac_and_ipad_desktop_mode(client, link, tenant):
    html = client.get(go_path(link), HTTP_USER_AGENT=MAC).content.decode()
    assert "Register this Mac" in html and f'href="{go_path(link)}?platform=macos"' in html
    assert "Registering a phone instead?" in html and "<svg" in html
    assert 'name="password"' not in html
    assert "?platform=ios" in html
    # An iPad in desktop mode continues with the phone flow.
    ipad = client.get(go_path(link) + "?platform=ios", HTTP_USER_AGENT=MAC)
    assert 'name="password"' in ipad.content.decode()


@pytest.mark.parametrize("agent,platform", [(IPHONE, "ios"), (ANDROID, "android")])
def test_phone_signs_in_with_password_and_continues_to_register(client, link, tenant, alice,
                                                                agent, platform):
    page = client.get(go_path(link), HTTP_USER_AGENT=agent)
    assert page.status_code == 200 and "I have a PIN" in page.content.decode()
    response = client.post(go_path(link), {"email": "ALICE@acme.test", "password": PASSWORD},
                           HTTP_USER_AGENT=agent)
    assert response.status_code == 302
    assert response["Location"] == _register_url(tenant, platform)
    assert _signed_in_as(client) == alice.pk


def test_wrong_password_and_unknown_user_are_refused_alike(client, link, tenant, alice):
    wrong = client.post(go_path(link), {"email": alice.email, "password": "nope-nope-nope"},
                        HTTP_USER_AGENT=IPHONE)
    unknown = client.post(go_path(link), {"email": "ghost@acme.test", "password": "x"},
                          HTTP_USER_AGENT=IPHONE)
    for response in (wrong, unknown):
        assert response.status_code == 400
        assert "The email or password is not correct." in response.content.decode()
    assert _signed_in_as(client) is None
    assert AuditEvent.objects.filter(tenant=tenant, action="auth.login_failed").count() == 2


def test_password_sign_in_is_rate_limited(client, link, alice, settings):
    settings.MDM_LOGIN_ATTEMPT_LIMIT = 2
    for _ in range(2):
        client.post(go_path(link), {"email": alice.email, "password": "bad-bad-bad"},
                    HTTP_USER_AGENT=IPHONE)
    response = client.post(go_path(link), {"email": alice.email, "password": PASSWORD},
                           HTTP_USER_AGENT=IPHONE)
    assert response.status_code == 400 and "Too many failed attempts" in response.content.decode()


def test_ldap_user_signs_in_with_network_credentials(client, link, tenant, carol):
    with mock.patch("users.auth._directory_accepts", return_value=True) as bind:
        response = client.post(go_path(link), {"email": carol.email, "password": "net-pass"},
                               HTTP_USER_AGENT=ANDROID)
    assert bind.called
    assert response.status_code == 302 and response["Location"] == _register_url(tenant,
                                                                                   "android")
    carol.refresh_from_db()
    assert not carol.has_usable_password()  # nothing stored for a directory account


def test_user_without_password_enters_pin_then_sets_a_password(client, link, tenant, admin, bob):
    issued = do_issue_pin(tenant, bob, actor=admin)
    # The password form cannot open an account with no password.
    refused = client.post(go_path(link), {"email": bob.email, "password": ""},
                          HTTP_USER_AGENT=IPHONE)
    assert refused.status_code == 400
    response = client.post(go_path(link) + "/pin", {"email": bob.email, "pin": issued.raw},
                           HTTP_USER_AGENT=IPHONE)
    assert response.status_code == 302 and response["Location"].endswith("/go/password")
    assert _signed_in_as(client) is None
    weak = client.post(go_path(link) + "/password",
                       {"new_password1": "123", "new_password2": "123"}, HTTP_USER_AGENT=IPHONE)
    assert weak.status_code == 400 and "too short" in weak.content.decode()
    mismatch = client.post(go_path(link) + "/password",
                           {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD + "x"},
                           HTTP_USER_AGENT=IPHONE)
    assert mismatch.status_code == 400
    done = client.post(go_path(link) + "/password",
                       {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
                       HTTP_USER_AGENT=IPHONE)
    assert done.status_code == 302 and done["Location"] == _register_url(tenant, "ios")
    assert _signed_in_as(client) == bob.pk
    assert client.session[PIN_OK_SESSION_KEY] == bob.pk
    bob.refresh_from_db()
    assert bob.check_password(NEW_PASSWORD)
    assert AuditEvent.objects.filter(tenant=tenant, action="registration.password_set",
                                     user=bob).exists()


def test_set_password_page_needs_a_verified_pin(client, link, bob):
    response = client.get(go_path(link) + "/password", HTTP_USER_AGENT=IPHONE)
    assert response.status_code == 302 and response["Location"] == go_path(link)


def test_wrong_pin_shows_attempts_left_and_locks(client, link, tenant, admin, bob):
    do_save_registration_policy(tenant, {"pin_max_attempts": 2}, actor=admin)
    issued = do_issue_pin(tenant, bob, actor=admin)
    wrong = "000000" if issued.raw != "000000" else "999999"
    first = client.post(go_path(link) + "/pin", {"email": bob.email, "pin": wrong})
    assert first.status_code == 400 and "1 attempt(s) left" in first.content.decode()
    second = client.post(go_path(link) + "/pin", {"email": bob.email, "pin": wrong})
    assert "locked" in second.content.decode()
    third = client.post(go_path(link) + "/pin", {"email": bob.email, "pin": issued.raw})
    assert third.status_code == 400 and _signed_in_as(client) is None
    assert AuditEvent.objects.filter(tenant=tenant, action="pin.locked", user=bob).exists()


def test_pin_for_unknown_email_and_garbage(client, link):
    for data in ({"email": "ghost@acme.test", "pin": "123456"}, {"email": "x", "pin": "y"},
                 {}, {"email": "a@b.test\x00", "pin": "1\x00"}):
        response = client.post(go_path(link) + "/pin", data, HTTP_USER_AGENT=IPHONE)
        assert response.status_code == 400


def test_policy_always_asks_the_pin_after_the_password(client, link, tenant, admin, alice):
    do_save_registration_policy(tenant, {"pin_requirement": "always"}, actor=admin)
    issued = do_issue_pin(tenant, alice, actor=admin)
    response = client.post(go_path(link), {"email": alice.email, "password": PASSWORD},
                           HTTP_USER_AGENT=IPHONE)
    assert response.status_code == 302 and response["Location"].endswith("/go/pin")
    assert _signed_in_as(client) is None
    page = client.get(response["Location"], HTTP_USER_AGENT=IPHONE).content.decode()
    assert alice.email in page
    done = client.post(go_path(link) + "/pin", {"email": alice.email, "pin": issued.raw},
                       HTTP_USER_AGENT=IPHONE)
    assert done["Location"] == _register_url(tenant, "ios")
    assert _signed_in_as(client) == alice.pk and client.session[PIN_OK_SESSION_KEY] == alice.pk


def test_pin_alone_does_not_open_an_account_with_a_password(client, link, tenant, admin, alice):
    do_save_registration_policy(tenant, {"pin_requirement": "always"}, actor=admin)
    issued = do_issue_pin(tenant, alice, actor=admin)
    response = client.post(go_path(link) + "/pin", {"email": alice.email, "pin": issued.raw},
                           HTTP_USER_AGENT=IPHONE)
    assert response.status_code == 302 and response["Location"] == go_path(link)
    assert _signed_in_as(client) is None
    done = client.post(go_path(link), {"email": alice.email, "password": PASSWORD},
                       HTTP_USER_AGENT=IPHONE)
    assert done["Location"] == _register_url(tenant, "ios") and _signed_in_as(client) == alice.pk


def test_per_user_pin_setting_is_honoured(client, link, tenant, admin, alice):
    User.objects.filter(pk=alice.pk).update(require_registration_pin=True)
    response = client.post(go_path(link), {"email": alice.email, "password": PASSWORD},
                           HTTP_USER_AGENT=IPHONE)
    assert response["Location"].endswith("/go/pin")


def test_temporary_password_must_be_changed(client, link, tenant):
    dave = make_user(tenant, "dave@acme.test", "Temp-password-1", must_change_password=True)
    response = client.post(go_path(link), {"email": dave.email, "password": "Temp-password-1"},
                           HTTP_USER_AGENT=ANDROID)
    assert response["Location"].endswith("/go/password")
    same = client.post(go_path(link) + "/password",
                       {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
                       HTTP_USER_AGENT=ANDROID)
    assert same["Location"] == _register_url(tenant, "android")
    dave.refresh_from_db()
    assert not dave.must_change_password and dave.check_password(NEW_PASSWORD)


def test_disabled_user_cannot_sign_in(client, link, alice):
    User.objects.filter(pk=alice.pk).update(is_active=False)
    response = client.post(go_path(link), {"email": alice.email, "password": PASSWORD},
                           HTTP_USER_AGENT=IPHONE)
    assert response.status_code == 400 and _signed_in_as(client) is None


def test_user_of_another_tenant_cannot_sign_in_on_our_link(client, link, other_tenant):
    make_user(other_tenant, "eve@globex.test")
    response = client.post(go_path(link), {"email": "eve@globex.test", "password": PASSWORD},
                           HTTP_USER_AGENT=IPHONE)
    assert response.status_code == 400 and _signed_in_as(client) is None


def test_invitation_link_prefills_email_and_is_marked_opened_then_used(
        client, tenant, admin, bob, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        sent = do_send_invitations(tenant, [bob], actor=admin)[0]
    path = sent.url.split("://", 1)[1].split("/", 1)[1]
    assert sent.url.endswith("/go") and "/i/" in sent.url
    desktop = client.get("/" + path, HTTP_USER_AGENT=WINDOWS)
    assert desktop.status_code == 200 and "Open this link on your phone" in desktop.content.decode()
    sent.invitation.refresh_from_db()
    assert sent.invitation.status == InvitationStatus.OPENED and sent.invitation.opened_at
    phone = client.get("/" + path, HTTP_USER_AGENT=IPHONE)
    assert phone.status_code == 302 and phone["Location"].endswith("/go")
    pin_page = client.get(phone["Location"] + "/pin", HTTP_USER_AGENT=IPHONE).content.decode()
    assert bob.email in pin_page
    client.post(phone["Location"] + "/pin", {"email": bob.email, "pin": sent.pin},
                HTTP_USER_AGENT=IPHONE)
    client.post(phone["Location"] + "/password",
                {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
                HTTP_USER_AGENT=IPHONE)
    sent.invitation.refresh_from_db()
    assert sent.invitation.status == InvitationStatus.USED and sent.invitation.used_at
    assert AuditEvent.objects.filter(tenant=tenant, action="invitation.opened").count() == 1
    assert AuditEvent.objects.filter(tenant=tenant, action="invitation.used").count() == 1


def test_unknown_invitation_token_still_offers_sign_in(client, link, alice):
    response = client.get(f"/r/{link.format_version}/{link.token}/i/not-a-token/go",
                          HTTP_USER_AGENT=IPHONE)
    assert response.status_code == 302
    assert client.get(response["Location"], HTTP_USER_AGENT=IPHONE).status_code == 200


def test_flow_of_one_link_does_not_carry_to_another_tenant(client, link, tenant, admin, bob,
                                                           other_tenant):
    from enrollment.services.links import current_link

    issued = do_issue_pin(tenant, bob, actor=admin)
    client.post(go_path(link) + "/pin", {"email": bob.email, "pin": issued.raw})
    other = current_link(other_tenant)
    response = client.get(go_path(other) + "/password", HTTP_USER_AGENT=IPHONE)
    assert response.status_code == 302 and response["Location"] == go_path(other)
