"""Write contract tables as landing files: exactly the contract's columns, in its order, with its types.

`landing/<table>/<source>_<name>.parquet` (or `.csv`). Timestamps are written as naive UTC, dates as dates,
`pr_ids` as the contract's ';'-joined text. Re-running a source overwrites its files (atomically), and a table
that came out empty removes the source's stale file for it, so the landing folder always mirrors the last run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ctsw.contract import TABLES, Table

_ARROW = {
    "VARCHAR": pa.string(),
    "TIMESTAMP": pa.timestamp("us"),
    "DATE": pa.date32(),
    "DOUBLE": pa.float64(),
    "BIGINT": pa.int64(),
    "BOOLEAN": pa.bool_(),
}
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def arrow_schema(table: Table) -> pa.Schema:
    return pa.schema([pa.field(c.name, _ARROW[c.type], nullable=True) for c in table.columns])


def _utc_naive(values: pd.Series) -> pd.Series:
    s = pd.to_datetime(values, utc=True, errors="raise", format="mixed")
    return s.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")


def _join_ids(v: object) -> object:
    if isinstance(v, list | tuple | set):
        items = [str(x) for x in v if x is not None and str(x) != ""]
        return ";".join(items) if items else None
    if hasattr(v, "tolist") and not isinstance(v, str):  # a numpy / arrow array from a Parquet list column
        return _join_ids(list(v.tolist()))
    if v is None or pd.isna(v):
        return None
    s = str(v)
    return s if s else None


def conform(table_name: str, frame: pd.DataFrame | None) -> pd.DataFrame:
    """A copy of `frame` with exactly the contract columns of `table_name`, typed for writing.

    Missing columns become null, extra columns are dropped. Values that cannot be converted raise.
    """
    table = TABLES[table_name]
    frame = pd.DataFrame() if frame is None else frame
    out: dict[str, pd.Series] = {}
    n = len(frame)
    index = pd.RangeIndex(n)
    for c in table.columns:
        raw = frame[c.name].reset_index(drop=True) if c.name in frame.columns else pd.Series([None] * n,
                                                                                          index=index)
        if c.type == "VARCHAR":
            if c.name == "pr_ids":
                raw = raw.map(_join_ids)
            s = raw.astype("string")
        elif c.type == "TIMESTAMP":
            s = _utc_naive(raw) if n else pd.Series([], dtype="datetime64[us]")
        elif c.type == "DATE":
            s = raw.map(_as_date).astype("object")
        elif c.type == "BIGINT":
            s = pd.to_numeric(raw, errors="raise").astype("Int64")
        elif c.type == "DOUBLE":
            s = pd.to_numeric(raw, errors="raise").astype("float64")
        elif c.type == "BOOLEAN":
            s = raw.astype("boolean")
        else:  # pragma: no cover - the contract has no other types
            raise ValueError(f"{table_name}.{c.name}: unsupported type {c.type}")
        out[c.name] = s
    return pd.DataFrame(out, index=index)


def _as_date(v: object) -> date | None:
    if v is None or (not isinstance(v, str | date | datetime) and pd.isna(v)):
        return None
    if isinstance(v, datetime):
        ts = pd.Timestamp(v)
        return (ts.tz_convert("UTC") if ts.tzinfo else ts).date()
    if isinstance(v, date):
        return v
    ts = pd.Timestamp(str(v))
    return (ts.tz_convert("UTC") if ts.tzinfo else ts).date()


def contract_violations(table_name: str, frame: pd.DataFrame) -> list[str]:
    """Required values missing, values outside `accepted`/min/max, duplicate keys (what the loader would flag)."""
    table = TABLES[table_name]
    df = conform(table_name, frame)
    problems: list[str] = []
    for c in table.columns:
        s = df[c.name]
        if c.required and s.isna().any():
            problems.append(f"{c.name}: {int(s.isna().sum())} missing")
        if c.accepted:
            bad = sorted({str(v) for v in s.dropna() if v not in c.accepted})
            if bad:
                problems.append(f"{c.name}: not accepted {bad}")
        if c.min is not None:
            vals = pd.to_numeric(s, errors="coerce")
            low = (vals <= c.min) if c.min_exclusive else (vals < c.min)
            if low.fillna(False).any():
                problems.append(f"{c.name}: below minimum")
        if c.max is not None and (pd.to_numeric(s, errors="coerce") > c.max).fillna(False).any():
            problems.append(f"{c.name}: above maximum")
    if len(df) and df.duplicated(list(table.key)).any():
        problems.append(f"duplicate key {table.key}")
    return problems


def landing_path(landing_dir: Path, table_name: str, source: str, name: str | None = None,
                 fmt: str = "parquet") -> Path:
    stem = _SAFE.sub("-", source) + "_" + _SAFE.sub("-", name or table_name)
    return Path(landing_dir) / table_name / f"{stem}.{fmt}"


def write_landing(
    tables: Mapping[str, pd.DataFrame],
    landing_dir: Path,
    source: str,
    name: str | None = None,
    fmt: str = "parquet",
) -> dict[str, Path | None]:
    """Write each contract table to `landing_dir/<table>/<source>_<name or table>.<fmt>`.

    Returns table -> path written (None when the table was empty and any previous file was removed).
    Unknown table names raise.
    """
    if fmt not in ("parquet", "csv"):
        raise ValueError("fmt must be 'parquet' or 'csv'")
    unknown = sorted(set(tables) - set(TABLES))
    if unknown:
        raise ValueError(f"not contract tables: {unknown}")
    written: dict[str, Path | None] = {}
    for table_name, frame in tables.items():
        path = landing_path(landing_dir, table_name, source, name, fmt)
        df = conform(table_name, frame)
        if df.empty:
            path.unlink(missing_ok=True)
            written[table_name] = None
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        if fmt == "parquet":
            pq.write_table(pa.Table.from_pandas(df, schema=arrow_schema(TABLES[table_name]),
                                                preserve_index=False), tmp)
        else:
            _csv_frame(table_name, df).to_csv(tmp, index=False)
        os.replace(tmp, path)
        written[table_name] = path
    return written


def _csv_frame(table_name: str, df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in TABLES[table_name].columns:
        if c.type == "TIMESTAMP":
            out[c.name] = out[c.name].map(lambda t: None if pd.isna(t) else t.isoformat() + "Z")
        elif c.type == "DATE":
            out[c.name] = out[c.name].map(lambda d: None if d is None else d.isoformat())
        elif c.type == "BOOLEAN":
            out[c.name] = out[c.name].map(lambda b: None if pd.isna(b) else ("true" if b else "false"))
    return out
