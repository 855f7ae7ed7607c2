"""`make bench`: load `learnbot serve` on SQLite and PostgreSQL and the bare Sanic reference,
then print one table. Settings come from BENCH_* variables (bench/README.md lists them)."""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import sanic
from psycopg import sql

from bench import cpu, http_load, load, memory
from bench.load import Load
from bench.measurement import Measurement
from bench.report import (
    LEAN,
    LEAN_ASYNCPG,
    POSTGRESQL,
    POSTGRESQL_INFO,
    REFERENCE,
    SQLITE,
    Row,
    floor_ratios,
    logging_cost,
    memory_report,
    row_ratios,
    stability,
    table,
    verdicts,
)
from bench.services import (
    HOST,
    Service,
    learnbot_env,
    metric_totals,
    start_lean_sign_in,
    start_learnbot,
    start_reference,
)
from bench.users import SignedUsers, bot_token, fresh_first_id, sign_users, stored_telegram_ids

WARM_UP_SECONDS = 2.0
PAUSE_SECONDS = 1.0
SETTLE_SECONDS = 0.5  # what wrk abandoned at its stop is answered (or cancelled) by then


@dataclass(frozen=True, slots=True)
class Options:
    duration: float
    threads: int
    connections: int
    rate: float
    users: int
    workers: int
    postgres_url: str
    backup_users: tuple[int, ...]
    output: Path | None

    @classmethod
    def from_env(cls) -> Options:
        env = os.environ
        duration = float(env.get("BENCH_DURATION", "10"))
        output = env.get("BENCH_OUTPUT")
        return cls(
            duration=duration,
            threads=int(env.get("BENCH_THREADS", "2")),
            connections=int(env.get("BENCH_CONNECTIONS", "32")),
            rate=float(env.get("BENCH_RATE", "1000")),
            # Enough distinct users that a whole run of sign-ins never meets one twice.
            users=int(env.get("BENCH_USERS", str(int(7000 * duration)))),
            workers=int(env.get("BENCH_WORKERS", "2")),
            postgres_url=env.get(
                "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
            ),
            backup_users=tuple(
                int(n) for n in env.get("BENCH_BACKUP_USERS", "10000,1000000").split(",") if n
            ),
            output=Path(output) if output else None,
        )


@dataclass(frozen=True, slots=True)
class Server:
    """A running server and what can be read from it besides its answers."""

    label: str
    service: Service
    learnbot: bool  # has /metrics
    postgres_url: str | None  # its database, whose backends' CPU is counted


@dataclass
class Bench:
    options: Options
    settings: load.Settings
    workdir: Path
    token: str
    fresh: SignedUsers
    paced_fresh: SignedUsers
    lean_fresh: SignedUsers
    lean_asyncpg_fresh: SignedUsers
    # Each server's workers' peak RSS (MB), read after its last row.
    worker_memory: list[tuple[str, list[float]]] = field(default_factory=list)

    @property
    def saturating(self) -> str:
        if self.settings.wrk is None:
            return f"max, python -c{self.settings.connections}"
        return f"max, wrk -t{self.settings.threads} -c{self.settings.connections}"

    @property
    def fixed_rate(self) -> str:
        return f"{self.options.rate:,.0f} req/s, paced"

    def saturate(self, server: Server, chosen: Load) -> Callable[[], Measurement]:
        return lambda: load.run(chosen, server.service.port, self.settings, self.workdir)

    def pace(self, server: Server, users: Path) -> Callable[[], Measurement]:
        port = server.service.port
        requests = load.python_requests(load.sign_in(users), port, self.settings.threads)
        return lambda: http_load.paced(
            HOST,
            port,
            requests,
            rate=self.options.rate,
            duration=self.options.duration,
            connections=self.settings.connections,
        )

    def warm_up(self, service: Service) -> None:
        short = load.Settings(WARM_UP_SECONDS, self.settings.threads, 8, self.settings.wrk)
        load.run(load.health(), service.port, short, self.workdir)

    @contextlib.contextmanager
    def reference(self) -> Iterator[Server]:
        print("bare Sanic reference", flush=True)
        with start_reference(self.workdir, self.options.workers) as service:
            self.warm_up(service)
            yield Server(REFERENCE, service, learnbot=False, postgres_url=None)

    @contextlib.contextmanager
    def learnbot(self, label: str, database_url: str, log_level: str) -> Iterator[Server]:
        print(f"learnbot serve: {label}", flush=True)
        env = learnbot_env(
            database_url=database_url,
            bot_token=self.token,
            metrics_dir=self.workdir / f"metrics-{secrets.token_hex(3)}",
            log_level=log_level,
            workers=self.options.workers,
        )
        name = "learnbot-" + secrets.token_hex(3)
        with start_learnbot(name, env, self.workdir) as service:
            self.warm_up(service)
            postgres_url = database_url if database_url.startswith("postgresql") else None
            yield Server(label, service, learnbot=True, postgres_url=postgres_url)
            self.worker_memory.append(
                (label, memory.worker_peaks(service.process.pid, service.port))
            )

    @contextlib.contextmanager
    def lean(self, label: str, database_url: str, driver: str) -> Iterator[Server]:
        print(f"lean sign-in reference on {driver}", flush=True)
        with start_lean_sign_in(
            self.workdir, self.options.workers, database_url, self.token, driver
        ) as service:
            self.warm_up(service)
            yield Server(label, service, learnbot=False, postgres_url=database_url)
            self.worker_memory.append(
                (label, memory.worker_peaks(service.process.pid, service.port))
            )

    def observe(self, server: Server, request: str, measure: Callable[[], Measurement]) -> Row:
        """One run, with the CPU it cost and what the server itself counted."""
        time.sleep(PAUSE_SECONDS)  # lets the workers finish what the last run left in flight
        before = self._counters(server)
        machine_before = cpu.machine_busy()
        measured = measure()
        machine_after = cpu.machine_busy()
        time.sleep(SETTLE_SECONDS)
        after = self._counters(server)
        app = cpu.spent(before.app, after.app)
        database = cpu.spent(before.database, after.database)
        client = after.client - before.client
        completed = max(1, measured.requests)
        per_request = cpu.CpuPerRequest(
            app_ms=app * 1000 / completed,
            database_ms=None if server.postgres_url is None else database * 1000 / completed,
            client_ms=client * 1000 / completed,
            others=cpu.others_share(machine_before, machine_after, app + database + client),
        )
        notes = [f"errors: {measured.error_kinds}"] if measured.error_kinds else []
        if server.learnbot and request.startswith("POST /auth/telegram"):
            new = after.metrics["new"] - before.metrics["new"]
            returning = after.metrics["returning"] - before.metrics["returning"]
            notes.append(f"sign-ins: {new:,.0f} new, {returning:,.0f} returning")
        non_2xx = after.metrics.get("non_2xx", 0.0) - before.metrics.get("non_2xx", 0.0)
        abandoned = after.metrics.get("abandoned", 0.0) - before.metrics.get("abandoned", 0.0)
        if abandoned:
            notes.append(
                f"server: {abandoned:,.0f} requests the client abandoned at its stop (499)"
            )
        if non_2xx - abandoned:
            notes.append(f"server counted {non_2xx - abandoned:,.0f} other non-2xx answers")
        load_name = self.fixed_rate if measured.generator == "paced" else self.saturating
        row = Row(server.label, request, load_name, measured, per_request, "; ".join(notes))
        print(
            f"  {row.request:32} {row.load:20} {measured.per_second:7,.0f} req/s  "
            f"p50 {measured.p50_ms:6.1f} ms  p99 {measured.p99_ms:6.1f} ms  "
            f"errors {measured.errors}  CPU ms/req {per_request}  "
            f"others {per_request.others:.0%}  {row.note}",
            flush=True,
        )
        return row

    def _counters(self, server: Server) -> _Counters:
        return _Counters(
            metrics=metric_totals(server.service) if server.learnbot else {},
            app=cpu.process_tree(server.service.process.pid),
            database=cpu.postgres_backends(server.postgres_url) if server.postgres_url else {},
            client=cpu.children_seconds() + cpu.own_seconds(),
        )

    def backend(self, label: str, database_url: str) -> list[Row]:
        """Four saturating runs; on PostgreSQL also fixed-rate sign-ins and LOG_LEVEL=INFO."""
        threads = self.settings.threads
        fresh = self.fresh.write_shares(self.workdir / f"{label}-fresh", threads)
        with self.learnbot(label, database_url, "WARNING") as server:
            rows = [
                self.observe(server, "GET /health", self.saturate(server, load.health())),
                self.observe(
                    server, "POST /auth/telegram (new)", self.saturate(server, load.sign_in(fresh))
                ),
            ]
            # Those the first pass signed in, however far through the users it got.
            stored = stored_telegram_ids(database_url, self.fresh.telegram_ids)
            returning = self.fresh.only(stored).write_shares(
                self.workdir / f"{label}-returning", threads
            )
            # One Telegram id on every connection: a Mini App's burst of calls on open, or a
            # retrying client, all signing in as the same returning user.
            one = self.fresh.only(stored)
            one_user = SignedUsers(
                one.telegram_ids[:1] * threads, one.init_data[:1] * threads
            ).write_shares(self.workdir / f"{label}-one", threads)
            rows += self.sign_ins(server, {"returning": returning, "one user": one_user})
            rows.append(self.observe(server, "GET /me", self.saturate(server, load.me(returning))))
            if label != POSTGRESQL:
                return rows
            paced_fresh = self.paced_fresh.write_shares(self.workdir / "paced-fresh", threads)
            rows += [
                self.observe(
                    server, "POST /auth/telegram (returning)", self.pace(server, returning)
                ),
                self.observe(server, "POST /auth/telegram (new)", self.pace(server, paced_fresh)),
            ]
        with self.learnbot(POSTGRESQL_INFO, database_url, "INFO") as server:
            rows.append(self.observe(server, "GET /health", self.saturate(server, load.health())))
            rows += self.sign_ins(server, {"returning": returning})
        # The floor: the lean handler on the same database, fresh users of its own for the
        # first pass, then the very users and the one user learnbot's rows signed in.
        for label, driver, users in (
            (LEAN, "psycopg", self.lean_fresh),
            (LEAN_ASYNCPG, "asyncpg", self.lean_asyncpg_fresh),
        ):
            lean_fresh = users.write_shares(self.workdir / f"lean-fresh-{driver}", threads)
            with self.lean(label, database_url, driver) as server:
                rows += self.sign_ins(
                    server, {"new": lean_fresh, "returning": returning, "one user": one_user}
                )
        return rows

    def sign_ins(self, server: Server, passes: dict[str, Path]) -> list[Row]:
        """A saturating sign-in run per pass, in order: its kind and the users' files."""
        return [
            self.observe(
                server, f"POST /auth/telegram ({kind})", self.saturate(server, load.sign_in(users))
            )
            for kind, users in passes.items()
        ]

    def reference_row(self) -> Row:
        with self.reference() as server:
            return self.observe(server, "GET /health", self.saturate(server, load.health()))


@dataclass(frozen=True, slots=True)
class _Counters:
    metrics: dict[str, float]
    app: dict[int, float]
    database: dict[int, float]
    client: float


def postgres_refusal(admin_url: str) -> str | None:
    """Why PostgreSQL cannot be benchmarked here, or None."""
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
            admin.execute("SELECT 1")
    except psycopg.Error as error:
        return f"PostgreSQL rows skipped: {admin_url} did not answer ({error})".strip()
    return None


@contextlib.contextmanager
def bench_database(admin_url: str) -> Iterator[str]:
    """A database of this run's own on the shared server, dropped afterwards."""
    name = f"learnbot_bench_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        parts = urlsplit(admin_url)
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def backup_runs(options: Options) -> list[memory.BackupRun]:
    """`learnbot backup run --once` of databases of each size in BENCH_BACKUP_USERS."""
    runs = []
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "BACKUP_"))}
    for users in options.backup_users:
        print(f"backup of {users:,} generated users", flush=True)
        with bench_database(options.postgres_url) as database_url:
            runs.append(memory.backup_run(database_url, users, env))
    return runs


def machine(options: Options, settings: load.Settings, wrk_note: str) -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    wrk_version = "-"
    if settings.wrk:
        head = subprocess.run([settings.wrk, "-v"], capture_output=True, text=True, check=False)  # noqa: S603
        wrk_version = (
            (head.stdout or head.stderr).splitlines()[0] if (head.stdout or head.stderr) else "-"
        )
    load1, load5, _ = os.getloadavg()
    saturating = (
        f"wrk -t{options.threads} -c{options.connections}"
        if settings.wrk
        else f"the Python closed-loop client, {options.connections} connections"
    )
    return "\n".join(
        [
            f"- date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
            f"- CPU: {cpu}, {os.cpu_count()} cores; load average before the run "
            f"{load1:.2f} (1 min), {load5:.2f} (5 min)",
            f"- Python {platform.python_version()}, Sanic {sanic.__version__}; {wrk_version}",
            f"- {wrk_note}",
            f"- WORKERS={options.workers}, LOG_LEVEL=WARNING (except the INFO rows), "
            "RATE_LIMIT_ENABLED=false, DATABASE_POOL_SIZE=10 (the default)",
            f"- each run {options.duration:g} s after a {WARM_UP_SECONDS:g} s warm-up per server; "
            f"saturating runs: {saturating}; fixed-rate runs: "
            f"bench/http_load.py at {options.rate:,.0f} req/s, {options.connections} connections",
            f"- {options.users:,} users signed for the sign-in runs",
        ]
    )


def main() -> int:
    started = time.monotonic()
    options = Options.from_env()
    wrk, wrk_note = load.find_or_install_wrk()
    print(wrk_note, flush=True)
    settings = load.Settings(options.duration, options.threads, options.connections, wrk)
    header = machine(options, settings, wrk_note)
    workdir = Path(tempfile.mkdtemp(prefix="learnbot-bench-"))
    rows: list[Row] = []
    skipped: list[str] = []
    backups: list[memory.BackupRun] = []
    try:
        token = bot_token()
        print(f"signing init data for {options.users:,} users", flush=True)
        fresh = sign_users(token, options.users, fresh_first_id())
        paced_fresh = sign_users(token, int(options.rate * options.duration), fresh_first_id())
        lean_fresh = sign_users(token, options.users, fresh_first_id())
        lean_asyncpg_fresh = sign_users(token, options.users, fresh_first_id())
        bench = Bench(
            options, settings, workdir, token, fresh, paced_fresh, lean_fresh, lean_asyncpg_fresh
        )
        rows.append(bench.reference_row())
        rows += bench.backend(SQLITE, f"sqlite:///{workdir}/learnbot.db")
        refusal = postgres_refusal(options.postgres_url)
        if refusal is None:
            with bench_database(options.postgres_url) as database_url:
                rows += bench.backend(POSTGRESQL, database_url)
            backups = backup_runs(options)
        else:
            skipped.append(refusal)
            print(refusal, flush=True)
        rows.append(bench.reference_row())
    except BaseException:
        print(f"\nthe run failed; the servers' logs are kept in {workdir}", file=sys.stderr)
        raise
    shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.monotonic() - started
    report = "\n\n".join(
        part
        for part in [
            header,
            table(rows),
            stability(rows),
            "Targets:\n"
            + verdicts(rows, os.cpu_count() or 1)
            + "\n"
            + row_ratios(rows)
            + "\n"
            + floor_ratios(rows),
            memory_report(bench.worker_memory, backups),
            "Logging at INFO (one JSON access line per request, to a file):\n" + logging_cost(rows),
            *skipped,
            f"`make bench` took {elapsed / 60:.1f} min; load average at the end "
            f"{os.getloadavg()[0]:.2f} (1 min).",
        ]
        if part
    )
    print("\n" + report)
    if options.output:
        options.output.write_text(report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
