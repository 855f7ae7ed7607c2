"""Peak memory: each worker's under load, and a backup run's as the database grows.

Peaks are the kernel's high-water mark of a process's resident set (`VmHWM` in
/proc/<pid>/status), so a short spike between two readings is not missed.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import psycopg

from bench.cpu import process_tree
from bench.services import LEARNBOT

_HWM = re.compile(r"^VmHWM:\s+(\d+) kB$", re.MULTILINE)
_SAMPLE_SECONDS = 0.01


def peak_mb(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = _HWM.search(status)
    return None if match is None else int(match.group(1)) / 1024


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
    except OSError:
        return ""


def _listening_sockets(port: int) -> set[str]:
    """The inodes of the TCP sockets listening on `port` (IPv4 and IPv6)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    return inodes


def _holds(pid: int, inodes: set[str]) -> bool:
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    return True
    return False


def worker_peaks(server_pid: int, port: int) -> list[float]:
    """The peak RSS of each of a server's workers, in MB: its descendants that hold the
    listening socket (not Sanic's manager process or multiprocessing's resource tracker)."""
    inodes = _listening_sockets(port)
    workers = [p for p in process_tree(server_pid) if p != server_pid and _holds(p, inodes)]
    return sorted(peak for pid in workers if (peak := peak_mb(pid)) is not None)


@dataclass(frozen=True, slots=True)
class BackupRun:
    users: int
    seconds: float
    dump_mb: float
    job_mb: float  # `learnbot backup run --once`, the Python process
    pg_dump_mb: float  # its pg_dump child

    def line(self) -> str:
        return (
            f"| {self.users:,} | {self.dump_mb:,.1f} | {self.seconds:.1f} "
            f"| {self.job_mb:.1f} | {self.pg_dump_mb:.1f} |"
        )


def fill_users(database_url: str, users: int) -> None:
    """`users` generated rows with profiles like Telegram's, and a linked account for one in
    ten (the schema is the service's own, made by `learnbot migrate`)."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(
            """
            INSERT INTO users (
                telegram_id, username, first_name, last_name, language_code, is_premium,
                photo_url, created_at, last_seen_at
            )
            SELECT 5000000000 + g, 'user_' || g, 'First ' || g, 'Last ' || g,
                   (ARRAY['en', 'de', 'es', 'ru', 'uk', 'pt-br', 'it'])[1 + g %% 7], g %% 5 = 0,
                   'https://t.me/i/userpic/320/' || md5(g::text) || '.jpg',
                   now() - g * interval '1 second', now()
            FROM generate_series(1, %s) AS g
            """,
            (users,),
        )
        connection.execute(
            """
            INSERT INTO linked_accounts (user_id, provider, external_id, display_name, linked_at)
            SELECT id, 'github', 'gh-' || id, 'Octocat ' || id, now()
            FROM users WHERE id % 10 = 0
            """
        )
        connection.execute("ANALYZE")


def backup_run(database_url: str, users: int, env: Mapping[str, str]) -> BackupRun:
    """One `learnbot backup run --once` of a database of `users` generated users."""
    subprocess.run(  # noqa: S603 - our own command
        [str(LEARNBOT), "migrate"],
        env={**env, "DATABASE_URL": database_url},
        check=True,
        capture_output=True,
    )
    fill_users(database_url, users)
    with tempfile.TemporaryDirectory(prefix="learnbot-bench-backup-") as directory:
        job_env = {
            **env,
            "DATABASE_URL": database_url,
            "BACKUP_DIR": directory,
            "PROMETHEUS_MULTIPROC_DIR": directory + "/metrics",
            "LOG_LEVEL": "WARNING",
        }
        os.mkdir(job_env["PROMETHEUS_MULTIPROC_DIR"])
        started = time.monotonic()
        process = subprocess.Popen(  # noqa: S603 - our own command
            [str(LEARNBOT), "backup", "run", "--once"],
            env=job_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        job_mb = pg_dump_mb = 0.0
        while process.poll() is None:
            for pid in process_tree(process.pid):
                peak = peak_mb(pid) or 0.0
                if pid == process.pid:
                    job_mb = max(job_mb, peak)
                elif os.path.basename(_command(pid)) == "pg_dump":
                    pg_dump_mb = max(pg_dump_mb, peak)
            time.sleep(_SAMPLE_SECONDS)
        seconds = time.monotonic() - started
        output = process.stdout.read().decode(errors="replace") if process.stdout else ""
        if process.returncode != 0:
            raise RuntimeError(f"learnbot backup run failed ({process.returncode}):\n{output}")
        dumps = list(Path(directory).glob("*.dump"))
        dump_mb = sum(dump.stat().st_size for dump in dumps) / 2**20
    return BackupRun(users, seconds, dump_mb, job_mb, pg_dump_mb)


def backup_table(runs: list[BackupRun]) -> str:
    lines = [
        "| users | dump MB | seconds | peak RSS MB: `backup run` | peak RSS MB: pg_dump |",
        "|---:|---:|---:|---:|---:|",
        *(run.line() for run in runs),
    ]
    return "\n".join(lines)
