"""Conditional requests: an ETag, and 304 when the client holds the current one."""

from __future__ import annotations

import hashlib

from learnbot.context import AppRequest


def etag_of(content: bytes) -> str:
    return '"' + hashlib.sha256(content).hexdigest()[:32] + '"'


def client_has(request: AppRequest, etag: str) -> bool:
    """Whether If-None-Match names `etag` (weak or strong) or is `*`."""
    if_none_match = request.headers.get("if-none-match", "")
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return etag in tags or "*" in tags
