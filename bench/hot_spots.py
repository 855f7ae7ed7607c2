"""Where a worker's time goes under load: py-spy samples one worker of `learnbot serve`
(WORKERS=2) while wrk saturates it, and the samples are summed by concern.

    .venv/bin/pip install py-spy      # an investigation tool, not a dependency of the project
    .venv/bin/python -m bench.hot_spots sign-in --backend postgresql

Loads: health, sign-in (new users), sign-in-returning, me. Not part of `make bench`.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from bench import cpu, load
from bench.run import Options, bench_database
from bench.services import learnbot_env, start_learnbot
from bench.users import bot_token, fresh_first_id, sign_users

# First match wins, from the outermost concern inwards, so a JSON parse inside the Telegram
# check counts as the check, and a metrics update inside the request hooks counts as metrics.
CONCERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern))
    for name, pattern in (
        ("pool: idle check", r"IdleConnectionCheck\.check "),
        ("pool: checkout and return", r"asyncpg/pool\.py|_checkout"),
        ("database: queries (asyncpg)", r"asyncpg/"),
        ("database: SQLite thread hand-off", r"learnbot/storage/sqlite\.py|concurrent/futures"),
        ("Telegram verification", r"learnbot/auth/"),
        ("metrics (prometheus_client)", r"prometheus_client/"),
        ("logging", r"logging/__init__|learnbot/observability/logs\.py"),
        ("sentry hooks", r"sentry_sdk/"),
        ("rate limiter", r"rate_limits\.py|limits/"),
        ("locale negotiation", r"\(locale\.py|learnbot/i18n/"),
        ("request bookkeeping (request id)", r"learnbot/observability/requests\.py"),
        ("JSON body and response", r"json/|ujson|JSONResponse|bodies\.py"),
        (
            "learnbot handlers and views",
            r"learnbot/|\((auth|me|views|context|ops|admin|problems)\.py",
        ),
        ("sanic-ext (injection, openapi wrappers)", r"sanic_ext/"),
        ("socket writes (kernel time in send)", r"^send \(send(:\d+)?\)$"),
        ("Sanic core (parsing, routing, signals)", r"sanic/|sanic_routing/|http1_|handle_request"),
        ("asyncio / uvloop", r"asyncio/"),
    )
)


def by_concern(folded: Path) -> list[tuple[str, float]]:
    """Share of the worker's samples per concern, from py-spy's raw (folded) output."""
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    for line in folded.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        total += int(count)
        concern = "other"
        for name, pattern in CONCERNS:
            if any(pattern.search(frame) for frame in frames):
                concern = name
                break
        counts[concern] += int(count)
    return [(name, count / total) for name, count in counts.most_common()] if total else []


def hottest(folded: Path, top: int) -> list[tuple[str, float]]:
    """Functions by inclusive share, the worker's entry frames left out."""
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    for line in folded.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        total += int(count)
        for frame in {re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")}:
            counts[frame] += int(count)
    shares = [(frame, count / total) for frame, count in counts.most_common() if total]
    return [(f, s) for f, s in shares if s < 0.9][:top]


@contextlib.contextmanager
def database(backend: str, workdir: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{workdir}/learnbot.db"
        return
    with bench_database(Options.from_env().postgres_url) as url:
        yield url


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hot_spots", description=__doc__)
    parser.add_argument("load", choices=("health", "sign-in", "sign-in-returning", "me"))
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--save", type=Path, help="keep py-spy's folded stacks in this file")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        print("py-spy is missing: .venv/bin/pip install py-spy", file=sys.stderr)
        return 2
    wrk, note = load.find_or_install_wrk()
    if wrk is None:
        print(note, file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="learnbot-profile-"))
    try:
        token = bot_token()
        users = sign_users(token, int(6000 * args.seconds) + 20000, fresh_first_id())
        shares = users.write_shares(workdir / "users", 2)
        with database(args.backend, workdir) as url:
            env = learnbot_env(
                database_url=url,
                bot_token=token,
                metrics_dir=workdir / "metrics",
                log_level=args.log_level,
                workers=2,
            )
            with start_learnbot("learnbot", env, workdir) as service:
                settings = load.Settings(args.seconds + 3, 2, 32, wrk)
                if args.load in ("sign-in-returning", "me"):
                    warm = load.Settings(args.seconds, 2, 32, wrk)
                    load.run(load.sign_in(shares), service.port, warm, workdir)
                chosen = {
                    "health": load.health(),
                    "sign-in": load.sign_in(shares),
                    "sign-in-returning": load.sign_in(shares),
                    "me": load.me(shares),
                }[args.load]
                workers = sorted(cpu.process_tree(service.process.pid))
                # The busiest descendant is a worker; the others are the manager and trackers.
                before = cpu.process_tree(service.process.pid)
                folded = workdir / "profile.folded"

                def record() -> None:
                    time.sleep(1.5)
                    busiest = max(
                        (pid for pid in workers if pid != service.process.pid),
                        key=lambda pid: cpu.processes([pid]).get(pid, 0.0) - before.get(pid, 0.0),
                    )
                    command = [py_spy, "record", "--pid", str(busiest), "--rate", "250"]
                    command += ["--duration", f"{args.seconds:g}", "--format", "raw"]
                    command += ["--nonblocking", "--output", str(folded)]
                    subprocess.run(  # noqa: S603
                        command,
                        capture_output=True,
                        check=True,
                    )

                recorder = threading.Thread(target=record)
                recorder.start()
                measured = load.run(chosen, service.port, settings, workdir)
                recorder.join()
                after = cpu.process_tree(service.process.pid)
        app_ms = cpu.spent(before, after) * 1000 / max(1, measured.requests)
        print(
            f"{args.load} on {args.backend}: {measured.per_second:,.0f} req/s, "
            f"p50 {measured.p50_ms:.1f} ms, p99 {measured.p99_ms:.1f} ms, "
            f"{measured.errors} errors, server CPU {app_ms:.2f} ms per request"
        )
        if args.save:
            shutil.copyfile(folded, args.save)
        print("\nOne worker's samples by concern:")
        for name, share in by_concern(folded):
            print(f"  {share:6.1%}  {name}")
        print(f"\nHottest functions (inclusive), top {args.top}:")
        for frame, share in hottest(folded, args.top):
            print(f"  {share:6.1%}  {frame}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
