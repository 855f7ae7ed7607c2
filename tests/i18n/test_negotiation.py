from __future__ import annotations

import pytest

from learnbot.i18n.negotiation import accept_language, exact_locale, match_locale, negotiate_locale

SUPPORTED = ("en", "ru", "uk", "es", "de", "pt_BR")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, []),
        ("", []),
        ("de", ["de"]),
        ("de-AT, en;q=0.5, ru;q=0.8", ["de-AT", "ru", "en"]),
        ("en;q=0.1, pt-BR;q=0.9, *;q=0.5", ["pt-BR", "en"]),
        ("es;q=0, de", ["de"]),
        ("fr;q=1.5, de;q=abc, uk", ["uk"]),
        ("ru;q=0.5, uk;q=0.5", ["ru", "uk"]),
        ("!!!, de", ["de"]),
    ],
)
def test_accept_language_orders_by_quality(header: str | None, expected: list[str]) -> None:
    assert accept_language(header) == expected


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("pt-BR", "pt_BR"),
        ("pt_br", "pt_BR"),
        ("pt", "pt_BR"),
        ("pt-PT", "pt_BR"),
        ("de-AT", "de"),
        ("de-CH-1901", "de"),
        ("RU", "ru"),
        ("fr", None),
        ("", None),
        (None, None),
        ("-", None),
    ],
)
def test_match_locale(tag: str | None, expected: str | None) -> None:
    assert match_locale(tag, SUPPORTED) == expected


def test_exact_locale_does_not_fall_back() -> None:
    assert exact_locale("pt-BR", SUPPORTED) == "pt_BR"
    assert exact_locale("de-AT", SUPPORTED) is None


def negotiate(**chosen: object) -> str:
    given: dict[str, object] = {"query": None, "saved": None, "telegram": None, "accept": []}
    given.update(chosen)
    return negotiate_locale(supported=SUPPORTED, default="en", **given)  # type: ignore[arg-type]


def test_the_query_wins_over_everything() -> None:
    assert negotiate(query="de", saved="ru", telegram="uk", accept=["es"]) == "de"


def test_the_saved_preference_comes_next() -> None:
    assert negotiate(saved="ru", telegram="uk", accept=["es"]) == "ru"


def test_then_the_telegram_language() -> None:
    assert negotiate(telegram="uk", accept=["es"]) == "uk"


def test_then_accept_language() -> None:
    assert negotiate(accept=["fr", "es"]) == "es"


def test_then_the_default() -> None:
    assert negotiate(query="fr", telegram="ja", accept=["zh"]) == "en"


def test_an_unsupported_query_falls_through() -> None:
    assert negotiate(query="xx", telegram="de") == "de"
