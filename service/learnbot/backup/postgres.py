"""Connections and PostgreSQL client tools, with the password kept out of arguments and logs."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import TupleRow

from learnbot.observability.logs import scrub

CONNECT_TIMEOUT_SECONDS = 10
# The same text form of every value in each session, so content checksums compare.
_SESSION_OPTIONS = (
    "-c TimeZone=UTC -c DateStyle=ISO,YMD -c IntervalStyle=postgres -c extra_float_digits=1 "
    "-c bytea_output=hex -c statement_timeout=0"
)
_TABLES = """
    SELECT n.nspname, c.relname
    FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\\_toast%'
      AND n.nspname NOT LIKE 'pg\\_temp\\_%'
    ORDER BY 1, 2
"""
# A sum of per-row hashes needs no ordering, no primary key and constant memory, unlike a
# string_agg of the whole table, which also stops at 1 GB.
_CONTENT = """
    SELECT count(*),
           coalesce(sum(('x' || left(md5(ROW(r.*)::text), 16))::bit(64)::bigint::numeric), 0)
    FROM {} AS r
"""


class DatabaseError(Exception):
    """The database or a client tool failed; the message never holds a password."""


class Interrupted(Exception):
    """The job is shutting down, so a client tool was stopped before it finished."""


@dataclass(frozen=True, slots=True)
class TableContent:
    rows: int
    checksum: str


@dataclass(frozen=True, slots=True)
class Database:
    parameters: tuple[tuple[str, str], ...]
    password: str | None

    @classmethod
    def from_url(cls, url: str) -> Database:
        try:
            parameters = conninfo_to_dict(url)
        except psycopg.ProgrammingError:
            raise DatabaseError("the database URL cannot be parsed") from None
        password = parameters.pop("password", None)
        return cls(
            tuple((key, str(value)) for key, value in parameters.items() if value is not None),
            None if password is None else str(password),
        )

    @property
    def name(self) -> str:
        return dict(self.parameters).get("dbname") or dict(self.parameters).get("user", "")

    def conninfo(self) -> str:
        return make_conninfo(**dict(self.parameters))

    def with_name(self, name: str) -> Database:
        return Database(
            (*((k, v) for k, v in self.parameters if k != "dbname"), ("dbname", name)),
            self.password,
        )

    def tool_environment(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.password is not None:
            env["PGPASSWORD"] = self.password
        env.setdefault("PGCONNECT_TIMEOUT", str(CONNECT_TIMEOUT_SECONDS))
        return env

    def connect(self, *, autocommit: bool = False) -> psycopg.Connection[TupleRow]:
        conninfo = self.conninfo()
        if self.password is not None:
            conninfo = make_conninfo(conninfo, password=self.password)
        try:
            return psycopg.connect(
                conninfo,
                autocommit=autocommit,
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                options=_SESSION_OPTIONS,
                application_name="learnbot-backup",
            )
        except psycopg.Error as error:
            raise DatabaseError(
                f"cannot connect to database {self.name!r}: {_clean(str(error))}"
            ) from None


def run_tool(
    tool: str,
    arguments: Sequence[str],
    database: Database | None = None,
    stop: threading.Event | None = None,
) -> str:
    """Runs a PostgreSQL client tool; returns its standard output."""
    executable = shutil.which(tool)
    if executable is None:
        raise DatabaseError(f"{tool} is not on PATH: install the PostgreSQL client tools")
    env: Mapping[str, str] = os.environ if database is None else database.tool_environment()
    process = subprocess.Popen(  # noqa: S603
        [executable, *arguments],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while True:
            try:
                output, errors = process.communicate(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                if stop is not None and stop.is_set():
                    process.terminate()
                    process.communicate()
                    raise Interrupted(f"{tool} stopped: the job is shutting down") from None
    except BaseException:
        if process.poll() is None:
            process.kill()
            process.wait()
        raise
    if process.returncode != 0:
        raise DatabaseError(f"{tool} failed with exit code {process.returncode}: {_clean(errors)}")
    return output


def table_contents(connection: psycopg.Connection[TupleRow]) -> dict[str, TableContent]:
    contents: dict[str, TableContent] = {}
    for schema, table in connection.execute(_TABLES).fetchall():
        query = sql.SQL(_CONTENT).format(sql.Identifier(schema, table))
        row = connection.execute(query).fetchone()
        assert row is not None
        contents[f"{schema}.{table}"] = TableContent(rows=int(row[0]), checksum=str(row[1]))
    return contents


def _clean(message: str) -> str:
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return scrub(" / ".join(lines[-5:]) or "no message")
