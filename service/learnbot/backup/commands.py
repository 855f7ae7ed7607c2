"""`learnbot backup run|verify|restore|list`; cli.py wires these into the `learnbot` command."""

from __future__ import annotations

import argparse
import logging.config
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

import psycopg

from learnbot.backup.arguments import add_backup_commands
from learnbot.backup.catalog import Backup, checksum_problem, list_backups
from learnbot.backup.job import backup_once, drill_once
from learnbot.backup.pitr_commands import run_pitr_command
from learnbot.backup.postgres import DatabaseError
from learnbot.backup.restore import RestoreRefused, restore_backup
from learnbot.backup.schedule import run_scheduled, serve_metrics
from learnbot.backup.settings import BackupSettings
from learnbot.observability.logs import logging_config, scrub
from learnbot.settings import ConfigError
from learnbot.settings_table import LOG_FORMAT, LOG_LEVEL
from learnbot.storage import StorageError

_PROGRAM = "learnbot backup"


def run_backup_command(args: argparse.Namespace) -> int:
    settings = BackupSettings.from_env(os.environ)
    command: str = args.backup_command
    if command == "run":
        return _run(settings, once=args.once)
    if command == "metrics":
        return _until_stopped(lambda stop: serve_metrics(settings, stop))
    if command == "verify":
        return _verify(settings, drill=args.restore_drill)
    if command == "restore":
        return _restore(settings, args.file, args.target, force=args.force)
    if command.startswith("pitr-"):
        return run_pitr_command(settings, args)
    return _list(settings)


def main(argv: Sequence[str] | None = None) -> int:
    """`learnbot backup …` on its own, without the rest of the `learnbot` command."""
    parser = argparse.ArgumentParser(prog="learnbot", description="learnbot's backup job.")
    add_backup_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        level = LOG_LEVEL.value_from_env(os.environ)
        log_format = LOG_FORMAT.value_from_env(os.environ)
        logging.config.dictConfig(
            logging_config(level, "console" if log_format == "console" else "json")
        )
        return run_backup_command(args)
    except ConfigError as error:
        print(f"learnbot: invalid configuration: {error}", file=sys.stderr)
        return 2


def _run(settings: BackupSettings, *, once: bool) -> int:
    if once:
        return 0 if backup_once(settings) else 1
    return _until_stopped(lambda stop: run_scheduled(settings, stop))


def _until_stopped(serve: Callable[[threading.Event], None]) -> int:
    """Runs `serve` until SIGTERM or SIGINT sets its event."""
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {
        signum: signal.signal(signum, request_stop) for signum in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        serve(stop)
    except OSError as error:
        print(f"{_PROGRAM} run: cannot serve metrics: {error}", file=sys.stderr)
        return 1
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


def _verify(settings: BackupSettings, *, drill: bool) -> int:
    backups = list_backups(settings.backup_dir)
    if not backups:
        print(f"{_PROGRAM} verify: no backups in {settings.backup_dir}", file=sys.stderr)
        return 1
    failed = 0
    for backup in backups:
        problem = checksum_problem(backup.path)
        print(f"ok      {backup.name}" if problem is None else f"FAILED  {problem}")
        failed += problem is not None
    if drill:
        record = drill_once(settings)
        if record is None:
            print(f"{_PROGRAM} verify: the restore drill could not run", file=sys.stderr)
            return 1
        outcome = "passed" if record.passed else "FAILED: " + "; ".join(record.problems)
        print(f"restore drill of {backups[-1].name}: {outcome}")
        failed += not record.passed
    return 1 if failed else 0


def _restore(settings: BackupSettings, file: Path, target_url: str, *, force: bool) -> int:
    path = file
    if not path.exists() and (settings.backup_dir / file).exists():
        path = settings.backup_dir / file
    if not path.is_file():
        print(f"{_PROGRAM} restore: no backup file at {file}", file=sys.stderr)
        return 1
    try:
        state = restore_backup(path, target_url, force=force)
    except RestoreRefused as error:
        print(f"{_PROGRAM} restore: refused: {error}", file=sys.stderr)
        return 1
    except (DatabaseError, psycopg.Error) as error:
        print(f"{_PROGRAM} restore: failed: {scrub(str(error))}", file=sys.stderr)
        return 1
    except StorageError as error:
        print(f"restored {path.name}, but the migration check failed: {error}", file=sys.stderr)
        return 1
    print(f"restored {path.name}")
    if state.current:
        print(f"database schema is current (migration {state.applied})")
    elif state.applied < state.latest:
        print(
            f"database schema is at migration {state.applied}, this release needs "
            f"{state.latest}: run 'learnbot migrate' with DATABASE_URL set to the target",
            file=sys.stderr,
        )
    else:
        print(
            f"database schema is at migration {state.applied}, newer than this release's "
            f"{state.latest}: serve it with the release that made the backup",
            file=sys.stderr,
        )
    return 0


def _list(settings: BackupSettings) -> int:
    backups = list_backups(settings.backup_dir)
    rows = [("TAKEN (UTC)", "SIZE", "VERIFIED", "FILE")]
    rows += [_row(backup) for backup in reversed(backups)]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for taken_at, size, verified, file in rows:
        cells = (taken_at.ljust(widths[0]), size.ljust(widths[1]), verified.ljust(widths[2]), file)
        print("  ".join(cells))
    print(f"{len(backups)} backup(s) in {settings.backup_dir}")
    return 0


def _row(backup: Backup) -> tuple[str, str, str, str]:
    record = backup.drill()
    if record is None:
        verified = "no"
    elif record.passed:
        verified = f"yes, {record.drilled_at:%Y-%m-%d %H:%M}"
    else:
        verified = f"FAILED, {record.drilled_at:%Y-%m-%d %H:%M}"
    return (
        f"{backup.taken_at:%Y-%m-%d %H:%M:%S}",
        _size(backup.size()),
        verified,
        str(backup.path),
    )


def _size(size: int) -> str:
    amount = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if amount < 1024 or unit == "GiB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    raise AssertionError("unreachable")
