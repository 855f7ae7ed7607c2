"""What a backup recorded about its snapshot, and what a restore drill found."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from learnbot.backup.postgres import TableContent


@dataclass(frozen=True, slots=True)
class Manifest:
    file: str
    started_at: datetime
    finished_at: datetime
    size_bytes: int
    sha256: str
    server_version: str
    tables: dict[str, TableContent]

    @property
    def duration_seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()

    def to_json(self) -> str:
        document = {
            "format": 1,
            "file": self.file,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "duration_seconds": self.duration_seconds,
            "size_bytes": self.size_bytes,
            "sha256": self.sha256,
            "server_version": self.server_version,
            "tables": {
                name: {"rows": content.rows, "checksum": content.checksum}
                for name, content in sorted(self.tables.items())
            },
        }
        return json.dumps(document, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        document: dict[str, Any] = json.loads(text)
        return cls(
            file=str(document["file"]),
            started_at=datetime.fromisoformat(document["started_at"]),
            finished_at=datetime.fromisoformat(document["finished_at"]),
            size_bytes=int(document["size_bytes"]),
            sha256=str(document["sha256"]),
            server_version=str(document["server_version"]),
            tables={
                name: TableContent(rows=int(table["rows"]), checksum=str(table["checksum"]))
                for name, table in document["tables"].items()
            },
        )


@dataclass(frozen=True, slots=True)
class DrillRecord:
    drilled_at: datetime
    passed: bool
    problems: tuple[str, ...] = ()

    def to_json(self) -> str:
        document = {
            "drilled_at": self.drilled_at.isoformat(),
            "passed": self.passed,
            "problems": list(self.problems),
        }
        return json.dumps(document, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> DrillRecord:
        document: dict[str, Any] = json.loads(text)
        return cls(
            drilled_at=datetime.fromisoformat(document["drilled_at"]),
            passed=document["passed"] is True,
            problems=tuple(str(problem) for problem in document["problems"]),
        )


def content_problems(
    recorded: dict[str, TableContent], restored: dict[str, TableContent]
) -> tuple[str, ...]:
    problems: list[str] = []
    for name in sorted(recorded.keys() | restored.keys()):
        before, after = recorded.get(name), restored.get(name)
        if after is None:
            problems.append(f"{name}: missing after the restore")
        elif before is None:
            problems.append(f"{name}: restored but not in the manifest")
        elif before.rows != after.rows:
            problems.append(f"{name}: {after.rows} rows restored, {before.rows} at backup time")
        elif before.checksum != after.checksum:
            problems.append(f"{name}: content differs from the backup time's checksum")
    return tuple(problems)
