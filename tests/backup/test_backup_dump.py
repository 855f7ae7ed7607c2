from __future__ import annotations

import secrets
import threading
import time
from pathlib import Path

import psycopg
import pytest
from prometheus_client import CollectorRegistry, multiprocess
from psycopg import sql

from backup_process import (
    backup_env,
    backup_in_process,
    create_database,
    database_url_named,
    drop_database,
    free_port,
    learnbot_backup,
    table_rows,
)
from learnbot.backup.catalog import list_backups
from learnbot.observability.metrics import exposition_registry
from learnbot.storage.migrations import discover


def failures() -> float:
    return exposition_registry().get_sample_value("backup_failures_total") or 0.0


def test_a_backup_is_a_checked_dump_with_its_sidecars(backup_settings_env: Path) -> None:
    assert backup_in_process("run", "--once") == 0

    [backup] = list_backups(backup_settings_env)
    names = sorted(path.name for path in backup_settings_env.iterdir())
    assert names == [
        backup.name,
        f"{backup.name}.manifest.json",
        f"{backup.name}.sha256",
    ]
    manifest = backup.manifest()
    assert manifest is not None
    assert manifest.size_bytes == backup.size()
    assert backup.checksum_path.read_text() == f"{manifest.sha256}  {backup.name}\n"
    rows = {name: table.rows for name, table in manifest.tables.items()}
    assert rows["public.users"] == 5
    assert rows["public.linked_accounts"] == 5
    assert rows["public.schema_migrations"] == len(discover("postgresql"))
    assert manifest.started_at == backup.taken_at < manifest.finished_at
    registry = exposition_registry()
    assert registry.get_sample_value("backup_last_size_bytes") == backup.size()
    assert registry.get_sample_value("backup_kept_count") == 1


def test_run_once_with_the_database_down_exits_non_zero_and_keeps_nothing(
    tmp_path: Path, backup_dir: Path
) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    url = f"postgresql://learnbot:hunter2-secret@127.0.0.1:{free_port()}/learnbot"

    result = learnbot_backup(
        "run",
        "--once",
        env=backup_env(backup_dir, url, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)),
    )

    assert result.returncode == 1, result.stdout + result.stderr
    assert "backup failed" in result.stdout
    assert "hunter2" not in result.stdout + result.stderr
    assert url not in result.stdout + result.stderr
    assert list(backup_dir.iterdir()) == []
    # The process is gone; what it counted stays in the multiprocess files Prometheus reads.
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(metrics_dir))  # type: ignore[no-untyped-call]
    assert registry.get_sample_value("backup_failures_total") == 1.0
    assert (
        registry.get_sample_value("backup_last_attempt_timestamp_seconds") or 0
    ) > time.time() - 60
    assert registry.get_sample_value("backup_last_success_timestamp_seconds") == 0


def test_a_failed_run_counts_a_failure_in_the_registry(
    monkeypatch: pytest.MonkeyPatch, backup_dir: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://postgres@127.0.0.1:{free_port()}/learnbot")
    monkeypatch.setenv("BACKUP_DIR", str(backup_dir))
    before = failures()

    assert backup_in_process("run", "--once") == 1

    assert failures() == before + 1
    assert list(backup_dir.iterdir()) == []


def test_a_dump_that_fails_halfway_leaves_no_partial_file(
    monkeypatch: pytest.MonkeyPatch, backup_dir: Path, seeded_url: str
) -> None:
    # pg_dump creates its output file, then fails on the first table it may not read.
    role = f"learnbot_backup_{secrets.token_hex(4)}"
    with psycopg.connect(seeded_url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    try:
        monkeypatch.setenv("DATABASE_URL", seeded_url.replace("//postgres@", f"//{role}@"))
        monkeypatch.setenv("BACKUP_DIR", str(backup_dir))
        before = failures()

        assert backup_in_process("run", "--once") == 1

        assert failures() == before + 1
        assert list(backup_dir.iterdir()) == []
    finally:
        with psycopg.connect(seeded_url, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            connection.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def write_continuously(url: str, stop: threading.Event, written: list[int]) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        n = 0
        while not stop.is_set():
            n += 1
            with connection.transaction():
                user_id = connection.execute(
                    "INSERT INTO users (telegram_id, first_name, created_at, last_seen_at) "
                    "VALUES (%s, 'Writer', now(), now()) RETURNING id",
                    (5_000_000 + n,),
                ).fetchone()
                assert user_id is not None
                connection.execute(
                    "INSERT INTO linked_accounts (user_id, provider, external_id, linked_at) "
                    "VALUES (%s, 'github', %s, now())",
                    (user_id[0], f"writer-{n}"),
                )
            written.append(n)


@pytest.mark.slow
def test_a_backup_taken_during_writes_restores_to_its_snapshot(
    backup_settings_env: Path, seeded_url: str, postgres_server_url: str
) -> None:
    with psycopg.connect(seeded_url, autocommit=True) as connection:
        # Enough rows that the dump takes a while, so the writer's commits land during it.
        connection.execute(
            "INSERT INTO users (telegram_id, first_name, created_at, last_seen_at) "
            "SELECT 2000000 + n, repeat('x', 200), now(), now() FROM generate_series(1, 50000) n"
        )
    stop, written = threading.Event(), list[int]()
    writer = threading.Thread(target=write_continuously, args=(seeded_url, stop, written))
    writer.start()
    try:
        while len(written) < 20:
            time.sleep(0.01)
        before = len(written)
        assert backup_in_process("run", "--once") == 0
        during = len(written)
        while len(written) < during + 20:
            time.sleep(0.01)
    finally:
        stop.set()
        writer.join()

    [backup] = list_backups(backup_settings_env)
    manifest = backup.manifest()
    assert manifest is not None
    users, links = (
        manifest.tables["public.users"].rows,
        manifest.tables["public.linked_accounts"].rows,
    )
    # The snapshot holds every write before the run and none after it: the writer went on.
    assert 5 + 50_000 + before <= users < 5 + 50_000 + during
    assert links - 5 == users - 5 - 50_000
    assert backup_in_process("verify", "--restore-drill") == 0
    assert backup.verified()

    name = f"learnbot_test_restored_{secrets.token_hex(4)}"
    target = create_database(postgres_server_url, name)
    try:
        assert backup_in_process("restore", str(backup.path), "--target", target) == 0
        restored = table_rows(target)
        assert {table: len(rows) for table, rows in restored.items()} == {
            table.removeprefix("public."): content.rows
            for table, content in manifest.tables.items()
        }
    finally:
        drop_database(postgres_server_url, name)
    assert database_url_named(postgres_server_url, name) == target


def test_a_run_removes_what_a_killed_run_left(backup_settings_env: Path) -> None:
    backup_settings_env.mkdir()
    partial = backup_settings_env / ".learnbot-20250101T030000.000000Z.dump.partial"
    orphan = backup_settings_env / "learnbot-20250101T030000.000000Z.dump.sha256"
    unrelated = backup_settings_env / "notes.txt"
    for path in (partial, orphan, unrelated):
        path.write_text("left behind")

    assert backup_in_process("run", "--once") == 0

    assert not partial.exists()
    assert not orphan.exists()
    assert unrelated.exists()
    assert len(list_backups(backup_settings_env)) == 1
