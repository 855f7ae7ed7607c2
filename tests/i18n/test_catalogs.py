from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.plurals import get_plural

from learnbot.i18n.catalogs import SOURCE_LOCALE, load_catalog, read_catalog, shipped_locales

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "service" / "learnbot"
SHIPPED = ("en", "ru", "uk", "es", "de", "pt_BR")
TRANSLATED = [locale for locale in SHIPPED if locale != SOURCE_LOCALE]
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def code_messages() -> dict[str, str | None]:
    """Message id -> plural id, extracted from the code as `make i18n` does."""
    found: dict[str, str | None] = {}
    for _, _, message, _, _ in extract_from_dir(
        str(PACKAGE),
        method_map=[("**.py", "python")],
        keywords={"N_": None, "gettext": None, "ngettext": (1, 2)},
    ):
        if isinstance(message, tuple):
            found[message[0]] = message[1]
        else:
            found[message] = None
    return found


def translations(message: Message) -> tuple[str, ...]:
    """A message's translated strings, one per plural form ("" when untranslated)."""
    if isinstance(message.string, tuple | list):
        return tuple(message.string)
    return (message.string or "",)


def messages(catalog: Catalog) -> dict[str, tuple[str, ...]]:
    result: dict[str, tuple[str, ...]] = {}
    for message in catalog:
        if not message.id:
            continue
        key = message.id if isinstance(message.id, str) else message.id[0]
        result[key] = translations(message)
    return result


def test_the_shipped_locales() -> None:
    assert set(shipped_locales()) == set(SHIPPED)


@pytest.mark.parametrize("locale", SHIPPED)
def test_every_message_in_the_code_is_in_the_catalog(locale: str) -> None:
    catalog = messages(read_catalog(locale))
    missing = sorted(set(code_messages()) - set(catalog))
    assert not missing, f"{locale} lacks {missing}: run `make i18n` and translate them"


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_message_is_translated(locale: str) -> None:
    untranslated = [
        message_id
        for message_id, strings in messages(read_catalog(locale)).items()
        if not all(s.strip() for s in strings)
    ]
    assert not untranslated, f"{locale} has no translation for {untranslated}"


@pytest.mark.parametrize("locale", TRANSLATED)
def test_translations_use_the_source_placeholders(locale: str) -> None:
    for message in read_catalog(locale):
        if not message.id:
            continue
        ids = (message.id,) if isinstance(message.id, str) else tuple(message.id)
        wanted = set(PLACEHOLDER.findall(ids[-1])) | set(PLACEHOLDER.findall(ids[0]))
        for text in translations(message):
            assert set(PLACEHOLDER.findall(text)) == wanted, (locale, ids[0], text)


@pytest.mark.parametrize("locale", SHIPPED)
def test_catalogs_compile_without_warnings(locale: str) -> None:
    catalog = read_catalog(locale)
    problems = [(message.id, errors) for message, errors in catalog.check() if errors]
    assert not problems
    assert not any("fuzzy" in message.flags for message in catalog if message.id)


@pytest.mark.parametrize("locale", SHIPPED)
def test_plural_forms_follow_cldr(locale: str) -> None:
    catalog = read_catalog(locale)
    expected = get_plural(locale)
    assert catalog.num_plurals == expected.num_plurals
    assert catalog.plural_expr.replace(" ", "") == expected.plural_expr.replace(" ", "")
    # Each gettext form must stand for exactly one CLDR category over the integers.
    rule = Locale.parse(locale).plural_form
    translations = load_catalog(locale).translations
    category_of_form: dict[int, str] = {}
    for n in (*range(10_000), 1_000_000, 2_000_000, 10**9):
        form = translations.plural(n)
        assert category_of_form.setdefault(form, rule(n)) == rule(n), (locale, n)
    assert len(category_of_form) == catalog.num_plurals


@pytest.mark.parametrize(
    ("locale", "count", "expected"),
    [
        ("ru", 1, "1 привязанный аккаунт"),
        ("ru", 3, "3 привязанных аккаунта"),
        ("ru", 5, "5 привязанных аккаунтов"),
        ("ru", 21, "21 привязанный аккаунт"),
    ],
)
def test_russian_has_three_forms(locale: str, count: int, expected: str) -> None:
    catalog = load_catalog(locale)
    text = catalog.ngettext(
        "You have %(count)d linked account.", "You have %(count)d linked accounts.", count
    ) % {"count": count}
    assert expected in text
