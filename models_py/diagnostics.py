"""Diagnostics of the dynamic AI-effect model: exogeneity of the covariates and a placebo test with leads.

Exogeneity of the covariates
----------------------------
The model ``y_it = a_i + l_t + beta y_i,t-1 + gamma s_it + delta' X_it + e_it`` (``s`` the AI usage share,
``X`` rollback rate, interventions per deploy) estimates the effect of ``s`` *holding X fixed*. If AI
use moves a covariate (say AI-written code is rolled back more often), ``X`` is a mediator ("bad
control"): conditioning on it removes part of the effect of ``s`` and can bias gamma either way. For
each covariate ``c`` (every regressor except the adoption share, by default) the test fits the
covariate's own equation with the same lag structure as the main model,

    c_it = a_i + l_t + rho c_i,t-1 + sum_{k in share_lags} d_k s_i,t-k + u_it,

by two-way fixed effects with team-clustered (CR1) covariance, and tests ``d = 0`` jointly (Wald,
chi-square with ``len(share_lags)`` degrees of freedom). Under the null that ``c`` does not respond to
AI adoption ``d`` is estimated without Nickell bias (the bias of ``rho`` does not feed into ``d`` when
``s`` and ``c`` are unrelated) and the clustered covariance makes the test valid with serially
correlated ``u``. A covariate with ``p < alpha`` is **flagged**. For every covariate, gamma (and its
long-run effect) is reported from the main model with and without that covariate, and once without
all flagged covariates: when a flagged covariate is a mediator, the estimate without it is the total
effect of adoption, the one to report.

Placebo (leads)
---------------
Future adoption cannot cause today's velocity. Adding ``s_i,t+1 .. s_i,t+k`` to the main model, their
coefficients must be zero; a joint Wald test (chi-square, k degrees of freedom) with each
estimator's covariance (team-clustered; the HPJ's stacked sandwich) rejects when adoption responds to
anticipated velocity shocks (reverse causality) or when teams on a different trend adopt earlier.
Rows without the k following weeks are dropped, so the sample is the main model's minus the last k
weeks of each team.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from models_py.dynamic_panel import DynamicPanelResult, fit_dynamic_panel
from models_py.panel_fe import fit_twfe
from models_py.panel_prep import prepare_panel

__all__ = ["ExogeneityResult", "PlaceboResult", "exogeneity_tests", "placebo_leads", "wald_test"]


def wald_test(params: np.ndarray, cov: np.ndarray) -> tuple[float, int, float]:
    """Joint Wald test of ``params = 0``: (statistic, degrees of freedom, chi-square p-value)."""
    params = np.atleast_1d(np.asarray(params, dtype=float))
    cov = np.atleast_2d(np.asarray(cov, dtype=float))
    stat = float(params @ np.linalg.pinv(cov) @ params)
    df = int(params.size)
    return stat, df, float(stats.chi2.sf(stat, df))


@dataclass
class ExogeneityResult:
    """``table``: one row per covariate (``covariate, share_coef, share_coef_se, wald_stat, wald_df, pvalue,
    flagged, n_obs, n_entities, estimator, gamma_with, gamma_with_se, gamma_without, gamma_without_se,
    lr_with, lr_without``) plus, if any covariate is flagged, a row ``covariate = "all_flagged"`` with
    gamma without all flagged covariates. ``coefficients``: the covariate equations' share terms."""

    table: pd.DataFrame
    coefficients: pd.DataFrame
    flagged: list[str]
    alpha: float
    summary: dict[str, Any] = field(default_factory=dict)


def _gamma(res: DynamicPanelResult, estimator: str, term: str) -> tuple[float, float, float]:
    r = res.row(estimator, term)
    return float(r["estimate"]), float(r["std_error"]), float(r["lr_estimate"])


def exogeneity_tests(
    df: pd.DataFrame,
    entity: str,
    time: str,
    outcome: str,
    regressors: Sequence[str],
    *,
    adoption: str = "ai_usage_share",
    covariates: Sequence[str] | None = None,
    share_lags: Sequence[int] = (0,),
    own_lag: bool = True,
    alpha: float = 0.05,
    estimator: str = "hpj",
    main: DynamicPanelResult | None = None,
    min_periods: int = 3,
    period_step: object | None = None,
) -> ExogeneityResult:
    """Test whether AI adoption moves each covariate; compare gamma with and without each covariate.

    ``main`` (optional) is the already fitted main model with all ``regressors`` (saves a refit); it
    must contain ``estimator``. See the module docstring for the test.
    """
    regressors = list(regressors)
    if adoption not in regressors:
        raise ValueError(f"the adoption share {adoption!r} must be one of the regressors")
    covs = [c for c in (covariates if covariates is not None else regressors) if c != adoption]
    share_lags = sorted({int(k) for k in share_lags})
    if not share_lags or share_lags[0] < 0:
        raise ValueError("share_lags must be non-negative lags, e.g. (0,) or (0, 1)")

    def fit_main(regs: list[str]) -> DynamicPanelResult:
        ests = ("hpj",) if estimator == "hpj" else (estimator,)
        return fit_dynamic_panel(df, entity, time, outcome, regs, ests, adoption=adoption, min_periods=min_periods,
                                 period_step=period_step)

    full = main if main is not None and estimator in main.fits else fit_main(regressors)
    g_with = _gamma(full, estimator, adoption)

    rows, coef_rows, flagged = [], [], []
    for c in covs:
        prep = prepare_panel(df, entity, time, [c, adoption], period_step=period_step, dropna=[c])
        cv = prep.frame[c].to_numpy(dtype=float, na_value=np.nan)
        sv = prep.frame[adoption].to_numpy(dtype=float, na_value=np.nan)
        cols, names = [], []
        if own_lag:
            cols.append(prep.lag(cv, 1))
            names.append(f"{c}_lag1")
        for k in share_lags:
            cols.append(sv if k == 0 else prep.lag(sv, k))
            names.append(adoption if k == 0 else f"{adoption}_lag{k}")
        x = np.column_stack(cols)
        ok = np.isfinite(cv) & np.isfinite(x).all(axis=1)
        cnt = np.bincount(prep.entity_codes[ok], minlength=len(prep.entity_labels))
        ok &= cnt[prep.entity_codes] >= min_periods
        _, ent = np.unique(prep.entity_codes[ok], return_inverse=True)
        _, per = np.unique(prep.period[ok], return_inverse=True)
        fit = fit_twfe(cv[ok], x[ok], ent, per)
        share_idx = [i for i, n in enumerate(names) if n.startswith(adoption)]
        stat, wdf, p = wald_test(fit.params[share_idx], fit.cov[np.ix_(share_idx, share_idx)])
        se = fit.std_errors
        for i in share_idx:
            coef_rows.append({"covariate": c, "term": names[i], "estimate": float(fit.params[i]),
                              "std_error": float(se[i])})
        is_flagged = p < alpha
        if is_flagged:
            flagged.append(c)
        without = fit_main([r for r in regressors if r != c])
        g_wo = _gamma(without, estimator, adoption)
        rows.append({
            "covariate": c,
            "share_coef": float(fit.params[share_idx[0]]),
            "share_coef_se": float(se[share_idx[0]]),
            "wald_stat": stat,
            "wald_df": wdf,
            "pvalue": p,
            "flagged": bool(is_flagged),
            "n_obs": int(fit.n_obs),
            "n_entities": int(fit.n_entities),
            "estimator": estimator,
            "gamma_with": g_with[0],
            "gamma_with_se": g_with[1],
            "gamma_without": g_wo[0],
            "gamma_without_se": g_wo[1],
            "lr_with": g_with[2],
            "lr_without": g_wo[2],
        })
    if flagged:
        regs = [r for r in regressors if r not in flagged]
        g_wo = _gamma(fit_main(regs), estimator, adoption)
        rows.append({"covariate": "all_flagged", "share_coef": np.nan, "share_coef_se": np.nan, "wald_stat": np.nan,
                     "wald_df": 0, "pvalue": np.nan, "flagged": True, "n_obs": 0, "n_entities": 0,
                     "estimator": estimator, "gamma_with": g_with[0], "gamma_with_se": g_with[1],
                     "gamma_without": g_wo[0], "gamma_without_se": g_wo[1], "lr_with": g_with[2],
                     "lr_without": g_wo[2]})
    table = pd.DataFrame(rows)
    summary = {
        "alpha": alpha,
        "share_lags": share_lags,
        "own_lag": own_lag,
        "flagged": flagged,
        "pvalues": {r["covariate"]: r["pvalue"] for r in rows if r["covariate"] != "all_flagged"},
        "gamma_with": g_with[0],
        "gamma_without_flagged": table.loc[table.covariate == "all_flagged", "gamma_without"].iloc[0]
        if flagged else g_with[0],
    }
    return ExogeneityResult(table=table, coefficients=pd.DataFrame(coef_rows), flagged=flagged, alpha=alpha,
                            summary=summary)


@dataclass
class PlaceboResult:
    """``coefficients``: one row per (estimator, lead term) with ``estimator, term, lead, estimate, std_error,
    ci_low, ci_high, pvalue``; ``tests``: one row per estimator with ``estimator, wald_stat, wald_df, pvalue,
    rejected, n_obs``; ``fit``: the model with the leads."""

    coefficients: pd.DataFrame
    tests: pd.DataFrame
    fit: DynamicPanelResult
    leads: int
    alpha: float
    summary: dict[str, Any] = field(default_factory=dict)


def placebo_leads(
    df: pd.DataFrame,
    entity: str,
    time: str,
    outcome: str,
    regressors: Sequence[str],
    *,
    leads: int = 4,
    adoption: str = "ai_usage_share",
    estimators: Sequence[str] = ("twfe", "hpj", "anderson_hsiao"),
    alpha: float = 0.05,
    min_periods: int = 3,
    period_step: object | None = None,
) -> PlaceboResult:
    """Add ``leads`` future values of the adoption share to the main model and test them jointly."""
    if leads < 1:
        raise ValueError("leads must be >= 1")
    regressors = list(regressors)
    prep = prepare_panel(df, entity, time, list(dict.fromkeys([outcome, *regressors])), period_step=period_step)
    d = prep.frame.copy()
    s = d[adoption].to_numpy(dtype=float, na_value=np.nan)
    lead_terms = [f"{adoption}_lead{k}" for k in range(1, leads + 1)]
    for k, name in enumerate(lead_terms, start=1):
        d[name] = prep.lead(s, k)
    fit = fit_dynamic_panel(d, entity, time, outcome, [*regressors, *lead_terms], estimators, adoption=adoption,
                            min_periods=min_periods, period_step=period_step)
    t = fit.table
    coefs = t[t["term"].isin(lead_terms)][["estimator", "term", "estimate", "std_error", "ci_low", "ci_high",
                                           "pvalue"]].copy()
    coefs.insert(2, "lead", coefs["term"].str.rsplit("lead", n=1).str[-1].astype(int))
    tests = []
    for name, f in fit.fits.items():
        stat, wdf, p = wald_test(f.params[lead_terms].to_numpy(), f.cov.loc[lead_terms, lead_terms].to_numpy())
        tests.append({"estimator": name, "wald_stat": stat, "wald_df": wdf, "pvalue": p, "rejected": bool(p < alpha),
                      "n_obs": f.n_obs})
    tests = pd.DataFrame(tests)
    summary = {"leads": leads, "alpha": alpha,
               "tests": tests.set_index("estimator")[["wald_stat", "wald_df", "pvalue", "rejected"]].to_dict("index")}
    return PlaceboResult(coefficients=coefs.reset_index(drop=True), tests=tests, fit=fit, leads=leads, alpha=alpha,
                         summary=summary)
