"""Account-driven registrations on the Registrations page: filtered by their method, with a
diagnosis that tells what to do on the device."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from enrollment.models import Registration, RegistrationMethod, RegistrationState

pytestmark = pytest.mark.django_db


def test_registrations_by_account_sign_in_are_listed_and_diagnosed(portal, tenant, alice):
    now = timezone.now()
    Registration.objects.create(
        tenant=tenant, user=alice, platform="ios", method=RegistrationMethod.ACCOUNT_DRIVEN,
        state=RegistrationState.EXPIRED, profile_downloaded_at=now - dt.timedelta(hours=2),
        expires_at=now - dt.timedelta(hours=1))
    Registration.objects.create(tenant=tenant, user=alice, platform="ios",
                                method=RegistrationMethod.API, expires_at=now)
    page = portal.get("/t/acme/admin/registrations/", {"method": "account_driven"})
    assert page.status_code == 200
    body = page.content.decode()
    assert body.count("Account-driven enrollment") >= 2  # the filter's choice and the row
    assert "<td>API</td>" not in body  # the other registration is filtered out
    assert "The user signs in again on the device" in body
