from __future__ import annotations

import configparser
import stat
from pathlib import Path

from learnbot.backup.pgbackrest import Repository, command_line, render_config, write_config

PASSPHRASE = "a-passphrase-of-the-tests-own-0123"


def repository(tmp_path: Path, passphrase: str | None = PASSPHRASE) -> Repository:
    return Repository(
        path=tmp_path / "repository",
        config_path=tmp_path / "conf" / "pgbackrest.conf",
        stanza="learnbot",
        cipher_passphrase=passphrase,
        keep_full=3,
        pg_data=Path("/var/lib/postgresql/data"),
        pg_socket_dir=Path("/var/run/postgresql"),
        pg_port=5433,
        pg_user="learnbot",
    )


def parsed(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    return parser


def test_the_configuration_names_the_repository_retention_cipher_and_server(
    tmp_path: Path,
) -> None:
    config = parsed(render_config(repository(tmp_path)))

    assert dict(config["global"]) == {
        "repo1-path": str(tmp_path / "repository"),
        "repo1-retention-full-type": "count",
        "repo1-retention-full": "3",
        "repo1-cipher-type": "aes-256-cbc",
        "repo1-cipher-pass": PASSPHRASE,
        "start-fast": "y",
        "log-level-console": "info",
        "log-level-file": "off",
    }
    assert dict(config["learnbot"]) == {
        "pg1-path": "/var/lib/postgresql/data",
        "pg1-socket-path": "/var/run/postgresql",
        "pg1-port": "5433",
        "pg1-user": "learnbot",
    }


def test_without_a_passphrase_the_repository_is_not_encrypted(tmp_path: Path) -> None:
    unencrypted = repository(tmp_path, passphrase=None)
    config = parsed(render_config(unencrypted))

    assert not unencrypted.encrypted
    assert "repo1-cipher-type" not in config["global"]
    assert "repo1-cipher-pass" not in config["global"]


def test_the_passphrase_is_never_in_the_repr(tmp_path: Path) -> None:
    assert PASSPHRASE not in repr(repository(tmp_path))


def test_the_configuration_is_written_for_its_owner_alone(tmp_path: Path) -> None:
    written = write_config(repository(tmp_path))

    assert written == tmp_path / "conf" / "pgbackrest.conf"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert written.read_text() == render_config(repository(tmp_path))


def test_commands_and_the_archive_command_use_the_generated_configuration(
    tmp_path: Path,
) -> None:
    config = tmp_path / "conf" / "pgbackrest.conf"
    assert repository(tmp_path).archive_command() == (
        f"pgbackrest --config={config} --stanza=learnbot archive-push %p"
    )
    assert command_line(repository(tmp_path), "check") == [
        "pgbackrest",
        f"--config={config}",
        "--stanza=learnbot",
        "check",
    ]
