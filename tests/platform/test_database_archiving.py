"""The Docker database archives its WAL with pgBackRest: the image the stack builds, the server's
archive settings, the repository and passphrase volumes, the one-off containers that generate the
passphrase and create the stanza, and what the backup job mounts; under Pulumi's mocks."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

from learnbot.backup.pgbackrest import render_config
from learnbot_platform.docker.archiving import (
    IMAGE_FOLDER,
    PASSPHRASE_SECRET_FILE,
    PGBACKREST_KEY_DIR,
    generate_key_command,
    pgbackrest_repository,
)
from learnbot_platform.service_env import (
    PGBACKREST_CONFIG,
    PGBACKREST_KEY_FILE,
    PGBACKREST_REPOSITORY,
)
from learnbot_platform.stack_config import DEFAULT_IMAGES
from stack_run import BASE_CONFIG, BUILT_IMAGE, ROOT, SECRETS, VOLUME, StackRun, run_program

DATA_DIR = "/var/lib/postgresql/data"
SOCKET_DIR = "/var/run/postgresql"


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return dict(entry.split("=", 1) for entry in container.get("envs", []))


def mounts(container: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    return {
        v["containerPath"]: (v["volumeName"], bool(v.get("readOnly"))) for v in container["volumes"]
    }


def uploads(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {u["file"]: u for u in container.get("uploads", [])}


def pgbackrest_pin(dockerfile: Path) -> str:
    (pin,) = re.findall(r"pgbackrest=\S+", dockerfile.read_text())
    return str(pin)


def test_the_database_image_is_the_pinned_one_with_the_service_images_pgbackrest(
    default_stack: StackRun,
) -> None:
    (built,) = [
        r
        for r in default_stack.of_type(BUILT_IMAGE)
        if r.inputs["imageName"] == "learnbot-postgres:pgbackrest"
    ]
    build = built.inputs["build"]
    assert Path(build["context"]) == IMAGE_FOLDER
    assert Path(build["dockerfile"]) == IMAGE_FOLDER / "Dockerfile"
    assert build["args"] == {"POSTGRES_IMAGE": DEFAULT_IMAGES["postgresImage"]}
    assert built.inputs["skipPush"] is True
    dockerfile = IMAGE_FOLDER / "Dockerfile"
    assert pgbackrest_pin(dockerfile) == pgbackrest_pin(ROOT / "service" / "Dockerfile")
    assert not re.search(r"^#\s*syntax\s*=", dockerfile.read_text(), re.MULTILINE | re.I)


def test_the_server_archives_into_the_repository(default_stack: StackRun) -> None:
    server = default_stack.containers()["learnbot-postgres"]
    command = server["command"]
    assert command[:2] == ["sh", "-c"]
    assert command[command.index("postgres") :] == [
        "postgres",
        *("-c", "max_connections=100"),
        *("-c", "archive_mode=on"),
        *(
            "-c",
            "archive_command=pgbackrest --config=/etc/pgbackrest/learnbot.conf "
            "--stanza=learnbot archive-push %p",
        ),
        *("-c", "archive_timeout=60"),
    ]
    # The passphrase reaches pgBackRest through its environment, from the generated file.
    assert f"$(cat {PGBACKREST_KEY_FILE})" in command[2]
    assert 'exec docker-entrypoint.sh "$@"' in command[2]
    assert env_of(server)["PGBACKREST_REPO1_CIPHER_TYPE"] == "aes-256-cbc"
    config = uploads(server)[PGBACKREST_CONFIG]
    assert config["content"] == render_config(pgbackrest_repository())
    assert "cipher-pass" not in config["content"]
    assert mounts(server)[PGBACKREST_REPOSITORY] == ("learnbot-pgbackrest", False)
    assert mounts(server)[PGBACKREST_KEY_DIR] == ("learnbot-pgbackrest-key", True)


def test_archive_timeout_is_the_stacks_setting() -> None:
    stack = run_program(
        {**BASE_CONFIG, "archiveTimeoutSeconds": "15"}, secret_keys=("telegramBotToken",)
    )
    command = stack.containers()["learnbot-postgres"]["command"]
    assert "archive_timeout=15" in command


def test_the_passphrase_is_generated_once_into_a_kept_volume(default_stack: StackRun) -> None:
    volumes = {r.inputs["name"]: r for r in default_stack.of_type(VOLUME)}
    key = volumes["learnbot-pgbackrest-key"]
    assert default_stack.registration(key.name).retain_on_delete
    keygen = default_stack.containers()["learnbot-pgbackrest-keygen"]
    assert keygen["user"] == "999:999"
    assert keygen["command"] == generate_key_command()
    assert mounts(keygen) == {PGBACKREST_KEY_DIR: ("learnbot-pgbackrest-key", False)}
    # The server starts after it, and waits for the file it writes.
    assert default_stack.registration("database-pgbackrest-keygen").urn in (
        default_stack.registration("database-server").dependencies
    )


def test_the_key_command_writes_a_passphrase_once(tmp_path: Path) -> None:
    key = tmp_path / "passphrase"
    (script,) = [part for part in generate_key_command() if PGBACKREST_KEY_FILE in part]
    command = ["sh", "-c", script.replace(PGBACKREST_KEY_FILE, str(key))]
    subprocess.run(command, check=True)
    first = key.read_text()
    assert re.fullmatch(r"[A-Za-z0-9]{64}", first)
    assert key.stat().st_mode & 0o777 == 0o600
    subprocess.run(command, check=True)
    assert key.read_text() == first


def test_the_stanza_is_created_once_the_server_answers(default_stack: StackRun) -> None:
    stanza = default_stack.containers()["learnbot-pgbackrest-stanza"]
    script = stanza["command"][2]
    assert "until pg_isready -q -h /var/run/postgresql -U learnbot -d learnbot" in script
    assert script.endswith(
        "exec pgbackrest --config=/etc/pgbackrest/learnbot.conf --stanza=learnbot stanza-create"
    )
    assert stanza["user"] == "999:999"
    assert (stanza["restart"], stanza["mustRun"]) == ("on-failure", False)
    assert mounts(stanza)[DATA_DIR] == ("learnbot-postgres-data", True)
    assert mounts(stanza)[SOCKET_DIR] == ("learnbot-postgres-socket", False)
    assert default_stack.registration("database-server").urn in (
        default_stack.registration("database-pgbackrest-stanza").dependencies
    )


def test_the_backup_job_reads_the_data_files_and_writes_the_repository(
    default_stack: StackRun,
) -> None:
    job = default_stack.containers()["learnbot-backup"]
    assert job["user"] == "999:10001"
    assert mounts(job) == {
        "/var/lib/learnbot/backups": ("learnbot-backup-data", False),
        PGBACKREST_REPOSITORY: ("learnbot-pgbackrest", False),
        DATA_DIR: ("learnbot-postgres-data", True),
        SOCKET_DIR: ("learnbot-postgres-socket", False),
        PGBACKREST_KEY_DIR: ("learnbot-pgbackrest-key", True),
    }
    env = env_of(job)
    assert env["PHYSICAL_BACKUP_REPOSITORY"] == PGBACKREST_REPOSITORY
    # Where the database's containers have theirs: a restore's restore_command names it.
    assert env["PHYSICAL_BACKUP_CONFIG"] == PGBACKREST_CONFIG
    assert env["PHYSICAL_BACKUP_CIPHER_PASSPHRASE_FILE"] == PGBACKREST_KEY_FILE
    assert (env["PHYSICAL_BACKUP_PG_DATA"], env["PHYSICAL_BACKUP_PG_SOCKET_DIR"]) == (
        DATA_DIR,
        SOCKET_DIR,
    )
    assert env["PHYSICAL_BACKUP_PG_USER"] == "learnbot"
    assert "PHYSICAL_BACKUP_CIPHER_PASSPHRASE" not in env


def test_the_operators_passphrase_replaces_the_generated_one(configured_stack: StackRun) -> None:
    containers = configured_stack.containers()
    assert "lb-prod-pgbackrest-keygen" not in containers
    assert "lb-prod-pgbackrest-key" not in {
        r.inputs["name"] for r in configured_stack.of_type(VOLUME)
    }
    passphrase = SECRETS["backupCipherPassphrase"]
    for name, owner in (("lb-prod-postgres", "0"), ("lb-prod-pgbackrest-stanza", "999")):
        upload = uploads(containers[name])[PASSPHRASE_SECRET_FILE]
        assert (upload["content"], upload["owner"], upload["permissions"]) == (
            passphrase,
            owner,
            "0400",
        )
        assert f"$(cat {PASSPHRASE_SECRET_FILE})" in containers[name]["command"][2]
    job = env_of(containers["lb-prod-backup"])
    assert job["PHYSICAL_BACKUP_CIPHER_PASSPHRASE"] == passphrase
    assert "PHYSICAL_BACKUP_CIPHER_PASSPHRASE_FILE" not in job
