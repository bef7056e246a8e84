"""Browser tests: Playwright driving Debian's Chromium (/usr/bin/chromium) against the live
test server. Playwright cannot download browsers here; the system one is required.

Screenshots of the main pages are test artifacts: they go to `artifacts/screenshots/` at the
repository root (or `$MDM_E2E_SCREENSHOT_DIR`), a stable place CI can keep."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.base import REPO_ROOT
from tests.conftest import PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
IPHONE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
             "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")
MAC_UA = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like "
          "Gecko) Version/17.4 Safari/605.1.15")

# Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
# still synchronous, so Django's async-safety check must be told so.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                              headless=True)
        yield instance
        instance.close()


@pytest.fixture
def desktop(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


@pytest.fixture
def iphone(browser):
    context = browser.new_context(user_agent=IPHONE_UA, viewport={"width": 390, "height": 844},
                                  is_mobile=True, has_touch=True)
    yield context.new_page()
    context.close()


@pytest.fixture
def mac(browser):
    context = browser.new_context(user_agent=MAC_UA, viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


SCREENSHOT_DIR_ENV = "MDM_E2E_SCREENSHOT_DIR"


@pytest.fixture(scope="session")
def shots() -> Path:
    """Where screenshots go, created on demand; each test names its files, so parallel
    workers never write the same one."""
    directory = Path(os.environ.get(SCREENSHOT_DIR_ENV) or
                     REPO_ROOT / "artifacts" / "screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture
def site(live_server, settings):
    """The live server's URL, which is also the public URL emails, links and profiles carry."""
    settings.MDM_PUBLIC_URL = live_server.url
    settings.CSRF_TRUSTED_ORIGINS = [live_server.url]
    return live_server.url


def sign_in(page, url: str, email: str, password: str = PASSWORD) -> None:
    """Open `url` (a portal page: it redirects to its sign-in form) and sign in."""
    page.goto(url)
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button:has-text('Sign in')")
    page.wait_for_load_state()


BAR_WIDTH = 330  # the longest bar's length in _bar_chart.html

# A bar is a link (`a.bar`) to the list behind it, or a plain `g.bar` when there is none.
READ_CHART = """title => [...document.querySelectorAll(`svg.chart[aria-label="${title}"] .bar`)]
  .map(a => ({label: a.querySelector('.chart-label').textContent,
              value: a.querySelector('.chart-value').textContent,
              aria: a.getAttribute('aria-label'), href: a.getAttribute('href'),
              width: Number(a.querySelector('rect.chart-bar').getAttribute('width')),
              tooltip: a.querySelector('rect.chart-bar title').textContent}))"""


def chart(page, title: str) -> list[dict]:
    """The bars of the chart named `title`, checked for consistency: the number shown, the
    accessible name and the tooltip agree, and lengths are proportional to the numbers."""
    # After a click the next page may still be loading: wait for the chart to be there.
    page.locator(f'svg.chart[aria-label="{title}"] .bar').first.wait_for()
    bars = page.evaluate(READ_CHART, title)
    assert bars, f"no chart {title!r}"
    scale = max([int(bar["value"]) for bar in bars] + [1])
    for bar in bars:
        count = int(bar["value"])
        assert bar["aria"] == bar["tooltip"] == f"{bar['label']}: {count}"
        assert abs(bar["width"] - count * BAR_WIDTH / scale) <= 1, bar
    return bars


def chart_bars(page, title: str) -> dict[str, int]:
    return {bar["label"]: int(bar["value"]) for bar in chart(page, title)}
