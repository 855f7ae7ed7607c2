"""Gettext catalogs: read from the .po files once per worker and compiled in memory."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib.resources import files
from io import BytesIO

from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

SOURCE_LOCALE = "en"
DOMAIN = "messages"
# Integers to find one example of each CLDR plural category (pt_BR singles out millions).
_PLURAL_PROBES = (*range(200), 1_000_000)


def shipped_locales() -> tuple[str, ...]:
    root = files("learnbot") / "locales"
    return tuple(
        sorted(
            entry.name
            for entry in root.iterdir()
            if (entry / "LC_MESSAGES" / f"{DOMAIN}.po").is_file()
        )
    )


def read_catalog(locale: str) -> Catalog:
    path = files("learnbot") / "locales" / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as po:
        return read_po(po, locale=locale, domain=DOMAIN)


def plural_examples(catalog: Catalog, translations: Translations) -> dict[str, int]:
    """One integer per CLDR plural category of the catalog's locale."""
    rule = Locale.parse(catalog.locale_identifier).plural_form
    examples: dict[str, int] = {}
    for n in _PLURAL_PROBES:
        examples.setdefault(rule(n), n)
    if "other" not in examples:
        # "other" holds only fractions here, which gettext has no form for: use its last form.
        last = catalog.num_plurals - 1
        examples["other"] = next(n for n in _PLURAL_PROBES if translations.plural(n) == last)
    return examples


@dataclass(frozen=True)
class LocaleCatalog:
    locale: str
    native_name: str
    translations: Translations
    miniapp_document: bytes
    etag: str

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ngettext(singular, plural, n)


def load_catalog(locale: str) -> LocaleCatalog:
    catalog = read_catalog(locale)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    translations = Translations(fp=compiled, domain=DOMAIN)
    examples = plural_examples(catalog, translations)
    messages: dict[str, object] = {}
    for message in catalog:
        if not message.id:
            continue
        if not isinstance(message.id, str):
            singular, plural = message.id[0], message.id[1]
            messages[singular] = {
                category: translations.ngettext(singular, plural, n)
                for category, n in sorted(examples.items())
            }
        else:
            messages[message.id] = translations.gettext(message.id)
    native_name = Locale.parse(locale).get_display_name(locale) or locale
    document = json.dumps(
        {"locale": locale, "name": native_name, "messages": messages},
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    etag = '"' + hashlib.sha256(document).hexdigest()[:32] + '"'
    return LocaleCatalog(locale, native_name, translations, document, etag)


def load_catalogs(locales: tuple[str, ...]) -> dict[str, LocaleCatalog]:
    return {locale: load_catalog(locale) for locale in locales}
