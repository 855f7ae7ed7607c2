"""Local stand-ins for the images the stack pins, built from Debian bookworm packages on an
engine that reaches no image registry; each is tagged with the pinned name it stands in for.

    ensure_standins(client) -> {pinned name: image id}   builds what is missing or out of date

`PYTHONPATH=tests python -m rehearsal.standins` does it from a shell.
"""

from rehearsal.standins.images import STANDINS, StandIn, ensure_standins, remove_standins

__all__ = ["STANDINS", "StandIn", "ensure_standins", "remove_standins"]
