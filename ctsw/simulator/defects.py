"""Realistic defects in simulated landing files, each recorded with the quarantine reason it must produce.

    inject_defects(landing_dir, rate=0.02, seed=0) -> list of records (also written to truth.json "defects")

Each data row of each landing file is picked with probability `rate` and gets one defect, drawn among the kinds
that apply to its table, row and file format:

kind                   what                                                   reason starts with
bad_type               a value in a foreign format (31/01/2024 10:00, 1,50,   <col>: not a valid <type>
                       12.5 for a count, unknown for a flag)
missing_value          a required value left empty                            <col>: missing value
unknown_team           a team id the teams table does not have                team_id: unknown team_id
out_of_range           fte above 1 or 0, a negative cost or count, a status,  <col>: above 1, below 0, ...
                       severity or role outside the contract
reversed_duration      a span that ends before it starts (membership, PR      <end col>: ...
                       merge, deployment, page, on-call shift)
future_timestamp       an event time more than a year ahead                   <col>: in the future
exact_duplicate        the row exported again, unchanged, in the next file    exact duplicate of
                       (or just after it in the last file)
conflicting_duplicate  an older version of the row (one value differs) just   superseded by
                       before it
malformed_csv_row      a CSV row with one field too many (CSV only)           malformed CSV row
truncated_last_line    the last line of a JSON Lines file cut in half         not valid JSON: the last line
                       (JSON Lines only)

The record names the landing file (relative to the landing folder, as `raw.quarantine.source_file`) and the
1-based data row that the loader must quarantine: for an exact duplicate the *earlier* copy (the later export
wins), for a conflicting one the inserted older version. Teams rows only get duplicates: a quarantined team
would take every row of the team with it. Values are rewritten in the file's own format; a Parquet column that
receives a foreign-format value is rewritten as text (as an export with a loosely typed column would be).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ctsw.contract import ROLES, TABLES, Table

KINDS = ("bad_type", "missing_value", "unknown_team", "out_of_range", "reversed_duration", "future_timestamp",
         "exact_duplicate", "conflicting_duplicate", "malformed_csv_row", "truncated_last_line")
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet"}
UNKNOWN_TEAM = "t-unknown-{}"
FUTURE = timedelta(days=400)
TS_TEXT = "%Y-%m-%dT%H:%M:%SZ"

# (end column, start column, gap to subtract from start, reason) for each table with a span.
REVERSALS: dict[str, tuple[str, str, timedelta, str]] = {
    "memberships": ("end_date", "start_date", timedelta(days=30), "end_date: ends on or before its start"),
    "pull_requests": ("merged_at", "created_at", timedelta(hours=2), "merged_at: merged before created"),
    "deployments": ("finished_at", "started_at", timedelta(minutes=10), "finished_at: finished before started"),
    "commits": ("reached_customer_at", "committed_at", timedelta(hours=1),
                "reached_customer_at: reached customers before commit"),
    "pages": ("resolved_at", "triggered_at", timedelta(hours=1), "resolved_at: resolved before triggered"),
    "oncall_shifts": ("shift_end", "shift_start", timedelta(days=1), "shift_end: ends on or before its start"),
}
# (column, new value as text, reason) out of the contract's range or accepted values.
OUT_OF_RANGE: dict[str, list[tuple[str, str, str]]] = {
    "memberships": [("fte", "1.5", "fte: above 1"), ("fte", "0", "fte: below or equal to 0"),
                    ("annual_loaded_cost_usd", "-120000", "annual_loaded_cost_usd: below 0"),
                    ("role", "intern", f"role: not one of {', '.join(ROLES)}")],
    "pull_requests": [("additions", "-40", "additions: below 0"), ("deletions", "-3", "deletions: below 0")],
    "deployments": [("manual_interventions", "-1", "manual_interventions: below 0"),
                    ("status", "ok", "status: not one of succeeded, failed, rolled_back")],
    "pages": [("severity", "sev1", "severity: not one of critical, high, medium, low, info")],
}


@dataclass
class _Row:
    values: dict[str, Any] | None  # column -> value (None = null); None for a raw line
    raw: str | None = None  # a line written verbatim (malformed CSV, truncated JSON)
    record: dict[str, Any] | None = None  # the defect this row must be quarantined for
    touched: bool = False  # picked for a defect or a copy: no second defect


@dataclass
class _File:
    path: Path
    name: str  # relative to the landing folder
    fmt: str
    table: Table
    columns: list[str]
    rows: list[_Row]
    schema: pa.Schema | None = None
    text_columns: set[str] = field(default_factory=set)  # Parquet columns that now hold text
    truncated: bool = False
    changed: bool = False


def inject_defects(landing_dir: Path, rate: float, seed: int) -> list[dict]:
    """Corrupt the landing files under `landing_dir` in place; return (and add to truth.json) the defects."""
    if not 0 <= rate <= 1:
        raise ValueError(f"rate must be within [0, 1], got {rate}")
    landing_dir = Path(landing_dir)
    rng = np.random.default_rng(seed)
    now = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    records: list[dict] = []
    for table in TABLES.values():
        files = [_read(p, landing_dir, table) for p in _files(landing_dir, table.name)]
        for i, f in enumerate(files):
            originals = list(f.rows)
            picked = np.flatnonzero(rng.random(len(originals)) < rate)
            for idx in picked:
                row = originals[idx]
                if row.touched:
                    continue
                is_last = idx == len(originals) - 1
                kinds = _applicable(f, row, is_last)
                if not kinds:
                    continue
                kind = kinds[int(rng.integers(len(kinds)))]
                _apply(kind, f, row, files[i + 1] if i + 1 < len(files) else None, rng, now)
                f.changed = True
        for f in files:
            if f.changed:
                records += _finish(f)
    records.sort(key=lambda r: (r["table"], r["file"], r["row"]))
    truth = landing_dir / "truth.json"
    if truth.exists():
        data = json.loads(truth.read_text())
        data["defects"] = {"rate": rate, "seed": seed, "count": len(records), "records": records}
        truth.write_text(json.dumps(data, indent=2))
    return records


def _files(landing_dir: Path, table: str) -> list[Path]:
    folder = landing_dir / table
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in FORMATS)


# --- reading and writing -----------------------------------------------------------------------------------

def _read(path: Path, landing_dir: Path, table: Table) -> _File:
    fmt = FORMATS[path.suffix.lower()]
    name = str(path.relative_to(landing_dir))
    if fmt == "csv":
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader, [])
            rows = [_Row({c: (v if v != "" else None) for c, v in zip(header, line, strict=False)})
                    for line in reader if line]
        return _File(path, name, fmt, table, header, rows)
    if fmt == "jsonl":
        rows = [_Row(json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        columns = list(rows[0].values) if rows else list(table.column_names)
        return _File(path, name, fmt, table, columns, rows)
    tbl = pq.read_table(path)
    return _File(path, name, fmt, table, tbl.column_names, [_Row(r) for r in tbl.to_pylist()], schema=tbl.schema)


def _finish(f: _File) -> list[dict]:
    """Write the file back and return its records with their final row numbers."""
    records = []
    for n, row in enumerate(f.rows, start=1):
        if row.record is not None:
            records.append({"table": f.table.name, "file": f.name, "row": n, **row.record})
    if f.fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(f.columns)
        for row in f.rows:
            if row.raw is not None:
                out.write(row.raw + "\n")
            else:
                writer.writerow(["" if row.values.get(c) is None else _text(row.values.get(c)) for c in f.columns])
        f.path.write_text(out.getvalue(), encoding="utf-8")
    elif f.fmt == "jsonl":
        lines = [row.raw if row.raw is not None else json.dumps(row.values, separators=(",", ":"), default=_text)
                 for row in f.rows]
        f.path.write_text("\n".join(lines) + ("" if f.truncated else "\n"), encoding="utf-8")
    else:
        fields = [pa.field(x.name, pa.string() if x.name in f.text_columns else x.type, nullable=True)
                  for x in f.schema]
        data = {x.name: [_parquet_value(r.values.get(x.name), x.name in f.text_columns) for r in f.rows]
                for x in f.schema}
        pq.write_table(pa.table(data, schema=pa.schema(fields)), f.path)
    return records


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, datetime):
        return v.astimezone(UTC).strftime(TS_TEXT) if v.tzinfo else v.strftime(TS_TEXT)
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _parquet_value(v: Any, as_text: bool) -> Any:
    if v is None or not as_text:
        return v
    return _text(v)


# --- values in the file's own format -------------------------------------------------------------------------

def _as_datetime(v: Any) -> datetime | None:
    if v is None:
        return None
    if isinstance(v, datetime):
        return v.astimezone(UTC).replace(tzinfo=None) if v.tzinfo else v
    if isinstance(v, date):
        return datetime(v.year, v.month, v.day)
    return datetime.fromisoformat(str(v).replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)


def _typed(f: _File, col: str, value: Any) -> Any:
    """`value` (a datetime, number, bool or text) as the file stores column `col`."""
    ctype = f.table.column(col).type
    if f.fmt == "csv":
        if isinstance(value, datetime):
            return value.date().isoformat() if ctype == "DATE" else value.strftime(TS_TEXT)
        return None if value is None else _text(value)
    if f.fmt == "jsonl":
        if isinstance(value, datetime):
            return value.date().isoformat() if ctype == "DATE" else value.strftime(TS_TEXT)
        return value
    if isinstance(value, datetime):  # Parquet keeps native types unless the column became text
        if ctype == "DATE":
            return value.date()
        return value.replace(tzinfo=UTC)
    return value


def _set_text(f: _File, row: _Row, col: str, text: str | None) -> None:
    """Store a value given as text: Parquet keeps a number or bool when the text is one, else the column becomes
    text (foreign-format values)."""
    ctype = f.table.column(col).type
    if f.fmt == "parquet" and text is not None:
        native = _native(ctype, text)
        if native is None:
            f.text_columns.add(col)
            row.values[col] = text
            return
        row.values[col] = native
        return
    if f.fmt == "jsonl" and text is not None:
        native = _native(ctype, text)
        row.values[col] = text if native is None else native
        return
    row.values[col] = text


def _native(ctype: str, text: str) -> Any:
    try:
        if ctype == "DOUBLE":
            return float(text)
        if ctype == "BIGINT":
            return int(text)
    except ValueError:
        return None
    if ctype == "VARCHAR":
        return text
    return None


# --- defects -------------------------------------------------------------------------------------------------

def _applicable(f: _File, row: _Row, is_last: bool) -> list[str]:
    t, v = f.table, row.values
    if t.name == "teams":
        return ["exact_duplicate", "conflicting_duplicate"]
    kinds = ["bad_type", "missing_value", "exact_duplicate"]
    if _conflict(f, row) is not None:
        kinds.append("conflicting_duplicate")
    if "team_id" in t.column_names:
        kinds.append("unknown_team")
    if t.name in OUT_OF_RANGE:
        kinds.append("out_of_range")
    rev = REVERSALS.get(t.name)
    if rev and v.get(rev[0]) is not None and v.get(rev[1]) is not None:
        kinds.append("reversed_duration")
    if any(c.type in ("TIMESTAMP", "DATE") for c in t.columns):
        kinds.append("future_timestamp")
    if f.fmt == "csv":
        kinds.append("malformed_csv_row")
    if f.fmt == "jsonl" and is_last and not f.truncated:
        kinds.append("truncated_last_line")
    return kinds


def _apply(kind: str, f: _File, row: _Row, next_file: _File | None, rng: np.random.Generator, now: datetime) -> None:
    t = f.table
    row.touched = True

    def pick(options: list) -> Any:
        return options[int(rng.integers(len(options)))]

    if kind == "bad_type":
        col = pick([c for c in t.columns if c.type != "VARCHAR" and row.values.get(c.name) is not None]
                   or [c for c in t.columns if c.type != "VARCHAR"])
        _set_text(f, row, col.name, _foreign(col.type, row.values.get(col.name)))
        row.record = _rec(kind, col.name, f"{col.name}: not a valid {col.type.lower()}")
    elif kind == "missing_value":
        col = pick([c for c in t.columns if c.required])
        row.values[col.name] = None
        row.record = _rec(kind, col.name, f"{col.name}: missing value")
    elif kind == "unknown_team":
        row.values["team_id"] = UNKNOWN_TEAM.format(int(rng.integers(1000)))
        row.record = _rec(kind, "team_id", "team_id: unknown team_id")
    elif kind == "out_of_range":
        col, text, reason = pick(OUT_OF_RANGE[t.name])
        _set_text(f, row, col, text)
        row.record = _rec(kind, col, reason)
    elif kind == "reversed_duration":
        end, start, gap, reason = REVERSALS[t.name]
        row.values[end] = _typed(f, end, _as_datetime(row.values[start]) - gap)
        row.record = _rec(kind, end, reason)
    elif kind == "future_timestamp":
        col = pick([c for c in t.columns if c.type in ("TIMESTAMP", "DATE")])
        when = now + FUTURE + timedelta(days=int(rng.integers(0, 300)), seconds=int(rng.integers(0, 86400)))
        row.values[col.name] = _typed(f, col.name, when)
        row.record = _rec(kind, col.name, f"{col.name}: in the future")
    elif kind == "exact_duplicate":
        copy = _Row(dict(row.values), touched=True)
        if next_file is not None and next_file.fmt == f.fmt and t.partition_column:
            next_file.rows.insert(0, copy)  # exported again with the next week's file
            next_file.changed = True
        else:
            f.rows.insert(f.rows.index(row) + 1, copy)
        row.record = _rec(kind, t.key[0], "exact duplicate of")
    elif kind == "conflicting_duplicate":
        col, old = _conflict(f, row)
        stale = _Row(dict(row.values), touched=True)
        stale.values[col] = old
        f.rows.insert(f.rows.index(row), stale)  # an older version of the row, exported before it
        stale.record = _rec(kind, t.key[0], "superseded by")
    elif kind == "malformed_csv_row":
        out = io.StringIO()
        csv.writer(out, lineterminator="").writerow(
            ["" if row.values.get(c) is None else _text(row.values.get(c)) for c in f.columns] + ["see notes"])
        row.raw = out.getvalue()
        row.record = _rec(kind, None, "malformed CSV row")
    elif kind == "truncated_last_line":
        line = json.dumps(row.values, separators=(",", ":"), default=_text)
        row.raw = line[: max(1, len(line) // 2)]
        f.truncated = True
        row.record = _rec(kind, None, "not valid JSON: the last line is cut off")
    else:
        raise ValueError(f"unknown defect kind {kind!r}")


def _rec(kind: str, column: str | None, reason: str) -> dict[str, Any]:
    return {"kind": kind, "field": column, "reason": reason}


def _foreign(ctype: str, value: Any) -> str:
    """A value of type `ctype` written the way a spreadsheet or another locale would."""
    if ctype in ("TIMESTAMP", "DATE"):
        d = _as_datetime(value) or datetime(2024, 1, 31, 10, 0)
        return d.strftime("%d/%m/%Y %H:%M") if ctype == "TIMESTAMP" else d.strftime("%d/%m/%Y")
    if ctype == "DOUBLE":
        return f"{float(value if value is not None else 1):.2f}".replace(".", ",")
    if ctype == "BIGINT":
        return f"{int(value) if value is not None else 1}.5"
    if ctype == "BOOLEAN":
        return "unknown"
    return "n/a"


def _conflict(f: _File, row: _Row) -> tuple[str, Any] | None:
    """(column, older value) for a stale version of `row` that is still valid, or None."""
    v, name = row.values, f.table.name
    if name == "teams":
        return "team_name", f"{v.get('team_name') or 'team'} (old name)"
    if name == "memberships":
        fte = float(v["fte"]) if v.get("fte") is not None else 1.0
        return "fte", _typed(f, "fte", 0.5 if fte == 1.0 else 1.0)
    if name == "pull_requests":
        return "additions", _typed(f, "additions", int(v.get("additions") or 0) + 7)
    if name == "deployments":
        return "manual_interventions", _typed(f, "manual_interventions", int(v.get("manual_interventions") or 0) + 1)
    if name == "commits" and v.get("reached_customer_at") is not None:
        return "reached_customer_at", None
    if name == "pages":
        return "severity", "info" if v.get("severity") != "info" else "low"
    if name == "oncall_shifts":
        return "shift_end", _typed(f, "shift_end", _as_datetime(v["shift_end"]) + timedelta(hours=12))
    if name == "ai_tool_usage":
        active = v.get("active")
        on = active if isinstance(active, bool) else str(active).lower() == "true"
        return "active", _typed(f, "active", not on)
    return None
