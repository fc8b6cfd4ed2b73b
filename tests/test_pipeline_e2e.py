"""A small simulated org through the whole pipeline via the CLI: panel values against the raw files and the
simulator, org CTS-SW as a ratio of sums, and a re-run week leaving the panel identical."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from ctsw.contract import DEFAULT_DELIVERY_UNIT
from ctsw.simulator import SimConfig, simulate_panel

TEAMS, WEEKS, SEED = 20, 30, 7
START = date(2024, 1, 1)

pytestmark = pytest.mark.slow


def ctsw(env: dict, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "ctsw.cli", *args], env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    data = tmp_path_factory.mktemp("e2e")
    # Nothing inherited may point the run elsewhere (importing orchestration sets CTSW_DUCKDB_PATH).
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTSW_") and k != "DAGSTER_HOME"}
    env |= {"CTSW_DATA_DIR": str(data), "CTSW_PSEUDONYM_KEY": "e2e-key"}
    ctsw(env, "simulate", "--teams", str(TEAMS), "--weeks", str(WEEKS), "--seed", str(SEED), "--format", "csv")
    run = ctsw(env, "run")
    return {"env": env, "data": data, "landing": data / "landing", "db": data / "ctsw.duckdb", "run": run}


def query(db: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).df()


def read_landing(landing: Path, table: str) -> pd.DataFrame:
    return pd.concat([pd.read_csv(p) for p in sorted((landing / table).glob("*.csv"))], ignore_index=True)


def utc(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s, utc=True, format="ISO8601").dt.tz_localize(None)


def test_run_printed_every_step(org):
    out = org["run"].stdout
    assert f"run of weeks {START}..{START + timedelta(weeks=WEEKS - 1)} succeeded" in out
    assert "FAILED" not in out and "check failed" not in out


def test_one_row_per_team_week_with_members(org):
    members = read_landing(org["landing"], "memberships")
    start = pd.to_datetime(members["start_date"])
    end = pd.to_datetime(members["end_date"]).fillna(pd.Timestamp("2100-01-01"))
    expected = set()
    for w in pd.date_range(pd.Timestamp(START), periods=WEEKS, freq="7D"):
        overlap = (start < w + pd.Timedelta(days=7)) & (end > w)
        expected |= {(t, w) for t in members.loc[overlap, "team_id"]}
    panel = query(org["db"], "SELECT team_id, week_start FROM marts.fct_team_weeks")
    got = set(zip(panel["team_id"], pd.to_datetime(panel["week_start"]), strict=True))
    assert len(panel) == len(got) == len(expected)
    assert got == expected


def test_hand_computed_team_weeks_from_raw_files(org):
    land = org["landing"]
    members, prs = read_landing(land, "memberships"), read_landing(land, "pull_requests")
    deps, usage = read_landing(land, "deployments"), read_landing(land, "ai_tool_usage")
    teams = read_landing(land, "teams")
    panel = query(org["db"], "SELECT * FROM marts.fct_team_weeks")
    panel["week_start"] = pd.to_datetime(panel["week_start"])
    rng = np.random.default_rng(0)
    checked = 0
    for row in panel.sample(6, random_state=rng.integers(1 << 30)).itertuples():
        w0, w1 = row.week_start, row.week_start + pd.Timedelta(days=7)
        m = members[members.team_id == row.team_id]
        s, e = pd.to_datetime(m.start_date), pd.to_datetime(m.end_date).fillna(pd.Timestamp("2100-01-01"))
        days = (np.minimum(e, w1) - np.maximum(s, w0)).dt.days.clip(lower=0)
        builder = m.role == "builder"
        fte = float((m.fte * days / 7)[builder].sum())
        cost = float((m.fte * days / 7 * m.annual_loaded_cost_usd / 52.18).sum())
        merged = utc(prs.merged_at)
        n_prs = int(((prs.team_id == row.team_id) & (merged >= w0) & (merged < w1)).sum())
        started = utc(deps.started_at)
        attempts = deps[(deps.team_id == row.team_id) & (started >= w0) & (started < w1)
                        & (deps.environment == "production") & ~deps.is_rollback.astype(bool)]
        ok = int((attempts.status == "succeeded").sum())
        builders = m[builder & (days > 0)]
        active = usage[usage.active.astype(bool) & usage.developer_id.isin(builders.developer_id)]
        day = pd.to_datetime(active.usage_date)
        active = active[(day >= w0) & (day < w1)]
        assert row.builder_fte == pytest.approx(fte, rel=1e-9)
        assert row.dev_cost_usd == pytest.approx(cost, rel=1e-9)
        assert row.prs_merged == n_prs
        assert row.deployments == ok and row.deployment_attempts == len(attempts)
        if fte > 0:
            assert row.cr_velocity == pytest.approx(n_prs / fte)
        if len(attempts):
            assert row.rollback_rate == pytest.approx((attempts.status == "rolled_back").mean())
        if (days[builder & (days > 0)] == 7).all():  # nobody joined or left mid-week: every usage day counts
            n_builders = builders.developer_id.nunique()
            assert row.ai_usage_share == pytest.approx(active.developer_id.nunique() / n_builders)
        team = teams.set_index("team_id").loc[row.team_id]
        unit = team.delivery_unit if isinstance(team.delivery_unit, str) else DEFAULT_DELIVERY_UNIT[team.architecture]
        if unit == "deployment" and ok:
            assert row.cts_sw_usd == pytest.approx(cost / ok, rel=1e-9)
        checked += 1
    assert checked == 6


def test_panel_equals_simulator_panel(org):
    sim, _ = simulate_panel(SimConfig(n_teams=TEAMS, n_weeks=WEEKS, seed=SEED, fmt="csv"))
    panel = query(org["db"], "SELECT * FROM marts.fct_team_weeks")
    panel["week_start"] = pd.to_datetime(panel["week_start"])
    sim["week_start"] = pd.to_datetime(sim["week_start"])
    merged = panel.merge(sim, on=["team_id", "week_start"], suffixes=("", "_sim"), validate="1:1")
    assert len(merged) == len(panel) == len(sim)
    for col in ("prs_merged", "deployments", "deployment_attempts", "rollbacks", "builders", "headcount",
                "ai_active_builders", "pages", "oncall_builders", "units_delivered"):
        assert (merged[col] == merged[f"{col}_sim"]).all(), col
    for col in ("builder_fte", "dev_cost_usd", "cr_velocity", "ai_usage_share"):
        np.testing.assert_allclose(merged[col], merged[f"{col}_sim"], rtol=1e-8, err_msg=col)


def test_org_cts_sw_is_a_ratio_of_sums(org):
    teams = query(org["db"], "SELECT org, week_start, dev_cost_usd, units_delivered, cts_sw_usd "
                             "FROM marts.fct_team_weeks")
    orgs = query(org["db"], "SELECT org, week_start, dev_cost_usd, units_delivered, cts_sw_usd "
                            "FROM marts.fct_org_weeks").set_index(["org", "week_start"]).sort_index()
    sums = teams.groupby(["org", "week_start"])[["dev_cost_usd", "units_delivered"]].sum().sort_index()
    np.testing.assert_allclose(orgs["dev_cost_usd"], sums["dev_cost_usd"], rtol=1e-9)
    np.testing.assert_allclose(orgs["cts_sw_usd"], sums["dev_cost_usd"] / sums["units_delivered"], rtol=1e-9)
    mean_of_ratios = teams.groupby(["org", "week_start"])["cts_sw_usd"].mean().sort_index()
    assert not np.allclose(orgs["cts_sw_usd"], mean_of_ratios, rtol=1e-3)


def test_rerunning_a_week_leaves_the_panel_identical(org):
    sql = ("SELECT md5(string_agg(CAST(t AS VARCHAR), '|' ORDER BY team_id, week_start)) AS h "
           "FROM marts.fct_team_weeks t")
    before = query(org["db"], sql)["h"][0]
    week = START + timedelta(weeks=WEEKS // 2)
    ctsw(org["env"], "run", "--from", str(week), "--to", str(week))
    assert query(org["db"], sql)["h"][0] == before


def test_models_keep_one_fit_per_as_of_week_on_history_up_to_it(org):
    est = query(org["db"], "SELECT * FROM models.ai_effect_estimates")
    est["as_of_week"] = pd.to_datetime(est["as_of_week"])
    last = pd.Timestamp(START + timedelta(weeks=WEEKS - 1))
    assert last in set(est["as_of_week"])
    for week, g in est.groupby("as_of_week"):
        assert set(g["outcome"]) == {"cr_velocity", "deploy_velocity"}
        assert set(g["estimator"]) == {"twfe", "hpj", "anderson_hsiao"}
        assert g["run_id"].nunique() == 1
        weeks_of_history = (week - pd.Timestamp(START)).days // 7 + 1
        assert g.loc[g.estimator == "twfe", "n_periods"].max() == weeks_of_history - 1  # one week lost to the lag
