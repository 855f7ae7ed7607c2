"""The layout of BACKUP_DIR: each dump beside its checksum, manifest and drill record."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from learnbot.backup.manifest import DrillRecord, Manifest

_NAME = re.compile(r"learnbot-([0-9]{8}T[0-9]{6}\.[0-9]{6})Z\.dump")
_TIME_FORMAT = "%Y%m%dT%H%M%S.%f"
CHECKSUM_SUFFIX = ".sha256"
MANIFEST_SUFFIX = ".manifest.json"
DRILL_SUFFIX = ".drill.json"
_SIDECAR_SUFFIXES = (CHECKSUM_SUFFIX, MANIFEST_SUFFIX, DRILL_SUFFIX)
# Work in progress is hidden and marked, so a listing never shows it and cleanup can find it.
_PARTIAL_SUFFIXES = (".partial", ".tmp")


class BackupBusy(Exception):
    """Another backup or drill holds BACKUP_DIR."""


@dataclass(frozen=True, slots=True)
class Backup:
    path: Path
    taken_at: datetime

    @classmethod
    def new(cls, directory: Path, taken_at: datetime) -> Backup:
        return cls(directory / f"learnbot-{taken_at.strftime(_TIME_FORMAT)}Z.dump", taken_at)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def checksum_path(self) -> Path:
        return sidecar(self.path, CHECKSUM_SUFFIX)

    @property
    def manifest_path(self) -> Path:
        return sidecar(self.path, MANIFEST_SUFFIX)

    @property
    def drill_path(self) -> Path:
        return sidecar(self.path, DRILL_SUFFIX)

    def size(self) -> int:
        return self.path.stat().st_size

    def manifest(self) -> Manifest | None:
        try:
            return Manifest.from_json(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def drill(self) -> DrillRecord | None:
        try:
            return DrillRecord.from_json(self.drill_path.read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def verified(self) -> bool:
        record = self.drill()
        return record is not None and record.passed


def sidecar(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def partial_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.partial")


def list_backups(directory: Path) -> list[Backup]:
    """Oldest first."""
    if not directory.is_dir():
        return []
    backups = []
    for path in directory.iterdir():
        match = _NAME.fullmatch(path.name)
        if match is not None and path.is_file():
            taken_at = datetime.strptime(match[1], _TIME_FORMAT).replace(tzinfo=UTC)
            backups.append(Backup(path, taken_at))
    return sorted(backups, key=lambda backup: backup.taken_at)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def checksum_line(digest: str, name: str) -> str:
    # The format of `sha256sum`, so `sha256sum -c` checks a backup without learnbot.
    return f"{digest}  {name}\n"


def checksum_problem(path: Path) -> str | None:
    """None when the file matches its SHA-256 sidecar, else what is wrong."""
    try:
        recorded = sidecar(path, CHECKSUM_SUFFIX).read_text(encoding="ascii").split()
    except FileNotFoundError:
        return f"{path.name}: no {CHECKSUM_SUFFIX} file beside it"
    except (OSError, UnicodeDecodeError) as error:
        return f"{path.name}: checksum file unreadable ({error})"
    if not recorded or not re.fullmatch(r"[0-9a-f]{64}", recorded[0]):
        return f"{path.name}: checksum file is malformed"
    try:
        actual = sha256_of(path)
    except OSError as error:
        return f"{path.name}: unreadable ({error.strerror})"
    if actual != recorded[0]:
        return f"{path.name}: SHA-256 {actual} does not match the recorded {recorded[0]}"
    return None


def fsync_file(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def fsync_directory(directory: Path) -> None:
    # After a rename, only the directory's fsync makes the new name survive a crash.
    fsync_file(directory)


def write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        with temporary.open("w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def remove_backup(backup: Backup) -> None:
    # The dump goes first: a crash between leaves orphan sidecars, never an unchecked dump.
    backup.path.unlink(missing_ok=True)
    for suffix in _SIDECAR_SUFFIXES:
        sidecar(backup.path, suffix).unlink(missing_ok=True)


def remove_leftovers(directory: Path) -> list[Path]:
    """Deletes what an interrupted run left: partial files and sidecars without a dump."""
    removed = []
    for path in directory.iterdir():
        partial = path.name.startswith(".learnbot-") and path.name.endswith(_PARTIAL_SUFFIXES)
        orphan = any(
            path.name.endswith(suffix)
            and _NAME.fullmatch(path.name.removesuffix(suffix))
            and not path.with_name(path.name.removesuffix(suffix)).exists()
            for suffix in _SIDECAR_SUFFIXES
        )
        if (partial or orphan) and path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


@contextmanager
def exclusive(directory: Path) -> Iterator[None]:
    """Holds BACKUP_DIR for one run or drill; a lock on the directory leaves no file behind."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise BackupBusy(f"another backup or drill is using {directory}") from None
            raise
        yield
    finally:
        with suppress(OSError):
            fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)
