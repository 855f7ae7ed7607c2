from __future__ import annotations

import pytest

from learnbot.storage import InvalidCursor
from learnbot.storage.cursor import decode_cursor, encode_cursor


@pytest.mark.parametrize("last_id", [1, 9, 10, 12345, 2**53 - 1])
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
        str(2**53),
        "9" * 17,
        "5\n",
    ],
)
def test_anything_else_is_an_invalid_cursor(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor)
