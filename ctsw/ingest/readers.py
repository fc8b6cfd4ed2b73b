"""Stage one landing file as text rows in the temp table `_stage`, whatever the file holds.

Every value is staged as text so that a bad value becomes a quarantine reason instead of a failed load. The
exception is a Parquet column whose type is the contract's (`TYPED`): its values are staged as they are, in a
typed column of `_stage`, when their text would parse back to the same value; the rules then skip only the
parse check, which such a value cannot fail, and the others (null, range, plausibility) apply as to text. A row
that cannot even be split into fields (a malformed CSV row, a JSON Lines line that is not a JSON object, bytes
that are not UTF-8) is staged as well, with null values and `_problem` saying why: it is counted and
quarantined, never dropped. Only a file that cannot be read at all raises `LoadError`.

Row numbers (`_source_row`) are 1-based data rows: CSV rows after the header, JSON Lines line numbers, Parquet
row positions.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ctsw.contract import Column, Table

FORMATS = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
# The staging table's columns besides the contract's text columns.
STAGE_EXTRA = "_source_file VARCHAR, _source_row BIGINT, _problem_field VARCHAR, _problem VARCHAR"
NOT_UTF8 = "not valid UTF-8 (save the file as UTF-8)"
_BLANK_PROBE = 4096  # a file this small is read whole to see whether it holds anything but whitespace
_HEADER_MAX = 1 << 20
_JSONL_BLOCK = 1 << 24  # JSON Lines are split in Python block by block: memory stays flat for large files
_HELPER_TABLES = ("_csv_rejects", "_csv_scans", "_csv_bad", "_json")
# Contract type -> (the Parquet column's type as DuckDB reads it, the condition on such a value `{}` under which
# its text (`CAST(... AS VARCHAR)`) parses back to the same value). A value outside the condition (infinity,
# a year beyond 9999) is staged as text. DOUBLE is left out: only memberships, a small snapshot, has any.
TYPED = {
    "TIMESTAMP": ("TIMESTAMP WITH TIME ZONE",
                  "{} BETWEEN TIMESTAMPTZ '0001-01-01 00:00:00+00' AND TIMESTAMPTZ '9999-12-31 23:59:59.999999+00'"),
    "DATE": ("DATE", "{} BETWEEN DATE '0001-01-01' AND DATE '9999-12-31'"),
    "BIGINT": ("BIGINT", "true"),
    "BOOLEAN": ("BOOLEAN", "true"),
}


class LoadError(Exception):
    """A landing file that cannot be read at all (the message names the file and what to fix)."""


@dataclass
class StagedFile:
    rows: int = 0
    empty: bool = False
    unknown_columns: list[str] = field(default_factory=list)
    missing_columns: list[str] = field(default_factory=list)


def lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def typed_column(c: Column) -> str | None:
    """The `_stage` column that holds `c`'s typed Parquet values (null where text is staged); None if none."""
    return ident(f"_typed_{c.name}") if c.type in TYPED else None


def staged_text(c: Column) -> str:
    """SQL: `c`'s staged value as text, a typed value as the text staging would have made of it."""
    typed = typed_column(c)
    return f"coalesce({ident(c.name)}, CAST({typed} AS VARCHAR))" if typed else ident(c.name)


def create_stage(con: duckdb.DuckDBPyConnection, columns: tuple[Column, ...]) -> None:
    con.execute("DROP TABLE IF EXISTS _stage")
    text_cols = ", ".join(f"{ident(c.name)} VARCHAR" for c in columns)
    typed_cols = "".join(f", {typed_column(c)} {TYPED[c.type][0]}" for c in columns if typed_column(c))
    con.execute(f"CREATE TEMP TABLE _stage ({text_cols}, {STAGE_EXTRA}{typed_cols})")


def stage_file(
    con: duckdb.DuckDBPyConnection, table: Table, columns: tuple[Column, ...], path: Path, name: str
) -> StagedFile:
    """Append `path` (recorded as `name`) to `_stage`, staging `columns` of `table`."""
    if _is_blank(path):
        return StagedFile(empty=True)  # 0 bytes or only whitespace: no header, no rows, nothing to report
    reader = {"csv": _stage_csv, "jsonl": _stage_jsonl, "parquet": _stage_parquet}[FORMATS[path.suffix.lower()]]
    try:
        staged = reader(con, table, columns, path, name)
    finally:
        # Helper tables hold raw lines, people's identifiers among them: never leave them behind.
        con.execute("".join(f"DROP TABLE IF EXISTS {t}; " for t in _HELPER_TABLES))
    staged.empty = staged.rows == 0
    return staged


def _is_blank(path: Path) -> bool:
    size = path.stat().st_size
    return size == 0 or (size <= _BLANK_PROBE and not path.read_bytes().strip())


def _file_columns(table: Table, present: list[str]) -> tuple[list[str], list[str], str]:
    """Unknown and missing columns of a file, and the reason every row gets if required ones are missing."""
    unknown = [p for p in present if p not in table.column_names]
    missing = [c.name for c in table.columns if c.required and c.name not in present]
    problem = ""
    if missing:
        problem = f"required column(s) missing from file: {', '.join(missing)}"
        if unknown:
            problem += f" (the file has unknown column(s): {_names(unknown)})"
    return unknown, missing, problem


def _require_some_column(table: Table, present: list[str], name: str, rows: int) -> None:
    """Refuse a file with rows whose columns are all unknown: a header-less CSV or a file in the wrong folder.

    Quarantining every row would hide the real mistake, and a header-less file's first row would be taken for
    column names (and so reported as such).
    """
    if rows and present and not set(present) & set(table.column_names):
        raise LoadError(
            f"{name}: row 0 (header): none of its {len(present)} column(s) is a column of {table.name} "
            f"({_names(list(table.column_names))}); is the header row missing or the file in the wrong folder?"
        )


def _names(names: list[str], limit: int = 12) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _insert(
    con: duckdb.DuckDBPyConnection,
    columns: tuple[Column, ...],
    values: dict[str, str],
    name: str,
    row: str,
    problem_field: str,
    problem: str,
    source: str,
    typed: dict[str, str] | None = None,
) -> int:
    """INSERT staged rows; `values` / `typed` map a contract column to its text / typed expression (absent = null).

    `problem` is a row's complete reason text (null = none) and `problem_field` the field it is about.
    """
    typed = typed or {}
    cols = ", ".join(values.get(c.name, "NULL::VARCHAR") for c in columns)
    typed_cols = "".join(f", {typed.get(c.name, 'NULL')}" for c in columns if typed_column(c))
    sql = (f"INSERT INTO _stage SELECT {cols}, {lit(name)}, {row}, {problem_field}, {problem}{typed_cols} "
           f"FROM {source}")
    return con.execute(sql).fetchone()[0]


def _file_problem(missing: list[str], problem: str) -> tuple[str, str]:
    """SQL for (field, reason) of a file's missing required columns: the first one is named as the field."""
    if not missing:
        return "NULL::VARCHAR", "NULL::VARCHAR"
    return lit(missing[0]), lit(problem)


def _json_path(column: str) -> str:
    return lit('$."' + column.replace('"', '\\"') + '"')


# --- CSV --------------------------------------------------------------------------------------------------

def _csv_header(path: Path, name: str) -> list[str]:
    """Column names from the first line; read in Python so a malformed data row cannot confuse a sniffer."""
    with open(path, "rb") as fh:
        first = fh.readline(_HEADER_MAX)
    line = first.decode("utf-8-sig", "replace")
    names = [h.strip() for h in next(csv.reader([line.rstrip("\r\n")]), [])]
    if not names:
        raise LoadError(f"{name}: row 0 (header): the first line is empty; a CSV file starts with its header row")
    for i, h in enumerate(names):
        if "\ufffd" in h:
            raise LoadError(f"{name}: row 0 (header), column {i + 1}: the name is {NOT_UTF8}")
    names = [h or f"(unnamed column {i + 1})" for i, h in enumerate(names)]
    seen: set[str] = set()
    for h in names:
        if h in seen:
            raise LoadError(f"{name}: row 0 (header): column {h} appears twice; which one is meant is unclear")
        seen.add(h)
    return names


def _stage_csv(con, table: Table, columns: tuple[Column, ...], path: Path, name: str) -> StagedFile:
    header = _csv_header(path, name)
    unknown, missing, problem = _file_columns(table, header)
    # Fixed dialect (RFC 4180: comma, double quotes) and positional column names: no sniffer to be misled by
    # a bad row, and no header name can clash with SQL. Rows that do not parse go to the rejects table rather
    # than failing the read (ignore_errors alone would drop them silently); they are staged from there.
    spec = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(header))) + "}"
    src = (f"read_csv({lit(str(path))}, auto_detect = false, header = true, columns = {spec}, delim = ',', "
           f"quote = '\"', escape = '\"', store_rejects = true, rejects_table = '_csv_rejects', "
           f"rejects_scan = '_csv_scans')")
    position = {h: i for i, h in enumerate(header)}
    values = {c.name: f"c{position[c.name]}" for c in columns if c.name in position}
    con.execute("DROP TABLE IF EXISTS _csv_rejects; DROP TABLE IF EXISTS _csv_scans")
    try:
        rows = _insert(con, columns, values, name, "row_number() OVER ()", *_file_problem(missing, problem), src)
    except duckdb.Error as exc:
        raise LoadError(f"{name}: cannot be read as CSV: {exc}") from exc
    if con.execute("SELECT count(*) FROM _csv_rejects").fetchone()[0]:
        rows += _stage_csv_rejects(con, columns, header, name)
    _require_some_column(table, header, name, rows)
    return StagedFile(rows=rows, unknown_columns=unknown, missing_columns=missing)


def _stage_csv_rejects(con, columns: tuple[Column, ...], header: list[str], name: str) -> int:
    """Stage the rows the CSV reader rejected, one per physical line, and renumber the good rows around them.

    The rejects table numbers a rejected row by its line (header = 1), so its data row is `line - 1`. A quoted
    value that is never closed swallows the lines after it into one rejected row; each of those lines is
    counted as a row of its own, as a reader of the file would count them. Good rows were numbered 1..n in
    order; they take the row numbers the rejected rows leave free. (The reader's line count includes blank
    lines, which it skips, but not the line breaks inside a quoted value: in a file that has those *and*
    malformed rows, good rows' numbers can be off by that many. Typical exports have neither.)
    """
    con.execute("""
CREATE OR REPLACE TEMP TABLE _csv_bad AS
WITH per_line AS (
  SELECT line,
    arg_min(error_type::VARCHAR, column_idx) AS error_type,
    arg_min(column_name, column_idx) AS col,
    arg_min(error_message, column_idx) AS msg,
    max(len(coalesce(csv_line, '')) - len(replace(coalesce(csv_line, ''), chr(10), ''))
        + CASE WHEN suffix(coalesce(csv_line, ''), chr(10)) THEN 0 ELSE 1 END) AS n_lines
  FROM _csv_rejects GROUP BY line
), placed AS (
  SELECT *, CAST(line AS BIGINT) - 1 + coalesce(sum(n_lines - 1) OVER (
    ORDER BY line ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS first_row
  FROM per_line
)
SELECT first_row + k AS row, k, first_row, n_lines, error_type, col, msg FROM placed, range(n_lines) AS r(k)
""")
    con.execute(f"""
UPDATE _stage SET _source_row = _stage._source_row + m.shift
FROM (
  WITH gaps AS (
    SELECT row - row_number() OVER (ORDER BY row) AS t, row_number() OVER (ORDER BY row) AS i FROM _csv_bad
  ), steps AS (SELECT t, max(i) AS shift FROM gaps GROUP BY t)
  SELECT s._source_row AS g, steps.shift
  FROM (SELECT _source_row FROM _stage WHERE _source_file = {lit(name)}) s ASOF JOIN steps ON s._source_row > steps.t
) m
WHERE _stage._source_file = {lit(name)} AND _stage._source_row = m.g
""")
    col_field = "CASE col " + " ".join(f"WHEN 'c{i}' THEN {lit(h)}" for i, h in enumerate(header)) + " END"
    reason = f"""CASE
    WHEN k > 0 THEN 'malformed CSV row: inside the quoted value opened in row ' || first_row || ', never closed'
    WHEN error_type IN ('MISSING COLUMNS', 'TOO MANY COLUMNS') THEN 'malformed CSV row: '
      || regexp_extract(msg, 'Found: (\\d+)', 1) || ' fields where the header has '
      || regexp_extract(msg, 'Expected Number of Columns: (\\d+)', 1)
    WHEN error_type = 'UNQUOTED VALUE' AND n_lines > 1 THEN 'malformed CSV row: the quoted value of '
      || coalesce({col_field}, 'a field') || ' is not closed (it runs on over the next ' || (n_lines - 1)
      || ' line(s))'
    WHEN error_type = 'UNQUOTED VALUE' THEN 'malformed CSV row: the quoted value of '
      || coalesce({col_field}, 'a field') || ' is not closed properly'
    WHEN error_type = 'INVALID ENCODING' THEN coalesce({col_field} || ': ', '') || {lit(NOT_UTF8)}
    WHEN error_type = 'LINE SIZE OVER MAXIMUM' THEN 'malformed CSV row: longer than the maximum line size'
    ELSE 'malformed CSV row: ' || lower(error_type)
  END"""
    field_sql = f"CASE WHEN k = 0 AND error_type IN ('UNQUOTED VALUE', 'INVALID ENCODING') THEN {col_field} END"
    return _insert(con, columns, {}, name, "row", field_sql, reason, "_csv_bad")


# --- JSON Lines -------------------------------------------------------------------------------------------

def _jsonl_blocks(path: Path) -> Iterator[bytes]:
    """Blocks of whole lines (the last block may lack its final newline)."""
    tail = b""
    with open(path, "rb") as fh:
        while block := fh.read(_JSONL_BLOCK):
            data = tail + block
            cut = data.rfind(b"\n") + 1
            data, tail = data[:cut], data[cut:]
            if data:
                yield data
    if tail:
        yield tail


def _jsonl_batch(data: bytes, first_line: int) -> pa.Table:
    """Lines of one block as (line, text, bad_utf8); text keeps its line end.

    The lines are cut by offsets over the block's bytes (numpy) and checked as UTF-8 by one Arrow cast: no
    Python per line, unless the block holds bytes that are not UTF-8.
    """
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10) + 1
    if not data.endswith(b"\n"):
        ends = np.append(ends, len(data))
    offsets = np.concatenate(([0], ends)).astype(np.int64)
    n = len(offsets) - 1
    raw = pa.Array.from_buffers(pa.large_binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    try:
        text = raw.cast(pa.large_string())
        bad = pa.nulls(n, pa.bool_())
    except pa.ArrowInvalid:
        lines = [data[start:end] for start, end in zip(offsets[:-1], offsets[1:], strict=True)]
        flags = [not _is_utf8(b) for b in lines]
        text = pa.array([b.decode("utf-8", "replace") for b in lines], pa.large_string())
        bad = pa.array(flags, pa.bool_())
    line_no = pa.array(np.arange(first_line, first_line + n, dtype=np.int64))
    return pa.table({"line": line_no, "text": text, "bad_utf8": bad})


def _is_utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _load_jsonl_lines(con, path: Path) -> None:
    """Fill `_json` with the file's non-blank lines and what is wrong with each (null = a JSON object)."""
    con.execute("CREATE OR REPLACE TEMP TABLE _json (line BIGINT, text VARCHAR, problem VARCHAR)")
    next_line, last = 1, b"\n"
    for data in _jsonl_blocks(path):
        batch = _jsonl_batch(data, next_line)
        con.register("_jsonl_batch", batch)
        con.execute("""
INSERT INTO _json
SELECT line, text, CASE
    WHEN bad_utf8 THEN 'not valid UTF-8'
    WHEN NOT json_valid(text) THEN 'not valid JSON'
    WHEN json_type(text) <> 'OBJECT' THEN 'not a JSON object (JSON Lines hold one object per line)'
  END
FROM (
  -- A byte-order mark is not JSON; the line end is (trailing white space), so it need not be cut.
  SELECT line, coalesce(bad_utf8, false) AS bad_utf8,
    CASE WHEN line = 1 THEN ltrim(text, chr(65279)) ELSE text END AS text
  FROM _jsonl_batch
)
WHERE json_valid(text) OR trim(text, ' ' || chr(9) || chr(10) || chr(13)) <> ''  -- a blank line is not a record
""")
        con.unregister("_jsonl_batch")
        next_line += batch.num_rows
        last = data
    if not last.endswith(b"\n"):  # a writer stopped mid-line: say so rather than just 'not valid JSON'
        con.execute("UPDATE _json SET problem = 'not valid JSON: the last line is cut off (no newline at the end)' "
                    "WHERE line = ? AND problem = 'not valid JSON'", [next_line - 1])


def _stage_jsonl(con, table: Table, columns: tuple[Column, ...], path: Path, name: str) -> StagedFile:
    # read_json does not fit: with ignore_errors it drops bad lines silently, without it one bad line (a
    # truncated last line, say) fails the whole file. Lines are cut in Python (numpy offsets, no loop per
    # line), checked in SQL.
    _load_jsonl_lines(con, path)
    present = [r[0] for r in con.execute(
        "SELECT DISTINCT unnest(json_keys(text)) AS k FROM _json WHERE problem IS NULL ORDER BY k").fetchall()]
    rows = con.execute("SELECT count(*) FROM _json").fetchone()[0]
    _require_some_column(table, present, name, rows)
    unknown, missing, problem = _file_columns(table, present)
    staged = [c.name for c in columns if c.name in present]
    extract = f"json_extract_string(text, [{', '.join(_json_path(c) for c in staged)}])" if staged else "NULL"
    file_field, file_problem = _file_problem(missing, problem)
    # A line that is not UTF-8 was decoded with U+FFFD replacements: the first field holding one is the culprit.
    known = [c for c in present if c in table.column_names]
    culprit = ("CASE " + " ".join(
        f"WHEN json_extract_string(text, {_json_path(c)}) LIKE '%' || chr(65533) || '%' THEN {lit(c)}"
        for c in known) + " END") if known else "NULL"
    source = f"""(
  SELECT line, problem, CASE WHEN problem IS NULL THEN {extract} END AS v,
    CASE WHEN problem = 'not valid UTF-8' AND json_valid(text) THEN {culprit} END AS culprit
  FROM _json
)"""
    values = {c: f"v[{i + 1}]" for i, c in enumerate(staged)}
    reason = (f"CASE WHEN problem = 'not valid UTF-8' THEN coalesce(culprit || ': ', '') || {lit(NOT_UTF8)} "
              f"ELSE coalesce(problem, {file_problem}) END")
    _insert(con, columns, values, name, "line", f"CASE WHEN problem IS NULL THEN {file_field} ELSE culprit END",
            reason, source)
    return StagedFile(rows=rows, unknown_columns=unknown, missing_columns=missing)


# --- Parquet ----------------------------------------------------------------------------------------------

def parquet_text(name: str, duck_type: str) -> str:
    col = ident(name)
    if duck_type.endswith("[]"):
        return f"array_to_string({col}, ';')"  # a list of PR ids; the contract's text form is ';'-joined
    if duck_type == "BLOB":
        return f"try(decode({col}))"  # bytes: text only if valid UTF-8 (else flagged below)
    return f"CAST({col} AS VARCHAR)"


def _stage_parquet(con, table: Table, columns: tuple[Column, ...], path: Path, name: str) -> StagedFile:
    src = f"read_parquet({lit(str(path))}, file_row_number = true)"
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()
        return _stage_parquet_from(con, table, columns, name, src, described)
    except duckdb.Error as exc:
        if "Invalid string encoding" not in str(exc):
            raise LoadError(f"{name}: cannot be read as Parquet: {exc}") from exc
    # A string column holds bytes that are not UTF-8, and DuckDB refuses the whole file (naming no row or
    # column). pyarrow reads it unchecked; as bytes, the offending rows are then quarantined one by one.
    tbl = pq.read_table(path)
    tbl = tbl.cast(pa.schema([
        pa.field(f.name, pa.binary()) if pa.types.is_string(f.type) or pa.types.is_large_string(f.type) else f
        for f in tbl.schema
    ]))
    tbl = tbl.append_column("file_row_number", pa.array(np.arange(tbl.num_rows, dtype=np.int64)))
    con.register("_parquet_bytes", tbl)
    try:
        described = con.execute("DESCRIBE SELECT * FROM _parquet_bytes").fetchall()
        return _stage_parquet_from(con, table, columns, name, "_parquet_bytes", described)
    finally:
        con.unregister("_parquet_bytes")


def _stage_parquet_from(con, table: Table, columns, name: str, src: str, described: list) -> StagedFile:
    present = {r[0]: r[1] for r in described if r[0] != "file_row_number"}
    unknown, missing, problem = _file_columns(table, list(present))
    values = {c.name: parquet_text(c.name, present[c.name]) for c in columns if c.name in present}
    typed = {}  # a value is staged typed where its text would parse back to it, else as text: one of the two
    for c in columns:
        if typed_column(c) and present.get(c.name) == TYPED[c.type][0]:
            col, exact = ident(c.name), TYPED[c.type][1].format(ident(c.name))
            typed[c.name] = f"CASE WHEN {exact} THEN {col} END"
            values[c.name] = f"CASE WHEN NOT ({exact}) THEN {values[c.name]} END"
    field_sql, problem_sql = _file_problem(missing, problem)
    blobs = [c.name for c in columns if present.get(c.name) == "BLOB"]
    if blobs:  # bytes that do not decode as UTF-8 make the row's reason, naming the column
        culprit = "CASE " + " ".join(
            f"WHEN {ident(b)} IS NOT NULL AND try(decode({ident(b)})) IS NULL THEN {lit(b)}" for b in blobs) + " END"
        problem_sql = (f"CASE WHEN {culprit} IS NOT NULL THEN {culprit} || ': ' || {lit(NOT_UTF8)} "
                       f"ELSE {problem_sql} END")
        field_sql = f"coalesce({culprit}, {field_sql})"
    rows = _insert(con, columns, values, name, "file_row_number + 1", field_sql, problem_sql, src, typed)
    _require_some_column(table, list(present), name, rows)
    return StagedFile(rows=rows, unknown_columns=unknown, missing_columns=missing)
