"""Simulated defects (ctsw/simulator/defects.py): the loader's quarantine catches exactly the injected rows, each
for the reason the defect must produce, in every landing format."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from ctsw.contract import TABLES
from ctsw.ingest.load import Window, landing_files, load_table
from ctsw.simulator import SimConfig, simulate
from ctsw.simulator.defects import KINDS, inject_defects

EVERYTHING = Window(datetime(2000, 1, 1), datetime(2100, 1, 1))
RATE, SEED = 0.05, 1
FORMAT_ONLY = {"malformed_csv_row": "csv", "truncated_last_line": "jsonl"}


def simulated(tmp_path: Path, fmt: str) -> Path:
    landing = tmp_path / "landing"
    simulate(SimConfig(n_teams=8, n_weeks=10, seed=3, fmt=fmt), landing)
    return landing


def quarantine(landing: Path) -> dict[tuple[str, int], tuple[str, str]]:
    """(file, row) -> (table, reason) of every row the loader quarantined, loading every week at once."""
    with duckdb.connect() as con:
        for name, table in TABLES.items():
            window = EVERYTHING if table.partition_column else None
            load_table(con, name, landing_files(landing, name), window, "k", landing_dir=landing)
        rows = con.execute("SELECT source_table, source_file, source_row, reason FROM raw.quarantine").fetchall()
    return {(f, r): (t, reason) for t, f, r, reason in rows}


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_quarantine_catches_exactly_the_injected_defects(tmp_path, fmt):
    landing = simulated(tmp_path, fmt)
    assert quarantine(landing) == {}  # the simulator itself writes clean files
    records = inject_defects(landing, RATE, SEED)
    kinds = Counter(r["kind"] for r in records)
    expected_kinds = {k for k in KINDS if FORMAT_ONLY.get(k, fmt) == fmt}
    assert set(kinds) == expected_kinds, kinds  # the seed exercises every kind the format allows
    got = quarantine(landing)
    expected = {(r["file"], r["row"]): r for r in records}
    assert len(expected) == len(records)  # one defect per quarantined row
    assert set(got) == set(expected)
    for key, (table, reason) in got.items():
        rec = expected[key]
        assert table == rec["table"], key
        assert reason.startswith(rec["reason"]), (key, rec, reason)


def test_records_are_in_truth_json_and_the_same_seed_gives_the_same_defects(tmp_path):
    a = inject_defects(simulated(tmp_path / "a", "csv"), RATE, SEED)
    b = inject_defects(simulated(tmp_path / "b", "csv"), RATE, SEED)
    c = inject_defects(simulated(tmp_path / "c", "csv"), RATE, SEED + 1)
    assert a == b and a != c
    truth = json.loads((tmp_path / "a" / "landing" / "truth.json").read_text())
    assert truth["defects"] == {"rate": RATE, "seed": SEED, "count": len(a), "records": a}
    assert truth["n_teams"] == 8  # the rest of the truth is kept
    for r in a:
        assert set(r) == {"table", "file", "row", "kind", "field", "reason"}
        assert r["file"].startswith(f"{r['table']}/") and r["row"] >= 1


def test_rate_zero_changes_nothing_and_bad_rates_are_refused(tmp_path):
    landing = simulated(tmp_path, "csv")
    before = {p: p.read_bytes() for p in landing.rglob("*.csv")}
    assert inject_defects(landing, 0.0, SEED) == []
    assert {p: p.read_bytes() for p in landing.rglob("*.csv")} == before
    with pytest.raises(ValueError):
        inject_defects(landing, 1.5, SEED)


def test_teams_get_only_duplicates(tmp_path):
    records = inject_defects(simulated(tmp_path, "csv"), 1.0, SEED)
    assert {r["kind"] for r in records if r["table"] == "teams"} <= {"exact_duplicate", "conflicting_duplicate"}
