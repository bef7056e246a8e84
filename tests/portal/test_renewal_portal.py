"""Identity renewal in the admin portal, the tenant-wide parts (issue 16): the renewal policy
form on Settings > Certificate authority, and the dashboard's "MDM identities" card, each of
whose figures opens a list with the same count."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from django.utils import timezone

from audit.events import AuditAction
from audit.models import AuditEvent
from devices.models import Device, DeviceState, IdentityRenewal, RenewalState
from enrollment.models import IdentityRenewalPolicy
from enrollment.services.renewal_policy import do_save_renewal_policy, renewal_policy

pytestmark = pytest.mark.django_db
CA = "/t/acme/admin/settings/ca/"
POLICY = {"action": "renewal_policy", "renew_days_before": "30", "max_per_minute": "20",
          "grace_days": "3"}


def values(tenant) -> tuple[int, int, int]:
    policy = renewal_policy(tenant)
    return policy.renew_days_before, policy.max_per_minute, policy.grace_days


def field_errors(response, name: str) -> list[str]:
    return list(response.context["policy_form"].errors.get(name, []))


# --- Settings > Certificate authority: the policy form ---------------------------------------

def test_ca_page_shows_the_policy_with_its_defaults(portal, tenant, settings):
    settings.MDM_CERTIFICATE_VALIDITY_DAYS = 365
    response = portal.get(CA)
    assert response.status_code == 200
    page = response.content.decode()
    assert '<h2 id="identity-renewal">Identity renewal</h2>' in page
    assert 'name="action" value="renewal_policy"' in page
    for name, value in (("renew_days_before", 60), ("max_per_minute", 100), ("grace_days", 7)):
        assert re.search(rf'name="{name}" value="{value}"', page), name
    assert "valid 365 days" in page and "The defaults: never saved." in page


def test_policy_form_saves_audits_and_shows_the_new_values(portal, tenant, admin):
    response = portal.post(CA, POLICY, follow=True)
    assert response.redirect_chain == [(CA, 302)]
    page = response.content.decode()
    assert "Identity renewal policy saved." in page
    assert 'name="renew_days_before" value="30"' in page
    assert 'name="max_per_minute" value="20"' in page and 'name="grace_days" value="3"' in page
    assert "Last saved " in page
    assert values(tenant) == (30, 20, 3)
    event = AuditEvent.objects.get(tenant=tenant, action=AuditAction.IDENTITY_RENEWAL_POLICY_SAVED)
    assert event.actor_id == admin.pk
    assert event.detail["changed"] == {"renew_days_before": 30, "max_per_minute": 20,
                                       "grace_days": 3}


@pytest.mark.parametrize("data, errors", [
    ({"renew_days_before": "400", "max_per_minute": "0"},
     {"renew_days_before": "Must be at most 300.", "max_per_minute": "Must be at least 1."}),
    ({"grace_days": "91"}, {"grace_days": "Must be at most 90."}),
    ({"renew_days_before": "250"},  # the lifetime is set to 200 days below
     {"renew_days_before": "Must be less than the identity certificates' lifetime "
                           "(200 days)."}),
    ({"max_per_minute": "ten"}, {"max_per_minute": "Enter a whole number."}),
    ({"grace_days": ""}, {"grace_days": "This field is required."}),
])
def test_policy_form_refuses_bad_values_on_their_fields(portal, tenant, admin, settings, data,
                                                        errors):
    settings.MDM_CERTIFICATE_VALIDITY_DAYS = 200
    do_save_renewal_policy(tenant, actor=admin, renew_days_before=45, max_per_minute=50,
                           grace_days=5)
    saved_events = AuditEvent.objects.filter(
        action=AuditAction.IDENTITY_RENEWAL_POLICY_SAVED).count()
    response = portal.post(CA, {**POLICY, **data})
    assert response.status_code == 400
    for name, words in errors.items():
        assert field_errors(response, name) == [words]
    page = html.unescape(response.content.decode())
    for name, words in errors.items():  # shown under its own field
        assert re.search(rf'name="{name}"[^>]*>[^<]*</label><ul class="errorlist"[^>]*><li>'
                         rf'{re.escape(words)}</li>', page), (name, words)
    assert "Identity renewal policy saved." not in page
    assert values(tenant) == (45, 50, 5)  # nothing saved
    assert AuditEvent.objects.filter(
        action=AuditAction.IDENTITY_RENEWAL_POLICY_SAVED).count() == saved_events


def test_other_ca_forms_do_not_touch_the_policy(portal, tenant):
    response = portal.post(CA, {"action": "generate", "common_name": "", "organization": "x",
                                "years": "10"})
    assert response.status_code == 400
    assert not IdentityRenewalPolicy.objects.exists()
    assert not response.context["policy_form"].is_bound  # shown unbound, with the defaults


def test_end_users_and_other_tenants_admins_cannot_save_the_policy(client, other_portal, tenant,
                                                                  jane):
    client.force_login(jane, backend="users.auth.TenantEmailBackend")
    for visitor in (client, other_portal):
        response = visitor.post(CA, POLICY)
        assert response.status_code == 302
        assert response["Location"].startswith("/t/acme/admin/login/")
    # Their own tenant's page does not reach acme's policy either.
    assert other_portal.post("/t/globex/admin/settings/ca/", POLICY).status_code == 302
    assert not IdentityRenewalPolicy.objects.filter(tenant=tenant).exists()
    assert values(tenant) == (60, 100, 7)


# --- the dashboard's MDM identities card -----------------------------------------------------

TILE = re.compile(r'<(?:a|div) class="tile[^"]*"(?: href="([^"]*)")?><span class="figure">'
                  r'(\d+)</span><span>([^<]+)</span>')


def identity_tiles(portal) -> dict[str, tuple[int, str]]:
    page = portal.get("/t/acme/admin/").content.decode()
    card = page[page.index('<section class="card identities"'):]
    card = card[:card.index("</section>")]
    return {label: (int(count), html.unescape(href)) for href, count, label in TILE.findall(card)}


def apple(tenant, name: str, days: float | None, *, platform: str = "ios",
          state: str = DeviceState.ACTIVE) -> Device:
    expires = None if days is None else timezone.now() + dt.timedelta(days=days)
    return Device.objects.create(tenant=tenant, name=name, platform=platform, state=state,
                                 identity_expires_at=expires)


def renewal(tenant, device, state: str, *, ended_days_ago: float | None = None):
    now = timezone.now()
    ended = None if ended_days_ago is None else now - dt.timedelta(days=ended_days_ago)
    return IdentityRenewal.objects.create(tenant=tenant, device=device, state=state,
                                          reason="expiring", expires_at=now + dt.timedelta(1),
                                          ended_at=ended, failure_reason="refused")


def test_dashboard_counts_identities_and_each_figure_opens_its_list(portal, tenant,
                                                                   other_tenant):
    expired = apple(tenant, "Expired phone", -1)
    soon = apple(tenant, "Soon phone", 10)
    mac = apple(tenant, "Soon mac", 20, platform="macos")
    apple(tenant, "Later phone", 45)
    apple(tenant, "Latest phone", 80)
    apple(tenant, "Fine phone", 200)
    apple(tenant, "New phone", None)
    apple(tenant, "Retired phone", -3, state=DeviceState.RETIRED)  # no longer managed
    apple(other_tenant, "Foreign phone", -1)
    foreign = apple(other_tenant, "Foreign soon", 5)
    renewal(tenant, soon, RenewalState.PENDING)
    renewal(tenant, expired, RenewalState.FAILED, ended_days_ago=2)
    renewal(tenant, mac, RenewalState.FAILED, ended_days_ago=10)  # too long ago
    renewal(other_tenant, foreign, RenewalState.FAILED, ended_days_ago=1)

    tiles = identity_tiles(portal)
    assert {label: count for label, (count, _) in tiles.items()} == {
        "expired": 1, "expire within 30 days": 2, "expire within 60 days": 3,
        "expire within 90 days": 4, "renewals waiting for their device": 1,
        "renewals failed in the last 7 days": 1}
    expected_rows = {
        "expired": {"Expired phone"},
        "expire within 30 days": {"Soon phone", "Soon mac"},
        "expire within 60 days": {"Soon phone", "Soon mac", "Later phone"},
        "expire within 90 days": {"Soon phone", "Soon mac", "Later phone", "Latest phone"},
    }
    names = set(Device.objects.values_list("name", flat=True))
    for label, rows in expected_rows.items():
        count, href = tiles[label]
        assert href.startswith("/t/acme/admin/devices/?identity_expires="), href
        listing = portal.get(href).content.decode()
        shown = {name for name in names if f">{name}</a>" in listing}
        assert shown == rows and len(shown) == count, (label, shown)
    assert tiles["renewals waiting for their device"][1] == ""  # no list behind it
    failures = tiles["renewals failed in the last 7 days"][1]
    assert failures.startswith(
        "/t/acme/admin/audit/?action=device.identity_renewal_failed&since=")
    assert portal.get(failures).status_code == 200


def test_dashboard_card_is_empty_but_present_without_apple_devices(portal, tenant):
    tiles = identity_tiles(portal)
    assert len(tiles) == 6 and all(count == 0 for count, _ in tiles.values())
    page = portal.get("/t/acme/admin/").content.decode()
    assert "<h2 id=\"identities-title\">MDM identities</h2>" in page
    assert "/t/acme/admin/settings/ca/#identity-renewal" in page
