"""Integer time: days and seconds since 1970-01-01 UTC, and working hours inside a week.

Everything is generated as integers so the weekly partition of every row is exact; deployments, merges and
commits happen on weekdays between 07:00 and 20:00, which keeps whatever follows them (a rollback, a trunk
release) inside the same week.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

DAY = 86_400
WEEK = 7 * DAY
WORK_START = 7 * 3600  # 07:00
WORK_DAY = 13 * 3600  # until 20:00
WORK_WEEK = 5 * WORK_DAY  # Monday to Friday
EPOCH = dt.date(1970, 1, 1)


def to_day(date: str | dt.date) -> int:
    if isinstance(date, str):
        date = dt.date.fromisoformat(date)
    return (date - EPOCH).days


def to_date(day: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(day))


def iso_week_numbers(first_day: int, n_weeks: int) -> np.ndarray:
    return np.array([to_date(first_day + 7 * t).isocalendar().week for t in range(n_weeks)])


def work_to_ts(week_start_s: int, r: np.ndarray) -> np.ndarray:
    """Working second r in [0, WORK_WEEK) of the week -> epoch seconds."""
    r = np.asarray(r, dtype=np.int64)
    return week_start_s + (r // WORK_DAY) * DAY + WORK_START + r % WORK_DAY


def ts_to_work(week_start_s: int, ts: np.ndarray) -> np.ndarray:
    """Inverse of work_to_ts for timestamps inside working hours."""
    off = np.asarray(ts, dtype=np.int64) - week_start_s
    return (off // DAY) * WORK_DAY + off % DAY - WORK_START
