"""What the stack reads from the repository at `pulumi up` time, so a deploy ships the files as
they are in the checkout: alert rules, Alertmanager routing, dashboards and their provisioning."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = Path("service") / "Dockerfile"
ALERTS = Path("alerts")
# Recording rules and alert rules; Prometheus gets both side by side, by file name.
RULE_FOLDERS = (ALERTS / "records", ALERTS / "rules")
ALERTMANAGER_FILE = ALERTS / "alertmanager" / "alertmanager.yml"
ALERTMANAGER_TEMPLATES = ALERTS / "alertmanager" / "templates"


@dataclass(frozen=True, slots=True)
class MonitoringSources:
    rule_files: dict[str, str]
    alertmanager: str
    # The notification templates, by file name.
    alertmanager_templates: dict[str, str]
    dashboards: dict[str, str]
    grafana_datasources: dict[str, str]
    grafana_dashboard_providers: dict[str, str]


def read_monitoring_sources(root: Path = ROOT) -> MonitoringSources:
    provisioning = root / "dashboards" / "provisioning"
    return MonitoringSources(
        rule_files={path.name: path.read_text() for path in rule_paths(root)},
        alertmanager=(root / ALERTMANAGER_FILE).read_text(),
        alertmanager_templates={
            p.name: p.read_text() for p in sorted((root / ALERTMANAGER_TEMPLATES).glob("*.tmpl"))
        },
        dashboards={p.name: p.read_text() for p in sorted((root / "dashboards").glob("*.json"))},
        grafana_datasources=_yaml_files(provisioning / "datasources"),
        grafana_dashboard_providers=_yaml_files(provisioning / "dashboards"),
    )


def rule_paths(root: Path = ROOT) -> list[Path]:
    """The recording and alert rule files, in the order of their names."""
    paths = sorted(
        (path for folder in RULE_FOLDERS for path in (root / folder).glob("*.yml")),
        key=lambda path: path.name,
    )
    if not paths:
        raise FileNotFoundError(f"no rule files in {', '.join(map(str, RULE_FOLDERS))}")
    names = [path.name for path in paths]
    shared = sorted({name for name in names if names.count(name) > 1})
    if shared:
        raise ValueError(f"rule files of different folders share a name: {', '.join(shared)}")
    return paths


def shipped_locales(root: Path = ROOT) -> tuple[str, ...]:
    locales = root / "service" / "learnbot" / "locales"
    return tuple(sorted(p.parent.parent.name for p in locales.glob("*/LC_MESSAGES/messages.po")))


def project_version(root: Path = ROOT) -> str:
    with (root / "pyproject.toml").open("rb") as file:
        version: str = tomllib.load(file)["project"]["version"]
    return version


def _yaml_files(folder: Path) -> dict[str, str]:
    return {
        path.name: path.read_text()
        for path in sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")])
    }
