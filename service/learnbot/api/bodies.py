from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from sanic import Request

from learnbot.api.problems import InvalidBody, InvalidInput
from learnbot.api.schemas import TEXT_PATTERN
from learnbot.i18n.markers import N_


@lru_cache(maxsize=16)
def _compiled(pattern: str) -> re.Pattern[str]:
    """A schema's anchored ECMA pattern as a Python pattern for fullmatch."""
    return re.compile(pattern.removeprefix("^").removesuffix("$"))


def json_object(request: Request) -> dict[str, Any]:
    body = request.body
    if not body:
        raise InvalidBody(N_("Send a JSON object in the request body."))
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        raise InvalidBody(N_("The request body is not valid JSON.")) from None
    if not isinstance(value, dict):
        raise InvalidBody(N_("The request body must be a JSON object."))
    return value


def text_field(
    body: dict[str, Any],
    name: str,
    *,
    max_length: int,
    pattern: str = TEXT_PATTERN,
) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise _invalid(N_("'%(field)s' must be a non-empty string."), name)
    if len(value) > max_length:
        raise _invalid(N_("'%(field)s' must be at most %(max)d characters."), name, max=max_length)
    if not _compiled(pattern).fullmatch(value):
        raise _invalid(N_("'%(field)s' has characters that are not allowed."), name)
    return value


def optional_text_field(body: dict[str, Any], name: str, *, max_length: int) -> str | None:
    if body.get(name) is None:
        return None
    return text_field(body, name, max_length=max_length)


def query_value(request: Request, name: str) -> str | None:
    """A query parameter, blank values included: `?cursor=` is a cursor, and an invalid one."""
    return request.get_args(keep_blank_values=True).get(name)


def int_query(request: Request, name: str, *, default: int, low: int, high: int) -> int:
    raw = query_value(request, name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
        raise _invalid(
            N_("'%(field)s' must be a whole number from %(low)d to %(high)d."),
            name,
            low=low,
            high=high,
        )
    return int(raw)


def _invalid(detail: str, field: str, **params: object) -> InvalidInput:
    return InvalidInput(detail, params={"field": field, **params}, extensions={"field": field})
