"""Browser tests: Playwright for Python driving Debian's Chromium against pytest-django's live server.

Celery runs tasks eagerly here (in the server's thread), so what a worker would do after a
click (send the code, re-plan reminders) has happened by the time the next page loads. The SMS
go through the real twilio library to the local Twilio-compatible server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from config.celery import app as celery_app
from tests.service_markers import CHROMIUM, browser_problem

# Playwright's sync API keeps an event loop running in the test's thread; the ORM calls the tests
# make between clicks are still plain synchronous code (Django's documented escape hatch).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
SCREENSHOTS = os.environ.get("SCREENSHOTS_DIR", "")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium() -> Iterator:
    # Tests that use this carry the `browser` marker, which skips them locally (fails them in CI)
    # before we get here when Chromium is missing; reaching here without it is a mistake.
    if problem := browser_problem():
        pytest.fail(f"{problem}; mark the test @pytest.mark.browser")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@contextmanager
def csp_checked_page(chromium, **options) -> Iterator:
    """A page in a new browser context; the test fails if the Content-Security-Policy blocked anything.

    Chromium reports each thing it refused (an inline script or style, a handler attribute, a
    script or image from elsewhere) as a console error naming the policy; a page that broke
    quietly under the policy would otherwise still pass a test that never looks at what it lost.
    """
    context = chromium.new_context(**options)
    context.set_default_timeout(15_000)
    violations: list[str] = []

    def on_console(message) -> None:
        if "Content Security Policy" in message.text:
            violations.append(f"{message.page.url if message.page else '?'}: {message.text}")

    context.on("console", on_console)
    page = context.new_page()
    yield page
    context.close()
    if violations:
        pytest.fail("the Content-Security-Policy blocked something:\n" + "\n".join(violations), pytrace=False)


@pytest.fixture
def page(chromium, live_server):
    with csp_checked_page(chromium, base_url=live_server.url, viewport={"width": 1100, "height": 900}) as page:
        yield page


@pytest.fixture
def phone_page(chromium, live_server):
    """A phone-sized window, as most caregivers will see the sign-up page."""
    with csp_checked_page(
        chromium, base_url=live_server.url, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
        timezone_id="America/Chicago",
    ) as page:  # fmt: skip
        yield page


@pytest.fixture
def eager_celery() -> Iterator[None]:
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def screenshot():
    """Save a full-page screenshot under $SCREENSHOTS_DIR (`make screenshots`); otherwise do nothing."""

    def take(page, name: str) -> None:
        if SCREENSHOTS:
            Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)

    return take
