"""Accessibility in a real browser: every form control on every main admin, self-service and
registration-link page has an accessible name from a label (for= or wrapping), aria-label or
aria-labelledby; and the portals work from the keyboard alone (sign in with Tab and Enter,
skip link, main navigation, the small-screen menu)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from devices.models import Device
from tests.base.apple.devices import ready_tenant, simulated_device
from tests.conftest import PASSWORD
from tests.e2e.conftest import sign_in
from users.models import User

pytestmark = pytest.mark.django_db(transaction=True)

# Controls a person fills in or chooses; hidden inputs and buttons name themselves.
UNLABELLED_CONTROLS = """() => {
  const named = el => {
    if ((el.getAttribute('aria-label') || '').trim()) return true;
    const ids = (el.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean);
    if (ids.some(id => (document.getElementById(id)?.textContent || '').trim())) return true;
    return [...(el.labels || [])].some(label => label.textContent.trim());
  };
  return [...document.querySelectorAll('input, select, textarea')]
    .filter(el => !['hidden', 'submit', 'button', 'reset', 'image'].includes(el.type))
    .filter(el => !named(el))
    .map(el => el.outerHTML.slice(0, 200));
}"""

PAGE_BASICS = """() => ({lang: document.documentElement.lang, title: document.title,
                     h1: document.querySelectorAll('h1').length})"""

ADMIN_PAGES = [  # (url name, kwargs besides tenant_slug, screenshot file or "")
    ("dashboard", {}, ""), ("users", {}, "admin-users.png"), ("user-add", {}, ""),
    ("user-detail", {"user_id": "ann"}, "admin-user-detail.png"), ("devices", {}, ""),
    ("device", {"device_id": "device"}, ""), ("registrations", {}, "admin-registrations.png"),
    ("certificates", {}, ""), ("audit", {}, ""), ("profiles", {}, ""),
    ("profile-create", {}, ""), ("ca", {}, "admin-settings.png"),
    ("registration-settings", {}, "admin-settings-registration.png"),
    ("apple-settings", {}, ""), ("push-apns", {}, ""), ("push-app", {}, ""),
    ("push-reminders", {}, ""), ("api-tokens", {}, ""), ("ldap", {}, ""),
    ("android-settings", {}, ""),
    *[("setup-step", {"step": step}, "") for step in
      ("organization", "apple", "android", "users", "invite")],
]


@pytest.fixture
def people(tenant, admin):
    """Ann has a password, an enrolled iPhone and a registration; Bob must change his
    temporary password at his first sign-in."""
    ready_tenant(tenant, admin)
    ann = User.objects.create_user(tenant, "ann@acme.test", PASSWORD, first_name="Ann")
    User.objects.create_user(tenant, "bob@acme.test", PASSWORD, must_change_password=True)
    device = simulated_device(tenant, ann)
    device.authenticate()
    device.token_update()
    return {"ann": ann.pk, "device": Device.objects.get(tenant=tenant, udid=device.udid).pk}


class Findings:
    """Problems per page, reported together so one run lists every template to fix."""

    def __init__(self):
        self.problems: dict[str, list[str]] = {}

    def check(self, page, where: str) -> None:
        found = list(page.evaluate(UNLABELLED_CONTROLS))
        basics = page.evaluate(PAGE_BASICS)
        if basics["lang"] != "en":
            found.append("<html> has no lang")
        if not basics["title"].strip() or "<" in basics["title"]:
            found.append(f"bad <title>: {basics['title']!r}")
        if basics["h1"] != 1:
            found.append(f"{basics['h1']} <h1> headings")
        if found:
            self.problems[where] = found

    def report(self) -> str:
        return "\n".join(f"{where}:\n  " + "\n  ".join(" ".join(item.split()) for item in found)
                         for where, found in self.problems.items())


def visit(page, url: str) -> None:
    response = page.goto(url)
    assert response.status < 400, (url, response.status)


def test_every_form_control_has_a_label(site, tenant, people, desktop, iphone, mac, shots):
    findings = Findings()
    page = desktop
    visit(page, f"{site}/t/{tenant.slug}/admin/login/")
    findings.check(page, "admin sign-in")
    sign_in(page, f"{site}/t/{tenant.slug}/admin/", "admin@acme.test")
    for name, kwargs, screenshot in ADMIN_PAGES:
        kwargs = {key: people.get(value, value) for key, value in kwargs.items()}
        path = reverse(f"portal:{name}", kwargs={"tenant_slug": tenant.slug, **kwargs})
        visit(page, site + path)
        findings.check(page, path)
        if screenshot:
            page.screenshot(path=str(shots / screenshot), full_page=True)
    check_bulk_confirmation(page, findings, site, tenant, people, shots)

    # Self-service portal, as Ann (a second context: her own session).
    context = page.context.browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        portal = context.new_page()
        base = f"{site}/t/{tenant.slug}/portal"
        visit(portal, f"{base}/login/")
        findings.check(portal, "self-service sign-in")
        sign_in(portal, f"{base}/", "ann@acme.test")
        for path in ("/", "/register/", "/register/?platform=macos", "/register/?platform=ios",
                     "/register/?platform=android"):
            visit(portal, base + path)
            findings.check(portal, base + path)
        portal.click("button:has-text('Start registration')")  # Android, no enterprise
        portal.goto(f"{base}/register/?platform=macos")
        portal.click("button:has-text('Start registration')")
        portal.wait_for_selector("text=Download the management profile")
        findings.check(portal, "self-service registration")
        portal.goto(f"{base}/register/")
        portal.click("button:has-text('Show a QR code for the app')")
        portal.wait_for_selector(".qr svg")
        findings.check(portal, "self-service app QR code")
    finally:
        context.close()

    # The registration link (/go) on a phone: sign-in, PIN, choose a password.
    from django.test import override_settings

    from enrollment.services.links import current_go_url

    with override_settings(MDM_PUBLIC_URL=site):
        go_url = current_go_url(tenant)
    phone = iphone
    visit(phone, go_url)
    findings.check(phone, "/go sign-in")
    phone.click("text=I have a PIN")
    findings.check(phone, "/go PIN")
    visit(phone, go_url)
    phone.fill("input[name=email]", "bob@acme.test")
    phone.fill("input[name=password]", PASSWORD)
    phone.click("button[type=submit]")
    phone.wait_for_selector("input[name=new_password1]")
    findings.check(phone, "/go choose a password")

    # On a Mac: the desktop page offers "Register this Mac", then the same sign-in; Bob's
    # temporary password stops a portal sign-in at the choose-a-password page.
    visit(mac, go_url)
    findings.check(mac, "/go on a Mac")
    mac.click("a.button:has-text('Register this Mac')")
    mac.wait_for_selector("input[name=password]")
    findings.check(mac, "/go sign-in on a Mac")
    sign_in(mac, f"{site}/t/{tenant.slug}/portal/", "bob@acme.test")
    mac.wait_for_selector("input[name=new_password1]")
    findings.check(mac, "self-service: choose a password")

    assert not findings.problems, findings.report()


def check_bulk_confirmation(page, findings: Findings, site, tenant, people, shots) -> None:
    """The Devices page's bulk confirmation (reached by POSTing the list's form, so not in
    ADMIN_PAGES): erasing Ann's iPhone and a Mac asks for the Mac's PIN and the data plan;
    submitted without the PIN, it comes back with the error. Nothing is erased."""
    mac = Device.objects.create(tenant=tenant, platform="macos", state="active",
                                name="Ann's Mac", serial_number="C02A11Y")
    visit(page, f"{site}/t/{tenant.slug}/admin/devices/")
    for device in Device.objects.filter(pk__in=[people["device"], mac.pk]):
        page.check(f"input[name=devices][value='{device.pk}']")
    page.select_option("select[name=action]", "wipe")
    page.click("button:has-text('Review for selected')")
    page.wait_for_selector("h1:has-text('Erase 2 devices?')")
    findings.check(page, "devices bulk confirmation (erase)")
    page.screenshot(path=str(shots / "admin-devices-bulk-confirm.png"), full_page=True)
    page.click("button:has-text('Erase 2 devices')")
    page.wait_for_selector("text=A Mac needs a six-digit PIN")
    findings.check(page, "devices bulk confirmation (erase, PIN missing)")
    assert set(Device.objects.filter(tenant=tenant).values_list("state", flat=True)) == {
        "active"}


def focused(page) -> dict:
    return page.evaluate("""() => {const el = document.activeElement;
      return {tag: el.tagName.toLowerCase(), name: el.getAttribute('name') || '',
              text: (el.innerText || el.value || '').trim(), type: el.type || ''}}""")


def tab_until(page, text: str, limit: int = 15) -> list[str]:
    """Press Tab until the link or button `text` has focus; the focus stops on the way."""
    stops = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        stops.append(focused(page)["text"] or focused(page)["name"])
        if stops[-1] == text:
            return stops
    raise AssertionError(f"Tab never reached {text!r}: {stops}")


def test_sign_in_and_navigate_with_the_keyboard(site, tenant, admin, desktop, iphone):
    page = desktop
    page.goto(f"{site}/t/{tenant.slug}/admin/")
    assert focused(page)["name"] == "email"  # the form's first field has focus on load
    page.keyboard.type("admin@acme.test")
    page.keyboard.press("Tab")
    assert focused(page)["name"] == "password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    assert focused(page) | {"text": ""} == {"tag": "button", "name": "", "text": "",
                                             "type": "submit"}
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")  # submits from the password field
    page.wait_for_selector("h1:has-text('Dashboard')")

    # First stop: the skip link, which jumps past the header to the page's content.
    page.keyboard.press("Tab")
    assert focused(page)["text"] == "Skip to main content"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('main') !== null")

    # Then every main navigation link, in order, and Enter follows one.
    page.goto(f"{site}/t/{tenant.slug}/admin/")
    stops = tab_until(page, "Settings")
    nav = ["Dashboard", "Users", "Devices", "Registrations", "Audit trail", "Settings"]
    assert [stop for stop in stops if stop in nav] == nav
    assert len(stops) <= len(nav) + 3  # skip link, brand: nothing else comes first
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")  # on "Registrations"
    page.wait_for_selector("h1:has-text('Registrations')")

    # On a phone the navigation folds into a menu button that the keyboard can open.
    phone = iphone
    sign_in(phone, f"{site}/t/{tenant.slug}/admin/", "admin@acme.test")
    assert not phone.is_visible("nav >> text=Users")
    for _ in range(4):
        phone.keyboard.press("Tab")
        if focused(phone)["name"] == "" and focused(phone)["type"] == "checkbox":
            break
    assert focused(phone)["type"] == "checkbox", focused(phone)
    phone.keyboard.press("Space")
    assert phone.is_visible("nav >> text=Users")
    phone.keyboard.press("Tab")
    assert focused(phone)["text"] == "Dashboard"
