"""Typed Parquet columns are staged as they are, not as text: the load must not tell the difference.

The same rows, bad values in typed columns included, are loaded from typed Parquet, from Parquet whose columns
are all text, and from CSV; raw tables, the PR bridge and quarantine rows (field, reason, record) must agree.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import TEAMS_CSV, write

from ctsw.ingest.load import Window, landing_files, load_table

KEY = "test-key"
WEEK1 = Window(datetime(2024, 1, 1), datetime(2024, 1, 8))
TS = pa.timestamp("s", tz="UTC")
YEAR_10000 = 253402300800  # seconds: beyond what the typed path takes, so staged as text


def ts(*args: int) -> int:
    return int((datetime(*args) - datetime(1970, 1, 1)).total_seconds())


DEPLOYMENTS = pa.table({
    "deployment_id": ["d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d1", "d9", "d10", "d11"],
    "team_id": ["t1", "t1", "t1", "t1", "t1", "t1", "t1", "t1", "t1", "t9", "t2", "t2"],
    "service": ["api"] * 12,
    "environment": ["production"] * 12,
    "started_at": pa.array([ts(2024, 1, 2, 10), ts(2024, 1, 2, 11), ts(1999, 12, 31), ts(2024, 1, 3), None,
                            ts(2024, 1, 4), ts(2100, 1, 1), YEAR_10000, ts(2024, 1, 5), ts(2024, 1, 5),
                            ts(2024, 1, 6, 7, 8, 9), ts(2024, 1, 9)], TS),
    "finished_at": pa.array([ts(2024, 1, 2, 11), None, None, ts(2024, 1, 2), None, None, None, None, None, None,
                             None, None], TS),
    "status": ["succeeded", "failed", "succeeded", "succeeded", "succeeded", "succeeded", "succeeded",
               "succeeded", "succeeded", "succeeded", "cancelled", "succeeded"],
    "is_rollback": [False, True, False, False, False, None, False, False, True, False, False, False],
    "manual_interventions": pa.array([0, -1, 0, 0, 0, 0, 0, 0, 2, 0, None, 3], pa.int64()),
    "pr_ids": ["t1#1;t1#2; t1#1", None, None, None, None, None, None, None, "t1#3", None, None, None],
})

MEMBERSHIPS = pa.table({
    "developer_id": ["u1", "u1", "u2", "u3", "u4"],
    "team_id": ["t1", "t1", "t1", "t2", "t2"],
    "role": ["builder"] * 5,
    "start_date": pa.array([date(2023, 1, 1), date(2023, 6, 1), date(1999, 1, 1), date(2023, 1, 1), None]),
    "end_date": pa.array([None, date(2023, 7, 1), None, date(2022, 12, 1), None]),
    "fte": [1.0, 0.5, 1.0, 1.0, 1.0],
    "annual_loaded_cost_usd": [1e5, 1e5, 1e5, 1e5, 1e5],
})


def _landing(root: Path, name: str, data: pa.Table, fmt: str) -> Path:
    """A landing folder with `data` in `fmt`: typed Parquet, text Parquet, or CSV (the text as staging reads it)."""
    write(root / "teams" / "teams.csv", TEAMS_CSV)
    (root / name).mkdir(parents=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("data", data)
    text = ", ".join(f'CAST("{c}" AS VARCHAR) AS "{c}"' for c in data.column_names)
    if fmt == "parquet":
        pq.write_table(data, root / name / "w1.parquet")
    elif fmt == "text parquet":
        con.execute(f"COPY (SELECT {text} FROM data) TO '{root / name / 'w1.parquet'}' (FORMAT parquet)")
    else:
        con.execute(f"COPY (SELECT {text} FROM data) TO '{root / name / 'w1.csv'}' (FORMAT csv, HEADER)")
    con.close()
    return root


def _load(tmp: Path, name: str, data: pa.Table, fmt: str, window: Window | None) -> tuple[list, dict]:
    landing = _landing(tmp / fmt.replace(" ", "_"), name, data, fmt)
    con = duckdb.connect(str(tmp / f"{fmt.replace(' ', '_')}.duckdb"))
    load_table(con, "teams", landing_files(landing, "teams"), None, KEY, landing_dir=landing)
    res = load_table(con, name, landing_files(landing, name), window, KEY, landing_dir=landing)
    # The CSV file differs in its name only: w1.csv for w1.parquet.
    tables = [con.execute(f"SELECT * REPLACE (replace(_source_file, '.csv', '.parquet') AS _source_file) "
                          f"FROM raw.{name} ORDER BY ALL").fetchall(),
              con.execute("SELECT * REPLACE (replace(source_file, '.csv', '.parquet') AS source_file, "
                          "replace(reason, 'w1.csv', 'w1.parquet') AS reason) FROM raw.quarantine "
                          "ORDER BY ALL").fetchall()]
    if name == "deployments":
        tables.append(con.execute("SELECT * FROM raw.deployment_pull_requests ORDER BY ALL").fetchall())
    con.close()
    return tables, {k: v for k, v in res.as_metadata().items()}


@pytest.mark.parametrize(("name", "data", "window"), [("deployments", DEPLOYMENTS, WEEK1),
                                                      ("memberships", MEMBERSHIPS, None)])
def test_typed_parquet_loads_like_text(tmp_path, name, data, window):
    typed = _load(tmp_path, name, data, "parquet", window)
    assert typed == _load(tmp_path, name, data, "text parquet", window)
    assert typed == _load(tmp_path, name, data, "csv", window)
    reasons = {r[4] for r in typed[0][1]}
    assert len(typed[0][1]) >= 4 and len(reasons) >= 4  # the bad values did reach the typed columns' rules
