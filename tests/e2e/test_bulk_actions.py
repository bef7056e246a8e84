"""A bulk action in a real browser: the admin selects two enrolled iPhones on the Devices page,
chooses Retire, reads on the confirmation page what will happen to exactly those two, confirms,
and sees the outcome and the devices' new state; the third iPhone is left alone."""

from __future__ import annotations

import pytest

from devices.models import Device, DeviceState
from enrollment.models import IssuedCertificate
from tests.base.apple.devices import ready_tenant, simulated_device
from tests.conftest import PASSWORD
from tests.e2e.conftest import sign_in
from users.models import User

pytestmark = pytest.mark.django_db(transaction=True)


def enrolled_iphone(tenant, email: str) -> Device:
    user = User.objects.create_user(tenant, email, PASSWORD)
    phone = simulated_device(tenant, user)
    phone.authenticate()
    phone.token_update()
    return Device.objects.get(tenant=tenant, udid=phone.udid)


def row(page, device: Device):
    return page.locator("tbody tr", has=page.locator(f"input[value='{device.pk}']"))


def test_retire_two_devices_from_the_devices_page(site, tenant, admin, desktop, shots):
    ready_tenant(tenant, admin)
    ann, bob, carol = (enrolled_iphone(tenant, f"{name}@acme.test")
                       for name in ("ann", "bob", "carol"))
    page = desktop
    sign_in(page, f"{site}/t/{tenant.slug}/admin/devices/", "admin@acme.test")
    page.wait_for_selector("h1:has-text('Devices')")
    for device in (ann, bob):
        page.check(f"input[aria-label='Select {device}']")
    page.select_option("select[name=action]", label="Retire (take out of management)")
    page.click("button:has-text('Review for selected')")

    # The confirmation names the action, its consequence and exactly the selected devices.
    page.wait_for_selector("h1:has-text('Retire 2 devices?')")
    assert page.inner_text("#consequence") == (
        "Retire 2 devices: the devices leave management; their data stays.")
    consequence = page.inner_text("section[aria-labelledby=consequence] li")
    assert consequence.startswith("Apple (2 devices): identity certificate revoked")
    assert page.locator("table.list tbody tr").count() == 2
    listed = page.inner_text("table.list tbody")
    assert "ann@acme.test" in listed and "bob@acme.test" in listed and "carol@" not in listed
    page.screenshot(path=str(shots / "admin-devices-bulk-retire.png"), full_page=True)
    assert Device.objects.filter(state=DeviceState.RETIRED).count() == 0  # nothing yet

    page.click("button:has-text('Retire 2 devices')")
    page.wait_for_selector(".messages >> text=Retire: done for 2 devices.")
    assert page.url.endswith(f"/t/{tenant.slug}/admin/devices/")
    for device in (ann, bob):
        assert "Retired" in row(page, device).inner_text()
    assert "Active" in row(page, carol).inner_text()
    states = dict(Device.objects.filter(tenant=tenant).values_list("pk", "state"))
    assert states == {ann.pk: DeviceState.RETIRED, bob.pk: DeviceState.RETIRED,
                      carol.pk: DeviceState.ACTIVE}
    assert not IssuedCertificate.objects.filter(device__in=[ann, bob],
                                                revoked_at__isnull=True).exists()
    assert IssuedCertificate.objects.filter(device=carol, revoked_at__isnull=True).exists()
