"""Physical backups and point-in-time recovery with real pgBackRest and a real cluster."""

from __future__ import annotations

import gzip
import secrets
import time
import zlib
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import psycopg
import pytest

from backup_process import FAR_AWAY, backup_env, free_port, start_job, stop, wait_for_metrics
from wal_archiving import ArchivingCluster, archiving_cluster


def insert(url: str, *notes: str) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        for note in notes:
            connection.execute("INSERT INTO events (note) VALUES (%s)", (note,))


def notes(url: str) -> list[str]:
    with psycopg.connect(url) as connection:
        rows = connection.execute("SELECT note FROM events ORDER BY id").fetchall()
    return [note for (note,) in rows]


def server_now(url: str) -> str:
    with psycopg.connect(url) as connection:
        row = connection.execute("SELECT clock_timestamp()").fetchone()
    assert row is not None
    return f"{row[0]:%Y-%m-%d %H:%M:%S.%f}+00"


def repository_contents(repository: Path) -> Iterator[bytes]:
    """Every repository file as stored and, where it is gzip, decompressed."""
    for path in repository.rglob("*"):
        if not path.is_file():
            continue
        stored = path.read_bytes()
        yield stored
        with suppress(OSError, EOFError, zlib.error):
            yield gzip.decompress(stored)


def back_up_a_canary(archiving: ArchivingCluster) -> str:
    """A table with one distinctive row, then a full backup of it; the row's text."""
    canary = "canary-" + secrets.token_hex(8)
    with psycopg.connect(archiving.cluster.url, autocommit=True) as connection:
        connection.execute("CREATE TABLE events (id serial PRIMARY KEY, note text NOT NULL)")
    insert(archiving.cluster.url, canary)
    assert archiving.learnbot_backup("pitr-backup", "--type", "full") == 0
    return canary


PHYSICAL_LAST_SUCCESS = "physical_backup_last_success_timestamp_seconds"


@pytest.fixture
def encrypted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ArchivingCluster]:
    with archiving_cluster("pitr", tmp_path / "bin", monkeypatch) as archiving:
        yield archiving


def test_a_restore_to_a_time_brings_back_exactly_the_rows_written_before_it(
    encrypted: ArchivingCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    url = encrypted.cluster.url
    canary = back_up_a_canary(encrypted)
    check = encrypted.pgbackrest("check")
    assert check.returncode == 0, check.stdout + check.stderr

    # pgBackRest keeps a backup's stop time in whole seconds and restores to a time only from a
    # backup that stopped before it: the rows and the target come a second later.
    time.sleep(1.1)
    insert(url, "before-1", "before-2")
    target = server_now(url)
    insert(url, "after-1", "after-2")
    # Archives the segment holding the later rows too, as time would: the target is inside it.
    check = encrypted.pgbackrest("check")
    assert check.returncode == 0, check.stdout + check.stderr

    into = encrypted.empty_directory("restored")
    capsys.readouterr()
    assert encrypted.learnbot_backup("pitr-restore", "--to", target, "--into", str(into)) == 0
    assert "restored into" in capsys.readouterr().out
    with encrypted.restored_server(into) as restored:
        assert notes(restored.url) == [canary, "before-1", "before-2"]

    assert encrypted.settings.require_repository("the test").encrypted
    leaked = [content for content in repository_contents(encrypted.repository_path)]
    assert leaked, "the repository holds no files"
    assert not any(canary.encode() in content for content in leaked)


def test_a_flipped_byte_in_the_repository_fails_verify(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with archiving_cluster("verify", tmp_path / "bin", monkeypatch, passphrase=None) as plain:
        canary = back_up_a_canary(plain)
        assert plain.learnbot_backup("pitr-verify") == 0
        # Unencrypted, the row is there to read: what the encrypted test's search would find.
        assert any(canary.encode() in c for c in repository_contents(plain.repository_path))

        backed_up = plain.repository_path / "backup" / "verify"
        largest = max(
            (path for path in backed_up.rglob("pg_data/**/*") if path.is_file()),
            key=lambda path: path.stat().st_size,
        )
        content = bytearray(largest.read_bytes())
        content[len(content) // 2] ^= 0xFF
        largest.write_bytes(bytes(content))
        capsys.readouterr()

        assert plain.learnbot_backup("pitr-verify") == 1
        assert "pitr-verify: failed" in capsys.readouterr().err


def test_a_backup_without_a_reachable_server_fails_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with archiving_cluster("down", tmp_path / "bin", monkeypatch) as archiving:
        archiving.cluster.stop()
        started = time.monotonic()
        assert archiving.learnbot_backup("pitr-backup", "--type", "diff") == 1
        assert time.monotonic() - started < 60
        # The job logs to standard output.
        assert "physical diff backup failed" in capsys.readouterr().out


@pytest.mark.slow
def test_the_job_reports_the_newest_physical_backup_of_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with archiving_cluster("job", tmp_path / "bin", monkeypatch) as archiving:
        back_up_a_canary(archiving)
        taken = time.time()
        port = free_port()
        log = tmp_path / "job.log"
        env = backup_env(
            tmp_path / "dumps",
            archiving.cluster.url,
            BACKUP_SCHEDULE=FAR_AWAY,
            BACKUP_DRILL_SCHEDULE=FAR_AWAY,
            BACKUP_METRICS_PORT=str(port),
            PHYSICAL_BACKUP_FULL_SCHEDULE=FAR_AWAY,
            PHYSICAL_BACKUP_DIFF_SCHEDULE=FAR_AWAY,
            **archiving.env,
        )
        job = start_job(env, log)
        try:
            samples = wait_for_metrics(
                job, f"http://127.0.0.1:{port}/metrics", PHYSICAL_LAST_SUCCESS, log
            )
        finally:
            stop(job, log)

    assert samples[PHYSICAL_LAST_SUCCESS] == pytest.approx(taken, abs=60)
    assert samples["physical_backup_failures_total"] == 0
    assert "physical backups into" in log.read_text()
