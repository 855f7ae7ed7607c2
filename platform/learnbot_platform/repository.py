"""What the stack reads from the repository at `pulumi up` time, so a deploy ships the files as
they are in the checkout: alert rules, Alertmanager routing, dashboards and their provisioning."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = Path("service") / "Dockerfile"
ALERTMANAGER_FILE = "alertmanager.yml"


@dataclass(frozen=True, slots=True)
class MonitoringSources:
    rule_files: dict[str, str]
    alertmanager: str
    dashboards: dict[str, str]
    grafana_datasources: dict[str, str]
    grafana_dashboard_providers: dict[str, str]


def read_monitoring_sources(root: Path = ROOT) -> MonitoringSources:
    alerts = root / "alerts"
    provisioning = root / "dashboards" / "provisioning"
    rules = {
        path.name: path.read_text()
        for path in sorted(alerts.glob("*.yml"))
        if path.name != ALERTMANAGER_FILE
    }
    if not rules:
        raise FileNotFoundError(f"no alert rule files in {alerts}")
    return MonitoringSources(
        rule_files=rules,
        alertmanager=(alerts / ALERTMANAGER_FILE).read_text(),
        dashboards={p.name: p.read_text() for p in sorted((root / "dashboards").glob("*.json"))},
        grafana_datasources=_yaml_files(provisioning / "datasources"),
        grafana_dashboard_providers=_yaml_files(provisioning / "dashboards"),
    )


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
