from __future__ import annotations

import socket
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from backup_process import (
    ENTRY,
    FAR_AWAY,
    backup_env,
    free_port,
    learnbot_backup,
    scrape,
    start_job,
    stop,
    wait_for_metrics,
)
from learnbot.backup import schedule
from learnbot.backup.catalog import Backup, checksum_line, list_backups
from learnbot.backup.manifest import DrillRecord
from learnbot.backup.schedule import first_runs, missed_run, next_run
from learnbot.backup.settings import BackupSettings

METRICS = (
    "backup_last_success_timestamp_seconds",
    "backup_last_attempt_timestamp_seconds",
    "backup_last_duration_seconds",
    "backup_last_size_bytes",
    "backup_failures_total",
    "backup_last_verified_timestamp_seconds",
    "backup_kept_count",
)


def utc(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_the_default_schedules_run_nightly_and_on_sundays() -> None:
    wednesday_evening = utc(2025, 1, 1, 20, 0)

    assert next_run("0 3 * * *", wednesday_evening) == utc(2025, 1, 2, 3, 0)
    assert next_run("0 3 * * *", utc(2025, 1, 2, 3, 0)) == utc(2025, 1, 3, 3, 0)
    assert next_run("0 4 * * 0", wednesday_evening) == utc(2025, 1, 5, 4, 0)
    assert next_run("0 3 * * *", utc(2025, 12, 31, 3, 0, 1)) == utc(2026, 1, 1, 3, 0)


def test_a_run_is_missed_when_its_time_passed_with_nothing_done_since() -> None:
    now = utc(2025, 1, 2, 9, 0)

    assert missed_run("0 3 * * *", None, now)
    assert missed_run("0 3 * * *", utc(2025, 1, 1, 3, 0), now)
    assert not missed_run("0 3 * * *", utc(2025, 1, 2, 3, 0, 5), now)
    assert not missed_run("0 4 * * 0", utc(2024, 12, 29, 4, 1), now)


def fake_backup(directory: Path, taken_at: datetime, drilled_at: datetime | None = None) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    backup = Backup.new(directory, taken_at)
    backup.path.write_bytes(b"PGDMP")
    backup.checksum_path.write_text(checksum_line("0" * 64, backup.name))
    if drilled_at is not None:
        backup.drill_path.write_text(DrillRecord(drilled_at, passed=True).to_json())


def test_on_start_the_job_catches_up_only_what_it_missed(tmp_path: Path) -> None:
    settings = BackupSettings(backup_dir=tmp_path)
    now = datetime.now(UTC)

    assert first_runs(settings, now) == (now, now)

    fake_backup(tmp_path, now - timedelta(minutes=1), drilled_at=now - timedelta(seconds=30))
    backup_at, drill_at = first_runs(settings, now)
    assert backup_at == next_run("0 3 * * *", now) > now
    assert drill_at == next_run("0 4 * * 0", now) > now


@pytest.mark.slow
def test_the_job_serves_metrics_catches_up_and_stops_on_sigterm(
    seeded_url: str, backup_dir: Path, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    env = backup_env(
        backup_dir,
        seeded_url,
        BACKUP_SCHEDULE=FAR_AWAY,
        BACKUP_DRILL_SCHEDULE=FAR_AWAY,
        BACKUP_METRICS_PORT=str(port),
    )

    first_log = tmp_path / "first.log"
    job = start_job(env, first_log)
    try:
        # BACKUP_DIR is empty, so this year's run was missed: the job backs up and drills at once.
        samples = wait_for_metrics(job, url, "backup_last_verified_timestamp_seconds", first_log)
    finally:
        stop(job, first_log)
    assert set(METRICS) <= samples.keys()
    # Without PHYSICAL_BACKUP_REPOSITORY, nothing for the physical backups' alerts to read.
    assert not [name for name in samples if name.startswith("physical_backup_")]
    [backup] = list_backups(backup_dir)
    assert samples["backup_kept_count"] == 1
    assert samples["backup_failures_total"] == 0
    assert samples["backup_last_size_bytes"] == backup.size()
    assert (
        samples["backup_last_success_timestamp_seconds"]
        > samples["backup_last_attempt_timestamp_seconds"]
    )

    # A restart reads the state back from BACKUP_DIR and has nothing to catch up.
    metrics_dir = tmp_path / "multiproc"
    metrics_dir.mkdir()
    second_log = tmp_path / "second.log"
    job = start_job(env | {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}, second_log)
    try:
        restarted = wait_for_metrics(job, url, "backup_last_success_timestamp_seconds", second_log)
        time.sleep(0.5)
    finally:
        stop(job, second_log)
    for name in METRICS:
        if name != "backup_last_attempt_timestamp_seconds":
            assert restarted[name] == pytest.approx(samples[name]), name
    assert list_backups(backup_dir) == [backup]
    assert "backup learnbot-" not in second_log.read_text()


def test_the_job_does_not_start_without_a_database_url(backup_dir: Path) -> None:
    result = subprocess.run(
        [*ENTRY, "backup", "run"],
        env=backup_env(backup_dir),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 2
    assert "DATABASE_URL: a postgresql:// URL; 'backup run' needs it" in result.stderr


def test_the_job_reports_a_metrics_port_in_use(backup_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*ENTRY, "backup", "run"],
            env=backup_env(
                backup_dir, "postgresql://postgres@127.0.0.1:1/x", BACKUP_METRICS_PORT=str(port)
            ),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    assert result.returncode == 1
    assert "cannot serve metrics" in result.stderr


@pytest.mark.slow
def test_sigterm_during_a_backup_stops_it_and_leaves_no_file(
    seeded_url: str, backup_dir: Path, tmp_path: Path
) -> None:
    with psycopg.connect(seeded_url, autocommit=True) as connection:
        # Enough data that pg_dump is still writing when the signal comes.
        connection.execute(
            "INSERT INTO users (telegram_id, first_name, created_at, last_seen_at) "
            "SELECT 2000000 + n, md5(n::text) || repeat('y', 300), now(), now() "
            "FROM generate_series(1, 200000) n"
        )
    env = backup_env(
        backup_dir,
        seeded_url,
        BACKUP_SCHEDULE=FAR_AWAY,
        BACKUP_DRILL_SCHEDULE=FAR_AWAY,
        BACKUP_METRICS_PORT=str(free_port()),
    )
    log = tmp_path / "job.log"
    job = start_job(env, log)
    try:
        deadline = time.monotonic() + 30
        while not any(backup_dir.glob(".*.partial")):
            assert time.monotonic() < deadline, log.read_text()
            assert job.poll() is None, log.read_text()
            time.sleep(0.02)
    finally:
        stop(job, log)

    assert "backup interrupted" in log.read_text()
    assert list(backup_dir.iterdir()) == []


@pytest.mark.slow
def test_metrics_of_runs_started_elsewhere_outlive_the_runs(
    seeded_url: str, backup_dir: Path, tmp_path: Path
) -> None:
    """As on Kubernetes: CronJobs run `backup run --once` and the drill, and `backup metrics`
    serves what they wrote into the shared PROMETHEUS_MULTIPROC_DIR."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    metrics_dir = tmp_path / "shared-metrics"
    env = backup_env(
        backup_dir,
        seeded_url,
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        BACKUP_METRICS_PORT=str(port),
    )
    # Each run is a new process with the same name, as pods whose pids are all 1.
    runs = env | {"BACKUP_METRICS_WRITER": "backup-run"}
    unreachable = runs | {"DATABASE_URL": "postgresql://learnbot@127.0.0.1:1/learnbot"}
    assert learnbot_backup("run", "--once", env=unreachable).returncode == 1
    assert learnbot_backup("run", "--once", env=runs).returncode == 0
    assert learnbot_backup("run", "--once", env=unreachable).returncode == 1
    [backup] = list_backups(backup_dir)
    assert {path.name for path in metrics_dir.glob("*backup-run.db")} == {
        "counter_backup-run.db",
        "gauge_mostrecent_backup-run.db",
    }

    log = tmp_path / "metrics.log"
    server = start_job(env | {"BACKUP_METRICS_WRITER": "metrics-server"}, log, "metrics")
    try:
        samples = wait_for_metrics(server, url, "backup_last_success_timestamp_seconds", log)
        assert samples["backup_kept_count"] == 1
        # Failures of separate processes add up in the one file they share.
        assert samples["backup_failures_total"] == 2
        assert samples["backup_last_size_bytes"] == backup.size()
        assert samples["backup_last_verified_timestamp_seconds"] == 0
        # The failed run came last: the alert on failures sees an attempt after the success.
        assert (
            samples["backup_last_attempt_timestamp_seconds"]
            > samples["backup_last_success_timestamp_seconds"]
        )

        drill = learnbot_backup(
            "verify", "--restore-drill", env=env | {"BACKUP_METRICS_WRITER": "restore-drill"}
        )
        assert drill.returncode == 0, drill.stderr
        verified = scrape(url)["backup_last_verified_timestamp_seconds"]
    finally:
        stop(server, log, "backup metrics stopped")
    record = backup.drill()
    assert record is not None
    assert record.passed
    assert verified == pytest.approx(record.drilled_at.timestamp())


def test_a_metrics_writer_name_must_be_a_plain_name(backup_dir: Path, tmp_path: Path) -> None:
    result = learnbot_backup(
        "list",
        env=backup_env(
            backup_dir,
            PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
            BACKUP_METRICS_WRITER="../escape",
        ),
    )

    assert result.returncode == 2
    assert "BACKUP_METRICS_WRITER: 1 to 63 lower-case letters" in result.stderr
    assert not list((tmp_path / "metrics").glob("*escape*"))


def test_metrics_of_runs_started_elsewhere_need_a_shared_folder(backup_dir: Path) -> None:
    result = learnbot_backup(
        "metrics", env=backup_env(backup_dir, BACKUP_METRICS_PORT=str(free_port()))
    )

    assert result.returncode == 2
    assert "PROMETHEUS_MULTIPROC_DIR: a folder shared with the `backup run --once` runs" in (
        result.stderr
    )


def test_physical_backups_run_full_and_differential_on_their_own_schedules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken: list[str] = []

    def take(repository: object, kind: str) -> bool:
        taken.append(kind)
        return True

    monkeypatch.setattr(schedule, "observe_repository", lambda repository: None)
    monkeypatch.setattr(schedule, "physical_backup_once", take)
    start = utc(2026, 12, 5, 12, 0)  # a Saturday
    monkeypatch.setattr(schedule, "_now", lambda: start)
    settings = BackupSettings.from_env(
        {
            "PHYSICAL_BACKUP_REPOSITORY": str(tmp_path / "repository"),
            "PHYSICAL_BACKUP_FULL_SCHEDULE": "0 1 * * 0",
            "PHYSICAL_BACKUP_DIFF_SCHEDULE": "0 1 * * 1-6",
        }
    )
    physical = schedule.PhysicalSchedule(settings)
    assert physical.next_at == utc(2026, 12, 6, 1, 0)
    assert not physical.run_due(utc(2026, 12, 6, 0, 59))

    sunday = utc(2026, 12, 6, 1, 0)
    monkeypatch.setattr(schedule, "_now", lambda: sunday)
    assert physical.run_due(sunday)
    assert not physical.run_due(sunday)
    monday = utc(2026, 12, 7, 1, 0)
    assert physical.next_at == monday
    monkeypatch.setattr(schedule, "_now", lambda: monday)
    assert physical.run_due(monday)
    assert taken == ["full", "diff"]


def test_without_a_repository_no_physical_backup_is_ever_due() -> None:
    physical = schedule.PhysicalSchedule(BackupSettings.from_env({}))

    assert not physical.run_due(utc(2030, 1, 1, 0, 0))
    assert physical.next_at.year == 9999
