"""The wheel the image installs works on its own: built from exactly the files the Docker build
context holds, installed into a fresh environment outside the checkout, and served."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from build_context import ROOT, context_files
from scratch_environment import new_environment, run
from service_process import Server, server_env, start_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment with only the wheel and its dependencies; its python."""
    base = tmp_path_factory.mktemp("packaging")
    context = base / "context"
    for name in context_files():
        target = context / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    wheels = base / "dist"
    # As the image's build stage does, without fetching the build backend again.
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(wheels),
            str(context),
        ]
    )
    (wheel,) = wheels.glob("learnbot-*.whl")
    return new_environment(base / "venv", str(wheel))


@pytest.fixture
def server(installed: Path, tmp_path: Path) -> Iterator[Server]:
    outside = tmp_path / "run"
    outside.mkdir()
    env = server_env(f"sqlite:///{outside}/learnbot.db", APP_ENV="development")
    # Nothing of the checkout may reach the installed environment.
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    server = start_server(env, outside / "serve.log", timeout=60, python=installed)
    try:
        yield server
    finally:
        server.stop()


def test_the_installed_package_is_the_one_imported(installed: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    location = run(
        [str(installed), "-c", "import learnbot; print(learnbot.__file__)"], cwd=tmp_path, env=env
    ).strip()
    assert Path(location).is_relative_to(installed.parent.parent)
    assert not Path(location).is_relative_to(ROOT)


def test_the_installed_service_answers(server: Server) -> None:
    # /app/dev/... is the development server's: the package holds the stand-in too.
    for path in ("/health", "/ready", "/i18n/locales", "/app/", "/app/app.js", "/app/dev.html"):
        answer = httpx.get(server.url + path, timeout=5)
        assert answer.status_code == 200, (path, answer.text, server.log())
    assert httpx.get(server.url + "/i18n/locales").json()["default"] == "en"
