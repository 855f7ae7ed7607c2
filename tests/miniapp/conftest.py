"""Headless Chromium (Debian's, driven by Playwright) for the browser tests, and axe-core for
their accessibility checks."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from miniapp_page import AXE, CHROMIUM_ARGS, HERE


def chromium_path() -> str:
    found = shutil.which("chromium")
    if found is None:
        pytest.skip("Chromium is needed for the browser tests: install Debian's chromium")
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium for a module's tests. Not for the session: while Playwright's synchronous
    API is open it runs an event loop in the main thread, where no asyncio test can then run."""
    executable = chromium_path()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core of the version tests/miniapp/package-lock.json pins, installed on demand."""
    if not AXE.is_file():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is needed to install axe-core: install Debian's npm")
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=HERE,
            check=True,
            capture_output=True,
            timeout=300,
        )
    return AXE.read_text()
