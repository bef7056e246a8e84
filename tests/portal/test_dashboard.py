"""Dashboard figures, funnel, alerts, and the registrations list with diagnoses."""

import datetime as dt
import html
import re

import pytest
from django.utils import timezone

from audit.events import AuditAction
from audit.record import record
from core.platforms import Platform
from devices.models import Device, DeviceState
from enrollment.diagnostics import diagnose
from enrollment.models import CertificateAuthority, Registration, RegistrationState
from enrollment.services.registrations import do_start_registration
from users.models import User


def _registration(tenant, admin, email, **fields):
    user = User.objects.create_user(tenant, email)
    registration = do_start_registration(tenant, user, "ios", "api", actor=admin).registration
    Registration.objects.filter(pk=registration.pk).update(**fields)
    registration.refresh_from_db()
    return registration


def test_dashboard_charts_and_query_count(portal, tenant, admin, django_assert_max_num_queries):
    Device.objects.bulk_create([Device(tenant=tenant, platform=Platform.IOS,
                                       state=DeviceState.ACTIVE) for _ in range(3)]
                               + [Device(tenant=tenant, platform=Platform.ANDROID,
                                         state=DeviceState.WIPED)])
    now = timezone.now()
    _registration(tenant, admin, "a@acme.test", state=RegistrationState.ENROLLED,
                  profile_downloaded_at=now, certificate_issued_at=now, enrolled_at=now)
    _registration(tenant, admin, "b@acme.test", state=RegistrationState.EXPIRED)
    # 12 before the MDM identities card, which adds the 2 of identity_summary.
    with django_assert_max_num_queries(14):
        response = portal.get(f"/t/{tenant.slug}/admin/", {"days": "7"})
    html = response.content.decode()
    assert response.status_code == 200 and "<svg" in html
    assert "Registration funnel" in html and 'aria-label="Enrolled: 1"' in html
    assert 'aria-label="Expired: 1"' in html and 'aria-label="Active: 3"' in html
    assert f'/t/{tenant.slug}/admin/registrations/?state=expired&amp;days=7' in html


BAR = re.compile(r'<a class="bar" href="([^"]+)" aria-label="([^":]+): (\d+)">')
MATCHES = re.compile(r'id="match-count">(\d+) registrations? match')


@pytest.mark.parametrize("days", ["7", "30", "90"])
def test_each_funnel_bar_opens_a_list_with_its_count(portal, tenant, admin, other_tenant,
                                                     other_admin, days):
    """A bar's number is the count on the registrations list it links to, for the period."""
    now = timezone.now()
    ago = lambda n: now - dt.timedelta(days=n)  # noqa: E731
    for index, (created, downloaded, issued, enrolled, state) in enumerate([
        (ago(2), ago(2), ago(2), ago(1), "enrolled"),
        (ago(20), ago(20), ago(19), ago(3), "enrolled"),       # started before 7 days
        (ago(25), ago(25), ago(25), ago(25), "superseded"),    # enrolled, replaced since
        (ago(60), ago(60), ago(60), ago(60), "enrolled"),      # only within 90 days
        (ago(10), ago(10), None, None, "expired"),
        (ago(3), None, None, None, "cancelled"),
        (ago(40), ago(40), ago(40), None, "failed"),
        (ago(1), ago(1), None, None, "profile_downloaded"),
        (ago(120), ago(120), ago(120), ago(120), "enrolled"),  # in no period
    ]):
        _registration(tenant, admin, f"r{index}@acme.test", created_at=created, state=state,
                      profile_downloaded_at=downloaded, certificate_issued_at=issued,
                      enrolled_at=enrolled)
    _registration(other_tenant, other_admin, "elsewhere@globex.test", state="enrolled",
                  profile_downloaded_at=now, certificate_issued_at=now, enrolled_at=now)

    page = portal.get(f"/t/{tenant.slug}/admin/", {"days": days}).content.decode()
    bars = {label: (html.unescape(href), int(count)) for href, label, count in BAR.findall(page)
            if "/registrations/" in href}
    assert set(bars) == {"Profile downloaded / token used", "Certificate issued (SCEP)",
                         "Enrolled", "Expired", "Cancelled", "Failed"}
    expected_enrolled = {"7": 2, "30": 3, "90": 4}[days]
    assert bars["Enrolled"][1] == expected_enrolled  # the replaced registration counts too
    for label, (href, count) in bars.items():
        assert f"days={days}" in href, (label, href)
        listing = portal.get(href).content.decode()
        assert int(MATCHES.search(listing)[1]) == count, (label, href)
        assert listing.count("@acme.test</a>") == count and "elsewhere@" not in listing
    # The invitation bars have no list behind them: they link nowhere.
    assert 'role="img" aria-label="Invited: 0"' in page


def test_dashboard_alerts(portal, tenant):
    CertificateAuthority.objects.filter(tenant=tenant).update(
        not_after=timezone.now() + dt.timedelta(days=10))
    html = portal.get(f"/t/{tenant.slug}/admin/").content.decode()
    assert "The CA expires on" in html
    assert "No APNs certificate" in html and "Android Enterprise is not bound" in html
    assert f"/t/{tenant.slug}/admin/settings/apns/" in html


def test_registrations_list_diagnoses_in_plain_words(portal, tenant, admin,
                                                     django_assert_max_num_queries):
    past = timezone.now() - dt.timedelta(minutes=1)
    never = _registration(tenant, admin, "a@acme.test", expires_at=past)
    refused = _registration(tenant, admin, "b@acme.test", expires_at=past,
                            profile_downloaded_at=past, state="profile_downloaded")
    record(tenant, AuditAction.SCEP_REJECTED, actor="scep",
           detail={"reason": "challenge expired", "registration_id": refused.pk})
    for index in range(10):
        _registration(tenant, admin, f"x{index}@acme.test")
    with django_assert_max_num_queries(8):
        response = portal.get(f"/t/{tenant.slug}/admin/registrations/")
    html = response.content.decode()
    assert "never downloaded" in html and "SCEP server returned an invalid response" in html
    assert "Start registration again" in html
    assert diagnose(never).ok is False
    filtered = portal.get(f"/t/{tenant.slug}/admin/registrations/",
                          {"step": "profile_downloaded"}).content.decode()
    assert "b@acme.test" in filtered and "a@acme.test" not in filtered


def test_the_api_filters_registrations_by_period_like_the_portal(api, tenant, admin):
    now = timezone.now()
    for index, enrolled in enumerate([now - dt.timedelta(days=2), now - dt.timedelta(days=20)]):
        _registration(tenant, admin, f"p{index}@acme.test", state="enrolled",
                      created_at=now - dt.timedelta(days=40), enrolled_at=enrolled)
    counts = {days: api.get("/api/v1/registrations/", {"step": "enrolled", "days": days})
              .json()["count"] for days in ("7", "30")}
    assert counts == {"7": 1, "30": 2}
    assert api.get("/api/v1/registrations/", {"days": "30"}).json()["count"] == 0  # started
    assert api.get("/api/v1/registrations/", {"days": "5"}).status_code == 400
