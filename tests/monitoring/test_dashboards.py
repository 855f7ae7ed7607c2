"""The Grafana dashboards and their provisioning follow the project's dashboard rules."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "dashboards"
PROVISIONING = DASHBOARDS / "provisioning"
DATASOURCE_UID = "prometheus"
RANGE_FUNCTION = re.compile(r"\b(?:rate|irate|increase)\(")
RANGE_FUNCTION_ON_RATE_INTERVAL = re.compile(
    r"\b(?:rate|irate|increase)\([^()\[\]]*\[\$__rate_interval\]\)"
)
UID = re.compile(r"learnbot-[a-z0-9-]+")


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS.glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    board: dict[str, Any] = json.loads(path.read_text())
    return board


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))


def datasources(node: object) -> Iterator[object]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                yield value
            yield from datasources(value)
    elif isinstance(node, list):
        for item in node:
            yield from datasources(item)


def queries(board: dict[str, Any]) -> list[str]:
    return [
        target["expr"] for panel in panels(board["panels"]) for target in panel.get("targets", [])
    ]


@pytest.fixture(params=dashboard_files(), ids=lambda path: path.name)
def board(request: pytest.FixtureRequest) -> dict[str, Any]:
    return load(request.param)


def test_there_is_a_dashboard_per_concern() -> None:
    assert {path.name for path in dashboard_files()} >= {
        "api-overview.json",
        "slos.json",
        "sign-in.json",
        "database.json",
        "backups.json",
    }


def test_uids_are_stable_and_unique() -> None:
    uids = [load(path).get("uid", "") for path in dashboard_files()]
    assert [uid for uid in uids if not UID.fullmatch(uid) or len(uid) > 40] == []
    assert len(uids) == len(set(uids))


def test_provisioned_dashboards_carry_no_numeric_id(board: dict[str, Any]) -> None:
    assert board.get("id") is None
    assert board["title"]
    assert "learnbot" in board["tags"]


def test_every_datasource_is_the_provisioned_prometheus(board: dict[str, Any]) -> None:
    found = list(datasources(board))
    assert found
    assert [ds for ds in found if not isinstance(ds, dict) or ds.get("uid") != DATASOURCE_UID] == []
    assert "${DS_" not in json.dumps(board)


def test_range_functions_use_the_rate_interval(board: dict[str, Any]) -> None:
    bad = [
        expr
        for expr in queries(board)
        if len(RANGE_FUNCTION.findall(expr)) != len(RANGE_FUNCTION_ON_RATE_INTERVAL.findall(expr))
    ]
    assert bad == []


def test_every_panel_has_a_unit_and_queries(board: dict[str, Any]) -> None:
    bad = []
    for panel in panels(board["panels"]):
        if panel.get("type") == "row":
            continue
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
        exprs = [target.get("expr") for target in panel.get("targets", [])]
        if not unit or not exprs or not all(exprs):
            bad.append(panel.get("title"))
    assert bad == []


def test_panel_ids_are_unique(board: dict[str, Any]) -> None:
    ids = [panel["id"] for panel in panels(board["panels"])]
    assert len(ids) == len(set(ids))


def test_the_datasource_is_provisioned_with_the_dashboards_uid() -> None:
    config = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())
    [datasource] = config["datasources"]
    assert datasource["uid"] == DATASOURCE_UID
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"


def test_the_dashboard_provider_reads_the_dashboards_path() -> None:
    config = yaml.safe_load((PROVISIONING / "dashboards" / "learnbot.yml").read_text())
    [provider] = config["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


def test_runbooks_link_existing_dashboards() -> None:
    uids = {load(path)["uid"] for path in dashboard_files()}
    linked = {
        uid
        for page in (ROOT / "runbooks").rglob("*.md")
        for uid in re.findall(r"/d/([a-z0-9-]+)", page.read_text())
    }
    assert linked
    assert sorted(linked - uids) == []
