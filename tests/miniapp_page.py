"""The starter Mini App in a real browser: Debian's Chromium, driven by Playwright, against a
real `learnbot serve`: opening it as Telegram would, and watching what goes wrong.

Telegram's script cannot be fetched here; the pages get learnbot's stand-in for it
(service/learnbot/miniapp/dev/telegram-web-app.js) through request interception at
telegram.org's URL, with init data signed with the suite's bot token in the URL's fragment, as
Telegram hands it over. Every other request that does not go to the service is refused and
recorded. Each page gets a browser context of its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Request,
    Response,
    Route,
    ViewportSize,
)

from service_process import ROOT
from waiting import wait_until

TELEGRAM_SCRIPT_URL = "https://telegram.org/js/telegram-web-app.js"
STAND_IN = ROOT / "service" / "learnbot" / "miniapp" / "dev" / "telegram-web-app.js"
HERE = Path(__file__).resolve().parent / "miniapp"
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
# Chromium on this machine reaches nothing but 127.0.0.1: no QUIC, no background traffic.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE: ViewportSize = {"width": 390, "height": 760}

# Palettes in the shape of Telegram's themeParams, with enough contrast for axe's checks.
LIGHT_THEME = {
    "bg_color": "#ffffff",
    "text_color": "#000000",
    "hint_color": "#5e6266",
    "link_color": "#1a5fa3",
    "button_color": "#1a5fa3",
    "button_text_color": "#ffffff",
    "secondary_bg_color": "#eff1f4",
    "section_bg_color": "#f4f6f8",
    "destructive_text_color": "#c0392b",
}
DARK_THEME = {
    "bg_color": "#17212b",
    "text_color": "#f5f5f5",
    "hint_color": "#a9b4bf",
    "link_color": "#7cc0ff",
    "button_color": "#2f6ea5",
    "button_text_color": "#ffffff",
    "secondary_bg_color": "#232e3c",
    "section_bg_color": "#1f2a36",
    "destructive_text_color": "#ff8a80",
}

# What the page records of CSP violations, in every document, before any of its scripts run.
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


def launch_fragment(init_data: str, theme: Mapping[str, str], version: str = "8.0") -> str:
    """The launch parameters as Telegram appends them to a Mini App's URL."""
    parameters = {
        "tgWebAppData": init_data,
        "tgWebAppVersion": version,
        "tgWebAppPlatform": "tdesktop",
        "tgWebAppThemeParams": json.dumps(theme, separators=(",", ":")),
    }
    return "#" + "&".join(f"{key}={quote(value, safe='')}" for key, value in parameters.items())


@dataclass
class Watch:
    """What went wrong in a page: console errors, uncaught exceptions, failed or refused
    requests, error answers and CSP violations."""

    page: Page
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    error_answers: list[tuple[int, str]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def on_response(self, response: Response) -> None:
        if response.status >= 400:
            self.error_answers.append((response.status, response.url))

    def on_request_failed(self, request: Request) -> None:
        self.failed_requests.append(f"{request.method} {request.url}: {request.failure}")

    def csp_violations(self) -> list[str]:
        violations: list[str] = []
        for frame in self.page.frames:
            violations.extend(frame.evaluate("window.__cspViolations || []"))
        return violations

    def assert_clean(self, *expected_statuses: int) -> None:
        """Nothing went wrong, but for answers of the statuses the test provoked (Chromium logs
        each error answer as a console error)."""
        unexpected = [answer for answer in self.error_answers if answer[0] not in expected_statuses]
        logged = [
            text
            for text in self.console_errors
            if not any(f"status of {status} " in text for status in expected_statuses)
        ]
        assert not unexpected, unexpected
        assert not logged, logged
        assert not self.page_errors, self.page_errors
        assert not self.failed_requests, self.failed_requests
        assert not self.refused, self.refused
        assert not self.csp_violations()
        # What a page shows when it renders a missing value.
        shown = self.page.locator("body").inner_text()
        assert not re.search(r"\b(null|undefined|NaN|\[object Object\])", shown), shown
        for status in expected_statuses:
            assert any(answer[0] == status for answer in self.error_answers), status


@dataclass
class MiniApp:
    """Opens the Mini App as Telegram would, in a fresh browser context."""

    browser: Browser
    url: str
    artifacts: Path
    stand_in: str
    pages: list[Page] = field(default_factory=list)

    def open(
        self,
        init_data: str,
        *,
        theme: Mapping[str, str] = LIGHT_THEME,
        path: str = "/app/",
        version: str = "8.0",
        locale: str = "en-US",
        prepare: Callable[[BrowserContext], None] | None = None,
    ) -> tuple[Page, Watch]:
        """The page at `path` with Telegram's launch parameters (none without init data);
        `prepare` may add routes of the test's own before the page loads."""
        context = self.browser.new_context(viewport=PHONE, locale=locale)
        page = context.new_page()
        watch = Watch(page)
        page.on("console", watch.on_console)
        page.on("pageerror", lambda error: watch.page_errors.append(str(error)))
        page.on("requestfailed", watch.on_request_failed)
        page.on("response", watch.on_response)
        context.add_init_script(RECORD_CSP_VIOLATIONS)
        context.route(lambda url: not url.startswith(self.url + "/"), self._outside(watch))
        if prepare is not None:
            prepare(context)
        self.pages.append(page)
        fragment = launch_fragment(init_data, theme, version) if init_data else ""
        page.goto(self.url + path + fragment)
        return page, watch

    def _outside(self, watch: Watch) -> Callable[[Route], None]:
        def handle(route: Route) -> None:
            if route.request.url == TELEGRAM_SCRIPT_URL:
                route.fulfill(
                    status=200,
                    content_type="text/javascript; charset=utf-8",
                    body=self.stand_in,
                )
            else:
                watch.refused.append(route.request.url)
                route.abort()

        return handle

    def screenshot(self, page: Page, name: str) -> Path:
        path = self.artifacts / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        for page in self.pages:
            page.context.close()


def wait_in_page(page: Page, expression: str, timeout: float = 15) -> None:
    """Waits until `expression` is true in the page. Playwright's wait_for_function polls with
    eval() in the page, which the Mini App's Content-Security-Policy rightly refuses; an
    evaluation through the DevTools protocol is not governed by it."""
    assert wait_until(lambda: bool(page.evaluate(expression)), timeout), expression


def serious_accessibility_violations(page: Page, axe_source: str) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now.

    axe is evaluated through the DevTools protocol, which the page's CSP does not govern (a
    script tag would be refused, as it should be)."""
    page.evaluate(axe_source)
    results: dict[str, Any] = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "nodes": [node["target"] for node in violation["nodes"]],
        }
        for violation in results["violations"]
        if violation["impact"] in ("serious", "critical")
    ]
