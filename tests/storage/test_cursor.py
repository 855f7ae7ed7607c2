from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from learnbot.api.schemas import CURSOR
from learnbot.storage import InvalidCursor
from learnbot.storage.cursor import decode_cursor, encode_cursor

# The `cursor` parameter as /openapi.json documents it (sanic-ext's schema types are untyped).
CURSOR_SCHEMA = CURSOR.serialize()["schema"]  # type: ignore[no-untyped-call]


def documented(cursor: str) -> bool:
    return (
        re.fullmatch(CURSOR_SCHEMA["pattern"].strip("^$"), cursor) is not None
        and len(cursor) <= CURSOR_SCHEMA["maxLength"]
    )


@pytest.mark.parametrize("last_id", [1, 9, 10, 12345, 2**53 - 1, 2**53, 10**16 - 1])
def test_a_cursor_round_trips(last_id: int) -> None:
    assert decode_cursor(encode_cursor(last_id)) == last_id


def test_a_cursor_is_the_decimal_id() -> None:
    assert encode_cursor(42) == "42"


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "0",
        "-5",
        "+5",
        "05",
        "5 ",
        " 5",
        "1.5",
        "1e3",
        "\uff15",
        "abc",
        "9" * 17,
        "9" * 4301,
        "5\n",
    ],
)
def test_anything_else_is_an_invalid_cursor(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor)


@given(st.from_regex(CURSOR_SCHEMA["pattern"], fullmatch=True))
@example("9423869094043641")
@example("9" * CURSOR_SCHEMA["maxLength"])
def test_every_cursor_the_schema_documents_is_accepted(cursor: str) -> None:
    assert documented(cursor)
    assert decode_cursor(cursor) == int(cursor)


@given(st.one_of(st.text(max_size=20), st.integers(min_value=0).map(str)))
def test_every_cursor_accepted_is_documented(cursor: str) -> None:
    try:
        decode_cursor(cursor)
    except InvalidCursor:
        assert not documented(cursor)
    else:
        assert documented(cursor)
