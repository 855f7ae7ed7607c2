"""The service: its image built from service/Dockerfile, the migrations run once, the API
containers with the Redis their rate limits share, and the nginx proxy in front of them, the
stack's single public entry point."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_docker as docker

from containers import (
    environment,
    healthcheck,
    plain_file,
    published_url,
    python_probe,
    run_container,
    wget_probe,
)
from rendering import nginx_config
from repository import DOCKERFILE
from service_env import API_PORT, RATE_LIMIT_STORE_COMMAND, rate_limit_storage_url

PROXY_PORT = 8080
PROXY_HEALTH_PORT = 8081


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
    depends_on: Sequence[pulumi.Resource] = ()


class Api(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: ApiArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("learnbot:platform:Api", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        prefix = args.name_prefix
        self.image = docker.Image(
            f"{name}-image",
            image_name=f"{prefix}:{args.image_tag}",
            build=docker.DockerBuildArgs(
                context=str(args.repository_root),
                dockerfile=str(args.repository_root / DOCKERFILE),
                args={"APP_REVISION": args.image_tag},
            ),
            skip_push=True,
            opts=child,
        )
        # The local image's id: a rebuilt image replaces the containers that run it.
        self.image_ref: pulumi.Output[str] = self.image.repo_digest

        # Rate-limit counters shared by every worker of every replica.
        redis_image = docker.RemoteImage(
            f"{name}-redis-image", name=args.redis_image, keep_locally=True, opts=child
        )
        self.rate_limit_store = run_container(
            f"{name}-redis",
            parent=self,
            name=f"{prefix}-redis",
            image=redis_image.image_id,
            component="rate-limit-store",
            network=args.network,
            memory_mb=64,
            command=list(RATE_LIMIT_STORE_COMMAND),
            healthcheck=healthcheck(["redis-cli", "ping"], interval="10s"),
        )
        envs = environment(
            {
                **args.environment,
                "RATE_LIMIT_STORAGE_URL": rate_limit_storage_url(f"{prefix}-redis"),
            },
            args.secret_environment,
        )

        self.migration = run_container(
            f"{name}-migrate",
            parent=self,
            name=f"{prefix}-migrate",
            image=self.image_ref,
            component="migrate",
            network=args.network,
            memory_mb=256,
            command=["learnbot", "migrate"],
            envs=envs,
            # Runs once per release: Pulumi waits for it to exit and keeps its log.
            restart="no",
            must_run=False,
            attach=True,
            logs=True,
            depends_on=args.depends_on,
        )
        migrated = pulumi.Output.all(self.migration.id, self.migration.exit_code).apply(
            lambda v: _require_success(v[0], v[1], f"{prefix}-migrate")
        )

        self.containers: list[docker.Container] = [
            run_container(
                f"{name}-{index}",
                parent=self,
                name=f"{prefix}-api-{index}",
                image=self.image_ref,
                component="api",
                network=args.network,
                memory_mb=args.memory_mb,
                command=["learnbot", "serve"],
                envs=envs,
                labels={"learnbot.migrated-by": migrated},
                healthcheck=healthcheck(python_probe(f"http://127.0.0.1:{API_PORT}/ready")),
                wait=True,
                wait_timeout=120,
                destroy_grace_seconds=30,
                depends_on=[self.migration, self.rate_limit_store],
            )
            for index in range(1, args.replicas + 1)
        ]
        self.upstreams: pulumi.Output[list[str]] = pulumi.Output.all(
            *(c.name for c in self.containers)
        ).apply(lambda names: [f"{n}:{API_PORT}" for n in names])
        self.proxy_config: pulumi.Output[str] = self.upstreams.apply(
            lambda servers: nginx_config(
                servers, listen_port=PROXY_PORT, health_port=PROXY_HEALTH_PORT
            )
        )

        proxy_image = docker.RemoteImage(
            f"{name}-proxy-image", name=args.proxy_image, keep_locally=True, opts=child
        )
        self.proxy = run_container(
            f"{name}-proxy",
            parent=self,
            name=f"{prefix}-proxy",
            image=proxy_image.image_id,
            component="proxy",
            network=args.network,
            memory_mb=args.proxy_memory_mb,
            uploads=[plain_file("/etc/nginx/nginx.conf", self.proxy_config)],
            ports=[
                docker.ContainerPortArgs(
                    internal=PROXY_PORT, external=args.published_port, ip=args.bind_address
                )
            ],
            # nginx resolves the API containers' names when it starts: new API containers
            # (new addresses) get a new proxy.
            labels={
                "learnbot.upstreams": pulumi.Output.all(*(c.id for c in self.containers)).apply(
                    ",".join
                )
            },
            healthcheck=healthcheck(wget_probe(f"http://127.0.0.1:{PROXY_HEALTH_PORT}/healthz")),
            wait=True,
            wait_timeout=60,
            depends_on=self.containers,
        )
        self.url = published_url(args.bind_address, args.published_port)
        self.register_outputs(
            {
                "url": self.url,
                "image": self.image_ref,
                "containers": [c.name for c in self.containers],
                "proxy": self.proxy.name,
            }
        )


def _require_success(container_id: str, exit_code: int | None, name: str) -> str:
    if exit_code not in (0, None):
        raise RuntimeError(
            f"`learnbot migrate` exited {exit_code}; the API was not started. "
            f"Read `docker logs {name}`, fix the cause and run `pulumi up` again."
        )
    return container_id
