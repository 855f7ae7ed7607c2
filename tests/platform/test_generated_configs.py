"""The files the program uploads into its containers pass the tools that run them: promtool on
Prometheus' configuration with its rules beside it, amtool on Alertmanager's, nginx -t on the
proxy's."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import pytest

from installed_tools import tool
from stack_run import StackRun

ALERTMANAGER_SECRETS = "/etc/alertmanager/secrets/"
ALERTMANAGER_TEMPLATES = "/etc/alertmanager/templates"


def uploads(stack: StackRun, container: str) -> dict[str, str]:
    return {u["file"]: u["content"] for u in stack.containers()[container].get("uploads", [])}


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False)


def write_tree(files: dict[str, str], prefix: str, into: Path) -> None:
    for path, content in files.items():
        target = into / path.removeprefix(prefix)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)


def test_promtool_accepts_the_prometheus_configuration(
    default_stack: StackRun, tmp_path: Path
) -> None:
    promtool = tool("promtool", "prometheus package")
    files = uploads(default_stack, "learnbot-prometheus")
    write_tree(files, "/etc/prometheus/", tmp_path)
    result = run([promtool, "check", "config", str(tmp_path / "prometheus.yml")])
    assert result.returncode == 0, result.stdout + result.stderr
    # promtool also checked every rule file the configuration names.
    assert result.stdout.count("SUCCESS") >= len(list((tmp_path / "rules").glob("*.yml")))


def amtool_check(
    stack: StackRun, container: str, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    amtool = tool("amtool", "prometheus-alertmanager package")
    files = uploads(stack, container)
    config = files.pop("/etc/alertmanager/alertmanager.yml")
    # The secret files and templates the configuration names live where the test can write
    # them; amtool parses the templates it finds.
    templates = tmp_path / "templates"
    config = config.replace(ALERTMANAGER_TEMPLATES + "/", f"{templates}/")
    for path, content in files.items():
        if path.startswith(ALERTMANAGER_TEMPLATES + "/"):
            templates.mkdir(exist_ok=True)
            (templates / Path(path).name).write_text(content)
            continue
        stand_in = tmp_path / "secrets" / Path(path).name
        stand_in.parent.mkdir(exist_ok=True)
        stand_in.write_text(content)
        config = config.replace(path, str(stand_in))
    assert ALERTMANAGER_SECRETS not in config
    (tmp_path / "alertmanager.yml").write_text(config)
    return run([amtool, "check-config", str(tmp_path / "alertmanager.yml")])


def test_amtool_accepts_the_alertmanager_configuration_with_receivers(
    configured_stack: StackRun, tmp_path: Path
) -> None:
    result = amtool_check(configured_stack, "lb-prod-alertmanager", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 receivers" in result.stdout
    assert "1 templates" in result.stdout


def test_amtool_refuses_a_template_that_does_not_parse(
    configured_stack: StackRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check above reads the shipped template: a broken one fails it."""
    original = configured_stack.containers

    def broken() -> dict[str, Any]:
        containers = copy.deepcopy(original())
        for upload in containers["lb-prod-alertmanager"]["uploads"]:
            if upload["file"].endswith(".tmpl"):
                upload["content"] += "{{ end }}"
        return containers

    monkeypatch.setattr(configured_stack, "containers", broken)
    result = amtool_check(configured_stack, "lb-prod-alertmanager", tmp_path)
    assert result.returncode != 0
    assert "template" in (result.stdout + result.stderr).lower()


def test_amtool_accepts_the_alertmanager_configuration_without_receivers(
    default_stack: StackRun, tmp_path: Path
) -> None:
    result = amtool_check(default_stack, "learnbot-alertmanager", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def nginx_check(stack: StackRun, container: str, tmp_path: Path) -> tuple[str, Any]:
    nginx = tool("nginx", "nginx package")
    config = uploads(stack, container)["/etc/nginx/nginx.conf"]
    (tmp_path / "nginx.conf").write_text(config)
    (tmp_path / "logs").mkdir()
    result = run(
        [
            nginx,
            "-t",
            "-p",
            str(tmp_path),
            "-c",
            "nginx.conf",
            "-e",
            "logs/error.log",
            "-g",
            f"pid {tmp_path}/nginx.pid;",
        ]
    )
    return config, result


def test_nginx_accepts_the_proxy_configuration(configured_stack: StackRun, tmp_path: Path) -> None:
    config, result = nginx_check(configured_stack, "lb-prod-proxy", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "syntax is ok" in result.stderr
    assert 'set $learnbot_api "lb-prod-api:8000";' in config


def test_nginx_accepts_the_default_proxy_configuration(
    default_stack: StackRun, tmp_path: Path
) -> None:
    _, result = nginx_check(default_stack, "learnbot-proxy", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
