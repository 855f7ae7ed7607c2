"""What a provider proves about an account: its subject, and a name to show for it."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from learnbot.text import is_text

MAX_DISPLAY_NAME = 128
# OpenID Connect: a subject is at most 255 ASCII characters, compared exactly (case included):
# normalizing one could make two accounts one.
_SUBJECT = re.compile(r"[\x21-\x7e]{1,255}")


@dataclass(frozen=True, slots=True)
class Identity:
    subject: str
    display_name: str | None


def subject_of(value: object) -> str | None:
    """The provider's subject as learnbot stores it, or None when it is not one."""
    if isinstance(value, str) and _SUBJECT.fullmatch(value):
        return value
    # GitHub's user id is a JSON number (bool is an int to Python, and no id).
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63:
        return str(value)
    return None


def display_name(*candidates: object) -> str | None:
    """The first candidate that holds a name, NFC-normalized, without control characters, with
    white space runs made one space, cut to MAX_DISPLAY_NAME characters; None when none does."""
    for candidate in candidates:
        if not isinstance(candidate, str) or not is_text(candidate):
            continue
        text = unicodedata.normalize("NFC", candidate)
        text = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)
        name = " ".join(text.split())[:MAX_DISPLAY_NAME].rstrip()
        if name:
            return name
    return None
