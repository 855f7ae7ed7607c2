"""The subject learnbot stores for a provider's account, and the name it shows for it."""

from __future__ import annotations

import pytest

from learnbot.oauth.identity import MAX_DISPLAY_NAME, display_name, subject_of


@pytest.mark.parametrize(
    ("value", "subject"),
    [
        ("alice", "alice"),
        ("AbC-123_x.y|z", "AbC-123_x.y|z"),
        ("x" * 255, "x" * 255),
        (583231, "583231"),
        ("x" * 256, None),
        ("", None),
        ("has space", None),
        ("tab\t", None),
        ("\u00e9", None),
        ("a\u0000", None),
        (0, None),
        (-5, None),
        (True, None),
        (1.5, None),
        (None, None),
        (["alice"], None),
    ],
)
def test_a_subject_is_taken_exactly_or_not_at_all(value: object, subject: str | None) -> None:
    assert subject_of(value) == subject


def test_subjects_are_never_normalized() -> None:
    """Case, widths and forms are different subjects to the provider: merging them could
    give one person's account to another."""
    assert subject_of("Alice") != subject_of("alice")


@pytest.mark.parametrize(
    ("candidates", "name"),
    [
        (("Ann",), "Ann"),
        (("Zoe\u0308",), "Zo\u00eb"),
        ((" a\n\tb  c ",), "a b c"),
        (("\u200bAnn",), "\u200bAnn"),
        (("",), None),
        (("  \n",), None),
        ((None, 5, "fallback"), "fallback"),
        (("N\u0000L", "second"), "second"),
        (("\ud800", "second"), "second"),
        ((), None),
    ],
)
def test_a_display_name_is_normalized(candidates: tuple[object, ...], name: str | None) -> None:
    assert display_name(*candidates) == name


def test_a_display_name_is_bounded() -> None:
    name = display_name("\u00e9" * 1000)
    assert name == "\u00e9" * MAX_DISPLAY_NAME
