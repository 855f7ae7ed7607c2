"""The runbooks' `docker` commands name containers the Docker stack runs, with the prefix of
the stack they are run against, and read what they say they read; the parser the rehearsal runs
them with (tests/rehearsal/runbook_commands.py) finds them all."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from pulumi_program import ROOT, run_stack
from rehearsal.runbook_commands import (
    RunbookCommand,
    docker_commands,
    is_docker_time,
    line_docker_commands,
    markdown_docker_commands,
)

RUNBOOKS = ROOT / "runbooks"
NETWORK = "docker:index/network:Network"
# The subcommands that act on the containers they are given.
ON_CONTAINERS = {
    "logs",
    "exec",
    "inspect",
    "top",
    "port",
    "diff",
    "attach",
    "start",
    "stop",
    "restart",
    "kill",
    "rm",
    "pause",
    "unpause",
    "wait",
    "cp",
}
WRITTEN_WITH_THE_PREFIX = re.compile(r'"?\$(?:PREFIX|\{PREFIX\})-[a-z0-9-]+"?')
# `learnbot-api` alone: not a replica (`learnbot-api-1`), the dashboard `learnbot-api-overview`,
# the Prometheus job (`job="learnbot-api"`) or the Kubernetes app label.
API_WITHOUT_REPLICA = re.compile(
    r'(?<!job=")(?<!job==")(?<!kubernetes\.io/name=)(?<![\w$/-])learnbot-api(?![\w-])'
)
PROMETHEUS_WITHOUT_PREFIX = re.compile(r"(?<![\w}$-])prometheus\b")


@dataclass(frozen=True)
class DeployedStack:
    name: str
    prefix: str
    containers: frozenset[str]


@pytest.fixture(scope="module", params=["docker-defaults", "docker-configured"])
def deployed(request: pytest.FixtureRequest) -> DeployedStack:
    """The containers the Pulumi program registers for one of the platform tests' Docker stacks,
    and the prefix it names them with (the name of its network)."""
    run = run_stack(request.param)
    [network] = run.of_type(NETWORK)
    return DeployedStack(request.param, network.inputs["name"], frozenset(run.containers()))


def runbook_commands() -> list[RunbookCommand]:
    commands = docker_commands(RUNBOOKS)
    assert len(commands) > 20
    return commands


def test_every_container_a_runbook_names_is_one_the_stack_runs(deployed: DeployedStack) -> None:
    commands = docker_commands(RUNBOOKS, deployed.prefix)
    assert {name.removeprefix(deployed.prefix + "-") for name in deployed.containers} >= {
        "api-1",
        "api-2",
        "proxy",
        "postgres",
        "backup",
        "migrate",
        "prometheus",
    }
    unknown = [
        f"{command}: {container}"
        for command in commands
        for container in command.containers
        if container not in deployed.containers
    ]
    assert unknown == []


def test_every_command_on_containers_names_one() -> None:
    assert [
        str(command)
        for command in runbook_commands()
        if command.subcommand in ON_CONTAINERS and not command.containers
    ] == []


def test_container_names_are_written_with_the_prefix_variable() -> None:
    assert [
        f"{command}: {written}"
        for command in runbook_commands()
        for written in command.containers_as_written
        if not WRITTEN_WITH_THE_PREFIX.fullmatch(written)
    ] == []


def test_no_runbook_names_the_api_without_a_replica_number() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted(RUNBOOKS.rglob("*.md"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if API_WITHOUT_REPLICA.search(line)
    ]
    assert found == []


def test_no_docker_command_names_prometheus_without_the_prefix() -> None:
    assert [
        str(command)
        for command in runbook_commands()
        if PROMETHEUS_WITHOUT_PREFIX.search(" ".join(command.words[1:]))
    ] == []


def test_log_windows_are_times_docker_takes() -> None:
    """`docker logs --since 1d` is refused: Docker takes Go durations (24h), no days."""
    wrong = []
    for command in runbook_commands():
        words = command.words
        for index, word in enumerate(words):
            option, _, value = word.partition("=")
            if option not in ("--since", "--until"):
                continue
            value = value or (words[index + 1] if index + 1 < len(words) else "")
            if not is_docker_time(value):
                wrong.append(f"{command}: {value!r}")
    assert wrong == []


def test_the_commands_that_look_run_as_written() -> None:
    """The rehearsal runs every line whose command is read-only: each ps, logs, inspect and stats
    is one (no placeholder, no --follow)."""
    assert [
        f"{command}: {command.reason}"
        for command in runbook_commands()
        if command.subcommand in ("ps", "logs", "inspect", "stats") and not command.read_only
    ] == []


SAMPLE = """\
# A sample page

Look at `docker logs --since 30m "$PREFIX-api-1" 2>&1 | tail` first, or at `docker
ps -a --filter name="$PREFIX-"` for every container. The `docker` CLI, a `grep` span.

```sh
curl -s "$API/health"
docker exec "${PREFIX}-backup" learnbot backup list   # newest first
psql "$(docker exec "$PREFIX-api-1" printenv DATABASE_URL)" -c 'SELECT 1'
docker logs --since 1h "$PREFIX-prometheus" 2>&1 | grep -i rule | \\
  tail -n 5
docker exec "$PREFIX-backup" learnbot backup restore "$BACKUP_FILE" --target "$URL"
```

```sql
SELECT 'docker logs is no command here';
```

1. In a list item:

   ```sh
   docker restart "$PREFIX-api-2"; docker ps --filter "label=learnbot.component=api"
   ```
"""


def test_the_parser_finds_commands_in_blocks_spans_pipelines_and_substitutions() -> None:
    commands = markdown_docker_commands(SAMPLE, Path("sample.md"), "lb-prod")
    assert [
        (command.line, command.subcommand, command.container, command.read_only)
        for command in commands
    ] == [
        (3, "logs", "lb-prod-api-1", True),
        (3, "ps", None, True),
        (8, "exec", "lb-prod-backup", True),
        (9, "exec", "lb-prod-api-1", False),
        (10, "logs", "lb-prod-prometheus", True),
        (12, "exec", "lb-prod-backup", False),
        (22, "restart", "lb-prod-api-2", False),
        (22, "ps", None, False),
    ]
    by_line = {(command.line, command.subcommand): command for command in commands}
    assert by_line[3, "logs"].shell_line == ('docker logs --since 30m "$PREFIX-api-1" 2>&1 | tail')
    assert by_line[3, "ps"].shell_line == 'docker ps -a --filter name="$PREFIX-"'
    assert by_line[8, "exec"].containers_as_written == ('"${PREFIX}-backup"',)
    assert by_line[8, "exec"].program == ("learnbot", "backup", "list")
    assert by_line[9, "exec"].shell_line.startswith("psql ")
    assert by_line[9, "exec"].program == ("printenv", "DATABASE_URL")
    assert by_line[10, "logs"].shell_line.endswith("tail -n 5")
    assert by_line[12, "exec"].placeholders == ("$BACKUP_FILE", "$URL")
    assert "docker restart" in by_line[22, "ps"].reason
    assert str(by_line[10, "logs"]).startswith("sample.md:10: docker logs")


def test_the_parser_reads_the_runbooks_with_a_prefix() -> None:
    commands = docker_commands(RUNBOOKS, "lb-prod")
    assert all(command.path.is_relative_to(RUNBOOKS) for command in commands)
    named = [command.container for command in commands if command.container is not None]
    assert named
    assert [name for name in named if not name.startswith("lb-prod-")] == []


@pytest.mark.parametrize(
    ("line", "read_only"),
    [
        ('docker ps -a --filter name="$PREFIX-"', True),
        ("docker container ls", True),
        ('docker logs --since 30m "$PREFIX-api-1" 2>&1 | grep -i error | tail -n 50', True),
        ('docker logs -f "$PREFIX-api-1"', False),
        ('docker logs --since 1h "$PREFIX-api-1" > api.log 2>&1', False),
        ('docker logs --since 1h "$PREFIX-api-1" 2>/dev/null | jq -r .uri | sort | uniq -c', True),
        ("docker inspect --format '{{.State.Health.Status}}' \"$PREFIX-api-1\"", True),
        ("docker stats --no-stream", True),
        ("docker stats", False),
        ('docker exec "$PREFIX-api-1" printenv DATABASE_URL', True),
        ('docker exec "$PREFIX-postgres" df -h /var/lib/postgresql/data', True),
        ('docker exec "$PREFIX-api-1" pg_isready -h "$PREFIX-postgres" -p 5432', True),
        ('docker exec "$PREFIX-backup" learnbot backup list', True),
        ('docker exec "$PREFIX-backup" learnbot backup verify', True),
        ('docker exec "$PREFIX-backup" learnbot backup verify --restore-drill', False),
        ('docker exec "$PREFIX-backup" learnbot backup run --once', False),
        (
            'docker exec "$PREFIX-api-1" sh -c \'psql "$DATABASE_URL" -c "SELECT 1"\'',
            True,
        ),
        (
            'docker exec "$PREFIX-api-1" sh -c '
            '\'psql "$DATABASE_URL" -c "SELECT pg_terminate_backend(42)"\'',
            False,
        ),
        (
            'docker exec "$PREFIX-api-1" sh -c '
            '\'psql "$DATABASE_URL" -c "SELECT 1; DROP TABLE users"\'',
            False,
        ),
        ('docker exec -it "$PREFIX-postgres" psql -U learnbot -d learnbot', False),
        ('docker exec "$PREFIX-postgres" psql -U learnbot -c "DELETE FROM users"', False),
        ('docker exec "$PREFIX-prometheus" wget -qO- http://backup:9102/metrics | grep ^b', True),
        ('docker exec "$PREFIX-prometheus" wget --post-data=x -qO- http://backup:9102/', False),
        ('docker restart "$PREFIX-api-1"', False),
        ('docker start -a "$PREFIX-migrate"', False),
        ('docker ps -q --filter name="$PREFIX-api-" | xargs docker stop', False),
        ('psql "$(docker exec "$PREFIX-api-1" printenv DATABASE_URL)" -c "SELECT 1"', False),
        ('docker logs --since 1h "$PREFIX-api-$N"', False),
        ("docker logs <container>", False),
        ('docker logs "$PREFIX-api-1" | tail  # the newest <n> lines', True),
    ],
)
def test_read_only_lines(line: str, read_only: bool) -> None:
    commands = line_docker_commands(line)
    assert commands
    assert [(command.read_only, command.reason) for command in commands if command.reason] == (
        [] if read_only else [(False, command.reason) for command in commands]
    )


def test_prefix_and_placeholders() -> None:
    [command] = line_docker_commands('docker logs "${PREFIX}-api-2" | grep "$WORD"', "lb-prod")
    assert command.containers == ("lb-prod-api-2",)
    assert command.containers_as_written == ('"${PREFIX}-api-2"',)
    assert command.placeholders == ("$WORD",)
    assert not command.read_only
    [looped] = line_docker_commands(
        'for c in 1 2; do docker logs "$PREFIX-api-$c"; done', "lb-prod"
    )
    assert looped.placeholders == ()
    assert looped.containers == ("lb-prod-api-$c",)


@pytest.mark.parametrize(
    ("value", "taken"),
    [
        *[("30m", True), ("26h", True), ("1h30m", True), ("1.5h", True), ("2025-06-01", True)],
        *[("1d", False), ("8d", False), ("", False), ("30 m", False)],
    ],
)
def test_docker_times(value: str, taken: bool) -> None:
    assert is_docker_time(value) is taken
