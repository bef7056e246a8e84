"""Dashboard figures, funnel, alerts, and the registrations list with diagnoses."""

import datetime as dt

from django.utils import timezone

from audit.events import AuditAction
from audit.record import record
from devices.models import Device, DeviceState, Platform
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
    with django_assert_max_num_queries(12):
        response = portal.get(f"/t/{tenant.slug}/admin/", {"days": "7"})
    html = response.content.decode()
    assert response.status_code == 200 and "<svg" in html
    assert "Registration funnel" in html and 'aria-label="Enrolled: 1"' in html
    assert 'aria-label="Expired: 1"' in html and 'aria-label="Active: 3"' in html
    assert f'/t/{tenant.slug}/admin/registrations/?state=expired' in html


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


def test_registrations_list_is_tenant_scoped(portal, tenant, other_tenant, other_admin):
    _registration(other_tenant, other_admin, "globex-secret@globex.test")
    html = portal.get(f"/t/{tenant.slug}/admin/registrations/").content.decode()
    assert "globex-secret" not in html
