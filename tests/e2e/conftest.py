"""Browser journeys: Debian's Chromium driven by Playwright against the live test server.

Fixtures here are what every journey needs: a browser, a fresh page per test (with a screenshot
in ``test-artifacts/`` when the test fails), the captured mail, and helpers to sign in.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require

# Playwright's synchronous API runs an event loop in this thread; the test code's own database
# calls are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    require(bool(shutil.which(CHROMIUM) or Path(CHROMIUM).exists()), f"{CHROMIUM} not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(browser: Any, live_server: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(
        base_url=live_server.url, locale="en-GB", viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def mail_to(outbox: list[Any], address: str) -> list[Any]:
    """Return the captured messages sent to ``address``."""
    return [message for message in outbox if address in message.to]


def link_in(message: Any, path_pattern: str) -> str:
    """Return the first URL in ``message`` whose path matches ``path_pattern``."""
    match = re.search(rf"https?://[^\s\"'<>]+{path_pattern}[^\s\"'<>]*", message.body)
    assert match, f"no link matching {path_pattern!r} in: {message.body}"
    return match.group(0)


def sign_in(page: Any, email: str, password: str) -> None:
    """Sign in through the login form."""
    page.goto("/accounts/login/")
    page.get_by_label("E-mail", exact=True).fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def guest_code_asked(page: Any, outbox: list[Any], email: str) -> tuple[Any, str]:
    """File a guest's access request for ``email`` (identity checked by staff), carry it out,
    open its download page by the signed link and ask for a code there; return the request
    and the code from the e-mail."""
    from dsr.notifications import status_token
    from dsr.services import dsr_request_approve, dsr_request_verify_manually
    from tests.dsr.helpers import file_request, run_pending_tasks

    request = file_request(type="access", email=email, channel="portal_guest")
    request = dsr_request_verify_manually(
        request=request, actor=None, method="staff_callback", note="Called back"
    )
    request = run_pending_tasks(dsr_request_approve(request=request, actor=None))
    page.goto(f"/requests/{request.reference}/download/code/?t={status_token(request)}")
    page.get_by_role("button", name="Send me a code").click()
    page.get_by_text("We sent a code to your e-mail address.").wait_for()
    match = re.search(r"\b(\d{8})\b", mail_to(outbox, email)[-1].body)
    assert match, "no code in the e-mail"
    return request, match.group(1)
