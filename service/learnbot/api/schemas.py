"""Shapes for the OpenAPI document; the handlers build the same shapes by hand."""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from sanic_ext.extensions.openapi.definitions import Response

from learnbot.api.problems import PROBLEM_CONTENT_TYPE

# The `tma` security scheme that create_app registers: `Authorization: tma <init data>`.
SIGNED_IN: dict[str, Any] = {"tma": []}


@dataclass
class ProblemDocument:
    type: str
    title: str
    status: int
    detail: str


@dataclass
class SignInBody:
    init_data: str | None
    id: int | None
    first_name: str | None
    last_name: str | None
    username: str | None
    photo_url: str | None
    auth_date: int | None
    hash: str | None


@dataclass
class UserDocument:
    id: int
    telegram_id: int
    username: str | None
    first_name: str
    last_name: str | None
    language_code: str | None
    is_premium: bool
    photo_url: str | None
    created_at: str
    locale: str | None


@dataclass
class AdminUserDocument(UserDocument):
    is_blocked: bool
    last_seen_at: str


@dataclass
class SignInResponse:
    message: str
    user: UserDocument
    is_admin: bool


@dataclass
class AccountDocument:
    provider: str
    external_id: str
    display_name: str | None
    linked_at: str


@dataclass
class MeResponse:
    user: UserDocument
    accounts: list[AccountDocument]
    accounts_summary: str
    is_admin: bool


@dataclass
class LocaleDocument:
    code: str
    name: str


@dataclass
class LocalesResponse:
    default: str
    locales: list[LocaleDocument]


@dataclass
class CatalogResponse:
    locale: str
    name: str
    messages: dict[str, Any]


@dataclass
class LocaleBody:
    locale: str | None


@dataclass
class LocaleResponse:
    locale: str | None
    user: UserDocument


@dataclass
class LinkAccountBody:
    provider: str
    external_id: str
    display_name: str | None


@dataclass
class UserPageResponse:
    users: list[AdminUserDocument]
    next_cursor: str | None


@dataclass
class Status:
    status: str


def responses(status: int, schema: type | None, *problem_statuses: int) -> list[Response]:
    """The documented answers of one operation: its success, then its problem documents."""
    success = Response(
        {"application/json": schema} if schema else {},
        status=status,
        description=HTTPStatus(status).phrase,
    )
    return [
        success,
        *(
            Response(
                {PROBLEM_CONTENT_TYPE: ProblemDocument},
                status=problem,
                description=HTTPStatus(problem).phrase,
            )
            for problem in problem_statuses
        ),
    ]
