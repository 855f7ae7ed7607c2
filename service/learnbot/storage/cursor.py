"""Keyset cursors: the id a page ended at, in decimal, so a schema can say what is valid."""

from __future__ import annotations

import re

from learnbot.storage.base import InvalidCursor

CURSOR_PATTERN = r"^[1-9][0-9]{0,15}$"
MAX_CURSOR = 2**53 - 1
_CURSOR = re.compile(CURSOR_PATTERN.removeprefix("^").removesuffix("$"))


def encode_cursor(last_id: int) -> str:
    return str(last_id)


def decode_cursor(cursor: str) -> int:
    """The id the page ended at; the next page holds the users created before it."""
    if not _CURSOR.fullmatch(cursor) or int(cursor) > MAX_CURSOR:
        raise InvalidCursor("malformed cursor")
    return int(cursor)
