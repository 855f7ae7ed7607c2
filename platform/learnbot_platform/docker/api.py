"""The service: its image built from service/Dockerfile, the migrations, the API containers
with the Redis their rate limits share, and the nginx proxy in front of them, the stack's
single public entry point."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_docker as docker

from learnbot_platform.docker.containers import (
    environment,
    healthcheck,
    plain_file,
    published_url,
    pulled_image,
    python_probe,
    run_container,
    run_one_off,
    wget_probe,
)
from learnbot_platform.rendering import nginx_config
from learnbot_platform.repository import DOCKERFILE
from learnbot_platform.service_env import API_PORT, RATE_LIMIT_STORE_COMMAND, rate_limit_storage_url

PROXY_PORT = 8080
PROXY_HEALTH_PORT = 8081
# How long a new replica waits for `learnbot migrate` before it exits and Docker restarts it.
MIGRATIONS_WAIT_SECONDS = 600


@dataclass(frozen=True, slots=True)
class ApiArgs:
    name_prefix: str
    network: pulumi.Input[str]
    repository_root: Path
    image_tag: str
    environment: Mapping[str, str]
    secret_environment: Mapping[str, pulumi.Input[str]] = field(repr=False)
    replicas: int
    memory_mb: int
    proxy_image: str
    redis_image: str
    bind_address: str
    published_port: int
    proxy_memory_mb: int = 128
    # Runs `learnbot bot setup` (the webhook, commands and menu button at Telegram).
    bot_setup: bool = False
    depends_on: Sequence[pulumi.Resource] = ()


class Api(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: ApiArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("learnbot:platform:Api", name, None, opts)
        self._name, self._args = name, args
        self.image = self._build_image()
        # The local image's id: a rebuilt image replaces the containers that run it.
        self.image_ref: pulumi.Output[str] = self.image.repo_digest
        self.rate_limit_store = self._rate_limit_store()
        envs = environment(
            {
                **args.environment,
                "RATE_LIMIT_STORAGE_URL": rate_limit_storage_url(f"{args.name_prefix}-redis"),
            },
            args.secret_environment,
        )
        self.migration = self._migration(envs)
        self.containers = self._replicas(envs)
        self.proxy_config = nginx_config(
            self.service_alias, API_PORT, listen_port=PROXY_PORT, health_port=PROXY_HEALTH_PORT
        )
        self.proxy = self._proxy()
        self.bot_setup = self._bot_setup(envs) if args.bot_setup else None
        self.url = published_url(args.bind_address, args.published_port)
        self.register_outputs(
            {
                "url": self.url,
                "image": self.image_ref,
                "containers": [c.name for c in self.containers],
                "proxy": self.proxy.name,
            }
        )

    @property
    def service_alias(self) -> str:
        """The name every replica answers to on the stack's network; the proxy resolves it."""
        return f"{self._args.name_prefix}-api"

    def _build_image(self) -> docker.Image:
        args = self._args
        return docker.Image(
            f"{self._name}-image",
            image_name=f"{args.name_prefix}:{args.image_tag}",
            build=docker.DockerBuildArgs(
                context=str(args.repository_root),
                dockerfile=str(args.repository_root / DOCKERFILE),
                args={"APP_REVISION": args.image_tag},
            ),
            skip_push=True,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _rate_limit_store(self) -> docker.Container:
        """Rate-limit counters shared by every worker of every replica."""
        args = self._args
        return run_container(
            f"{self._name}-redis",
            parent=self,
            name=f"{args.name_prefix}-redis",
            image=pulled_image(f"{self._name}-redis-image", args.redis_image, self),
            component="rate-limit-store",
            network=args.network,
            memory_mb=64,
            command=list(RATE_LIMIT_STORE_COMMAND),
            healthcheck=healthcheck(["redis-cli", "ping"], interval_s=10),
        )

    def _migration(self, envs: list[pulumi.Input[str]]) -> docker.Container:
        """`learnbot migrate`, once per image. Docker runs it again until it succeeds, so a
        failure (the database not there yet, or down) heals without a new deploy; nothing reads
        its exit code, which Pulumi's state would keep forever."""
        return self._one_shot("migrate", ["learnbot", "migrate"], envs, self._args.depends_on)

    def _bot_setup(self, envs: list[pulumi.Input[str]]) -> docker.Container:
        """`learnbot bot setup`, once per image or change of the bot's settings, once the proxy
        that Telegram's updates arrive through runs; retried like the migration."""
        return self._one_shot("bot-setup", ["learnbot", "bot", "setup"], envs, [self.proxy])

    def _one_shot(
        self,
        component: str,
        command: list[str],
        envs: list[pulumi.Input[str]],
        depends_on: Sequence[pulumi.Resource],
    ) -> docker.Container:
        args = self._args
        return run_one_off(
            f"{self._name}-{component}",
            parent=self,
            name=f"{args.name_prefix}-{component}",
            image=self.image_ref,
            component=component,
            network=args.network,
            memory_mb=256,
            command=command,
            envs=envs,
            depends_on=depends_on,
        )

    def _replicas(self, envs: list[pulumi.Input[str]]) -> list[docker.Container]:
        """One replica at a time: each waits for the one before it to be healthy (serving on the
        current schema), so the proxy always has one to send requests to."""
        args = self._args
        replicas: list[docker.Container] = []
        before: list[pulumi.Resource] = [self.migration, self.rate_limit_store]
        for index in range(1, args.replicas + 1):
            replica = run_container(
                f"{self._name}-{index}",
                parent=self,
                name=f"{args.name_prefix}-api-{index}",
                image=self.image_ref,
                component="api",
                network=args.network,
                aliases=[self.service_alias],
                memory_mb=args.memory_mb,
                command=["learnbot", "serve"],
                envs=[f"MIGRATIONS_WAIT_SECONDS={MIGRATIONS_WAIT_SECONDS}", *envs],
                healthcheck=healthcheck(
                    python_probe(f"http://127.0.0.1:{API_PORT}/ready"), interval_s=5
                ),
                wait=True,
                wait_timeout=300,
                # In-flight requests finish before the old replica goes.
                destroy_grace_seconds=30,
                depends_on=before,
            )
            replicas.append(replica)
            before = [replica]
        return replicas

    def _proxy(self) -> docker.Container:
        """nginx finds the replicas through the network's DNS at every request, so new replicas
        need no new proxy."""
        args = self._args
        return run_container(
            f"{self._name}-proxy",
            parent=self,
            name=f"{args.name_prefix}-proxy",
            image=pulled_image(f"{self._name}-proxy-image", args.proxy_image, self),
            component="proxy",
            network=args.network,
            memory_mb=args.proxy_memory_mb,
            uploads=[plain_file("/etc/nginx/nginx.conf", self.proxy_config)],
            ports=[
                docker.ContainerPortArgs(
                    internal=PROXY_PORT, external=args.published_port, ip=args.bind_address
                )
            ],
            healthcheck=healthcheck(wget_probe(f"http://127.0.0.1:{PROXY_HEALTH_PORT}/healthz")),
            wait=True,
            wait_timeout=60,
            depends_on=self.containers,
        )
