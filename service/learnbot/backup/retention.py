from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    daily: int = 7
    weekly: int = 4
    monthly: int = 6


def backups_to_keep(
    backups: Mapping[datetime, bool], policy: RetentionPolicy
) -> frozenset[datetime]:
    """Grandfather-father-son over UTC times; `backups` maps each backup's time to `verified`."""
    keep: set[datetime] = set()
    keep |= _newest_per_period(backups, policy.daily, lambda t: t.date())
    keep |= _newest_per_period(backups, policy.weekly, lambda t: t.isocalendar()[:2])
    keep |= _newest_per_period(backups, policy.monthly, lambda t: (t.year, t.month))
    verified = [taken_at for taken_at, ok in backups.items() if ok]
    if verified:
        keep.add(max(verified))
    return frozenset(keep)


def _newest_per_period(
    times: Mapping[datetime, bool], periods: int, period_of: Callable[[datetime], Hashable]
) -> set[datetime]:
    newest: dict[Hashable, datetime] = {}
    for taken_at in sorted(times, reverse=True):
        period = period_of(taken_at)
        if period not in newest:
            if len(newest) == periods:
                break
            newest[period] = taken_at
    return set(newest.values())
