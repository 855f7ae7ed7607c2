"""Building the stand-in images: a Debian bookworm base made with debootstrap and imported into
the engine, then one image per pinned name, built from its folder here FROM that base.

Every image carries the hash of its definition (its folder, and the base's): an image whose
hash matches is reused as it is, one whose definition changed is built again.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import docker
from docker.errors import APIError, BuildError, ImageNotFound
from docker.models.images import Image

HERE = Path(__file__).resolve().parent
REPOSITORY_ROOT = HERE.parents[2]
# Out of git (.gitignore) and out of the service image's build context (.dockerignore).
CACHE_DIR = REPOSITORY_ROOT / ".cache" / "rehearsal"

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
BASE_VARIANT = "minbase"
BASE_PACKAGES = ("ca-certificates",)
BASE_REPOSITORY = "learnbot-standin/bookworm-minbase"
# Files laid over the debootstrapped tree: apt's sources and settings for an image.
BASE_DEFINITION = HERE / "bookworm-minbase"
# What the official debian image sets: an imported tree has no configuration of its own.
BASE_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    'CMD ["bash"]',
)
# This machine's extra certificate authorities (the HTTPS proxy's), for the stand-ins that
# make HTTPS requests while the stack's images are built.
EXTRA_CA_DIR = Path("/usr/local/share/ca-certificates")

HASH_LABEL = "learnbot.standin.hash"
STANDIN_LABEL = "learnbot.standin"
# Builds of an image may take this long (apt-get over the network); the base's debootstrap too.
BUILD_TIMEOUT_SECONDS = 1800

Log = Callable[[str], object]


@dataclass(frozen=True, slots=True)
class StandIn:
    """A pinned image and the folder its stand-in is built from."""

    name: str
    folder: str
    # Trusts this machine's extra certificate authorities (see python/Dockerfile).
    extra_ca: bool = False

    @property
    def path(self) -> Path:
        return HERE / self.folder


# The stack's pinned images (learnbot_platform.stack_config.DEFAULT_IMAGES, service/Dockerfile's
# FROM); Grafana has no Debian package, so no stand-in.
STANDINS = (
    StandIn("python:3.11.11-slim-bookworm", "python", extra_ca=True),
    StandIn("postgres:15.10-bookworm", "postgres"),
    StandIn("redis:7.4.1-alpine", "redis"),
    StandIn("nginx:1.26.2-alpine", "nginx"),
    StandIn("prom/prometheus:v2.53.3", "prometheus"),
    StandIn("prom/alertmanager:v0.27.0", "alertmanager"),
    StandIn("quay.io/prometheuscommunity/postgres-exporter:v0.15.0", "postgres-exporter"),
)
BY_NAME = {standin.name: standin for standin in STANDINS}


def select(names: Iterable[str] | None) -> list[StandIn]:
    if names is None:
        return list(STANDINS)
    chosen = []
    for name in names:
        if name not in BY_NAME:
            raise KeyError(f"no stand-in for {name!r}; there are: {', '.join(BY_NAME)}")
        chosen.append(BY_NAME[name])
    return chosen


def _files(folder: Path) -> list[Path]:
    return sorted(
        path for path in folder.rglob("*") if path.is_file() and "__pycache__" not in path.parts
    )


def extra_ca_files() -> list[Path]:
    return sorted(EXTRA_CA_DIR.glob("*.crt")) if EXTRA_CA_DIR.is_dir() else []


def definition_hash(folder: Path, *extra: bytes) -> str:
    """The files' paths, executable bits and contents (what git keeps of them), and extra."""
    digest = hashlib.sha256()
    for path in _files(folder):
        executable = b"x" if path.stat().st_mode & 0o111 else b"-"
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + executable)
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    for part in extra:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


def base_hash() -> str:
    recipe = repr((SUITE, MIRROR, BASE_VARIANT, BASE_PACKAGES, BASE_CHANGES)).encode()
    return definition_hash(BASE_DEFINITION, recipe)


def base_tag(hash_: str | None = None) -> str:
    return f"{BASE_REPOSITORY}:{(hash_ or base_hash())[:16]}"


def standin_hash(standin: StandIn, base: str) -> str:
    extra = [base.encode()]
    if standin.extra_ca:
        extra += [path.name.encode() + b"\0" + path.read_bytes() for path in extra_ca_files()]
    return definition_hash(standin.path, *extra)


def _image(client: docker.DockerClient, reference: str) -> Image | None:
    try:
        return client.images.get(reference)
    except ImageNotFound:
        return None


def _labels(image: Image) -> dict[str, str]:
    labels: dict[str, str] | None = image.labels
    return labels or {}


def ensure_standins(
    client: docker.DockerClient, names: Iterable[str] | None = None, log: Log = print
) -> dict[str, str]:
    """Each stand-in's image id by its pinned name; builds those missing from the engine or
    built from another definition, and reuses the rest as they are."""
    base = base_hash()
    ids: dict[str, str] = {}
    for standin in select(names):
        wanted = standin_hash(standin, base)
        image = _image(client, standin.name)
        if image is not None and _labels(image).get(HASH_LABEL) == wanted:
            ids[standin.name] = str(image.id)
            continue
        if image is not None:
            log(f"{standin.name}: its definition changed; building it again")
        tag = ensure_base(client, base, log)
        started = time.monotonic()
        built = _build(client, standin, tag, wanted, log)
        ids[standin.name] = str(built.id)
        elapsed = time.monotonic() - started
        log(f"{standin.name}: built in {elapsed:.0f} s ({ids[standin.name][:19]})")
        if image is not None and image.id != built.id:
            _remove_quietly(client, str(image.id))
    return ids


def _remove_quietly(client: docker.DockerClient, reference: str) -> None:
    """An image a container or another image still uses stays."""
    with suppress(APIError):
        client.images.remove(reference)


def ensure_base(client: docker.DockerClient, hash_: str | None = None, log: Log = print) -> str:
    """The base image's tag, after debootstrapping and importing it if the engine lacks it."""
    hash_ = hash_ or base_hash()
    tag = base_tag(hash_)
    if _image(client, tag) is not None:
        return tag
    started = time.monotonic()
    log(f"{tag}: debootstrap --variant={BASE_VARIANT} {SUITE} from {MIRROR}")
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with _scratch_folder(CACHE_DIR, "bookworm-minbase-") as work:
        rootfs = work / "rootfs"
        _debootstrap(rootfs)
        _finish_tree(rootfs)
        archive = work / "rootfs.tar"
        # Numeric owners, as in the tree; /dev is the engine's in a container.
        tar = ["tar", "-C", str(rootfs), "--numeric-owner", "--exclude=./dev/*"]
        subprocess.run(
            [*tar, "-cf", str(archive), "."],
            check=True,
            capture_output=True,
            timeout=600,
        )
        repository, _, version = tag.partition(":")
        changes = [*BASE_CHANGES, f"LABEL {STANDIN_LABEL}=base {HASH_LABEL}={hash_}"]
        client.api.import_image(
            src=str(archive), repository=repository, tag=version, changes=changes
        )
    for image in client.images.list(name=BASE_REPOSITORY):
        for other in image.tags:
            if other != tag:
                _remove_quietly(client, other)
    log(f"{tag}: imported in {time.monotonic() - started:.0f} s")
    return tag


def _debootstrap(rootfs: Path) -> None:
    packages = CACHE_DIR / "debootstrap-packages"
    packages.mkdir(parents=True, exist_ok=True)
    command = [
        "debootstrap",
        f"--variant={BASE_VARIANT}",
        f"--include={','.join(BASE_PACKAGES)}",
        f"--cache-dir={packages}",
        SUITE,
        str(rootfs),
        MIRROR,
    ]
    if shutil.which("debootstrap") is None:
        raise RuntimeError("debootstrap not found: install Debian's debootstrap package")
    result = subprocess.run(
        command, capture_output=True, text=True, check=False, timeout=BUILD_TIMEOUT_SECONDS
    )
    if result.returncode != 0:
        output = _tail(result.stdout + result.stderr)
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}):\n{output}")


def _finish_tree(rootfs: Path) -> None:
    """Lays the definition's files over the tree and leaves out what a container gets from
    the engine or what an image should not keep: package lists, downloaded packages, the
    host's name and resolver."""
    shutil.copytree(BASE_DEFINITION / "rootfs", rootfs, dirs_exist_ok=True)
    (rootfs / "etc/apt/sources.list").unlink(missing_ok=True)
    for pattern in (
        "var/lib/apt/lists/*",
        "var/cache/apt/*.bin",
        "var/cache/apt/archives/*.deb",
        "var/log/*.log",
    ):
        for path in rootfs.glob(pattern):
            if path.is_file() or path.is_symlink():
                path.unlink()
    for name in ("etc/hostname", "etc/resolv.conf"):
        (rootfs / name).unlink(missing_ok=True)


def _mounts_under(folder: Path) -> list[str]:
    prefix = str(folder.resolve()) + "/"
    with open("/proc/mounts") as mounts:
        points = [line.split()[1] for line in mounts]
    return sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True)


@contextmanager
def _scratch_folder(parent: Path, prefix: str) -> Iterator[Path]:
    """A folder removed afterwards, unless something is still mounted in it (debootstrap
    mounts /proc and /sys, or binds /dev, in the tree it makes): those are unmounted first,
    and a folder that cannot be freed is left, never removed through a mount."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        yield folder
    finally:
        for point in _mounts_under(folder):
            subprocess.run(["umount", "--lazy", point], check=False, capture_output=True)
        left = _mounts_under(folder)
        if left:
            raise RuntimeError(f"{folder} not removed: still mounted there: {left}")
        shutil.rmtree(folder)


def build_context(standin: StandIn) -> io.BytesIO:
    """The folder's files, and for a stand-in that trusts them, this machine's extra
    certificate authorities in extra-ca/ (an empty folder elsewhere)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in _files(standin.path):
            tar.add(path, arcname=path.relative_to(standin.path).as_posix(), recursive=False)
        if standin.extra_ca:
            folder = tarfile.TarInfo("extra-ca")
            folder.type, folder.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(folder)
            for path in extra_ca_files():
                tar.add(path, arcname=f"extra-ca/{path.name}", recursive=False)
    buffer.seek(0)
    return buffer


def _build(client: docker.DockerClient, standin: StandIn, base: str, hash_: str, log: Log) -> Image:
    log(f"{standin.name}: building from {standin.path.relative_to(REPOSITORY_ROOT)}/")
    try:
        image, output = client.images.build(
            fileobj=build_context(standin),
            custom_context=True,
            tag=standin.name,
            buildargs={"BASE": base},
            labels={STANDIN_LABEL: standin.folder, HASH_LABEL: hash_},
            rm=True,
            forcerm=True,
            pull=False,
            timeout=BUILD_TIMEOUT_SECONDS,
        )
    except BuildError as error:
        text = build_text(error.build_log)
        _save_log(standin, text)
        raise RuntimeError(
            f"{standin.name}: the build failed: {error.msg}\n{_tail(text)}"
        ) from None
    _save_log(standin, build_text(output))
    return image


def build_text(output: Iterable[object]) -> str:
    """What a build printed, from the engine's stream of JSON messages."""
    return "".join(
        str(chunk.get("stream") or chunk.get("error") or chunk.get("status") or "")
        for chunk in output
        if isinstance(chunk, dict)
    )


def _save_log(standin: StandIn, text: str) -> None:
    """The last build's output, for whoever reads why it failed."""
    logs = CACHE_DIR / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    (logs / f"{standin.folder}.log").write_text(text)


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def remove_standins(
    client: docker.DockerClient, names: Sequence[str] | None = None, *, base: bool = False
) -> None:
    """Removes the stand-ins (and the base, if asked): the next ensure_standins builds them
    as a fresh machine would."""
    for standin in select(names):
        if _image(client, standin.name) is not None:
            client.images.remove(standin.name)
    if base:
        for image in client.images.list(name=BASE_REPOSITORY):
            for tag in image.tags:
                client.images.remove(tag)


def environment_note() -> str:
    """Where this machine's extra certificate authorities come from, for the logs."""
    found = extra_ca_files()
    if not found:
        return f"no extra certificate authorities in {EXTRA_CA_DIR}"
    return f"extra certificate authorities: {', '.join(p.name for p in found)}"
