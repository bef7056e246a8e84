"""The dashboard's server-rendered SVG charts in a real browser: every bar's label, number,
length and link match the database, for the chosen period."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.utils import timezone

from devices.models import Device
from enrollment.models import Invitation, Registration
from tests.e2e.conftest import chart, chart_bars, sign_in
from users.models import User

pytestmark = pytest.mark.django_db(transaction=True)

DEVICES = [  # (platform, state, how many)
    ("ios", "active", 3), ("macos", "active", 1), ("ios", "retired", 1), ("macos", "wiped", 2),
    ("android", "inactive", 1), ("ios", "pending", 1), ("android", "reset", 1),
]


def seed(tenant) -> None:
    now = timezone.now()
    old = now - dt.timedelta(days=40)
    users = [User.objects.create_user(tenant, f"u{n}@acme.test") for n in range(12)]
    owners = itertools.cycle(users)
    for platform, state, count in DEVICES:
        for _ in range(count):
            Device.objects.create(tenant=tenant, platform=platform, state=state,
                                  owner=next(owners), serial_number=f"SN{platform}{state}{_}")
    # Invitations: three in the last 30 days (two opened), one 40 days old (opened then).
    for n, (created, opened) in enumerate([(now, now), (now, now), (now, None), (old, old)]):
        Invitation.objects.create(tenant=tenant, user=users[n], token_hash=f"{n:064x}",
                                  created_at=created, expires_at=created + dt.timedelta(days=7),
                                  opened_at=opened)
    # Registrations: (state, reached profile download, SCEP, enrolled, created 40 days ago).
    for n, (state, downloaded, issued, enrolled, is_old) in enumerate([
        ("started", False, False, False, False),
        ("profile_downloaded", True, False, False, False),
        ("certificate_issued", True, True, False, False),
        ("enrolled", True, True, True, False),
        ("enrolled", True, True, True, False),
        ("expired", True, False, False, False),
        ("cancelled", False, False, False, False),
        ("failed", True, True, False, False),
        ("enrolled", True, True, True, True),
    ]):
        at = old if is_old else now
        registration = Registration.objects.create(
            tenant=tenant, user=users[n], platform="ios", method="api", state=state,
            expires_at=at + dt.timedelta(hours=72),
            profile_downloaded_at=at if downloaded else None,
            certificate_issued_at=at if issued else None, enrolled_at=at if enrolled else None)
        Registration.objects.filter(pk=registration.pk).update(created_at=at)


def test_charts_match_the_database(site, tenant, desktop, shots):
    seed(tenant)
    page = desktop
    sign_in(page, f"{site}/t/{tenant.slug}/admin/", "admin@acme.test")
    page.wait_for_selector("svg.chart")
    page.screenshot(path=str(shots / "admin-dashboard.png"), full_page=True)

    states = chart(page, "Devices by state")
    assert {bar["label"]: int(bar["value"]) for bar in states} == {
        "Enrolling": 1, "Active": 4, "Inactive": 1, "Wiped": 2, "Reset": 1, "Retired": 1}
    for bar in states:  # each bar opens the list behind it
        assert bar["href"].endswith(f"/t/{tenant.slug}/admin/devices/?state="
                                    f"{bar['label'].lower().replace('enrolling', 'pending')}")
    tiles = dict(zip(page.locator(".tile span:last-child").all_inner_texts(),
                     map(int, page.locator(".tile .figure").all_inner_texts()), strict=True))
    assert tiles["users"] == 13 and tiles["devices"] == 10  # 12 users + the admin
    assert tiles["active · iOS / iPadOS"] == 3 and tiles["active · macOS"] == 1
    assert tiles["active · Android"] == 0

    last_30_days = {"Invited": 3, "Link opened": 2, "Profile downloaded / token used": 6,
                    "Certificate issued (SCEP)": 4, "Enrolled": 2, "Expired": 1,
                    "Cancelled": 1, "Failed": 1}
    assert chart_bars(page, "Registration funnel") == last_30_days
    page.click(".period button:has-text('90 days')")
    page.wait_for_url("**/admin/?days=90")
    assert chart_bars(page, "Registration funnel") == {
        **last_30_days, "Invited": 4, "Link opened": 3, "Profile downloaded / token used": 7,
        "Certificate issued (SCEP)": 5, "Enrolled": 3}

    # Each registration bar opens the registrations list for the same period: same count.
    for days in ("30", "90"):
        page.goto(f"{site}/t/{tenant.slug}/admin/?days={days}")
        assert funnel_lists(page, site) == {
            label: count for label, count in chart_bars(page, "Registration funnel").items()
            if label not in ("Invited", "Link opened")}  # invitations: no list behind them
    page.goto(f"{site}/t/{tenant.slug}/admin/?days=30")
    page.click("svg.chart[aria-label='Registration funnel'] a[aria-label='Enrolled: 2']")
    page.wait_for_url("**/registrations/?step=enrolled&days=30")
    assert page.inner_text("#match-count") == "2 registrations match."
    assert page.locator("tbody tr").count() == 2  # the 40-day-old enrolment is not listed

    page.goto(f"{site}/t/{tenant.slug}/admin/")
    page.click("svg.chart[aria-label='Devices by state'] a[aria-label='Active: 4']")
    page.wait_for_url("**/devices/?state=active")
    assert page.locator("tbody tr:has(a[href*='/devices/'])").count() == 4


def funnel_lists(page, site) -> dict[str, int]:
    """Bar label: the count on the registrations list the bar links to, for the funnel on
    the page (it is left for each list, then reopened)."""
    dashboard = page.url
    links = {bar["label"]: bar["href"] for bar in chart(page, "Registration funnel")
             if bar["href"]}
    counts = {}
    for label, href in links.items():
        assert "days=" in href and "/registrations/?" in href, (label, href)
        page.goto(site + href)
        shown = page.inner_text("#match-count").split()[0]
        assert page.locator("tbody tr td a[href*='/users/']").count() == int(shown)
        counts[label] = int(shown)
    page.goto(dashboard)
    return counts
