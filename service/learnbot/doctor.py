"""`learnbot doctor`: the on-call engineer's first five minutes in one command.

Each check reads one thing (the API's /ready, the database, Prometheus' targets, rules and
alerts, the backups' ages, WAL archiving) and says what it found and what to do next. Nothing is
written anywhere. The exit status is 0 when every check is ok (or skipped), 1 when one warns and
2 when one fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import httpx2

from learnbot.setting import ConfigError
from learnbot.settings_table import DATABASE_URL, DOCTOR_API_URL, DOCTOR_PROMETHEUS_URL
from learnbot.storage import database_dialect, open_store

Status = Literal["ok", "warn", "fail", "skip"]
EXIT_CODES: Mapping[Status, int] = {"ok": 0, "skip": 0, "warn": 1, "fail": 2}
TIMEOUT_SECONDS = 5.0
# Shares of max_connections in use that warn and fail (LearnbotPostgresNearConnectionLimit: 80%).
CONNECTIONS_WARN, CONNECTIONS_FAIL = 0.8, 0.95
# The ages the backup alerts fire at (alerts/rules/backup.yml).
BACKUP_MAX_AGE_SECONDS = 26 * 3600
DRILL_MAX_AGE_SECONDS = 8 * 86400
# The dead man's switch fires all the time: it is not news.
ALWAYS_FIRING = frozenset({"Watchdog"})
RUNBOOKS = "runbooks/"


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    status: Status
    detail: str
    next: str = ""


@dataclass(frozen=True, slots=True)
class Targets:
    api_url: str
    prometheus_url: str | None
    database_url: str | None


def run_checks(targets: Targets) -> list[Finding]:
    findings = [_api_ready(targets.api_url)]
    if targets.database_url is None:
        findings.append(Finding("database", "skip", "no DATABASE_URL", "pass --database-url"))
    else:
        findings.extend(_database(targets.database_url))
    if targets.prometheus_url is None:
        findings.append(
            Finding(
                "prometheus",
                "skip",
                "no Prometheus to ask",
                "pass --prometheus-url (the stack's prometheusUrl) or set DOCTOR_PROMETHEUS_URL",
            )
        )
    else:
        findings.extend(_prometheus(targets.prometheus_url.rstrip("/")))
    return findings


def exit_code(findings: Sequence[Finding]) -> int:
    return max((EXIT_CODES[finding.status] for finding in findings), default=0)


def _api_ready(api_url: str) -> Finding:
    url = api_url.rstrip("/") + "/ready"
    try:
        response = httpx2.get(url, timeout=TIMEOUT_SECONDS)
    except httpx2.HTTPError as error:
        return Finding(
            "api ready",
            "fail",
            f"{url}: no answer ({type(error).__name__})",
            f"the API is down or unreachable: {RUNBOOKS}LearnbotApiDown.md",
        )
    if response.status_code == 200:
        return Finding("api ready", "ok", f"{url}: 200")
    return Finding(
        "api ready",
        "fail",
        f"{url}: {response.status_code} {_problem_detail(response)}".rstrip(),
        f"its database or schema: {RUNBOOKS}LearnbotApiNotReady.md",
    )


def _problem_detail(response: httpx2.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("detail", "")) if isinstance(body, dict) else ""


def _database(database_url: str) -> list[Finding]:
    try:
        state = asyncio.run(_migration_state(database_url))
    except Exception as error:
        return [
            Finding(
                "database",
                "fail",
                f"cannot read the schema's version ({type(error).__name__})",
                f"is PostgreSQL up? {RUNBOOKS}LearnbotPostgresDown.md",
            )
        ]
    applied, latest = state
    if applied < latest:
        migrations = Finding(
            "database migrations",
            "fail",
            f"{applied} of {latest} applied",
            "run `learnbot migrate` (the release's migrate container or Job did not finish)",
        )
    elif applied > latest:
        migrations = Finding(
            "database migrations",
            "warn",
            f"{applied} applied, this release knows {latest}",
            "a newer release migrated this database: deploy it, or roll back the schema",
        )
    else:
        migrations = Finding("database migrations", "ok", f"{applied} of {latest} applied")
    if database_dialect(database_url) == "sqlite":
        return [migrations]
    try:
        return [migrations, *_postgresql(database_url)]
    except Exception as error:
        return [
            migrations,
            Finding(
                "database connections",
                "fail",
                f"cannot read pg_stat_activity ({type(error).__name__})",
                f"is PostgreSQL up? {RUNBOOKS}LearnbotPostgresDown.md",
            ),
        ]


async def _migration_state(database_url: str) -> tuple[int, int]:
    store = open_store(database_url, pool_size=1, timeout=TIMEOUT_SECONDS)
    await store.open()
    try:
        state = await store.migration_state()
    finally:
        await store.close()
    return state.applied, state.latest


def _postgresql(database_url: str) -> list[Finding]:
    import psycopg

    conninfo = "postgresql://" + database_url.split("://", 1)[1]
    with psycopg.connect(conninfo, connect_timeout=int(TIMEOUT_SECONDS)) as connection:
        used, maximum = connection.execute(
            "SELECT (SELECT count(*) FROM pg_stat_activity), "
            "current_setting('max_connections')::int"
        ).fetchone() or (0, 1)
        archive_mode = str(connection.execute("SHOW archive_mode").fetchone()[0])  # type: ignore[index]
        archiver = connection.execute(
            "SELECT archived_count, failed_count, "
            "extract(epoch FROM now() - last_archived_time), "
            "last_failed_time > coalesce(last_archived_time, '-infinity'), last_failed_wal "
            "FROM pg_stat_archiver"
        ).fetchone()
    return [_connections(int(used), int(maximum)), _archiving(archive_mode, archiver)]


def _connections(used: int, maximum: int) -> Finding:
    share = used / maximum
    detail = f"{used} of max_connections {maximum} in use ({share:.0%})"
    if share >= CONNECTIONS_FAIL:
        status: Status = "fail"
    elif share >= CONNECTIONS_WARN:
        status = "warn"
    else:
        return Finding("database connections", "ok", detail)
    return Finding(
        "database connections",
        status,
        detail,
        f"who holds them: {RUNBOOKS}LearnbotPostgresNearConnectionLimit.md",
    )


def _archiving(archive_mode: str, archiver: Sequence[Any] | None) -> Finding:
    if archive_mode == "off" or archiver is None:
        return Finding("wal archiving", "skip", "archive_mode is off: no WAL is archived")
    archived, failed, age, failing, failed_wal = archiver
    if failing:
        return Finding(
            "wal archiving",
            "fail",
            f"the last attempt failed ({failed} failures in all, last {failed_wal})",
            "the archive_command's log in PostgreSQL's log says why; the WAL piles up on "
            "the database's disk until it works",
        )
    if archived == 0 or age is None:
        return Finding("wal archiving", "warn", "on, but nothing archived yet")
    return Finding("wal archiving", "ok", f"{archived} archived, the last {float(age):.0f} s ago")


def _prometheus(url: str) -> list[Finding]:
    try:
        with httpx2.Client(base_url=url, timeout=TIMEOUT_SECONDS) as client:
            return [
                _targets(client),
                _rules(client),
                *_firing(client),
                _age(
                    client,
                    "backup",
                    "backup_last_success_timestamp_seconds",
                    BACKUP_MAX_AGE_SECONDS,
                    "LearnbotBackupTooOld",
                ),
                _age(
                    client,
                    "restore drill",
                    "backup_last_verified_timestamp_seconds",
                    DRILL_MAX_AGE_SECONDS,
                    "LearnbotBackupRestoreDrillTooOld",
                ),
            ]
    except (httpx2.HTTPError, ValueError, KeyError) as error:
        return [
            Finding(
                "prometheus",
                "fail",
                f"{url}: no usable answer ({type(error).__name__})",
                "is Prometheus up? Without it no alert fires: runbooks/Watchdog.md",
            )
        ]


def _api(client: httpx2.Client, path: str, **params: str) -> Any:
    answer = client.get(path, params=params)
    answer.raise_for_status()
    body = answer.json()
    if body.get("status") != "success":
        raise ValueError(body.get("error", "not a success"))
    return body["data"]


def _targets(client: httpx2.Client) -> Finding:
    active = _api(client, "/api/v1/targets", state="active")["activeTargets"]
    down = [t for t in active if t.get("health") != "up"]
    if not active:
        return Finding(
            "prometheus targets", "fail", "no target", "check Prometheus' scrape configuration"
        )
    if not down:
        return Finding("prometheus targets", "ok", f"{len(active)} of {len(active)} up")
    names = ", ".join(
        f"{t['labels'].get('job')}/{t['labels'].get('instance')}: "
        f"{t.get('lastError') or t.get('health')}"
        for t in down
    )
    return Finding(
        "prometheus targets",
        "fail",
        f"{len(down)} of {len(active)} down: {names}",
        "Prometheus → Status → Targets; the alert of the target's job says what to do",
    )


def _rules(client: httpx2.Client) -> Finding:
    groups = _api(client, "/api/v1/rules")["groups"]
    broken = [
        f"{rule.get('name')}: {rule.get('lastError')}"
        for group in groups
        for rule in group["rules"]
        if rule.get("health") not in ("ok", "unknown")
    ]
    count = sum(len(group["rules"]) for group in groups)
    if not broken:
        return Finding(
            "prometheus rules", "ok", f"{count} rules in {len(groups)} groups, none failing"
        )
    return Finding(
        "prometheus rules",
        "fail",
        f"{len(broken)} failing: " + "; ".join(broken[:3]),
        f"{RUNBOOKS}LearnbotPrometheusRuleEvaluationFailures.md",
    )


def _firing(client: httpx2.Client) -> Iterator[Finding]:
    alerts = _api(client, "/api/v1/alerts")["alerts"]
    firing = [
        a
        for a in alerts
        if a.get("state") == "firing" and a["labels"].get("alertname") not in ALWAYS_FIRING
    ]
    if not firing:
        yield Finding("firing alerts", "ok", "none")
        return
    for alert in firing:
        labels, annotations = alert["labels"], alert.get("annotations", {})
        status: Status = "fail" if labels.get("severity") == "critical" else "warn"
        yield Finding(
            f"alert {labels.get('alertname')}",
            status,
            f"{labels.get('severity')}: {annotations.get('summary', '')}",
            str(annotations.get("runbook_url", "")),
        )


def _age(client: httpx2.Client, what: str, metric: str, maximum: int, alert: str) -> Finding:
    result = _api(client, "/api/v1/query", query=f"max(time() - {metric})")["result"]
    check = f"last {what}"
    if not result:
        return Finding(
            check,
            "warn",
            f"Prometheus has no {metric}",
            f"is the backup job running and scraped? {RUNBOOKS}LearnbotBackupMetricsAbsent.md",
        )
    age = float(result[0]["value"][1])
    if math.isnan(age) or age > maximum:
        return Finding(check, "fail", f"{_duration(age)} ago", f"{RUNBOOKS}{alert}.md")
    return Finding(check, "ok", f"{_duration(age)} ago")


def _duration(seconds: float) -> str:
    if math.isnan(seconds):
        return "never"
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 60:.0f} minutes"


def table(findings: Sequence[Finding]) -> str:
    rows = [
        ("CHECK", "STATUS", "DETAIL", "NEXT"),
        *((f.check, f.status.upper(), f.detail, f.next) for f in findings),
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    return (
        "\n".join(
            "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
            + "  "
            + row[3]
            for row in rows
        ).rstrip()
        + "\n"
    )


def add_doctor_command(commands: Any) -> None:
    doctor = commands.add_parser(
        "doctor",
        help="check the API, the database, Prometheus, alerts and backups; say what to do next",
    )
    doctor.add_argument("--api-url", help="the API's URL (default DOCTOR_API_URL)")
    doctor.add_argument("--prometheus-url", help="Prometheus (default DOCTOR_PROMETHEUS_URL)")
    doctor.add_argument("--database-url", help="the database (default DATABASE_URL)")
    doctor.add_argument("--json", action="store_true", help="the findings as JSON")


def main(
    args: argparse.Namespace, env: Mapping[str, str], out: Callable[[str], object] = print
) -> int:
    # A flag wins over the variable, and is checked as the variable would be.
    given: dict[str, str] = {
        str(row.variable): value
        for row, value in (
            (DOCTOR_API_URL, args.api_url),
            (DOCTOR_PROMETHEUS_URL, args.prometheus_url),
            (DATABASE_URL, args.database_url),
        )
        if value
    }
    settings = {**env, **given}
    try:
        targets = Targets(
            api_url=DOCTOR_API_URL.value_from_env(settings),
            prometheus_url=DOCTOR_PROMETHEUS_URL.from_env(settings),
            # Unset, there is no database to check: not the development default's file.
            database_url=DATABASE_URL.from_env(settings) if settings.get("DATABASE_URL") else None,
        )
    except ConfigError as error:
        print(f"learnbot doctor: invalid configuration: {error}", file=sys.stderr)
        return 2
    started = time.monotonic()
    findings = run_checks(targets)
    if args.json:
        out(
            json.dumps(
                {
                    "findings": [asdict(f) for f in findings],
                    "seconds": round(time.monotonic() - started, 3),
                },
                indent=2,
            )
        )
    else:
        out(table(findings).rstrip("\n"))
    return exit_code(findings)
