from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from backup_process import backup_in_process, free_port
from learnbot.backup.catalog import list_backups
from learnbot.observability.metrics import exposition_registry


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_verify_passes_intact_backups(backup_settings_env: Path) -> None:
    assert backup_in_process("run", "--once") == 0

    assert backup_in_process("verify") == 0


def test_a_flipped_byte_is_caught_by_verify_and_refused_by_restore(
    backup_settings_env: Path, seeded_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert backup_in_process("run", "--once") == 0
    [backup] = list_backups(backup_settings_env)
    flip_a_byte(backup.path)
    capsys.readouterr()

    assert backup_in_process("verify") == 1

    assert f"FAILED  {backup.name}: SHA-256" in capsys.readouterr().out
    assert backup_in_process("restore", str(backup.path), "--target", seeded_url, "--force") == 1
    assert "does not match the recorded" in capsys.readouterr().err


def test_a_restore_drill_passes_and_is_remembered(
    backup_settings_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert backup_in_process("run", "--once") == 0
    [backup] = list_backups(backup_settings_env)
    started = time.time()

    assert backup_in_process("verify", "--restore-drill") == 0

    assert f"restore drill of {backup.name}: passed" in capsys.readouterr().out
    record = backup.drill()
    assert record is not None
    assert record.passed
    assert record.problems == ()
    verified_at = exposition_registry().get_sample_value("backup_last_verified_timestamp_seconds")
    assert verified_at == record.drilled_at.timestamp() >= started
    assert backup_in_process("list") == 0
    assert f"yes, {record.drilled_at:%Y-%m-%d %H:%M}" in capsys.readouterr().out


def test_a_drill_fails_when_the_restore_differs_from_the_manifest(
    backup_settings_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert backup_in_process("run", "--once") == 0
    [backup] = list_backups(backup_settings_env)
    manifest = json.loads(backup.manifest_path.read_text())
    manifest["tables"]["public.users"]["rows"] = 6
    manifest["tables"]["public.linked_accounts"]["checksum"] = "1"
    backup.manifest_path.write_text(json.dumps(manifest))

    assert backup_in_process("verify", "--restore-drill") == 1

    record = backup.drill()
    assert record is not None
    assert not record.passed
    assert record.problems == (
        "public.linked_accounts: content differs from the backup time's checksum",
        "public.users: 5 rows restored, 6 at backup time",
    )
    assert backup_in_process("list") == 0
    assert "FAILED, " in capsys.readouterr().out


def test_a_drill_of_a_corrupt_backup_fails_before_restoring(backup_settings_env: Path) -> None:
    assert backup_in_process("run", "--once") == 0
    [backup] = list_backups(backup_settings_env)
    flip_a_byte(backup.path)

    assert backup_in_process("verify", "--restore-drill") == 1

    record = backup.drill()
    assert record is not None
    assert not record.passed
    assert "does not match the recorded" in record.problems[0]


def test_verify_without_backups_fails(
    backup_settings_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert backup_in_process("verify") == 1
    assert "no backups in" in capsys.readouterr().err


def test_a_drill_that_cannot_reach_the_server_records_nothing(
    backup_settings_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert backup_in_process("run", "--once") == 0
    monkeypatch.setenv("DATABASE_URL", f"postgresql://postgres@127.0.0.1:{free_port()}/x")

    assert backup_in_process("verify", "--restore-drill") == 1

    [backup] = list_backups(backup_settings_env)
    assert backup.drill() is None
