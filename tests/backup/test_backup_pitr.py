"""`learnbot backup pitr-restore`'s checks and dry run, which need no server."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from learnbot.backup.commands import main
from learnbot.backup.pitr import PitrRefused, parse_target, restore_arguments

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
def repository_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in [name for name in os.environ if name.startswith("PHYSICAL_BACKUP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PHYSICAL_BACKUP_REPOSITORY", str(tmp_path / "repository"))
    monkeypatch.setenv("PHYSICAL_BACKUP_CONFIG", str(tmp_path / "pgbackrest.conf"))
    monkeypatch.setenv("PHYSICAL_BACKUP_CIPHER_PASSPHRASE", "x" * 32)
    return tmp_path


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-12-02 14:05:00+00", datetime(2026, 12, 2, 14, 5, tzinfo=UTC)),
        ("2026-12-02T16:05:00.250+02:00", datetime(2026, 12, 2, 14, 5, 0, 250000, tzinfo=UTC)),
        (" latest ", None),
    ],
)
def test_the_target_is_a_time_with_an_offset_in_utc_or_latest(
    raw: str, expected: datetime | None
) -> None:
    assert parse_target(raw, NOW) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("yesterday at two", "such as"),
        ("2026-13-02 14:05:00+00", "such as"),
        ("2026-12-02 14:05:00", "ambiguous"),
        ("2026-12-05 14:05:00+00", "in the future"),
    ],
)
def test_a_target_that_is_not_a_past_moment_is_refused(raw: str, reason: str) -> None:
    with pytest.raises(PitrRefused, match=reason):
        parse_target(raw, NOW)


def test_a_time_target_replays_to_it_and_promotes(tmp_path: Path) -> None:
    target = datetime(2026, 12, 2, 14, 5, 0, 250000, tzinfo=UTC)

    assert restore_arguments(target, tmp_path) == [
        "restore",
        f"--pg1-path={tmp_path}",
        "--type=time",
        "--target=2026-12-02 14:05:00.250000+00",
        "--target-action=promote",
    ]
    assert restore_arguments(None, tmp_path) == ["restore", f"--pg1-path={tmp_path}"]


def test_the_dry_run_prints_the_command_and_runs_nothing(
    repository_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    into = repository_env / "restored"

    status = main(
        [
            "backup",
            "pitr-restore",
            "--to",
            "2026-12-02 14:05:00+00",
            "--into",
            str(into),
            "--dry-run",
        ]
    )

    out = capsys.readouterr().out
    assert status == 0
    assert "pgbackrest --config=" in out
    assert "--type=time '--target=2026-12-02 14:05:00.000000+00' --target-action=promote" in out
    assert f"--pg1-path={into}" in out
    assert "x" * 32 not in out
    assert not into.exists()
    assert not (repository_env / "pgbackrest.conf").exists()


@pytest.mark.parametrize("dry_run", [["--dry-run"], []])
def test_a_non_empty_target_directory_is_refused(
    repository_env: Path, capsys: pytest.CaptureFixture[str], dry_run: list[str]
) -> None:
    into = repository_env / "data"
    into.mkdir()
    (into / "PG_VERSION").write_text("15\n")

    status = main(["backup", "pitr-restore", "--to", "latest", "--into", str(into), *dry_run])

    assert status == 1
    assert "is not empty" in capsys.readouterr().err
    assert (into / "PG_VERSION").read_text() == "15\n"


def test_an_unparseable_time_is_refused_with_what_is_allowed(
    repository_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        ["backup", "pitr-restore", "--to", "soon", "--into", str(repository_env / "x"), "--dry-run"]
    )

    assert status == 1
    assert '--to: a time with its UTC offset, such as "2026-12-02 14:05:00+00"' in (
        capsys.readouterr().err
    )


def test_pitr_commands_need_a_repository(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PHYSICAL_BACKUP_REPOSITORY", raising=False)

    assert main(["backup", "pitr-verify"]) == 2
    assert "PHYSICAL_BACKUP_REPOSITORY: the pgBackRest repository's folder" in (
        capsys.readouterr().err
    )
