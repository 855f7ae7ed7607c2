"""The database's password after `pulumi destroy` and `up`: the official image applies
POSTGRES_PASSWORD_FILE only to a new data folder, so the stack's one-off container gives the
role the stack's password. Its command is run here against a real PostgreSQL server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from installed_tools import tool
from learnbot_platform.docker.database import SOCKET_DIR, set_password_command, set_password_sql
from stack_run import StackRun


def scram_matches(verifier: str, password: str) -> bool:
    """Whether a SCRAM-SHA-256 verifier (RFC 5802, as pg_authid keeps it) is of password."""
    method, rest = verifier.split("$", 1)
    assert method == "SCRAM-SHA-256"
    iterations_salt, keys = rest.split("$")
    iterations, salt = iterations_salt.split(":")
    stored_key, _ = keys.split(":")
    salted = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(salt), int(iterations)
    )
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return hmac.compare_digest(hashlib.sha256(client_key).digest(), base64.b64decode(stored_key))


@pytest.fixture
def role(postgres_server_url: str) -> Iterator[str]:
    """A superuser that logs in, as POSTGRES_USER is in the official image."""
    name = f"learnbot_pw_{secrets.token_hex(4)}"
    with psycopg.connect(postgres_server_url, autocommit=True) as connection:
        connection.execute(
            sql.SQL("CREATE ROLE {} LOGIN SUPERUSER PASSWORD 'the-old-password'").format(
                sql.Identifier(name)
            )
        )
    try:
        yield name
    finally:
        with psycopg.connect(postgres_server_url, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def test_the_one_off_container_gives_the_role_the_stacks_password(
    postgres_server_url: str, role: str, tmp_path: Path
) -> None:
    tool("psql", "postgresql-client package")
    new_password = "new-generated-" + secrets.token_hex(12)
    password_file = tmp_path / "postgres-password"
    password_file.write_text(new_password)
    sql_file = tmp_path / "set-password.sql"
    sql_file.write_text(set_password_sql(role, str(password_file)))
    server = urlsplit(postgres_server_url)
    command = set_password_command(server.hostname or "", role, "postgres", str(sql_file))
    result = subprocess.run(
        command,
        env={"PATH": "/usr/bin:/bin", "PGPORT": str(server.port or 5432)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # Neither the password nor the SQL around it is printed.
    assert new_password not in result.stdout + result.stderr
    with psycopg.connect(postgres_server_url) as connection:
        row = connection.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,)
        ).fetchone()
    assert row is not None
    assert scram_matches(row[0], new_password)
    assert not scram_matches(row[0], "the-old-password")


def test_the_one_off_container_shares_the_servers_socket(default_stack: StackRun) -> None:
    containers = default_stack.containers()
    server, setter = containers["learnbot-postgres"], containers["learnbot-postgres-set-password"]
    sockets = [
        {v["containerPath"]: v["volumeName"] for v in c["volumes"]}.get(SOCKET_DIR)
        for c in (server, setter)
    ]
    assert sockets[0] is not None
    assert sockets[0] == sockets[1]
    assert setter["command"][-1].startswith(f"until pg_isready -q -h {SOCKET_DIR} -U learnbot")
    uploads = {u["file"]: u for u in setter["uploads"]}
    assert uploads["/run/secrets/postgres-password"]["permissions"] == "0400"
    assert (
        "ALTER ROLE learnbot PASSWORD :'password'"
        in (uploads["/usr/local/share/learnbot/set-password.sql"]["content"])
    )
    # After destroy and up, or a new learnbot:dbPassword, it is a new container and runs again.
    assert default_stack.registration("database-set-password").delete_before_replace
