"""Load one contract table's landing files for a window of weeks into `raw.<table>`.

The write is a delete+insert of the window in one transaction, so re-running a week gives the same table and a
crash leaves the previous state. Rows that break a rule go to `raw.quarantine` with the file, row, field and
reason; for every load `rows_read = rows_loaded + rows_quarantined`. What each kind of bad input leads to is
listed in docs/telemetry-contract.md ("What happens to bad input").

`rows_read` counts the rows the load decides on: the staged rows whose partition value lies in the window or is
null or implausible (those are quarantined by every window load), each once; rows of other weeks that are read
only to see whether a newer export of an entity exists are not counted. For a snapshot table, every row.

A windowed load stages only the files that can contribute (ctsw/ingest/prune.py): a Parquet file whose
statistics prove that all of its rows lie in other weeks, and that shares no key with the staged files, is
skipped (`files_skipped`). A large window is validated in chunks of weeks, each staging only its files, so
memory does not grow with the window; the chunks' rows are collected in temp tables and written in one
transaction, in the same order as an unchunked load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from ctsw.contract import TABLES, Table
from ctsw.ingest import prune
from ctsw.ingest.pseudonym import pseudonym_sql
from ctsw.ingest.readers import FORMATS, LoadError, create_stage, stage_file, staged_text
from ctsw.ingest.rules import SPELL_RULES, parsed, plausible, reason_list_sql, unknown_team_sql
from ctsw.ingest.schema import RAW_SCHEMA, create_raw_schema

__all__ = ["FORMATS", "LoadError", "LoadResult", "Window", "landing_files", "load_table"]

# Rows of prunable files per chunk of a windowed load: staging and validating one chunk of pull_requests takes
# about 1.5 GB; fewer rows per chunk mean more chunks, each reading the other files' key columns once.
CHUNK_ROWS = 2_000_000


@dataclass(frozen=True)
class Window:
    """Half-open time window [start, end)."""

    start: datetime
    end: datetime


@dataclass
class LoadResult:
    table: str
    files: int = 0
    files_skipped: int = 0  # files no part of the window needed (ctsw/ingest/prune.py)
    chunks: int = 1
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    ignored_columns: dict[str, list[str]] = field(default_factory=dict)  # file -> unknown columns
    missing_columns: dict[str, list[str]] = field(default_factory=dict)  # file -> required columns it lacks
    empty_files: list[str] = field(default_factory=list)  # 0 bytes, blank, or a header without rows

    def as_metadata(self) -> dict:
        return {
            "files": self.files,
            "files_skipped": self.files_skipped,
            "chunks": self.chunks,
            "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
            "quarantine_reasons": self.quarantine_reasons,
            "ignored_columns": self.ignored_columns,
            "missing_columns": self.missing_columns,
            "empty_files": self.empty_files,
        }


def landing_files(landing_dir: Path, table: str) -> list[Path]:
    folder = landing_dir / table
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in FORMATS)


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
    # Naive timestamps are read as UTC whatever the caller's session says; the caller's setting is restored.
    time_zone = con.execute("SELECT current_setting('TimeZone')").fetchone()[0]
    con.execute("SET TimeZone = 'UTC'")
    try:
        sources, ordered = _collect_all(con, table, files, window, pseudonym_key, landing_dir, result)
        con.begin()
        try:
            _write(con, table, window, sources, ordered)
            con.commit()
        except BaseException:
            con.rollback()
            raise
    finally:
        con.execute("".join(f"DROP TABLE IF EXISTS {t}; " for t in ("_stage", "_checked", "_rows", "_quar")))
        con.execute(f"SET TimeZone = {_lit(time_zone)}")
    return result


def _collect_all(con, table: Table, files: list[Path], window: Window | None, key: str,
                 landing_dir: Path | None, result: LoadResult) -> tuple[list[str], bool]:
    """Validate the window chunk by chunk into `_rows` / `_quar`.

    Returns the names of the files that hold rows and whether `_rows` / `_quar` are in file order already.

    Staging is outside the write transaction: it touches only temp tables, and a reader error there must not
    abort the transaction (DuckDB has no savepoints) before the Parquet fallback can run.
    """
    stats = {p: prune.file_stats(table, p) for p in files} if window else {}
    parts = [(window.start, window.end)] if window else [None]
    if window:
        parts = prune.chunks(window.start, window.end, list(stats.values()), CHUNK_ROWS)
    result.chunks = len(parts)
    nonempty: set[str] = set()
    ever_staged: set[Path] = set()
    ranges: list[tuple[str, str]] = []  # first and last source file of each chunk's rows
    for i, part in enumerate(parts):
        keep, skip = list(files), {}
        if part:
            skip = {p: s for p, s in stats.items() if prune.outside(s, *part)}
            keep = [p for p in files if p not in skip]
        _stage_all(con, table, keep, landing_dir, result, nonempty)
        shared = prune.sharing_keys(con, table, skip)
        _stage_files(con, table, [p for p in files if p in shared], landing_dir, result, nonempty)
        ever_staged.update(keep, shared)
        nonempty.update(_name(p, landing_dir) for p in skip)  # files with statistics have rows
        # Rows without a plausible partition value are in every window: the first chunk takes them.
        w = Window(*part) if part else None
        con.execute(f"CREATE OR REPLACE TEMP TABLE _checked AS {_checked_sql(table, w, key, nulls=i == 0)}")
        ranges += con.execute("SELECT min(_source_file), max(_source_file) FROM _checked "
                              "HAVING count(*) > 0").fetchall()
        _collect(con, table, result)
    result.files_skipped = len(set(files) - ever_staged)
    result.rows_quarantined = result.rows_read - result.rows_loaded
    result.quarantine_reasons = dict(sorted(result.quarantine_reasons.items(), key=lambda kv: (-kv[1], kv[0])))
    # Chunks whose files follow each other already hold the rows in file order; otherwise `_write` sorts.
    ordered = all(a[1] < b[0] for a, b in zip(ranges, ranges[1:], strict=False))
    return sorted(nonempty), ordered


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _name(path: Path, landing_dir: Path | None) -> str:
    return str(path.relative_to(landing_dir)) if landing_dir else str(path)


def _stage_all(con, table: Table, files: list[Path], landing_dir: Path | None, result: LoadResult,
               nonempty: set[str]) -> None:
    create_stage(con, table.columns)
    _stage_files(con, table, files, landing_dir, result, nonempty)


def _stage_files(con, table: Table, files: list[Path], landing_dir: Path | None, result: LoadResult,
                 nonempty: set[str]) -> None:
    for path in files:
        name = _name(path, landing_dir)
        staged = stage_file(con, table, table.columns, path, name)
        if staged.rows:
            nonempty.add(name)
        if staged.empty and name not in result.empty_files:  # a chunked load stages such a file per chunk
            result.empty_files.append(name)
        if staged.unknown_columns:
            result.ignored_columns[name] = staged.unknown_columns
        if staged.missing_columns and staged.rows:
            result.missing_columns[name] = staged.missing_columns


def _collect(con: duckdb.DuckDBPyConnection, table: Table, result: LoadResult) -> None:
    """Append the chunk's loaded rows to `_rows` and its quarantined rows to `_quar`, and count them."""
    cols = ", ".join(f"p_{c} AS {c}" for c in table.column_names)
    rows = f"SELECT {cols}, _source_file, _source_row FROM _checked WHERE _q_reason IS NULL"
    quar = (f"SELECT '{table.name}' AS source_table, _source_file AS source_file, _source_row AS source_row, "
            f"_q_field AS field, _q_reason AS reason, _q_record AS record, _part AS partition_ts "
            f"FROM _checked WHERE _q_reason IS NOT NULL")
    for t, sql in (("_rows", rows), ("_quar", quar)):
        con.execute(f"CREATE TEMP TABLE IF NOT EXISTS {t} AS {sql} LIMIT 0")
        con.execute(f"INSERT INTO {t} {sql} ORDER BY _source_file, _source_row")
    read, loaded = con.execute("SELECT count(*), count(*) FILTER (WHERE _q_reason IS NULL) FROM _checked").fetchone()
    result.rows_read += read
    result.rows_loaded += loaded
    kinds = con.execute("SELECT _q_kind, count(*) FROM _checked WHERE _q_kind IS NOT NULL GROUP BY 1").fetchall()
    for kind, n in kinds:
        result.quarantine_reasons[kind] = result.quarantine_reasons.get(kind, 0) + n
    con.execute("DROP TABLE _checked; DROP TABLE _stage")


def _window_sql(window: Window | None, nulls: bool = True) -> str:
    # A row without a plausible partition value belongs to no week: every window load quarantines it (with a
    # null partition_ts), so it is reported instead of silently falling outside all weeks.
    if window is None:
        return "true"
    return (f"({'_part IS NULL OR ' if nulls else ''}(_part >= TIMESTAMP '{window.start:%Y-%m-%d %H:%M:%S}' "
            f"AND _part < TIMESTAMP '{window.end:%Y-%m-%d %H:%M:%S}'))")


def _checked_sql(table: Table, window: Window | None, key: str, nulls: bool = True) -> str:
    """Every staged row of the window, typed, with its quarantine field, reason and kind (null = loads)."""
    typed = ", ".join(
        f"{pseudonym_sql(parsed(c), key) if c.pseudonymised else parsed(c)} AS p_{c.name}" for c in table.columns
    )
    check_team = "team_id" in table.column_names and table.name != "teams"
    pc = table.partition_column
    part = f"CASE WHEN {plausible(f'p_{pc}')} THEN CAST(p_{pc} AS TIMESTAMP) END" if pc else "NULL::TIMESTAMP"
    team = f", {unknown_team_sql()} AS _unknown_team" if check_team else ""
    # The quarantine record carries pseudonyms, never a raw person identifier.
    record = "to_json({" + ", ".join(
        f"'{c.name}': " + (f"p_{c.name}" if c.pseudonymised else staged_text(c)) for c in table.columns
    ) + "})"
    out = ", ".join(f"p_{c}" for c in table.column_names)
    return f"""
WITH typed AS (
  SELECT *, {typed} FROM _stage
), teamed AS (
  SELECT *{team} FROM typed
), reasoned AS (
  SELECT *, {part} AS _part,
    -- A problem found while reading (unparseable row, missing columns) is the row's only reason: the
    -- per-value reasons it would cause ('missing value' for every field) are noise until it is fixed.
    CASE WHEN _problem IS NOT NULL THEN [{{'field': _problem_field, 'reason': _problem}}]
         ELSE {reason_list_sql(table, check_team)} END AS _reasons
  FROM teamed
), flagged AS MATERIALIZED (  -- the reasons are computed once, not once per reference
  SELECT *, len(_reasons) = 0 AS _valid FROM reasoned
), scoped AS (
{_scope_sql(table, window, nulls)}
), ranked AS (
{_rank_sql(table)}
), spelled AS (
{_spell_sql(table)}
)
-- Only what the load writes: the typed values, the row's source, and the quarantine columns.
SELECT {out}, _source_file, _source_row, _part, _q_field, _q_reason, _q_kind,
  CASE WHEN _q_reason IS NOT NULL THEN {record} END AS _q_record
FROM (
SELECT *,
  CASE
    WHEN len(_reasons) > 0 THEN _reasons[1].field
    WHEN _rank > 1 THEN '{table.key[0]}'
    WHEN _overlap THEN _spell_field
  END AS _q_field,
  CASE
    WHEN _problem IS NOT NULL THEN _problem  -- complete already: it names its field where it has one
    WHEN len(_reasons) > 0 THEN array_to_string(list_transform(_reasons, lambda x: x.field || ': ' || x.reason), '; ')
    WHEN _rank > 1 AND _hash = _winner_hash THEN 'exact duplicate of ' || _winner
    WHEN _rank > 1 THEN 'superseded by ' || _winner || ' (same key, different values)'
    WHEN _overlap THEN _spell_reason
  END AS _q_reason,
  CASE
    WHEN _problem IS NOT NULL THEN if(_problem_field IS NULL, '(row): ', '') || _problem
    WHEN len(_reasons) > 0 THEN _reasons[1].field || ': ' || _reasons[1].reason
    WHEN _rank > 1 AND _hash = _winner_hash THEN 'exact duplicate'
    WHEN _rank > 1 THEN 'superseded duplicate'
    WHEN _overlap THEN _spell_field || ': overlapping spell'
  END AS _q_kind
FROM spelled
WHERE _in_window
)
"""


def _scope_sql(table: Table, window: Window | None, nulls: bool) -> str:
    """Rows of the window, plus valid rows of other weeks that share a key with a valid row of the window.

    The newest export of an entity wins even when it moved the entity to another week (a PR's created_at
    corrected, say); without the other weeks' rows each week would keep its own copy of the key.
    """
    in_window = _window_sql(window, nulls)
    if window is None:
        return "  SELECT *, true AS _in_window FROM flagged"
    keys = ", ".join(f"p_{k}" for k in table.key)
    return f"""  SELECT *, true AS _in_window FROM flagged WHERE {in_window}
  UNION ALL
  SELECT f.*, false FROM flagged f
  SEMI JOIN (SELECT {keys} FROM flagged WHERE {in_window} AND _valid) w USING ({keys})
  WHERE NOT {in_window} AND f._valid"""


def _rank_sql(table: Table) -> str:
    """Rank valid rows that share a key: `_rank` 1 for the winner (and every row whose key is unique), else 2.

    Among valid rows sharing a key, the last file (then last row) wins: exports repeat updated entities. Keys
    are nearly always unique, so the duplicated keys are found by a hash aggregate and only their rows get a
    winner and md5 row hashes (`_hash`, `_winner_hash`: null elsewhere); no sort over all rows.
    """
    keys = [f"p_{k}" for k in table.key]
    key_cols = ", ".join(keys)
    def row_hash(t: str) -> str:
        return "md5(concat_ws('|', " + ", ".join(
            f"coalesce(CAST({t}p_{c} AS VARCHAR), '')" for c in table.column_names) + "))"

    pos = "{'f': _source_file, 'r': _source_row}"
    on = " AND ".join(f"s.{k} IS NOT DISTINCT FROM d.{k}" for k in keys)
    return f"""  SELECT s.*,
    CASE WHEN d._win IS NOT NULL AND {{'f': s._source_file, 'r': s._source_row}} <> d._win THEN 2 ELSE 1 END AS _rank,
    CASE WHEN d._win IS NOT NULL THEN d._win.f || ':' || d._win.r END AS _winner,
    CASE WHEN d._win IS NOT NULL THEN {row_hash('s.')} END AS _hash,
    d._winner_hash
  FROM scoped s
  LEFT JOIN (
    SELECT {key_cols}, true AS _valid, max({pos}) AS _win, arg_max({row_hash('')}, {pos}) AS _winner_hash
    FROM scoped
    SEMI JOIN (SELECT {key_cols} FROM scoped WHERE _valid GROUP BY ALL HAVING count(*) > 1) k
      ON {" AND ".join(f"scoped.{k} IS NOT DISTINCT FROM k.{k}" for k in keys)}
    WHERE _valid
    GROUP BY {key_cols}
  ) d ON s._valid = d._valid AND {on}"""


def _spell_sql(table: Table) -> str:
    """Flag a valid, winning row whose spell starts before an earlier-starting spell of its group has ended."""
    rule = SPELL_RULES.get(table.name)
    if rule is None:
        return ("  SELECT *, false AS _overlap, NULL::VARCHAR AS _spell_field, NULL::VARCHAR AS _spell_reason "
                "FROM ranked")
    group = ", ".join(f"p_{g}" for g in rule.group)
    end = f"coalesce(p_{rule.end}, DATE '9999-12-31')"  # an open spell never ends
    eligible = "(_valid AND _rank = 1)"
    return f"""  SELECT *,
    coalesce({eligible} AND _prev_end > p_{rule.start}, false) AS _overlap,
    '{rule.start}' AS _spell_field,
    '{rule.start}: {rule.reason} (' || _prev_spell
      || CASE WHEN _prev_end = DATE '9999-12-31' THEN ', no end date)' ELSE ', ends ' || _prev_end || ')' END
      AS _spell_reason
  FROM (
    SELECT *,
      max({end}) OVER w AS _prev_end,
      arg_max(_source_file || ':' || _source_row, {end}) OVER w AS _prev_spell
    FROM ranked
    WINDOW w AS (PARTITION BY {eligible}, {group} ORDER BY p_{rule.start}, _source_file, _source_row
                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
  )"""


def _write(con, table: Table, window: Window | None, sources: list[str], ordered: bool) -> None:
    t = f"{RAW_SCHEMA}.{table.name}"
    if window:
        bounds = (f"TIMESTAMP '{window.start:%Y-%m-%d %H:%M:%S}'", f"TIMESTAMP '{window.end:%Y-%m-%d %H:%M:%S}'")
        pc = table.partition_column
        con.execute(f"DELETE FROM {t} WHERE {pc} >= {bounds[0]} AND {pc} < {bounds[1]}")
        # Rows without a plausible partition value are replaced for every file that holds rows: a skipped
        # file has none (its statistics prove it), just as a re-staged one would show.
        con.execute(
            f"DELETE FROM {RAW_SCHEMA}.quarantine WHERE source_table = '{table.name}' AND ("
            f"(partition_ts >= {bounds[0]} AND partition_ts < {bounds[1]}) "
            f"OR (partition_ts IS NULL AND source_file IN (SELECT unnest(?::VARCHAR[]))))", [sources]
        )
    else:
        con.execute(f"DELETE FROM {t}")
        con.execute(f"DELETE FROM {RAW_SCHEMA}.quarantine WHERE source_table = '{table.name}'")
    cols = ", ".join(table.column_names)
    order = "" if ordered else " ORDER BY _source_file, _source_row"
    con.execute(f"INSERT INTO {t} ({cols}, _source_file, _source_row) "
                f"SELECT {cols}, _source_file, _source_row FROM _rows{order}")
    order = "" if ordered else " ORDER BY source_file, source_row"
    con.execute(f"INSERT INTO {RAW_SCHEMA}.quarantine SELECT * FROM _quar{order}")
    if table.name == "deployments":
        _write_pr_bridge(con, window)


def _write_pr_bridge(con: duckdb.DuckDBPyConnection, window: Window) -> None:
    b = f"{RAW_SCHEMA}.deployment_pull_requests"
    con.execute(
        f"DELETE FROM {b} WHERE started_at >= TIMESTAMP '{window.start:%Y-%m-%d %H:%M:%S}' "
        f"AND started_at < TIMESTAMP '{window.end:%Y-%m-%d %H:%M:%S}'"
    )
    con.execute(f"""
INSERT INTO {b}
SELECT DISTINCT deployment_id, trim(pr), started_at
FROM _rows, unnest(string_split(pr_ids, ';')) AS s(pr)
WHERE trim(pr) <> ''
ORDER BY 1, 2
""")
