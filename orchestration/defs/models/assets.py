"""Model assets: thin wrappers that read the checked panel, call models_py and store every as-of week."""

from datetime import timedelta

import dagster as dg
import pandas as pd

from models_py.capacity import capacity_freed
from models_py.drivers import fit_drivers
from models_py.dynamic_panel import fit_dynamic_panel
from orchestration.defs.models.store import ZERO_WHEN_NO_DEPLOYMENT, read_panel, replace_as_of
from orchestration.partitions import DUCKDB_POOL, SINGLE_RUN, WEEKLY
from orchestration.resources import CtswResource, utc_window

PANEL_KEY = dg.AssetKey(["marts", "fct_team_weeks"])
AI_EFFECT_KEY = dg.AssetKey(["models", "ai_effect"])
OUTCOMES = ("cr_velocity", "deploy_velocity")
COVARIATES = ("ai_usage_share", "rollback_rate", "interventions_per_deploy")
ESTIMATOR_LABELS = {"twfe": "naive TWFE", "hpj": "bias-corrected (half-panel jackknife)",
                    "anderson_hsiao": "Anderson-Hsiao IV"}
MIN_WEEKS = 8  # fewer weeks cannot identify a lag, two-way effects and a half-panel split


class ModelWindow(dg.Config):
    trailing_weeks: int = 0  # fit on this many weeks up to the as-of week; 0 = all history


def _as_of(context: dg.AssetExecutionContext, config: ModelWindow):
    """As-of week = the last week of the run's window; the fit uses history up to it."""
    w = utc_window(context.partition_time_window)
    start = w.end - timedelta(weeks=config.trailing_weeks) if config.trailing_weeks else None
    return w.end - timedelta(weeks=1), start, w.end


def _enough(panel: pd.DataFrame) -> bool:
    return panel["week_start"].nunique() >= MIN_WEEKS


def _skip(as_of, panel: pd.DataFrame) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"as_of_week": str(as_of.date()), "skipped": (
        f"only {panel['week_start'].nunique()} weeks of panel up to the as-of week; at least {MIN_WEEKS} needed")})


def _ci(est: float, lo: float, hi: float, digits: int = 3) -> str:
    return f"{est:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def _effects_markdown(table: pd.DataFrame) -> str:
    rows = ["| outcome | estimator | gamma (AI share) | beta (persistence) | long-run effect | "
            "long-run % of pre-AI mean |", "|---|---|---|---|---|---|"]
    for (outcome, est), g in table.groupby(["outcome", "estimator"], sort=False):
        ai = g[g.term == "ai_usage_share"].iloc[0]
        lag = g[g.term == f"{outcome}_lag1"].iloc[0]
        rows.append(
            f"| {outcome} | {ESTIMATOR_LABELS[est]} | {_ci(ai.estimate, ai.ci_low, ai.ci_high)} | "
            f"{_ci(lag.estimate, lag.ci_low, lag.ci_high)} | {_ci(ai.lr_estimate, ai.lr_ci_low, ai.lr_ci_high)} | "
            f"{_ci(ai.lr_pct_of_pre_mean, ai.lr_pct_ci_low, ai.lr_pct_ci_high, 1)} |")
    return "\n".join(rows)


def model_panel(ctsw: CtswResource, start, end) -> pd.DataFrame:
    with ctsw.connect() as con:
        panel = read_panel(con, end, start)
    panel[list(ZERO_WHEN_NO_DEPLOYMENT)] = panel[list(ZERO_WHEN_NO_DEPLOYMENT)].fillna(0.0)
    return panel


COMMON = dict(group_name="models", kinds={"python", "duckdb"}, partitions_def=WEEKLY, backfill_policy=SINGLE_RUN,
              pool=DUCKDB_POOL)


@dg.asset(key=AI_EFFECT_KEY, deps=[PANEL_KEY], description=(
    "Effect of AI-tool adoption on PR and deployment velocity: dynamic two-way fixed effects "
    "y_it = a_i + l_t + b*y_i,t-1 + g*X_it + e_it (X: AI usage share, rollback rate, interventions per deploy), "
    "team-clustered. Naive TWFE, the Nickell-bias-corrected half-panel jackknife (primary) and Anderson-Hsiao "
    "IV side by side; rows in models.ai_effect_estimates per as-of week."), **COMMON)
def ai_effect(context: dg.AssetExecutionContext, ctsw: CtswResource, config: ModelWindow) -> dg.MaterializeResult:
    as_of, start, end = _as_of(context, config)
    panel = model_panel(ctsw, start, end)
    if not _enough(panel):
        return _skip(as_of, panel)
    tables = []
    for outcome in OUTCOMES:
        fit = fit_dynamic_panel(panel, "team_id", "week_start", outcome, list(COVARIATES), period_step="7D")
        tables.append(fit.table.assign(outcome=outcome, pre_adoption_mean=fit.pre_adoption_mean))
    table = pd.concat(tables, ignore_index=True)
    with ctsw.connect() as con:
        replace_as_of(con, "ai_effect_estimates", table, as_of, context.run_id)
    primary = table[(table.estimator == "hpj") & (table.term == "ai_usage_share")].set_index("outcome")
    return dg.MaterializeResult(metadata={
        "as_of_week": str(as_of.date()),
        "teams": int(panel.team_id.nunique()),
        "weeks": int(panel.week_start.nunique()),
        "estimates": dg.MetadataValue.md(_effects_markdown(table)),
        **{f"long_run_effect_{o} (hpj)": float(primary.loc[o, "lr_estimate"]) for o in OUTCOMES},
    })


@dg.asset(key=["models", "cts_drivers"], deps=[PANEL_KEY], description=(
    "Drivers of CTS-SW: linear mixed model of log CTS-SW with a random team intercept and Mundlak within/between "
    "terms, and a sensitivity ranking (CTS-SW change for a one within-team SD change in each driver). Rows in "
    "models.driver_sensitivity and models.driver_coefficients per as-of week."), **COMMON)
def cts_drivers(context: dg.AssetExecutionContext, ctsw: CtswResource, config: ModelWindow) -> dg.MaterializeResult:
    as_of, start, end = _as_of(context, config)
    panel = model_panel(ctsw, start, end)
    if not _enough(panel):
        return _skip(as_of, panel)
    fit = fit_drivers(panel)
    with ctsw.connect() as con:
        replace_as_of(con, "driver_sensitivity", fit.sensitivity, as_of, context.run_id)
        replace_as_of(con, "driver_coefficients", fit.coefficients, as_of, context.run_id)
    ranking = fit.sensitivity.sort_values("rank")
    md = ["| rank | driver | CTS-SW change per within-team SD | $ at the median team | partial R² |",
          "|---|---|---|---|---|"]
    md += [f"| {r.rank} | {r.driver} | {_ci(r.pct_change, r.pct_ci_low, r.pct_ci_high, 1)} % | "
           f"{r.usd_change:,.0f} | {r.partial_r2:.3f} |" for r in ranking.itertuples()]
    vc = fit.variance_components
    return dg.MaterializeResult(metadata={
        "as_of_week": str(as_of.date()),
        "sensitivity": dg.MetadataValue.md("\n".join(md)),
        "icc": float(vc["icc"]),
        "teams_in_model": int(fit.summary["n_teams"]),
        "teams_excluded_shared_denominator": int(fit.summary["n_dropped_teams"]),
    })


@dg.asset(key=["models", "capacity_freed"], deps=[AI_EFFECT_KEY, PANEL_KEY], description=(
    "Capacity freed by AI adoption (not money saved): builder time that would have been needed for the same "
    "PR output without AI, from the bias-corrected long-run effect on PR velocity and each team's observed "
    "adoption path; engineering-years and loaded dollars with a 95% interval, in total and by org."), **COMMON)
def capacity(context: dg.AssetExecutionContext, ctsw: CtswResource, config: ModelWindow) -> dg.MaterializeResult:
    as_of, start, end = _as_of(context, config)
    panel = model_panel(ctsw, start, end)
    with ctsw.connect() as con:
        found = con.execute(
            "SELECT lr_estimate, lr_std_error FROM models.ai_effect_estimates WHERE as_of_week = ? "
            "AND outcome = 'cr_velocity' AND estimator = 'hpj' AND term = 'ai_usage_share'", [as_of.date()]
        ).fetchone() if _enough(panel) else None
    if found is None:
        return _skip(as_of, panel)
    result = capacity_freed(panel, found[0], found[1], by="org")
    total = {"scope": "total"}
    for measure, r in result.totals.iterrows():
        total |= {measure: r.estimate, f"{measure}_ci_low": r.ci_low, f"{measure}_ci_high": r.ci_high}
    rows = pd.concat([pd.DataFrame([total]), result.by_group.rename(columns={"org": "scope"})], ignore_index=True)
    with ctsw.connect() as con:
        replace_as_of(con, "capacity_freed", rows, as_of, context.run_id)
    t = result.totals
    years, usd = t.loc["capacity_freed_engineering_years"], t.loc["capacity_freed_usd"]
    return dg.MaterializeResult(metadata={
        "as_of_week": str(as_of.date()),
        "engineering_years": _ci(years.estimate, years.ci_low, years.ci_high, 1),
        "usd": f"{usd.estimate:,.0f} [{usd.ci_low:,.0f}, {usd.ci_high:,.0f}]",
        "label": "capacity freed (not money saved)",
    })
