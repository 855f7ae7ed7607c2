from __future__ import annotations

import httpx
import pytest

from service_process import init_data, new_telegram_id, tma

PROBLEM = "application/problem+json"


def test_locales_lists_the_supported_ones_with_native_names(client: httpx.Client) -> None:
    response = client.get("/i18n/locales")
    assert response.status_code == 200
    body = response.json()
    assert body["default"] == "en"
    names = {entry["code"]: entry["name"] for entry in body["locales"]}
    assert set(names) == {"en", "ru", "uk", "es", "de", "pt_BR"}
    assert names["ru"] == "русский"
    assert names["de"] == "Deutsch"
    assert names["pt_BR"] == "português (Brasil)"


def test_a_catalog_maps_ids_to_text_and_plurals_to_cldr_categories(client: httpx.Client) -> None:
    response = client.get("/i18n/ru")
    assert response.status_code == 200
    assert response.headers["cache-control"].startswith("public")
    body = response.json()
    assert body["locale"] == "ru"
    messages = body["messages"]
    assert messages["Lessons"] == "Уроки"
    plural = messages["You have %(count)d linked account."]
    assert set(plural) == {"one", "few", "many", "other"}
    assert len({plural["one"], plural["few"], plural["many"]}) == 3
    english = client.get("/i18n/en").json()["messages"]
    assert set(english["You have %(count)d linked account."]) == {"one", "other"}
    assert english["Lessons"] == "Lessons"


def test_pt_br_is_found_by_either_spelling(client: httpx.Client) -> None:
    hyphen = client.get("/i18n/pt-BR")
    assert hyphen.status_code == 200
    assert hyphen.json()["locale"] == "pt_BR"


def test_etag_gives_304(client: httpx.Client) -> None:
    first = client.get("/i18n/de")
    etag = first.headers["etag"]
    again = client.get("/i18n/de", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert client.get("/i18n/de", headers={"If-None-Match": '"other"'}).status_code == 200
    assert client.get("/i18n/ru", headers={"If-None-Match": etag}).status_code == 200


def test_an_unknown_locale_is_404_listing_the_supported(client: httpx.Client) -> None:
    response = client.get("/i18n/fr")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert set(body["supported"]) == {"en", "ru", "uk", "es", "de", "pt_BR"}
    assert "pt_BR" in body["detail"]


def test_sign_in_greets_in_the_users_telegram_language(client: httpx.Client) -> None:
    raw = init_data(new_telegram_id(), first_name="Анна", language_code="ru")
    response = client.post("/auth/telegram", json={"init_data": raw})
    assert response.status_code == 200
    assert response.headers["content-language"] == "ru"
    assert response.json()["message"] == "Добро пожаловать, Анна!"

    german = init_data(new_telegram_id(), first_name="Jonas", language_code="de")
    answer = client.post("/auth/telegram", json={"init_data": german}).json()
    assert answer["message"] == "Willkommen, Jonas!"


def test_errors_speak_the_accept_language(client: httpx.Client) -> None:
    response = client.get("/no/such/page", headers={"Accept-Language": "de-AT, en;q=0.5"})
    assert response.status_code == 404
    assert response.headers["content-language"] == "de"
    assert response.json()["title"] == "Nicht gefunden"

    russian = client.post(
        "/auth/telegram",
        json={"init_data": init_data(new_telegram_id(), token="1:wrong-token")},
        headers={"Accept-Language": "ru"},
    )
    assert russian.status_code == 401
    assert russian.headers["content-language"] == "ru"
    body = russian.json()
    assert body["title"] != "Telegram sign-in was rejected"
    assert "подпись" in body["detail"].lower()


def test_negotiation_order_end_to_end(client: httpx.Client) -> None:
    telegram_id = new_telegram_id()
    headers = tma(telegram_id, language_code="uk")
    # Telegram's language beats Accept-Language.
    me = client.get("/me", headers={**headers, "Accept-Language": "es"})
    assert me.headers["content-language"] == "uk"
    # A saved preference beats Telegram's language.
    saved = client.put("/me/locale", json={"locale": "pt-BR"}, headers=headers)
    assert saved.status_code == 200
    assert saved.json()["locale"] == "pt_BR"
    assert saved.headers["content-language"] == "pt-BR"
    assert client.get("/me", headers=headers).headers["content-language"] == "pt-BR"
    # ?lang= beats everything.
    assert client.get("/me?lang=de", headers=headers).headers["content-language"] == "de"
    # Forgetting the preference brings Telegram's language back.
    cleared = client.put("/me/locale", json={"locale": None}, headers=headers)
    assert cleared.json()["locale"] is None
    assert client.get("/me", headers=headers).headers["content-language"] == "uk"


def test_without_any_hint_the_default_is_used(client: httpx.Client) -> None:
    response = client.get("/health")
    assert response.headers["content-language"] == "en"


def test_accounts_summary_uses_plural_forms(client: httpx.Client) -> None:
    headers = tma(new_telegram_id(), language_code="ru")
    summaries = []
    for provider in ("a1", "b2", "c3", "d4", "e5"):
        body = {"provider": provider, "external_id": f"{provider}-{new_telegram_id()}"}
        assert client.post("/me/accounts", json=body, headers=headers).status_code == 201
        summaries.append(client.get("/me", headers=headers).json()["accounts_summary"])
    one, two, _, _, five = summaries
    assert "1" in one
    assert "2" in two
    assert "5" in five
    assert len({one.replace("1", ""), two.replace("2", ""), five.replace("5", "")}) == 3


@pytest.mark.parametrize("locale", ["fr", "", 5, ["ru"], "ru-RU-x"])
def test_saving_an_unsupported_locale_is_422(client: httpx.Client, locale: object) -> None:
    response = client.put("/me/locale", json={"locale": locale}, headers=tma(new_telegram_id()))
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert "pt_BR" in response.json()["detail"]
