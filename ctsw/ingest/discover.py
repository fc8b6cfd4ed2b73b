"""What the landing folder holds: the weeks its event files cover."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb

from ctsw.contract import EVENT_TABLES, TABLES
from ctsw.ingest.load import landing_files, reader_sql
from ctsw.ingest.rules import parsed


def landing_week_range(landing_dir: Path) -> tuple[date, date] | None:
    """First and last Monday of weeks with any parseable event in the landing files; None if there are none."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    lo: date | None = None
    hi: date | None = None
    for name in EVENT_TABLES:
        col = TABLES[name].column(TABLES[name].partition_column)
        for path in landing_files(landing_dir, name):
            text = f'CAST("{col.name}" AS VARCHAR) AS "{col.name}"'
            first, last = con.execute(
                f"SELECT min(v), max(v) FROM (SELECT CAST({parsed(col)} AS DATE) AS v "
                f"FROM (SELECT {text} FROM {reader_sql(path)}))"
            ).fetchone()
            if first is not None:
                lo = first if lo is None else min(lo, first)
                hi = last if hi is None else max(hi, last)
    if lo is None or hi is None:
        return None
    return lo - timedelta(days=lo.weekday()), hi - timedelta(days=hi.weekday())
