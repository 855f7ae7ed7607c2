from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from learnbot.backup.retention import RetentionPolicy, backups_to_keep


def at(day: date, hour: int = 3) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def brute_force_keep(backups: dict[datetime, bool], policy: RetentionPolicy) -> set[datetime]:
    """The policy by definition: a backup is kept when it is the newest of its day (ISO week,
    month) and fewer than N later days (weeks, months) have backups; plus the newest verified."""

    def kept_for(period: Callable[[datetime], tuple[int, ...]], count: int) -> set[datetime]:
        kept = set()
        for taken_at in backups:
            newest_of_period = all(
                other <= taken_at for other in backups if period(other) == period(taken_at)
            )
            later_periods = {period(o) for o in backups if period(o) > period(taken_at)}
            if newest_of_period and len(later_periods) < count:
                kept.add(taken_at)
        return kept

    keep = kept_for(lambda t: (t.year, t.month, t.day), policy.daily)
    keep |= kept_for(lambda t: (t.isocalendar().year, t.isocalendar().week), policy.weekly)
    keep |= kept_for(lambda t: (t.year, t.month), policy.monthly)
    verified = [taken_at for taken_at, ok in backups.items() if ok]
    if verified:
        keep.add(max(verified))
    return keep


def test_a_year_of_nightly_backups_keeps_7_days_4_weeks_6_months() -> None:
    backups: dict[datetime, bool] = {}
    day = date(2025, 1, 1)
    while day.year == 2025:
        backups[at(day)] = False
        backups = {
            t: v for t, v in backups.items() if t in backups_to_keep(backups, RetentionPolicy())
        }
        day += timedelta(days=1)

    # 2025-12-31 is a Wednesday: its ISO week started on Monday 29 December.
    dailies = {date(2025, 12, d) for d in range(25, 32)}
    weeklies = {date(2025, 12, 31), date(2025, 12, 28), date(2025, 12, 21), date(2025, 12, 14)}
    monthlies = {
        date(2025, 12, 31),
        date(2025, 11, 30),
        date(2025, 10, 31),
        date(2025, 9, 30),
        date(2025, 8, 31),
        date(2025, 7, 31),
    }
    assert {t.date() for t in backups} == dailies | weeklies | monthlies


def test_a_simulated_year_keeps_exactly_what_the_policy_defines() -> None:
    rng = random.Random(20250101)
    policy = RetentionPolicy(daily=7, weekly=4, monthly=6)
    backups: dict[datetime, bool] = {}
    history: dict[datetime, bool] = {}
    day = date(2024, 12, 20)
    while day < date(2026, 1, 10):
        if rng.random() > 0.1:  # some nights the backup failed
            history[at(day)] = backups[at(day)] = False
        if rng.random() < 0.05:  # a backup taken by hand in the afternoon
            history[at(day, 15)] = backups[at(day, 15)] = False
        if day.isoweekday() == 7 and backups and rng.random() > 0.2:
            newest = max(backups)  # the Sunday drill verifies the newest backup
            history[newest] = backups[newest] = True
        kept = backups_to_keep(backups, policy)
        assert kept == brute_force_keep(backups, policy), day
        backups = {t: v for t, v in backups.items() if t in kept}
        day += timedelta(days=1)

    # Pruning day by day ends where pruning the whole history at once does.
    assert set(backups) == brute_force_keep(history, policy)
    assert len(backups) <= policy.daily + policy.weekly + policy.monthly + 1


def test_the_newest_verified_backup_survives_outside_every_window() -> None:
    verified_long_ago = at(date(2025, 1, 5))
    backups = {verified_long_ago: True} | {at(date(2025, 3, d)): False for d in range(1, 11)}
    policy = RetentionPolicy(daily=3, weekly=0, monthly=0)

    kept = backups_to_keep(backups, policy)

    assert kept == {
        verified_long_ago,
        at(date(2025, 3, 10)),
        at(date(2025, 3, 9)),
        at(date(2025, 3, 8)),
    }


def test_only_the_newest_verified_backup_is_kept_for_being_verified() -> None:
    backups = {at(date(2025, 1, d)): True for d in (1, 2)} | {at(date(2025, 3, 1)): False}

    kept = backups_to_keep(backups, RetentionPolicy(daily=1, weekly=0, monthly=0))

    assert kept == {at(date(2025, 1, 2)), at(date(2025, 3, 1))}


def test_the_newest_backup_of_a_day_stands_for_the_day() -> None:
    morning, evening = at(date(2025, 5, 5), 3), at(date(2025, 5, 5), 21)

    kept = backups_to_keep({morning: False, evening: False}, RetentionPolicy(1, 1, 1))

    assert kept == {evening}


def test_no_backups_keep_nothing() -> None:
    assert backups_to_keep({}, RetentionPolicy()) == frozenset()
