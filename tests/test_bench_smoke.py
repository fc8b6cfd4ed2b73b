"""The benchmark at its smoke size: every stage runs and is measured, and the hand-written DuckDB floor
(bench/floor.sql) computes the same panel as dbt (docs/performance.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.run import STAGES, table

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
# Stages whose success is the benchmark's own business; the others (models, report) are timed here but owned and
# tested elsewhere (tests/test_models_*.py, tests/test_pipeline_e2e.py), so a failure there is reported, not ours.
MUST_SUCCEED = ("simulate", "discover", "backfill", "weekly", "floor", "fe")


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("bench")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CTSW_", "DAGSTER_HOME"))}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--smoke",
            "--work-dir",
            str(tmp / "work"),
            "--results-dir",
            str(tmp / "results"),
            "--fe-repeats",
            "1",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    files = list((tmp / "results").glob("smoke-*.json"))
    assert files, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(files[0].read_text())


def test_every_stage_is_measured(results):
    stages = results["stages"]
    assert set(stages) == set(STAGES), set(STAGES) ^ set(stages)
    for name, m in stages.items():
        if "skipped" in m:
            continue
        assert m["wall_s"] > 0 and m["cpu_s"] > 0 and m["peak_tree_rss_mb"] > 0, (name, m)
        assert m["load_before"] >= 0 and m["load_after"] >= 0
    for name in MUST_SUCCEED:
        assert stages[name]["returncode"] == 0, (name, Path(stages[name]["log"]).read_text()[-3000:])
    assert "smoke" in table([results])


def test_results_describe_the_machine(results):
    m = results["machine"]
    assert m["nproc"] >= 1 and m["memory_gb"] > 0 and m["cpu_model"]
    assert len(m["load_average_1_5_15"]) == 3
    assert results["landing"]["total_rows"] > 0


def test_floor_panel_equals_dbt_panel(results):
    floor = results["stages"]["floor"]["detail"]
    assert floor["same_columns"]
    assert floor["key_columns"]["equal"], floor["key_columns"]
    assert floor["key_columns"]["rows_both"] > 0
    assert floor["all_columns"]["equal"], floor["all_columns"]
    assert results["summary"]["backfill_over_floor"] > 0


def test_fe_fits_agree(results):
    libs = results["stages"]["fe"]["detail"]["libraries"]
    assert libs["ctsw fit_twfe"]["best_wall_s"] > 0
    assert libs["linearmodels PanelOLS"]["agree_6dp"]
    assert libs["linearmodels PanelOLS"]["se_max_rel_diff_vs_ctsw"] < 1e-6  # same CR1 covariance
    for lib in libs.values():
        assert "error" in lib or lib["agree_6dp"], lib
