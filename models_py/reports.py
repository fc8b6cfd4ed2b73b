"""The model stage as tables and markdown: what the Dagster assets store and show (they only do the I/O).

Each function takes the team-week panel (weekly ``week_start``, ``team_id``; rates 0 in weeks without
deployment attempts) and returns DataFrames ready for ``models.*`` tables plus markdown for metadata.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from models_py.diagnostics import exogeneity_tests, placebo_leads
from models_py.dynamic_panel import fit_dynamic_panel
from models_py.event_study import fit_event_study, plot_event_study
from models_py.tools import fit_tool_effects

__all__ = ["OUTCOMES", "COVARIATES", "ESTIMATOR_LABELS", "ModelReport", "ai_effect_report", "event_study_report",
           "tool_effects_report", "ci_text"]

ENTITY, TIME = "team_id", "week_start"
OUTCOMES = ("cr_velocity", "deploy_velocity")
COVARIATES = ("ai_usage_share", "rollback_rate", "interventions_per_deploy")
ESTIMATOR_LABELS = {"twfe": "naive TWFE", "hpj": "bias-corrected (half-panel jackknife)",
                    "anderson_hsiao": "Anderson-Hsiao IV"}


def ci_text(est: float, lo: float, hi: float, digits: int = 3) -> str:
    if not np.isfinite(est):
        return "-"
    return f"{est:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


@dataclass
class ModelReport:
    tables: dict[str, pd.DataFrame]
    markdown: dict[str, str]
    values: dict[str, Any] = field(default_factory=dict)
    images: dict[str, bytes] = field(default_factory=dict)


def _effects_markdown(table: pd.DataFrame) -> str:
    rows = ["| outcome | estimator | gamma (AI share) | beta (persistence) | long-run effect | "
            "long-run % of pre-AI mean |", "|---|---|---|---|---|---|"]
    for (outcome, est), g in table.groupby(["outcome", "estimator"], sort=False):
        ai = g[g.term == "ai_usage_share"].iloc[0]
        lag = g[g.term == f"{outcome}_lag1"].iloc[0]
        rows.append(
            f"| {outcome} | {ESTIMATOR_LABELS[est]} | {ci_text(ai.estimate, ai.ci_low, ai.ci_high)} | "
            f"{ci_text(lag.estimate, lag.ci_low, lag.ci_high)} | "
            f"{ci_text(ai.lr_estimate, ai.lr_ci_low, ai.lr_ci_high)} | "
            f"{ci_text(ai.lr_pct_of_pre_mean, ai.lr_pct_ci_low, ai.lr_pct_ci_high, 1)} |")
    return "\n".join(rows)


def ai_effect_report(
    panel: pd.DataFrame,
    outcomes: Sequence[str] = OUTCOMES,
    covariates: Sequence[str] = COVARIATES,
    *,
    placebo_leads_k: int = 4,
) -> ModelReport:
    """Main model side by side (naive / HPJ / AH), exogeneity of the covariates, placebo leads.

    Tables: ``ai_effect_estimates`` (the main fits, one row per outcome x estimator x term),
    ``exogeneity`` (per outcome x covariate), ``placebo_tests`` (per outcome x estimator) and
    ``placebo_coefficients`` (per outcome x estimator x lead).
    """
    est, exo, ptests, pcoefs, notes, pl_notes = [], [], [], [], [], []
    for outcome in outcomes:
        fit = fit_dynamic_panel(panel, ENTITY, TIME, outcome, list(covariates), period_step="7D")
        est.append(fit.table.assign(outcome=outcome, pre_adoption_mean=fit.pre_adoption_mean))
        try:  # short histories (a few weeks) cannot identify the extra regressions: report what can be fitted
            ex = exogeneity_tests(panel, ENTITY, TIME, outcome, list(covariates), main=fit, period_step="7D")
            exo.append(ex.table.assign(outcome=outcome))
        except (ValueError, np.linalg.LinAlgError) as exc:
            notes.append(f"exogeneity tests for {outcome} not identified: {exc}")
        try:
            pl = placebo_leads(panel, ENTITY, TIME, outcome, list(covariates), leads=placebo_leads_k,
                               period_step="7D")
            ptests.append(pl.tests.assign(outcome=outcome, leads=placebo_leads_k))
            pcoefs.append(pl.coefficients.assign(outcome=outcome))
        except (ValueError, np.linalg.LinAlgError) as exc:
            pl_notes.append(f"placebo test for {outcome} not identified: {exc}")
    table = pd.concat(est, ignore_index=True)
    exo_t = pd.concat(exo, ignore_index=True) if exo else pd.DataFrame()
    pt = pd.concat(ptests, ignore_index=True) if ptests else pd.DataFrame()
    pc = pd.concat(pcoefs, ignore_index=True) if pcoefs else pd.DataFrame()

    md_exo = ["| outcome | covariate | effect of AI share on it | p | flagged | gamma with | gamma without |",
              "|---|---|---|---|---|---|---|"]
    for r in exo_t.itertuples():
        eff = "-" if not np.isfinite(r.share_coef) else f"{r.share_coef:.4f} ({r.share_coef_se:.4f})"
        p = "-" if not np.isfinite(r.pvalue) else f"{r.pvalue:.3f}"
        md_exo.append(f"| {r.outcome} | {r.covariate} | {eff} | {p} | {'**yes**' if r.flagged else 'no'} | "
                      f"{r.gamma_with:.3f} ({r.gamma_with_se:.3f}) | "
                      f"{r.gamma_without:.3f} ({r.gamma_without_se:.3f}) |")
    md_pl = [f"Future AI share (leads 1..{placebo_leads_k}) added to the model; joint Wald test that they are 0.", "",
             "| outcome | estimator | chi2 | df | p | rejected at 5% |", "|---|---|---|---|---|---|"]
    for r in pt.itertuples():
        md_pl.append(f"| {r.outcome} | {ESTIMATOR_LABELS[r.estimator]} | {r.wald_stat:.2f} | {r.wald_df} | "
                     f"{r.pvalue:.3f} | {'**yes**' if r.rejected else 'no'} |")
    flagged = sorted({f"{r.outcome}:{r.covariate}" for r in exo_t.itertuples()
                      if r.flagged and r.covariate != "all_flagged"})
    md_exo += ["", *notes] if notes else []
    md_pl += ["", *pl_notes] if pl_notes else []
    tables = {"ai_effect_estimates": table, "exogeneity": exo_t, "placebo_tests": pt, "placebo_coefficients": pc}
    return ModelReport(
        tables={k: v for k, v in tables.items() if not v.empty},
        markdown={"estimates": _effects_markdown(table), "exogeneity": "\n".join(md_exo), "placebo": "\n".join(md_pl)},
        values={"flagged_covariates": ", ".join(flagged) or "none",
                "placebo_rejected": ", ".join(f"{r.outcome}:{r.estimator}" for r in pt.itertuples() if r.rejected)
                or "none"},
    )


def event_study_report(
    panel: pd.DataFrame,
    outcomes: Sequence[str] = OUTCOMES,
    *,
    threshold: float = 0.5,
    leads: int = 8,
    horizon: int = 26,
) -> ModelReport:
    """Imputation event study per outcome: table ``event_study`` (event-time rows, then ``post_average`` and
    ``static_twfe`` rows with a null event time; pre-trend test columns on every row) and a PNG per outcome."""
    tables, images, md, values = [], {}, [], {}
    for outcome in outcomes:
        res = fit_event_study(panel, ENTITY, TIME, outcome, threshold=threshold, leads=leads, horizon=horizon,
                              period_step="7D")
        c = res.coefficients.copy()
        extra = pd.DataFrame([{"event_time": None, "phase": "post_average", **res.average},
                              {"event_time": None, "phase": "static_twfe", **res.static_twfe}])
        t = pd.concat([c, extra], ignore_index=True)
        t["event_time"] = t["event_time"].astype("Int64")
        t.insert(0, "outcome", outcome)
        t["threshold"] = threshold
        t["pretrend_wald_stat"] = res.pretrend["wald_stat"]
        t["pretrend_df"] = res.pretrend["wald_df"]
        t["pretrend_pvalue"] = res.pretrend["pvalue"]
        tables.append(t)
        png = plot_event_study(res)
        images[outcome] = png
        a, s, p = res.average, res.static_twfe, res.pretrend
        md += [f"### {outcome}", "",
               f"Adoption event: first week with AI share >= {threshold:g} ({res.summary['n_event_teams']} teams; "
               f"{res.summary['n_never_users']} never use AI).", "",
               f"- post average (imputation, weeks 0..{horizon}): {ci_text(a['estimate'], a['ci_low'], a['ci_high'])}",
               f"- naive static TWFE on a post-event dummy: {ci_text(s['estimate'], s['ci_low'], s['ci_high'])}",
               f"- pre-trend test, leads {p['leads'][0] if p['leads'] else '-'}..-1: Wald = {p['wald_stat']:.2f} "
               f"({p['variance']} covariance, {p['n_clusters']} teams), q = {p['wald_df']}, "
               f"p = {p['pvalue']:.3f} (Hotelling T2)", "",
               f"![event study {outcome}](data:image/png;base64,{base64.b64encode(png).decode()})", ""]
        values[f"post_average_{outcome}"] = float(a["estimate"])
        values[f"pretrend_pvalue_{outcome}"] = float(p["pvalue"]) if np.isfinite(p["pvalue"]) else None
    return ModelReport(tables={"event_study": pd.concat(tables, ignore_index=True)},
                       markdown={"event_study": "\n".join(md)}, values=values, images=images)


def tool_effects_report(panel: pd.DataFrame, tools: pd.DataFrame, outcome: str = "cr_velocity") -> ModelReport:
    """Per-tool effects jointly with the common "any AI" baseline vs separately: tables ``tool_effects`` and
    ``tool_effect_totals``."""
    res = fit_tool_effects(panel, tools, outcome, [c for c in COVARIATES if c != "ai_usage_share"],
                           period_step="7D")
    s = res.summary
    j = res.totals.set_index("model").loc["joint"]
    md = ["| model | term | tool | coefficient | long-run | mean share | long-run gain at observed adoption |",
          "|---|---|---|---|---|---|---|"]
    for r in res.table.itertuples():
        md.append(f"| {r.model} | {r.term} | {r.tool} | {ci_text(r.estimate, r.ci_low, r.ci_high)} | "
                  f"{r.lr_estimate:.3f} | {r.mean_share:.3f} | {r.lr_contribution:.3f} |")
    md += ["", f"Joint (baseline) long-run total: {ci_text(j.lr_total, j.lr_total_ci_low, j.lr_total_ci_high)}; "
           f"sum of separately estimated tools: {s['separate_lr_sum']:.3f} "
           f"({s['overstatement_ratio']:.2f}x, +{s['overstatement']:.3f} {outcome} per builder-week)."]
    return ModelReport(tables={"tool_effects": res.table.assign(outcome=outcome),
                               "tool_effect_totals": res.totals.assign(outcome=outcome)},
                       markdown={"tool_effects": "\n".join(md)},
                       values={"overstatement_ratio": float(s["overstatement_ratio"]),
                               "joint_lr_total": float(s["joint_lr_total"]),
                               "separate_lr_sum": float(s["separate_lr_sum"])})
