"""The terminal summary of a run: CTS-SW trend, driver ranking, AI effect (beside the simulator's truth)."""

from __future__ import annotations

import json

import duckdb
import pandas as pd

from ctsw.config import Settings
from ctsw.db import has_table
from ctsw.sources.coverage import column_metric, coverage_lines, unavailable_metrics

MIN_MODEL_WEEKS = 8  # orchestration/defs/models/assets.py MIN_WEEKS


def _not_fitted(weeks: int, settings: Settings, asset: str) -> str:
    if weeks < MIN_MODEL_WEEKS:
        return f"   not fitted: the models need at least {MIN_MODEL_WEEKS} weeks of panel, this one has {weeks}"
    reason = skip_reason(settings, asset)
    if reason:
        return f"   not fitted: {reason}"
    return f"   not fitted: models/{asset} failed on this panel (its run's log and the Dagster UI say why)"


def skip_reason(settings: Settings, asset: str) -> str | None:
    """Why the latest materialisation of models/<asset> skipped (its `skipped` metadata); None if it did not."""
    from ctsw.runner import has_run_history

    if not has_run_history(settings):
        return None
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(["models", asset]))
    meta = event.asset_materialization.metadata if event and event.asset_materialization else {}
    return meta["skipped"].value if "skipped" in meta else None


ESTIMATORS = {"twfe": "naive TWFE", "hpj": "corrected (HPJ)", "anderson_hsiao": "Anderson-Hsiao IV"}


def _ci(est: float, lo: float, hi: float, fmt: str = "{:.3f}") -> str:
    return f"{fmt.format(est)} [{fmt.format(lo)}, {fmt.format(hi)}]"


def _table(df: pd.DataFrame) -> str:
    return df.to_string(index=False)


def _latest(con: duckdb.DuckDBPyConnection, table: str) -> pd.DataFrame:
    """The latest as-of week's rows; empty when the models never fitted (too few weeks: table missing)."""
    if not has_table(con, "models", table):
        return pd.DataFrame()
    return con.execute(f"SELECT * FROM models.{table} WHERE as_of_week = (SELECT max(as_of_week) FROM "
                       f"models.{table})").df()


def trend(con: duckdb.DuckDBPyConnection, unavailable: tuple[str, ...] | list[str] = ()) -> pd.DataFrame:
    """Quarterly CTS-SW per delivery unit as a ratio of sums, with velocity and AI adoption.

    n/a: the metric is not measured; "no units": measured, but nothing was delivered (CTS-SW is undefined).
    """
    df = con.execute("""
        SELECT strftime(week_start, '%Y') || '-Q' || quarter(week_start) AS quarter,
               delivery_unit,
               round(sum(dev_cost_usd) / nullif(sum(units_delivered), 0), 0) AS cts_sw_usd,
               round(sum(prs_merged) / nullif(sum(builder_fte), 0), 2) AS cr_velocity,
               round(sum(ai_active_builders) / nullif(sum(builders), 0), 2) AS ai_usage_share,
               count(DISTINCT team_id) AS teams
        FROM marts.fct_team_weeks GROUP BY ALL ORDER BY delivery_unit, quarter
    """).df()
    for col in ("cr_velocity", "ai_usage_share"):
        if column_metric(col) in unavailable:
            df[col] = "n/a"
    units = {"deployment": "deployments", "pull_request": "prs_shipped", "commit": "commits_shipped"}
    gone = df["delivery_unit"].map(lambda u: column_metric(units.get(u, "")) in unavailable)
    cts = df["cts_sw_usd"].astype(object).where(df["cts_sw_usd"].notna(), "no units")
    df["cts_sw_usd"] = cts.where(~gone, "n/a")
    return df


def effects(con: duckdb.DuckDBPyConnection, truth: dict | None) -> pd.DataFrame:
    est = _latest(con, "ai_effect_estimates")
    rows = []
    if est.empty:
        return pd.DataFrame()
    for (outcome, estimator), g in est.groupby(["outcome", "estimator"], sort=False):
        ai = g[g.term == "ai_usage_share"].iloc[0]
        lag = g[g.term == f"{outcome}_lag1"].iloc[0]
        rows.append({"outcome": outcome, "estimator": ESTIMATORS.get(estimator, estimator),
                     "gamma [95% CI]": _ci(ai.estimate, ai.ci_low, ai.ci_high),
                     "beta [95% CI]": _ci(lag.estimate, lag.ci_low, lag.ci_high),
                     "long-run [95% CI]": _ci(ai.lr_estimate, ai.lr_ci_low, ai.lr_ci_high),
                     "long-run % of pre-AI mean": _ci(ai.lr_pct_of_pre_mean, ai.lr_pct_ci_low, ai.lr_pct_ci_high,
                                                      "{:.1f}")})
        if truth and estimator == "anderson_hsiao" and outcome in truth.get("outcomes", {}):
            t = truth["outcomes"][outcome]
            rows.append({"outcome": outcome, "estimator": "TRUTH (simulator)", "gamma [95% CI]": f"{t['gamma']:.3f}",
                         "beta [95% CI]": f"{t['beta']:.3f}", "long-run [95% CI]": f"{t['long_run_effect']:.3f}",
                         "long-run % of pre-AI mean": f"{100 * t['long_run_effect_share_of_mean']:.1f}"})
    return pd.DataFrame(rows)


def print_summary(settings: Settings) -> int:
    if not settings.duckdb_path.exists():
        print(f"error: {settings.duckdb_path} does not exist; run `ctsw run` first")
        return 2
    truth_file = settings.landing_dir / "truth.json"
    truth = json.loads(truth_file.read_text()) if truth_file.exists() else None
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        span = con.execute("SELECT min(week_start), max(week_start), count(DISTINCT team_id), count(DISTINCT org), "
                           "count(*), count(DISTINCT week_start) FROM marts.fct_team_weeks").fetchone()
        q = con.execute("SELECT source_table, count(*) FROM raw.quarantine GROUP BY 1 ORDER BY 1").fetchall()
        print(f"\n== ctsw results: weeks {span[0]}..{span[1]}, {span[2]} teams in {span[3]} orgs, "
              f"{span[4]} team-weeks; quarantined rows: {dict(q) or 'none'}")
        unavailable = unavailable_metrics(con)
        for line in coverage_lines(con, settings.landing_dir):
            print(line)
        print("\n-- CTS-SW by quarter ($ per delivered unit; ratio of sums over teams with that delivery unit)")
        print(_table(trend(con, unavailable)))
        drivers = _latest(con, "driver_sensitivity")
        print("\n-- Drivers of CTS-SW (mixed model, within-team): change for a one within-team SD change")
        if drivers.empty:
            print(_not_fitted(span[5], settings, "cts_drivers"))
        else:
            drivers = drivers.sort_values("rank")
            print(_table(pd.DataFrame({
                "rank": drivers["rank"], "driver": drivers["driver"],
                "% change [95% CI]": [_ci(r.pct_change, r.pct_ci_low, r.pct_ci_high, "{:+.1f}")
                                      for r in drivers.itertuples()],
                "$ at median team": drivers["usd_change"].map("{:+,.0f}".format),
                "partial R2": drivers["partial_r2"].map("{:.3f}".format)})))
            from models_py.drivers import DEFAULT_DRIVERS

            unranked = [d for d in DEFAULT_DRIVERS if d not in set(drivers["driver"])]
            if unranked:
                print(f"   not ranked (no data or no variation in this panel): {', '.join(unranked)}")
        print("\n-- AI adoption effect on velocity (per builder-week, full vs no adoption; dynamic two-way FE, "
              "team-clustered)")
        table = effects(con, truth)
        if "AI usage" in unavailable:
            print("   not estimated: AI usage is unavailable (no ai_tool_usage data)")
        else:
            print(_table(table) if not table.empty else _not_fitted(span[5], settings, "ai_effect"))
        cap = _latest(con, "capacity_freed")
        if cap.empty or "AI usage" in unavailable:
            print("\n-- Capacity freed by AI adoption: not estimated")
            return 0
        cap = cap.set_index("scope").loc["total"]
        y, d = "capacity_freed_engineering_years", "capacity_freed_usd"
        print(f"\n-- Capacity freed by AI adoption over the window (not money saved): "
              f"{_ci(cap[y], cap[y + '_ci_low'], cap[y + '_ci_high'], '{:.1f}')} engineering-years, "
              f"${_ci(cap[d] / 1e6, cap[d + '_ci_low'] / 1e6, cap[d + '_ci_high'] / 1e6, '{:.2f}')} million")
    return 0
