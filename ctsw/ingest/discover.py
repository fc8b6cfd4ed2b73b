"""What the landing folder holds: the weeks its event files cover."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb

from ctsw.contract import EVENT_TABLES, TABLES
from ctsw.ingest.load import landing_files
from ctsw.ingest.readers import LoadError, create_stage, stage_file
from ctsw.ingest.rules import parsed, plausible


def landing_week_range(landing_dir: Path) -> tuple[date, date] | None:
    """First and last Monday of weeks with any plausible event in the landing files; None if there are none.

    Files are read with the loader's readers, so a malformed row cannot stop discovery; an unreadable file is
    skipped here (its load reports it). Implausible dates (before 2000, after tomorrow) would stretch the run
    over decades of empty weeks: they are quarantined at load instead.
    """
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    lo: date | None = None
    hi: date | None = None
    for name in EVENT_TABLES:
        table = TABLES[name]
        col = table.column(table.partition_column)
        create_stage(con, (col,))
        for path in landing_files(landing_dir, name):
            try:
                stage_file(con, table, (col,), path, str(path))
            except LoadError:
                con.execute("DELETE FROM _stage WHERE _source_file = ?", [str(path)])
        first, last = con.execute(
            f"SELECT min(v), max(v) FROM (SELECT CAST({parsed(col)} AS DATE) AS v FROM _stage) "
            f"WHERE {plausible('v')}"
        ).fetchone()
        if first is not None:
            lo = first if lo is None else min(lo, first)
            hi = last if hi is None else max(hi, last)
    con.close()
    if lo is None or hi is None:
        return None
    return lo - timedelta(days=lo.weekday()), hi - timedelta(days=hi.weekday())
