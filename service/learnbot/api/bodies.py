from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from learnbot.api.problems import InvalidBody, InvalidInput
from learnbot.api.schemas import TEXT_PATTERN, Schema
from learnbot.context import AppRequest
from learnbot.i18n.markers import N_
from learnbot.text import is_json_text, is_text

_DIGITS = re.compile("[0-9]+")


@lru_cache(maxsize=16)
def compiled_pattern(pattern: str) -> re.Pattern[str]:
    """A schema's anchored ECMA pattern as a Python pattern for fullmatch."""
    return re.compile(pattern.removeprefix("^").removesuffix("$"))


def json_object(request: AppRequest, schema: Schema) -> dict[str, Any]:
    """The body as a JSON object whose documented fields hold only text, else 422 naming the
    field; undocumented fields are ignored, as the schema allows."""
    body = signed_json_object(request)
    for name in schema["properties"]:
        if name in body and not is_json_text(body[name]):
            raise _not_allowed(name)
    return body


def signed_json_object(request: AppRequest) -> dict[str, Any]:
    """The body as a JSON object, its strings unchecked: a sign-in's fields are signed content,
    and the verifier refuses what is not text as a rejected sign-in (401)."""
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
    if not compiled_pattern(pattern).fullmatch(value):
        raise _not_allowed(name)
    return value


def optional_text_field(body: dict[str, Any], name: str, *, max_length: int) -> str | None:
    if body.get(name) is None:
        return None
    return text_field(body, name, max_length=max_length)


def query_value(request: AppRequest, name: str) -> str | None:
    """A query parameter, blank values included: `?cursor=` is a cursor, and an invalid one."""
    value = request.get_args(keep_blank_values=True).get(name)
    if value is not None and not is_text(value):
        raise _not_allowed(name)
    return value


def text_query(
    request: AppRequest, name: str, *, max_length: int, pattern: str, required: bool = False
) -> str | None:
    """A query parameter of the documented length and pattern, else 422 naming it; None when it
    is absent or empty (and not required)."""
    value = query_value(request, name)
    if not value:
        if required:
            raise _invalid(N_("'%(field)s' must be a non-empty string."), name)
        return None
    if len(value) > max_length:
        raise _invalid(N_("'%(field)s' must be at most %(max)d characters."), name, max=max_length)
    if not compiled_pattern(pattern).fullmatch(value):
        raise _not_allowed(name)
    return value


def int_query(request: AppRequest, name: str, *, default: int, low: int, high: int) -> int:
    raw = query_value(request, name)
    if raw is None:
        return default
    value = _bounded_int(raw, high)
    if value is None or not low <= value <= high:
        raise _invalid(
            N_("'%(field)s' must be a whole number from %(low)d to %(high)d."),
            name,
            low=low,
            high=high,
        )
    return value


def _bounded_int(raw: str, high: int) -> int | None:
    """Decimal digits as a number no longer than `high`, else None: int() of an unbounded digit
    string is slow, and refuses more than 4,300 digits."""
    if _DIGITS.fullmatch(raw) is None:
        return None
    digits = raw.lstrip("0") or "0"
    return int(digits) if len(digits) <= len(str(high)) else None


def _not_allowed(field: str) -> InvalidInput:
    return _invalid(N_("'%(field)s' has characters that are not allowed."), field)


def _invalid(detail: str, field: str, **params: object) -> InvalidInput:
    return InvalidInput(detail, params={"field": field, **params}, extensions={"field": field})
