"""`python -m rehearsal.standins`: builds every stand-in missing from the engine (or out of
date) and prints how long that took."""

from __future__ import annotations

import argparse
import sys
import time

import docker

from rehearsal.standins.images import STANDINS, ensure_standins, environment_note


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rehearsal.standins", description=__doc__)
    parser.add_argument(
        "names", nargs="*", help="pinned image names (default: every stand-in)", metavar="NAME"
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
