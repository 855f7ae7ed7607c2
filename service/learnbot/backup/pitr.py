"""Restore to a point in time: a physical backup and the WAL archived after it, replayed up to
a chosen moment into an empty data directory, which then starts as a new primary."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from learnbot.backup import pgbackrest
from learnbot.backup.pgbackrest import Repository

LATEST = "latest"
TARGET_RULE = 'a time with its UTC offset, such as "2026-12-02 14:05:00+00", or latest'


class PitrRefused(ValueError):
    """A restore that must not start; the message says why."""


def parse_target(raw: str, now: datetime | None = None) -> datetime | None:
    """The moment to recover to, in UTC; None for the end of the archived WAL."""
    text = raw.strip()
    if text == LATEST:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise PitrRefused(f"--to: {TARGET_RULE}") from None
    if moment.tzinfo is None:
        raise PitrRefused(f"--to: {TARGET_RULE} (without an offset the time is ambiguous)")
    moment = moment.astimezone(UTC)
    if moment > (now or datetime.now(UTC)):
        raise PitrRefused(f"--to: {moment:%Y-%m-%d %H:%M:%S}+00 is in the future")
    return moment


def restore_arguments(target: datetime | None, into: Path) -> list[str]:
    """`pgbackrest restore`'s arguments: replay to `target` (or all WAL), then promote."""
    arguments = ["restore", f"--pg1-path={into}"]
    if target is not None:
        arguments += [
            "--type=time",
            f"--target={target:%Y-%m-%d %H:%M:%S.%f}+00",
            "--target-action=promote",
        ]
    return arguments


def check_target_directory(into: Path) -> None:
    if into.exists() and not into.is_dir():
        raise PitrRefused(f"--into: {into} is not a directory")
    if into.is_dir() and any(into.iterdir()):
        raise PitrRefused(f"--into: {into} is not empty; restore into a new, empty directory")
    if not into.parent.is_dir():
        raise PitrRefused(f"--into: {into.parent} does not exist")


def pitr_restore(repository: Repository, target: datetime | None, into: Path) -> str:
    """Restores into `into` (created if missing); PostgreSQL started on it replays the WAL."""
    check_target_directory(into)
    into.mkdir(mode=0o700, exist_ok=True)
    pgbackrest.write_config(repository)
    return pgbackrest.run(repository, *restore_arguments(target, into))
