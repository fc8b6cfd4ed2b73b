"""Week arithmetic shared by the schedule and the sensor: Mondays, contiguous ranges, and range run requests."""

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

import dagster as dg

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
WEEK = timedelta(weeks=1)


def monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


def closed_weeks(now: datetime, grace: timedelta, lookback_weeks: int, first_week: date) -> tuple[date, date] | None:
    """The last week that closed at least `grace` before `now`, and the `lookback_weeks` before it.

    A week [Monday, next Monday) closes at the next Monday 00:00 UTC. None when no week has closed since
    `first_week` (the first partition).
    """
    cutoff = (now.astimezone(UTC) if now.tzinfo is not None else now) - grace  # naive means UTC
    last = monday(cutoff.date()) - WEEK
    if last < first_week:
        return None
    return max(first_week, last - lookback_weeks * WEEK), last


def contiguous(weeks: Iterable[date]) -> list[tuple[date, date]]:
    """Sorted Mondays grouped into inclusive ranges of consecutive weeks."""
    out: list[tuple[date, date]] = []
    for w in sorted(set(weeks)):
        if out and w - out[-1][1] == WEEK:
            out[-1] = (out[-1][0], w)
        else:
            out.append((w, w))
    return out


def range_tags(first: date, last: date, **extra: str) -> dict[str, str]:
    """Tags that make one run cover every week first..last (the assets' single-run backfill policy)."""
    return {RANGE_START: first.isoformat(), RANGE_END: last.isoformat(), **extra}


def range_request(first: date, last: date, run_key: str | None, **extra: str) -> dg.RunRequest:
    return dg.RunRequest(run_key=run_key, tags=range_tags(first, last, **extra))
