from __future__ import annotations

from learnbot.backup.catalog import Backup
from learnbot.backup.settings import S3Location


class OffsiteCopyFailed(Exception):
    """The bucket did not take the backup; the local copy is still there."""


def copy_offsite(backup: Backup, location: S3Location, endpoint_url: str | None) -> list[str]:
    """Uploads the dump and its sidecars; credentials come from the standard AWS_* variables."""
    # Imported here: boto3 takes most of a second to import and only this job needs it.
    import boto3  # type: ignore[import-untyped]
    from boto3.exceptions import Boto3Error  # type: ignore[import-untyped]
    from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

    client = boto3.client("s3", endpoint_url=endpoint_url)
    # The dump goes last, so a dump in the bucket always has its checksum beside it.
    paths = [backup.checksum_path, backup.manifest_path, backup.path]
    uploaded = []
    try:
        for path in paths:
            client.upload_file(str(path), location.bucket, location.key(path.name))
            uploaded.append(location.url(path.name))
    except (Boto3Error, BotoCoreError, ClientError, OSError) as error:
        raise OffsiteCopyFailed(f"copy to {location.url(backup.name)} failed: {error}") from None
    return uploaded
