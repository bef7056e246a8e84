"""Issue 19, in a real browser: a user with no password opens the invitation link on a Mac,
chooses "Register this Mac", enters the PIN from the email, chooses a password, downloads the
enrollment profile, and a simulated Mac installs that very profile (SCEP, check-in)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from django.core import mail

from devices.models import Device, DeviceState
from devices.simulator.apple import shared_key
from devices.simulator.enroll_apple import AppleEnrollment
from enrollment.services.invitations import do_send_invitations
from tests.base.apple.devices import ready_tenant
from users.models import User

pytestmark = pytest.mark.django_db(transaction=True)
CHOSEN = "Bob-chooses-12345"


def test_pin_only_user_registers_this_mac_from_the_invitation(site, tenant, admin, mac, shots):
    ready_tenant(tenant, admin)
    bob = User.objects.create_user(tenant, "bob@acme.test", None, first_name="Bob")
    sent = do_send_invitations(tenant, [bob], actor=admin)[0]
    email = mail.outbox[-1].body
    assert sent.url in email and 'choose "Register this Mac"' in email
    pin = re.search(r"One-time PIN: (\d+)", email).group(1)

    mac.goto(sent.url)
    mac.wait_for_selector("h1:has-text('Register this Mac')")
    mac.screenshot(path=str(shots / "go-mac.png"), full_page=True)
    mac.click("a.button:has-text('Register this Mac')")
    mac.click("text=I have a PIN")
    assert mac.input_value("input[name=email]") == bob.email  # known from the invitation
    mac.fill("input[name=pin]", "0" * len(pin) if pin != "0" * len(pin) else "1" * len(pin))
    mac.click("button[type=submit]")
    mac.wait_for_selector("text=attempt(s) left")
    mac.fill("input[name=pin]", pin)
    mac.click("button[type=submit]")
    mac.fill("input[name=new_password1]", CHOSEN)
    mac.fill("input[name=new_password2]", CHOSEN)
    mac.click("button[type=submit]")
    mac.wait_for_selector("h1:has-text('Register your Mac')")
    mac.click("button:has-text('Start registration')")
    mac.wait_for_selector("h1:has-text('Install management profile')")
    with mac.expect_download() as download_info:
        mac.click("text=Download the management profile")
    profile_data = Path(download_info.value.path()).read_bytes()

    with httpx.Client(timeout=30) as http:
        run = AppleEnrollment(http, site, site).install(
            tenant.slug, profile_data, shared_key(), platform="macos", user_short_name="bob")
    device = Device.objects.get(tenant=tenant, udid=run.udid)
    assert device.state == DeviceState.ACTIVE and device.owner_id == bob.pk
    bob.refresh_from_db()
    assert bob.check_password(CHOSEN)
