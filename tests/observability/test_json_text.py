"""JSON text for responses and log lines: orjson, and the standard library where orjson
refuses a value, so that no value json.dumps could write becomes an error."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from learnbot.json_text import dumps, log_line


@pytest.mark.parametrize(
    "value",
    [
        {"message": "Добро пожаловать, Ann!", "user": {"id": 1, "is_premium": False}},
        {"detail": "a lone surrogate \ud800 from a hostile body"},
        {"id": 2**70},
        [1.5, None, "tab\there"],
    ],
)
def test_a_response_body_is_the_json_of_the_value(value: object) -> None:
    assert json.loads(dumps(value)) == value


def test_sanic_keyword_arguments_are_accepted() -> None:
    assert json.loads(dumps({"a": 1}, separators=(",", ":"))) == {"a": 1}


def test_a_log_line_keeps_utf8_and_writes_unknown_values_as_text() -> None:
    moment = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)
    line = log_line({"message": "вход", "at": moment, "amount": Decimal("1.5")})
    assert "вход" in line
    assert json.loads(line) == {
        "message": "вход",
        "at": "2026-12-04T18:00:00+00:00",
        "amount": "1.5",
    }


@pytest.mark.parametrize("value", [{"odd": "\udfff"}, {"big": 2**70}])
def test_a_log_line_of_what_orjson_refuses_is_still_written(value: dict[str, object]) -> None:
    assert json.loads(log_line(value)) == value
