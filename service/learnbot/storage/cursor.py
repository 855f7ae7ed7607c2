from __future__ import annotations

import base64
import binascii
import re

from learnbot.storage.base import InvalidCursor

_ENCODED = re.compile(r"[A-Za-z0-9_-]{1,40}")
_DECODED = re.compile(r"u:([1-9][0-9]{0,18})")
_MAX_ID = 2**63 - 1


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"u:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """Returns the id the page ended at; only cursors `encode_cursor` would produce are valid."""
    if not _ENCODED.fullmatch(cursor):
        raise InvalidCursor("malformed cursor")
    try:
        decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidCursor("malformed cursor") from None
    match = _DECODED.fullmatch(decoded)
    if match is None or int(match[1]) > _MAX_ID:
        raise InvalidCursor("malformed cursor")
    last_id = int(match[1])
    # Base64 admits several spellings of the same bytes; accept only the one we hand out.
    if encode_cursor(last_id) != cursor:
        raise InvalidCursor("malformed cursor")
    return last_id
