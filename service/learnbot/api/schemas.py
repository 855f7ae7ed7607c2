"""JSON Schemas of the OpenAPI document; request validation uses the same patterns."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from sanic_ext.extensions.openapi.definitions import Parameter, RequestBody, Response
from sanic_ext.extensions.openapi.types import Integer, String

from learnbot.api.problems import PROBLEM_CONTENT_TYPE
from learnbot.i18n.catalogs import shipped_locales
from learnbot.storage.cursor import CURSOR_PATTERN, MAX_CURSOR_DIGITS

Schema = dict[str, Any]

# Printable text with at least one character that is not white space.
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"
PROVIDER_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,31}$"
# The Login Widget's redirect URL hands its numbers over as decimal digits.
TELEGRAM_ID_DIGITS = r"^[1-9][0-9]{0,15}$"
TIMESTAMP_DIGITS = r"^(0|[1-9][0-9]*)$"
MAX_TELEGRAM_ID = 2**53 - 1

# The `tma` security scheme that add_extensions registers: `Authorization: tma <init data>`.
SIGNED_IN: Schema = {"tma": []}

STRING: Schema = {"type": "string"}
NULLABLE_STRING: Schema = {"type": "string", "nullable": True}
BOOLEAN: Schema = {"type": "boolean"}
DATE_TIME: Schema = {"type": "string", "format": "date-time"}
TELEGRAM_ID: Schema = {
    "type": "integer",
    "format": "int64",
    "minimum": 1,
    "maximum": MAX_TELEGRAM_ID,
}


def text(max_length: int, pattern: str = TEXT_PATTERN, *, nullable: bool = False) -> Schema:
    schema: Schema = {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": pattern}
    return {**schema, "nullable": True} if nullable else schema


def obj(required: dict[str, Schema], optional: dict[str, Schema] | None = None) -> Schema:
    return {
        "type": "object",
        "properties": {**required, **(optional or {})},
        "required": list(required),
    }


PROBLEM = obj({"type": STRING, "title": STRING, "status": {"type": "integer"}, "detail": STRING})
USER = obj(
    {
        "id": {"type": "integer", "format": "int64"},
        "telegram_id": TELEGRAM_ID,
        "username": NULLABLE_STRING,
        "first_name": STRING,
        "last_name": NULLABLE_STRING,
        "language_code": NULLABLE_STRING,
        "is_premium": BOOLEAN,
        "photo_url": NULLABLE_STRING,
        "created_at": DATE_TIME,
        "locale": NULLABLE_STRING,
    }
)
ADMIN_USER: Schema = {
    **USER,
    "properties": {
        **USER["properties"],
        "is_blocked": BOOLEAN,
        "source": NULLABLE_STRING,
        "last_seen_at": DATE_TIME,
    },
    "required": [*USER["required"], "is_blocked", "source", "last_seen_at"],
}
ACCOUNT = obj(
    {
        "provider": STRING,
        "external_id": STRING,
        "display_name": NULLABLE_STRING,
        "linked_at": DATE_TIME,
        "verified": BOOLEAN,
    }
)
AUTHORIZATION = obj({"provider": STRING, "authorization_url": STRING, "expires_at": DATE_TIME})
PROVIDERS = obj(
    {"providers": {"type": "array", "items": obj({"id": STRING, "name": STRING, "kind": STRING})}}
)
# The page a browser is shown at the end of a link when no OAUTH_RETURN_URL is set.
HTML_PAGE: Schema = {"type": "string"}
SIGN_IN = obj({"message": STRING, "user": USER, "is_admin": BOOLEAN})
ME = obj(
    {
        "user": USER,
        "accounts": {"type": "array", "items": ACCOUNT},
        "accounts_summary": STRING,
        "is_admin": BOOLEAN,
    }
)
USER_PAGE = obj({"users": {"type": "array", "items": ADMIN_USER}, "next_cursor": NULLABLE_STRING})
STATUS = obj({"status": STRING})
LOCALES = obj(
    {
        "default": STRING,
        "locales": {"type": "array", "items": obj({"code": STRING, "name": STRING})},
    }
)
CATALOG = obj(
    {
        "locale": STRING,
        "name": STRING,
        "messages": {
            "type": "object",
            "additionalProperties": {
                "oneOf": [STRING, {"type": "object", "additionalProperties": STRING}]
            },
        },
    }
)
LOCALE = obj({"locale": NULLABLE_STRING, "user": USER})

SIGN_IN_BODY: Schema = {
    "anyOf": [
        obj({"init_data": STRING}),
        obj(
            {
                "id": {"anyOf": [TELEGRAM_ID, {"type": "string", "pattern": TELEGRAM_ID_DIGITS}]},
                "first_name": STRING,
                "auth_date": {
                    "anyOf": [
                        {"type": "integer", "format": "int64", "minimum": 0},
                        {"type": "string", "pattern": TIMESTAMP_DIGITS},
                    ]
                },
                "hash": STRING,
            },
            {"last_name": STRING, "username": STRING, "photo_url": STRING},
        ),
    ],
    "description": "Mini App init data, or the fields the Login Widget hands over: `id` and "
    "`auth_date` as numbers (its JavaScript callback) or as decimal digits (its redirect URL).",
}
LINK_ACCOUNT_BODY = obj(
    {"provider": text(32, PROVIDER_PATTERN), "external_id": text(256)},
    {"display_name": text(128, nullable=True)},
)
LOCALE_BODY = obj(
    {
        "locale": {
            "type": "string",
            "nullable": True,
            "enum": [
                *shipped_locales(),
                *(c.replace("_", "-") for c in shipped_locales() if "_" in c),
                None,
            ],
        }
    }
)
# sanic-ext's schema types are untyped.
LIMIT = Parameter(
    "limit",
    Integer(minimum=1, maximum=100, default=20),  # type: ignore[no-untyped-call]
    "query",
)
CURSOR = Parameter(
    "cursor",
    String(pattern=CURSOR_PATTERN, maxLength=MAX_CURSOR_DIGITS),  # type: ignore[no-untyped-call]
    "query",
    description="next_cursor of the previous page",
)

# The callback's query, as the provider sends it back (RFC 6749 4.1.2, RFC 9207): printable
# ASCII (its VSCHAR), bounded so that all of it stays far below the 24 KiB of request headers.
CALLBACK_VALUE_PATTERN = r"^[\x20-\x7e]*$"
CALLBACK_VALUES = {
    "state": (512, "the state of the authorization URL"),
    "code": (2048, "the authorization code; absent when `error` is sent"),
    "error": (128, "the provider's error code, such as access_denied"),
    "error_description": (1024, "the provider's words on the error (not shown)"),
    "iss": (512, "the provider's issuer (RFC 9207)"),
}
CALLBACK_PARAMETERS: list[dict[str, Any] | Parameter | str] = [
    Parameter(
        name,
        String(maxLength=max_length, pattern=CALLBACK_VALUE_PATTERN),  # type: ignore[no-untyped-call]
        "query",
        required=name == "state",
        description=description,
    )
    for name, (max_length, description) in CALLBACK_VALUES.items()
]


def body(schema: Schema) -> RequestBody:
    return RequestBody({"application/json": {"schema": schema}}, required=True)


def responses(
    status: int,
    schema: Schema | None,
    *problem_statuses: int,
    also: dict[int, Schema] | None = None,
) -> list[Response]:
    """The documented answers of one operation: its successes, then its problem documents."""
    successes = {status: schema, **(also or {})}
    return [
        *(
            Response(
                {"application/json": {"schema": success}} if success else {},
                status=code,
                description=HTTPStatus(code).phrase,
            )
            for code, success in successes.items()
        ),
        *(
            Response(
                {PROBLEM_CONTENT_TYPE: {"schema": PROBLEM}},
                status=problem,
                description=HTTPStatus(problem).phrase,
            )
            for problem in problem_statuses
        ),
    ]


# A Telegram Update (https://core.telegram.org/bots/api#update). Any body is accepted and
# answered 200 (one without the Update's shape is counted, not acted on: Telegram would
# otherwise send it again and again), so the document requires nothing of it.
BOT_UPDATE = RequestBody(
    {
        "application/json": {
            "schema": {
                "description": "a Telegram Update: update_id and one of its kinds",
                "example": {"update_id": 1},
            }
        }
    },
    required=False,
)
WEBHOOK_SECRET_HEADER = Parameter(
    "X-Telegram-Bot-Api-Secret-Token",
    String(pattern=r"^[A-Za-z0-9_-]{1,256}$"),  # type: ignore[no-untyped-call]
    "header",
    required=True,
    description="the secret_token given to setWebhook (TELEGRAM_WEBHOOK_SECRET)",
)
WEBHOOK_ANSWER = obj({"ok": BOOLEAN})
