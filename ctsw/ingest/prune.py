"""Which landing files a window's load has to stage, and how to split a large window into chunks.

A load of a window stages rows of the window, rows without a plausible partition value (every window load
quarantines those) and valid rows of other weeks that share a key with a valid row of the window (the newest
export of an entity wins). A file is left out only when it provably adds none of them:

* it is Parquet and its partition column is stored as a date or timestamp, with min/max statistics and a
  null count of 0 in every row group (any other file, CSV and JSON Lines included, is always staged);
* every value is plausible and outside the window;
* no key value of it is among the key values of the staged files. When the key contains the partition
  column no row outside the window can share a key with one inside it; otherwise the key columns of the
  left-out candidates are read (projection only) and compared, as the loader parses them, with every staged
  row's key (a superset of the window's valid rows' keys, so a match is never missed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from ctsw.contract import Table
from ctsw.ingest.readers import ident, lit, parquet_text, typed_column
from ctsw.ingest.rules import EARLIEST_EVENT, parsed


@dataclass(frozen=True)
class FileStats:
    rows: int
    low: datetime
    high: datetime
    key_types: tuple[str, ...] | None  # DuckDB type of each key column as staging sees it; None = not comparable


def _as_naive_utc(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return None  # e.g. a nanosecond value pyarrow cannot give as datetime: not usable


def _duck_type(typ: pa.DataType) -> str | None:
    """The type name `readers.parquet_text` expects; None for lists (their text form is not a plain cast)."""
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        return "VARCHAR"
    if pa.types.is_binary(typ) or pa.types.is_large_binary(typ):
        return "BLOB"
    if pa.types.is_list(typ) or pa.types.is_large_list(typ) or pa.types.is_nested(typ):
        return None
    return "OTHER"  # numbers and the like: staged as CAST(... AS VARCHAR)


def file_stats(table: Table, path: Path) -> FileStats | None:
    """Row count and partition value range of a Parquet file whose statistics prove both; None otherwise."""
    if path.suffix.lower() != ".parquet":
        return None
    try:
        meta = pq.ParquetFile(path).metadata
    except (OSError, pa.ArrowException):
        return None  # staged, so the reader reports what is wrong with it
    schema = meta.schema.to_arrow_schema()
    pc = table.partition_column
    if meta.num_rows == 0 or schema.get_field_index(pc) < 0:
        return None
    typ = schema.field(pc).type
    # Staging turns the value into text and parses it back, exactly for dates and down to microseconds;
    # nanoseconds would be rounded, so such a column proves nothing.
    if not (pa.types.is_date(typ) or (pa.types.is_timestamp(typ) and typ.unit != "ns")):
        return None
    leaf = [meta.schema.column(i).path for i in range(meta.num_columns)].index(pc)
    low = high = None
    for g in range(meta.num_row_groups):
        col = meta.row_group(g).column(leaf)
        st = col.statistics
        if col.physical_type not in ("INT32", "INT64") or st is None or not st.has_min_max or st.null_count != 0:
            return None
        lo, hi = _as_naive_utc(st.min), _as_naive_utc(st.max)
        if lo is None or hi is None:
            return None
        low, high = min(low or lo, lo), max(high or hi, hi)
    key_types = tuple(
        _duck_type(schema.field(k).type) if schema.get_field_index(k) >= 0 else None for k in table.key)
    return FileStats(meta.num_rows, low, high, None if None in key_types else key_types)


def outside(stats: FileStats | None, start: datetime, end: datetime) -> bool:
    """Every partition value is plausible and outside [start, end)."""
    if stats is None:
        return False
    # `plausible` allows up to tomorrow in the session's time zone; today 00:00 UTC is safely inside it.
    latest = datetime.now(UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    if stats.low < datetime.fromisoformat(EARLIEST_EVENT) or stats.high >= latest:
        return False
    return stats.high < start or stats.low >= end


def chunks(
    start: datetime, end: datetime, stats: list[FileStats | None], max_rows: int
) -> list[tuple[datetime, datetime]]:
    """Split [start, end) at week boundaries so that each part holds about `max_rows` rows of prunable files.

    Files without statistics are staged by every part, so splitting does not bound them: when none has
    statistics the window stays whole.
    """
    week = timedelta(days=7)
    weeks = max(1, -(-(end - start) // week))
    per_week = [0] * weeks
    for s in stats:
        if s is not None and start <= s.low < end:
            per_week[(s.low - start) // week] += s.rows
    parts, first, rows = [], 0, 0
    for i, n in enumerate(per_week):
        if rows and rows + n > max_rows:
            parts.append((first, i))
            first, rows = i, 0
        rows += n
    parts.append((first, weeks))
    return [(start + a * week, min(end, start + b * week)) for a, b in parts]


def sharing_keys(con: duckdb.DuckDBPyConnection, table: Table, candidates: dict[Path, FileStats]) -> set[Path]:
    """Candidates with a key value that some row of `_stage` has (all of them when that cannot be checked)."""
    if not candidates or table.partition_column in table.key:
        return set()
    keys = ", ".join(ident(k) for k in table.key)
    key_columns = [c for c in table.columns if c.name in table.key]
    typed = ", ".join(f"{parsed(c)} AS {ident(c.name)}" for c in key_columns)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _staged_keys AS SELECT DISTINCT {typed} FROM _stage")
    groups: dict[tuple[str, ...], list[Path]] = {}
    shared: set[Path] = set()
    for path, s in candidates.items():
        if s.key_types is None:
            shared.add(path)
        else:
            groups.setdefault(s.key_types, []).append(path)
    try:
        for key_types, paths in groups.items():
            text = ", ".join(f"{parquet_text(k, t)} AS {ident(k)}" for k, t in zip(table.key, key_types, strict=True))
            # The candidates' keys are read as text; `parsed` also refers to the typed staging columns.
            text += "".join(f", NULL AS {typed_column(c)}" for c in key_columns if typed_column(c))
            src = f"read_parquet([{', '.join(lit(str(p)) for p in paths)}], filename = true)"
            hits = con.execute(
                f"SELECT DISTINCT filename FROM (SELECT {typed}, filename FROM (SELECT {text}, filename FROM {src})) "
                f"SEMI JOIN _staged_keys USING ({keys})"
            ).fetchall()
            by_name = {str(p): p for p in paths}
            shared.update(by_name[h[0]] for h in hits)
    except duckdb.Error:  # e.g. bytes that are not UTF-8: staging has the fallback for them
        shared.update(candidates)
    finally:
        con.execute("DROP TABLE IF EXISTS _staged_keys")
    return shared
