"""A real OpenID provider for the tests: oidc-provider (npm, OpenID Certified) run by Node.js,
from tests/oidc/provider. Its npm packages are installed with `npm ci` from the committed
lock file into .cache/oidc-provider/<hash of package.json and lock>, on first use (or by
`make oidc-provider`, which .ci/run calls)."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tests" / "oidc" / "provider"
CACHE = ROOT / ".cache" / "oidc-provider"
# oidc-provider 9 and jose 6 run on Node.js 20.19 and later.
NODE_MINIMUM = (20, 19)
NEEDS = "Node.js 20.19 or later with npm (https://nodejs.org, or NodeSource's nodejs package)"


@dataclass
class OpenIdProvider:
    process: subprocess.Popen[bytes]
    issuer: str
    log_path: Path

    def events(self) -> list[dict[str, Any]]:
        """The JSON lines the provider wrote (its warnings on standard error are left out)."""
        found = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict):
                    found.append(event)
        return found

    def freeze(self) -> None:
        """Stopped, it still accepts connections (the kernel does) and answers nothing."""
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.thaw()
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def node_tools() -> tuple[str, str] | None:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return None
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    major, minor = (int(part) for part in version.stdout.strip().lstrip("v").split(".")[:2])
    return (node, npm) if (major, minor) >= NODE_MINIMUM else None


def installed_package(npm: str) -> Path:
    """The provider's folder with its node_modules; `npm ci` runs once per lock file, one
    process at a time (parallel test runs share the cache)."""
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update((PACKAGE / name).read_bytes())
    target = CACHE / digest.hexdigest()[:16]
    marker = target / "node_modules" / "oidc-provider" / "package.json"
    if not marker.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        with (CACHE / "install.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not marker.exists():
                _npm_ci(npm, target)
    # The script is copied each time: a change to it needs no new install.
    copy = target / f"server.{os.getpid()}.mjs"
    shutil.copyfile(PACKAGE / "server.mjs", copy)
    copy.replace(target / "server.mjs")
    return target


def _npm_ci(npm: str, target: Path) -> None:
    staging = target.with_name(target.name + ".installing")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(PACKAGE / name, staging / name)
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--cache", str(CACHE / "npm")],
        cwd=staging,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"npm ci of tests/oidc/provider failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)


@contextmanager
def openid_provider(
    directory: Path,
    clients: Sequence[Mapping[str, object]],
    accounts: Mapping[str, Mapping[str, str]],
) -> Iterator[OpenIdProvider]:
    """oidc-provider on a free port of 127.0.0.1 with these clients and accounts (see
    tests/oidc/provider/server.mjs), stopped afterwards."""
    tools = node_tools()
    if tools is None:
        pytest.skip(f"the OpenID provider tests need {NEEDS}")
    node, npm = tools
    package = installed_package(npm)
    log_path = directory / "openid-provider.log"
    config = json.dumps({"clients": list(clients), "accounts": dict(accounts)})
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [node, "server.mjs"],
            cwd=package,
            env={**os.environ, "OIDC_PROVIDER_CONFIG": config, "NODE_ENV": "test"},
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    provider = OpenIdProvider(process, "", log_path)
    try:
        provider.issuer = _wait_until_listening(provider)
        yield provider
    finally:
        provider.stop()


def _wait_until_listening(provider: OpenIdProvider, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in provider.events():
            if event.get("event") == "listening":
                return str(event["issuer"])
        if provider.process.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"oidc-provider did not start:\n{provider.log_path.read_text()}")


def main() -> None:
    """`make oidc-provider`: install the npm packages before the tests need them."""
    tools = node_tools()
    if tools is None:
        sys.exit(f"the OpenID provider tests need {NEEDS}")
    print(installed_package(tools[1]))


if __name__ == "__main__":
    main()
