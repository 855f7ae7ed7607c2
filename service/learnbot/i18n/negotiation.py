from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

_LANGUAGE_RANGE = re.compile(
    r"^\s*([A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([0-9.]+))?\s*$"
)


def accept_language(header: str | None) -> list[str]:
    """Language tags of an Accept-Language header, best first; q=0 and junk are dropped."""
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:32]):
        match = _LANGUAGE_RANGE.match(part)
        if match is None or match.group(1) == "*":
            continue
        try:
            quality = float(match.group(2)) if match.group(2) else 1.0
        except ValueError:
            continue
        if 0 < quality <= 1:
            weighted.append((-quality, position, match.group(1)))
    return [tag for _, _, tag in sorted(weighted)]


def exact_locale(tag: str, supported: Sequence[str]) -> str | None:
    """The supported locale this tag names exactly (`pt-BR` and `pt_br` name `pt_BR`)."""
    by_key = {locale.lower(): locale for locale in supported}
    return by_key.get(tag.replace("-", "_").lower())


def match_locale(tag: str | None, supported: Sequence[str]) -> str | None:
    """`pt-BR` -> `pt_BR`; `de-AT` falls back to `de`; `pt` takes the first `pt_*`."""
    if not tag:
        return None
    parts = re.split(r"[-_]", tag.strip())
    if not parts[0]:
        return None
    by_key = {locale.lower(): locale for locale in supported}
    for length in range(len(parts), 0, -1):
        found = by_key.get("_".join(parts[:length]).lower())
        if found is not None:
            return found
    language = parts[0].lower()
    return next((s for s in supported if s.lower().split("_")[0] == language), None)


def negotiate_locale(
    *,
    query: str | None,
    saved: str | None,
    telegram: str | None,
    accept: Iterable[str],
    supported: Sequence[str],
    default: str,
) -> str:
    """First match wins: ?lang=, the saved preference, Telegram's language, Accept-Language."""
    for candidate in (query, saved, telegram, *accept):
        found = match_locale(candidate, supported)
        if found is not None:
            return found
    return default
