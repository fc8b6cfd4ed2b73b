"""Model assets: thin wrappers that read the checked panel, call models_py and store every as-of week."""

from datetime import timedelta

import dagster as dg
import numpy as np
import pandas as pd

from ctsw.db import has_table
from models_py.capacity import capacity_freed, long_run_bootstrap
from models_py.drivers import fit_drivers
from models_py.reports import ai_effect_report, ci_text, event_study_report, tool_effects_report
from orchestration.defs.models.store import ZERO_WHEN_NO_DEPLOYMENT, read_panel, read_tools, replace_as_of
from orchestration.partitions import DUCKDB_POOL, SINGLE_RUN, WEEKLY
from orchestration.resources import CtswResource, utc_window

PANEL_KEY = dg.AssetKey(["marts", "fct_team_weeks"])
TOOLS_KEY = dg.AssetKey(["marts", "fct_team_week_tools"])
AI_EFFECT_KEY = dg.AssetKey(["models", "ai_effect"])
MIN_WEEKS = 8  # fewer weeks cannot identify a lag, two-way effects and a half-panel split


class ModelWindow(dg.Config):
    trailing_weeks: int = 0  # fit on this many weeks up to the as-of week; 0 = all history


class DriversConfig(ModelWindow):
    n_boot: int = 100  # team-cluster bootstrap replications for the ranking's intervals and rank probabilities


class CapacityConfig(ModelWindow):
    n_boot: int = 0  # > 0: team-cluster bootstrap of the HPJ long-run effect (percentile intervals)


def _as_of(context: dg.AssetExecutionContext, config: ModelWindow):
    """As-of week = the last week of the run's window; the fit uses history up to it."""
    w = utc_window(context.partition_time_window)
    start = w.end - timedelta(weeks=config.trailing_weeks) if config.trailing_weeks else None
    return w.end - timedelta(weeks=1), start, w.end


def _enough(panel: pd.DataFrame) -> bool:
    return panel["week_start"].nunique() >= MIN_WEEKS


def _skip(as_of, reason: str) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"as_of_week": str(as_of.date()), "skipped": reason})


def _too_short(as_of, panel: pd.DataFrame) -> dg.MaterializeResult:
    return _skip(as_of, f"only {panel['week_start'].nunique()} weeks of panel up to the as-of week; "
                        f"at least {MIN_WEEKS} needed")


def model_panel(ctsw: CtswResource, start, end) -> pd.DataFrame:
    with ctsw.connect() as con:
        panel = read_panel(con, end, start)
    panel[list(ZERO_WHEN_NO_DEPLOYMENT)] = panel[list(ZERO_WHEN_NO_DEPLOYMENT)].fillna(0.0)
    return panel


def _store(ctsw: CtswResource, tables: dict[str, pd.DataFrame], as_of, run_id: str) -> None:
    with ctsw.connect() as con:
        for name, frame in tables.items():
            replace_as_of(con, name, frame, as_of, run_id)


COMMON = dict(group_name="models", kinds={"python", "duckdb"}, partitions_def=WEEKLY, backfill_policy=SINGLE_RUN,
              pool=DUCKDB_POOL)


@dg.asset(key=AI_EFFECT_KEY, deps=[PANEL_KEY], description=(
    "Effect of AI-tool adoption on PR and deployment velocity: dynamic two-way fixed effects "
    "y_it = a_i + l_t + b*y_i,t-1 + g*X_it + e_it (X: AI usage share, rollback rate, interventions per deploy), "
    "team-clustered. Naive TWFE, the Nickell-bias-corrected half-panel jackknife (primary) and Anderson-Hsiao "
    "IV side by side, the exogeneity test of each covariate (gamma with and without it) and a placebo test with "
    "future AI share; rows in models.ai_effect_estimates, models.exogeneity, models.placebo_tests and "
    "models.placebo_coefficients per as-of week."), **COMMON)
def ai_effect(context: dg.AssetExecutionContext, ctsw: CtswResource, config: ModelWindow) -> dg.MaterializeResult:
    as_of, start, end = _as_of(context, config)
    panel = model_panel(ctsw, start, end)
    if not _enough(panel):
        return _too_short(as_of, panel)
    try:
        report = ai_effect_report(panel)
    except ValueError as exc:  # e.g. a source without deployments leaves a covariate constant
        return _skip(as_of, f"AI effect not identified: {exc}")
    _store(ctsw, report.tables, as_of, context.run_id)
    table = report.tables["ai_effect_estimates"]
    primary = table[(table.estimator == "hpj") & (table.term == "ai_usage_share")].set_index("outcome")
    return dg.MaterializeResult(metadata={
        "as_of_week": str(as_of.date()),
        "teams": int(panel.team_id.nunique()),
        "weeks": int(panel.week_start.nunique()),
        "estimates": dg.MetadataValue.md(report.markdown["estimates"]),
        "exogeneity": dg.MetadataValue.md(report.markdown["exogeneity"]),
        "placebo": dg.MetadataValue.md(report.markdown["placebo"]),
        "flagged_covariates": report.values["flagged_covariates"],
        "placebo_rejected": report.values["placebo_rejected"],
        **{f"long_run_effect_{o} (hpj)": float(primary.loc[o, "lr_estimate"]) for o in primary.index},
    })


@dg.asset(key=["models", "event_study"], deps=[PANEL_KEY], description=(
    "Staggered-adoption event study robust to heterogeneous effects (Borusyak-Jaravel-Spiess imputation): "
    "adoption event = first week a team's AI share reaches 0.5; team and week effects fitted on weeks before "
    "any AI use, event-time effects with team-clustered intervals, a pre-trend test on the leads and the naive "
    "static TWFE for contrast; rows in models.event_study per as-of week, plot in the metadata."), **COMMON)
def event_study(context: dg.AssetExecutionContext, ctsw: CtswResource, config: ModelWindow) -> dg.MaterializeResult:
    as_of, start, end = _as_of(context, config)
    panel = model_panel(ctsw, start, end)
    if not _enough(panel):
        return _too_short(as_of, panel)
    try:
        report = event_study_report(panel)
    except ValueError as exc:  # e.g. no team adopted yet, or no untreated weeks left to impute from
        return _skip(as_of, f"event study not identified: {exc}")
    _store(ctsw, report.tables, as_of, context.run_id)
    return dg.MaterializeResult(metadata={
        "as_of_week": str(as_of.date()),
        "event_study": dg.MetadataValue.md(report.markdown["event_study"]),
        **{k: v for k, v in report.values.items() if v is not None},
    })


@dg.asset(key=["models", "ai_tool_effects"], deps=[PANEL_KEY, TOOLS_KEY], description=(
    "Several AI tools at once: per-tool adoption shares estimated jointly with a common 'any AI' baseline "
    "(HPJ dynamic model) against each tool estimated on its own, and how much summing the separate per-tool "
    "effects overstates the total; rows in models.tool_effects and models.tool_effect_totals per as-of week."),
    **COMMON)
def ai_tool_effects(context: dg.AssetExecutionContext, ctsw: CtswResource, config: ModelWindow) -> dg.MaterializeResult:
    as_of, start, end = _as_of(context, config)
    panel = model_panel(ctsw, start, end)
    if not _enough(panel):
        return _too_short(as_of, panel)
    with ctsw.connect() as con:
        tools = read_tools(con, end, start)
    if tools.empty:
        return _skip(as_of, "no per-tool AI usage yet")
    try:
        report = tool_effects_report(panel, tools)
    except ValueError as exc:
        return _skip(as_of, f"tool effects not identified: {exc}")
    _store(ctsw, report.tables, as_of, context.run_id)
    return dg.MaterializeResult(metadata={
        "as_of_week": str(as_of.date()),
        "tool_effects": dg.MetadataValue.md(report.markdown["tool_effects"]),
        **report.values,
    })


@dg.asset(key=["models", "cts_drivers"], deps=[PANEL_KEY], description=(
    "Drivers of CTS-SW: linear mixed model of log CTS-SW with a random team intercept and Mundlak within/between "
    "terms, and a sensitivity ranking (CTS-SW change for a one within-team SD change in each driver) with "
    "team-cluster bootstrap intervals and rank probabilities. Rows in models.driver_sensitivity, "
    "models.driver_coefficients and models.driver_rank_probabilities per as-of week."), **COMMON)
def cts_drivers(context: dg.AssetExecutionContext, ctsw: CtswResource, config: DriversConfig) -> dg.MaterializeResult:
    as_of, start, end = _as_of(context, config)
    panel = model_panel(ctsw, start, end)
    if not _enough(panel):
        return _too_short(as_of, panel)
    try:
        fit = fit_drivers(panel, n_boot=config.n_boot)
    except (ValueError, np.linalg.LinAlgError) as exc:  # e.g. no on-call data; or too few teams for the MixedLM
        return _skip(as_of, f"drivers model not identified: {exc}")
    tables = {"driver_sensitivity": fit.sensitivity, "driver_coefficients": fit.coefficients}
    if fit.rank_probabilities is not None:
        tables["driver_rank_probabilities"] = fit.rank_probabilities
    _store(ctsw, tables, as_of, context.run_id)
    ranking = fit.sensitivity.sort_values("rank")
    boot = "boot_rank_mode_prob" in ranking
    md = ["| rank | driver | CTS-SW change per within-team SD | $ at the median team | partial R² |"
          + (" P(rank 1) |" if boot else ""), "|---|---|---|---|---|" + ("---|" if boot else "")]
    md += [f"| {r.rank} | {r.driver} | {ci_text(r.pct_change, r.pct_ci_low, r.pct_ci_high, 1)} % | "
           f"{r.usd_change:,.0f} | {r.partial_r2:.3f} |" + (f" {r.boot_top_share:.2f} |" if boot else "")
           for r in ranking.itertuples()]
    vc = fit.variance_components
    return dg.MaterializeResult(metadata={
        "as_of_week": str(as_of.date()),
        "sensitivity": dg.MetadataValue.md("\n".join(md)),
        "icc": float(vc["icc"]),
        "teams_in_model": int(fit.summary["n_teams"]),
        "teams_excluded_shared_denominator": int(fit.summary["n_dropped_teams"]),
        "drivers_not_ranked": ", ".join(f"{c} ({why})" for c, why in fit.dropped_drivers.items()) or "none",
    })


@dg.asset(key=["models", "capacity_freed"], deps=[AI_EFFECT_KEY, PANEL_KEY], description=(
    "Capacity freed by AI adoption (not money saved): builder time that would have been needed for the same "
    "PR output without AI, from the bias-corrected long-run effect on PR velocity and each team's observed "
    "adoption path; engineering-years and loaded dollars with a 95% interval, in total, by org "
    "(models.capacity_freed) and by team (models.capacity_freed_by_team)."), **COMMON)
def capacity(context: dg.AssetExecutionContext, ctsw: CtswResource, config: CapacityConfig) -> dg.MaterializeResult:
    as_of, start, end = _as_of(context, config)
    panel = model_panel(ctsw, start, end)
    if not _enough(panel):
        return _too_short(as_of, panel)
    with ctsw.connect() as con:
        found = con.execute(
            "SELECT lr_estimate, lr_std_error FROM models.ai_effect_estimates WHERE as_of_week = ? "
            "AND outcome = 'cr_velocity' AND estimator = 'hpj' AND term = 'ai_usage_share'", [as_of.date()]
        ).fetchone() if has_table(con, "models", "ai_effect_estimates") else None
    if found is None:
        return _skip(as_of, "no AI effect on PR velocity for this as-of week: models/ai_effect skipped "
                            "(its metadata says why)")
    draws = long_run_bootstrap(panel, n_boot=config.n_boot)[1] if config.n_boot > 0 else None
    result = capacity_freed(panel, found[0], found[1], effect_draws=draws, by="org", by_team=True)
    total = {"scope": "total"}
    for measure, r in result.totals.iterrows():
        total |= {measure: r.estimate, f"{measure}_ci_low": r.ci_low, f"{measure}_ci_high": r.ci_high}
    rows = pd.concat([pd.DataFrame([total]), result.by_group.rename(columns={"org": "scope"})], ignore_index=True)
    _store(ctsw, {"capacity_freed": rows, "capacity_freed_by_team": result.by_team}, as_of, context.run_id)
    t = result.totals
    years, usd = t.loc["capacity_freed_engineering_years"], t.loc["capacity_freed_usd"]
    by_org = result.by_group.sort_values("capacity_freed_usd", ascending=False)
    md = ["| org | engineering-years | $ |", "|---|---|---|"] + [
        f"| {r.org} | {ci_text(r.capacity_freed_engineering_years, r.capacity_freed_engineering_years_ci_low, r.capacity_freed_engineering_years_ci_high, 1)} | "  # noqa: E501
        f"{r.capacity_freed_usd:,.0f} [{r.capacity_freed_usd_ci_low:,.0f}, {r.capacity_freed_usd_ci_high:,.0f}] |"
        for r in by_org.itertuples()]
    return dg.MaterializeResult(metadata={
        "as_of_week": str(as_of.date()),
        "engineering_years": ci_text(years.estimate, years.ci_low, years.ci_high, 1),
        "usd": f"{usd.estimate:,.0f} [{usd.ci_low:,.0f}, {usd.ci_high:,.0f}]",
        "by_org": dg.MetadataValue.md("\n".join(md)),
        "interval": result.interval_method,
        "label": "capacity freed (not money saved)",
    })
