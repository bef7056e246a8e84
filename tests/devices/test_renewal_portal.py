"""Identity renewal on the Devices pages (issue 16): the device page's MDM identity panel and
"Renew identity now", the Devices list's identity-expiry filter and the bulk action "Renew MDM
identity" (one batch, constant queries), the renewal events on the device timeline; other
tenants' admins and end users reach none of it."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.events import AuditAction
from audit.models import AuditEvent
from devices.models import AppleChannel, Command, Device, IdentityRenewal, RenewalState
from devices.services import bulk
from devices.services.renewals import NO_IDENTITY, NOT_APPLE, PENDING
from enrollment.services.renewal_policy import do_save_renewal_policy
from tests.base.apple.devices import simulated_device
from tests.base.apple.renewal import renewed_identity
from tests.base.apple.simulator import parse_command
from tests.devices.renewal.conftest import enrolled_device, make_due

pytestmark = pytest.mark.django_db
BULK = "/t/acme/admin/devices/bulk/"


def page_of(device) -> str:
    return f"/t/{device.tenant.slug}/admin/devices/{device.pk}/"


def panel(body: str) -> str:
    """The MDM identity panel's text, tags stripped, spaces collapsed."""
    start = body.index('<section class="card identity"')
    section = body[start:body.index("</section>", start)]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", section)).split())


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def android(tenant, name: str = "Pixel") -> Device:
    return Device.objects.create(tenant=tenant, platform="android", state="active", name=name)


@pytest.fixture
def phone(iphone):
    """acme's enrolled iPhone, its identity expiring in 10 days."""
    enrolled_device(iphone)
    return make_due(iphone)


# --- the device page -------------------------------------------------------------------------

def test_device_page_shows_the_identity_and_renew_now_queues_a_renewal(portal, phone, admin):
    body = portal.get(page_of(phone)).content.decode()
    text = panel(body)
    assert f"Expires {phone.identity_expires_at:%Y-%m-%d %H:%M} in 10 days" in text
    assert "Latest renewal none yet" in text and "Previous identity" not in text
    assert 'name="action" value="renew_identity"' in body and "Renew identity now" in body

    response = portal.post(page_of(phone) + "actions/", {"action": "renew_identity"},
                           follow=True)
    assert response.redirect_chain == [(page_of(phone), 302)]
    assert messages_of(response) == [
        f"Identity renewal queued for {phone} (attempt 1): a re-enrollment profile is sent and "
        "the device renews its identity at its next check-in."]
    renewal = IdentityRenewal.objects.get(device=phone)
    assert (renewal.state, renewal.reason, renewal.attempt) == ("pending", "requested", 1)
    assert Command.objects.get(pk=renewal.command_id).request_type == "InstallProfile"
    event = AuditEvent.objects.get(action=AuditAction.IDENTITY_RENEWAL_QUEUED, device=phone)
    assert event.actor_id == admin.pk
    text = panel(response.content.decode())
    assert ("Latest renewal Waiting for the device , attempt 1 (Renew now (admin), by "
            f"admin@acme.test) sent {timezone.localtime(renewal.created_at):%Y-%m-%d %H:%M}, "
            f"waits for the device until {renewal.expires_at:%Y-%m-%d %H:%M}") in text

    # Asked again while the attempt waits: nothing more is sent, and the page says why.
    again = portal.post(page_of(phone) + "actions/", {"action": "renew_identity"}, follow=True)
    assert messages_of(again) == [f"Identity renewal skipped for {phone}: {PENDING}."]
    assert IdentityRenewal.objects.filter(device=phone).count() == 1


def test_device_page_after_a_renewal_shows_the_grace_period_then_a_failure(
        portal, apple_tenant, iphone, phone, _rsa_key_pool):
    portal.post(page_of(phone) + "actions/", {"action": "renew_identity"})
    renewal = IdentityRenewal.objects.get(device=phone)
    uuid = parse_command(iphone.idle()[1])["CommandUUID"]
    iphone.key, iphone.cert = _rsa_key_pool[1], renewed_identity(apple_tenant, renewal,
                                                                 _rsa_key_pool[1])
    assert iphone.authenticate()[0] == 200 and iphone.token_update()[0] == 200
    assert iphone.report("Acknowledged", uuid) == (200, b"")

    phone.refresh_from_db()
    channel = AppleChannel.objects.get(device=phone, is_user_channel=False)
    body = portal.get(page_of(phone)).content.decode()
    text = panel(body)
    assert f"Expires {phone.identity_expires_at:%Y-%m-%d %H:%M} in 365 days" in text
    assert ("Previous identity still accepted until "
            f"{channel.previous_certificate_until:%Y-%m-%d %H:%M} (grace period after the "
            "renewal)") in text
    assert "Latest renewal Renewed , attempt 1" in text and ", ended " in text
    # The timeline tells the story in words, times to the minute like the rest of the page.
    timeline = body[body.index('id="timeline"'):body.index("MDM channels")]
    assert "Identity renewal sent" in timeline and "Identity renewed" in timeline
    assert f"until: {renewal.expires_at:%Y-%m-%d %H:%M}," in timeline
    assert f"expires_at: {phone.identity_expires_at:%Y-%m-%d %H:%M}" in timeline
    assert not re.search(r"\d{2}:\d{2}:\d{2}\.\d{6}", timeline)  # no raw ISO stamps

    # The next attempt is refused by the device: the panel and the timeline say so.
    portal.post(page_of(phone) + "actions/", {"action": "renew_identity"})
    uuid = parse_command(iphone.idle()[1])["CommandUUID"]
    iphone.report("Error", uuid, ErrorChain=[{
        "ErrorCode": 4001, "ErrorDomain": "MCProfileErrorDomain",
        "USEnglishDescription": "The profile could not be installed."}])
    body = portal.get(page_of(phone)).content.decode()
    text = panel(body)
    assert "Latest renewal Failed , attempt 1" in text
    assert "the device refused the profile: The profile could not be installed." in text
    timeline = body[body.index('id="timeline"'):body.index("MDM channels")]
    assert "<strong>Identity renewal failed</strong>" in timeline
    assert "installed.. " not in timeline and "Start registration again" not in timeline
    assert "The next renewal attempt follows on its own." in timeline


def test_device_page_says_expired_and_no_identity(portal, tenant, phone):
    phone.identity_expires_at = timezone.now() - dt.timedelta(days=2)
    phone.save(update_fields=["identity_expires_at"])
    assert "in " not in panel(portal.get(page_of(phone)).content.decode()).split("Latest")[0]
    assert f"{phone.identity_expires_at:%Y-%m-%d %H:%M} expired" in panel(
        portal.get(page_of(phone)).content.decode())
    bare = Device.objects.create(tenant=tenant, platform="macos", state="active", name="Mac")
    assert "Expires no identity yet" in panel(portal.get(page_of(bare)).content.decode())


def test_device_page_queries_do_not_grow_with_renewals(portal, phone):
    portal.get(page_of(phone))  # warm: session, tenant

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert portal.get(page_of(phone)).status_code == 200
        return len(captured)

    before = queries()
    now = timezone.now()
    IdentityRenewal.objects.bulk_create([
        IdentityRenewal(tenant=phone.tenant, device=phone, state=RenewalState.FAILED,
                        reason="expiring", attempt=n, expires_at=now, ended_at=now,
                        created_at=now - dt.timedelta(hours=n), failure_reason=f"try {n}")
        for n in range(1, 6)])
    assert queries() == before
    assert "try 1" in panel(portal.get(page_of(phone)).content.decode())  # the latest only
    assert "try 2" not in panel(portal.get(page_of(phone)).content.decode())


def test_android_device_has_no_identity_panel_and_is_not_renewed(portal, tenant):
    pixel = android(tenant)
    body = portal.get(page_of(pixel)).content.decode()
    assert 'class="card identity"' not in body and "Renew identity now" not in body
    response = portal.post(page_of(pixel) + "actions/", {"action": "renew_identity"},
                           follow=True)
    assert messages_of(response) == [f"Identity renewal skipped for {pixel}: {NOT_APPLE}."]
    assert not IdentityRenewal.objects.exists()


def test_other_tenants_and_end_users_cannot_see_or_renew_the_device(
        portal, other_portal, client, jane, phone):
    # Another tenant's admin, on their own tenant's URLs: not found, like a missing device.
    theirs = f"/t/globex/admin/devices/{phone.pk}/"
    assert other_portal.get(theirs).status_code == 404
    assert other_portal.post(theirs + "actions/", {"action": "renew_identity"}
                             ).status_code == 404
    # ... on ours, and an end user of ours: sent to acme's sign-in page.
    client.force_login(jane, backend="users.auth.TenantEmailBackend")
    for visitor in (other_portal, client):
        for response in (visitor.get(page_of(phone)),
                         visitor.post(page_of(phone) + "actions/",
                                      {"action": "renew_identity"})):
            assert response.status_code == 302
            assert response["Location"].startswith("/t/acme/admin/login/")
    # ... and the bulk action of their tenant finds no such device.
    other_portal.post("/t/globex/admin/devices/bulk/", {
        "action": "renew_identity", "devices": [phone.pk], "confirmed": "1"})
    assert not IdentityRenewal.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.IDENTITY_RENEWAL_QUEUED).exists()


# --- the Devices list: filter and bulk action --------------------------------------------

def test_devices_list_filters_on_identity_expiry(portal, tenant, phone):
    now = timezone.now()
    for name, days in (("Expired one", -1), ("Later one", 50), ("Fine one", 200)):
        Device.objects.create(tenant=tenant, platform="ios", state="active", name=name,
                              identity_expires_at=now + dt.timedelta(days=days))
    page = portal.get("/t/acme/admin/devices/").content.decode()
    assert "MDM identity expires" in page and 'name="identity_expires"' in page
    for value, label in (("expired", "Expired"), ("30", "Within 30 days"),
                         ("60", "Within 60 days"), ("90", "Within 90 days")):
        assert f'<option value="{value}">{label}</option>' in page
    names = ["Test iPhone", "Expired one", "Later one", "Fine one"]
    for value, shown in (("expired", {"Expired one"}), ("30", {str(phone)}),
                         ("60", {str(phone), "Later one"})):
        listing = portal.get("/t/acme/admin/devices/", {"identity_expires": value})
        body = listing.content.decode()
        assert f'<option value="{value}" selected>' in body
        assert {n for n in names if f">{n}</a>" in body} == shown, value


def test_bulk_menu_offers_renewal_and_the_confirmation_names_the_limit(portal, tenant, admin,
                                                                       phone):
    pixel = android(tenant)
    page = portal.get("/t/acme/admin/devices/").content.decode()
    assert '<option value="renew_identity">Renew MDM identity</option>' in page
    do_save_renewal_policy(tenant, actor=admin, max_per_minute=25)
    response = portal.post(BULK, {"action": "renew_identity", "devices": [phone.pk, pixel.pk]})
    assert response.status_code == 200
    body = html.unescape(response.content.decode())
    assert "Renew the MDM identity of 2 devices?" in body
    assert ("Apple (1 device): a re-enrollment profile is sent; the device renews its identity "
            "at its next check-in (at most 25 a minute: the rest follow).") in body
    assert "Android (1 device): skipped: Android devices have no MDM identity." in body
    assert not IdentityRenewal.objects.exists()  # nothing before the confirmation


def test_bulk_renewal_queues_apple_devices_and_skips_android(portal, apple_tenant, jane, phone,
                                                             other_tenant):
    mac = make_due(enrolled_device(simulated_device(apple_tenant, jane, "macos")))
    pixel = android(apple_tenant)
    foreign = Device.objects.create(tenant=other_tenant, platform="ios", state="active")
    response = portal.post(BULK, {"action": "renew_identity", "confirmed": "1",
                                  "devices": [phone.pk, mac.pk, pixel.pk, foreign.pk]},
                           follow=True)
    assert messages_of(response)[0] == (
        "Identity renewal: done for 2 devices, 1 skipped, 1 not found.")
    assert set(IdentityRenewal.objects.values_list("device_id", "reason", "state")) == {
        (phone.pk, "requested", "pending"), (mac.pk, "requested", "pending")}
    assert AuditEvent.objects.filter(action=AuditAction.IDENTITY_RENEWAL_QUEUED).count() == 2
    assert not Command.objects.filter(device__in=[pixel, foreign]).exists()


def test_bulk_renewal_outcomes_beyond_the_limit_and_without_an_identity(apple_tenant, admin,
                                                                        jane, phone):
    def run(*chosen):
        devices, missing = bulk.load_devices(apple_tenant, [d.pk for d in chosen])
        return bulk.run_bulk_action(apple_tenant, "renew_identity", devices, missing,
                                    actor=admin)

    bare = Device.objects.create(tenant=apple_tenant, platform="ios", state="active",
                                 owner=jane, name="Bare")
    result = run(bare, android(apple_tenant))
    assert [(o.outcome, o.detail) for o in result.outcomes] == [
        ("failed", NO_IDENTITY), ("skipped", NOT_APPLE)]
    assert result.summary() == "Identity renewal: done for 0 devices, 1 skipped, 1 failed."
    assert result.problems() == [f"Bare: {NO_IDENTITY}"]

    do_save_renewal_policy(apple_tenant, actor=admin, max_per_minute=1)
    other = make_due(enrolled_device(simulated_device(apple_tenant, jane, "ios")))
    result = run(phone, other)
    outcomes = {o.device_id: (o.outcome, o.detail) for o in result.outcomes}
    sent = IdentityRenewal.objects.get().device_id  # the limit lets one through, either
    deferred = other if sent == phone.pk else phone
    assert outcomes == {sent: ("done", "re-enrollment profile sent (attempt 1)"),
                        deferred.pk: ("done", "queued for the next minutes")}
    assert result.summary() == "Identity renewal: done for 2 devices."
    deferred.refresh_from_db()
    assert deferred.renewal_requested_at is not None  # the next scans send it, first in line


def test_bulk_renewal_runs_in_constant_queries(apple_tenant, admin, jane):
    sims = [enrolled_device(simulated_device(apple_tenant, jane, "ios")) for _ in range(6)]
    devices = [make_due(sim) for sim in sims]

    def cost(chosen) -> int:
        loaded, missing = bulk.load_devices(apple_tenant, [d.pk for d in chosen])
        with CaptureQueriesContext(connection) as captured:
            result = bulk.run_bulk_action(apple_tenant, "renew_identity", loaded, missing,
                                          actor=admin)
        assert result.counts()["done"] == len(chosen), result.outcomes
        return len(captured)

    cost(devices[:1])  # the first renewal of the tenant sets up what later ones reuse
    assert cost(devices[1:2]) == cost(devices[2:])
