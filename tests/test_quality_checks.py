"""Raw-layer and panel sanity checks (ctsw/quality/raw_checks.py, panel_checks.py) and their Dagster wiring.

A small simulated org is loaded with the real loader; the panel is the simulator's own (the end-to-end test shows
dbt builds exactly that panel), so no dbt run is needed. Each test works on a copy of the database.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from ctsw.contract import TABLES
from ctsw.ingest.load import Window, landing_files, load_table
from ctsw.privacy import PERSON_COLUMNS
from ctsw.quality.panel_checks import (
    PANEL_CHECKS,
    builder_fte_matches_roster,
    panel_coverage,
    week_totals_reconcile,
)
from ctsw.quality.raw_checks import quarantine_summary, raw_suite_result, sample_key_columns
from ctsw.simulator import SimConfig, simulate, simulate_panel
from ctsw.simulator.defects import inject_defects
from orchestration.defs.ingest.assets import RAW_ASSETS
from orchestration.defs.quality.checks import (
    PANEL_CHECK_DEFS,
    PANEL_KEY,
    QUARANTINE_CHECK,
    RAW_CHECKS,
    RAW_SUITE_CHECK,
)
from orchestration.partitions import WEEKLY
from orchestration.resources import CtswResource

CFG = SimConfig(n_teams=8, n_weeks=10, seed=3, fmt="csv")
START = datetime(2024, 1, 1)
ALL = Window(START, START + timedelta(weeks=CFG.n_weeks))
EVERYTHING = Window(datetime(2000, 1, 1), datetime(2100, 1, 1))
KEY = "test-key"


def week(i: int) -> Window:
    return Window(START + timedelta(weeks=i), START + timedelta(weeks=i + 1))


def build(data: Path, defects: float = 0.0) -> Path:
    """Simulate CFG into data/landing (with defects at that rate), load every table, add the simulator's panel."""
    landing = data / "landing"
    simulate(CFG, landing)
    if defects:
        inject_defects(landing, defects, seed=11)
    db = data / "ctsw.duckdb"
    with duckdb.connect(str(db)) as con:
        for name, table in TABLES.items():
            window = EVERYTHING if table.partition_column else None
            load_table(con, name, landing_files(landing, name), window, KEY, landing_dir=landing)
        panel, _ = simulate_panel(CFG)
        con.register("sim_panel", panel)
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE TABLE marts.fct_team_weeks AS "
                    "SELECT * REPLACE (CAST(week_start AS DATE) AS week_start) FROM sim_panel")
    return db


@pytest.fixture(scope="module")
def clean_db(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("clean"))


@pytest.fixture(scope="module")
def defect_db(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("defects"), defects=0.05)


@pytest.fixture
def con(clean_db, tmp_path):
    db = tmp_path / "ctsw.duckdb"
    shutil.copy(clean_db, db)
    with duckdb.connect(str(db)) as c:
        yield c


def first_row(con, where: str = "true") -> tuple[str, object]:
    return con.execute(f"SELECT team_id, week_start FROM marts.fct_team_weeks WHERE {where} "
                       "ORDER BY week_start, team_id LIMIT 1").fetchone()


# --- panel sanity checks ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("window", [ALL, week(0), week(4), week(9)], ids=["all", "w0", "w4", "w9"])
def test_clean_panel_passes_every_sanity_check(con, window):
    for name, (check, _) in PANEL_CHECKS.items():
        outcome = check(con, window)
        assert outcome.passed, (name, outcome.metadata)
    cov = panel_coverage(con, window).metadata
    assert cov["expected_team_weeks"] == cov["panel_rows"] > 0
    totals = week_totals_reconcile(con, window).metadata
    assert totals["prs_merged"]["raw"] > 0 and totals["deployments"]["raw"] > 0


def test_weeks_after_the_data_horizon_expect_no_rows(con):
    later = Window(START + timedelta(weeks=20), START + timedelta(weeks=22))
    for _, (check, _) in PANEL_CHECKS.items():
        assert check(con, later).passed
    assert panel_coverage(con, later).metadata["expected_team_weeks"] == 0


def test_a_missing_panel_row_fails_coverage(con):
    team, wk = first_row(con, "week_start = DATE '2024-01-29'")
    con.execute("DELETE FROM marts.fct_team_weeks WHERE team_id = ? AND week_start = ?", [team, wk])
    outcome = panel_coverage(con, ALL)
    assert not outcome.passed
    assert outcome.metadata["missing_team_weeks"] == 1
    assert outcome.metadata["sample"] == [{"team_id": team, "week_start": str(wk), "problem": "missing",
                                           "panel_rows": 0}]
    assert builder_fte_matches_roster(con, ALL).passed  # the remaining rows are right


def test_unexpected_and_duplicated_panel_rows_fail_coverage(con):
    team, wk = first_row(con)
    con.execute("INSERT INTO marts.fct_team_weeks SELECT * FROM marts.fct_team_weeks "
                "WHERE team_id = ? AND week_start = ?", [team, wk])
    con.execute("INSERT INTO marts.fct_team_weeks SELECT * REPLACE ('t-ghost' AS team_id) FROM marts.fct_team_weeks "
                "WHERE team_id = ? AND week_start = ?", [team, wk])
    outcome = panel_coverage(con, week(0))
    assert not outcome.passed
    assert outcome.metadata["duplicated_team_weeks"] == 1
    assert outcome.metadata["unexpected_team_weeks"] == 1
    assert {s["problem"] for s in outcome.metadata["sample"]} == {"duplicated", "unexpected"}
    assert panel_coverage(con, week(1)).passed  # other weeks are unaffected


def test_builder_fte_off_the_roster_fails(con):
    team, wk = first_row(con, "builder_fte > 0 AND week_start = DATE '2024-02-12'")
    before = con.execute("SELECT builder_fte FROM marts.fct_team_weeks WHERE team_id = ? AND week_start = ?",
                         [team, wk]).fetchone()[0]
    con.execute("UPDATE marts.fct_team_weeks SET builder_fte = builder_fte + 0.25 "
                "WHERE team_id = ? AND week_start = ?", [team, wk])
    outcome = builder_fte_matches_roster(con, ALL)
    assert not outcome.passed
    assert outcome.metadata["mismatched_team_weeks"] == 1
    (sample,) = outcome.metadata["sample"]
    assert sample["team_id"] == team and sample["roster_builder_fte"] == pytest.approx(before)
    assert sample["panel_builder_fte"] == pytest.approx(before + 0.25)
    assert panel_coverage(con, ALL).passed and week_totals_reconcile(con, ALL).passed


def test_a_null_builder_fte_fails(con):
    team, wk = first_row(con)
    con.execute("UPDATE marts.fct_team_weeks SET builder_fte = NULL WHERE team_id = ? AND week_start = ?", [team, wk])
    assert not builder_fte_matches_roster(con, week(0)).passed


@pytest.mark.parametrize("column", ["prs_merged", "deployments"])
def test_week_totals_off_the_raw_counts_fail(con, column):
    team, wk = first_row(con, "week_start = DATE '2024-01-15'")
    con.execute(f"UPDATE marts.fct_team_weeks SET {column} = {column} + 1 WHERE team_id = ? AND week_start = ?",
                [team, wk])
    outcome = week_totals_reconcile(con, ALL)
    assert not outcome.passed
    assert outcome.metadata["mismatched_weeks"] == 1
    (sample,) = outcome.metadata["sample"]
    assert sample["week_start"] == str(wk)
    assert sample[f"panel_{column}"] == sample[f"raw_{column}"] + 1
    assert week_totals_reconcile(con, week(0)).passed  # the other weeks still reconcile
    assert panel_coverage(con, ALL).passed and builder_fte_matches_roster(con, ALL).passed


def test_activity_of_a_team_without_members_is_reported_not_failed(con):
    con.execute("INSERT INTO raw.teams VALUES ('t-empty', 'empty', 'ads', 'service', NULL, 'x', 1)")
    con.execute("INSERT INTO raw.pull_requests (pr_id, team_id, author_id, created_at, merged_at) "
                "VALUES ('x#1', 't-empty', 'p_x', TIMESTAMP '2024-01-16 10:00', TIMESTAMP '2024-01-17 10:00')")
    outcome = week_totals_reconcile(con, week(2))
    assert outcome.passed
    assert outcome.metadata["unstaffed_activity"] == {"prs_merged": 1, "deployments": 0}


# --- raw checks ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("table", sorted(TABLES))
def test_raw_suites_pass_on_what_the_loader_kept(con, table):
    window = week(3) if TABLES[table].partition_column else None
    result = raw_suite_result(con, table, window)
    assert result.success and not result.failed, result.to_metadata()
    assert result.evaluated > 0


def test_raw_suite_lists_each_failing_expectation_with_count_and_sample_keys(con):
    # Rows that bypassed the loader: a negative line count, a PR id twice, a merge before creation.
    con.execute("""
INSERT INTO raw.pull_requests (pr_id, team_id, author_id, created_at, merged_at, additions, _source_file, _source_row)
VALUES ('bad#1', 't0001', 'p_a', TIMESTAMP '2024-01-23 10:00', NULL, -5, 'pull_requests/x.csv', 1),
       ('bad#2', 't0001', 'p_a', TIMESTAMP '2024-01-23 10:00', TIMESTAMP '2024-01-22 10:00', 3,
        'pull_requests/x.csv', 2),
       ('bad#2', 't0001', 'p_a', TIMESTAMP '2024-01-23 11:00', NULL, 3, 'pull_requests/x.csv', 3)
""")
    result = raw_suite_result(con, "pull_requests", week(3))
    meta = result.to_metadata()
    assert not result.success
    assert meta["key_columns"] == ["pr_id", "_source_file", "_source_row"]
    failures = {(f["expectation_type"], f["column"] or f["kwargs"].get("column_A")): f for f in meta["failures"]}
    between = failures[("expect_column_values_to_be_between", "additions")]
    assert between["unexpected_count"] == 1
    assert between["sample_keys"] == [["bad#1", "pull_requests/x.csv", "1"]]
    unique = failures[("expect_column_values_to_be_unique", "pr_id")]
    assert unique["unexpected_count"] == 2
    assert sorted(k[2] for k in unique["sample_keys"]) == ["2", "3"]
    assert failures[("expect_column_pair_values_a_to_be_greater_than_b", "merged_at")]["unexpected_count"] == 1
    assert raw_suite_result(con, "pull_requests", week(4)).success  # other weeks are not affected


def test_sample_keys_never_use_person_identifiers():
    for table in TABLES.values():
        keys = sample_key_columns(table)
        assert not set(keys) & set(PERSON_COLUMNS), table.name
        assert keys[-2:] == ["_source_file", "_source_row"]


def test_quarantine_summary_by_reason_field_file_with_samples_without_people(defect_db):
    with duckdb.connect(str(defect_db), read_only=True) as c:
        totals = dict(c.execute("SELECT source_table, count(*) FROM raw.quarantine GROUP BY 1").fetchall())
        assert sum(totals.values()) > 50
        for name, table in TABLES.items():
            full = quarantine_summary(c, name, None if table.partition_column is None else EVERYTHING)
            assert full.rows == totals.get(name, 0), name
            assert sum(full.by_reason.values()) == sum(full.by_field.values()) == full.rows
            assert len(full.sample) == min(full.rows, 5)
            assert full.sample == sorted(full.sample, key=lambda r: (r["source_file"], r["source_row"]))
            for r in full.sample:
                assert r["record"] is None or not set(r["record"]) & set(PERSON_COLUMNS)
            if table.partition_column is None:
                continue
            # Every quarantined row falls in exactly one week, or in none (counted in every week).
            weekly = [quarantine_summary(c, name, week(i)) for i in range(CFG.n_weeks)]
            no_week = {s.rows_without_week for s in weekly} | {full.rows_without_week}
            assert len(no_week) == 1, name
            assert sum(s.rows - s.rows_without_week for s in weekly) + full.rows_without_week == full.rows, name
        pr = quarantine_summary(c, "pull_requests", EVERYTHING)
        assert "exact duplicate" in pr.by_reason and "team_id: unknown team_id" in pr.by_reason
        assert not any(":" in k and k.split(":")[0].endswith(".csv") for k in pr.by_reason)  # no file:row refs
        assert pr.sample_markdown().startswith("| file | row | field | reason |")


# --- Dagster wiring ----------------------------------------------------------------------------------------------


def test_every_raw_table_has_a_suite_and_a_quarantine_check_partitioned_like_its_loader():
    by_asset = {}
    for checks in RAW_CHECKS:
        for spec in checks.check_specs:
            by_asset.setdefault(spec.asset_key.path[-1], {})[spec.name] = spec
    assert set(by_asset) == set(TABLES)
    for name, specs in by_asset.items():
        assert set(specs) == {RAW_SUITE_CHECK, QUARANTINE_CHECK}
        for spec in specs.values():
            assert not spec.blocking
            assert spec.partitions_def == (WEEKLY if TABLES[name].partition_column else None)
    panel = [s for d in PANEL_CHECK_DEFS for s in d.check_specs]
    assert {s.name for s in panel} == {"great_expectations_panel_suite", *PANEL_CHECKS}
    assert all(s.blocking and s.partitions_def == WEEKLY and s.asset_key == PANEL_KEY for s in panel)


def run_checks(db: Path, first: str, last: str) -> dg.ExecuteInProcessResult:
    """Every quality check (no asset) on `db` for weeks first..last, as the weekly job would run them."""
    resource = CtswResource(duckdb_path=str(db), landing_dir=str(db.parent / "landing"),
                            pseudonym_key_file=str(db.parent / "key"))
    job = dg.define_asset_job("quality_only", selection=dg.AssetSelection.all_asset_checks())
    defs = dg.Definitions(
        assets=[*RAW_ASSETS, dg.AssetSpec(PANEL_KEY, partitions_def=WEEKLY)],
        asset_checks=[*PANEL_CHECK_DEFS, *RAW_CHECKS], jobs=[job], resources={"ctsw": resource},
        executor=dg.in_process_executor,
    )
    return defs.resolve_job_def("quality_only").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False,
        tags={"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last},
    )


def test_in_dagster_raw_checks_warn_and_a_bad_panel_blocks(defect_db, tmp_path):
    db = tmp_path / "ctsw.duckdb"
    shutil.copy(defect_db, db)
    (tmp_path / "landing").mkdir()
    with duckdb.connect(str(db)) as c:
        c.execute("UPDATE marts.fct_team_weeks SET prs_merged = prs_merged + 2 "
                  "WHERE week_start = DATE '2024-01-08' AND team_id = 't0001'")
    result = run_checks(db, "2024-01-08", "2024-01-15")
    evals = {e.asset_check_key.to_user_string(): e for e in result.get_asset_check_evaluations()}
    assert len(evals) == 2 * len(TABLES) + 1 + len(PANEL_CHECKS)
    # Raw checks: the suites pass on what the loader kept; the quarantine warns with its counts and samples.
    for name in TABLES:
        suite = evals[f"raw/{name}:{RAW_SUITE_CHECK}"]
        assert suite.passed and suite.severity == dg.AssetCheckSeverity.WARN
    quarantine = evals[f"raw/pull_requests:{QUARANTINE_CHECK}"]
    assert not quarantine.passed and quarantine.severity == dg.AssetCheckSeverity.WARN
    meta = quarantine.metadata
    assert meta["quarantined_rows"].value > 0 and meta["by_reason"].value
    assert "| file | row | field | reason |" in meta["sample_rows"].value
    # The panel: totals no longer reconcile for 2024-01-08, an error that fails the (blocking) check step.
    assert not evals["marts/fct_team_weeks:week_totals_reconcile_with_raw"].passed
    assert evals["marts/fct_team_weeks:week_totals_reconcile_with_raw"].severity == dg.AssetCheckSeverity.ERROR
    assert evals["marts/fct_team_weeks:panel_covers_staffed_team_weeks"].passed
    assert evals["marts/fct_team_weeks:great_expectations_panel_suite"].passed
    failed_steps = {e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"}
    assert failed_steps == {"panel_sanity_checks"}


def test_in_dagster_a_clean_week_passes_every_check(clean_db, tmp_path):
    db = tmp_path / "ctsw.duckdb"
    shutil.copy(clean_db, db)
    (tmp_path / "landing").mkdir()
    result = run_checks(db, "2024-02-05", "2024-02-05")
    assert result.success
    evals = result.get_asset_check_evaluations()
    assert evals and all(e.passed for e in evals)
