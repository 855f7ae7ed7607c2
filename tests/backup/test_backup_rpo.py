"""The recovery point objective of WAL archiving, measured: the seconds of acknowledged writes
lost when the primary's disk dies, restoring from the pgBackRest repository alone."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest

from wal_archiving import archiving_cluster

ARCHIVE_TIMEOUT_SECONDS = 10
# Writes go on for at least this long (a forced switch archived meanwhile), then the primary
# is killed in the worst moment: just before the next forced switch would be archived.
WRITING_SECONDS = 12
LAST_WRITING_SECONDS = 40
ARCHIVE_AGE = (
    "SELECT extract(epoch FROM clock_timestamp() - last_archived_time) FROM pg_stat_archiver"
)


def archive_age(connection: psycopg.Connection[tuple[object, ...]]) -> float:
    row = connection.execute(ARCHIVE_AGE).fetchone()
    return float(str(row[0])) if row and row[0] is not None else 0.0


@pytest.mark.slow
def test_a_primary_lost_after_a_write_loses_at_most_the_archive_timeout_of_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with archiving_cluster(
        "rpo", tmp_path / "bin", monkeypatch, archive_timeout=f"{ARCHIVE_TIMEOUT_SECONDS}s"
    ) as archiving:
        url = archiving.cluster.url
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("CREATE TABLE events (id integer PRIMARY KEY)")
        assert archiving.learnbot_backup("pitr-backup", "--type", "full") == 0

        acknowledged: dict[int, float] = {}
        with psycopg.connect(url, autocommit=True) as connection:
            started = time.monotonic()
            while time.monotonic() < started + LAST_WRITING_SECONDS:
                written = len(acknowledged) + 1
                connection.execute("INSERT INTO events (id) VALUES (%s)", (written,))
                acknowledged[written] = time.monotonic()
                if time.monotonic() > started + WRITING_SECONDS and archive_age(connection) >= (
                    ARCHIVE_TIMEOUT_SECONDS - 0.5
                ):
                    break
                time.sleep(0.05)
            # The disk dies right after the last acknowledged write.
            archiving.cluster.stop()
        server_log = archiving.cluster.log_text()

        into = archiving.empty_directory("restored")
        assert archiving.learnbot_backup("pitr-restore", "--to", "latest", "--into", str(into)) == 0
        with (
            archiving.restored_server(into) as restored,
            psycopg.connect(restored.url) as connection,
        ):
            row = connection.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()

    assert row is not None
    last_restored = row[0]
    last_written = max(acknowledged)
    lost_seconds = acknowledged[last_written] - acknowledged.get(last_restored, 0.0)
    if last_restored == 0:
        lost_seconds = acknowledged[last_written] - acknowledged[1]
    print(
        f"RPO with archive_timeout={ARCHIVE_TIMEOUT_SECONDS}s: {last_written - last_restored} of "
        f"{last_written} acknowledged writes lost, the last {lost_seconds:.1f} s of them"
    )
    pushes = [line for line in server_log.splitlines() if "archive-push command end" in line]
    assert lost_seconds <= ARCHIVE_TIMEOUT_SECONDS + 10, "\n".join(pushes)
