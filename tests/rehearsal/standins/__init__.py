"""Local stand-ins for the images the stack pins, built from Debian bookworm packages on an
engine that reaches no image registry; each is tagged with the pinned name it stands in for.

    ensure_standins(client) -> {pinned name: image id}   builds what is missing or out of date
    check_standins(client) -> [(check, passed, detail)]  the official images' behaviour the
                                                          stack relies on (README.md)

`PYTHONPATH=platform:tests python -m rehearsal.standins [--check]` does both from a shell.
"""

from rehearsal.standins.checks import check_standins
from rehearsal.standins.images import STANDINS, StandIn, ensure_standins, remove_standins

__all__ = ["STANDINS", "StandIn", "check_standins", "ensure_standins", "remove_standins"]
