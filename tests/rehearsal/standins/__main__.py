"""`python -m rehearsal.standins`: builds every stand-in missing from the engine (or out of
date) and prints how long that took; with --check, runs the contract checks too."""

from __future__ import annotations

import argparse
import sys
import time

import docker

from rehearsal.standins.checks import check_standins
from rehearsal.standins.images import STANDINS, ensure_standins, environment_note


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rehearsal.standins", description=__doc__)
    parser.add_argument(
        "names", nargs="*", help="pinned image names (default: every stand-in)", metavar="NAME"
    )
    parser.add_argument("--check", action="store_true", help="run the contract checks")
    parser.add_argument(
        "--no-service-image",
        action="store_true",
        help="with --check: skip building the service image from service/Dockerfile",
    )
    args = parser.parse_args(argv)
    client = docker.from_env(timeout=600)
    print(environment_note(), flush=True)

    started = time.monotonic()
    ids = ensure_standins(client, args.names or None, log=lambda line: print(line, flush=True))
    elapsed = time.monotonic() - started
    width = max(len(standin.name) for standin in STANDINS)
    for name, image_id in ids.items():
        print(f"  {name:<{width}}  {image_id[:19]}")
    print(f"{len(ids)} stand-ins ready in {elapsed:.1f} s", flush=True)
    if not args.check:
        return 0

    started = time.monotonic()
    results = check_standins(client, service_image=not args.no_service_image)
    for name, passed, detail in results:
        print(f"{'PASS' if passed else 'FAIL'}  {name}: {detail}", flush=True)
    failed = [name for name, passed, _ in results if not passed]
    print(
        f"{len(results) - len(failed)}/{len(results)} checks passed in "
        f"{time.monotonic() - started:.0f} s",
        flush=True,
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
