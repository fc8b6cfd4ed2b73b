"""Checks on the raw layer for a window of weeks: the table's GE suite, and what the loader quarantined.

Both only inform: the loader has already kept every row that breaks the contract out of `raw.<table>`, so a
failing raw suite means a loader rule and the suite disagree (worth a look, not worth stopping the run), and
quarantined rows mean the landing files need fixing at the source.

Offending rows are identified by their landing file and row (`_source_file`, `_source_row`) plus the table's
key columns that are not person identifiers: check metadata ends up in the Dagster event log, which should not
hold people's pseudonyms either.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import duckdb

from ctsw.config import EXPECTATIONS_DIR
from ctsw.contract import TABLES, Table
from ctsw.db import has_table
from ctsw.ingest.load import Window
from ctsw.ingest.schema import RAW_SCHEMA
from ctsw.quality.ge_runner import SuiteResult
from ctsw.quality.sql_expectations import validate_table

SAMPLE_ROWS = 5
LINEAGE_KEY = ("_source_file", "_source_row")
# A quarantine reason with its specifics (which file and row won, how many fields) cut off, so reasons group.
REASON_KIND_SQL = r"""CASE
    WHEN reason LIKE 'exact duplicate of %' THEN 'exact duplicate'
    WHEN reason LIKE 'superseded by %' THEN 'superseded duplicate (same key, different values)'
    ELSE regexp_replace(regexp_replace(split_part(reason, '; ', 1), ' \(.*$', ''), '[0-9]+', 'N', 'g')
  END"""


def sample_key_columns(table: Table) -> list[str]:
    """Key columns for sample rows: the table's key without person identifiers, then the landing file and row."""
    return [k for k in table.key if not table.column(k).pseudonymised] + list(LINEAGE_KEY)


def window_predicate(table: Table, window: Window | None, column: str | None = None) -> tuple[str, list]:
    """SQL predicate (and parameters) selecting the rows of `window`; all rows for a snapshot table."""
    column = column or table.partition_column
    if window is None or column is None:
        return "true", []
    return f"{column} >= ? AND {column} < ?", [window.start, window.end]


def raw_suite_result(con: duckdb.DuckDBPyConnection, table_name: str, window: Window | None) -> SuiteResult:
    """`expectations/raw_<table>.json` on the table's rows of `window` (every row of a snapshot table).

    Evaluated in DuckDB (`sql_expectations`), not in pandas: a backfill's window is the whole table, tens of
    millions of rows at scale. Samples come first by landing file and row, as the rows were loaded.
    """
    table = TABLES[table_name]
    where, params = window_predicate(table, window)
    return validate_table(con, f"{RAW_SCHEMA}.{table.name}", EXPECTATIONS_DIR / f"raw_{table.name}.json",
                          key_columns=sample_key_columns(table), order_by=list(LINEAGE_KEY), where=where,
                          params=params)


@dataclass
class QuarantineSummary:
    table: str
    rows: int = 0  # quarantined rows of the window (plus rows that belong to no week)
    rows_without_week: int = 0  # partition value missing or implausible: quarantined by every window's load
    by_reason: dict[str, int] = field(default_factory=dict)  # reason kind -> rows
    by_field: dict[str, int] = field(default_factory=dict)  # field -> rows ('(row)' for whole-row problems)
    by_file: dict[str, int] = field(default_factory=dict)  # landing file -> rows (the 20 files with most)
    sample: list[dict[str, Any]] = field(default_factory=list)  # first rows by file and row, person ids removed

    def to_metadata(self) -> dict[str, Any]:
        return {
            "quarantined_rows": self.rows,
            "rows_without_week": self.rows_without_week,
            "by_reason": self.by_reason,
            "by_field": self.by_field,
            "by_file": self.by_file,
            "sample": self.sample,
        }

    def sample_markdown(self) -> str:
        if not self.sample:
            return "No quarantined rows."
        lines = ["| file | row | field | reason |", "|---|---|---|---|"]
        for r in self.sample:
            cells = [str(r["source_file"]), str(r["source_row"]), r["field"] or "", r["reason"]]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        return "\n".join(lines)


def quarantine_summary(con: duckdb.DuckDBPyConnection, table_name: str, window: Window | None) -> QuarantineSummary:
    """What `raw.quarantine` holds for `table_name` in `window`: counts by reason, field and file, sample rows.

    For an event table, rows whose partition value is missing or implausible belong to no week; every window's
    load quarantines them again, so they are counted in every window (and reported apart as rows_without_week).
    """
    table = TABLES[table_name]
    summary = QuarantineSummary(table=table_name)
    if not has_table(con, RAW_SCHEMA, "quarantine"):
        return summary
    if window is None or table.partition_column is None:
        where, params = "source_table = ?", [table_name]
    else:
        where = "source_table = ? AND (partition_ts IS NULL OR (partition_ts >= ? AND partition_ts < ?))"
        params = [table_name, window.start, window.end]
    base = f"SELECT * FROM {RAW_SCHEMA}.quarantine WHERE {where}"
    summary.rows, summary.rows_without_week = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE partition_ts IS NULL) FROM ({base})", params
    ).fetchone()
    if not summary.rows:
        return summary
    if table.partition_column is None:
        summary.rows_without_week = 0  # a snapshot table has no weeks
    summary.by_reason = dict(con.execute(
        f"SELECT {REASON_KIND_SQL} AS kind, count(*) AS n FROM ({base}) GROUP BY kind ORDER BY n DESC, kind", params
    ).fetchall())
    summary.by_field = dict(con.execute(
        f"SELECT coalesce(field, '(row)') AS f, count(*) AS n FROM ({base}) GROUP BY f ORDER BY n DESC, f", params
    ).fetchall())
    summary.by_file = dict(con.execute(
        f"SELECT source_file, count(*) AS n FROM ({base}) GROUP BY 1 ORDER BY n DESC, 1 LIMIT 20", params
    ).fetchall())
    person = {c.name for c in table.columns if c.pseudonymised}
    for file, row, fld, reason, record in con.execute(
        f"SELECT source_file, source_row, field, reason, record FROM ({base}) "
        f"ORDER BY source_file, source_row LIMIT {SAMPLE_ROWS}", params
    ).fetchall():
        summary.sample.append({"source_file": file, "source_row": row, "field": fld, "reason": reason,
                               "record": _without_people(record, person)})
    return summary


def _without_people(record: str | None, person: set[str]) -> dict[str, Any] | None:
    """The quarantined record without person columns (pseudonyms stay out of the Dagster event log)."""
    if record is None:
        return None
    try:
        values = json.loads(record)
    except ValueError:
        return None
    return {k: v for k, v in values.items() if k not in person} if isinstance(values, dict) else None
