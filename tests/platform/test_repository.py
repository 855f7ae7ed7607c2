"""platform/repository.py: the rule files the stack ships come from their folders, by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from learnbot_platform.repository import RULE_FOLDERS, read_monitoring_sources, rule_paths
from pulumi_program import ROOT


def test_rule_files_are_the_records_and_rules_folders_in_the_order_of_their_names() -> None:
    paths = rule_paths()
    assert {path.parent.relative_to(ROOT) for path in paths} == set(RULE_FOLDERS)
    assert [path.name for path in paths] == sorted(path.name for path in paths)
    assert list(read_monitoring_sources().rule_files) == [path.name for path in paths]


def test_rule_files_of_different_folders_may_not_share_a_name(tmp_path: Path) -> None:
    for folder in RULE_FOLDERS:
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "api.yml").write_text("groups: []\n")
    with pytest.raises(ValueError, match=r"share a name: api\.yml"):
        rule_paths(tmp_path)
