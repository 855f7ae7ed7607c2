from __future__ import annotations

import os
from pathlib import Path

import pytest

from backup_process import seed


@pytest.fixture
def backup_dir(tmp_path: Path) -> Path:
    return tmp_path / "backups"


@pytest.fixture
def seeded_url(postgres_url: str) -> str:
    seed(postgres_url)
    return postgres_url


@pytest.fixture
def backup_settings_env(monkeypatch: pytest.MonkeyPatch, backup_dir: Path, seeded_url: str) -> Path:
    """This process's environment set up for in-process commands against `seeded_url`."""
    for name in [name for name in os.environ if name.startswith("BACKUP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DATABASE_URL", seeded_url)
    monkeypatch.setenv("BACKUP_DIR", str(backup_dir))
    return backup_dir
