"""What the browser gets at the end of a link: a redirect to OAUTH_RETURN_URL with the outcome,
or, without one, a small page in the user's language; and how a provider's names are shown."""

from __future__ import annotations

from urllib.parse import urlsplit

from linking_service import RETURN_URL, LinkingService, login, query_of
from service_process import new_telegram_id, tma

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_a_browser_gets_a_page_in_its_language(linking: LinkingService) -> None:
    headers = tma(new_telegram_id())
    callback = linking.sign_in(linking.authorize("op", headers), login("alice"))

    page = linking.get(callback, accept=BROWSER, accept_language="de-DE,de;q=0.9")

    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-language"] == "de"
    assert '<html lang="de">' in page.text
    assert "Op-Konto verknüpft" in page.text
    assert "Alice Liddell" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert "<script" not in page.text


def test_a_refusal_page_has_the_problem_and_its_status(linking: LinkingService) -> None:
    page = linking.get(
        f"{linking.url}/auth/oauth/op/callback?state=unknown&code=x",
        accept=BROWSER,
        accept_language="uk",
    )

    assert page.status_code == 400
    assert page.headers["content-type"].startswith("text/html")
    assert '<html lang="uk">' in page.text
    assert "Запит на прив" in page.text


def test_a_providers_name_is_normalized_and_escaped(linking: LinkingService) -> None:
    headers = tma(new_telegram_id())
    callback = linking.sign_in(linking.authorize("op", headers), login("mallory"))

    page = linking.get(callback, accept=BROWSER)

    # NFC (the accent composed), control characters and runs of white space made one space.
    (account,) = linking.accounts(headers)
    assert account["display_name"] == "<b>Mall\u00e9ry</b> M."
    assert "&lt;b&gt;Mall\u00e9ry&lt;/b&gt; M." in page.text
    assert "<b>" not in page.text


def test_a_name_that_cannot_be_stored_gives_way_to_the_next_claim(
    linking: LinkingService,
) -> None:
    headers = tma(new_telegram_id())
    subject = login("nul")

    response = linking.link("op", headers, subject)

    assert response.status_code == 201, response.text
    assert response.json()["display_name"] == "nul-user"


def test_the_browser_returns_to_the_mini_app_with_the_outcome(returning: LinkingService) -> None:
    headers = tma(new_telegram_id())
    callback = returning.sign_in(returning.authorize("op", headers), login("alice"))

    linked = returning.get(callback, accept=BROWSER)
    replayed = returning.get(callback, accept=BROWSER)

    for response, outcome in ((linked, "linked"), (replayed, "state_unknown")):
        assert response.status_code == 303, response.text
        target = response.headers["location"]
        expected = urlsplit(RETURN_URL)
        assert target.startswith("https://app.example.com/miniapp?from=bot&")
        assert urlsplit(target).fragment == expected.fragment
        assert query_of(target) == {"from": "bot", "link_provider": "op", "link_outcome": outcome}
        assert response.headers["referrer-policy"] == "no-referrer"
    assert [a["verified"] for a in returning.accounts(headers)] == [True]
