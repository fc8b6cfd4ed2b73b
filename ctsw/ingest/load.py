"""Load one contract table's landing files for a window of weeks into `raw.<table>`.

The write is a delete+insert of the window in one transaction, so re-running a week gives the same table and a
crash leaves the previous state. Rows that break a rule go to `raw.quarantine` with the file, row, field and
reason; for every load `rows_read = rows_loaded + rows_quarantined`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from ctsw.contract import TABLES, Table
from ctsw.ingest.pseudonym import pseudonym_sql
from ctsw.ingest.rules import parsed, reason_list_sql
from ctsw.ingest.schema import RAW_SCHEMA, create_raw_schema

FORMATS = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}


class LoadError(Exception):
    """A landing file that cannot be read at all (the message names the file and what to fix)."""


@dataclass(frozen=True)
class Window:
    """Half-open time window [start, end)."""

    start: datetime
    end: datetime


@dataclass
class LoadResult:
    table: str
    files: int = 0
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    ignored_columns: dict[str, list[str]] = field(default_factory=dict)  # file -> unknown columns

    def as_metadata(self) -> dict:
        return {
            "files": self.files,
            "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
            "quarantine_reasons": self.quarantine_reasons,
            "ignored_columns": self.ignored_columns,
        }


def landing_files(landing_dir: Path, table: str) -> list[Path]:
    folder = landing_dir / table
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in FORMATS)


def reader_sql(path: Path) -> str:
    p = str(path).replace("'", "''")
    fmt = FORMATS[path.suffix.lower()]
    if fmt == "csv":
        return f"read_csv('{p}', all_varchar = true, header = true)"
    if fmt == "parquet":
        return f"read_parquet('{p}')"
    return f"read_json('{p}', format = 'newline_delimited')"


def _as_text(name: str, duck_type: str) -> str:
    if duck_type.endswith("[]"):
        return f"array_to_string(\"{name}\", ';')"
    return f"CAST(\"{name}\" AS VARCHAR)"


def _stage_file(
    con: duckdb.DuckDBPyConnection, table: Table, path: Path, name: str, result: LoadResult
) -> None:
    """Append one file to the text staging table; columns it lacks are null and flagged if required."""
    src = reader_sql(path)
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()
    except duckdb.Error as exc:
        raise LoadError(f"{path}: cannot be read as {FORMATS[path.suffix.lower()]}: {exc}") from exc
    present = {row[0]: row[1] for row in described}
    unknown = sorted(set(present) - set(table.column_names))
    if unknown:
        result.ignored_columns[name] = unknown
    missing = [c.name for c in table.columns if c.required and c.name not in present]
    problem = f"'required column(s) missing from file: {', '.join(missing)}'" if missing else "NULL"
    cols = [
        f"{_as_text(c.name, present[c.name])} AS \"{c.name}\"" if c.name in present
        else f"NULL::VARCHAR AS \"{c.name}\""
        for c in table.columns
    ]
    file_literal = name.replace("'", "''")
    try:
        con.execute(
            f"INSERT INTO _stage SELECT {', '.join(cols)}, '{file_literal}', row_number() OVER (), {problem} "
            f"FROM {src}"
        )
    except duckdb.Error as exc:
        raise LoadError(f"{path}: cannot be read: {exc}") from exc


def load_table(
    con: duckdb.DuckDBPyConnection,
    table_name: str,
    files: list[Path],
    window: Window | None,
    pseudonym_key: str,
    landing_dir: Path | None = None,
) -> LoadResult:
    """Replace `raw.<table>` rows in `window` (all rows for a snapshot table) with those in `files`.

    Files are recorded relative to `landing_dir` so the raw tables do not depend on where the folder lives.
    """
    table = TABLES[table_name]
    if (window is None) != (table.partition_column is None):
        raise ValueError(f"{table_name}: a window is required exactly for event tables")
    result = LoadResult(table=table_name, files=len(files))
    create_raw_schema(con)
    con.execute("DROP TABLE IF EXISTS _stage")
    text_cols = ", ".join(f'"{c}" VARCHAR' for c in table.column_names)
    con.execute(f"CREATE TEMP TABLE _stage ({text_cols}, _source_file VARCHAR, _source_row BIGINT, _problem VARCHAR)")
    con.begin()
    try:
        for path in files:
            name = str(path.relative_to(landing_dir)) if landing_dir else str(path)
            _stage_file(con, table, path, name, result)
        _validate_and_write(con, table, window, pseudonym_key, result)
        con.commit()
    except BaseException:
        con.rollback()
        raise
    finally:
        con.execute("DROP TABLE IF EXISTS _stage")
    return result


def _validate_and_write(
    con: duckdb.DuckDBPyConnection, table: Table, window: Window | None, key: str, result: LoadResult
) -> None:
    t = f"{RAW_SCHEMA}.{table.name}"
    typed = ", ".join(
        f"{pseudonym_sql(parsed(c), key) if c.pseudonymised else parsed(c)} AS p_{c.name}" for c in table.columns
    )
    check_team = "team_id" in table.column_names and table.name != "teams"
    reasons = reason_list_sql(table, check_team)
    part = f"CAST(p_{table.partition_column} AS TIMESTAMP)" if table.partition_column else "NULL::TIMESTAMP"
    in_window = (
        f"(_part IS NULL OR (_part >= TIMESTAMP '{window.start:%Y-%m-%d %H:%M:%S}' "
        f"AND _part < TIMESTAMP '{window.end:%Y-%m-%d %H:%M:%S}'))"
        if window else "true"
    )
    # The quarantine record carries pseudonyms, never a raw person identifier.
    record = "to_json({" + ", ".join(
        f"'{c.name}': " + (f"p_{c.name}" if c.pseudonymised else f'"{c.name}"') for c in table.columns
    ) + "})"
    key_cols = ", ".join(f"p_{k}" for k in table.key)
    row_hash = "md5(concat_ws('|', " + ", ".join(f"coalesce(CAST(p_{c} AS VARCHAR), '')" for c in
                                                table.column_names) + "))"
    con.execute(f"""
CREATE TEMP TABLE _checked AS
WITH typed AS (
  SELECT *, {typed} FROM _stage
), flagged AS (
  SELECT *, {part} AS _part,
    list_concat(
      CASE WHEN _problem IS NOT NULL THEN [{{'field': NULL, 'reason': _problem}}] ELSE [] END,
      {reasons}) AS _reasons
  FROM typed
), scoped AS (
  SELECT * FROM flagged WHERE {in_window}
), ranked AS (
  -- Among valid rows sharing a key, the last file (then last row) wins: exports repeat updated entities.
  SELECT *, {row_hash} AS _hash,
    row_number() OVER (PARTITION BY len(_reasons) = 0, {key_cols}
                       ORDER BY _source_file DESC, _source_row DESC) AS _rank,
    first_value(_source_file || ':' || _source_row) OVER (PARTITION BY len(_reasons) = 0, {key_cols}
                       ORDER BY _source_file DESC, _source_row DESC) AS _winner,
    first_value({row_hash}) OVER (PARTITION BY len(_reasons) = 0, {key_cols}
                       ORDER BY _source_file DESC, _source_row DESC) AS _winner_hash
  FROM scoped
)
SELECT *,
  CASE
    WHEN len(_reasons) > 0 THEN _reasons[1].field
    WHEN _rank > 1 THEN '{table.key[0]}'
  END AS _q_field,
  CASE
    WHEN len(_reasons) > 0 THEN array_to_string(list_transform(_reasons,
         lambda x: coalesce(x.field || ': ', '') || x.reason), '; ')
    WHEN _rank > 1 AND _hash = _winner_hash THEN 'exact duplicate of ' || _winner
    WHEN _rank > 1 THEN 'superseded by ' || _winner || ' (same key, different values)'
  END AS _q_reason,
  CASE
    WHEN len(_reasons) > 0 THEN coalesce(_reasons[1].field, '(file)') || ': ' || _reasons[1].reason
    WHEN _rank > 1 AND _hash = _winner_hash THEN 'exact duplicate'
    WHEN _rank > 1 THEN 'superseded duplicate'
  END AS _q_kind
FROM ranked
""")
    try:
        _write(con, table, t, window, record, result)
    finally:
        con.execute("DROP TABLE IF EXISTS _checked")


def _write(con, table: Table, t: str, window: Window | None, record: str, result: LoadResult) -> None:
    files_sql = "SELECT DISTINCT _source_file FROM _stage"
    if window:
        bounds = (f"TIMESTAMP '{window.start:%Y-%m-%d %H:%M:%S}'", f"TIMESTAMP '{window.end:%Y-%m-%d %H:%M:%S}'")
        pc = table.partition_column
        con.execute(f"DELETE FROM {t} WHERE {pc} >= {bounds[0]} AND {pc} < {bounds[1]}")
        con.execute(
            f"DELETE FROM {RAW_SCHEMA}.quarantine WHERE source_table = '{table.name}' AND ("
            f"(partition_ts >= {bounds[0]} AND partition_ts < {bounds[1]}) "
            f"OR (partition_ts IS NULL AND source_file IN ({files_sql})))"
        )
    else:
        con.execute(f"DELETE FROM {t}")
        con.execute(f"DELETE FROM {RAW_SCHEMA}.quarantine WHERE source_table = '{table.name}'")
    cols = ", ".join(table.column_names)
    pcols = ", ".join(f"p_{c}" for c in table.column_names)
    con.execute(
        f"INSERT INTO {t} ({cols}, _source_file, _source_row) "
        f"SELECT {pcols}, _source_file, _source_row FROM _checked WHERE _q_reason IS NULL "
        f"ORDER BY _source_file, _source_row"
    )
    con.execute(
        f"INSERT INTO {RAW_SCHEMA}.quarantine "
        f"SELECT '{table.name}', _source_file, _source_row, _q_field, _q_reason, {record}, _part "
        f"FROM _checked WHERE _q_reason IS NOT NULL ORDER BY _source_file, _source_row"
    )
    if table.name == "deployments":
        _write_pr_bridge(con, window)
    counts = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE _q_reason IS NULL) FROM _checked"
    ).fetchone()
    result.rows_read, result.rows_loaded = counts
    result.rows_quarantined = result.rows_read - result.rows_loaded
    result.quarantine_reasons = dict(
        con.execute(
            "SELECT _q_kind, count(*) FROM _checked WHERE _q_kind IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1"
        ).fetchall()
    )


def _write_pr_bridge(con: duckdb.DuckDBPyConnection, window: Window) -> None:
    b = f"{RAW_SCHEMA}.deployment_pull_requests"
    con.execute(
        f"DELETE FROM {b} WHERE started_at >= TIMESTAMP '{window.start:%Y-%m-%d %H:%M:%S}' "
        f"AND started_at < TIMESTAMP '{window.end:%Y-%m-%d %H:%M:%S}'"
    )
    con.execute(f"""
INSERT INTO {b}
SELECT DISTINCT p_deployment_id, trim(pr), p_started_at
FROM _checked, unnest(string_split(p_pr_ids, ';')) AS s(pr)
WHERE _q_reason IS NULL AND trim(pr) <> ''
ORDER BY 1, 2
""")
