from __future__ import annotations

import base64

import pytest

from learnbot.storage import InvalidCursor
from learnbot.storage.cursor import decode_cursor, encode_cursor


@pytest.mark.parametrize("last_id", [1, 7, 10**6, 2**52 + 1, 2**63 - 1])
def test_a_cursor_round_trips(last_id: int) -> None:
    cursor = encode_cursor(last_id)
    assert "=" not in cursor
    assert decode_cursor(cursor) == last_id


def test_a_cursor_is_url_safe_base64_of_the_last_id() -> None:
    assert base64.urlsafe_b64decode(encode_cursor(42) + "==") == b"u:42"


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "garbage!",
        "not a cursor",
        "%%%%",
        _b64("u:"),
        _b64("u:0"),
        _b64("u:-5"),
        _b64("u:+5"),
        _b64("u:05"),
        _b64("u:5 "),
        _b64("u:1.5"),
        _b64("v:5"),
        _b64("5"),
        _b64('{"id": 5}'),
        _b64(f"u:{2**63}"),
        _b64("u:5") + "==",
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        "x" * 41,
    ],
)
def test_anything_else_is_an_invalid_cursor(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor)


def test_only_the_canonical_spelling_is_valid() -> None:
    assert encode_cursor(12) == "dToxMg"
    with pytest.raises(InvalidCursor):
        decode_cursor("dToxMh")  # same bytes, different unused trailing bits
