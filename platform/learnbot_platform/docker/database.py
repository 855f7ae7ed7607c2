"""PostgreSQL on a named volume, reachable on the stack's network only, archiving its WAL into a
pgBackRest repository on a volume of its own (learnbot_platform.docker.archiving)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from learnbot.backup.pgbackrest import CIPHER_TYPE, render_config
from learnbot_platform.docker.archiving import (
    IMAGE_FOLDER,
    PASSPHRASE_SECRET_FILE,
    PGBACKREST_KEY_DIR,
    POSTGRES_UID,
    generate_key_command,
    pgbackrest_repository,
    server_command,
    stanza_create_script,
    with_passphrase,
)
from learnbot_platform.docker.containers import (
    healthcheck,
    plain_file,
    run_container,
    run_one_off,
    secret_file,
)
from learnbot_platform.service_env import (
    DATABASE_NAME,
    DATABASE_USER,
    PGBACKREST_CONFIG,
    PGBACKREST_KEY_FILE,
    PGBACKREST_REPOSITORY,
    POSTGRES_DATA_DIR,
    POSTGRES_PORT,
    POSTGRES_SOCKET_DIR,
    database_url,
)

DATA_DIR = POSTGRES_DATA_DIR
SOCKET_DIR = POSTGRES_SOCKET_DIR
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
    name_prefix: str
    network: pulumi.Input[str]
    image: str
    # None: a generated password, kept in the stack's state as a secret.
    password: pulumi.Input[str] | None = None
    memory_mb: int = 1024
    archive_timeout_seconds: int = 60
    # None: generated once into a volume of its own, kept by `pulumi destroy`.
    cipher_passphrase: pulumi.Input[str] | None = None

    @property
    def container_name(self) -> str:
        return f"{self.name_prefix}-postgres"


class Database(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("learnbot:platform:Database", name, None, opts)
        self._name, self._args = name, args
        self.password = self._password()
        base = docker.RemoteImage(
            f"{name}-image", name=args.image, keep_locally=True, opts=self._child()
        )
        self.image = self._archiving_image(base)
        image: pulumi.Output[str] = self.image.repo_digest
        self.volume = self._retained_volume("data", f"{args.container_name}-data")
        self.socket = docker.Volume(
            f"{name}-socket", name=f"{args.container_name}-socket", opts=self._child()
        )
        # The pgBackRest repository: the archived WAL and the physical backups.
        self.repository = self._retained_volume("pgbackrest", f"{args.name_prefix}-pgbackrest")
        self.key_volume, self.key_generator = self._generated_key(image)
        self.container = self._server(image)
        self.password_setter = self._password_setter(base.image_id)
        self.stanza = self._stanza(image)
        self.host: pulumi.Output[str] = self.container.name
        self.url: pulumi.Output[str] = pulumi.Output.secret(
            pulumi.Output.all(self.host, self.password).apply(lambda v: database_url(v[0], v[1]))
        )
        self.port = POSTGRES_PORT
        self.register_outputs(
            {
                "host": self.host,
                "url": self.url,
                "volume": self.volume.name,
                "repository": self.repository.name,
            }
        )

    def pgbackrest_volumes(
        self, *, data_read_only: bool = True
    ) -> list[docker.ContainerVolumeArgs]:
        """What pgBackRest needs beside the server: the repository, the data files, the
        server's socket and the generated passphrase (read only)."""
        volumes = [
            docker.ContainerVolumeArgs(
                volume_name=self.repository.name, container_path=PGBACKREST_REPOSITORY
            ),
            docker.ContainerVolumeArgs(
                volume_name=self.volume.name, container_path=DATA_DIR, read_only=data_read_only
            ),
            docker.ContainerVolumeArgs(volume_name=self.socket.name, container_path=SOCKET_DIR),
        ]
        if self.key_volume is not None:
            volumes.append(self._key_mount())
        return volumes

    def _child(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self)

    def _password(self) -> pulumi.Output[str]:
        if self._args.password is not None:
            return pulumi.Output.secret(self._args.password)
        generated = random.RandomPassword(
            f"{self._name}-password", length=32, special=False, opts=self._child()
        )
        return pulumi.Output.secret(generated.result)

    def _retained_volume(self, suffix: str, docker_name: str) -> docker.Volume:
        # Kept by `pulumi destroy`: the data outlives the stack unless removed by hand.
        return docker.Volume(
            f"{self._name}-{suffix}",
            name=docker_name,
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )

    def _archiving_image(self, base: docker.RemoteImage) -> docker.Image:
        """The pinned image with pgBackRest, which archive_command runs."""
        args = self._args
        return docker.Image(
            f"{self._name}-archiving-image",
            image_name=f"{args.container_name}:pgbackrest",
            build=docker.DockerBuildArgs(
                context=str(IMAGE_FOLDER),
                dockerfile=str(IMAGE_FOLDER / "Dockerfile"),
                args={"POSTGRES_IMAGE": args.image},
            ),
            skip_push=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[base]),
        )

    @property
    def _passphrase_file(self) -> str:
        return (
            PGBACKREST_KEY_FILE if self._args.cipher_passphrase is None else PASSPHRASE_SECRET_FILE
        )

    def _key_mount(self) -> docker.ContainerVolumeArgs:
        assert self.key_volume is not None
        return docker.ContainerVolumeArgs(
            volume_name=self.key_volume.name, container_path=PGBACKREST_KEY_DIR, read_only=True
        )

    def _passphrase_upload(self, owner: int) -> list[docker.ContainerUploadArgs]:
        """The operator's passphrase as a file the container's user reads; none when generated."""
        passphrase = self._args.cipher_passphrase
        if passphrase is None:
            return []
        return [secret_file(PASSPHRASE_SECRET_FILE, passphrase, owner=owner)]

    def _generated_key(
        self, image: pulumi.Output[str]
    ) -> tuple[docker.Volume | None, docker.Container | None]:
        """An encrypted repository cannot be given another passphrase: unless the operator sets
        one, it is generated once into a volume kept by `pulumi destroy`, never in the state."""
        if self._args.cipher_passphrase is not None:
            return None, None
        args = self._args
        volume = self._retained_volume("pgbackrest-key", f"{args.name_prefix}-pgbackrest-key")
        generator = run_one_off(
            f"{self._name}-pgbackrest-keygen",
            parent=self,
            name=f"{args.name_prefix}-pgbackrest-keygen",
            image=image,
            component="database-pgbackrest-key",
            network=args.network,
            memory_mb=32,
            user=f"{POSTGRES_UID}:{POSTGRES_UID}",
            command=generate_key_command(),
            volumes=[
                docker.ContainerVolumeArgs(
                    volume_name=volume.name, container_path=PGBACKREST_KEY_DIR
                )
            ],
        )
        return volume, generator

    def _server(self, image: pulumi.Output[str]) -> docker.Container:
        args = self._args
        return run_container(
            f"{self._name}-server",
            parent=self,
            name=args.container_name,
            image=image,
            component="database",
            network=args.network,
            memory_mb=args.memory_mb,
            # The entrypoint runs as root; it reads the passphrase before it becomes postgres.
            command=with_passphrase(
                self._passphrase_file,
                'exec docker-entrypoint.sh "$@"',
                *server_command(args.archive_timeout_seconds),
            ),
            envs=[
                f"POSTGRES_USER={DATABASE_USER}",
                f"POSTGRES_DB={DATABASE_NAME}",
                f"POSTGRES_PASSWORD_FILE={SECRET_FILE}",
                f"PGBACKREST_REPO1_CIPHER_TYPE={CIPHER_TYPE}",
            ],
            # The entrypoint reads the file as root before it becomes the postgres user.
            uploads=[
                secret_file(SECRET_FILE, self.password, owner=0),
                plain_file(PGBACKREST_CONFIG, render_config(pgbackrest_repository())),
                *self._passphrase_upload(owner=0),
            ],
            volumes=self.pgbackrest_volumes(data_read_only=False),
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
            depends_on=[c for c in (self.key_generator,) if c is not None],
        )

    def _stanza(self, image: pulumi.Output[str]) -> docker.Container:
        """`pgbackrest stanza-create` once the server answers, so its archive_command succeeds
        from the first deploy on; it leaves a stanza already there as it is."""
        args = self._args
        return run_one_off(
            f"{self._name}-pgbackrest-stanza",
            parent=self,
            name=f"{args.name_prefix}-pgbackrest-stanza",
            image=image,
            component="database-pgbackrest-stanza",
            network=args.network,
            memory_mb=64,
            user=f"{POSTGRES_UID}:{POSTGRES_UID}",
            command=with_passphrase(self._passphrase_file, stanza_create_script()),
            envs=[f"PGBACKREST_REPO1_CIPHER_TYPE={CIPHER_TYPE}"],
            uploads=[
                plain_file(PGBACKREST_CONFIG, render_config(pgbackrest_repository())),
                *self._passphrase_upload(owner=POSTGRES_UID),
            ],
            volumes=self.pgbackrest_volumes(),
            depends_on=[self.container],
        )

    def _password_setter(self, image: pulumi.Output[str]) -> docker.Container:
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
                docker.ContainerVolumeArgs(volume_name=self.socket.name, container_path=SOCKET_DIR)
            ],
            # Retried by Docker until it succeeds; nothing waits on its exit.
            restart="on-failure",
            must_run=False,
            depends_on=[self.container],
        )
