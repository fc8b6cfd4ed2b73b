"""The dbt panel on a small hand-made raw dataset: hand-computed values, partition windows, idempotence.

Weeks used (ISO, Monday 00:00 UTC): W1 = 2024-01-01, W2 = 2024-01-08, W3 = 2024-01-15; W3 is the data horizon.
Costs are chosen so that one FTE-week costs annual / 52.18 = a round number (52_180 USD/year -> 1_000 USD/week).

Teams: SVC (org alpha, service, empty delivery_unit -> deployment), MONO (alpha, monolith, null -> pull_request),
TRUNK (beta, trunk, commit). Memberships:
  SVC   alice builder 1.0 2000/wk open; bob builder 0.5 1000/wk [Wed 01-03, Fri 01-19); carol manager 1.0 3000/wk
  MONO  dave builder 1.0 1000/wk open; erin builder 0.8 2000/wk [01-01, Wed 01-10)
  TRUNK frank builder 1.0 1000/wk from 01-08; gina other 1.0 1000/wk from 01-08; erin builder 0.8 from Wed 01-10
"""

from __future__ import annotations

import gc
import os
import re
import shutil
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest
import yaml
from dbt.cli.main import dbtRunner

from ctsw.contract import DEFAULT_DELIVERY_UNIT, TABLES
from ctsw.ingest.schema import create_raw_schema

PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"
W1, W2, W3 = date(2024, 1, 1), date(2024, 1, 8), date(2024, 1, 15)
MARTS = ("fct_team_weeks", "fct_team_week_tools", "fct_org_weeks")


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


TEAMS = [
    ("svc", "Service team", "alpha", "service", ""),
    ("mono", "Monolith team", "alpha", "monolith", None),
    ("trunk", "Trunk team", "beta", "trunk", "commit"),
]
MEMBERSHIPS = [
    ("alice", "svc", "builder", date(2024, 1, 1), None, 1.0, 104_360.0),
    ("bob", "svc", "builder", date(2024, 1, 3), date(2024, 1, 19), 0.5, 52_180.0),
    ("carol", "svc", "manager", date(2024, 1, 1), None, 1.0, 156_540.0),
    ("dave", "mono", "builder", date(2024, 1, 1), None, 1.0, 52_180.0),
    ("erin", "mono", "builder", date(2024, 1, 1), date(2024, 1, 10), 0.8, 104_360.0),
    ("frank", "trunk", "builder", date(2024, 1, 8), None, 1.0, 52_180.0),
    ("gina", "trunk", "other", date(2024, 1, 8), None, 1.0, 52_180.0),
    ("erin", "trunk", "builder", date(2024, 1, 10), None, 0.8, 104_360.0),
]
# pr_id, team, author, created, merged, shipped_at, first_commit
PULL_REQUESTS = [
    ("svc#1", "svc", "alice", "2024-01-02 09:00", "2024-01-05 10:00", None, "2024-01-02 10:00"),
    ("svc#2", "svc", "bob", "2024-01-08 08:00", "2024-01-09 10:00", None, "2024-01-08 09:00"),
    ("svc#3", "svc", "bob", "2024-01-09 08:00", None, None, "2024-01-09 08:00"),
    ("svc#4", "svc", "alice", "2024-01-05 11:00", "2024-01-08 09:00", None, "2024-01-05 10:30"),
    ("mono#1", "mono", "dave", "2024-01-02 12:00", "2024-01-03 12:00", "2024-01-04 12:00", "2024-01-02 12:00"),
    ("mono#2", "mono", "erin", "2024-01-04 00:00", "2024-01-04 06:00", "2024-01-05 00:00", "2024-01-04 00:00"),
    ("mono#3", "mono", "dave", "2024-01-05 00:00", "2024-01-05 01:00", "2024-01-06 00:00", None),
    ("mono#4", "mono", "dave", "2024-01-08 00:00", "2024-01-09 00:00", None, "2024-01-08 00:00"),
]
# deployment_id, team, env, started, finished, status, is_rollback, interventions, shipped PRs
DEPLOYMENTS = [
    ("d1", "svc", "production", "2024-01-08 10:00", "2024-01-08 10:30", "succeeded", False, 1, ["svc#1", "svc#4"]),
    ("d2", "svc", "production", "2024-01-09 10:00", "2024-01-09 10:20", "rolled_back", False, 2, ["svc#2"]),
    ("d3", "svc", "production", "2024-01-09 11:00", "2024-01-09 11:05", "succeeded", True, 0, []),
    ("d4", "svc", "production", "2024-01-10 10:00", "2024-01-10 10:10", "failed", False, 3, []),
    ("d5", "svc", "staging", "2024-01-10 12:00", "2024-01-10 12:10", "succeeded", False, 5, ["svc#2"]),
    # starts on Sunday of W2, finishes in W3: counted as a W2 deployment, ships svc#2 in W3
    ("d6", "svc", "production", "2024-01-14 23:30", "2024-01-15 00:10", "succeeded", False, 0, ["svc#2", "old#9"]),
    ("d7", "svc", "production", "2024-01-16 10:00", "2024-01-16 10:30", "succeeded", False, 0, ["svc#4"]),
]
COMMITS = [
    ("c1", "trunk", "frank", "2024-01-08 10:00", "2024-01-09 10:00"),
    ("c2", "trunk", "erin", "2024-01-10 10:00", "2024-01-11 10:00"),
    ("c3", "trunk", "frank", "2024-01-11 10:00", None),
    ("c4", "trunk", "frank", "2024-01-15 10:00", "2024-01-16 10:00"),
    ("c5", "trunk", "frank", "2024-01-03 10:00", "2024-01-04 10:00"),  # W1: trunk has no member yet
]
# page_id, team, triggered, resolved
PAGES = [
    ("p0", "svc", "2024-01-03 01:00", "2024-01-03 05:00"),
    ("p1", "svc", "2024-01-09 02:00", "2024-01-09 03:30"),
    ("p2", "svc", "2024-01-10 02:00", "2024-01-10 02:30"),
    ("p3", "svc", "2024-01-12 02:00", None),
    ("p4", "trunk", "2024-01-17 02:00", "2024-01-17 04:00"),
]
SHIFTS = [
    ("alice", "svc", "2024-01-08 09:00", "2024-01-15 09:00"),
    ("bob", "svc", "2024-01-10 00:00", "2024-01-11 00:00"),
    ("carol", "svc", "2024-01-08 00:00", "2024-01-15 00:00"),  # a manager: not an on-call builder
]
AI_USAGE = [
    ("alice", "2024-01-09", "copilot", True),
    ("alice", "2024-01-10", "claude_code", True),
    ("bob", "2024-01-02", "copilot", True),  # the day before bob joined svc
    ("bob", "2024-01-09", "cursor", False),
    ("carol", "2024-01-09", "copilot", True),  # a manager
    ("bob", "2024-01-16", "copilot", True),
    ("erin", "2024-01-09", "copilot", True),  # erin is a mono builder on Tue 01-09
    ("erin", "2024-01-11", "copilot", True),  # ... and a trunk builder from Wed 01-10
    ("frank", "2024-01-12", "cursor", True),
]


def load_raw(con: duckdb.DuckDBPyConnection) -> None:
    create_raw_schema(con)
    lineage = ("test.csv", 1)
    con.executemany("insert into raw.teams values (?, ?, ?, ?, ?, ?, ?)", [(*r, *lineage) for r in TEAMS])
    con.executemany(
        "insert into raw.memberships values (?, ?, ?, ?, ?, ?, ?, ?, ?)", [(*r, *lineage) for r in MEMBERSHIPS]
    )
    con.executemany(
        "insert into raw.pull_requests values (?, ?, ?, ?, ?, ?, ?, 10, 2, ?, ?)",
        [(p, t, a, ts(c), m and ts(m), s and ts(s), f and ts(f), *lineage) for p, t, a, c, m, s, f in PULL_REQUESTS],
    )
    con.executemany(
        "insert into raw.deployments values (?, ?, 'api', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (d, t, e, ts(s), ts(f), st, rb, mi, ";".join(prs), *lineage)
            for d, t, e, s, f, st, rb, mi, prs in DEPLOYMENTS
        ],
    )
    con.executemany(
        "insert into raw.deployment_pull_requests values (?, ?, ?)",
        [(d, pr, ts(s)) for d, _, _, s, _, _, _, _, prs in DEPLOYMENTS for pr in prs],
    )
    con.executemany(
        "insert into raw.commits values (?, ?, ?, ?, ?, ?, ?)",
        [(sha, t, a, ts(c), r and ts(r), *lineage) for sha, t, a, c, r in COMMITS],
    )
    con.executemany(
        "insert into raw.pages values (?, ?, ?, ?, ?, 'high', 'alice', ?, ?)",
        [(p, t, ts(tr), ts(tr), r and ts(r), *lineage) for p, t, tr, r in PAGES],
    )
    con.executemany(
        "insert into raw.oncall_shifts values (?, ?, ?, ?, ?, ?)",
        [(d, t, ts(s), ts(e), *lineage) for d, t, s, e in SHIFTS],
    )
    con.executemany(
        "insert into raw.ai_tool_usage values (?, ?, ?, ?, ?, ?)",
        [(d, date.fromisoformat(u), tool, a, *lineage) for d, u, tool, a in AI_USAGE],
    )


def run_dbt(db_path: Path, tmp: Path, *args: str) -> object:
    """Invoke dbt in-process against db_path, with target and logs in tmp so the tree stays clean."""
    old = os.environ.get("CTSW_DUCKDB_PATH")
    os.environ["CTSW_DUCKDB_PATH"] = str(db_path)
    try:
        return dbtRunner().invoke(
            [
                *args,
                "--project-dir",
                str(PROJECT_DIR),
                "--profiles-dir",
                str(PROJECT_DIR),
                "--target-path",
                str(tmp / "target"),
                "--log-path",
                str(tmp / "logs"),
                "--no-send-anonymous-usage-stats",
                "--quiet",
            ]
        )
    finally:
        release_dbt_duckdb()
        if old is None:
            os.environ.pop("CTSW_DUCKDB_PATH", None)
        else:
            os.environ["CTSW_DUCKDB_PATH"] = old


def release_dbt_duckdb() -> None:
    """dbt-duckdb caches its DuckDB instance for the whole process; close it so that this process can open the
    file with another configuration (read-only) and copy it with everything checkpointed."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    env = DuckDBConnectionManager._ENV
    DuckDBConnectionManager.close_all_connections()
    if env is not None:
        env.close()
    gc.collect()


def window_vars(start: date, end: date) -> str:
    return f'{{window_start: "{start}", window_end: "{end}"}}'


def assert_ok(result) -> None:
    if result.success:
        return
    failed = [
        f"{r.node.name}: {r.status} {r.message}"
        for r in getattr(result.result, "results", None) or []
        if str(r.status) not in ("success", "pass", "warn")
    ]
    pytest.fail(f"dbt failed: {result.exception or failed}")


def full_build(tmp: Path) -> Path:
    """A DuckDB file in `tmp` with the raw dataset and a full (window-less) dbt build."""
    db_path = tmp / "panel.duckdb"
    with duckdb.connect(str(db_path)) as con:
        load_raw(con)
    assert_ok(run_dbt(db_path, tmp, "build"))
    return db_path


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    return full_build(tmp_path_factory.mktemp("dbt_panel"))


def query(db_path: Path, sql: str, params=None) -> list[tuple]:
    with duckdb.connect(str(db_path), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def team_week(db_path: Path, team: str, week: date) -> dict:
    with duckdb.connect(str(db_path), read_only=True) as con:
        cur = con.execute("select * from marts.fct_team_weeks where team_id = ? and week_start = ?", [team, week])
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
    assert len(rows) == 1, (team, week, rows)
    return dict(zip(names, rows[0], strict=True))


def checksum(db_path: Path, table: str, where: str = "true") -> tuple[int, str]:
    """Row count and md5 of all rows as text, ordered: equal only if every value is identical."""
    return query(
        db_path,
        f"select count(*), md5(coalesce(string_agg(cast(t as varchar), chr(10) order by cast(t as varchar)), ''))"
        f" from marts.{table} as t where {where}",
    )[0]


approx = pytest.approx


# --- hand-computed values ---------------------------------------------------------------------------------


def test_panel_has_one_row_per_team_week_with_members(built):
    rows = query(built, "select team_id, week_start from marts.fct_team_weeks order by 1, 2")
    # trunk has no member in W1 (its commit c5 is dropped); bob's and erin's ends do not end their teams
    assert rows == [
        ("mono", W1),
        ("mono", W2),
        ("mono", W3),
        ("svc", W1),
        ("svc", W2),
        ("svc", W3),
        ("trunk", W2),
        ("trunk", W3),
    ]


def test_service_team_weeks(built):
    w1 = team_week(built, "svc", W1)
    # bob joins on Wednesday: 5 days at 0.5 FTE
    assert w1["builder_fte"] == approx(1 + 0.5 * 5 / 7)
    assert (w1["builders"], w1["headcount"]) == (2, 3)
    assert w1["dev_cost_usd"] == approx(2000 + 0.5 * 5 / 7 * 1000 + 3000)  # the manager costs too
    assert w1["prs_merged"] == 1
    assert w1["cr_velocity"] == approx(1 / (1 + 0.5 * 5 / 7))
    assert (w1["deployment_attempts"], w1["deployments"], w1["units_delivered"]) == (0, 0, 0)
    assert w1["rollback_rate"] is None and w1["interventions_per_deploy"] is None
    assert w1["cts_sw_usd"] is None and w1["cts_sw_null_reason"] == "no_units_delivered"
    assert (w1["pages"], w1["oncall_builders"], w1["pages_per_oncall_builder"]) == (1, 0, None)
    # bob's copilot day precedes his membership; nobody else used AI in W1
    assert (w1["ai_active_builders"], w1["ai_usage_share"]) == (0, 0.0)
    assert w1["dora_time_to_restore_hours"] == approx(4.0)

    w2 = team_week(built, "svc", W2)
    assert w2["builder_fte"] == approx(1.5)
    assert w2["dev_cost_usd"] == approx(5500.0)
    assert w2["prs_merged"] == 2 and w2["cr_velocity"] == approx(2 / 1.5)
    # attempts d1 d2 d4 d6 (d3 is a rollback, d5 is staging); d1 and d6 succeeded; d2 rolled back; d4 failed
    assert (w2["deployment_attempts"], w2["deployments"], w2["rollbacks"]) == (4, 2, 1)
    assert w2["deploy_velocity"] == approx(2 / 1.5)
    assert w2["rollback_rate"] == approx(0.25)
    assert w2["manual_interventions"] == 6 and w2["interventions_per_deploy"] == approx(1.5)
    assert w2["dora_change_failure_rate"] == approx(0.5)
    assert w2["dora_deployment_frequency"] == 2
    # pages p1 p2 p3 (p3 unresolved); alice and bob on call, carol is a manager
    assert (w2["pages"], w2["oncall_builders"]) == (3, 2)
    assert w2["pages_per_oncall_builder"] == approx(1.5)
    assert w2["dora_time_to_restore_hours"] == approx((1.5 + 0.5) / 2)
    assert (w2["ai_active_builders"], w2["ai_usage_share"]) == (1, approx(0.5))  # alice; carol is a manager
    assert w2["delivery_unit"] == "deployment" and w2["units_delivered"] == 2
    assert w2["cts_sw_usd"] == approx(2750.0) and w2["cts_sw_null_reason"] is None
    # svc#1 and svc#4 ship with d1 (svc#4 again with d7: the earliest counts): lead 144.5 h and 72 h
    assert w2["prs_shipped"] == 2 and w2["dora_lead_time_hours"] == approx((144.5 + 72) / 2)

    w3 = team_week(built, "svc", W3)
    assert w3["builder_fte"] == approx(1 + 0.5 * 4 / 7)  # bob leaves Friday (end date exclusive)
    assert w3["cts_sw_usd"] == approx((2000 + 0.5 * 4 / 7 * 1000 + 3000) / 1)
    # svc#2: rolled-back d2 and staging d5 do not ship it; d6 finishes Monday 00:10 of W3
    assert w3["prs_shipped"] == 1 and w3["dora_lead_time_hours"] == approx(6 * 24 + 15 + 10 / 60)
    # alice's shift ends Monday 09:00 of W3: still on call in W3, with no page
    assert (w3["oncall_builders"], w3["pages"], w3["pages_per_oncall_builder"]) == (1, 0, 0.0)


def test_monolith_and_trunk_team_weeks(built):
    m1 = team_week(built, "mono", W1)
    assert m1["delivery_unit"] == "pull_request"
    assert m1["builder_fte"] == approx(1.8) and m1["dev_cost_usd"] == approx(2600.0)
    assert (m1["prs_merged"], m1["prs_shipped"], m1["units_delivered"]) == (3, 3, 3)
    assert m1["cts_sw_usd"] == approx(2600 / 3)
    assert m1["dora_lead_time_hours"] == approx((48 + 24) / 2)  # mono#3 has no first commit

    m2 = team_week(built, "mono", W2)
    assert m2["builder_fte"] == approx(1 + 0.8 * 2 / 7)  # erin leaves Wednesday
    assert m2["dev_cost_usd"] == approx(1000 + 0.8 * 2 / 7 * 2000)
    assert m2["cr_velocity"] == approx(1 / (1 + 0.8 * 2 / 7))
    assert m2["units_delivered"] == 0 and m2["cts_sw_null_reason"] == "no_units_delivered"
    assert m2["cts_sw_usd"] is None and m2["dora_lead_time_hours"] is None
    # erin's Tuesday counts for mono (she was its builder that day), her Thursday for trunk
    assert (m2["builders"], m2["ai_active_builders"], m2["ai_usage_share"]) == (2, 1, approx(0.5))

    t2 = team_week(built, "trunk", W2)
    assert t2["delivery_unit"] == "commit"
    assert t2["builder_fte"] == approx(1 + 0.8 * 5 / 7)
    assert (t2["builders"], t2["headcount"]) == (2, 3)
    assert t2["dev_cost_usd"] == approx(1000 + 1000 + 0.8 * 5 / 7 * 2000)
    assert t2["commits_shipped"] == 2 and t2["units_delivered"] == 2
    assert t2["cts_sw_usd"] == approx((2000 + 0.8 * 5 / 7 * 2000) / 2)
    assert (t2["ai_active_builders"], t2["ai_usage_share"]) == (2, approx(1.0))
    assert t2["cr_velocity"] == 0.0 and t2["pages_per_oncall_builder"] is None


def test_team_week_tools(built):
    rows = query(
        built,
        "select team_id, week_start, tool, ai_active_builders, ai_usage_share"
        " from marts.fct_team_week_tools order by 1, 2, 3",
    )
    assert rows == [
        ("mono", W2, "copilot", 1, approx(0.5)),
        ("svc", W2, "claude_code", 1, approx(0.5)),
        ("svc", W2, "copilot", 1, approx(0.5)),
        ("svc", W3, "copilot", 1, approx(0.5)),
        ("trunk", W2, "copilot", 1, approx(0.5)),
        ("trunk", W2, "cursor", 1, approx(0.5)),
    ]


def test_org_cts_sw_is_a_ratio_of_sums(built):
    with duckdb.connect(str(built), read_only=True) as con:
        org = con.execute(
            "select dev_cost_usd, units_delivered, cts_sw_usd, cr_velocity, headcount, builders, teams,"
            " ai_usage_share from marts.fct_org_weeks where org = 'alpha' and week_start = ?",
            [W1],
        ).fetchone()
        mean_of_ratios = con.execute(
            "select avg(cts_sw_usd) from marts.fct_team_weeks where org = 'alpha' and week_start = ?", [W1]
        ).fetchone()[0]
        w2 = con.execute(
            "select cts_sw_usd, cr_velocity, headcount, builders, team_builders, ai_usage_share"
            " from marts.fct_org_weeks where org = 'alpha' and week_start = ?",
            [W2],
        ).fetchone()
        n_org_weeks = con.execute("select count(*) from marts.fct_org_weeks").fetchone()[0]
    cost_w1 = (2000 + 0.5 * 5 / 7 * 1000 + 3000) + 2600
    assert org[:3] == (approx(cost_w1), 3, approx(cost_w1 / 3))
    assert org[3] == approx((1 + 3) / (1 + 0.5 * 5 / 7 + 1.8))  # builder-FTE-weighted velocity
    assert org[4:7] == (5, 4, 2)
    assert mean_of_ratios == approx(2600 / 3)  # only mono has a ratio in W1
    assert org[2] != approx(mean_of_ratios)
    # W2: 5500 + 1457.14 over svc's 2 deployments; erin is one person in alpha and in beta
    assert w2[0] == approx((5500 + 1000 + 0.8 * 2 / 7 * 2000) / 2)
    assert w2[1] == approx((2 + 1) / (1.5 + 1 + 0.8 * 2 / 7))
    assert w2[2:] == (5, 4, 4, approx(0.5))
    assert n_org_weeks == 5  # alpha W1-W3, beta W2-W3


# --- partition windows ------------------------------------------------------------------------------------


def test_window_run_replaces_only_its_weeks_and_is_idempotent(built, tmp_path):
    db_path = tmp_path / "panel.duckdb"
    shutil.copy(built, db_path)
    before = {(t, w): checksum(db_path, t, f"week_start = '{w}'") for t in MARTS for w in (W1, W2, W3)}

    with duckdb.connect(str(db_path)) as con:
        # W2: d4 now succeeded and mono merges another PR; W1 changes too, but W1 is outside the window
        con.execute("update raw.deployments set status = 'succeeded' where deployment_id = 'd4'")
        con.execute(
            "insert into raw.pull_requests values ('mono#5', 'mono', 'dave', '2024-01-09', '2024-01-10',"
            " null, null, 1, 1, 'test.csv', 2), ('mono#6', 'mono', 'dave', '2024-01-02', '2024-01-03',"
            " null, null, 1, 1, 'test.csv', 3)"
        )
        con.execute("update raw.ai_tool_usage set active = false where developer_id = 'frank'")

    assert_ok(run_dbt(db_path, tmp_path, "build", "--vars", window_vars(W2, W3)))

    svc = team_week(db_path, "svc", W2)
    assert (svc["deployments"], svc["rollbacks"], svc["units_delivered"]) == (3, 1, 3)
    assert svc["cts_sw_usd"] == approx(5500 / 3) and svc["dora_change_failure_rate"] == approx(0.25)
    assert team_week(db_path, "mono", W2)["prs_merged"] == 2
    assert team_week(db_path, "mono", W1)["prs_merged"] == 3  # W1 not recomputed
    assert query(db_path, "select count(*) from marts.fct_team_week_tools where tool = 'cursor'") == [(0,)]
    org = query(db_path, "select cts_sw_usd from marts.fct_org_weeks where org = 'alpha' and week_start = ?", [W2])
    assert org == [(approx((5500 + 1000 + 0.8 * 2 / 7 * 2000) / 3),)]
    for table in MARTS:
        assert checksum(db_path, table, f"week_start = '{W1}'") == before[(table, W1)], table
        assert checksum(db_path, table, f"week_start = '{W3}'") == before[(table, W3)], table
        assert checksum(db_path, table, f"week_start = '{W2}'") != before[(table, W2)], table

    once = {t: checksum(db_path, t) for t in MARTS}
    assert_ok(run_dbt(db_path, tmp_path, "build", "--vars", window_vars(W2, W3)))
    assert {t: checksum(db_path, t) for t in MARTS} == once


def test_window_whose_rows_vanish_upstream_is_cleared(built, tmp_path):
    db_path = tmp_path / "panel.duckdb"
    shutil.copy(built, db_path)
    before_w1 = {t: checksum(db_path, t, f"week_start = '{W1}'") for t in MARTS}
    with duckdb.connect(str(db_path)) as con:
        # everybody leaves at the end of W2: W3 keeps its telemetry (the horizon) but has no member any more
        con.execute("update raw.memberships set end_date = date '2024-01-15'")

    assert_ok(run_dbt(db_path, tmp_path, "build", "--vars", window_vars(W2, date(2024, 1, 22))))

    for table in MARTS:
        assert query(db_path, f"select count(*) from marts.{table} where week_start = ?", [W3]) == [(0,)], table
        assert checksum(db_path, table, f"week_start = '{W1}'") == before_w1[table], table
    assert team_week(db_path, "svc", W2)["builder_fte"] == approx(1.5)


def test_run_without_window_rebuilds_every_week(built, tmp_path):
    db_path = tmp_path / "panel.duckdb"
    shutil.copy(built, db_path)
    before = {t: checksum(db_path, t) for t in MARTS}
    assert_ok(run_dbt(db_path, tmp_path, "run", "--select", "tag:partitioned"))  # incremental, no window
    assert {t: checksum(db_path, t) for t in MARTS} == before


@pytest.mark.parametrize(
    "vars_",
    [window_vars(date(2024, 1, 9), W3), window_vars(W3, W2), '{window_start: "2024-01-08"}'],
    ids=["not-a-monday", "empty-window", "one-bound"],
)
def test_malformed_window_is_rejected(built, tmp_path, vars_):
    db_path = tmp_path / "panel.duckdb"
    shutil.copy(built, db_path)
    before = checksum(db_path, "fct_team_weeks")
    result = run_dbt(db_path, tmp_path, "run", "--select", "fct_team_weeks", "--vars", vars_)
    assert not result.success
    assert checksum(db_path, "fct_team_weeks") == before


# --- project hygiene --------------------------------------------------------------------------------------


def test_dbt_parse(tmp_path):
    result = run_dbt(tmp_path / "unused.duckdb", tmp_path, "parse")
    assert_ok(result)
    manifest = result.result
    models = {n.name: n for n in manifest.nodes.values() if n.resource_type == "model"}
    assert {m for m in models if "partitioned" in models[m].tags} == set(MARTS)
    assert {models[m].config.schema for m in models} == {"staging", "intermediate", "marts"}
    for name, node in models.items():  # every model and column is documented
        assert node.description.strip(), name
        assert node.columns and all(c.description.strip() for c in node.columns.values()), name


def test_sources_declare_the_contract():
    spec = yaml.safe_load((PROJECT_DIR / "models/staging/raw/_raw__sources.yml").read_text())
    (raw,) = spec["sources"]
    declared = {t["name"]: [c["name"] for c in t["columns"]] for t in raw["tables"]}
    assert raw["name"] == raw["schema"] == "raw"
    for name, table in TABLES.items():
        assert declared[name] == list(table.column_names), name
    assert declared["deployment_pull_requests"] == ["deployment_id", "pr_id", "started_at"]


def test_default_delivery_unit_macro_matches_contract():
    macro = (PROJECT_DIR / "macros/delivery_unit.sql").read_text()
    assert dict(re.findall(r"when '(\w+)' then '(\w+)'", macro)) == DEFAULT_DELIVERY_UNIT
