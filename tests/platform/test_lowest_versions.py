"""The platform extra's lower bounds are true: the program, as it is in the checkout, runs both
targets under mocks with the lowest release pyproject.toml allows of each Pulumi SDK, installed
into an environment of their own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from scratch_environment import new_environment

ROOT = Path(__file__).resolve().parents[2]
RUNNER = Path(__file__).with_name("run_both_targets.py")
# As Pulumi runs the program: platform/ first; the harness; the project's package, as installed
# in .venv (editable) but without its other dependencies.
PROGRAM_PATH = os.pathsep.join(str(ROOT / folder) for folder in ("platform", "tests", "service"))


def project() -> dict[str, Any]:
    table: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return table


def lowest_allowed(requirement: str) -> tuple[str, str]:
    """The requirement's name and the version of its `>=` bound."""
    parsed = Requirement(requirement)
    lower = [spec.version for spec in parsed.specifier if spec.operator == ">="]
    assert len(lower) == 1, f"{requirement}: a platform requirement needs one lower bound (>=)"
    return parsed.name, lower[0]


def run_both_targets(python: str | Path) -> dict[str, Any]:
    result = subprocess.run(
        [str(python), str(RUNNER)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": PROGRAM_PATH},
        # Generous: the runs take seconds of CPU, but a loaded machine stretches them.
        timeout=1200,
    )
    assert result.returncode == 0, result.stderr[-6000:]
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def program_requirements() -> list[str]:
    """The project's own requirements, as pyproject.toml states them, that a run of the program
    loads (the parts of the package that the platform imports need them)."""
    loaded = {canonicalize_name(name) for name in run_both_targets(sys.executable)["distributions"]}
    return [
        requirement
        for requirement in project()["dependencies"]
        if canonicalize_name(Requirement(requirement).name) in loaded
    ]


@pytest.fixture(scope="module")
def lowest_sdks() -> dict[str, str]:
    return dict(lowest_allowed(r) for r in project()["optional-dependencies"]["platform"])


@pytest.fixture(scope="module")
def lowest_environment(
    tmp_path_factory: pytest.TempPathFactory, lowest_sdks: dict[str, str]
) -> Path:
    """A virtual environment with exactly the lowest allowed SDKs; its python."""
    pins = [f"{name}=={version}" for name, version in lowest_sdks.items()]
    return new_environment(
        tmp_path_factory.mktemp("lowest") / "venv", *pins, *program_requirements()
    )


def test_the_platform_extra_bounds_every_sdk_as_the_readme_says(
    lowest_sdks: dict[str, str],
) -> None:
    assert set(lowest_sdks) == {"pulumi", "pulumi-docker", "pulumi-random", "pulumi-kubernetes"}
    readme = " ".join((ROOT / "README.md").read_text().split())
    for name, version in lowest_sdks.items():
        assert f"{name} {version}" in readme, name


@pytest.mark.slow
def test_both_targets_run_with_the_lowest_allowed_sdks(
    lowest_environment: Path, lowest_sdks: dict[str, str]
) -> None:
    report = run_both_targets(lowest_environment)
    ran_with = {name: Version(version) for name, version in report["versions"].items()}
    assert ran_with == {name: Version(version) for name, version in lowest_sdks.items()}
    types = report["resource_types"]
    assert "docker:index/container:Container" in types["docker"]
    assert "random:index/randomPassword:RandomPassword" in types["docker"]
    assert "kubernetes:apps/v1:Deployment" in types["kubernetes"]
    assert "kubernetes:helm.sh/v3:Release" in types["kubernetes"]
