"""Keyset cursors: the id a page ended at, in decimal, so a schema can say what is valid."""

from __future__ import annotations

import re

from learnbot.storage.base import InvalidCursor

# Every cursor the pattern allows is accepted (16 digits fit a 64-bit id); one past the newest
# id simply starts at the newest user.
MAX_CURSOR_DIGITS = 16
CURSOR_PATTERN = rf"^[1-9][0-9]{{0,{MAX_CURSOR_DIGITS - 1}}}$"
_CURSOR = re.compile(CURSOR_PATTERN.removeprefix("^").removesuffix("$"))


def encode_cursor(last_id: int) -> str:
    return str(last_id)


def decode_cursor(cursor: str) -> int:
    """The id the page ended at; the next page holds the users created before it."""
    if not _CURSOR.fullmatch(cursor):
        raise InvalidCursor("malformed cursor")
    return int(cursor)
