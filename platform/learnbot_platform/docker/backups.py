"""The backup job: `learnbot backup run` from the service image, dumping PostgreSQL on its
schedule into a volume of its own, taking physical backups with pgBackRest into the database's
repository, and serving its metrics to Prometheus."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from learnbot_platform.docker.containers import (
    environment,
    healthcheck,
    python_probe,
    run_container,
    run_one_off,
)
from learnbot_platform.service_env import BACKUP_DIR, BACKUP_METRICS_PORT

BACKUP_JOB_USER = "999:10001"
SERVICE_GROUP = 10001


def dumps_folder_command(folder: str, group: int = SERVICE_GROUP) -> list[str]:
    """Makes the dumps' folder the service group's and group-writable (new files keep the
    group): a volume made by a release whose job ran as another user keeps its old mode."""
    return [
        "sh",
        "-c",
        f"chgrp -R {group} {folder} && chmod -R g+rwX {folder} && chmod g+s {folder}",
    ]


@dataclass(frozen=True, slots=True)
class BackupsArgs:
    container_name: str
    network: pulumi.Input[str]
    image: pulumi.Input[str]
    environment: Mapping[str, str]
    secret_environment: Mapping[str, pulumi.Input[str]] = field(repr=False)
    memory_mb: int = 512
    # The database's repository, data (read only), socket and key: pgBackRest reads the files.
    physical_volumes: Sequence[docker.ContainerVolumeArgs] = ()
    depends_on: Sequence[pulumi.Resource] = ()


class Backups(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: BackupsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("learnbot:platform:Backups", name, None, opts)
        # Kept by `pulumi destroy`, like the database's volume.
        self.volume = docker.Volume(
            f"{name}-data",
            name=f"{args.container_name}-data",
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        # Root for a moment, once per volume and image: the job itself never runs as root.
        folder = run_one_off(
            f"{name}-folder",
            parent=self,
            name=f"{args.container_name}-folder",
            image=args.image,
            component="backup-folder",
            network=args.network,
            memory_mb=32,
            user="0:0",
            command=dumps_folder_command(BACKUP_DIR),
            volumes=[
                docker.ContainerVolumeArgs(volume_name=self.volume.name, container_path=BACKUP_DIR)
            ],
        )
        self.container = run_container(
            f"{name}-job",
            parent=self,
            name=args.container_name,
            image=args.image,
            component="backup",
            network=args.network,
            memory_mb=args.memory_mb,
            command=["learnbot", "backup", "run"],
            envs=environment(args.environment, args.secret_environment),
            # The data files' owner (postgres, as in the database image), in the service's
            # group, which may write in the dumps' folder.
            user=BACKUP_JOB_USER,
            volumes=[
                docker.ContainerVolumeArgs(volume_name=self.volume.name, container_path=BACKUP_DIR),
                *args.physical_volumes,
            ],
            healthcheck=healthcheck(
                python_probe(f"http://127.0.0.1:{BACKUP_METRICS_PORT}/metrics")
            ),
            # A dump in progress gets time to finish or clean up.
            destroy_grace_seconds=120,
            depends_on=[*args.depends_on, folder],
        )
        self.host: pulumi.Output[str] = self.container.name
        self.metrics_port = BACKUP_METRICS_PORT
        self.register_outputs({"host": self.host, "volume": self.volume.name})
