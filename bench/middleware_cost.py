"""What Sanic, sanic-ext and each of learnbot's request middleware cost on GET /health: server
CPU per request of one `{"status": "ok"}` handler, bare, with sanic-ext, and with learnbot's
middleware attached (all of it, then all but one part), WORKERS=2, saturated by wrk.

    .venv/bin/python -m bench.middleware_cost [--repeat 3]

CPU per request is the figure, not requests/s: it holds while other work shares the machine.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse, json

VARIANTS = {
    "bare": "bare Sanic (the reference app)",
    "ext": "+ sanic-ext, CORS off (as learnbot configures it without CORS_ORIGINS)",
    "middleware": "+ learnbot's request middleware: request id, locale, metrics and access log",
    "no-bookkeeping": "  the same without begin_request/end_request (request id, metrics, log)",
    "no-locale": "  the same without the locale negotiation and Content-Language",
    "no-request-id": "  the same without begin_request (request id, Sentry tag)",
}


def app_name(variant: str) -> str:
    return "bench_" + variant.replace("-", "_")


def build(variant: str) -> Sanic[Any, Any]:
    from learnbot.observability.logs import logging_config

    log_config = logging_config("WARNING", "json")
    if variant in ("bare", "ext"):
        app: Sanic[Any, Any] = Sanic(app_name(variant), log_config=log_config)
    else:
        app = learnbot_app(variant, log_config)
    app.config.AUTO_EXTEND = variant != "bare"
    app.config.CORS = False
    app.config.HEALTH = False
    app.config.OAS_AUTODOC = False

    @app.get("/health")
    async def health(request: Request) -> HTTPResponse:
        return json({"status": "ok"})

    return app


def learnbot_app(variant: str, log_config: dict[str, Any]) -> Sanic[Any, Any]:
    """An app with learnbot's context and request types and its middleware, less the parts the
    variant leaves out, installed by the function create_app calls."""
    from learnbot.api.locale import add_content_language, negotiate_request_locale
    from learnbot.app import install_middleware
    from learnbot.context import AppContext, AppRequest
    from learnbot.i18n.catalogs import load_catalogs
    from learnbot.observability.requests import begin_request, end_request
    from learnbot.settings import Settings

    left_out = {
        "middleware": (),
        "no-bookkeeping": (begin_request, end_request),
        "no-locale": (negotiate_request_locale, add_content_language),
        "no-request-id": (begin_request,),
    }[variant]
    settings = Settings.from_env({"TELEGRAM_BOT_TOKEN": "123456:ABC"})
    app = Sanic(
        app_name(variant),
        ctx=AppContext(settings, load_catalogs(settings.supported_locales)),
        # Sanic annotates request_class for its default Request type only.
        request_class=AppRequest,  # type: ignore[arg-type]
        log_config=log_config,
    )
    install_middleware(app, leave_out=left_out)
    return app


# Sanic's workers import this module again (spawn): the app must exist at import.
if os.environ.get("BENCH_VARIANT") in VARIANTS:
    build(os.environ["BENCH_VARIANT"])


def measure(variant: str, workdir: Path) -> float:
    from bench import cpu, load
    from bench.services import Service, free_port, wait_until_ok

    port = free_port()
    metrics_dir = workdir / f"metrics-{variant}"
    metrics_dir.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "BENCH_VARIANT": variant,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    log_path = workdir / f"{variant}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "bench.middleware_cost", "--serve", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    with Service(variant, process, port, log_path) as service:
        wait_until_ok(service, "/health")
        wrk, note = load.find_or_install_wrk()
        if wrk is None:
            raise SystemExit(note)
        load.run(load.health(), port, load.Settings(2, 2, 8, wrk), workdir)
        before = cpu.process_tree(process.pid)
        measured = load.run(load.health(), port, load.Settings(5, 2, 32, wrk), workdir)
        after = cpu.process_tree(process.pid)
    return cpu.spent(before, after) * 1000 / max(1, measured.requests)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.middleware_cost")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        served = Sanic.get_app(app_name(os.environ["BENCH_VARIANT"]))
        served.run(host="127.0.0.1", port=args.serve, workers=2, access_log=False, motd=False)
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="learnbot-middleware-"))
    runs: dict[str, list[float]] = collections.defaultdict(list)
    try:
        # Interleaved, so a burst of other work on the machine spreads over every variant.
        for _ in range(args.repeat):
            for variant in VARIANTS:
                runs[variant].append(measure(variant, workdir))
                print(f"  {variant:15} {runs[variant][-1]:.3f} ms", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("\nServer CPU per GET /health (median of the runs):")
    for variant, label in VARIANTS.items():
        print(f"  {statistics.median(runs[variant]):.3f} ms  {label}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
