"""What one load run measured."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Measurement:
    requests: int  # completed responses, whatever their status
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int  # error statuses plus socket errors and timeouts
    generator: str  # "wrk", "paced" (the open-loop Python client) or "python" (closed loop)
    error_kinds: str = ""  # e.g. "12 timeout, 3 status"

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def percentile(ordered: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of an ascending sequence."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]
