"""The files `docker build -f service/Dockerfile .` sends to the builder, by .dockerignore's rules
(the last matching pattern decides; a pattern also matches everything under a folder it names;
`**` crosses folders)."""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + "$")


def ignore_rules(root: Path = ROOT) -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for line in (root / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = os.path.normpath(line.removeprefix("!").lstrip("/"))
        rules.append((negated, _regex(pattern)))
    return rules


def is_excluded(path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    parts = path.split("/")
    candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    excluded = False
    for negated, regex in rules:
        if any(regex.match(candidate) for candidate in candidates):
            excluded = not negated
    return excluded


def context_files(root: Path = ROOT) -> list[str]:
    rules = ignore_rules(root)
    files = []
    for folder, subfolders, names in os.walk(root):
        relative = Path(folder).relative_to(root).as_posix()
        # Neither is ever part of the context (the test checks that), and both are large.
        subfolders[:] = [d for d in subfolders if not (relative == "." and d in (".git", ".venv"))]
        for name in names:
            path = name if relative == "." else f"{relative}/{name}"
            if not is_excluded(path, rules):
                files.append(path)
    return sorted(files)
