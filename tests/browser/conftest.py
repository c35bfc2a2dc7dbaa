"""Real-browser fixtures: Debian's Chromium driven by Playwright against pytest-django's live server.

The browser is the system's ``chromium`` (``apt-get install -y chromium``; ``.ci/run``
installs it when it can), launched through Playwright's ``executable_path``: Playwright's
own browser download needs the internet. Without Chromium, or without the ``playwright``
package, every browser test is skipped with the reason (shown by ``-ra`` in the summary).

Every page records console errors, uncaught page errors, dialogs (``alert``/``confirm``/
``prompt``) and Content-Security-Policy violations; a test fails at teardown if any CSP
violation or page error happened. Screenshots of each step go to ``SCREENSHOT_DIR``
(``.data/screenshots/<test name>/NN-step.png``), which the README names.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

# Playwright's sync API keeps an asyncio loop in this thread, which makes Django refuse ORM
# calls from the test body (SynchronousOnlyOperation). The test body is not async code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SCREENSHOT_DIR = Path(settings.DATA_DIR) / "screenshots"

# Reported from inside each page, so violations are seen whatever the browser logs.
CSP_LISTENER = """
document.addEventListener('securitypolicyviolation', (e) => {
  console.error('CSP violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') +
                ' at ' + e.sourceFile + ':' + e.lineNumber);
});
"""


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the session; skips (with the reason) when it cannot run here."""
    executable = chromium_path()
    if executable is None:
        pytest.skip(
            "browser tests need Chromium: it is not installed (Debian: apt-get install -y chromium; "
            ".ci/run installs it when it runs as root with apt-get)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - requirements.txt pins it
        pytest.skip(f"browser tests need the playwright package: {exc}")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable)
        yield chromium
        chromium.close()


@dataclass
class Tab:
    """A page with everything it reported, and numbered screenshots of the test's steps."""

    page: Any
    folder: Path
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    steps: int = 0

    @property
    def csp_violations(self) -> list[str]:
        return [m for m in self.console_errors if "Content Security Policy" in m or m.startswith("CSP violation")]

    def shot(self, step: str) -> Path:
        """Save a full-page screenshot as ``NN-step.png``; returns its path."""
        self.steps += 1
        path = self.folder / f"{self.steps:02d}-{step}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


def _folder_for(request: pytest.FixtureRequest) -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")
    folder = SCREENSHOT_DIR / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def open_tab(browser: Any, request: pytest.FixtureRequest, *, locale: str = "en-US", **context: Any) -> Tab:
    """A new browser context (own cookies) and page that records what it reports."""
    ctx = browser.new_context(locale=locale, **context)
    request.addfinalizer(ctx.close)
    ctx.add_init_script(CSP_LISTENER)
    tab = Tab(page=ctx.new_page(), folder=_folder_for(request))
    tab.page.set_default_timeout(20_000)
    tab.page.on("console", lambda m: tab.console_errors.append(m.text) if m.type == "error" else None)
    tab.page.on("pageerror", lambda e: tab.page_errors.append(str(e)))

    def on_dialog(dialog: Any) -> None:
        tab.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    tab.page.on("dialog", on_dialog)
    return tab


@pytest.fixture
def tab(browser: Any, request: pytest.FixtureRequest) -> Iterator[Tab]:
    """An English page; fails the test afterwards on any CSP violation, page error or dialog."""
    opened = open_tab(browser, request)
    yield opened
    assert not opened.csp_violations, opened.csp_violations
    assert not opened.page_errors, opened.page_errors
    assert not opened.dialogs, opened.dialogs


@pytest.fixture
def worker(celery_worker: Any) -> Iterator[Any]:
    """The real Celery worker for one browser test, stopped afterwards.

    pytest-django runs transactional tests in file order, so the browser tests come before
    others (``tests/support/test_outbox.py``, ``tests/test_end_to_end.py``) that expect no
    worker consuming their queue or writing into their email folder; ``celery_worker``
    starts it again, on an empty queue, for whoever needs it next.
    """
    yield celery_worker
    celery_worker.stop()
