"""The `learnbot backup` command line; cheap to import, unlike the job it starts."""

from __future__ import annotations

import argparse
from pathlib import Path

from learnbot.storage import database_dialect


def add_backup_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backup = commands.add_parser(
        "backup",
        help="back up DATABASE_URL with pg_dump; verify, list and restore backups",
        description="PostgreSQL backups in BACKUP_DIR, checked by SHA-256 and restore drills.",
    )
    actions = backup.add_subparsers(dest="backup_command", required=True, metavar="ACTION")
    run = actions.add_parser(
        "run", help="back up on BACKUP_SCHEDULE and serve metrics on BACKUP_METRICS_PORT"
    )
    run.add_argument("--once", action="store_true", help="take one backup, prune, and exit")
    actions.add_parser(
        "metrics",
        help="serve the metrics of `run --once` runs started by another scheduler (a Kubernetes "
        "CronJob) that share BACKUP_DIR and PROMETHEUS_MULTIPROC_DIR with it",
    )
    verify = actions.add_parser("verify", help="check the SHA-256 of every kept backup")
    verify.add_argument(
        "--restore-drill",
        action="store_true",
        help="also restore the newest backup into a scratch database and compare every table "
        "with the manifest taken with the dump",
    )
    restore = actions.add_parser(
        "restore", help="check a backup's SHA-256, then restore it into a database"
    )
    restore.add_argument("file", type=Path, help="a backup file, or its name in BACKUP_DIR")
    restore.add_argument(
        "--target",
        required=True,
        type=_postgresql_url,
        metavar="DATABASE_URL",
        help="the database to restore into; it must be empty unless --force is given",
    )
    restore.add_argument(
        "--force",
        action="store_true",
        help="restore into a non-empty database, dropping the objects the backup holds first",
    )
    actions.add_parser("list", help="list kept backups: time, size, verified by a drill or not")
    _add_physical_commands(actions)


def _add_physical_commands(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    physical = actions.add_parser(
        "pitr-backup", help="take one pgBackRest backup into PHYSICAL_BACKUP_REPOSITORY"
    )
    physical.add_argument("--type", choices=("full", "diff"), default="full", dest="backup_type")
    actions.add_parser(
        "pitr-verify",
        help="check every backup and WAL file of PHYSICAL_BACKUP_REPOSITORY (pgbackrest verify)",
    )
    restore = actions.add_parser(
        "pitr-restore",
        help="restore PHYSICAL_BACKUP_REPOSITORY's backups and WAL to a point in time",
        description="Restores the newest physical backup before --to into an empty data "
        "directory; PostgreSQL started on it replays the archived WAL up to --to and promotes.",
    )
    restore.add_argument(
        "--to",
        required=True,
        metavar="TIME",
        help='the moment to recover to with its UTC offset, "2026-12-02 14:05:00+00", or '
        "latest (all archived WAL)",
    )
    restore.add_argument(
        "--into", required=True, type=Path, metavar="DIR", help="an empty or new data directory"
    )
    restore.add_argument(
        "--dry-run", action="store_true", help="check and print what would run, run nothing"
    )


def _postgresql_url(raw: str) -> str:
    try:
        dialect = database_dialect(raw)
    except ValueError:
        dialect = None
    if dialect != "postgresql":
        # The URL may hold a password, so the message does not echo it.
        raise argparse.ArgumentTypeError("a postgresql://user:password@host:port/database URL")
    return raw
