"""The simulator: deterministic, contract-conformant files whose aggregates are exactly simulate_panel's, and a
data-generating process whose truth (staggered, selected adoption; a recoverable AI effect) is as documented."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from linearmodels.panel import PanelOLS

from ctsw.contract import EVENT_TABLES, SNAPSHOT_TABLES, TABLES
from ctsw.simulator import SimConfig, simulate, simulate_panel

SMALL = SimConfig(n_teams=24, n_weeks=26, seed=7)
ARROW_TO_CONTRACT = {pa.string(): "VARCHAR", pa.timestamp("s", tz="UTC"): "TIMESTAMP",
                     pa.timestamp("ms", tz="UTC"): "TIMESTAMP", pa.timestamp("us", tz="UTC"): "TIMESTAMP",
                     pa.date32(): "DATE", pa.float64(): "DOUBLE", pa.int64(): "BIGINT", pa.bool_(): "BOOLEAN"}


def _cfg(**kw) -> SimConfig:
    return SimConfig(**{**SMALL.__dict__, **kw})


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> dict[str, Path]:
    """The SMALL config written in every format."""
    out = {}
    for fmt in ("parquet", "csv", "jsonl"):
        out[fmt] = tmp_path_factory.mktemp(fmt)
        simulate(_cfg(fmt=fmt), out[fmt])
    return out


@pytest.fixture(scope="module")
def tables(landing) -> dict[str, pd.DataFrame]:
    """The parquet landing files read back, one frame per table, with the file each row came from."""
    out = {}
    for name in TABLES:
        parts = [pq.read_table(f).to_pandas().assign(_file=f.name)
                 for f in sorted((landing["parquet"] / name).glob("*.parquet"))]
        out[name] = pd.concat(parts, ignore_index=True)
    return out


@pytest.fixture(scope="module")
def default_panel():
    return simulate_panel(SimConfig())


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_files_other_seed_differs(tmp_path, landing):
    simulate(_cfg(fmt="parquet"), tmp_path / "again")
    simulate(_cfg(fmt="parquet", seed=8), tmp_path / "other")
    first, again, other = _files(landing["parquet"]), _files(tmp_path / "again"), _files(tmp_path / "other")
    assert first == again
    assert first.keys() == other.keys()
    assert any(first[k] != other[k] for k in first)
    pd.testing.assert_frame_equal(simulate_panel(SMALL)[0], simulate_panel(SMALL)[0])


def test_layout_one_file_per_week_and_snapshot(landing):
    weeks = [(dt.date.fromisoformat(SMALL.start_week) + dt.timedelta(weeks=t)).isoformat()
             for t in range(SMALL.n_weeks)]
    for fmt, root in landing.items():
        for name in SNAPSHOT_TABLES:
            assert sorted(p.name for p in (root / name).iterdir()) == [f"{name}.{fmt}"]
        for name in EVENT_TABLES:
            assert sorted(p.name for p in (root / name).iterdir()) == [f"{name}_{w}.{fmt}" for w in weeks]
        truth = json.loads((root / "truth.json").read_text())
        assert truth["seed"] == SMALL.seed and truth["fmt"] == fmt


def test_parquet_schema_is_the_contract(landing):
    for name, table in TABLES.items():
        for f in (landing["parquet"] / name).iterdir():
            schema = pq.read_schema(f)
            assert tuple(schema.names) == table.column_names, f
            assert [ARROW_TO_CONTRACT[t] for t in schema.types] == [c.type for c in table.columns], f


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_text_formats_parse_with_contract_types(landing, fmt):
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for name, table in TABLES.items():
        types = {c.name: ("TIMESTAMPTZ" if c.type == "TIMESTAMP" else c.type) for c in table.columns}
        n_rows = 0
        for f in sorted((landing[fmt] / name).iterdir()):
            if fmt == "csv":
                assert f.read_text().splitlines()[0].replace('"', "").split(",") == list(table.column_names)
                rel = f"read_csv('{f}', header=true, columns={types})"
            elif f.stat().st_size == 0:
                continue
            else:
                rel = f"read_json('{f}', format='newline_delimited', columns={types})"
            df = con.execute(f"SELECT * FROM {rel}").df()
            n_rows += len(df)
            for c in table.columns:
                if c.required:
                    assert df[c.name].notna().all(), (f, c.name)
        parquet_rows = sum(pq.read_metadata(f).num_rows for f in (landing["parquet"] / name).iterdir())
        assert n_rows == parquet_rows, name
    sample = next(iter(sorted((landing[fmt] / "pages").iterdir()))).read_text()
    assert "Z" in sample and "+00:00" not in sample  # ISO-8601 UTC instants


def test_values_respect_contract(tables):
    for name, table in TABLES.items():
        df = tables[name]
        assert not df.duplicated(list(table.key)).any(), name
        for c in table.columns:
            values = df[c.name].dropna()
            if c.required:
                assert len(values) == len(df), (name, c.name)
            if c.accepted:
                assert set(values) <= set(c.accepted), (name, c.name)
            if c.min is not None:
                assert (values > c.min).all() if c.min_exclusive else (values >= c.min).all(), (name, c.name)
            if c.max is not None:
                assert (values <= c.max).all(), (name, c.name)


def test_rows_fall_in_their_files_week(tables):
    for name in EVENT_TABLES:
        df = tables[name]
        ts = pd.to_datetime(df[TABLES[name].partition_column], utc=True).dt.tz_localize(None)
        week = pd.to_datetime(df["_file"].str.extract(r"_(\d{4}-\d{2}-\d{2})\.")[0])
        assert ((ts >= week) & (ts < week + pd.Timedelta(days=7))).all(), name


def test_referential_integrity_and_time_order(tables):
    teams, members, prs, deps = (tables[n] for n in ("teams", "memberships", "pull_requests", "deployments"))
    for name in EVENT_TABLES + ("memberships",):
        if "team_id" in TABLES[name].column_names:
            assert set(tables[name]["team_id"]) <= set(teams["team_id"]), name
    for name, col in [("pull_requests", "author_id"), ("commits", "author_id"), ("pages", "responder_id"),
                      ("oncall_shifts", "developer_id"), ("ai_tool_usage", "developer_id")]:
        assert set(tables[name][col].dropna()) <= set(members["developer_id"]), name
    listed = deps.dropna(subset=["pr_ids"]).assign(pr_id=lambda d: d["pr_ids"].str.split(";")).explode("pr_id")
    joined = listed.merge(prs, on="pr_id", how="left", suffixes=("", "_pr"))
    assert joined["merged_at"].notna().all()
    assert (joined["merged_at"] < joined["started_at"]).all()
    assert (joined["team_id"] == joined["team_id_pr"]).all()
    assert (prs["first_commit_at"].dropna() <= prs.loc[prs["first_commit_at"].notna(), "created_at"]).all()
    assert (prs["merged_at"].dropna() >= prs.loc[prs["merged_at"].notna(), "created_at"]).all()
    rollbacks = deps[deps["status"] == "rolled_back"]
    assert len(rollbacks) == deps["is_rollback"].sum() > 0  # each rolled-back attempt is reverted once
    assert {"production", "staging"} == set(deps["environment"])


def _week(ts: pd.Series) -> pd.Series:
    return pd.to_datetime(ts, utc=True).dt.tz_localize(None).dt.to_period("W-SUN").dt.start_time


def _open_end(end_date: pd.Series) -> pd.Series:
    return pd.to_datetime(end_date).astype("datetime64[ns]").fillna(pd.Timestamp("2200-01-01"))


def _recompute_panel(t: dict[str, pd.DataFrame], start: str, n_weeks: int) -> pd.DataFrame:
    """docs/panel.md, independently of the simulator, from the landing files."""
    weeks = pd.DataFrame({"week_start": pd.date_range(start, periods=n_weeks, freq="7D")})
    m = t["memberships"].merge(weeks, how="cross")
    m_start, m_end = pd.to_datetime(m["start_date"]), _open_end(m["end_date"])
    week_end = m["week_start"] + pd.Timedelta(days=7)
    m["days"] = ((np.minimum(m_end, week_end) - np.maximum(m_start, m["week_start"])).dt.days).clip(lower=0)
    m = m[m["days"] > 0].assign(share=lambda d: d["fte"] * d["days"] / 7)
    b = m[m["role"] == "builder"]
    key = ["team_id", "week_start"]
    panel = pd.concat([
        b.groupby(key)["share"].sum().rename("builder_fte"),
        b.groupby(key)["developer_id"].nunique().rename("builders"),
        m.groupby(key)["developer_id"].nunique().rename("headcount"),
        (m["share"] * m["annual_loaded_cost_usd"] / 52.18).groupby([m[k] for k in key]).sum().rename("dev_cost_usd"),
    ], axis=1)

    def count(df, ts, name):
        return df.assign(week_start=_week(df[ts])).groupby(key).size().rename(name)

    prs, deps = t["pull_requests"], t["deployments"]
    attempts = deps[(deps["environment"] == "production") & ~deps["is_rollback"]]
    ok = attempts[attempts["status"] == "succeeded"]
    bridge = ok.dropna(subset=["pr_ids"]).assign(pr_id=lambda d: d["pr_ids"].str.split(";")).explode("pr_id")
    first_ship = bridge.groupby("pr_id")["finished_at"].min()
    shipped = prs.assign(st=prs["shipped_at"].fillna(prs["pr_id"].map(first_ship))).dropna(subset=["st"])
    usage = t["ai_tool_usage"][t["ai_tool_usage"]["active"]].merge(b[["developer_id", "team_id", "start_date",
                                                                      "end_date", "week_start"]])
    u_date = pd.to_datetime(usage["usage_date"])
    usage = usage[(u_date >= usage["week_start"]) & (u_date < usage["week_start"] + pd.Timedelta(days=7))
                  & (u_date >= pd.to_datetime(usage["start_date"]))
                  & (u_date < _open_end(usage["end_date"]))]
    oncall = t["oncall_shifts"].assign(week_start=_week(t["oncall_shifts"]["shift_start"]))  # Monday-Monday shifts
    oncall = oncall.merge(b[["developer_id", "team_id", "week_start"]].drop_duplicates())
    commits = t["commits"].dropna(subset=["reached_customer_at"])
    parts = [
        count(prs.dropna(subset=["merged_at"]), "merged_at", "prs_merged"),
        count(attempts, "started_at", "deployment_attempts"),
        count(ok, "started_at", "deployments"),
        count(attempts[attempts["status"] == "rolled_back"], "started_at", "rollbacks"),
        attempts.assign(week_start=_week(attempts["started_at"])).groupby(key)["manual_interventions"].sum(),
        count(t["pages"], "triggered_at", "pages"),
        oncall.groupby(key)["developer_id"].nunique().rename("oncall_builders"),
        usage.groupby(key)["developer_id"].nunique().rename("ai_active_builders"),
        count(shipped, "st", "prs_shipped"),
        count(commits, "reached_customer_at", "commits_shipped"),
    ]
    return panel.join(parts, how="left").fillna(0).reset_index()


def test_panel_equals_aggregates_of_the_files(tables):
    panel, _ = simulate_panel(SMALL)
    files = _recompute_panel(tables, SMALL.start_week, SMALL.n_weeks)
    merged = panel.merge(files, on=["team_id", "week_start"], how="outer", suffixes=("", "_files"),
                         indicator=True)
    assert (merged["_merge"] == "both").all()
    for col in ("builder_fte", "builders", "headcount", "dev_cost_usd", "prs_merged", "deployment_attempts",
                "deployments", "rollbacks", "manual_interventions", "pages", "oncall_builders",
                "ai_active_builders", "prs_shipped", "commits_shipped"):
        np.testing.assert_allclose(merged[col], merged[f"{col}_files"], rtol=1e-9, err_msg=col)
    assert panel["ai_active_builders"].sum() > 0 and panel["rollbacks"].sum() > 0


def test_panel_columns_and_definitions(default_panel):
    panel, _ = default_panel
    assert set(panel["architecture"]) == {"service", "monolith", "trunk"}
    assert (panel["week_start"].dt.day_of_week == 0).all()
    assert not panel.duplicated(["team_id", "week_start"]).any()
    np.testing.assert_allclose(panel["cr_velocity"], panel["prs_merged"] / panel["builder_fte"])
    no_attempt = panel["deployment_attempts"] == 0
    assert panel.loc[no_attempt, "rollback_rate"].isna().all() and panel.loc[~no_attempt, "rollback_rate"].notna().all()
    assert panel.loc[panel["units_delivered"] == 0, "cts_sw_usd"].isna().all()
    assert np.isfinite(panel["cts_sw_usd"].dropna()).all()
    assert panel["builders"].between(1, 14).mean() > 0.99
    assert panel["builder_fte"].mod(1).gt(0).any()  # part-time and mid-week joiners/leavers
    means = panel.groupby("architecture")["deploy_velocity"].mean()
    assert means["service"] > means["trunk"] > means["monolith"]
    assert 2 < panel["cr_velocity"].mean() < 4


def test_truth_parameters(default_panel):
    _, truth = default_panel
    assert {"seed", "n_teams", "n_weeks", "start_week", "switches", "outcomes", "rollout", "teams"} <= set(truth)
    for name, (lo, hi) in {"cr_velocity": (0.1, 0.3), "deploy_velocity": (0.0, 0.1)}.items():
        o = truth["outcomes"][name]
        assert 0.3 <= o["beta"] <= 0.6 and o["gamma"] > 0
        assert o["long_run_effect"] == pytest.approx(o["gamma"] / (1 - o["beta"]))
        assert lo < o["long_run_effect_share_of_mean"] < hi
        assert {"ai_usage_share", "rollback_rate", "interventions_per_deploy"} == set(o["coefficients"])
        assert o["noise_sd"] > 0 and len(o["week_effects"]) == truth["n_weeks"]
    none = simulate_panel(SimConfig(no_ai_effect=True))[1]["outcomes"]
    assert none["cr_velocity"]["gamma"] == none["deploy_velocity"]["gamma"] == 0
    assert none["cr_velocity"]["long_run_effect"] == 0
    het = simulate_panel(SimConfig(heterogeneous_by_cohort=True))[1]
    assert len(set(het["outcomes"]["cr_velocity"]["gamma_by_org"].values())) == 2


def test_adoption_is_staggered_by_org_and_faster_in_fast_teams(default_panel):
    panel, truth = default_panel
    access = truth["rollout"]["access_week_by_org"]
    assert len({w for w in access.values() if w}) >= 5 and None in access.values()
    first_use = panel[panel["ai_active_builders"] > 0].groupby("org")["week_start"].min()
    for org, week in access.items():
        if week is None:
            assert org not in first_use.index
        else:
            assert first_use[org] >= pd.Timestamp(week)
    # Weeks from access to half the team active, against the team's fixed effect.
    half = panel[panel["ai_usage_share"] >= 0.5].groupby("team_id")["week_start"].min()
    teams = pd.DataFrame(truth["teams"]).T.loc[half.index]
    delay = (half - pd.to_datetime(teams["org"].map(access))).dt.days
    assert np.corrcoef(teams["a_cr_velocity"].astype(float), delay)[0, 1] < -0.2


def _fit(panel: pd.DataFrame, y: str) -> pd.Series:
    d = panel.sort_values(["team_id", "week_start"]).assign(
        lag=lambda d: d.groupby("team_id")[y].shift(),
        rollback_rate=lambda d: d["rollback_rate"].fillna(0),
        interventions_per_deploy=lambda d: d["interventions_per_deploy"].fillna(0),
    ).dropna(subset=[y, "lag", "ai_usage_share"]).set_index(["team_id", "week_start"])
    x = d[["lag", "ai_usage_share", "rollback_rate", "interventions_per_deploy"]]
    return PanelOLS(d[y], x, entity_effects=True, time_effects=True).fit().params


def test_two_way_fixed_effects_recover_the_truth(default_panel):
    panel, truth = default_panel
    cr = truth["outcomes"]["cr_velocity"]
    est = _fit(panel, "cr_velocity")
    assert est["lag"] == pytest.approx(cr["beta"], abs=0.05)  # Nickell bias is ~ -(1+beta)/T
    assert est["ai_usage_share"] == pytest.approx(cr["gamma"], abs=0.08)
    assert est["rollback_rate"] == pytest.approx(cr["coefficients"]["rollback_rate"], abs=0.3)
    # Without any effect, fast teams adopting first still make a cross-section of teams show one.
    null = simulate_panel(SimConfig(no_ai_effect=True))[0]
    late = null[null["week_start"] >= null["week_start"].quantile(0.5)].groupby("team_id")
    teams = late[["ai_usage_share", "cr_velocity"]].mean().dropna()
    assert np.polyfit(teams["ai_usage_share"], teams["cr_velocity"], 1)[0] > 0.2
    assert abs(_fit(null, "cr_velocity")["ai_usage_share"]) < 0.06
    dep = _fit(panel, "deploy_velocity")
    assert dep["ai_usage_share"] == pytest.approx(truth["outcomes"]["deploy_velocity"]["gamma"], abs=0.04)


def test_ai_raises_rollbacks_makes_rollback_rate_endogenous(default_panel):
    def within_corr(panel):
        d = panel.dropna(subset=["rollback_rate"])
        demean = d.groupby("team_id")[["rollback_rate", "ai_usage_share"]].transform(lambda s: s - s.mean())
        return np.corrcoef(demean["rollback_rate"], demean["ai_usage_share"])[0, 1]

    assert abs(within_corr(default_panel[0])) < 0.03
    assert within_corr(simulate_panel(SimConfig(ai_raises_rollbacks=True))[0]) > 0.05
