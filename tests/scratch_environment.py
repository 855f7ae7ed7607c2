"""Virtual environments of their own for the tests that install packages: this checkout's pip
installs into them, from the index or pip's cache."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path


def run(
    command: list[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> str:
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=cwd, env=env)
    assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr[-6000:]}"
    return result.stdout


def new_environment(folder: Path, *requirements: str) -> Path:
    """A virtual environment in the folder holding the requirements (pip's arguments) and what
    they depend on; its python."""
    run([sys.executable, "-m", "venv", "--without-pip", str(folder)])
    python = folder / "bin" / "python"
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-compile",
            *requirements,
        ]
    )
    return python
