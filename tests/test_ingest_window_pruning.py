"""Skipping landing files a window cannot need, and chunking big windows, change nothing but the work done.

The reference is the same load with pruning switched off (no file has usable statistics, so every file is
staged and the window is one chunk), which is how every load worked before pruning.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import write

from ctsw.ingest import load as load_mod
from ctsw.ingest import prune
from ctsw.ingest.load import Window, landing_files, load_table

KEY = "test-key"
W = [datetime(2024, 1, 1) + timedelta(weeks=i) for i in range(4)]
ALL = Window(W[0], W[3] + timedelta(weeks=1))
PR_COLUMNS = ("pr_id", "team_id", "author_id", "created_at", "merged_at", "additions")


def _parquet(path: Path, rows: list[tuple]) -> None:
    cols = list(zip(*rows, strict=True))
    ts = pa.timestamp("ms", tz="UTC")
    pq.write_table(pa.table({
        "pr_id": pa.array(cols[0], pa.string()),
        "team_id": pa.array(cols[1], pa.string()),
        "author_id": pa.array(cols[2], pa.string()),
        "created_at": pa.array(cols[3], ts),
        "merged_at": pa.array(cols[4], ts),
        "additions": pa.array(cols[5], pa.int64()),
    }), path)


def _day(week: int, day: int = 1, hour: int = 9) -> datetime:
    return W[week] + timedelta(days=day, hours=hour)


@pytest.fixture
def prs(landing: Path) -> Path:
    folder = landing / "pull_requests"
    folder.mkdir(parents=True)
    _parquet(folder / "pr_2024-01-01.parquet", [
        ("a1", "t1", "dev1", _day(0), _day(0, 2), 10),
        ("a2", "t2", "dev2", _day(0, 3), None, 5),
        ("m1", "t1", "dev1", _day(0, 4), None, 1),  # (a) its newer export moved it to week 2
        ("d1", "t1", "dev3", _day(0, 5), None, -4),  # invalid: negative additions
    ])
    _parquet(folder / "pr_2024-01-08.parquet", [
        ("b1", "t1", "dev1", _day(1), _day(1, 1), 3),
        ("b2", "t9", "dev2", _day(1, 2), None, 3),  # unknown team
        ("a2", "t2", "dev2", _day(1, 3), None, 5),  # a2 corrected into week 1 as well: a later file wins
    ])
    _parquet(folder / "pr_2024-01-15.parquet", [
        ("c1", "t2", "dev2", _day(2), None, 7),
        ("m1", "t1", "dev1", _day(2, 1), _day(2, 2), 2),
    ])
    _parquet(folder / "pr_2024-01-22.parquet", [
        ("e1", "t1", "dev1", _day(3), None, 1),
        ("e2", "t2", "dev2", None, None, 1),  # (b) null partition value: quarantined by every window load
    ])
    _parquet(folder / "pr_1999.parquet", [  # (b) implausible partition value
        ("x1", "t1", "dev1", datetime(1970, 1, 1), None, 1),
        ("c9", "t2", "dev2", _day(2, 4), None, 8),
    ])
    # (c) CSV is always staged; it holds a newer export of b1 and a row of week 3.
    write(folder / "pr_late.csv", "pr_id,team_id,author_id,created_at,merged_at,additions\n"
          f"b1,t1,dev1,{_day(1):%Y-%m-%d %H:%M:%S},,4\n"
          f"f1,t2,dev2,{_day(3, 2):%Y-%m-%dT%H:%M:%SZ},,2\n")
    return landing


def _load(con, landing: Path, window: Window):
    load_table(con, "teams", landing_files(landing, "teams"), None, KEY, landing_dir=landing)
    return load_table(con, "pull_requests", landing_files(landing, "pull_requests"), window, KEY, landing)


def _tables(con) -> tuple[list, list]:
    # In stored order, not sorted: chunked and unchunked loads must write the same rows in the same order.
    return (con.execute("SELECT * FROM raw.pull_requests").fetchall(),
            con.execute("SELECT * FROM raw.quarantine WHERE source_table = 'pull_requests'").fetchall())


def _unpruned(monkeypatch):
    monkeypatch.setattr(prune, "file_stats", lambda table, path: None)


def _result_fields(r) -> dict:
    meta = r.as_metadata()
    return {k: v for k, v in meta.items() if k not in ("files_skipped", "chunks")}


def test_week_loads_equal_unpruned_loads_and_skip_files(prs, tmp_path, monkeypatch):
    pruned, plain = (duckdb.connect(str(tmp_path / f"{n}.duckdb")) for n in ("pruned", "plain"))
    windows = [Window(w, w + timedelta(weeks=1)) for w in W] + [Window(W[2], W[3])]
    results = []
    for window in windows:
        with monkeypatch.context() as m:
            _unpruned(m)
            expected = _load(plain, prs, window)
        got = _load(pruned, prs, window)
        assert _result_fields(got) == _result_fields(expected), window
        assert _tables(pruned) == _tables(plain), window
        results.append(got)
    # Week 3 needs neither week 0's file nor week 2's; week 1's shares b1 with the CSV, which is always staged
    # like the files with a null or implausible value. Week 0's file shares a2 with week 1's, m1 with week 2's.
    assert [r.files_skipped for r in results] == [0, 1, 0, 2, 0]
    assert results[3].as_metadata()["files_skipped"] == 2
    loaded = {r[0]: r for r in pruned.execute("SELECT pr_id, created_at, additions FROM raw.pull_requests").fetchall()}
    assert loaded["m1"][1] == _day(2, 1)  # (a) the newer export in week 2's file won over week 0's row
    assert loaded["b1"][2] == 4  # (c) the CSV's newer export of b1
    assert "x1" not in loaded and "e2" not in loaded
    reasons = dict(pruned.execute("SELECT source_row || source_file, reason FROM raw.quarantine").fetchall())
    assert reasons["3pull_requests/pr_2024-01-01.parquet"].startswith("superseded by pull_requests/pr_2024-01-15")


def test_fixed_file_that_is_now_skipped_drops_its_old_null_partition_rows(prs, tmp_path, monkeypatch):
    """Rows without a week are replaced per file; a file skipped because it no longer has any must lose them."""
    pruned, plain = (duckdb.connect(str(tmp_path / f"{n}.duckdb")) for n in ("pruned", "plain"))
    week1 = Window(W[1], W[2])
    for con in (pruned, plain):
        with monkeypatch.context() as m:
            if con is plain:
                _unpruned(m)
            _load(con, prs, week1)
    assert pruned.execute("SELECT count(*) FROM raw.quarantine WHERE partition_ts IS NULL").fetchone()[0] == 2
    _parquet(prs / "pull_requests" / "pr_2024-01-22.parquet", [("e1", "t1", "dev1", _day(3), None, 1)])
    with monkeypatch.context() as m:
        _unpruned(m)
        _load(plain, prs, week1)
    assert _load(pruned, prs, week1).files_skipped == 2  # week 2's and the fixed week 3's
    assert _tables(pruned) == _tables(plain)
    assert pruned.execute("SELECT count(*) FROM raw.quarantine WHERE partition_ts IS NULL").fetchone()[0] == 1


def test_chunked_backfill_is_identical_to_one_shot(prs, tmp_path, monkeypatch):
    one, chunked = (duckdb.connect(str(tmp_path / f"{n}.duckdb")) for n in ("one", "chunked"))
    with monkeypatch.context() as m:
        _unpruned(m)
        expected = _load(one, prs, ALL)
    monkeypatch.setattr(load_mod, "CHUNK_ROWS", 1)  # one chunk per week
    got = _load(chunked, prs, ALL)
    assert got.chunks == 4 and expected.chunks == 1
    assert _result_fields(got) == _result_fields(expected)
    assert got.rows_read == got.rows_loaded + got.rows_quarantined
    assert _tables(chunked) == _tables(one)
    # The null-partition row is quarantined once, not once per chunk.
    assert chunked.execute("SELECT count(*) FROM raw.quarantine WHERE source_row = 2 AND source_file LIKE "
                           "'%2024-01-22%'").fetchone()[0] == 1


def test_key_with_the_partition_column_needs_no_key_scan(landing, tmp_path):
    """ai_tool_usage's key holds usage_date: another week's file can never share a key with the window."""
    folder = landing / "ai_tool_usage"
    folder.mkdir(parents=True)
    for i, week in enumerate(W[:3]):
        pq.write_table(pa.table({
            "developer_id": ["dev1", "dev2"], "usage_date": pa.array([week.date(), week.date()], pa.date32()),
            "tool": ["copilot", "copilot"], "active": [True, False],
        }), folder / f"usage_{i}.parquet")
    con = duckdb.connect(str(tmp_path / "u.duckdb"))
    load_table(con, "teams", landing_files(landing, "teams"), None, KEY, landing_dir=landing)
    r = load_table(con, "ai_tool_usage", landing_files(landing, "ai_tool_usage"), Window(W[1], W[2]), KEY, landing)
    assert (r.files_skipped, r.rows_read, r.rows_loaded) == (2, 2, 2)
