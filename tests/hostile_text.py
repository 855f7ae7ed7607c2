"""Hypothesis strategies for text an attacker may send."""

from __future__ import annotations

from hypothesis import strategies as st

# Every plane, lone surrogates and NUL included; st.text draws the last two too rarely to find
# anything, so they are drawn as characters of their own.
any_character = st.one_of(
    st.sampled_from(["\x00", "\ud800", "\udfff", "\U0010ffff", "\U0001f600"]),
    st.characters(exclude_categories=()),
)
any_text = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=20),
    st.lists(any_character, max_size=20).map("".join),
)
