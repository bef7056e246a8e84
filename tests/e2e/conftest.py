"""Browser tests: Playwright driving Debian's Chromium (/usr/bin/chromium) against the live
test server. Playwright cannot download browsers here; the system one is required."""

from __future__ import annotations

import os

import pytest

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


@pytest.fixture
def shots(tmp_path_factory):
    """Where screenshots go (kept under pytest's temp dir for a human to look at)."""
    return tmp_path_factory.mktemp("screenshots")
