"""The Prometheus rule files pass promtool, and every alert rule has a firing and a silent unit
test: an alert of several rules (a window each) has them for each rule."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from learnbot_platform.repository import rule_paths
from pulumi_program import ROOT

UNIT_TESTS = sorted((ROOT / "alerts" / "tests").glob("*.yml"))


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool not found: install Debian's prometheus package")
    return path


def alert_rules() -> list[dict[str, Any]]:
    return [
        rule
        for path in rule_paths()
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def fires(case: dict[str, Any], rule: dict[str, Any]) -> bool:
    """Whether the unit test case expects this rule to fire: an expected alert of its name
    carries its labels."""
    labels = (rule.get("labels") or {}).items()
    return case["alertname"] == rule["alert"] and any(
        labels <= alert["exp_labels"].items() for alert in case.get("exp_alerts") or []
    )


def described(rule: dict[str, Any]) -> str:
    return f"{rule['alert']} {rule.get('labels') or {}}"


def alert_rule_tests() -> list[dict[str, Any]]:
    return [
        case
        for path in UNIT_TESTS
        for group in yaml.safe_load(path.read_text())["tests"]
        for case in group.get("alert_rule_test", [])
    ]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)


def test_rule_files_pass_promtool_check() -> None:
    result = run(promtool(), "check", "rules", *map(str, rule_paths()))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass() -> None:
    assert UNIT_TESTS
    result = run(promtool(), "test", "rules", *map(str, UNIT_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


# The dead man's switch fires all the time: its tests show it firing at any time, never silent.
ALWAYS_FIRING = {"Watchdog"}


def test_every_alert_has_a_firing_and_a_silent_unit_test() -> None:
    cases = alert_rule_tests()
    rules = alert_rules()
    never_fired = [described(r) for r in rules if not any(fires(c, r) for c in cases)]
    never_silent = [
        described(r)
        for r in rules
        if r["alert"] not in ALWAYS_FIRING
        and not any(c["alertname"] == r["alert"] and not fires(c, r) for c in cases)
    ]
    assert never_fired == [], "alerts without a test where they fire"
    assert never_silent == [], "alerts without a test where they stay silent"
    unknown = {case["alertname"] for case in cases} - {rule["alert"] for rule in rules}
    assert sorted(unknown) == [], "unit tests of alerts that do not exist"


def test_unit_tests_load_the_project_rule_files() -> None:
    loaded: set[Path] = set()
    for path in UNIT_TESTS:
        for name in yaml.safe_load(path.read_text())["rule_files"]:
            rule_file = (path.parent / name).resolve()
            assert rule_file.is_file(), f"{path.name} loads {name}, which does not exist"
            loaded.add(rule_file)
    assert sorted(set(rule_paths()) - loaded) == [], "rule files no unit test loads"
