"""Registering a Mac from the invitation link (issue 19): the desktop /go page offers "register
this Mac", which runs the same steps as a phone (PIN when one applies, a new password when the
account has none or a temporary one) and ends at the macOS enrollment-profile download."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from audit.models import AuditEvent
from enrollment.models import InvitationStatus, Registration, RegistrationState
from enrollment.services.apple_settings import do_save_apple_settings
from enrollment.services.invitations import do_send_invitations
from enrollment.services.policies import do_save_registration_policy
from tests.base.apple.simulator import TOPIC
from tests.conftest import PASSWORD
from tests.enrollment.invitations.conftest import IPHONE, MAC, WINDOWS, go_path, make_user

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "Purple-elephant-42"


@pytest.fixture
def apple_ready(tenant, admin):
    do_save_apple_settings(tenant, actor=admin, push_topic=TOPIC)
    return tenant


@pytest.fixture
def invite(django_capture_on_commit_callbacks, admin):
    def _invite(tenant, user):
        with django_capture_on_commit_callbacks(execute=True):
            return do_send_invitations(tenant, [user], actor=admin)[0]
    return _invite


def _path(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def _signed_in_as(client) -> int | None:
    value = client.session.get("_auth_user_id")
    return int(value) if value else None


def _register_and_download(client, tenant, user) -> bytes:
    """From the register page /go sent us to: start, then download the macOS profile."""
    register = f"/t/{tenant.slug}/portal/register/?platform=macos"
    confirm = client.get(register, HTTP_USER_AGENT=MAC)
    assert confirm.status_code == 200
    assert 'name="pin"' not in confirm.content.decode()  # the PIN was entered in /go
    started = client.post(register, {"platform": "macos"}, HTTP_USER_AGENT=MAC)
    assert started.status_code == 302
    page = client.get(started["Location"], HTTP_USER_AGENT=MAC).content.decode()
    assert "Download the management profile" in page and "System Settings" in page
    profile_url = re.search(r'href="([^"]+\.mobileconfig)"', page).group(1)
    download = client.get(_path(profile_url) if "://" in profile_url else profile_url,
                          HTTP_USER_AGENT=MAC)
    assert download.status_code == 200
    assert download["Content-Type"] == "application/x-apple-aspen-config"
    registration = Registration.objects.get(user=user)
    assert registration.platform == "macos"
    assert registration.state == RegistrationState.PROFILE_DOWNLOADED
    return download.content


def test_pin_only_user_registers_this_mac_from_the_invitation(client, apple_ready, invite):
    tenant = apple_ready
    bob = make_user(tenant, "bob@acme.test", None)  # no password: PIN, then a new password
    sent = invite(tenant, bob)
    assert sent.pin
    text = mail.outbox[0].body
    assert 'choose "Register this Mac"' in text and "and choose your password" in text
    assert sent.url in text

    desktop = client.get(_path(sent.url), HTTP_USER_AGENT=MAC)
    html = desktop.content.decode()
    assert desktop.status_code == 200 and "Register this Mac" in html
    mac_link = re.search(r'href="([^"]+\?platform=macos)"', html).group(1)
    assert mac_link == f"{_path(sent.url)}?platform=macos"

    opened = client.get(mac_link, HTTP_USER_AGENT=MAC)
    assert opened.status_code == 302  # from the invitation URL on to the link's sign-in
    go = opened["Location"]
    sign_in = client.get(go, HTTP_USER_AGENT=MAC).content.decode()
    assert "Register this Mac" in sign_in and "I have a PIN" in sign_in

    wrong = "000000" if sent.pin != "000000" else "999999"
    refused = client.post(f"{go}/pin", {"email": bob.email, "pin": wrong}, HTTP_USER_AGENT=MAC)
    assert refused.status_code == 400 and "attempt(s) left" in refused.content.decode()
    assert _signed_in_as(client) is None
    accepted = client.post(f"{go}/pin", {"email": bob.email, "pin": sent.pin},
                           HTTP_USER_AGENT=MAC)
    assert accepted["Location"].endswith("/go/password")
    weak = client.post(f"{go}/password", {"new_password1": "123", "new_password2": "123"},
                       HTTP_USER_AGENT=MAC)
    assert weak.status_code == 400 and _signed_in_as(client) is None
    done = client.post(f"{go}/password", {"new_password1": NEW_PASSWORD,
                                          "new_password2": NEW_PASSWORD}, HTTP_USER_AGENT=MAC)
    assert done["Location"] == f"/t/{tenant.slug}/portal/register/?platform=macos"
    assert _signed_in_as(client) == bob.pk
    bob.refresh_from_db()
    assert bob.check_password(NEW_PASSWORD)
    sent.invitation.refresh_from_db()
    assert sent.invitation.status == InvitationStatus.USED

    profile = _register_and_download(client, tenant, bob)
    assert b"com.apple.mdm" in profile
    assert AuditEvent.objects.filter(tenant=tenant, action="registration.profile_downloaded",
                                     user=bob).exists()


def test_mac_user_with_a_password_and_a_required_pin(client, apple_ready, invite):
    tenant = apple_ready
    alice = make_user(tenant, "alice@acme.test", require_registration_pin=True)
    sent = invite(tenant, alice)
    assert sent.pin and 'choose "Register this Mac"' in mail.outbox[0].body
    assert "choose your password" not in mail.outbox[0].body
    client.get(_path(sent.url) + "?platform=macos", HTTP_USER_AGENT=MAC)
    go = _path(sent.url).split("/i/")[0] + "/go"
    signed = client.post(go, {"email": alice.email, "password": PASSWORD}, HTTP_USER_AGENT=MAC)
    assert signed["Location"].endswith("/go/pin")
    done = client.post(f"{go}/pin", {"email": alice.email, "pin": sent.pin},
                       HTTP_USER_AGENT=MAC)
    assert done["Location"] == f"/t/{tenant.slug}/portal/register/?platform=macos"
    _register_and_download(client, tenant, alice)


def test_mac_user_with_a_temporary_password_chooses_a_new_one(client, apple_ready, link):
    tenant = apple_ready
    dave = make_user(tenant, "dave@acme.test", "Temp-password-1", must_change_password=True)
    client.get(go_path(link) + "?platform=macos", HTTP_USER_AGENT=MAC)
    signed = client.post(go_path(link), {"email": dave.email, "password": "Temp-password-1"},
                         HTTP_USER_AGENT=MAC)
    assert signed["Location"].endswith("/go/password")
    done = client.post(go_path(link) + "/password", {"new_password1": NEW_PASSWORD,
                                                     "new_password2": NEW_PASSWORD},
                       HTTP_USER_AGENT=MAC)
    assert done["Location"] == f"/t/{tenant.slug}/portal/register/?platform=macos"
    _register_and_download(client, tenant, dave)


def test_pin_policy_always_applies_on_a_mac_too(client, apple_ready, admin, link, alice):
    do_save_registration_policy(apple_ready, {"pin_requirement": "always"}, actor=admin)
    client.get(go_path(link) + "?platform=macos", HTTP_USER_AGENT=MAC)
    signed = client.post(go_path(link), {"email": alice.email, "password": PASSWORD},
                         HTTP_USER_AGENT=MAC)
    assert signed["Location"].endswith("/go/pin")
    assert _signed_in_as(client) is None


@pytest.mark.parametrize("agent", [WINDOWS, "", "curl/8.0"])
def test_only_a_mac_can_choose_to_register_itself(client, link, agent):
    response = client.get(go_path(link) + "?platform=macos", HTTP_USER_AGENT=agent)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Open this link on your phone" in html and "Register this Mac" not in html
    assert 'name="password"' not in html


def test_unknown_platform_choice_keeps_the_desktop_page(client, link):
    html = client.get(go_path(link) + "?platform=windows", HTTP_USER_AGENT=MAC).content.decode()
    assert "Register this Mac" in html and 'name="password"' not in html


def test_a_phone_ignores_the_mac_choice(client, tenant, link, alice):
    client.get(go_path(link) + "?platform=macos", HTTP_USER_AGENT=IPHONE)
    response = client.post(go_path(link), {"email": alice.email, "password": PASSWORD},
                           HTTP_USER_AGENT=IPHONE)
    assert response["Location"] == f"/t/{tenant.slug}/portal/register/?platform=ios"
