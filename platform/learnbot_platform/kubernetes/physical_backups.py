"""CloudNativePG's own backups: base backups and the WAL archived continuously by Barman Cloud
into the bucket of learnbot:backupS3Url, a ScheduledBackup and a retention policy, for a restore
to any moment through the recovery bootstrap. The operator the stack pins (1.25) documents
`spec.backup.barmanObjectStore`; its Barman Cloud plugin needs 1.26."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi

# The keys of the credentials' Secret, as the object store's selectors name them.
ACCESS_KEY_ID = "ACCESS_KEY_ID"
SECRET_ACCESS_KEY = "ACCESS_SECRET_KEY"  # noqa: S105 - a key's name
REGION = "REGION"


@dataclass(frozen=True, slots=True)
class ObjectStoreArgs:
    destination: str
    schedule: str
    retention_days: int
    endpoint_url: str | None = None
    region: str | None = None
    # None: the pods' own identity (an IAM role for the service account) reaches the bucket.
    access_key_id: pulumi.Input[str] | None = field(default=None, repr=False)
    secret_access_key: pulumi.Input[str] | None = field(default=None, repr=False)

    @property
    def has_keys(self) -> bool:
        return self.access_key_id is not None and self.secret_access_key is not None

    def secret_data(self) -> dict[str, pulumi.Input[str]]:
        assert self.access_key_id is not None
        assert self.secret_access_key is not None
        data: dict[str, pulumi.Input[str]] = {
            ACCESS_KEY_ID: self.access_key_id,
            SECRET_ACCESS_KEY: self.secret_access_key,
        }
        if self.region is not None:
            data[REGION] = self.region
        return data


def backup_spec(store: ObjectStoreArgs, credentials_secret: str | None) -> dict[str, Any]:
    """The Cluster's `spec.backup`: WAL archived and base backups kept for the retention."""
    if credentials_secret is None:
        credentials: dict[str, Any] = {"inheritFromIAMRole": True}
    else:
        credentials = {
            "accessKeyId": {"name": credentials_secret, "key": ACCESS_KEY_ID},
            "secretAccessKey": {"name": credentials_secret, "key": SECRET_ACCESS_KEY},
        }
        if store.region is not None:
            credentials["region"] = {"name": credentials_secret, "key": REGION}
    object_store: dict[str, Any] = {
        "destinationPath": store.destination,
        "s3Credentials": credentials,
        "wal": {"compression": "gzip", "maxParallel": 2},
        "data": {"compression": "gzip"},
    }
    if store.endpoint_url is not None:
        object_store["endpointURL"] = store.endpoint_url
    return {
        "retentionPolicy": f"{store.retention_days}d",
        "barmanObjectStore": object_store,
    }


def scheduled_backup_spec(cluster_name: str, schedule: str) -> dict[str, Any]:
    """A ScheduledBackup of the cluster; the first one at once, so PITR works from the start."""
    return {
        "schedule": operator_schedule(schedule),
        "cluster": {"name": cluster_name},
        "method": "barmanObjectStore",
        "immediate": True,
        # The Backup objects go with the ScheduledBackup; the backups in the bucket stay.
        "backupOwnerReference": "self",
    }


def operator_schedule(schedule: str) -> str:
    """The operator's cron has a field for seconds first; the stack's has five fields."""
    return schedule if schedule.startswith("@") else f"0 {schedule}"
