"""The conventions of alerts, recording rules and runbooks (names, labels, annotations, pages)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from learnbot_platform.repository import rule_paths
from pulumi_program import ROOT

RUNBOOKS = ROOT / "runbooks"
PROCEDURES = RUNBOOKS / "procedures"

# Watchdog: the dead man's switch keeps the name kube-prometheus and the heartbeat services use.
ALERT_NAME = re.compile(
    r"Watchdog|Learnbot(?:Api|Bot|Postgres|Backup|Prometheus)(?:[A-Z][a-z0-9]*)+"
)
RECORD_NAME = re.compile(r"[a-z][a-z0-9_]*:[a-z][a-z0-9_]*:[a-z][a-z0-9_]*")
SEVERITIES = {"critical", "warning", "info"}
SECTIONS = ["## Meaning", "## Impact", "## Diagnosis", "## Mitigation"]
SLO_WINDOWS = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]
PROCEDURE_NAMES = {
    "restore-from-backup.md",
    "point-in-time-recovery.md",
    "deploy-and-roll-back.md",
    "rotate-the-bot-token.md",
    "add-an-admin.md",
    "add-a-language.md",
}
MARKDOWN_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@dataclass(frozen=True)
class Rule:
    file: str
    body: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.body.get("alert") or self.body["record"])

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.body.get("labels") or {})

    @property
    def annotations(self) -> dict[str, str]:
        return dict(self.body.get("annotations") or {})


def rules() -> list[Rule]:
    return [
        Rule(path.name, rule)
        for path in rule_paths()
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]


def alerts() -> list[Rule]:
    return [rule for rule in rules() if "alert" in rule.body]


def runbook_pages() -> list[Path]:
    return sorted(path for path in RUNBOOKS.glob("*.md") if path.name != "README.md")


def linked_from(page: Path) -> set[Path]:
    return {
        (page.parent / target).resolve()
        for target in MARKDOWN_LINK.findall(page.read_text())
        if "://" not in target
    }


def test_alert_names_are_camel_case_with_a_component_prefix() -> None:
    names = [rule.name for rule in alerts()]
    assert names
    assert [name for name in names if not ALERT_NAME.fullmatch(name)] == []


def test_an_alerts_rules_are_told_apart_by_their_labels_in_one_file() -> None:
    """One alert may have several rules (a burn-rate window each): they differ in their labels,
    so each is an alert of its own in Alertmanager, and live in one file."""
    identities = [(rule.name, tuple(sorted(rule.labels.items()))) for rule in alerts()]
    assert len(identities) == len(set(identities)), "alert rules with the same name and labels"
    files: dict[str, set[str]] = {}
    for rule in alerts():
        files.setdefault(rule.name, set()).add(rule.file)
    assert {name: found for name, found in files.items() if len(found) > 1} == {}


def test_alerts_have_a_severity_and_a_component() -> None:
    bad = [
        f"{rule.name}: {rule.labels}"
        for rule in alerts()
        if rule.labels.get("severity") not in SEVERITIES or not rule.labels.get("component")
    ]
    assert bad == []


def test_summaries_are_static_sentences() -> None:
    bad = []
    for rule in alerts():
        summary = rule.annotations.get("summary", "")
        if "{{" in summary or not summary[:1].isupper() or not summary.endswith("."):
            bad.append(f"{rule.name}: {summary!r}")
    assert bad == []


def test_descriptions_are_templated() -> None:
    bad = []
    # The dead man's switch has no value or label to tell: it is the same at every moment.
    for rule in (rule for rule in alerts() if rule.name != "Watchdog"):
        description = rule.annotations.get("description", "")
        if "{{" not in description or not re.search(r"\$value|\$labels\.", description):
            bad.append(rule.name)
    assert bad == []


def test_runbook_urls_name_the_alerts_page() -> None:
    bad = [
        f"{rule.name}: {rule.annotations.get('runbook_url')}"
        for rule in alerts()
        if rule.annotations.get("runbook_url") != f"runbooks/{rule.name}.md"
    ]
    assert bad == []


def test_recording_rules_follow_level_metric_operations() -> None:
    records = [rule.name for rule in rules() if "record" in rule.body]
    assert [name for name in records if not RECORD_NAME.fullmatch(name)] == []
    for sli in ("job:slo_availability_errors", "job:slo_latency_slow"):
        missing = [w for w in SLO_WINDOWS if f"{sli}:ratio_rate{w}" not in records]
        assert missing == [], f"{sli} is not recorded over {missing}"


def test_every_alert_has_a_runbook_with_the_four_sections() -> None:
    problems = []
    for rule in alerts():
        page = RUNBOOKS / f"{rule.name}.md"
        if not page.is_file():
            problems.append(f"{page.relative_to(ROOT)} is missing")
            continue
        lines = page.read_text().splitlines()
        headings = [line.strip() for line in lines if line.strip() in SECTIONS]
        if headings != SECTIONS:
            problems.append(f"{page.name} has sections {headings}, not {SECTIONS}")
    assert problems == []


def test_every_runbook_belongs_to_an_alert() -> None:
    names = {rule.name for rule in alerts()}
    assert [page.name for page in runbook_pages() if page.stem not in names] == []


def test_the_procedures_exist() -> None:
    assert sorted(PROCEDURE_NAMES - {page.name for page in PROCEDURES.glob("*.md")}) == []


def test_the_index_links_every_runbook_and_procedure() -> None:
    linked = linked_from(RUNBOOKS / "README.md")
    pages = [*runbook_pages(), *sorted(PROCEDURES.glob("*.md"))]
    assert [str(page.relative_to(RUNBOOKS)) for page in pages if page not in linked] == []


def test_links_between_runbooks_lead_somewhere() -> None:
    broken = [
        f"{page.relative_to(RUNBOOKS)} -> {target.name}"
        for page in sorted(RUNBOOKS.rglob("*.md"))
        for target in linked_from(page)
        if not target.exists()
    ]
    assert broken == []
