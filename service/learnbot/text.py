"""The rule for every string the service hashes, stores or logs: valid Unicode without NUL.

JSON escapes (`\\ud800`, `\\u0000`) and percent-decoding can produce a lone surrogate, which
UTF-8 cannot encode, or a NUL, which PostgreSQL's text refuses; each kind of input is checked
once, where it is decoded.
"""

from __future__ import annotations

import re
from typing import Final

_NOT_TEXT: Final = re.compile("[\x00\ud800-\udfff]")


def is_text(value: str) -> bool:
    return _NOT_TEXT.search(value) is None


def is_json_text(value: object) -> bool:
    """Whether every string in a decoded JSON value, object keys included, is text."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if not is_text(item):
                return False
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return True
