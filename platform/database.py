"""PostgreSQL on a named volume, reachable on the stack's network only."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from containers import healthcheck, run_container, secret_file
from service_env import DATABASE_NAME, DATABASE_USER, POSTGRES_PORT, database_url
from stack_config import POSTGRES_MAX_CONNECTIONS

DATA_DIR = "/var/lib/postgresql/data"
SECRET_FILE = "/run/secrets/postgres-password"  # noqa: S105 - a path, not a password


@dataclass(frozen=True, slots=True)
class DatabaseArgs:
    container_name: str
    network: pulumi.Input[str]
    image: str
    # None: a generated password, kept in the stack's state as a secret.
    password: pulumi.Input[str] | None = None
    memory_mb: int = 1024


class Database(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("learnbot:platform:Database", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if args.password is None:
            generated = random.RandomPassword(
                f"{name}-password", length=32, special=False, opts=child
            )
            password: pulumi.Output[str] = pulumi.Output.secret(generated.result)
        else:
            password = pulumi.Output.secret(args.password)
        image = docker.RemoteImage(f"{name}-image", name=args.image, keep_locally=True, opts=child)
        # Kept by `pulumi destroy`: the data outlives the stack unless removed by hand.
        self.volume = docker.Volume(
            f"{name}-data",
            name=f"{args.container_name}-data",
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        self.container = run_container(
            f"{name}-server",
            parent=self,
            name=args.container_name,
            image=image.image_id,
            component="database",
            network=args.network,
            memory_mb=args.memory_mb,
            command=["postgres", "-c", f"max_connections={POSTGRES_MAX_CONNECTIONS}"],
            envs=[
                f"POSTGRES_USER={DATABASE_USER}",
                f"POSTGRES_DB={DATABASE_NAME}",
                f"POSTGRES_PASSWORD_FILE={SECRET_FILE}",
            ],
            # The entrypoint reads the file as root before it becomes the postgres user.
            uploads=[secret_file(SECRET_FILE, password, owner=0)],
            volumes=[
                docker.ContainerVolumeArgs(volume_name=self.volume.name, container_path=DATA_DIR)
            ],
            healthcheck=healthcheck(
                ["pg_isready", "-q", "-U", DATABASE_USER, "-d", DATABASE_NAME],
                interval="5s",
                start_period="60s",
            ),
            # Other containers start once it answers.
            wait=True,
            wait_timeout=180,
            destroy_grace_seconds=60,
            stop_signal="SIGINT",
        )
        self.host: pulumi.Output[str] = self.container.name
        self.password = password
        self.url: pulumi.Output[str] = pulumi.Output.secret(
            pulumi.Output.all(self.host, password).apply(lambda v: database_url(v[0], v[1]))
        )
        self.port = POSTGRES_PORT
        self.register_outputs({"host": self.host, "url": self.url, "volume": self.volume.name})
