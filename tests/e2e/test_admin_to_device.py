"""From "the admin invited a user" to "the phone is registering", in a real browser:
the admin signs in, runs the startup wizard, adds and invites a user; the user opens the
invitation's /go link on an iPhone, enters the PIN, sets a password and starts registration."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import override_settings

from enrollment.models import Registration
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_admin_invites_and_user_registers_iphone(site, tenant, desktop, iphone, shots):
    page = desktop
    page.goto(f"{site}/t/{tenant.slug}/admin/")
    page.fill("input[name=email]", "admin@acme.test")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_selector("text=Finish setting up")
    page.click("text=Start setup")
    page.fill("input[name=name]", "Acme Corporation")
    page.click("button:has-text('Continue')")
    page.click("button:has-text('Skip this step')")  # Apple
    page.click("button:has-text('Continue')")        # Android: later
    page.fill("input[name='u-0-email']", "ann@acme.test")
    page.fill("input[name='u-0-first_name']", "Ann")
    page.click("button:has-text('Continue')")
    page.wait_for_selector("text=ann@acme.test")
    page.screenshot(path=str(shots / "wizard-invite.png"), full_page=True)
    page.click("button:has-text('Send and finish')")
    page.wait_for_selector("text=Setup complete")
    page.screenshot(path=str(shots / "wizard-complete.png"), full_page=True)

    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    go_url = re.search(r"https?://\S+/go\b", email.body).group(0)
    pin = re.search(r"\b(\d{6})\b", email.body).group(1)

    phone = iphone
    phone.goto(go_url)
    phone.click("text=I have a PIN")
    phone.fill("input[name=email]", "ann@acme.test") if phone.input_value(
        "input[name=email]") == "" else None
    phone.fill("input[name=pin]", pin)
    phone.click("button[type=submit]")
    phone.wait_for_selector("input[name=new_password1], input[name=password1], "
                            "input[type=password]")
    passwords = phone.locator("input[type=password]")
    for index in range(passwords.count()):
        passwords.nth(index).fill("Ann-new-pass-123")
    phone.click("button[type=submit]")
    phone.wait_for_selector("text=Register your iPhone or iPad")
    phone.click("button:has-text('Start registration')")
    phone.wait_for_selector("text=Download the management profile")
    phone.screenshot(path=str(shots / "iphone-registration.png"), full_page=True)
    registration = Registration.objects.get(user__email="ann@acme.test")
    assert registration.platform == "ios" and registration.state == "started"
    assert registration.method == "self_service"


def test_desktop_browser_is_told_to_use_the_phone(site, tenant, desktop):
    from enrollment.services.links import current_go_url

    with override_settings(MDM_PUBLIC_URL=site):
        url = current_go_url(tenant)
    desktop.goto(url)
    assert "phone" in desktop.content().lower()


def test_old_registration_link_shows_410_page(site, tenant, desktop):
    response = desktop.goto(f"{site}/r/1/some-old-token/go")
    assert response.status == 410
    assert "no longer valid" in desktop.content()
