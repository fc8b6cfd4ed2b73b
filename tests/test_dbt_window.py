"""Windowed builds against full builds: the team-level intermediates are incremental by week, so a partition run
rebuilds them from the window's rows only. After raw data of some weeks changes, rebuilding just those weeks
must give exactly the panel (and intermediates) a full build gives, including the cases that reach outside the
window: a PR opened or merged weeks before the deployment that ships it, a later deployment of an already
shipped PR, on-call shifts and memberships spanning weeks.

Dataset and helpers: tests/test_dbt_panel.py (W1 = 2024-01-01, W2 = 2024-01-08, W3 = 2024-01-15, the horizon).
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest
from test_dbt_panel import MARTS, W1, W2, W3, assert_ok, checksum, full_build, query, run_dbt, team_week, window_vars

W4 = date(2024, 1, 22)
# Incremental team-level intermediates (their weeks must match a full build too) and the column of their week.
INTERMEDIATES = {
    "int_pull_requests_shipped": "shipped_week_start",
    "int_pages_timed": "week_start",
    "int_memberships_aggregated_to_team_weeks": "week_start",
    "int_pull_requests_aggregated_to_team_weeks": "week_start",
    "int_deployments_aggregated_to_team_weeks": "week_start",
    "int_commits_aggregated_to_team_weeks": "week_start",
    "int_pages_aggregated_to_team_weeks": "week_start",
    "int_oncall_shifts_aggregated_to_team_weeks": "week_start",
    "int_ai_tool_usage_aggregated_to_team_weeks": "week_start",
}


def table_checksum(db_path: Path, relation: str) -> tuple[int, str]:
    return query(
        db_path,
        f"select count(*), md5(coalesce(string_agg(cast(t as varchar), chr(10) order by cast(t as varchar)), ''))"
        f" from {relation} as t",
    )[0]


def state(db_path: Path) -> dict[str, tuple[int, str]]:
    relations = [f"marts.{m}" for m in MARTS] + [f"intermediate.{i}" for i in INTERMEDIATES]
    return {r: table_checksum(db_path, r) for r in relations}


def add_deployment(con, deployment_id, team, started, finished, status, prs) -> None:
    con.execute(
        "insert into raw.deployments values (?, ?, 'api', 'production', ?, ?, ?, false, 0, ?, 'test.csv', 9)",
        [deployment_id, team, started, finished, status, ";".join(prs)],
    )
    con.executemany(
        "insert into raw.deployment_pull_requests values (?, ?, ?)", [(deployment_id, pr, started) for pr in prs]
    )


@pytest.fixture(scope="module")
def full(tmp_path_factory) -> Path:
    """The raw dataset with a full (window-less) build."""
    return full_build(tmp_path_factory.mktemp("dbt_window"))


def windowed_equals_full(full: Path, tmp_path: Path, change, start: date, end: date) -> Path:
    """Apply `change` to raw, rebuild [start, end) on one copy and everything on another: identical."""
    windowed, rebuilt = tmp_path / "windowed.duckdb", tmp_path / "rebuilt.duckdb"
    shutil.copy(full, windowed)
    with duckdb.connect(str(windowed)) as con:
        change(con)
    shutil.copy(windowed, rebuilt)
    (tmp_path / "w").mkdir()
    (tmp_path / "f").mkdir()
    assert_ok(run_dbt(windowed, tmp_path / "w", "build", "--vars", window_vars(start, end)))
    assert_ok(run_dbt(rebuilt, tmp_path / "f", "build"))
    assert state(windowed) == state(rebuilt)
    return windowed


def test_one_week_deployment_ships_prs_from_earlier_weeks(full, tmp_path):
    def change(con):
        # finishes in W3: ships mono#4 (opened and merged in W2, never shipped) but not svc#1 (shipped by d1 in
        # W2, an earlier deployment) nor mono#1 (the source's shipped_at, W1, wins)
        add_deployment(
            con, "d8", "svc", "2024-01-16 08:00", "2024-01-16 09:00", "succeeded", ["mono#4", "svc#1", "mono#1"]
        )

    before = {t: checksum(full, t, f"week_start <> '{W3}'") for t in MARTS}
    db = windowed_equals_full(full, tmp_path, change, W3, W4)
    assert team_week(db, "mono", W3)["prs_shipped"] == 1
    assert team_week(db, "svc", W3)["prs_shipped"] == 1  # svc#2 (d6), as before: svc#1 is not shipped again
    assert {t: checksum(db, t, f"week_start <> '{W3}'") for t in MARTS} == before


def test_changes_spanning_weeks_rebuilt_by_their_window(full, tmp_path):
    def change(con):
        # an earlier deployment of svc#4 (W2, before d1) and svc#3's first one; W3's d9 ships neither again
        add_deployment(con, "d8", "svc", "2024-01-08 08:00", "2024-01-08 09:00", "succeeded", ["svc#4", "svc#3"])
        add_deployment(con, "d9", "svc", "2024-01-17 08:00", "2024-01-17 09:00", "succeeded", ["svc#3"])
        # a shift across the W2/W3 boundary, a membership starting mid-W2, one ending mid-W3
        con.execute(
            "insert into raw.oncall_shifts values ('frank', 'trunk', '2024-01-14 22:00', '2024-01-15 06:00',"
            " 'test.csv', 9)"
        )
        con.execute(
            "insert into raw.memberships values ('hank', 'mono', 'builder', '2024-01-10', null, 1.0,"
            " 52180.0, 'test.csv', 9)"
        )
        con.execute(
            "update raw.memberships set end_date = '2024-01-17' where developer_id = 'erin' and team_id = 'trunk'"
        )
        con.execute("insert into raw.ai_tool_usage values ('hank', '2024-01-11', 'copilot', true, 'test.csv', 9)")
        # a commit moves from W2 to W3, a W2 page disappears
        con.execute("update raw.commits set reached_customer_at = '2024-01-16 10:00' where sha = 'c2'")
        con.execute("delete from raw.pages where page_id = 'p3'")

    before_w1 = {t: checksum(full, t, f"week_start = '{W1}'") for t in MARTS}
    db = windowed_equals_full(full, tmp_path, change, W2, W4)
    svc = team_week(db, "svc", W2)
    assert (svc["deployments"], svc["prs_shipped"], svc["pages"]) == (3, 3, 2)
    assert (team_week(db, "trunk", W2)["oncall_builders"], team_week(db, "trunk", W3)["oncall_builders"]) == (1, 1)
    assert team_week(db, "mono", W2)["ai_active_builders"] == 2
    assert {t: checksum(db, t, f"week_start = '{W1}'") for t in MARTS} == before_w1


def test_windowed_tests_scan_only_the_window(full, tmp_path):
    """A key duplicated outside the window does not fail a windowed build; a full build catches it."""
    db_path = tmp_path / "panel.duckdb"
    shutil.copy(full, db_path)
    with duckdb.connect(str(db_path)) as con:
        con.execute("insert into raw.pages select * from raw.pages where page_id = 'p0'")  # W1
    (tmp_path / "w").mkdir()
    assert_ok(run_dbt(db_path, tmp_path / "w", "build", "--vars", window_vars(W3, W4)))
    (tmp_path / "f").mkdir()
    assert not run_dbt(db_path, tmp_path / "f", "build").success
