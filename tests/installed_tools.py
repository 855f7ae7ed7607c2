"""The system tools that check what the stack generates; the tests install nothing."""

from __future__ import annotations

import shutil

import pytest


def tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not found: install Debian's {package}")
    return path
