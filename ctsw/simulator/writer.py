"""Landing files in the contract's schema: `<table>/<table>.<ext>` for snapshots, `<table>/<table>_<week>.<ext>`
for event tables (one file per ISO week, written even when empty so every week is explicitly present).

Parquet keeps native types (timestamps as UTC instants); CSV and JSON Lines write timestamps as ISO-8601 with
`Z`. `pr_ids` is a ';'-joined string in every format.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ctsw.contract import TABLES

from .clock import to_date

TIMESTAMP = pa.timestamp("s", tz="UTC")
ARROW_TYPES = {"VARCHAR": pa.string(), "TIMESTAMP": TIMESTAMP, "DATE": pa.date32(), "DOUBLE": pa.float64(),
               "BIGINT": pa.int64(), "BOOLEAN": pa.bool_()}


def arrow_schema(table_name: str) -> pa.Schema:
    return pa.schema([pa.field(c.name, ARROW_TYPES[c.type], nullable=not c.required)
                      for c in TABLES[table_name].columns])


def timestamps(seconds: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    return pa.array(np.asarray(seconds, dtype=np.int64), type=TIMESTAMP, mask=null)


def dates(days: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    return pa.array(np.asarray(days, dtype=np.int32), type=pa.date32(), mask=null)


class LandingWriter:
    def __init__(self, out_dir: Path, fmt: str):
        self.out_dir, self.fmt = Path(out_dir), fmt
        self._duckdb = duckdb.connect() if fmt == "jsonl" else None
        for name in TABLES:
            (self.out_dir / name).mkdir(parents=True, exist_ok=True)

    def snapshot(self, name: str, columns: dict[str, object]) -> None:
        self._write(name, self.out_dir / name / f"{name}.{self.fmt}", columns)

    def week(self, name: str, week_day: int, columns: dict[str, object]) -> None:
        self._write(name, self.out_dir / name / f"{name}_{to_date(week_day).isoformat()}.{self.fmt}", columns)

    def _write(self, name: str, path: Path, columns: dict[str, object]) -> None:
        schema = arrow_schema(name)
        table = pa.table({f.name: columns[f.name] for f in schema}).cast(schema)
        if self.fmt == "parquet":
            pq.write_table(table, path)
            return
        for i, f in enumerate(schema):
            if f.type == TIMESTAMP:
                table = table.set_column(i, f.name, pc.strftime(table[f.name], format="%Y-%m-%dT%H:%M:%SZ"))
        if self.fmt == "csv":
            pa_csv.write_csv(table, path)
        else:
            self._duckdb.register("_landing", table)
            quoted = str(path).replace("'", "''")
            self._duckdb.execute(f"COPY _landing TO '{quoted}' (FORMAT JSON)")
            self._duckdb.unregister("_landing")

    def close(self) -> None:
        if self._duckdb is not None:
            self._duckdb.close()
