"""Linking an account from the Mini App through a real OpenID provider (npm's oidc-provider):
the page lists the providers the service offers, has Telegram open the provider's authorization
URL, the user signs in and consents there (outside the Mini App, as in Telegram), the provider
sends the browser back to the service, and the page, shown again, lists the linked account."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from linking_service import (
    ACCOUNTS,
    LinkingService,
    linking_service,
    login,
    oauth_env,
    oidc_clients,
)
from miniapp_page import PHONE, STAND_IN, MiniApp, wait_in_page
from oidc_provider import OpenIdProvider, openid_provider
from service_process import free_port, init_data, new_telegram_id

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def provider_and_service(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[OpenIdProvider, LinkingService]]:
    workdir = tmp_path_factory.mktemp("miniapp-linking")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with openid_provider(workdir, oidc_clients([url]), ACCOUNTS) as provider:
        # One provider, `op`, as its own client: the page offers exactly what is configured.
        env = {
            name: value
            for name, value in oauth_env(provider.issuer, None, url).items()
            if not name.startswith("OAUTH_") or name.startswith(("OAUTH_OP_", "OAUTH_RED"))
        }
        env.update(OAUTH_PROVIDERS="op", OAUTH_OP_NAME="Example ID")
        with linking_service(
            f"sqlite:///{workdir}/learnbot.db", env, port, workdir / "server.log"
        ) as service:
            yield provider, service


def test_a_user_links_an_account_from_the_mini_app(
    browser: Browser,
    provider_and_service: tuple[OpenIdProvider, LinkingService],
    tmp_path: Path,
) -> None:
    provider, service = provider_and_service
    miniapp = MiniApp(browser, service.url, tmp_path, STAND_IN.read_text())
    try:
        page, watch = miniapp.open(init_data(new_telegram_id()))
        link = page.get_by_role("button", name="Link Example ID")
        expect(link).to_be_visible()
        miniapp.screenshot(page, "before-linking")

        link.click()
        wait_in_page(page, "Telegram.WebApp.standIn.calls.some(c => c[0] === 'openLink')")
        (url,) = [
            call[1]
            for call in page.evaluate("Telegram.WebApp.standIn.calls")
            if call[0] == "openLink"
        ]
        assert url.startswith(provider.issuer + "/auth?"), url

        # Outside the Mini App: the provider's login and consent, then its redirect to the
        # service's callback, which the browser opens and which answers with a page.
        callback = service.sign_in(url, login("alice"))
        outside = browser.new_context(viewport=PHONE, locale="en-US")
        try:
            landing = outside.new_page()
            answer = landing.goto(callback)
            assert answer is not None
            assert answer.status == 200
            expect(landing.get_by_role("heading")).to_have_text("Example ID account linked")
            landing.screenshot(path=str(tmp_path / "callback-page.png"), full_page=True)
        finally:
            outside.close()

        # Back in Telegram, the Mini App is shown again and reads the accounts.
        page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
        row = page.locator("#accounts li[data-provider='op']")
        expect(row).to_contain_text("Example ID")
        expect(row).to_contain_text(ACCOUNTS["alice"]["name"])
        expect(page.locator("main")).to_contain_text(re.compile(r"You have 1 linked account"))
        miniapp.screenshot(page, "after-linking")
        watch.assert_clean()
    finally:
        miniapp.close()
