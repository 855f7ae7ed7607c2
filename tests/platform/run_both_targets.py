"""Runs the Pulumi program as it is in the checkout under the mocks of stack_run, for both targets,
first with every default and then with every setting changed, in the interpreter that runs this
script. Prints, as JSON, the SDK versions it ran with, the resource types each target registered
and the installed distributions the run loaded. test_lowest_versions.py runs it in an environment
holding the lowest versions pyproject.toml allows.

Run it with platform/, tests/ and service/ on PYTHONPATH, in that order."""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import sys

from stack_run import STACKS, StackRun, run_stack

SDKS = ("pulumi", "pulumi-docker", "pulumi-random", "pulumi-kubernetes")


def runs_of_both_targets() -> dict[str, list[StackRun]]:
    return {
        target: [run_stack(name) for name in STACKS if name.startswith(target + "-")]
        for target in ("docker", "kubernetes")
    }


def loaded_distributions() -> list[str]:
    owners = importlib.metadata.packages_distributions()
    return sorted(
        {owner for module in list(sys.modules) for owner in owners.get(module.split(".")[0], [])}
    )


def main() -> None:
    # The SDK waits on the thread's current event loop.
    asyncio.set_event_loop(asyncio.new_event_loop())
    runs = runs_of_both_targets()
    report = {
        "versions": {name: importlib.metadata.version(name) for name in SDKS},
        "resource_types": {
            target: sorted({r.typ for run in target_runs for r in run.mocks.resources})
            for target, target_runs in runs.items()
        },
        "distributions": loaded_distributions(),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
