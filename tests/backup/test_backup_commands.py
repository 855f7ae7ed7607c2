from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

import pytest

from backup_process import backup_env, backup_in_process, learnbot_backup
from learnbot.backup.arguments import add_backup_commands
from learnbot.backup.catalog import Backup, checksum_line
from learnbot.backup.manifest import DrillRecord


def test_the_group_adds_its_actions_to_a_parser() -> None:
    parser = argparse.ArgumentParser(prog="learnbot")
    add_backup_commands(parser.add_subparsers(dest="command", required=True))

    args = parser.parse_args(["backup", "restore", "a.dump", "--target", "postgresql://h/db"])

    assert (args.command, args.backup_command) == ("backup", "restore")
    assert (args.file, args.target, args.force) == (Path("a.dump"), "postgresql://h/db", False)
    assert parser.parse_args(["backup", "run", "--once"]).once
    assert parser.parse_args(["backup", "verify", "--restore-drill"]).restore_drill
    with pytest.raises(SystemExit):
        parser.parse_args(["backup"])


def test_list_shows_each_backup_newest_first(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BACKUP_DIR", str(tmp_path))
    older = Backup.new(tmp_path, datetime(2025, 5, 1, 3, 0, tzinfo=UTC))
    newer = Backup.new(tmp_path, datetime(2025, 5, 2, 3, 0, tzinfo=UTC))
    for backup, size in ((older, 1536), (newer, 10)):
        backup.path.write_bytes(b"x" * size)
        backup.checksum_path.write_text(checksum_line("0" * 64, backup.name))
    older.drill_path.write_text(DrillRecord(datetime(2025, 5, 4, 4, 0, tzinfo=UTC), True).to_json())
    (tmp_path / ".learnbot-x.dump.partial").write_bytes(b"unfinished")

    assert backup_in_process("list") == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["TAKEN", "(UTC)", "SIZE", "VERIFIED", "FILE"]
    assert lines[1].split() == ["2025-05-02", "03:00:00", "10", "B", "no", str(newer.path)]
    assert lines[2].split() == [
        "2025-05-01",
        "03:00:00",
        "1.5",
        "KiB",
        "yes,",
        "2025-05-04",
        "04:00",
        str(older.path),
    ]
    assert lines[3] == f"2 backup(s) in {tmp_path}"


def test_an_invalid_setting_exits_2_naming_it(tmp_path: Path) -> None:
    env = backup_env(tmp_path, BACKUP_SCHEDULE="at three")

    result = learnbot_backup("list", env=env)

    assert result.returncode == 2
    assert result.stderr.strip() == (
        "learnbot: invalid configuration: BACKUP_SCHEDULE: a cron expression such as '0 3 * * *'"
    )
