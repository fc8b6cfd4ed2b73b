"""Several AI tools at once: per-tool effects estimated jointly with a common "any AI" baseline.

Why a baseline model
--------------------
Teams adopt tools at the same time and their builders often use more than one, so the per-tool
adoption shares ``s_k`` move together with the share of builders using *any* AI tool, ``s``. Estimating
each tool's effect on its own (``y ~ lag + theta_k s_k + X``, one regression per tool, the way separate
tool experiments are read) attributes to every tool the common effect of AI use that its share is a
proxy for, and adding the per-tool effects up counts that common effect once per tool: the sum
overstates the total (the article's "combining experimental results can overstate an intervention's
true impact").

The joint ("baseline") model puts the common effect and the tool-specific deviations in one dynamic
equation (same estimator as the main model, HPJ by default):

    y_it = a_i + l_t + beta y_i,t-1 + gamma s_it + sum_{k != ref} delta_k s_k,it + c'X_it + e_it

``gamma`` is the effect of AI use with the reference tool (the most used one, by default), ``delta_k``
how much more (or less) tool k does than the reference. One tool is left out because with few
multi-tool users ``s`` is close to ``sum_k s_k`` and the full set would be nearly collinear.

Totals
------
Both models are compared on the same quantity, the velocity gained from adoption **as observed** (per
team-week, averaged over the rows of the estimation sample; long-run: divided by ``1 - beta``):

* joint:    ``gamma mean(s) + sum_{k != ref} delta_k mean(s_k)`` with a delta-method interval from the
  joint model's covariance;
* separate: ``sum_k theta_k mean(s_k)``, each ``theta_k`` from its own regression.

``overstatement = separate / joint`` (and the difference). When tools share one common effect, each
``theta_k mean(s_k)`` is about the whole joint total and the ratio approaches the number of tools.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from models_py.dynamic_panel import fit_dynamic_panel

__all__ = ["ToolEffectsResult", "fit_tool_effects", "tool_share_columns"]


def tool_share_columns(
    panel: pd.DataFrame,
    tools: pd.DataFrame,
    entity: str = "team_id",
    time: str = "week_start",
    tool: str = "tool",
    share: str = "ai_usage_share",
    prefix: str = "share_",
) -> tuple[pd.DataFrame, list[str]]:
    """``panel`` with one ``share_<tool>`` column per tool (0 where the tool has no row: a missing tool
    row means nobody used it that week) and the list of the new columns."""
    wide = tools.pivot_table(index=[entity, time], columns=tool, values=share, aggfunc="sum")
    names = [f"{prefix}{c}" for c in wide.columns]
    wide.columns = names
    out = panel.merge(wide.reset_index(), on=[entity, time], how="left")
    out[names] = out[names].fillna(0.0)
    return out, names


@dataclass
class ToolEffectsResult:
    """``table``: one row per (model, term) with ``model`` ("joint" or "separate"), ``term``, ``tool``,
    ``estimate, std_error, ci_low, ci_high, lr_estimate, mean_share, contribution, lr_contribution``
    (contribution = coefficient x mean share); ``totals``: one row per model with ``total, total_se,
    total_ci_low, total_ci_high, lr_total, lr_total_se, lr_total_ci_low, lr_total_ci_high``;
    ``summary``: the overstatement."""

    table: pd.DataFrame
    totals: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)


def fit_tool_effects(
    panel: pd.DataFrame,
    tools: pd.DataFrame,
    outcome: str = "cr_velocity",
    covariates: Sequence[str] = ("rollback_rate", "interventions_per_deploy"),
    *,
    entity: str = "team_id",
    time: str = "week_start",
    adoption: str = "ai_usage_share",
    tool: str = "tool",
    reference: str | None = None,
    estimator: str = "hpj",
    min_mean_share: float = 0.005,
    level: float = 0.95,
    period_step: object | None = None,
) -> ToolEffectsResult:
    """Joint (baseline + tool deviations) and separate per-tool dynamic models; see the module docstring.

    Tools whose mean share over the panel is below ``min_mean_share`` are left out.
    """
    zcrit = float(stats.norm.ppf(0.5 + level / 2))
    wide, cols = tool_share_columns(panel, tools, entity, time, tool, adoption)
    means = wide[cols].mean()
    cols = [c for c in cols if means[c] >= min_mean_share]
    if not cols:
        raise ValueError("no tool with a positive share")
    names = {c: c.removeprefix("share_") for c in cols}
    ref_col = f"share_{reference}" if reference is not None else max(cols, key=lambda c: means[c])
    if ref_col not in cols:
        raise ValueError(f"reference tool {reference!r} not among {list(names.values())}")
    covariates = list(covariates)
    lag = f"{outcome}_lag1"

    def fit(regs):
        return fit_dynamic_panel(wide, entity, time, outcome, regs, (estimator,), adoption=regs[0],
                                 period_step=period_step, level=level)

    joint_terms = [adoption, *[c for c in cols if c != ref_col]]
    joint = fit([*joint_terms, *covariates])
    f = joint.fits[estimator]
    # mean shares over the joint estimation sample are those of the rows used; the sample is the same
    # rows (all columns are complete), so the panel means over rows with an outcome and a lag are used
    rows_used = wide[wide[outcome].notna()]
    m = {t: float(rows_used[t].mean()) for t in [adoption, *cols]}
    rows = []
    for t in joint_terms:
        r = joint.row(estimator, t)
        rows.append({"model": "joint", "term": t, "tool": "any (baseline)" if t == adoption else names[t],
                     "estimate": r["estimate"], "std_error": r["std_error"], "ci_low": r["ci_low"],
                     "ci_high": r["ci_high"], "lr_estimate": r["lr_estimate"], "mean_share": m[t],
                     "contribution": r["estimate"] * m[t], "lr_contribution": r["lr_estimate"] * m[t]})
    a = np.array([m[t] for t in joint_terms])
    g = f.params[joint_terms].to_numpy()
    v = f.cov.loc[joint_terms, joint_terms].to_numpy()
    beta = float(f.params[lag])
    total = float(a @ g)
    total_se = float(np.sqrt(a @ v @ a))
    # long run: total / (1 - beta), delta method over (g, beta)
    idx = [*joint_terms, lag]
    vv = f.cov.loc[idx, idx].to_numpy()
    grad = np.append(a / (1 - beta), total / (1 - beta) ** 2)
    lr_total = total / (1 - beta)
    lr_se = float(np.sqrt(grad @ vv @ grad))

    sep_total = sep_lr = 0.0
    for c in cols:
        res = fit([c, *covariates])
        r = res.row(estimator, c)
        rows.append({"model": "separate", "term": c, "tool": names[c], "estimate": r["estimate"],
                     "std_error": r["std_error"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                     "lr_estimate": r["lr_estimate"], "mean_share": m[c], "contribution": r["estimate"] * m[c],
                     "lr_contribution": r["lr_estimate"] * m[c]})
        sep_total += r["estimate"] * m[c]
        sep_lr += r["lr_estimate"] * m[c]
    table = pd.DataFrame(rows)
    totals = pd.DataFrame([
        {"model": "joint", "total": total, "total_se": total_se, "total_ci_low": total - zcrit * total_se,
         "total_ci_high": total + zcrit * total_se, "lr_total": lr_total, "lr_total_se": lr_se,
         "lr_total_ci_low": lr_total - zcrit * lr_se, "lr_total_ci_high": lr_total + zcrit * lr_se},
        {"model": "separate_sum", "total": sep_total, "total_se": np.nan, "total_ci_low": np.nan,
         "total_ci_high": np.nan, "lr_total": sep_lr, "lr_total_se": np.nan, "lr_total_ci_low": np.nan,
         "lr_total_ci_high": np.nan},
    ])
    summary = {
        "estimator": estimator,
        "reference_tool": names[ref_col],
        "tools": list(names.values()),
        "joint_total": total,
        "joint_lr_total": lr_total,
        "separate_sum": sep_total,
        "separate_lr_sum": sep_lr,
        "overstatement_ratio": sep_lr / lr_total if lr_total else np.nan,
        "overstatement": sep_lr - lr_total,
    }
    return ToolEffectsResult(table=table, totals=totals, summary=summary)
