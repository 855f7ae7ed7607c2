"""The rehearsal's phases and checks, and its report."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors
import httpx
import yaml

from rehearsal.replay import ROOT, Engine, StackState, run
from rehearsal.runbook_commands import docker_commands
from rehearsal.standins import ensure_standins

PREFIX = "learnbot-rehearsal"
BOT_TOKEN_SECRET = "telegramBotToken"
ADMIN_ID = 424242
# What the rehearsal does not run, and why; printed under the report.
NOT_REHEARSED = (
    "Grafana: no Debian package to build a stand-in from (its dashboards are checked against a "
    "live Prometheus by tests/monitoring)",
    "the official images themselves: local stand-ins built from Debian bookworm packages, with "
    "Debian's versions (tests/rehearsal/standins/README.md)",
    "the Pulumi engine and its Docker provider: the program runs under Pulumi's mocks and its "
    "resources are created through the Docker API as the provider would create them",
)
Log = Callable[[str], None]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


@dataclass
class Check:
    name: str
    passed: bool
    detail: str
    seconds: float


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    phases: list[tuple[str, float]] = field(default_factory=list)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        log(f"--- {name}")
        started = time.monotonic()
        try:
            yield
        finally:
            self.phases.append((name, time.monotonic() - started))

    def check(self, name: str, probe: Callable[[], str]) -> bool:
        """Runs one check; an exception or a failed assertion fails it, with its message."""
        started = time.monotonic()
        try:
            detail = probe() or ""
            passed = True
        except Exception as error:  # a failed check is reported, the rehearsal goes on
            detail = f"{type(error).__name__}: {error}".strip()
            if not isinstance(error, AssertionError):
                detail += "\n" + traceback.format_exc(limit=3)
            passed = False
        self.checks.append(Check(name, passed, detail, time.monotonic() - started))
        log(f"{'pass' if passed else 'FAIL'}  {name}{': ' + detail if detail else ''}")
        return passed

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(check.passed for check in self.checks)

    def table(self) -> str:
        width = max(len(check.name) for check in self.checks) if self.checks else 10
        lines = ["", f"{'check':<{width}}  result  seconds  detail", "-" * (width + 40)]
        for check in self.checks:
            detail = check.detail.splitlines()[0] if check.detail else ""
            result = "pass" if check.passed else "FAIL"
            lines.append(
                f"{check.name:<{width}}  {result:<6}  {check.seconds:7.1f}  {detail[:100]}"
            )
        lines += ["", f"{'phase':<{width}}  seconds", "-" * (width + 10)]
        lines += [f"{name:<{width}}  {seconds:7.1f}" for name, seconds in self.phases]
        lines += ["", "Not rehearsed:"] + [f"- {item}" for item in NOT_REHEARSED]
        return "\n".join(lines)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stack_config(proxy_port: int, prometheus_port: int, grafana_port: int) -> dict[str, str]:
    """The dev stack (Pulumi.dev.yaml), under the rehearsal's prefix and on free ports."""
    dev = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    config = {key.removeprefix("learnbot:"): str(value) for key, value in dev.items()}
    config.update(
        namePrefix=PREFIX,
        adminTelegramIds=str(ADMIN_ID),
        proxyPort=str(proxy_port),
        prometheusPort=str(prometheus_port),
        grafanaPort=str(grafana_port),
    )
    return config


def without_grafana(name: str) -> str | None:
    if name.startswith("monitoring-grafana"):
        return "Grafana has no stand-in image"
    return None


@dataclass
class Stack:
    """The rehearsed stack: how to reach it, and the state Pulumi would keep of it."""

    client: docker.DockerClient
    config: dict[str, str]
    secrets: dict[str, str]
    state: StackState = field(default_factory=StackState)

    @property
    def proxy(self) -> str:
        return f"http://127.0.0.1:{self.config['proxyPort']}"

    @property
    def prometheus(self) -> str:
        return f"http://127.0.0.1:{self.config['prometheusPort']}"

    @property
    def bot_token(self) -> str:
        return self.secrets[BOT_TOKEN_SECRET]

    def deploy(self, engine: Engine, **overrides: str) -> list[str]:
        self.config.update(overrides)
        resources = run(
            self.client,
            {**self.config, **self.secrets},
            tuple(self.secrets),
            self.state,
            log,
            without_grafana,
        )
        return engine.up(resources, self.state)

    def container(self, suffix: str) -> Any:
        return self.client.containers.get(f"{PREFIX}-{suffix}")

    def signed_in(self, telegram_id: int, first_name: str = "Rehearsal") -> dict[str, str]:
        """The headers of a request by this user, signed for the stack's bot."""
        return {"Authorization": f"tma {init_data(self.bot_token, telegram_id, first_name)}"}

    def exec(self, suffix: str, *command: str) -> str:
        result = self.container(suffix).exec_run(list(command), demux=False)
        output: str = result.output.decode(errors="replace")
        assert result.exit_code == 0, f"{' '.join(command)} exited {result.exit_code}: {output}"
        return output


def init_data(bot_token: str, telegram_id: int, first_name: str = "Ann") -> str:
    from learnbot.auth.init_data import sign_init_data

    return sign_init_data(
        bot_token,
        {"id": telegram_id, "first_name": first_name, "language_code": "en"},
        auth_date=int(time.time()),
        query_id=f"rehearsal-{telegram_id}",
    )


def until(condition: Callable[[], Any], seconds: float, what: str, every: float = 1.0) -> Any:
    """Polls until condition() returns something true; its last error or value fails it."""
    deadline = time.monotonic() + seconds
    last: Any = None
    while True:
        try:
            value = condition()
            if value:
                return value
            last = value
        except (AssertionError, httpx.HTTPError, docker.errors.APIError) as error:
            last = error
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {seconds:.0f} s (last: {last!r})")
        time.sleep(every)


# --- checks on the running stack --------------------------------------------------------


def until_exited_zero(stack: Stack, suffix: str) -> None:
    """A one-off container ran to completion."""

    def exited() -> bool:
        container = stack.container(suffix)
        container.reload()
        status: str = container.attrs["State"]["Status"]
        code: int = container.attrs["State"]["ExitCode"]
        return status == "exited" and code == 0

    until(exited, 120, f"the {suffix} container's exit 0")


def check_migrated(stack: Stack) -> str:
    until_exited_zero(stack, "migrate")
    return "exit 0"


def check_no_restarts(stack: Stack) -> str:
    """A container that Docker had to restart started before what it needs was ready."""
    restarted = {}
    containers = stack_containers(stack.client)
    for container in containers:
        if container.attrs["RestartCount"]:
            restarted[container.name] = container.attrs["RestartCount"]
    assert not restarted, f"restarted: {restarted}"
    return f"{len(containers)} containers, none restarted"


def check_probes(stack: Stack) -> str:
    health = httpx.get(stack.proxy + "/health", timeout=5)
    assert health.status_code == 200, health.text
    ready = httpx.get(stack.proxy + "/ready", timeout=5)
    assert ready.status_code == 200, ready.text
    return f"/health {health.status_code}, /ready {ready.status_code}"


def check_sign_in(stack: Stack, users: dict[int, dict[str, Any]]) -> str:
    telegram_id = 700000001
    data = init_data(stack.bot_token, telegram_id, "Rehearsal")
    signed_in = httpx.post(stack.proxy + "/auth/telegram", json={"init_data": data}, timeout=10)
    assert signed_in.status_code == 200, signed_in.text
    me = httpx.get(stack.proxy + "/me", headers={"Authorization": f"tma {data}"}, timeout=10)
    assert me.status_code == 200, me.text
    user = me.json()["user"]
    assert user["telegram_id"] == telegram_id, user
    users[telegram_id] = user
    return f"user {telegram_id} created {user['created_at']}"


def check_metrics_refused(stack: Stack) -> str:
    for path in ("/metrics", "/metrics/", "/metrics?x=1"):
        answer = httpx.get(stack.proxy + path, timeout=5)
        assert answer.status_code == 403, f"{path}: {answer.status_code}"
    return "403 at the proxy"


def check_shared_rate_limit(stack: Stack) -> str:
    """One limit across both replicas: the counters live in Redis, not in each process."""
    from learnbot.settings import Settings

    limit = int(Settings.from_env({}).rate_limit_telegram_id.split("/")[0])
    data = init_data(stack.bot_token, 700000002, "Limited")
    signed_in = httpx.post(stack.proxy + "/auth/telegram", json={"init_data": data}, timeout=10)
    assert signed_in.status_code == 200, signed_in.text  # the first of the budget
    headers = {"Authorization": f"tma {data}", "Connection": "close"}
    statuses = []
    upstreams: set[str] = set()
    with httpx.Client(timeout=10) as client:
        for _ in range(limit):
            statuses.append(client.get(stack.proxy + "/me", headers=headers).status_code)
    assert statuses[-1] == 429, f"request {limit + 1} answered {statuses[-1]}"
    assert statuses.count(200) == limit - 1, f"{statuses.count(200)} answered 200 of {limit}"
    for line in stack.container("proxy").logs(tail=limit + 5).decode().splitlines():
        match = re.search(r'"upstream":"([^"]+)"', line)
        if match:
            upstreams.add(match.group(1))
    assert len(upstreams) >= 2, f"every request went to {upstreams}"
    return f"{limit} answered, then 429, over {len(upstreams)} replicas"


def prometheus_get(stack: Stack, path: str, **params: str) -> Any:
    answer = httpx.get(stack.prometheus + path, params=params, timeout=10)
    answer.raise_for_status()
    return answer.json()["data"]


def check_targets_up(stack: Stack) -> str:
    def all_up() -> list[str]:
        targets = prometheus_get(stack, "/api/v1/targets")["activeTargets"]
        down = [
            f"{t['labels']['job']} {t['scrapeUrl']}: {t['health']}"
            for t in targets
            if t["health"] != "up"
        ]
        assert targets, "no scrape target"
        assert not down, down
        return [t["labels"]["job"] for t in targets]

    jobs = until(all_up, 120, "every scrape target up", every=3)
    return f"{len(jobs)} targets up: {', '.join(sorted(set(jobs)))}"


def check_rules(stack: Stack) -> str:
    uploaded = {
        Path(upload["file"]).name
        for upload in stack.state.applied["monitoring-prometheus"].inputs["uploads"]
        if upload["file"].startswith("/etc/prometheus/rules/")
    }

    def evaluated() -> str:
        groups = prometheus_get(stack, "/api/v1/rules")["groups"]
        files = {Path(group["file"]).name for group in groups}
        assert files == uploaded, f"loaded {sorted(files)}, uploaded {sorted(uploaded)}"
        errors = [
            f"{rule['name']}: {rule['lastError']}"
            for group in groups
            for rule in group["rules"]
            if rule.get("lastError") or rule.get("health") == "err"
        ]
        assert not errors, errors
        # A group evaluates first within its interval of Prometheus' start: the 5-minute ones
        # may not have yet; every other group must have.
        unevaluated = [
            g["name"]
            for g in groups
            if g["interval"] <= 60 and not g.get("lastEvaluation", "").startswith("2")
        ]
        assert not unevaluated, f"not yet evaluated: {unevaluated}"
        failures = prometheus_get(
            stack, "/api/v1/query", query="sum(prometheus_rule_evaluation_failures_total)"
        )["result"]
        assert failures, "no prometheus_rule_evaluation_failures_total"
        assert float(failures[0]["value"][1]) == 0, f"{failures[0]['value'][1]} failed evaluations"
        later = [g["name"] for g in groups if g["interval"] > 60]
        return f"{len(groups)} groups from {len(files)} files, no evaluation error" + (
            f" ({', '.join(later)}: every {max(g['interval'] for g in groups):.0f} s)"
            if later
            else ""
        )

    return str(until(evaluated, 90, "every rule file loaded and evaluated", every=3))


def check_alertmanager(stack: Stack) -> str:
    status = json.loads(
        stack.exec("alertmanager", "wget", "-q", "-O", "-", "http://127.0.0.1:9093/api/v2/status")
    )
    assert "route" in status["config"]["original"], status["config"]
    seen = until(
        lambda: prometheus_get(stack, "/api/v1/alertmanagers")["activeAlertmanagers"],
        60,
        "Prometheus sending to Alertmanager",
    )
    return f"config loaded; Prometheus sends to {seen[0]['url']}"


def check_backup(stack: Stack) -> str:
    stack.exec("backup", "learnbot", "backup", "run", "--once")
    drill = stack.exec("backup", "learnbot", "backup", "verify", "--restore-drill")
    listing = stack.exec("backup", "learnbot", "backup", "list")
    rows = [line for line in listing.splitlines() if "/var/lib/learnbot/backups/" in line]
    assert rows, listing
    assert " yes, " in rows[0], f"the newest backup is not verified: {rows[0]}"
    return f"{len(rows)} backup(s) in the volume, the newest drilled: {drill.strip()[-80:]}"


def archived_count(stack: Stack) -> int:
    sql = "SELECT archived_count FROM pg_stat_archiver"
    output = stack.exec("postgres", "psql", "-X", "-U", "learnbot", "-d", "learnbot", "-tAc", sql)
    return int(output.strip())


def check_wal_archiving(stack: Stack) -> str:
    """The server's archive_command pushes WAL into the pgBackRest repository, whose stanza the
    stack created; a forced switch is archived."""
    until_exited_zero(stack, "pgbackrest-stanza")
    before = archived_count(stack)
    switch = "SELECT pg_logical_emit_message(false, 'rehearsal', 'x'), pg_switch_wal()"
    stack.exec("postgres", "psql", "-X", "-U", "learnbot", "-d", "learnbot", "-tAc", switch)
    after = until(
        lambda: archived_count(stack) > before and archived_count(stack),
        60,
        "a WAL segment archived",
    )
    return f"archived_count {before} -> {after}"


def check_physical_backup(stack: Stack) -> str:
    stack.exec("backup", "learnbot", "backup", "pitr-backup", "--type", "full")
    verified = stack.exec("backup", "learnbot", "backup", "pitr-verify")
    # A restore of the newest backup with all archived WAL, into the container's own /tmp.
    scratch = "/tmp/learnbot-rehearsal-restore"  # noqa: S108 - inside the container
    restored = stack.exec(
        "backup", "learnbot", "backup", "pitr-restore", "--to", "latest", "--into", scratch
    )
    assert "PG_VERSION" in stack.exec("backup", "ls", scratch), restored
    stack.exec("backup", "rm", "-rf", scratch)
    return f"full backup taken; {verified.strip().splitlines()[-1]}; restored into a scratch folder"


def check_runbooks(stack: Stack) -> str:
    commands = docker_commands(ROOT / "runbooks", PREFIX)
    assert commands, "no docker command found in runbooks/"
    existing = {container.name for container in stack.client.containers.list(all=True)}
    existing.add(f"{PREFIX}-grafana")  # not rehearsed: no stand-in image
    missing = sorted(
        {
            f"{c.path.name}:{c.line}: {name}"
            for c in commands
            for name in c.containers
            if name not in existing
        }
    )
    assert not missing, f"containers the runbooks name that the stack lacks: {missing}"
    failed = []
    ran = 0
    for command in commands:
        if not command.read_only or f"{PREFIX}-grafana" in command.containers:
            continue
        result = subprocess.run(
            ["bash", "-c", command.shell_line],
            env={**os.environ, "PREFIX": PREFIX},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        ran += 1
        if result.returncode != 0:
            where = f"{command.path.name}:{command.line}"
            failed.append(f"{where}: {command.shell_line}: {result.stderr.strip()[-200:]}")
    assert not failed, failed
    return f"{len(commands)} commands name existing containers; {ran} read-only ones ran"


def check_one_api_down(stack: Stack, users: dict[int, dict[str, Any]]) -> str:
    """One replica stopped: the proxy answers from the other, and LearnbotApiDown goes pending."""
    headers = stack.signed_in(next(iter(users)))
    replica = stack.container("api-1")
    replica.stop(timeout=30)
    try:
        statuses = [
            httpx.get(stack.proxy + "/me", headers=headers, timeout=10).status_code
            for _ in range(20)
        ]
        assert set(statuses) == {200}, statuses

        def api_down() -> str:
            alerts = prometheus_get(stack, "/api/v1/alerts")["alerts"]
            states = [a["state"] for a in alerts if a["labels"]["alertname"] == "LearnbotApiDown"]
            return next((state for state in states if state in ("pending", "firing")), "")

        state = until(api_down, 90, "LearnbotApiDown pending or firing", every=3)
    finally:
        replica.start()
        until(lambda: health_of(stack, "api-1") == "healthy", 120, "api-1 healthy again")
    return f"20 of 20 answered 200 with api-1 stopped; LearnbotApiDown {state}"


def health_of(stack: Stack, suffix: str) -> str:
    container = stack.container(suffix)
    container.reload()
    return str((container.attrs["State"].get("Health") or {}).get("Status", ""))


class SteadyClient:
    """GET /me through the proxy a few times a second (within the per-address rate limit),
    recording every answer."""

    def __init__(self, stack: Stack, telegram_id: int, per_second: float = 2.5) -> None:
        self.url = stack.proxy + "/me"
        self.headers = stack.signed_in(telegram_id)
        self.pause = 1 / per_second
        self.outcomes: list[tuple[float, object]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SteadyClient:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with httpx.Client(timeout=15) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    outcome: object = client.get(self.url, headers=self.headers).status_code
                except httpx.HTTPError as error:
                    outcome = repr(error)
                self.outcomes.append((started, outcome))
                self._stop.wait(max(0.0, self.pause - (time.monotonic() - started)))

    def failures(self) -> list[object]:
        return [outcome for _, outcome in self.outcomes if outcome != 200]


# --- the rehearsal ------------------------------------------------------------------------


def engine_client() -> docker.DockerClient | None:
    try:
        client = docker.from_env(timeout=600)
        client.ping()
        return client
    except docker.errors.DockerException as error:
        print(
            "make rehearse needs a Docker engine, and none answers "
            f"({error}).\nStart one: as root, `dockerd >/var/log/dockerd.log 2>&1 &` "
            "(Debian: apt-get install docker.io iptables), or set DOCKER_HOST; .ci/run does both.",
            file=sys.stderr,
        )
        return None


def stack_containers(client: docker.DockerClient) -> list[Any]:
    return list(client.containers.list(all=True, filters={"name": f"^{PREFIX}-"}))


def stack_networks(client: docker.DockerClient) -> list[Any]:
    """The network named PREFIX (the engine's name filter matches parts of names too)."""
    return [network for network in client.networks.list(names=[PREFIX]) if network.name == PREFIX]


def stack_volumes(client: docker.DockerClient) -> list[Any]:
    found = client.volumes.list(filters={"name": f"^{PREFIX}-"})
    return [volume for volume in found if volume.name.startswith(f"{PREFIX}-")]


def remove_stack(client: docker.DockerClient, *, keep_volumes: bool = False) -> list[str]:
    """Everything under the rehearsal's prefix: containers, the network, the volumes."""
    removed = []
    for container in stack_containers(client):
        container.remove(force=True, v=True)
        removed.append(container.name)
    for network in stack_networks(client):
        network.remove()
        removed.append(f"network {network.name}")
    if not keep_volumes:
        for volume in stack_volumes(client):
            volume.remove(force=True)
            removed.append(f"volume {volume.name}")
    for image in [*client.images.list(name=PREFIX), *client.images.list(name=f"{PREFIX}-postgres")]:
        client.images.remove(image.attrs["Id"], force=True)
        removed.append(f"image {','.join(image.tags)}")
    return removed


def left_behind(client: docker.DockerClient, volumes_before: set[str]) -> str:
    volumes = {volume.name for volume in client.volumes.list()} - volumes_before
    left = [c.name for c in stack_containers(client)]
    left += [f"network {n.name}" for n in stack_networks(client)]
    left += [f"volume {name}" for name in sorted(volumes)]
    assert not left, f"left behind: {left}"
    return "no container, network or volume of the stack"


def rehearse(client: docker.DockerClient, report: Report, keep: bool) -> None:
    import secrets

    stack = Stack(
        client,
        stack_config(free_port(), free_port(), free_port()),
        {
            BOT_TOKEN_SECRET: f"{secrets.randbelow(10**9)}:AA{secrets.token_urlsafe(24)}",
            "grafanaAdminPassword": secrets.token_urlsafe(16),
        },
    )
    engine = Engine(client, log, skip=without_grafana)
    users: dict[int, dict[str, Any]] = {}

    with report.phase("stand-in images"):
        report.check(
            "stand-in images built or cached", lambda: describe(ensure_standins(client, log=log))
        )

    with report.phase("first deploy"):
        deployed = report.check(
            "first deploy: every resource created", lambda: first_deploy(stack, engine)
        )
    if not deployed:
        return
    with report.phase("checks"):
        report.check("migrate container exits 0", lambda: check_migrated(stack))
        report.check("no container restarted", lambda: check_no_restarts(stack))
        report.check("/health and /ready through the proxy", lambda: check_probes(stack))
        report.check(
            "sign-in and /me through nginx, API, PostgreSQL", lambda: check_sign_in(stack, users)
        )
        report.check("/metrics refused at the proxy", lambda: check_metrics_refused(stack))
        report.check(
            "one rate limit across replicas (Redis)", lambda: check_shared_rate_limit(stack)
        )
        report.check("Prometheus: every scrape target up", lambda: check_targets_up(stack))
        report.check(
            "Prometheus: every rule file loaded, no evaluation error", lambda: check_rules(stack)
        )
        report.check(
            "Alertmanager: config loaded, Prometheus sends to it", lambda: check_alertmanager(stack)
        )
        report.check("backup run --once, verified, restore drill", lambda: check_backup(stack))
        report.check(
            "WAL archived to the pgBackRest repository", lambda: check_wal_archiving(stack)
        )
        report.check(
            "pitr-backup --type full, pitr-verify, pitr-restore --to latest",
            lambda: check_physical_backup(stack),
        )
        report.check(
            "runbooks: containers exist, read-only commands run", lambda: check_runbooks(stack)
        )
        report.check(
            "one API replica down: proxy answers, alert pending",
            lambda: check_one_api_down(stack, users),
        )

    with report.phase("second deploy (new image)"):
        report.check(
            "second deploy: rolling, no failed request", lambda: second_deploy(stack, engine, users)
        )

    with report.phase("destroy and deploy again"):
        report.check(
            "destroy keeps retained volumes; data and password survive",
            lambda: redeploy(stack, engine, users),
        )

    if keep:
        log(f"the stack stays up (REHEARSAL_KEEP=1): proxy {stack.proxy}")
        log(f"Prometheus {stack.prometheus}")
        log("remove it with: make rehearse-down")


def first_deploy(stack: Stack, engine: Engine) -> str:
    created = stack.deploy(engine)
    skipped = ", ".join(sorted(engine.skipped))
    return f"{len(created)} resources created; left out: {skipped}"


def describe(images: dict[str, str]) -> str:
    return f"{len(images)} images: {', '.join(sorted(images))}"


def second_deploy(stack: Stack, engine: Engine, users: dict[int, dict[str, Any]]) -> str:
    telegram_id = next(iter(users))
    proxy_before = stack.container("proxy").id
    with SteadyClient(stack, telegram_id) as client:
        time.sleep(2)
        changed = stack.deploy(engine, apiImageTag="rehearsal-2")
        time.sleep(3)
    failures = client.failures()
    assert len(client.outcomes) > 20, f"only {len(client.outcomes)} requests sent"
    assert not failures, f"{len(failures)} of {len(client.outcomes)} failed: {failures[:5]}"
    replaced = {name for name in changed if name.startswith(("api-", "backups-"))}
    expected = {"api-image", "api-migrate", "api-1", "api-2", "backups-folder", "backups-job"}
    assert replaced == expected, f"replaced {sorted(changed)}"
    assert stack.container("proxy").id == proxy_before, "the proxy was replaced"
    check_migrated(stack)
    return f"{len(client.outcomes)} requests, none failed; replaced {', '.join(sorted(changed))}"


def redeploy(stack: Stack, engine: Engine, users: dict[int, dict[str, Any]]) -> str:
    password_before = dict(stack.state.passwords)
    engine.destroy(stack.state)
    left = [c.name for c in stack_containers(stack.client)]
    assert not left, f"containers left after destroy: {left}"
    volumes = {v.name for v in stack_volumes(stack.client)}
    retained = {
        f"{PREFIX}-postgres-data",
        f"{PREFIX}-backup-data",
        f"{PREFIX}-pgbackrest",
        f"{PREFIX}-pgbackrest-key",
    }
    assert retained <= volumes, f"retained volumes gone: {sorted(retained - volumes)}"
    stack.deploy(engine)
    assert stack.state.passwords["database-password"] != password_before.get("database-password")
    check_migrated(stack)
    telegram_id, user = next(iter(users.items()))
    headers = stack.signed_in(telegram_id)
    me = until(
        lambda: httpx.get(stack.proxy + "/me", headers=headers, timeout=10),
        60,
        "/me after the new deploy",
    )
    assert me.status_code == 200, me.text
    assert me.json()["user"]["created_at"] == user["created_at"], (me.json(), user)
    created = user["created_at"]
    # The kept repository, encrypted with the kept passphrase, takes WAL and verifies.
    archiving = check_wal_archiving(stack)
    stack.exec("backup", "learnbot", "backup", "pitr-verify")
    return (
        f"user {telegram_id} still there (created {created}) under a new database password; "
        f"the kept repository: {archiving}, verified"
    )


def main(argv: list[str], *, keep: bool) -> int:
    client = engine_client()
    if client is None:
        return 2
    if argv[:1] == ["down"]:
        for what in remove_stack(client):
            log(f"removed {what}")
        return 0
    report = Report()

    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    # `kill`, a CI timeout: the stack is removed as after Ctrl-C.
    signal.signal(signal.SIGTERM, interrupted)
    leftovers = remove_stack(client)
    if leftovers:
        log(f"removed what an earlier rehearsal left: {', '.join(leftovers)}")
    volumes = {volume.name for volume in client.volumes.list()}
    try:
        rehearse(client, report, keep)
    except KeyboardInterrupt as stop:
        report.checks.append(Check("interrupted", False, str(stop) or "SIGINT", 0))
    finally:
        if not keep:
            with report.phase("teardown"):
                removed = remove_stack(client)
                log(f"removed {len(removed)} containers, networks, volumes and images")
                report.check("teardown left nothing behind", lambda: left_behind(client, volumes))
        print(report.table())
    return 0 if report.passed else 1
