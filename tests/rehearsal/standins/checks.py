"""Contract checks: each stand-in, started as the stack starts the official image (its
command, environment, uploaded files, volumes, healthcheck, memory limit and security options,
taken from platform/), does what the stack relies on the official image to do.

Every container, volume and network made here carries CHECK_LABEL and is removed at the end,
also when a check fails; so is the service image built from service/Dockerfile.
"""

from __future__ import annotations

import io
import json
import re
import secrets
import tarfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import partial
from typing import Any

import docker
import yaml
from docker.errors import APIError, BuildError, ImageNotFound, NotFound
from docker.models.containers import Container

# The Pulumi program's own modules: the checks start each container as the stack does.
from learnbot_platform import monitoring, rendering, repository, service_env, stack_config
from learnbot_platform.docker import api as stack_api
from learnbot_platform.docker import containers as stack_containers
from learnbot_platform.docker import database as stack_database
from learnbot_platform.docker import monitoring as stack_monitoring
from rehearsal.standins.images import BY_NAME, REPOSITORY_ROOT, STANDINS, build_text

CHECK_LABEL = "learnbot.standin-check"
SERVICE_TAG = "learnbot:standin-check"


def _pinned(folder: str) -> str:
    """The pinned name of the stand-in built from that folder."""
    (name,) = [standin.name for standin in STANDINS if standin.folder == folder]
    return name


POSTGRES = _pinned("postgres")
REDIS = _pinned("redis")
NGINX = _pinned("nginx")
PROMETHEUS = _pinned("prometheus")
ALERTMANAGER = _pinned("alertmanager")
EXPORTER = _pinned("postgres-exporter")
PYTHON = _pinned("python")
# The stack's healthchecks run every 5 to 15 s; here every second, so the checks wait less.
HEALTH_INTERVAL_NS = 1_000_000_000
HEALTHY_WITHIN_SECONDS = 120

Result = tuple[str, bool, str]


@dataclass(frozen=True, slots=True)
class Upload:
    """A file put into a container before it starts, as the stack's uploads are."""

    path: str
    content: str
    mode: int = 0o444
    owner: int = 0


def secret_upload(path: str, content: str, owner: int) -> Upload:
    """learnbot_platform/docker/containers.py's secret_file: 0400, its owner's."""
    return Upload(path, content, mode=0o400, owner=owner)


def _archive(uploads: Sequence[Upload]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for upload in uploads:
            data = upload.content.encode()
            info = tarfile.TarInfo(upload.path.lstrip("/"))
            info.size, info.mode = len(data), upload.mode
            info.uid = info.gid = upload.owner
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class Failed(Exception):
    """A check's expectation not met; its message is the check's detail."""


def expect(condition: bool, detail: str) -> None:
    if not condition:
        raise Failed(detail)


class Scratch:
    """A user-defined bridge network and what is made on it, all removed by close()."""

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client
        self.run_id = secrets.token_hex(4)
        self.labels = {CHECK_LABEL: self.run_id}
        self.network = client.networks.create(
            f"standin-check-{self.run_id}", driver="bridge", labels=self.labels
        )
        self._containers: list[Container] = []
        self._volumes: list[str] = []

    def name(self, part: str) -> str:
        return f"standin-check-{self.run_id}-{part}"

    def volume(self, part: str) -> str:
        volume = self.client.volumes.create(name=self.name(part), labels=self.labels)
        self._volumes.append(volume.name)
        return str(volume.name)

    def create(
        self,
        image: str,
        part: str,
        command: Sequence[str] | None = None,
        *,
        entrypoint: Sequence[str] | None = None,
        environment: Mapping[str, str] | None = None,
        uploads: Sequence[Upload] = (),
        volumes: Mapping[str, str] | None = None,
        healthcheck: Sequence[str] | None = None,
        aliases: Sequence[str] = (),
        memory_mb: int | None = None,
    ) -> Container:
        """A container as learnbot_platform.docker.containers.run_container makes one: on the
        network (with aliases), no new privileges, a memory limit."""
        endpoint = self.client.api.create_endpoint_config(aliases=list(aliases) or None)
        arguments: dict[str, Any] = {
            "name": self.name(part),
            "labels": self.labels,
            "network": self.network.name,
            "networking_config": {self.network.name: endpoint},
            "security_opt": list(stack_containers.SECURITY_OPTS),
            "environment": dict(environment or {}),
            "volumes": {
                name: {"bind": path, "mode": "rw"} for name, path in (volumes or {}).items()
            },
        }
        if entrypoint is not None:
            arguments["entrypoint"] = list(entrypoint)
        if memory_mb is not None:
            arguments["mem_limit"] = f"{memory_mb}m"
        if healthcheck is not None:
            arguments["healthcheck"] = {
                "test": ["CMD", *healthcheck],
                "interval": HEALTH_INTERVAL_NS,
                "timeout": 5 * HEALTH_INTERVAL_NS,
                "retries": 3,
                "start_period": 60 * HEALTH_INTERVAL_NS,
            }
        container = self.client.containers.create(
            image, list(command) if command is not None else None, **arguments
        )
        self._containers.append(container)
        if uploads:
            container.put_archive("/", _archive(uploads))
        return container

    def start(self, image: str, part: str, *args: Any, **kwargs: Any) -> Container:
        container = self.create(image, part, *args, **kwargs)
        container.start()
        return container

    def run(
        self, image: str, part: str, *args: Any, timeout: int = 120, **kwargs: Any
    ) -> tuple[int, str]:
        """Runs a container to its end: its exit code and output."""
        container = self.start(image, part, *args, **kwargs)
        status = container.wait(timeout=timeout)
        return int(status["StatusCode"]), logs(container)

    def close(self) -> None:
        for container in self._containers:
            _ignore_missing(partial(container.remove, force=True, v=True))
        _ignore_missing(self.network.remove)
        for volume in self._volumes:
            _ignore_missing(partial(_remove_volume, self.client, volume))


def _ignore_missing(action: Callable[[], object]) -> None:
    with suppress(NotFound):
        action()


def _remove_volume(client: docker.DockerClient, name: str) -> None:
    client.volumes.get(name).remove(force=True)


def remove_leftovers(client: docker.DockerClient) -> None:
    """What an interrupted run of the checks left behind."""
    label: dict[str, Any] = {"label": CHECK_LABEL}
    for container in client.containers.list(all=True, filters=label):
        _ignore_missing(partial(container.remove, force=True, v=True))
    for network in client.networks.list(filters=label):
        _ignore_missing(network.remove)
    for volume in client.volumes.list(filters=label):
        _ignore_missing(partial(volume.remove, force=True))
    for image in client.images.list(filters=label):
        _ignore_missing(partial(client.images.remove, str(image.id), force=True))


def logs(container: Container) -> str:
    return bytes(container.logs(stdout=True, stderr=True)).decode(errors="replace")


def run_in(container: Container, script: str, user: str = "") -> tuple[int, str]:
    """A shell script in a running container: its exit code and output."""
    result = container.exec_run(["sh", "-c", script], user=user)
    output = result.output
    assert isinstance(output, bytes), "not streamed"
    return int(result.exit_code or 0), output.decode(errors="replace")


def wait_healthy(container: Container, timeout: float = HEALTHY_WITHIN_SECONDS) -> float:
    """Seconds until the container's healthcheck passed."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        container.reload()
        state = container.attrs["State"]
        if state.get("Health", {}).get("Status") == "healthy":
            return time.monotonic() - started
        if state["Status"] in ("exited", "dead"):
            raise Failed(f"exited ({state['ExitCode']}) before healthy:\n{tail(logs(container))}")
        time.sleep(0.5)
    raise Failed(f"not healthy after {timeout:.0f} s:\n{tail(logs(container))}")


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def image_config(client: docker.DockerClient, name: str) -> dict[str, Any]:
    config: dict[str, Any] = client.images.get(name).attrs["Config"]
    return config


def env_of(config: Mapping[str, Any]) -> dict[str, str]:
    return dict(entry.split("=", 1) for entry in config.get("Env") or [])


def expect_config(
    config: Mapping[str, Any],
    *,
    entrypoint: list[str] | None,
    cmd: list[str] | None,
    user: str = "",
    workdir: str = "",
    ports: Sequence[str] = (),
    stop_signal: str | None = None,
) -> str:
    found = {
        "Entrypoint": config.get("Entrypoint"),
        "Cmd": config.get("Cmd"),
        "User": config.get("User") or "",
        "WorkingDir": config.get("WorkingDir") or "",
        "StopSignal": config.get("StopSignal"),
    }
    wanted = {
        "Entrypoint": entrypoint,
        "Cmd": cmd,
        "User": user,
        "WorkingDir": workdir,
        "StopSignal": stop_signal,
    }
    for key, value in wanted.items():
        expect(found[key] == value, f"{key} is {found[key]!r}, not {value!r}")
    exposed = sorted(config.get("ExposedPorts") or {})
    expect(exposed == sorted(ports), f"exposes {exposed}, not {sorted(ports)}")
    return ", ".join(f"{key} {value!r}" for key, value in found.items() if value)


class Checks:
    """Runs the checks in order, each one's failure recorded without stopping the others."""

    def __init__(self) -> None:
        self.results: list[Result] = []

    @contextmanager
    def check(self, name: str) -> Iterator[list[str]]:
        """The body appends its detail to the list it is given; Failed or any error fails."""
        detail: list[str] = []
        started = time.monotonic()
        try:
            yield detail
        except Failed as failure:
            self.results.append((name, False, str(failure)))
        # Any error fails the check; the others still run.
        except Exception as error:
            self.results.append((name, False, f"{type(error).__name__}: {error}"))
        else:
            elapsed = time.monotonic() - started
            text = "; ".join(detail) or "ok"
            self.results.append((name, True, f"{text} ({elapsed:.1f} s)"))


def check_standins(
    client: docker.DockerClient, *, service_image: bool = True
) -> list[tuple[str, bool, str]]:
    """(check, passed, detail) for every contract check; the stand-ins must already be built
    (ensure_standins). service_image=False skips building the service image, the slowest
    check (it downloads the service's dependencies from PyPI)."""
    remove_leftovers(client)
    checks = Checks()
    _check_pins(checks)
    scratch = Scratch(client)
    try:
        _check_python(checks, scratch)
        database = _check_postgres(checks, scratch)
        _check_redis(checks, scratch)
        _check_nginx(checks, scratch)
        alertmanager = _check_alertmanager(checks, scratch)
        exporter = _check_exporter(checks, scratch, database)
        _check_prometheus(checks, scratch, alertmanager, exporter)
    finally:
        scratch.close()
    if service_image:
        _check_service_image(checks, client)
    return checks.results


def _check_pins(checks: Checks) -> None:
    with checks.check("pins: a stand-in for each image the stack pins, but Grafana") as detail:
        pinned = set(stack_config.DEFAULT_IMAGES.values()) - {
            stack_config.DEFAULT_IMAGES["grafanaImage"]
        }
        dockerfile = (REPOSITORY_ROOT / repository.DOCKERFILE).read_text()
        pinned |= set(re.findall(r"^FROM\s+(\S+)", dockerfile, flags=re.MULTILINE))
        expect(set(BY_NAME) == pinned, f"stand-ins {sorted(BY_NAME)} but pinned {sorted(pinned)}")
        detail.append(f"{len(pinned)} images")


# --- python:3.11.11-slim-bookworm -------------------------------------------------------------

PYTHON_TOOLS = """
set -e
for tool in python python3 pip pip3; do
    found="$(command -v "$tool")"
    test "$found" = "/usr/local/bin/$tool" || { echo "$tool is $found"; exit 1; }
done
for tool in groupadd useradd install apt-get; do
    command -v "$tool" > /dev/null || { echo "no $tool"; exit 1; }
done
python -c 'import os, sysconfig
marker = os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")
assert not os.path.exists(marker), marker'
python -m venv /tmp/venv
/tmp/venv/bin/pip --version > /dev/null
python --version
"""


def _check_python(checks: Checks, scratch: Scratch) -> None:
    client = scratch.client
    with checks.check("python: image configuration") as detail:
        config = image_config(client, PYTHON)
        detail.append(expect_config(config, entrypoint=None, cmd=["python3"]))
        env = env_of(config)
        expect(env.get("LANG") == "C.UTF-8", f"LANG is {env.get('LANG')!r}")
        expect(env["PATH"].startswith("/usr/local/bin:"), f"PATH is {env['PATH']}")
    with checks.check("python: python, pip, venv, no EXTERNALLY-MANAGED, useradd") as detail:
        code, output = scratch.run(PYTHON, "python-tools", ["sh", "-c", PYTHON_TOOLS])
        expect(code == 0, f"exit {code}: {tail(output)}")
        detail.append(output.strip())


def _check_service_image(checks: Checks, client: docker.DockerClient) -> None:
    """The real service image, from the unmodified service/Dockerfile FROM the stand-in, runs
    `learnbot --help`; then it and every image its build left are removed."""
    with checks.check("python: service/Dockerfile builds FROM it and runs learnbot") as detail:
        built: list[str] = []
        started = time.monotonic()
        try:
            try:
                image, output = client.images.build(
                    path=str(REPOSITORY_ROOT),
                    dockerfile=str(repository.DOCKERFILE),
                    tag=SERVICE_TAG,
                    labels={CHECK_LABEL: "service-image"},
                    rm=True,
                    forcerm=True,
                    pull=False,
                    timeout=1800,
                )
            except BuildError as error:
                text = build_text(error.build_log)
                built = _step_images(text)
                raise Failed(f"the build failed: {error.msg}\n{tail(text)}") from None
            built = _step_images(build_text(output))
            detail.append(f"built in {time.monotonic() - started:.0f} s")
            printed = client.containers.run(
                SERVICE_TAG, ["learnbot", "--help"], remove=True, labels={CHECK_LABEL: "service"}
            )
            text = bytes(printed).decode()
            expect("usage" in text.lower(), f"learnbot --help printed:\n{tail(text)}")
            user = image.attrs["Config"].get("User")
            detail.append(f"learnbot --help ran as {user}")
        finally:
            _remove_build(client, built)


def _step_images(build_output: str) -> list[str]:
    """The image of each step of a classic build, as its output names them."""
    return re.findall(r"^ ---> ([0-9a-f]{12})$", build_output, flags=re.MULTILINE)


def _remove_build(client: docker.DockerClient, steps: Sequence[str]) -> None:
    """Removes the tag, then the untagged images the build's steps left (the build stage's
    end among them), last first; an image with a tag, a child or a container stays."""
    _ignore_missing(lambda: client.images.remove(SERVICE_TAG))
    for step in reversed(steps):
        try:
            image = client.images.get(step)
            if not image.tags:
                client.images.remove(str(image.id))
        except (ImageNotFound, APIError):
            pass


# --- postgres:15.10-bookworm -------------------------------------------------------------------

POSTGRES_LAYOUT = """
set -e
echo "postgres $(id -u postgres):$(id -g postgres)"
echo "socket folder $(stat -c '%a %U' /var/run/postgresql)"
echo "PGDATA $PGDATA $(stat -c '%a %U' "$PGDATA")"
test ! -e /var/lib/postgresql/15/main || { echo "Debian's cluster is there"; exit 1; }
for tool in pg_isready psql pg_ctl postgres initdb gosu; do
    command -v "$tool" > /dev/null || { echo "no $tool"; exit 1; }
done
"""


@dataclass(frozen=True, slots=True)
class Database:
    container: Container
    host: str
    password: str
    socket: str


def _postgres_server(scratch: Scratch, password: str) -> Database:
    """learnbot_platform.docker.database's server: its command, environment, secret and volumes."""
    data, socket = scratch.volume("postgres-data"), scratch.volume("postgres-socket")
    container = scratch.start(
        POSTGRES,
        "postgres",
        ["postgres", "-c", f"max_connections={stack_config.POSTGRES_MAX_CONNECTIONS}"],
        environment={
            "POSTGRES_USER": service_env.DATABASE_USER,
            "POSTGRES_DB": service_env.DATABASE_NAME,
            "POSTGRES_PASSWORD_FILE": stack_database.SECRET_FILE,
        },
        uploads=[secret_upload(stack_database.SECRET_FILE, password, owner=0)],
        volumes={data: stack_database.DATA_DIR, socket: stack_database.SOCKET_DIR},
        healthcheck=[
            "pg_isready",
            "-q",
            "-h",
            "127.0.0.1",
            "-p",
            str(service_env.POSTGRES_PORT),
            "-U",
            service_env.DATABASE_USER,
            "-d",
            service_env.DATABASE_NAME,
        ],
        memory_mb=1024,
    )
    return Database(container, scratch.name("postgres"), password, socket)


def _psql(scratch: Scratch, part: str, url: str, sql: str) -> tuple[int, str]:
    """psql from another container on the network, over TCP."""
    return scratch.run(POSTGRES, part, ["psql", url, "-X", "-tAc", sql], timeout=60)


def _check_postgres(checks: Checks, scratch: Scratch) -> Database | None:
    client = scratch.client
    with checks.check("postgres: image configuration") as detail:
        config = image_config(client, POSTGRES)
        detail.append(
            expect_config(
                config,
                entrypoint=["docker-entrypoint.sh"],
                cmd=["postgres"],
                ports=["5432/tcp"],
                stop_signal="SIGINT",
            )
        )
        env = env_of(config)
        expect(env.get("PGDATA") == stack_database.DATA_DIR, f"PGDATA is {env.get('PGDATA')!r}")
        expect("/usr/lib/postgresql/15/bin" in env["PATH"].split(":"), f"PATH is {env['PATH']}")
        volumes = sorted(config.get("Volumes") or {})
        expect(volumes == [stack_database.DATA_DIR], f"volumes {volumes}")
    with checks.check("postgres: user 999:999, folders, tools, no Debian cluster") as detail:
        code, output = scratch.run(POSTGRES, "postgres-layout", ["bash", "-c", POSTGRES_LAYOUT])
        expect(code == 0, f"exit {code}: {tail(output)}")
        expect("postgres 999:999" in output, output)
        expect("socket folder 3777 postgres" in output, output)
        detail.append(output.strip().replace("\n", "; "))

    database: Database | None = None
    with checks.check("postgres: a new volume initialized from POSTGRES_PASSWORD_FILE") as detail:
        started = _postgres_server(scratch, "first-" + secrets.token_hex(8))
        detail.append(f"healthy after {wait_healthy(started.container):.1f} s")
        database = started
    if database is None:
        return None
    server = database.container
    url = service_env.database_url(database.host, database.password)

    with checks.check(
        "postgres: the initialization's server listened on the socket only"
    ) as detail:
        text = logs(server)
        done = text.find("PostgreSQL init process complete")
        expect(done >= 0, f"no initialization in the log:\n{tail(text)}")
        expect("listening on Unix socket" in text[:done], "no socket-only server before")
        expect("listening on IPv4" not in text[:done], "a TCP listener during initialization")
        expect('listening on IPv4 address "0.0.0.0"' in text[done:], "no TCP listener after")
        detail.append("TCP only after `init process complete`")

    with checks.check("postgres: runs as postgres, PGDATA 0700, scram-sha-256 for hosts") as detail:
        code, output = run_in(
            server, 'stat -c "%u:%g" /proc/1; stat -c %a "$PGDATA"; tail -n 1 "$PGDATA/pg_hba.conf"'
        )
        lines = output.split("\n")
        expect(code == 0 and lines[:2] == ["999:999", "700"], output)
        expect(lines[2] == "host all all all scram-sha-256", f"pg_hba.conf ends {lines[2]!r}")
        detail.append(output.strip().replace("\n", "; "))

    with checks.check("postgres: a password login over TCP from another container") as detail:
        code, output = _psql(
            scratch, "psql", url, "SELECT current_user, current_setting('max_connections')"
        )
        expect(code == 0 and output.strip() == "learnbot|100", f"exit {code}: {output}")
        wrong = service_env.database_url(database.host, "wrong")
        code, output = _psql(scratch, "psql-wrong", wrong, "SELECT 1")
        expect(code != 0 and "password authentication failed" in output, output)
        detail.append("learnbot logs in with its password (max_connections 100), not without")

    with checks.check(
        "postgres: the stack's set-password container (root, over the socket)"
    ) as detail:
        new_password = "second-" + secrets.token_hex(8)
        code, output = scratch.run(
            POSTGRES,
            "set-password",
            stack_database.set_password_command(
                stack_database.SOCKET_DIR,
                service_env.DATABASE_USER,
                service_env.DATABASE_NAME,
                stack_database.SET_PASSWORD_SQL,
            ),
            uploads=[
                secret_upload(stack_database.SECRET_FILE, new_password, owner=0),
                Upload(
                    stack_database.SET_PASSWORD_SQL,
                    stack_database.set_password_sql(
                        service_env.DATABASE_USER, stack_database.SECRET_FILE
                    ),
                ),
            ],
            volumes={database.socket: stack_database.SOCKET_DIR},
            memory_mb=64,
            timeout=60,
        )
        expect(code == 0, f"exit {code}: {tail(output)}")
        database = Database(server, database.host, new_password, database.socket)
        code, output = _psql(
            scratch,
            "psql-new",
            service_env.database_url(database.host, new_password),
            "SELECT current_user",
        )
        expect(code == 0 and output.strip() == "learnbot", f"exit {code}: {output}")
        detail.append("the new password logs in over TCP")

    with checks.check("postgres: SIGINT stops it fast; a restart skips initialization") as detail:
        server.stop(timeout=30)
        server.reload()
        expect(server.attrs["State"]["ExitCode"] == 0, f"exit {server.attrs['State']['ExitCode']}")
        expect("received fast shutdown request" in logs(server), "no fast shutdown in the log")
        server.start()
        detail.append(f"healthy again after {wait_healthy(server):.1f} s")
        expect("Skipping initialization" in logs(server), "no `Skipping initialization`")
    return database


# --- redis:7.4.1-alpine ------------------------------------------------------------------------


def _check_redis(checks: Checks, scratch: Scratch) -> None:
    client = scratch.client
    with checks.check("redis: image configuration, user 999:1000") as detail:
        config = image_config(client, REDIS)
        detail.append(
            expect_config(
                config,
                entrypoint=["docker-entrypoint.sh"],
                cmd=["redis-server"],
                workdir="/data",
                ports=["6379/tcp"],
            )
        )
        code, output = scratch.run(REDIS, "redis-user", ["sh", "-c", "id -u redis; id -g redis"])
        expect(output.split() == ["999", "1000"], f"redis is {output.split()}")
    with checks.check("redis: a first argument starting with - runs redis-server") as detail:
        code, output = scratch.run(REDIS, "redis-flags", ["--version"])
        expect(code == 0 and output.startswith("Redis server v="), output)
        detail.append(output.split()[2])
    with checks.check("redis: the stack's rate-limit store answers other containers") as detail:
        server = scratch.start(
            REDIS,
            "redis",
            list(service_env.RATE_LIMIT_STORE_COMMAND),
            healthcheck=["redis-cli", "ping"],
            memory_mb=64,
        )
        detail.append(f"healthy after {wait_healthy(server):.1f} s")
        code, output = scratch.run(
            REDIS, "redis-cli", ["redis-cli", "-h", scratch.name("redis"), "ping"], timeout=30
        )
        expect(code == 0 and output.strip() == "PONG", f"exit {code}: {output}")
        detail.append("PONG from another container")
        code, output = run_in(
            server,
            'stat -c "%u:%g" /proc/1; redis-cli config get protected-mode | tail -n 1;'
            " redis-cli config get maxmemory-policy | tail -n 1",
        )
        expect(output.split() == ["999:1000", "no", "allkeys-lru"], output)
        detail.append("runs as 999:1000, protected-mode no")


# --- nginx:1.26.2-alpine -----------------------------------------------------------------------

NGINX_LAYOUT = """
set -e
echo "nginx $(id -u nginx):$(id -g nginx)"
test -f /etc/nginx/mime.types
test "$(readlink /var/log/nginx/access.log)" = /dev/stdout
test "$(readlink /var/log/nginx/error.log)" = /dev/stderr
command -v wget > /dev/null
"""
# The user of each nginx worker process, from its command line's start.
WORKER_USERS = """
for d in /proc/[0-9]*; do
    case "$(tr '\\0' ' ' < "$d/cmdline" 2>/dev/null)" in
        "nginx: worker process"*) stat -c %u "$d" ;;
    esac
done | sort -u
"""


def _check_nginx(checks: Checks, scratch: Scratch) -> None:
    client = scratch.client
    config_text = rendering.nginx_config(
        "learnbot-api",
        service_env.API_PORT,
        listen_port=stack_api.PROXY_PORT,
        health_port=stack_api.PROXY_HEALTH_PORT,
    )
    upload = Upload("/etc/nginx/nginx.conf", config_text)
    with checks.check("nginx: image configuration, user 101:101, logs, wget") as detail:
        config = image_config(client, NGINX)
        detail.append(
            expect_config(
                config,
                entrypoint=["/docker-entrypoint.sh"],
                cmd=["nginx", "-g", "daemon off;"],
                ports=["80/tcp"],
                stop_signal="SIGQUIT",
            )
        )
        code, output = scratch.run(NGINX, "nginx-layout", ["sh", "-c", NGINX_LAYOUT])
        expect(code == 0 and "nginx 101:101" in output, f"exit {code}: {output}")
    with checks.check("nginx: the stack's configuration passes nginx -t") as detail:
        code, output = scratch.run(NGINX, "nginx-test", ["nginx", "-t"], uploads=[upload])
        expect(code == 0 and "syntax is ok" in output, f"exit {code}: {tail(output)}")
        detail.append("syntax is ok")
    with checks.check(
        "nginx: the stack's proxy serves the API, /healthz, refuses /metrics"
    ) as detail:
        # An API stand-in the proxy finds by the replicas' shared name, as on the stack's network.
        scratch.start(
            PYTHON,
            "api",
            ["python", "-m", "http.server", str(service_env.API_PORT)],
            aliases=["learnbot-api"],
            memory_mb=64,
        )
        proxy = scratch.start(
            NGINX,
            "proxy",
            uploads=[upload],
            healthcheck=stack_containers.wget_probe(
                f"http://127.0.0.1:{stack_api.PROXY_HEALTH_PORT}/healthz"
            ),
            memory_mb=128,
        )
        detail.append(f"healthy after {wait_healthy(proxy):.1f} s")
        host = scratch.name("proxy")
        script = (
            f"wget -q -O - http://{host}:{stack_api.PROXY_HEALTH_PORT}/healthz;"
            f" wget -q -O /dev/null http://{host}:{stack_api.PROXY_PORT}/ && echo api-ok;"
            f" wget -q -O /dev/null http://{host}:{stack_api.PROXY_PORT}/metrics || echo metrics-$?"
        )
        code, output = scratch.run(NGINX, "proxy-client", ["sh", "-c", script], timeout=60)
        # GNU wget exits 8 on an HTTP error status (busybox's wget: 1).
        expect(output.split() == ["ok", "api-ok", "metrics-8"], output)
        detail.append("/healthz ok, / proxied, /metrics refused")
        code, output = run_in(proxy, WORKER_USERS)
        expect(output.split() == ["101"], f"workers run as {output.split()}")
        expect('"uri":"/metrics","status":403' in logs(proxy), "no access log on stdout")
        detail.append("workers as 101, JSON access log on stdout")


# --- prom/alertmanager:v0.27.0 -----------------------------------------------------------------


def _alertmanager_uploads(with_receivers: bool) -> list[Upload]:
    """The stack's uploads: the rendered configuration and its secret files, nobody's."""
    receivers = (
        rendering.AlertReceivers(
            telegram_bot_token="123456789:AAcheck-token",
            telegram_chat_id=-1001234567890,
            webhook_url="http://alert-tickets:8080/alertmanager",
            webhook_token="check-token",
        )
        if with_receivers
        else rendering.AlertReceivers()
    )
    source = repository.read_monitoring_sources().alertmanager
    files = rendering.alertmanager_files(source, receivers)
    owner = monitoring.NOBODY_UID
    return [
        secret_upload(stack_monitoring.ALERTMANAGER_CONFIG, files.config, owner),
        *(secret_upload(path, text, owner) for path, text in files.secret_files.items()),
    ]


def _check_alertmanager(checks: Checks, scratch: Scratch) -> str | None:
    client = scratch.client
    with checks.check("alertmanager: image configuration, nobody, /alertmanager") as detail:
        config = image_config(client, ALERTMANAGER)
        detail.append(
            expect_config(
                config,
                entrypoint=["/bin/alertmanager"],
                cmd=[
                    f"--config.file={stack_monitoring.ALERTMANAGER_CONFIG}",
                    "--storage.path=/alertmanager",
                ],
                user="nobody",
                workdir="/alertmanager",
                ports=["9093/tcp"],
            )
        )
        code, output = scratch.run(
            ALERTMANAGER,
            "am-layout",
            ["-c", "id -u; id -g; stat -c %u /alertmanager; command -v wget"],
            entrypoint=["sh"],
        )
        expect(code == 0 and output.split()[:3] == ["65534"] * 3, f"exit {code}: {output}")
    for with_receivers in (True, False):
        name = "with" if with_receivers else "without"
        with checks.check(
            f"alertmanager: amtool accepts the stack's configuration {name} receivers"
        ) as detail:
            code, output = scratch.run(
                ALERTMANAGER,
                f"amtool-{name}",
                ["check-config", stack_monitoring.ALERTMANAGER_CONFIG],
                entrypoint=["/bin/amtool"],
                uploads=_alertmanager_uploads(with_receivers),
            )
            expect(code == 0 and "SUCCESS" in output, f"exit {code}: {tail(output)}")
            detail.append(
                " ".join(line.strip() for line in output.splitlines() if "receivers" in line)
            )

    with checks.check("alertmanager: runs the stack's configuration") as detail:
        volume = scratch.volume("alertmanager-data")
        server = scratch.start(
            ALERTMANAGER,
            "alertmanager",
            [
                f"--config.file={stack_monitoring.ALERTMANAGER_CONFIG}",
                "--storage.path=/alertmanager",
            ],
            uploads=_alertmanager_uploads(True),
            volumes={volume: "/alertmanager"},
            healthcheck=stack_containers.wget_probe(
                f"http://127.0.0.1:{stack_monitoring.ALERTMANAGER_PORT}/-/ready"
            ),
            memory_mb=128,
        )
        detail.append(f"healthy after {wait_healthy(server):.1f} s")
        code, output = run_in(
            server,
            f"wget -q -O - http://127.0.0.1:{stack_monitoring.ALERTMANAGER_PORT}/api/v2/status",
        )
        status = json.loads(output)
        expect("telegram-oncall" in status["config"]["original"], "another configuration loaded")
        detail.append(f"version {status['versionInfo']['version']}")
        return scratch.name("alertmanager")
    return None


# --- quay.io/prometheuscommunity/postgres-exporter:v0.15.0 -------------------------------------


def _expressions(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "expr" and isinstance(value, str):
                yield value
            else:
                yield from _expressions(value)
    elif isinstance(node, list):
        for item in node:
            yield from _expressions(item)


def _metric_names_used() -> set[str]:
    """The exporter's metrics that the rules of alerts/ and the panels of dashboards/ query."""
    documents: list[object] = [
        yaml.safe_load(text) for text in repository.read_monitoring_sources().rule_files.values()
    ]
    documents += [
        json.loads(path.read_text()) for path in (REPOSITORY_ROOT / "dashboards").glob("*.json")
    ]
    return {
        name
        for document in documents
        for expression in _expressions(document)
        for name in re.findall(r"\b(pg_[a-z_]+)", expression)
    }


def _check_exporter(checks: Checks, scratch: Scratch, database: Database | None) -> str | None:
    client = scratch.client
    with checks.check("postgres-exporter: image configuration, nobody, port 9187") as detail:
        config = image_config(client, EXPORTER)
        detail.append(
            expect_config(
                config,
                entrypoint=["/bin/postgres_exporter"],
                cmd=None,
                user="nobody",
                ports=[f"{monitoring.EXPORTER_PORT}/tcp"],
            )
        )
    if database is None:
        return None
    with checks.check("postgres-exporter: reads DATA_SOURCE_* and scrapes the database") as detail:
        port = monitoring.EXPORTER_PORT
        exporter = scratch.start(
            EXPORTER,
            "postgres-exporter",
            environment={
                "DATA_SOURCE_USER": service_env.DATABASE_USER,
                "DATA_SOURCE_PASS_FILE": stack_monitoring.EXPORTER_SECRET_FILE,
                "DATA_SOURCE_URI": f"{database.host}:{service_env.POSTGRES_PORT}/"
                f"{service_env.DATABASE_NAME}?sslmode=disable",
            },
            uploads=[
                secret_upload(
                    stack_monitoring.EXPORTER_SECRET_FILE,
                    database.password,
                    monitoring.NOBODY_UID,
                )
            ],
            healthcheck=stack_containers.wget_probe(f"http://127.0.0.1:{port}/metrics"),
            memory_mb=128,
        )
        detail.append(f"healthy after {wait_healthy(exporter):.1f} s")
        _, metrics = run_in(exporter, f"wget -q -O - http://127.0.0.1:{port}/metrics")
        expect(re.search(r"^pg_up 1$", metrics, flags=re.MULTILINE) is not None, "pg_up is not 1")
        exported = set(re.findall(r"^(pg_[a-z_]+)[{ ]", metrics, flags=re.MULTILINE))
        missing = sorted(_metric_names_used() - exported)
        expect(not missing, f"alerts/ or dashboards/ read metrics it lacks: {missing}")
        detail.append(
            f"pg_up 1 and the {len(_metric_names_used())} pg_ metrics alerts/ and dashboards/ read"
        )
        return scratch.name("postgres-exporter")
    return None


# --- prom/prometheus:v2.53.3 -------------------------------------------------------------------


def _prometheus_uploads(alertmanager: str, exporter: str) -> list[Upload]:
    """The stack's prometheus.yml, rendered with its jobs, and its rule files beside it."""
    sources = repository.read_monitoring_sources()
    jobs = [
        rendering.ScrapeJob("prometheus", (f"localhost:{stack_monitoring.PROMETHEUS_PORT}",)),
        rendering.ScrapeJob(
            "alertmanager", (f"{alertmanager}:{stack_monitoring.ALERTMANAGER_PORT}",)
        ),
        rendering.ScrapeJob("postgres", (f"{exporter}:{monitoring.EXPORTER_PORT}",)),
        rendering.ScrapeJob(monitoring.API_JOB, (f"learnbot-api:{service_env.API_PORT}",)),
        rendering.ScrapeJob(
            monitoring.BACKUP_JOB, (f"learnbot-backup:{service_env.BACKUP_METRICS_PORT}",)
        ),
    ]
    folder = stack_monitoring.PROMETHEUS_DIR
    rules = stack_monitoring.RULES_DIR
    config = rendering.prometheus_config(
        jobs,
        rule_files=[f"{rules}/{name}" for name in sources.rule_files],
        alertmanagers=[f"{alertmanager}:{stack_monitoring.ALERTMANAGER_PORT}"],
    )
    return [
        Upload(f"{folder}/prometheus.yml", config),
        *(Upload(f"{folder}/{rules}/{name}", text) for name, text in sources.rule_files.items()),
    ]


def _check_prometheus(
    checks: Checks, scratch: Scratch, alertmanager: str | None, exporter: str | None
) -> None:
    client = scratch.client
    folder = stack_monitoring.PROMETHEUS_DIR
    with checks.check("prometheus: image configuration, nobody, /prometheus") as detail:
        config = image_config(client, PROMETHEUS)
        detail.append(
            expect_config(
                config,
                entrypoint=["/bin/prometheus"],
                cmd=[
                    f"--config.file={folder}/prometheus.yml",
                    "--storage.tsdb.path=/prometheus",
                    "--web.console.libraries=/usr/share/prometheus/console_libraries",
                    "--web.console.templates=/usr/share/prometheus/consoles",
                ],
                user="nobody",
                workdir="/prometheus",
                ports=["9090/tcp"],
            )
        )
        code, output = scratch.run(
            PROMETHEUS,
            "prom-layout",
            ["-c", "id -u; id -g; stat -c %u /prometheus; command -v wget"],
            entrypoint=["sh"],
        )
        expect(code == 0 and output.split()[:3] == ["65534"] * 3, f"exit {code}: {output}")
    if alertmanager is None or exporter is None:
        return
    uploads = _prometheus_uploads(alertmanager, exporter)
    with checks.check("prometheus: promtool accepts the stack's configuration and rules") as detail:
        code, output = scratch.run(
            PROMETHEUS,
            "promtool",
            ["check", "config", f"{folder}/prometheus.yml"],
            entrypoint=["/bin/promtool"],
            uploads=uploads,
        )
        expect(code == 0, f"exit {code}: {tail(output)}")
        expect(output.count("SUCCESS") >= len(uploads), tail(output))
        detail.append(f"{len(uploads) - 1} rule files")

    with checks.check(
        "prometheus: runs the stack's configuration, scrapes the stand-ins"
    ) as detail:
        volume = scratch.volume("prometheus-data")
        port = stack_monitoring.PROMETHEUS_PORT
        server = scratch.start(
            PROMETHEUS,
            "prometheus",
            [
                f"--config.file={folder}/prometheus.yml",
                "--storage.tsdb.path=/prometheus",
                "--storage.tsdb.retention.time=30d",
            ],
            uploads=uploads,
            volumes={volume: "/prometheus"},
            healthcheck=stack_containers.wget_probe(f"http://127.0.0.1:{port}/-/ready"),
            memory_mb=1024,
        )
        detail.append(f"healthy after {wait_healthy(server):.1f} s")
        _, output = run_in(server, f"wget -q -O - http://127.0.0.1:{port}/api/v1/rules")
        groups = json.loads(output)["data"]["groups"]
        unhealthy = [
            rule["name"]
            for group in groups
            for rule in group["rules"]
            if rule.get("health") not in ("ok", "unknown")
        ]
        expect(bool(groups) and not unhealthy, f"{len(groups)} rule groups; failing: {unhealthy}")
        detail.append(f"{len(groups)} rule groups loaded")
        wanted = {"prometheus", "alertmanager", "postgres"}
        up: set[str] = set()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not wanted <= up:
            time.sleep(2)
            _, output = run_in(server, f"wget -q -O - http://127.0.0.1:{port}/api/v1/targets")
            targets = json.loads(output)["data"]["activeTargets"]
            up = {t["labels"]["job"] for t in targets if t["health"] == "up"}
        expect(wanted <= up, f"targets up: {sorted(up)}")
        detail.append("prometheus, alertmanager and postgres targets up")
