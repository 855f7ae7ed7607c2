"""`learnbot backup pitr-backup|pitr-verify|pitr-restore`: physical backups with pgBackRest."""

from __future__ import annotations

import argparse
import shlex
import sys

from learnbot.backup import pgbackrest
from learnbot.backup.pgbackrest import PgBackRestFailed
from learnbot.backup.physical import physical_backup_once, verify_repository
from learnbot.backup.pitr import (
    PitrRefused,
    check_target_directory,
    parse_target,
    pitr_restore,
    restore_arguments,
)
from learnbot.backup.settings import BackupSettings

_PROGRAM = "learnbot backup"


def run_pitr_command(settings: BackupSettings, args: argparse.Namespace) -> int:
    command: str = args.backup_command
    repository = settings.require_repository(f"'backup {command}'")
    if command == "pitr-backup":
        return 0 if physical_backup_once(repository, args.backup_type) else 1
    try:
        if command == "pitr-verify":
            print(verify_repository(repository), end="")
            print(f"repository {repository.path}: every backup and WAL file checked")
            return 0
        target = parse_target(args.to)
        if args.dry_run:
            check_target_directory(args.into)
            would_run = pgbackrest.command_line(repository, *restore_arguments(target, args.into))
            print(f"would write {repository.config_path} and run: {shlex.join(would_run)}")
            return 0
        print(pitr_restore(repository, target, args.into), end="")
    except PitrRefused as error:
        print(f"{_PROGRAM} {command}: refused: {error}", file=sys.stderr)
        return 1
    except (PgBackRestFailed, OSError) as error:
        print(f"{_PROGRAM} {command}: failed: {error}", file=sys.stderr)
        return 1
    moment = "the end of the archived WAL" if target is None else f"{target:%Y-%m-%d %H:%M:%S}+00"
    print(
        f"restored into {args.into}: start PostgreSQL on it and it replays the WAL up to "
        f"{moment}, then promotes"
    )
    return 0
