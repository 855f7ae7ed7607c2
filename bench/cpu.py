"""CPU time that the processes of a run spent, read from /proc: figures per request that still
mean something when other work shares the machine and requests/s do not."""

from __future__ import annotations

import contextlib
import os
import resource
import time
from collections.abc import Iterable
from dataclasses import dataclass

import psycopg

_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """The parent pid and the user + system CPU seconds of one process."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS


def processes(pids: Iterable[int]) -> dict[int, float]:
    seconds = {}
    for pid in pids:
        stat = _stat(pid)
        if stat is not None:
            seconds[pid] = stat[1]
    return seconds


def process_tree(root: int) -> dict[int, float]:
    """CPU seconds of a process and of all its descendants (a server and its workers)."""
    stats = {}
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if entry.isdigit() and (stat := _stat(int(entry))) is not None:
                stats[int(entry)] = stat
    tree = {root}
    grew = True
    while grew:
        grew = False
        for pid, (parent, _) in stats.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return {pid: stats[pid][1] for pid in tree if pid in stats}


def postgres_backends(database_url: str) -> dict[int, float]:
    """CPU seconds of the server processes serving one database (the pool's connections)."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return processes(row[0] for row in rows)


def machine_busy() -> tuple[float, float]:
    """CPU seconds all cores spent busy (steal included: taken by other guests), and elapsed."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / _TICKS, time.monotonic()


def others_share(
    before: tuple[float, float], after: tuple[float, float], ours_seconds: float
) -> float:
    """Share of all cores that processes outside the run kept busy meanwhile."""
    busy = after[0] - before[0]
    elapsed = after[1] - before[1]
    cores = os.cpu_count() or 1
    return max(0.0, busy - ours_seconds) / (elapsed * cores) if elapsed > 0 else 0.0


def children_seconds() -> float:
    """Reaped children's CPU: wrk's, once its run returns."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def own_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def spent(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


@dataclass(frozen=True, slots=True)
class CpuPerRequest:
    app_ms: float  # the server's processes (SQLite runs inside them)
    database_ms: float | None  # PostgreSQL's backends for the run's database; None on SQLite
    client_ms: float  # wrk, or this process for the paced client
    others: float  # share of the machine that other work took during the run

    def ceiling(self, cores: int) -> float:
        """Requests/s if server, database and load generator had the cores to themselves."""
        total = self.app_ms + (self.database_ms or 0.0) + self.client_ms
        return cores * 1000 / total if total > 0 else 0.0

    def __str__(self) -> str:
        database = "-" if self.database_ms is None else f"{self.database_ms:.2f}"
        return f"{self.app_ms:.2f} / {database} / {self.client_ms:.2f}"
