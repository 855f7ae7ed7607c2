"""PostgreSQL on a named volume, reachable on the stack's network only."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from learnbot_platform.docker.containers import (
    healthcheck,
    plain_file,
    pulled_image,
    run_container,
    secret_file,
)
from learnbot_platform.service_env import DATABASE_NAME, DATABASE_USER, POSTGRES_PORT, database_url
from learnbot_platform.stack_config import POSTGRES_MAX_CONNECTIONS

DATA_DIR = "/var/lib/postgresql/data"
# The official image's Unix socket folder, where local connections are trusted.
SOCKET_DIR = "/var/run/postgresql"
SECRET_FILE = "/run/secrets/postgres-password"  # noqa: S105 - a path, not a password
SET_PASSWORD_SQL = "/usr/local/share/learnbot/set-password.sql"  # noqa: S105 - a path


def set_password_sql(role: str, password_file: str) -> str:
    """psql input that gives the role the password in the file, without the password ever
    being on a command line or in a log."""
    return (
        f"\\set ON_ERROR_STOP on\n"
        f"\\set password `cat {password_file}`\n"
        # The server writes a failed statement into its log: not this one.
        "SET log_min_error_statement = panic;\n"
        "SET log_statement = none;\n"
        f"ALTER ROLE {role} PASSWORD :'password';\n"
    )


def set_password_command(socket_dir: str, role: str, database: str, sql_file: str) -> list[str]:
    """Waits for the server on its socket, then runs the SQL file as the role over the socket."""
    target = f"-h {socket_dir} -U {role} -d {database}"
    return [
        "sh",
        "-c",
        f"until pg_isready -q {target}; do sleep 1; done; exec psql -X -q {target} -f {sql_file}",
    ]


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
        self._name, self._args = name, args
        self.password = self._password()
        image = pulled_image(f"{name}-image", args.image, self)
        self.volume = self._data_volume()
        socket = docker.Volume(
            f"{name}-socket", name=f"{args.container_name}-socket", opts=self._child()
        )
        self.container = self._server(image, socket)
        self.password_setter = self._password_setter(image, socket)
        self.host: pulumi.Output[str] = self.container.name
        self.url: pulumi.Output[str] = pulumi.Output.secret(
            pulumi.Output.all(self.host, self.password).apply(lambda v: database_url(v[0], v[1]))
        )
        self.port = POSTGRES_PORT
        self.register_outputs({"host": self.host, "url": self.url, "volume": self.volume.name})

    def _child(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self)

    def _password(self) -> pulumi.Output[str]:
        if self._args.password is not None:
            return pulumi.Output.secret(self._args.password)
        generated = random.RandomPassword(
            f"{self._name}-password", length=32, special=False, opts=self._child()
        )
        return pulumi.Output.secret(generated.result)

    def _data_volume(self) -> docker.Volume:
        # Kept by `pulumi destroy`: the data outlives the stack unless removed by hand.
        return docker.Volume(
            f"{self._name}-data",
            name=f"{self._args.container_name}-data",
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )

    def _server(self, image: pulumi.Output[str], socket: docker.Volume) -> docker.Container:
        args = self._args
        return run_container(
            f"{self._name}-server",
            parent=self,
            name=args.container_name,
            image=image,
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
            uploads=[secret_file(SECRET_FILE, self.password, owner=0)],
            volumes=[
                docker.ContainerVolumeArgs(volume_name=self.volume.name, container_path=DATA_DIR),
                docker.ContainerVolumeArgs(volume_name=socket.name, container_path=SOCKET_DIR),
            ],
            # Over TCP: while a new volume is initialized, the image's temporary server answers
            # on the Unix socket only, and clients on the network would be refused.
            healthcheck=healthcheck(
                [
                    "pg_isready",
                    "-q",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(POSTGRES_PORT),
                    "-U",
                    DATABASE_USER,
                    "-d",
                    DATABASE_NAME,
                ],
                interval_s=5,
                start_period_s=60,
            ),
            # Other containers start once it answers.
            wait=True,
            wait_timeout=180,
            destroy_grace_seconds=60,
            stop_signal="SIGINT",
        )

    def _password_setter(
        self, image: pulumi.Output[str], socket: docker.Volume
    ) -> docker.Container:
        """The image applies POSTGRES_PASSWORD_FILE only to a new data folder: after `pulumi
        destroy` and `up`, or a new learnbot:dbPassword, the kept data has the old password.
        This one-off container gives the role the stack's password over the trusted socket; a
        new password is a new container, so it runs again."""
        args = self._args
        return run_container(
            f"{self._name}-set-password",
            parent=self,
            name=f"{args.container_name}-set-password",
            image=image,
            component="database-password",
            network=args.network,
            memory_mb=64,
            command=set_password_command(
                SOCKET_DIR, DATABASE_USER, DATABASE_NAME, SET_PASSWORD_SQL
            ),
            uploads=[
                secret_file(SECRET_FILE, self.password, owner=0),
                plain_file(SET_PASSWORD_SQL, set_password_sql(DATABASE_USER, SECRET_FILE)),
            ],
            volumes=[
                docker.ContainerVolumeArgs(volume_name=socket.name, container_path=SOCKET_DIR)
            ],
            # Retried by Docker until it succeeds; nothing waits on its exit.
            restart="on-failure",
            must_run=False,
            depends_on=[self.container],
        )
