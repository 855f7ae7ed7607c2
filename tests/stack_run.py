"""Runs the Pulumi program under Pulumi's unit-test mocks (no engine, no Docker) and reads
what it registered."""

from __future__ import annotations

import hashlib
import json
import re
import runpy
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.rpc import _special_secret_sig, _special_sig_key
from pulumi.runtime.sync_await import _sync_await

from learnbot_platform.repository import rule_paths

ROOT = Path(__file__).resolve().parents[1]
# The Docker target's settings that a Kubernetes stack refuses (learnbot_platform.stack_config).
DOCKER_ONLY = (
    "bindAddress",
    "proxyPort",
    "grafanaPort",
    "prometheusPort",
    "backupCipherPassphrase",
)
PLATFORM = ROOT / "platform"
BOT_TOKEN = "123456789:AAtest-token-for-the-platform-tests_01"
CONTAINER = "docker:index/container:Container"
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
BUILT_IMAGE = "docker:index/image:Image"
VOLUME = "docker:index/volume:Volume"
NETWORK = "docker:index/network:Network"
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"
# The components of either target, by the names they keep on both.
COMPONENTS = {
    "network": "learnbot:platform:Network",
    "database": "learnbot:platform:Database",
    "api": "learnbot:platform:Api",
    "backups": "learnbot:platform:Backups",
    "monitoring": "learnbot:platform:Monitoring",
}


def assert_command_exists(command: Sequence[str]) -> None:
    """The installed service answers `<command> --help`: a container may run it."""
    result = subprocess.run(
        [sys.executable, "-m", *command, "--help"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def jobs_the_rules_select() -> set[str]:
    """Every `job` the rule files of alerts/ select series by."""
    return {
        match for path in rule_paths() for match in re.findall(r'job="([\w.-]+)"', path.read_text())
    }


def image_id(reference: str) -> str:
    return "sha256:" + hashlib.sha256(reference.encode()).hexdigest()


GO_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def go_duration_read_back(text: str) -> str:
    """A duration as the Docker provider stores it after reading the container: Go's
    time.Duration.String() of whole seconds ("60s" -> "1m0s", "90m" -> "1h30m0s")."""
    match = GO_DURATION.match(text)
    assert text, "an empty duration"
    assert match, f"not a duration the provider reads: {text!r}"
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    h, m, sec = total // 3600, total % 3600 // 60, total % 60
    return f"{h}h{m}m{sec}s" if h else f"{m}m{sec}s" if m else f"{sec}s"


def read_back(typ: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The resource's state as the provider keeps it, where it differs from the inputs."""
    state = dict(inputs)
    if typ == CONTAINER and isinstance(state.get("healthcheck"), dict):
        state["healthcheck"] = {
            key: go_duration_read_back(value) if key in HEALTHCHECK_DURATIONS else value
            for key, value in state["healthcheck"].items()
        }
    return state


HEALTHCHECK_DURATIONS = ("interval", "timeout", "startPeriod", "startInterval")


class StackMocks(pulumi.runtime.Mocks):
    """Answers as a Docker engine would, and records every resource the program registers.
    With preview=True it answers as a preview does: no engine, every computed value unknown."""

    def __init__(self, migrate_exit_code: int = 0, *, preview: bool = False) -> None:
        self.resources: list[pulumi.runtime.MockResourceArgs] = []
        self.states: dict[tuple[str, str], dict[str, Any]] = {}
        self.migrate_exit_code = migrate_exit_code
        self.preview = preview
        self.addresses = 0

    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        self.resources.append(args)
        if self.preview:
            # What a preview knows of a resource to create: its inputs, nothing computed.
            return None, dict(args.inputs)
        state = read_back(args.typ, args.inputs)
        self.states[(args.typ, args.name)] = state
        if args.typ == REMOTE_IMAGE:
            state["imageId"] = image_id(args.inputs["name"])
            state["repoDigest"] = args.inputs["name"]
        elif args.typ == BUILT_IMAGE:
            state["repoDigest"] = image_id(args.inputs["imageName"])
        elif args.typ == RANDOM_PASSWORD:
            state["result"] = "generated-" + args.name
        elif args.typ == CONTAINER:
            self.addresses += 1
            state["exitCode"] = self.migrate_exit_code if args.name.endswith("-migrate") else 0
            state["networkDatas"] = [
                {"ipAddress": f"172.18.0.{self.addresses + 1}", "networkName": "learnbot"}
            ]
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], None]:
        return {}, None


def unchanged(
    first: StackMocks, second: StackMocks, *, invert: bool = False
) -> list[pulumi.runtime.MockResourceArgs]:
    """The resources of a second run whose inputs all equal what the first run left in the
    state (with invert=True: those that a `pulumi preview` would show as changed)."""
    found = []
    for resource in second.resources:
        state = first.states.get((resource.typ, resource.name))
        same = state is not None and all(
            plain(state.get(key)) == plain(value) for key, value in resource.inputs.items()
        )
        if same != invert:
            found.append(resource)
    return found


@dataclass(frozen=True)
class Registration:
    """What the program asked of the engine for one resource, beyond its inputs."""

    urn: str
    type: str
    name: str
    parent: str
    dependencies: tuple[str, ...]
    delete_before_replace: bool
    retain_on_delete: bool
    provider: str
    ignore_changes: tuple[str, ...]


class RecordingMonitor(MockMonitor):
    """The SDK's mock monitor, also keeping each registration's options and which resources
    registered their outputs."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: dict[str, Registration] = {}
        self.outputs_registered: set[str] = set()

    # Pulumi's mocks are untyped.
    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        self.registrations[response.urn] = Registration(
            urn=response.urn,
            type=request.type,
            name=request.name,
            parent=request.parent,
            dependencies=tuple(request.dependencies),
            delete_before_replace=request.deleteBeforeReplace,
            retain_on_delete=request.retainOnDelete,
            provider=request.provider,
            ignore_changes=tuple(request.ignoreChanges),
        )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:
        self.outputs_registered.add(request.urn)
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]


def is_secret_input(value: Any) -> bool:
    """Whether the engine received this input marked secret."""
    return isinstance(value, dict) and value.get(_special_sig_key) == _special_secret_sig


def walk_unsecret(value: Any) -> list[str]:
    """Every text of an input that the engine received unmarked."""
    if is_secret_input(value):
        return []
    if isinstance(value, dict):
        return [text for item in value.values() for text in walk_unsecret(item)]
    if isinstance(value, list):
        return [text for item in value for text in walk_unsecret(item)]
    return [str(value)]


def plain(value: Any) -> Any:
    """An input as the engine received it, secrets unwrapped."""
    if isinstance(value, dict):
        if value.get(_special_sig_key) == _special_secret_sig:
            return plain(value["value"])
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


@dataclass
class StackRun:
    mocks: StackMocks
    monitor: RecordingMonitor
    program: dict[str, Any]

    def registration(self, name: str) -> Registration:
        (found,) = [r for r in self.monitor.registrations.values() if r.name == name]
        return found

    def of_type(self, typ: str) -> list[pulumi.runtime.MockResourceArgs]:
        return [r for r in self.mocks.resources if r.typ == typ]

    def containers(self) -> dict[str, dict[str, Any]]:
        """Every container's inputs by its Docker name, secrets unwrapped."""
        return {plain(r.inputs)["name"]: plain(r.inputs) for r in self.of_type(CONTAINER)}

    def resource(self, name: str) -> pulumi.runtime.MockResourceArgs:
        (found,) = [r for r in self.mocks.resources if r.name == name]
        return found


def resolve(output: Any) -> Any:
    return _sync_await(pulumi.Output.from_input(output).future())


def is_secret(output: Any) -> bool:
    return bool(_sync_await(pulumi.Output.from_input(output).is_secret()))


def run_program(
    config: Mapping[str, str],
    *,
    secret_keys: Sequence[str] = (),
    stack: str = "test",
    migrate_exit_code: int = 0,
    mocks: StackMocks | None = None,
) -> StackRun:
    """Runs platform/__main__.py as `pulumi up` would, with this stack config (keys without the
    `learnbot:` namespace), against mocks instead of a Docker engine."""
    mocks = mocks or StackMocks(migrate_exit_code)
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(
        mocks, project="learnbot", stack=stack, preview=mocks.preview, monitor=monitor
    )
    pulumi.runtime.set_all_config(
        {f"learnbot:{key}": value for key, value in config.items()},
        [f"learnbot:{key}" for key in secret_keys],
    )
    namespace: dict[str, Any] = {}

    def program() -> Any:
        namespace.update(runpy.run_path(str(PLATFORM / "__main__.py"), run_name="__main__"))
        return pulumi.Output.all(*namespace["outputs"].values())

    pulumi.runtime.test(program)()  # type: ignore[no-untyped-call]
    return StackRun(mocks, monitor, namespace)


BASE_CONFIG = {"telegramBotToken": BOT_TOKEN, "adminTelegramIds": "111111111,222222222"}
# Account linking's client secrets, which reach the stack inside one secret setting.
OAUTH_CLIENT_SECRETS = {"github": "github-client-secret-2e9d", "corp": "corp-client-secret-71ab"}
# Every secret the stack takes, each a value no other setting contains.
SECRETS = {
    "telegramBotToken": BOT_TOKEN,
    "sentryDsn": "https://sentrykey0123@o1.ingest.sentry.io/4242",
    "dbPassword": "db-password-3f9a1c7e5b",
    "grafanaAdminPassword": "grafana-password-8d2e4f",
    "alertTelegramBotToken": "987654321:AAalert-bot-token-7c1d",
    "alertWebhookUrl": "https://tickets.example.com/hook-5e6f",
    "alertWebhookToken": "webhook-token-1a2b3c",
    "alertHeartbeatUrl": "https://hc-ping.com/heartbeat-0f1e2d",
    "backupS3AccessKeyId": "AKIAEXAMPLE9Z8Y",
    "backupS3SecretAccessKey": "s3-secret-key-0x9y8z",
    "telegramWebhookSecret": "telegram-webhook-secret-6b7c",
    "oauthClientSecrets": json.dumps(OAUTH_CLIENT_SECRETS),
    "backupCipherPassphrase": "pgbackrest-cipher-passphrase-9c8b7a",
}
# Every secret value, those inside a setting included.
SECRET_VALUES = (*SECRETS.values(), *OAUTH_CLIENT_SECRETS.values())
CONFIGURED = {
    **SECRETS,
    "namePrefix": "lb-prod",
    "adminTelegramIds": "111111111",
    "apiReplicas": "3",
    "bindAddress": "10.0.0.5",
    "proxyPort": "80",
    "grafanaPort": "3001",
    "prometheusPort": "9091",
    "alertTelegramChatId": "-1001234567890",
    "backupSchedule": "15 1 * * *",
    "backupKeepDaily": "10",
    "backupS3Url": "s3://learnbot-backups/prod",
    "backupS3Region": "eu-central-1",
    "telegramWebhookUrl": "https://bot.example.com/telegram/webhook",
    "oauthProviders": json.dumps(
        [
            {"id": "github", "kind": "github", "clientId": "Iv1.configured"},
            {"id": "corp", "issuer": "https://login.example.com", "clientId": "learnbot"},
        ]
    ),
    "oauthRedirectBaseUrl": "https://bot.example.com",
    "otelExporterEndpoint": "http://otel-collector.observability:4318",
}

KUBERNETES_CONFIG = {
    **BASE_CONFIG,
    "target": "kubernetes",
    "host": "api.example.com",
    "apiImageRepository": "ghcr.io/example/learnbot",
}
KUBERNETES_SECRETS = {
    **{key: value for key, value in SECRETS.items() if key not in DOCKER_ONLY},
    "kubeconfig": "apiVersion: v1\nkind: Config\nclusters: []\n# kubeconfig-secret-4d5e6f\n",
}
KUBERNETES_CONFIGURED = {
    **{key: value for key, value in CONFIGURED.items() if key not in DOCKER_ONLY},
    **KUBERNETES_SECRETS,
    "target": "kubernetes",
    "namePrefix": "learnbot-prod",
    "namespace": "learnbot-production",
    "host": "api.learnbot.example.com",
    "apiImageRepository": "registry.example.com:5000/team/learnbot",
    "apiImageTag": "2026.11.29-abc123",
    "apiMaxReplicas": "12",
    "apiCpuMillicores": "750",
    "apiWorkers": "1",
    "databasePoolSize": "8",
    "dbInstances": "5",
    "dbStorageGb": "50",
    "backupStorageGb": "80",
    "storageClassName": "fast-ssd",
    "ingressClassName": "nginx",
    "tlsSecretName": "learnbot-api-tls",
}

# The stacks the platform tests run, by name: each target with only its required settings, and
# with every secret and a setting changed from each default that matters.
STACKS: dict[str, tuple[Mapping[str, str], tuple[str, ...], str]] = {
    "docker-defaults": (BASE_CONFIG, ("telegramBotToken",), "test"),
    "docker-configured": (CONFIGURED, tuple(SECRETS), "prod"),
    "kubernetes-defaults": (KUBERNETES_CONFIG, ("telegramBotToken",), "test"),
    "kubernetes-configured": (KUBERNETES_CONFIGURED, tuple(KUBERNETES_SECRETS), "prod"),
}


def run_stack(name: str, mocks: StackMocks | None = None) -> StackRun:
    config, secret_keys, stack = STACKS[name]
    return run_program(config, secret_keys=secret_keys, stack=stack, mocks=mocks)
