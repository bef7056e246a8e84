"""A fleet enrolled on day 0 is still fully managed on day 400 (issue 16): the simulator
lives through the days with the application's clock moved, the renewal scan renews every
identity before it expires, and every device keeps checking in."""

from __future__ import annotations

import pytest
from django.db.models import Count

from devices.models import Device, IdentityRenewal, RenewalState
from devices.simulator.lifecycle import live_through
from enrollment.models import IssuedCertificate, RevocationReason
from tests.base.apple.devices import ready_tenant

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_fleet_enrolled_on_day_0_is_managed_on_day_400(tenant, admin):
    ready_tenant(tenant, admin)
    report = live_through(tenant, "ios", 4, 400, step_days=5)

    assert report.failures == {}
    assert (report.enrolled, report.managed, report.identities_valid) == (4, 4, 4)
    assert report.renewals == 4  # one each: 365-day identities renewed 60 days before expiry
    renewals = IdentityRenewal.objects.for_tenant(tenant)
    assert dict(renewals.values_list("state").annotate(n=Count("id"))) == {
        RenewalState.COMPLETED: 4}
    for device in Device.objects.for_tenant(tenant):
        assert device.state == "active"
        assert device.identity_expires_at > device.last_seen_at
    # The replaced identities were revoked as superseded once the grace period ended.
    superseded = IssuedCertificate.objects.for_tenant(tenant).filter(
        revocation_reason=RevocationReason.SUPERSEDED)
    assert superseded.count() == 4
