from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import httpx
import pytest

from backup_process import backup_in_process, free_port
from learnbot.backup.catalog import list_backups
from learnbot.observability.metrics import exposition_registry

BUCKET = "learnbot-backups"


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real S3-compatible HTTP server: moto's, as its own process."""
    moto_server = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    assert moto_server is not None, "moto[server] is a dev dependency"
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [moto_server, "-H", "127.0.0.1", "-p", str(port)], stdout=output, stderr=output
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"moto_server did not start:\n{log.read_text()}") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "learnbot-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "learnbot-test-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("BACKUP_S3_ENDPOINT_URL", s3_endpoint)
    return boto3.client("s3", endpoint_url=s3_endpoint)


def test_each_backup_is_copied_to_the_bucket(
    backup_settings_env: Path, s3: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    s3.create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("BACKUP_S3_URL", f"s3://{BUCKET}/prod/nightly")

    assert backup_in_process("run", "--once") == 0

    [backup] = list_backups(backup_settings_env)
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix="prod/nightly/")
    assert sorted(item["Key"] for item in listing["Contents"]) == [
        f"prod/nightly/{backup.name}",
        f"prod/nightly/{backup.name}.manifest.json",
        f"prod/nightly/{backup.name}.sha256",
    ]
    copy = tmp_path / "copy.dump"
    s3.download_file(BUCKET, f"prod/nightly/{backup.name}", str(copy))
    assert (
        hashlib.sha256(copy.read_bytes()).hexdigest() == backup.checksum_path.read_text().split()[0]
    )


def test_a_failed_copy_fails_the_run_but_keeps_the_local_backup(
    backup_settings_env: Path, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BACKUP_S3_URL", "s3://no-such-bucket/prefix")
    before = exposition_registry().get_sample_value("backup_failures_total") or 0

    assert backup_in_process("run", "--once") == 1

    assert exposition_registry().get_sample_value("backup_failures_total") == before + 1
    assert len(list_backups(backup_settings_env)) == 1
