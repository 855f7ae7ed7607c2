"""The one table of a run, its figures set against the bare Sanic reference, and the targets."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.cpu import CpuPerRequest
from bench.measurement import Measurement
from bench.memory import BackupRun, backup_table

REFERENCE = "bare Sanic"
SQLITE = "SQLite"
POSTGRESQL = "PostgreSQL"
POSTGRESQL_INFO = "PostgreSQL, LOG_LEVEL=INFO"
LEAN = "lean sign-in, PostgreSQL"
# The same handler on learnbot's driver: the like-for-like floor, reported without a target.
LEAN_ASYNCPG = "lean sign-in on asyncpg, PostgreSQL"


@dataclass(frozen=True, slots=True)
class Row:
    server: str
    request: str  # "GET /health", "POST /auth/telegram (new)", ...
    load: str  # "max, wrk -t2 -c32" or "1000 req/s, paced"
    measured: Measurement
    cpu: CpuPerRequest
    note: str = ""

    @property
    def paced(self) -> bool:
        return self.measured.generator == "paced"


@dataclass(frozen=True, slots=True)
class Reference:
    per_second: float
    p50_ms: float
    p99_ms: float
    cpu_ms: float  # server and load generator CPU per request

    @classmethod
    def of(cls, rows: Sequence[Row]) -> Reference:
        return cls(
            statistics.fmean(r.measured.per_second for r in rows),
            statistics.fmean(r.measured.p50_ms for r in rows),
            statistics.fmean(r.measured.p99_ms for r in rows),
            statistics.fmean(r.cpu.app_ms + r.cpu.client_ms for r in rows),
        )


def _ratio(value: float, reference: float) -> str:
    if not reference or math.isnan(value) or math.isnan(reference):
        return "-"
    return f"{value / reference:.2f}"


def table(rows: Sequence[Row]) -> str:
    reference = Reference.of([r for r in rows if r.server == REFERENCE])
    lines = [
        "| Server | Request | Load | req/s | p50 ms | p99 ms | errors "
        "| req/s ÷ ref | p50 ÷ ref | p99 ÷ ref | CPU ms/req: app / db / load "
        "| other work | Notes |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        m = row.measured
        # Latencies at a fixed rate are not comparable with latencies at saturation.
        p50_ratio = "-" if row.paced else _ratio(m.p50_ms, reference.p50_ms)
        p99_ratio = "-" if row.paced else _ratio(m.p99_ms, reference.p99_ms)
        rate_ratio = "-" if row.paced else _ratio(m.per_second, reference.per_second)
        lines.append(
            f"| {row.server} | {row.request} | {row.load} | {m.per_second:,.0f} "
            f"| {m.p50_ms:.1f} | {m.p99_ms:.1f} | {m.errors} "
            f"| {rate_ratio} | {p50_ratio} | {p99_ratio} | {row.cpu} | {row.cpu.others:.0%} "
            f"| {row.note} |"
        )
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    server: str
    request: Callable[[str], bool]
    paced: bool
    check: Callable[[Measurement, Reference], tuple[bool, str]]
    relative: bool = False  # against the reference rather than an absolute figure


def _at_least_share(share: float) -> Callable[[Measurement, Reference], tuple[bool, str]]:
    def check(m: Measurement, reference: Reference) -> tuple[bool, str]:
        achieved = m.per_second / reference.per_second if reference.per_second else 0.0
        return achieved >= share, f"{achieved:.0%} of {reference.per_second:,.0f} req/s"

    return check


def _at_least(per_second: float) -> Callable[[Measurement, Reference], tuple[bool, str]]:
    def check(m: Measurement, reference: Reference) -> tuple[bool, str]:
        return m.per_second >= per_second, f"{m.per_second:,.0f} req/s"

    return check


def _p99_below(ms: float) -> Callable[[Measurement, Reference], tuple[bool, str]]:
    def check(m: Measurement, reference: Reference) -> tuple[bool, str]:
        return m.p99_ms < ms, f"p99 {m.p99_ms:.1f} ms at {m.per_second:,.0f} req/s"

    return check


TARGETS = (
    Target(
        "GET /health at >= 80% of bare Sanic (SQLite)",
        SQLITE,
        lambda request: request == "GET /health",
        False,
        _at_least_share(0.8),
        relative=True,
    ),
    Target(
        "GET /health at >= 80% of bare Sanic (PostgreSQL)",
        POSTGRESQL,
        lambda request: request == "GET /health",
        False,
        _at_least_share(0.8),
        relative=True,
    ),
    Target(
        "POST /auth/telegram on PostgreSQL >= 2,500 req/s",
        POSTGRESQL,
        lambda request: request.startswith("POST /auth/telegram"),
        False,
        _at_least(2500),
    ),
    Target(
        "POST /auth/telegram on PostgreSQL: p99 < 50 ms at 1,000 req/s",
        POSTGRESQL,
        lambda request: request.startswith("POST /auth/telegram"),
        True,
        _p99_below(50),
    ),
    Target(
        "GET /me on PostgreSQL >= 3,000 req/s",
        POSTGRESQL,
        lambda request: request == "GET /me",
        False,
        _at_least(3000),
    ),
)


def verdicts(rows: Sequence[Row], cores: int) -> str:
    reference = Reference.of([r for r in rows if r.server == REFERENCE])
    lines = []
    for target in TARGETS:
        matching = [
            r
            for r in rows
            if r.server == target.server and target.request(r.request) and r.paced == target.paced
        ]
        if not matching:
            lines.append(f"- {target.name}: NOT MEASURED")
            continue
        for row in matching:
            met, figure = target.check(row.measured, reference)
            errors = row.measured.errors
            verdict = "met" if met and not errors else "NOT met"
            why = f", {errors} errors" if errors else ""
            if row.paced:
                bound = ""
            elif target.relative:
                own = row.cpu.app_ms + row.cpu.client_ms
                bound = f"; by CPU per request, {reference.cpu_ms / own:.0%} of the reference"
            else:
                bound = f"; CPU-bound on {cores} idle cores: ~{row.cpu.ceiling(cores):,.0f} req/s"
            lines.append(f"- {target.name} [{row.request}]: {verdict} ({figure}{why}{bound})")
    return "\n".join(lines)


# Sign-in rows against each other, in the same run: (name, numerator, denominator, share).
ROW_RATIOS = (
    (
        "returning sign-ins >= 1.3x new-user sign-ins",
        "POST /auth/telegram (returning)",
        "POST /auth/telegram (new)",
        1.3,
    ),
    (
        "one Telegram id on every connection >= 0.9x distinct returning users",
        "POST /auth/telegram (one user)",
        "POST /auth/telegram (returning)",
        0.9,
    ),
)


def row_ratios(rows: Sequence[Row]) -> str:
    """The targets that set one saturating row against another of the same server."""
    lines = []
    for server in (SQLITE, POSTGRESQL):
        saturating = {r.request: r for r in rows if r.server == server and not r.paced}
        for name, numerator, denominator, share in ROW_RATIOS:
            top, bottom = saturating.get(numerator), saturating.get(denominator)
            if top is None or bottom is None or not bottom.measured.per_second:
                lines.append(f"- {name} ({server}): NOT MEASURED")
                continue
            ratio = top.measured.per_second / bottom.measured.per_second
            verdict = "met" if ratio >= share else "NOT met"
            lines.append(
                f"- {name} ({server}): {verdict} ({ratio:.2f}x: "
                f"{top.measured.per_second:,.0f} against {bottom.measured.per_second:,.0f} req/s)"
            )
    return "\n".join(lines)


# learnbot's sign-in rows on PostgreSQL against the lean handler's same rows: (request, share).
FLOOR_TARGETS = (
    ("POST /auth/telegram (new)", None),
    ("POST /auth/telegram (returning)", 0.8),
    ("POST /auth/telegram (one user)", 0.8),
)


def floor_ratios(rows: Sequence[Row]) -> str:
    """Each sign-in row against the lean sign-in handlers' same rows, by req/s and by CPU per
    request; the targets are against the psycopg one."""
    learnbot = {r.request: r for r in rows if r.server == POSTGRESQL and not r.paced}
    lines = []
    for lean_server, label, with_targets in (
        (LEAN, "the lean sign-in handler", True),
        (LEAN_ASYNCPG, "the lean sign-in handler on asyncpg", False),
    ):
        lean = {r.request: r for r in rows if r.server == lean_server}
        for request, share in FLOOR_TARGETS:
            ours, floor = learnbot.get(request), lean.get(request)
            target = share if with_targets else None
            name = f"{request} on PostgreSQL against {label}"
            if target is not None:
                name += f" >= {target}x"
            if ours is None or floor is None or not floor.measured.per_second:
                lines.append(f"- {name}: NOT MEASURED")
                continue
            ratio = ours.measured.per_second / floor.measured.per_second
            own = ours.cpu.app_ms + (ours.cpu.database_ms or 0.0)
            lean_cpu = floor.cpu.app_ms + (floor.cpu.database_ms or 0.0)
            verdict = "" if target is None else ("met " if ratio >= target else "NOT met ")
            lines.append(
                f"- {name}: {verdict}({ratio:.2f}x: {ours.measured.per_second:,.0f} against "
                f"{floor.measured.per_second:,.0f} req/s; by server + database CPU per request, "
                f"{lean_cpu / own:.2f}x: {own:.2f} against {lean_cpu:.2f} ms)"
            )
    return "\n".join(lines)


WORKER_RSS_LIMIT_MB = 150.0
BACKUP_FLAT_SHARE = 0.2


def memory_report(workers: Sequence[tuple[str, list[float]]], backups: Sequence[BackupRun]) -> str:
    """Each server's workers' peak RSS after their rows, and a backup's peak as data grows."""
    lines = ["Memory (peak RSS, the kernel's VmHWM):"]
    for server, peaks in workers:
        figures = ", ".join(f"{peak:.1f}" for peak in peaks) or "no worker found"
        met = bool(peaks) and max(peaks) < WORKER_RSS_LIMIT_MB
        verdict = "" if server in (LEAN, LEAN_ASYNCPG) else (" met" if met else " NOT met")
        lines.append(
            f"- workers of {server} after its rows: {figures} MB "
            f"(target < {WORKER_RSS_LIMIT_MB:.0f} MB:{verdict or ' -'})"
        )
    if backups:
        lines += ["", backup_table(list(backups)), ""]
        smallest, largest = backups[0], backups[-1]
        growth = largest.job_mb / smallest.job_mb - 1 if smallest.job_mb else math.inf
        verdict = "met" if growth <= BACKUP_FLAT_SHARE else "NOT met"
        lines.append(
            f"- `backup run` peak RSS flat within {BACKUP_FLAT_SHARE:.0%} from "
            f"{smallest.users:,} to {largest.users:,} users: {verdict} ({growth:+.1%}: "
            f"{smallest.job_mb:.1f} to {largest.job_mb:.1f} MB, dump "
            f"{smallest.dump_mb:,.1f} to {largest.dump_mb:,.1f} MB)"
        )
    return "\n".join(lines)


def stability(rows: Sequence[Row]) -> str:
    """A warning when the two reference runs disagree: other work shared the machine."""
    rates = [r.measured.per_second for r in rows if r.server == REFERENCE]
    if len(rates) < 2 or min(rates) <= 0:
        return ""
    spread = max(rates) / min(rates) - 1
    busiest = max(r.cpu.others for r in rows)
    if spread <= 0.15 and busiest <= 0.1:
        return ""
    return (
        f"Other work shared the machine: the bare Sanic runs differ by {spread:.0%} and other "
        f"processes took up to {busiest:.0%} of the cores during a run. Requests/s and their "
        "ratios move with that; CPU per request hardly does, so the CPU-bound figures below are "
        "the steadier ones."
    )


def logging_cost(rows: Sequence[Row]) -> str:
    """LOG_LEVEL=INFO against WARNING, the same requests on the same database."""
    lines = []
    for info in (r for r in rows if r.server == POSTGRESQL_INFO):
        warning = next(
            (
                r
                for r in rows
                if r.server == POSTGRESQL and r.request == info.request and not r.paced
            ),
            None,
        )
        if warning is None:
            continue
        extra_ms = info.cpu.app_ms - warning.cpu.app_ms
        change = info.measured.per_second / warning.measured.per_second - 1
        lines.append(
            f"- {info.request}: INFO costs {extra_ms:+.2f} ms of server CPU per request "
            f"({info.cpu.app_ms:.2f} against {warning.cpu.app_ms:.2f}); "
            f"requests/s {change:+.0%}"
        )
    return "\n".join(lines)
