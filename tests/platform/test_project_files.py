"""The project around the program: Pulumi.yaml runs platform/ in .venv, platform/ is no package
and shadows nothing, each target is a folder of its own, Pulumi.dev.yaml lists the settings, the
README documents them, and the GitHub workflow runs `make test` with the tools the tests need."""

from __future__ import annotations

import importlib.metadata
import re
import sys
from pathlib import Path

import yaml

from learnbot_platform.repository import shipped_locales
from learnbot_platform.stack_config import (
    DEFAULT_IMAGES,
    KEYS,
    PLAIN_KEYS,
    SECRET_KEYS,
    load_stack_config,
)

ROOT = Path(__file__).resolve().parents[2]
PLATFORM = ROOT / "platform"


def test_pulumi_yaml_runs_platform_in_the_repository_venv() -> None:
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == "learnbot"
    assert project["main"] == "platform/"
    assert project["runtime"] == {
        "name": "python",
        "options": {"toolchain": "pip", "virtualenv": ".venv"},
    }
    assert (PLATFORM / "__main__.py").is_file()


def test_platform_is_never_a_package() -> None:
    # `import platform` must keep meaning the standard library's module.
    assert not (PLATFORM / "__init__.py").exists()


def test_no_module_of_the_program_shadows_another() -> None:
    # Pulumi puts platform/ first on sys.path: a clash would replace the other module.
    top_level = {p.stem for p in PLATFORM.glob("*.py")} - {"__main__"}
    top_level |= {p.name for p in PLATFORM.iterdir() if (p / "__init__.py").is_file()}
    assert top_level == {"learnbot_platform"}
    assert not top_level & set(sys.stdlib_module_names)
    assert not top_level & set(importlib.metadata.packages_distributions())
    strays = [p for p in PLATFORM.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))]
    assert strays == [PLATFORM / "learnbot_platform"]


def test_each_target_is_a_folder_and_kubernetes_imports_nothing_of_docker() -> None:
    package = PLATFORM / "learnbot_platform"
    targets = {p.name for p in package.iterdir() if (p / "__init__.py").is_file()}
    assert targets == {"docker", "kubernetes"}
    for module in (package / "kubernetes").rglob("*.py"):
        assert "learnbot_platform.docker" not in module.read_text(), module
    for module in package.glob("*.py"):
        text = module.read_text()
        assert "learnbot_platform.docker" not in text, module
        assert "learnbot_platform.kubernetes" not in text, module


def dev_stack() -> tuple[str, dict[str, str]]:
    text = (ROOT / "Pulumi.dev.yaml").read_text()
    config = yaml.safe_load(text)["config"]
    return text, {key.removeprefix("learnbot:"): str(value) for key, value in config.items()}


def test_the_dev_stack_lists_every_plain_setting_and_no_secret() -> None:
    text, settings = dev_stack()
    for key in PLAIN_KEYS:
        assert re.search(rf"^\s*#?\s*learnbot:{key}:", text, flags=re.MULTILINE), key
    assert not set(settings) & set(SECRET_KEYS)
    assert set(settings) <= set(KEYS)
    for key, image in DEFAULT_IMAGES.items():
        assert settings[key] == image


def test_the_dev_stack_settings_are_valid() -> None:
    _, settings = dev_stack()
    config = load_stack_config(
        {**settings, "telegramBotToken": "1:dev"},
        shipped_locales=shipped_locales(),
        default_api_image_tag="0.1.0",
    )
    assert config.name_prefix == "learnbot-dev"


def deploy_section() -> str:
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"^## Deploy\n(.*?)^## ", readme, flags=re.MULTILINE | re.DOTALL)
    assert match, "README.md has no Deploy section followed by another section"
    return match.group(1)


def test_the_readme_documents_every_setting_and_output() -> None:
    section = deploy_section()
    for key in KEYS:
        assert f"learnbot:{key}" in section, key
    for key in SECRET_KEYS:
        # A secret of several values is set one by one, by its path.
        assert re.search(rf"--secret (--path ')?learnbot:{key}\b", section), key
    for output in ("apiUrl", "grafanaUrl", "prometheusUrl", "grafanaAdminPassword"):
        assert output in section
    for command in ("pulumi stack init", "pulumi up", "pulumi destroy", "pulumi preview"):
        assert command in section
    readme = (ROOT / "README.md").read_text()
    assert readme.index("## Deploy") < readme.index("## Layout")
    assert "| `platform/` |" in readme


def test_the_github_workflow_runs_make_test_with_the_tools() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    # YAML 1.1 reads the key `on` as true.
    assert workflow.get("on", workflow.get(True))
    (job,) = workflow["jobs"].values()
    commands = "\n".join(step.get("run", "") for step in job["steps"])
    assert re.search(r"^make test$", commands, flags=re.MULTILINE)
    for package in (
        "postgresql",
        "prometheus",
        "prometheus-alertmanager",
        "nginx",
        "redis-server",
    ):
        assert re.search(rf"\s{re.escape(package)}(\s|$)", commands), package
    python = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/setup-python")]
    assert python[0]["with"]["python-version"] == "3.11"
