"""The starter Mini App at /app/ in headless Chromium, against a real `learnbot serve` on
PostgreSQL (one for the module). Each test opens the page as Telegram would, with init data
signed with the suite's bot token, and fails on any console error, uncaught exception, failed
or refused request, unexpected error answer or CSP violation. Screenshots of the views are saved
in each test's temporary folder."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
from babel import Locale
from playwright.sync_api import Browser, Page, expect
from psycopg import sql

from miniapp_page import (
    DARK_THEME,
    LIGHT_THEME,
    STAND_IN,
    TELEGRAM_SCRIPT_URL,
    MiniApp,
    serious_accessibility_violations,
    wait_in_page,
)
from service_process import ADMIN_ID, Server, init_data, new_telegram_id, server_env, start_server

pytestmark = pytest.mark.slow

SUMMARY = "You have %(count)d linked account."
Catalogs = dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def server(module_postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("miniapp-server")
    # A short database deadline, so that the outage test's 503 comes quickly. The accounts the
    # page lists are linked through the development path, which needs no provider.
    env = server_env(
        module_postgres_url, DATABASE_TIMEOUT_SECONDS="1", OAUTH_ALLOW_UNVERIFIED_LINKS="1"
    )
    running = start_server(env, workdir / "server.log")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def api(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def catalogs(api: httpx.Client) -> Catalogs:
    return {locale: api.get(f"/i18n/{locale}").json()["messages"] for locale in ("en", "ru", "de")}


@pytest.fixture
def miniapp(browser: Browser, server: Server, tmp_path: Path) -> Iterator[MiniApp]:
    opened = MiniApp(browser, server.url, tmp_path, STAND_IN.read_text())
    yield opened
    opened.close()


def test_the_page_is_not_part_of_the_api_document(api: httpx.Client) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    assert "/me" in paths
    assert not [path for path in paths if path.startswith("/app")]


def test_start_up_says_where_the_mini_app_is_and_how_to_open_it(server: Server) -> None:
    log = server.log()
    assert "the Mini App is served at /app/; set MINIAPP_URL to the URL Telegram opens" in log
    assert "learnbot sign-init-data --user-id 42 --app-link" in log


def plural(messages: dict[str, Any], message_id: str, count: int, locale: str) -> str:
    """The catalog's form for `count`, chosen by CLDR's rules as Babel has them."""
    forms = messages[message_id]
    category = Locale.parse(locale).plural_form(count)
    text: str = forms.get(category, forms["other"])
    return text % {"count": count}


def tma(data: str) -> dict[str, str]:
    return {"Authorization": "tma " + data}


def signed_in(api: httpx.Client, data: str) -> None:
    assert api.post("/auth/telegram", json={"init_data": data}).status_code == 200


def rgb(color: str) -> str:
    red, green, blue = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({red}, {green}, {blue})"


def computed(page: Page, selector: str, prop: str) -> str:
    value: str = page.locator(selector).first.evaluate(
        "(element, prop) => getComputedStyle(element).getPropertyValue(prop)", prop
    )
    return value


def telegram_calls(page: Page) -> list[list[str]]:
    calls: list[list[str]] = page.evaluate("Telegram.WebApp.standIn.calls")
    return calls


def assert_accessible(page: Page, axe_source: str) -> None:
    assert serious_accessibility_violations(page, axe_source) == []


@pytest.mark.parametrize(("locale", "first_name"), [("en", "Ann"), ("ru", "Анна"), ("de", "Jörg")])
def test_a_new_user_is_greeted_in_their_language(
    miniapp: MiniApp, catalogs: Catalogs, axe_source: str, locale: str, first_name: str
) -> None:
    telegram_id = new_telegram_id()
    page, watch = miniapp.open(init_data(telegram_id, first_name=first_name, language_code=locale))
    messages = catalogs[locale]
    expect(page.locator("#greeting")).to_have_text(
        messages["Welcome, %(name)s!"] % {"name": first_name}
    )
    expect(page.locator("html")).to_have_attribute("lang", locale)
    expect(page.locator("#user-name")).to_have_text(first_name)
    expect(page.locator("#telegram-id")).to_have_text(str(telegram_id))
    expect(page.locator("#accounts-title")).to_have_text(messages["Linked accounts"])
    expect(page.locator("#accounts-summary")).to_have_text(plural(messages, SUMMARY, 0, locale))
    expect(page.locator("#settings-title")).to_have_text(messages["Settings"])
    expect(page.locator("label[for=language]")).to_have_text(messages["Language"])
    expect(page.locator("#language")).to_have_value(locale)
    expect(page.locator("#open-admin")).to_have_count(0)
    assert ["ready"] in telegram_calls(page)
    assert ["expand"] in telegram_calls(page)
    miniapp.screenshot(page, f"main-{locale}")
    if locale == "en":
        assert_accessible(page, axe_source)
    watch.assert_clean()


def test_the_accounts_summary_takes_each_plural_form_and_unlinks(
    miniapp: MiniApp, api: httpx.Client, catalogs: Catalogs, axe_source: str
) -> None:
    data = init_data(new_telegram_id(), first_name="Борис", language_code="ru")
    signed_in(api, data)
    messages = catalogs["ru"]
    page, watch = miniapp.open(data)
    expect(page.locator("#greeting")).to_be_visible()
    linked = 0
    shown = set()
    # Russian: 1 takes "one", 3 "few", 5 "many".
    for count in (1, 3, 5):
        while linked < count:
            answer = api.post(
                "/me/accounts",
                json={
                    "provider": f"school{linked}",
                    "external_id": f"pupil-{linked}",
                    "display_name": f"Ученик {linked}",
                },
                headers=tma(data),
            )
            assert answer.status_code == 201, answer.text
            linked += 1
        page.reload()
        expected = plural(messages, SUMMARY, count, "ru")
        expect(page.locator("#accounts-summary")).to_have_text(expected)
        expect(page.locator("#accounts li")).to_have_count(count)
        assert api.get("/me", headers=tma(data)).json()["accounts_summary"] == expected
        shown.add(expected)
    assert len(shown) == 3
    miniapp.screenshot(page, "accounts-ru")

    page.locator('#accounts li[data-provider="school0"] button').click()
    expect(page.locator("#confirm")).to_be_visible()
    expect(page.locator("#confirm-question")).to_have_text(
        messages["Unlink your %(provider)s account?"] % {"provider": "school0"}
    )
    expect(page.locator("#confirm-ok")).to_have_text(messages["Unlink"])
    expect(page.locator("#confirm-cancel")).to_have_text(messages["Cancel"])
    miniapp.screenshot(page, "unlink-confirm-ru")
    page.locator("#confirm-ok").click()
    expect(page.locator("#accounts-summary")).to_have_text(plural(messages, SUMMARY, 4, "ru"))
    expect(page.locator('#accounts li[data-provider="school0"]')).to_have_count(0)
    providers = [a["provider"] for a in api.get("/me", headers=tma(data)).json()["accounts"]]
    assert sorted(providers) == ["school1", "school2", "school3", "school4"]
    assert_accessible(page, axe_source)
    watch.assert_clean()


def test_a_language_switch_is_saved_and_survives_a_reload(
    miniapp: MiniApp, api: httpx.Client, catalogs: Catalogs
) -> None:
    data = init_data(new_telegram_id(), first_name="Ann", language_code="en")
    page, watch = miniapp.open(data)
    expect(page.locator("#greeting")).to_have_text(
        catalogs["en"]["Welcome, %(name)s!"] % {"name": "Ann"}
    )
    page.locator("#language").select_option("de")
    german = catalogs["de"]
    expect(page.locator("#accounts-title")).to_have_text(german["Linked accounts"])
    expect(page.locator("#greeting")).to_have_text(
        german["Welcome back, %(name)s!"] % {"name": "Ann"}
    )
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.locator("#language")).to_be_focused()
    assert api.get("/me", headers=tma(data)).json()["user"]["locale"] == "de"
    page.reload()
    expect(page.locator("#accounts-title")).to_have_text(german["Linked accounts"])
    expect(page.locator("#accounts-summary")).to_have_text(plural(german, SUMMARY, 0, "de"))
    expect(page.locator("#language")).to_have_value("de")
    miniapp.screenshot(page, "main-de-after-reload")
    watch.assert_clean()


def test_the_page_follows_telegrams_theme_and_viewport(miniapp: MiniApp, axe_source: str) -> None:
    page, watch = miniapp.open(init_data(new_telegram_id(), first_name="Ann"))
    expect(page.locator("#greeting")).to_be_visible()
    assert computed(page, "body", "background-color") == rgb(LIGHT_THEME["bg_color"])
    assert computed(page, "body", "color") == rgb(LIGHT_THEME["text_color"])
    assert computed(page, ".card", "background-color") == rgb(LIGHT_THEME["section_bg_color"])
    assert computed(page, "dt", "color") == rgb(LIGHT_THEME["hint_color"])
    assert computed(page, "html", "color-scheme") == "light"

    page.evaluate("theme => Telegram.WebApp.standIn.setTheme(theme)", DARK_THEME)
    expect(page.locator("html")).to_have_attribute("data-color-scheme", "dark")
    assert computed(page, "body", "background-color") == rgb(DARK_THEME["bg_color"])
    assert computed(page, "body", "color") == rgb(DARK_THEME["text_color"])
    assert computed(page, ".card", "background-color") == rgb(DARK_THEME["section_bg_color"])
    assert computed(page, "html", "color-scheme") == "dark"
    miniapp.screenshot(page, "main-dark")
    assert_accessible(page, axe_source)

    page.evaluate("Telegram.WebApp.standIn.setViewportHeight(1234)")
    assert computed(page, "body", "min-height") == "1234px"
    watch.assert_clean()


def test_a_dark_theme_at_launch_is_applied_before_the_first_paint(miniapp: MiniApp) -> None:
    page, watch = miniapp.open(init_data(new_telegram_id()), theme=DARK_THEME)
    expect(page.locator("#greeting")).to_be_visible()
    assert computed(page, "body", "background-color") == rgb(DARK_THEME["bg_color"])
    assert computed(page, "select", "color") == rgb(DARK_THEME["text_color"])
    watch.assert_clean()


def test_expired_init_data_is_refused_in_the_users_language(
    miniapp: MiniApp, catalogs: Catalogs, axe_source: str
) -> None:
    two_days_ago = int(time.time()) - 2 * 86400
    data = init_data(
        new_telegram_id(), first_name="Анна", language_code="ru", auth_date=two_days_ago
    )
    page, watch = miniapp.open(data)
    expect(page.locator("#alert-detail")).to_have_text(
        catalogs["ru"]["The sign-in data is too old."]
    )
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    # Retrying cannot help: Telegram must hand over new init data.
    expect(page.locator("#alert-hint")).to_have_text(
        catalogs["ru"]["Close the Mini App and open it again from Telegram."]
    )
    expect(page.locator("#retry")).to_have_count(0)
    expect(page.locator("#greeting")).to_have_count(0)
    miniapp.screenshot(page, "expired-ru")
    assert_accessible(page, axe_source)
    watch.assert_clean(401)


@contextmanager
def connections_refused(server_url: str, database_url: str) -> Iterator[None]:
    """The service's database refuses connections, and those it had are ended."""
    name = sql.Identifier(urlsplit(database_url).path.lstrip("/"))
    with psycopg.connect(server_url, autocommit=True, connect_timeout=5) as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(name))
        try:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (urlsplit(database_url).path.lstrip("/"),),
            )
            yield
        finally:
            admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(name))


def test_an_unavailable_database_shows_the_detail_and_a_retry(
    miniapp: MiniApp,
    catalogs: Catalogs,
    axe_source: str,
    postgres_server_url: str,
    module_postgres_url: str,
) -> None:
    english = catalogs["en"]
    with connections_refused(postgres_server_url, module_postgres_url):
        page, watch = miniapp.open(init_data(new_telegram_id(), first_name="Ann"))
        expect(page.locator("#alert-detail")).to_have_text(
            english["The database does not answer; try again shortly."]
        )
        expect(page.locator("#retry")).to_have_text(english["Try again"])
        miniapp.screenshot(page, "unavailable")
        assert_accessible(page, axe_source)
    # The pool reconnects within a few seconds; until then a retry may meet another 503.
    deadline = time.monotonic() + 20
    while True:
        page.locator("#retry").click()
        try:
            expect(page.locator("#greeting")).to_be_visible(timeout=1500)
            break
        except AssertionError:
            if time.monotonic() > deadline:
                raise
    expect(page.locator("#alert")).to_be_hidden()
    watch.assert_clean(503)


def test_an_admin_blocks_and_unblocks_a_user_from_the_admin_view(
    miniapp: MiniApp, api: httpx.Client, axe_source: str
) -> None:
    # More users than a page holds; the one to block is the newest but for the admin.
    for _ in range(11):
        signed_in(api, init_data(new_telegram_id()))
    target_id = new_telegram_id()
    target = init_data(target_id, first_name="Bob", last_name="Target")
    signed_in(api, target)
    admin = init_data(ADMIN_ID, first_name="Ada")
    page, watch = miniapp.open(admin)
    expect(page.locator(".badge")).to_have_text("Administrator")
    page.locator("#open-admin").click()
    rows = page.locator("#users li")
    expect(rows).to_have_count(10)
    expect(page.get_by_role("heading", name="Users")).to_be_focused()
    assert ["BackButton.show"] in telegram_calls(page)
    first = api.get("/admin/users", params={"limit": "10"}, headers=tma(admin)).json()
    listed = rows.evaluate_all("rows => rows.map(row => Number(row.dataset.telegramId))")
    assert listed == [user["telegram_id"] for user in first["users"]]
    # Administrators are not blockable; the page offers no button for oneself.
    expect(page.locator(f'#users li[data-telegram-id="{ADMIN_ID}"] button')).to_have_count(0)

    row = page.locator(f'#users li[data-telegram-id="{target_id}"]')
    row.get_by_role("button", name="Block", exact=True).click()
    expect(page.locator("#confirm-question")).to_have_text("Block Bob Target?")
    miniapp.screenshot(page, "admin-confirm-block")
    assert_accessible(page, axe_source)
    page.locator("#confirm-ok").click()
    expect(row.locator(".status")).to_have_text("Blocked")
    expect(row.get_by_role("button", name="Unblock", exact=True)).to_be_focused()
    assert api.get("/me", headers=tma(target)).status_code == 403

    row.get_by_role("button", name="Unblock", exact=True).click()
    expect(page.locator("#confirm-question")).to_have_text("Unblock Bob Target?")
    page.locator("#confirm-cancel").click()
    expect(page.locator("#confirm")).to_be_hidden()
    expect(row.locator(".status")).to_have_text("Blocked")
    assert api.get("/me", headers=tma(target)).status_code == 403

    row.get_by_role("button", name="Unblock", exact=True).click()
    page.locator("#confirm-ok").click()
    expect(row.locator(".status")).to_have_text("Active")
    assert api.get("/me", headers=tma(target)).status_code == 200
    miniapp.screenshot(page, "admin-users")
    assert_accessible(page, axe_source)

    page.locator("#next-page").click()
    second = api.get(
        "/admin/users",
        params={"limit": "10", "cursor": first["next_cursor"]},
        headers=tma(admin),
    ).json()
    expect(rows.first).to_have_attribute("data-telegram-id", str(second["users"][0]["telegram_id"]))
    listed = rows.evaluate_all("rows => rows.map(row => Number(row.dataset.telegramId))")
    assert listed == [user["telegram_id"] for user in second["users"]]
    page.locator("#previous-page").click()
    expect(rows.first).to_have_attribute("data-telegram-id", str(first["users"][0]["telegram_id"]))
    expect(page.locator("#previous-page")).to_be_disabled()

    page.evaluate("Telegram.WebApp.standIn.pressBackButton()")
    expect(page.locator("#open-admin")).to_be_focused()
    expect(page.locator("#users")).to_have_count(0)
    assert ["BackButton.hide"] in telegram_calls(page)
    watch.assert_clean()


def test_a_non_admin_never_sees_the_admin_view_and_the_api_refuses_them(
    miniapp: MiniApp, catalogs: Catalogs
) -> None:
    data = init_data(new_telegram_id(), first_name="Eve")
    page, watch = miniapp.open(data)
    expect(page.locator("#greeting")).to_be_visible()
    expect(page.locator("#open-admin")).to_have_count(0)
    expect(page.get_by_text(catalogs["en"]["Manage users"])).to_have_count(0)
    expect(page.locator(".badge")).to_have_count(0)
    status, problem = page.evaluate(
        """async initData => {
            const headers = {Authorization: "tma " + initData};
            const answer = await fetch("/admin/users", {headers});
            return [answer.status, await answer.json()];
        }""",
        data,
    )
    assert status == 403
    assert problem["type"] == "urn:learnbot:problem:not-admin"
    watch.assert_clean(403)


def test_the_page_may_load_its_own_files_and_telegrams_script_only(
    miniapp: MiniApp, server: Server
) -> None:
    page, watch = miniapp.open(init_data(new_telegram_id()))
    expect(page.locator("#greeting")).to_be_visible()
    scripts = page.evaluate("[...document.scripts].map(script => script.src)")
    assert scripts == [TELEGRAM_SCRIPT_URL, f"{server.url}/app/app.js"]
    page.evaluate(
        """() => {
            const inline = document.createElement("script");
            inline.textContent = "window.inlineRan = true";
            const foreign = document.createElement("script");
            foreign.src = "https://cdn.example.com/library.js";
            const style = document.createElement("style");
            style.textContent = "body { background: red }";
            document.head.append(inline, foreign, style);
        }"""
    )
    wait_in_page(page, "window.__cspViolations.length >= 3")
    assert page.evaluate("window.inlineRan") is None
    violations = watch.csp_violations()
    assert "script-src-elem inline" in violations
    assert "script-src-elem https://cdn.example.com/library.js" in violations
    assert "style-src-elem inline" in violations
    # Refused by the policy before any request was made.
    assert watch.refused == []
    assert watch.page_errors == []


def test_without_providers_the_page_offers_no_linking(miniapp: MiniApp) -> None:
    """This service has no OAuth provider: the page offers nothing to link (the flow through a
    real provider is tests/miniapp/test_miniapp_linking.py)."""
    page, watch = miniapp.open(init_data(new_telegram_id()))
    expect(page.locator("#accounts-title")).to_be_visible()
    expect(page.locator("#link-providers")).to_have_count(0)
    watch.assert_clean()


def test_outside_telegram_the_page_says_where_to_open_it(
    miniapp: MiniApp, catalogs: Catalogs
) -> None:
    page, watch = miniapp.open("", locale="de-DE")
    expect(page.locator("#outside-telegram")).to_have_text(
        catalogs["de"][
            "Open this page from Telegram: it signs you in with the data Telegram gives a Mini App."
        ]
    )
    watch.assert_clean()


def test_in_development_the_printed_link_opens_the_page_with_the_stand_in(
    miniapp: MiniApp, server: Server
) -> None:
    """`learnbot sign-init-data --app-link`, as the README has it for `make run`: /app/dev.html
    with Telegram's launch parameters, served with the stand-in by a development server. Its
    version is a browser's outside Telegram, which has no Telegram back button: the page shows
    its own."""
    env = {**os.environ, **server_env("sqlite:///unused.db"), "PORT": server.url.rsplit(":", 1)[1]}
    link = subprocess.run(
        [
            sys.executable,
            "-m",
            "learnbot",
            "sign-init-data",
            "--user-id",
            str(ADMIN_ID),
            "--first-name",
            "Ada",
            "--app-link",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert link.startswith(f"{server.url}/app/dev.html#tgWebAppData=")
    page, watch = miniapp.open("", path=link.removeprefix(server.url))
    expect(page.locator("#greeting")).to_have_text("Welcome back, Ada!")
    page.locator("#open-admin").click()
    expect(page.locator("#users")).to_be_visible()
    page.locator("#back").click()
    expect(page.locator("#open-admin")).to_be_focused()
    assert page.evaluate("[...document.scripts].map(script => script.src)")[0] == (
        f"{server.url}/app/dev/telegram-web-app.js"
    )
    watch.assert_clean()
