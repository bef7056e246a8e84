"""A device's whole life in a real browser: the admin signs in and runs the startup wizard
(APNs topic, users, invitations); a user signs in to the self-service portal, downloads the
macOS profile and shows the agent app's QR code; a simulated Mac installs that very profile
(SCEP, check-in, commands over HTTP); the admin finds the Mac, retires it, and finds every
step in the audit trail; the dashboard's charts count it."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from django.core import mail

from devices.models import Device, DeviceState
from devices.simulator.apple import TOPIC, shared_key
from devices.simulator.enroll_apple import AppleEnrollment, profile_contents
from enrollment.models import AppQrToken, IssuedCertificate, Registration, RegistrationState
from tests.e2e.conftest import chart_bars, sign_in

pytestmark = pytest.mark.django_db(transaction=True)

ANN, ANN_PASSWORD = "ann@acme.test", "Ann-chooses-123"
BOB = "bob@acme.test"


def run_wizard(page, site, tenant) -> None:
    sign_in(page, f"{site}/t/{tenant.slug}/admin/", "admin@acme.test")
    page.click("text=Start setup")
    page.fill("input[name=name]", "Acme Corporation")
    page.click("button:has-text('Continue')")
    page.fill("input[name=push_topic]", TOPIC)  # Apple: the MDM push certificate's topic
    page.click("button:has-text('Continue')")
    page.click("button:has-text('Continue')")  # Android: later
    page.fill("input[name='u-0-email']", ANN)
    page.fill("input[name='u-0-first_name']", "Ann")
    page.fill("input[name='u-0-password']", ANN_PASSWORD)
    page.fill("input[name='u-1-email']", BOB)
    page.click("button:has-text('Continue')")
    page.wait_for_selector(f"text={BOB}")
    page.click("button:has-text('Send and finish')")
    page.wait_for_selector("text=Setup complete")


def test_self_service_mac_enrolled_retired_and_audited(site, tenant, desktop, mac, shots):
    admin = desktop
    run_wizard(admin, site, tenant)
    assert sorted(message.to[0] for message in mail.outbox) == [ANN, BOB]

    # Ann, on her Mac: self-service portal, register the Mac, download its profile.
    sign_in(mac, f"{site}/t/{tenant.slug}/portal/", ANN, ANN_PASSWORD)
    mac.wait_for_selector("h1:has-text('My devices')")
    mac.click("text=Register a device")
    mac.click(".choice:has-text('Mac')")
    mac.click("button:has-text('Start registration')")
    mac.wait_for_selector("h1:has-text('Install management profile')")
    mac.screenshot(path=str(shots / "selfservice-registration.png"), full_page=True)
    with mac.expect_download() as download_info:
        mac.click("text=Download the management profile")
    download = download_info.value
    assert download.suggested_filename == f"{tenant.slug}-enroll.mobileconfig"
    profile_data = Path(download.path()).read_bytes()
    assert {payload["PayloadType"] for payload in profile_contents(profile_data)[
        "PayloadContent"]} >= {"com.apple.security.scep", "com.apple.mdm"}
    registration_url = mac.url
    mac.reload()
    assert mac.locator("text=Profile downloaded.").count() == 1  # one-time link is gone

    # ... and the agent app's QR code.
    mac.goto(f"{site}/t/{tenant.slug}/portal/register/")
    mac.click("button:has-text('Show a QR code for the app')")
    mac.wait_for_selector(".qr svg")
    assert mac.locator(".qr svg path").count() >= 1
    assert AppQrToken.objects.filter(tenant=tenant, user__email=ANN, used_at=None).count() == 1
    mac.screenshot(path=str(shots / "selfservice-app-qr.png"), full_page=True)

    # The Mac installs the downloaded profile: SCEP, Authenticate, TokenUpdate, commands.
    with httpx.Client(timeout=30) as http:
        run = AppleEnrollment(http, site, site).install(
            tenant.slug, profile_data, shared_key(), platform="macos", user_short_name="ann")
    assert "DeviceInformation" in run.commands
    device = Device.objects.get(tenant=tenant, udid=run.udid)
    assert device.state == DeviceState.ACTIVE and device.owner.email == ANN
    mac.goto(registration_url)
    mac.wait_for_selector("text=Done.")
    mac.click("header .brand")  # the self-service portal's home lists the Mac
    assert "Active" in mac.locator("tbody tr", has_text="macOS").first.inner_text()
    mac.screenshot(path=str(shots / "selfservice-home.png"), full_page=True)

    # The admin finds the Mac on the Devices page and retires it from its page.
    admin.click("nav >> text=Devices")
    row = admin.locator("tbody tr", has_text=ANN)
    assert row.count() == 1 and "macOS" in row.inner_text() and "Active" in row.inner_text()
    admin.screenshot(path=str(shots / "admin-devices.png"), full_page=True)
    row.locator(f"a:has-text('{device}')").click()
    admin.wait_for_selector(f"h1:has-text('{device}')")
    admin.screenshot(path=str(shots / "admin-device-detail.png"), full_page=True)
    admin.once("dialog", lambda dialog: dialog.accept())
    admin.click("button:has-text('Retire device')")
    admin.wait_for_selector(".messages >> text=retired")
    device.refresh_from_db()
    assert device.state == DeviceState.RETIRED

    # Each step is on the audit trail: Ann's view (filter by email), then the device's view.
    admin.click("nav >> text=Audit trail")
    admin.fill("input[name=user_email]", ANN)
    admin.click("button:has-text('Filter')")
    admin.wait_for_url(re.compile(r"user_email="))
    actions = admin.locator("tbody tr td:nth-child(2)").all_inner_texts()
    for label in ("User created", "Invitation sent", "Signed in", "Registration started",
                  "Enrollment profile downloaded", "Registration QR code shown",
                  "Device authenticated (MDM)", "Registration completed", "Device registered",
                  "Mac user channel accepted", "Device retired"):
        assert label in actions, (label, actions)
    # Newest first: read backwards, the registration's steps come in the order they happened.
    in_order = ["Invitation sent", "Registration started", "Enrollment profile downloaded",
                "Device authenticated (MDM)", "Registration completed", "Device registered",
                "Device retired"]
    happened = [label for label in reversed(actions) if label in in_order]
    assert happened == in_order, happened
    admin.screenshot(path=str(shots / "admin-audit.png"), full_page=True)
    # SCEP issuance is recorded before the certificate has a device or user: find it by action.
    admin.fill("input[name=user_email]", "")
    admin.select_option("select[name=action]", label="Certificate issued")
    admin.click("button:has-text('Filter')")
    admin.wait_for_url(re.compile(r"action=certificate.issued"))
    issued = admin.locator("tbody tr")
    certificate = IssuedCertificate.objects.get(
        tenant=tenant, challenge__registration__user__email=ANN)
    assert issued.count() == 1 and certificate.serial_hex in issued.inner_text()
    admin.goto(f"{site}/t/{tenant.slug}/admin/audit/?user_email={ANN}")
    admin.locator("tbody tr", has_text="Device retired").locator(
        "a[title='Only this device\\'s events']").click()
    admin.wait_for_url(re.compile(rf"device={device.pk}"))
    device_actions = admin.locator("tbody tr td:nth-child(2)").all_inner_texts()
    assert {"Device authenticated (MDM)", "Registration completed",
            "Device retired"} <= set(device_actions)
    assert "Invitation sent" not in device_actions

    # The dashboard counts the retired Mac and Ann's completed registration.
    admin.click("nav >> text=Dashboard")
    states = chart_bars(admin, "Devices by state")
    assert states["Retired"] == 1 and states["Active"] == 0
    funnel = chart_bars(admin, "Registration funnel")
    assert funnel["Invited"] == 2 and funnel["Enrolled"] == 1
    assert funnel["Certificate issued (SCEP)"] == 1
    registration = Registration.objects.get(tenant=tenant, user__email=ANN)
    assert registration.state == RegistrationState.ENROLLED
