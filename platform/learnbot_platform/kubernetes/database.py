"""PostgreSQL on Kubernetes: the CloudNativePG operator (its Helm chart) and a `Cluster` of
several instances, one primary and streaming replicas, that fails over by itself."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from learnbot_platform.kubernetes.objects import Cluster, secret
from learnbot_platform.kubernetes.physical_backups import (
    ObjectStoreArgs,
    backup_spec,
    scheduled_backup_spec,
)
from learnbot_platform.service_env import DATABASE_NAME, DATABASE_USER, database_url

CNPG_CHART = "cloudnative-pg"
CNPG_CHART_VERSION = "0.23.0"  # operator 1.25.0
CNPG_REPOSITORY = "https://cloudnative-pg.github.io/charts"
# Pulumi counts a custom resource created at once unless told what to wait for: `pulumi up`
# waits for CloudNativePG's Ready condition, so nothing that needs the database starts first.
CLUSTER_READY = {
    "pulumi.com/waitFor": "condition=Ready",
    # A first bootstrap pulls the images and clones every replica from the primary.
    "pulumi.com/timeoutSeconds": "1200",
}


@dataclass(frozen=True, slots=True)
class KubernetesDatabaseArgs:
    cluster: Cluster
    name: str
    image: str
    instances: int
    storage_gb: int
    max_connections: int
    storage_class: str | None = None
    # None: a generated password, kept in the stack's state as a secret.
    password: pulumi.Input[str] | None = field(default=None, repr=False)
    memory_mb: int = 1024
    cpu_millicores: int = 500
    # False: the CloudNativePG operator the cluster already runs.
    install_operator: bool = True
    # None: no backups of CloudNativePG's own, and no WAL archiving.
    object_store: ObjectStoreArgs | None = None
    archive_timeout_seconds: int = 60


class KubernetesDatabase(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: KubernetesDatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("learnbot:platform:Database", name, None, opts)
        self._name, self._args = name, args
        password = self._password()
        self.operator = self._operator(name, args) if args.install_operator else None
        self.secret = self._secret(password)
        self.backup_credentials = self._backup_credentials()
        self.cluster = self._cluster()
        self.scheduled_backup = self._scheduled_backup()
        # CloudNativePG's Service that always leads to the current primary.
        self.host = f"{args.name}-rw"
        self.password = password
        self.url: pulumi.Output[str] = pulumi.Output.secret(
            password.apply(lambda value: database_url(self.host, value))
        )
        self.register_outputs({"host": self.host, "url": self.url})

    def _password(self) -> pulumi.Output[str]:
        """The configured password, or one generated once and kept in the stack's state."""
        if self._args.password is not None:
            return pulumi.Output.secret(self._args.password)
        generated = random.RandomPassword(
            f"{self._name}-password",
            length=32,
            special=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return pulumi.Output.secret(generated.result)

    def _secret(self, password: pulumi.Output[str]) -> k8s.core.v1.Secret:
        return secret(
            f"{self._name}-app-secret",
            self._args.cluster,
            self,
            name=self._secret_name,
            component="database",
            data={"username": DATABASE_USER, "password": password},
            type_="kubernetes.io/basic-auth",
        )

    @property
    def _secret_name(self) -> str:
        return f"{self._args.name}-app"

    def _backup_credentials(self) -> k8s.core.v1.Secret | None:
        store = self._args.object_store
        if store is None or not store.has_keys:
            return None
        return secret(
            f"{self._name}-backup-credentials",
            self._args.cluster,
            self,
            name=f"{self._args.name}-backup-s3",
            component="database",
            data=store.secret_data(),
        )

    def _backup(self) -> dict[str, object]:
        store = self._args.object_store
        if store is None:
            return {}
        credentials = None if self.backup_credentials is None else f"{self._args.name}-backup-s3"
        return {"backup": backup_spec(store, credentials)}

    def _scheduled_backup(self) -> k8s.apiextensions.CustomResource | None:
        store, cluster = self._args.object_store, self._args.cluster
        if store is None:
            return None
        return k8s.apiextensions.CustomResource(
            f"{self._name}-scheduled-backup",
            api_version="postgresql.cnpg.io/v1",
            kind="ScheduledBackup",
            metadata=cluster.metadata(f"{self._args.name}-physical", "database"),
            spec=scheduled_backup_spec(self._args.name, store.schedule),
            opts=cluster.options(self, depends_on=[self.cluster]),
        )

    def _cluster(self) -> k8s.apiextensions.CustomResource:
        name, args, cluster, secret_name = (
            self._name,
            self._args,
            self._args.cluster,
            self._secret_name,
        )
        storage: dict[str, object] = {"size": f"{args.storage_gb}Gi"}
        if args.storage_class is not None:
            storage["storageClass"] = args.storage_class
        memory = f"{args.memory_mb}Mi"
        return k8s.apiextensions.CustomResource(
            f"{name}-cluster",
            api_version="postgresql.cnpg.io/v1",
            kind="Cluster",
            metadata=cluster.metadata(args.name, "database", annotations=CLUSTER_READY),
            spec={
                "instances": args.instances,
                "imageName": args.image,
                # Replicas are updated first, then the primary is switched over to one of them.
                "primaryUpdateStrategy": "unsupervised",
                "postgresql": {
                    "parameters": {
                        "max_connections": str(args.max_connections),
                        # Bounds the writes a restore from the bucket can lose (the RPO).
                        "archive_timeout": f"{args.archive_timeout_seconds}s",
                    }
                },
                "bootstrap": {
                    "initdb": {
                        "database": DATABASE_NAME,
                        "owner": DATABASE_USER,
                        "secret": {"name": secret_name},
                    }
                },
                # Restore drills create scratch databases; the exporter reads pg_stat_*.
                "managed": {
                    "roles": [
                        {
                            "name": DATABASE_USER,
                            "ensure": "present",
                            "login": True,
                            "createdb": True,
                            "inRoles": ["pg_monitor"],
                            "passwordSecret": {"name": secret_name},
                        }
                    ]
                },
                "storage": storage,
                "resources": {
                    "requests": {"cpu": f"{args.cpu_millicores}m", "memory": memory},
                    "limits": {"memory": memory},
                },
                # One instance per node, so a node lost takes one instance with it.
                "affinity": {
                    "enablePodAntiAffinity": True,
                    "topologyKey": "kubernetes.io/hostname",
                    "podAntiAffinityType": "preferred",
                },
                **self._backup(),
            },
            opts=cluster.options(
                self,
                depends_on=[
                    self.secret,
                    *([self.operator] if self.operator else []),
                    *([self.backup_credentials] if self.backup_credentials else []),
                ],
            ),
        )

    def _operator(self, name: str, args: KubernetesDatabaseArgs) -> k8s.helm.v3.Release:
        cluster = args.cluster
        return k8s.helm.v3.Release(
            f"{name}-operator",
            name=f"{cluster.instance}-cnpg",
            chart=CNPG_CHART,
            version=CNPG_CHART_VERSION,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=CNPG_REPOSITORY),
            namespace=cluster.namespace,
            # The Cluster needs the operator's CRDs and webhook in place.
            atomic=True,
            wait_for_jobs=True,
            opts=cluster.options(self),
        )
