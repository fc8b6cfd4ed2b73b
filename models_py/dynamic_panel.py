"""Dynamic two-way fixed-effects panel models: naive within, half-panel jackknife, Anderson-Hsiao.

The model (the article's specification) is

    y_it = a_i + l_t + beta * y_i,t-1 + gamma' X_it + e_it

for any panel given as a DataFrame with an entity column, a time column, an outcome and
regressors. Three estimators are available:

``twfe``
    The naive within estimator (two-way demeaning, OLS) with entity-clustered CR1 standard
    errors, identical to ``linearmodels.PanelOLS(entity_effects=True, time_effects=True)
    .fit(cov_type="clustered", cluster_entity=True)``. With a lagged dependent variable it has the
    Nickell (1981) bias of order 1/T: for an AR(1) without covariates ``plim(beta_hat) - beta``
    is about ``-(1 + beta) / (T - 1)``, and gamma inherits part of it through the correlation of X
    with the lag.

``hpj`` (the PRIMARY estimate)
    The half-panel jackknife of Dhaene and Jochmans (2015): ``theta_hpj = 2 theta_full -
    (theta_1 + theta_2) / 2`` where ``theta_1`` and ``theta_2`` are the same within estimator on
    the first and second halves of the calendar periods of the estimation sample (each half with
    its own entity and time effects; the first row of the second half keeps its observed lag
    from the first half; with an odd number of periods the first half has one period fewer).
    The O(1/T) bias cancels and the estimator is asymptotically unbiased as N, T -> infinity with
    N/T^3 -> 0.

    Standard errors (``hpj_se="analytic"``, the default): the jackknife is a fixed linear
    combination of three asymptotically linear estimators, each of which is
    ``theta_s - theta_s0 ~ (Xt_s'Xt_s)^-1 sum_i s_is`` with ``s_is`` the score sum of entity i in
    sample s. Entities are independent and, within an entity, the three scores are correlated
    arbitrarily, so the entity-cluster covariance of the combination is
    ``sum_i psi_i psi_i'`` with ``psi_i = 2 q_f^1/2 A_f^-1 s_if - (q_1^1/2 A_1^-1 s_i1 + q_2^1/2 A_2^-1 s_i2) / 2``
    (the "stacked" or suest sandwich; ``q_s`` is each fit's PanelOLS small-sample factor, so that
    the formula reduces to the TWFE covariance when only the full-panel term is kept). This is
    consistent under the same conditions as the clustered TWFE covariance, is exact for the
    linear combination (it includes the covariance between the full and half-panel estimates,
    which a naive combination of the three standard errors would miss), and costs one pass over
    the data. ``hpj_se="bootstrap"`` instead resamples entities with replacement ``n_boot`` times
    and refits all three regressions; it is slower and is offered as a check.

``anderson_hsiao``
    First differences remove a_i; ``Delta y_it = beta Delta y_i,t-1 + gamma' Delta X_it +
    Delta l_t + Delta e_it`` is estimated by 2SLS with ``Delta y_i,t-1`` instrumented by ``y_i,t-2``
    (``Delta X`` instruments itself, X is taken as strictly exogenous) and one dummy per period
    (partialled out by demeaning within period, which is exact because the dummies are both
    regressors and instruments). Standard errors are entity-clustered with Stata's CR1 factor
    ``G/(G-1) (n-1)/(n-k)``, k counting the period dummies (``linearmodels.IV2SLS`` with
    ``debiased=True``). Consistent for fixed T but imprecise; it is a robustness check and needs
    serially uncorrelated e (AR(1) errors invalidate the instrument).

Lags need consecutive periods: rows with a missing outcome are dropped, the lag of a row is the
outcome in the previous calendar period of the same entity, and a gap makes it missing (the row is
dropped); the first difference and the second lag of Anderson-Hsiao likewise. Entities with fewer
than ``min_periods`` rows in the estimation sample are dropped.

Long-run effects ``gamma_k / (1 - beta)`` get delta-method standard errors from each estimator's
covariance of (gamma_k, beta). For the adoption regressor (``ai_usage_share`` by default, 0 to 1),
the effect of going from no to full adoption is also expressed in % of the outcome's mean over
the pre-adoption rows (adoption == 0, outcome not missing, all of the input rows); that mean is
taken as known in its CI.

Confidence intervals are normal (z) intervals; p-values are two-sided normal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from models_py.panel_fe import TWFEFit, cluster_sums, fit_twfe
from models_py.panel_prep import prepare_panel

__all__ = [
    "DynamicPanelResult",
    "EstimatorFit",
    "ESTIMATORS",
    "fit_dynamic_panel",
    "long_run_effect",
]

ESTIMATORS = ("twfe", "hpj", "anderson_hsiao")


@dataclass
class EstimatorFit:
    """One estimator's coefficients (lag first, then the regressors) and their covariance."""

    name: str
    params: pd.Series
    cov: pd.DataFrame
    n_obs: int
    n_entities: int
    n_periods: int
    se_method: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def std_errors(self) -> pd.Series:
        return pd.Series(np.sqrt(np.diag(self.cov.to_numpy())), index=self.params.index)


@dataclass
class DynamicPanelResult:
    """Result of :func:`fit_dynamic_panel`.

    ``table`` has one row per (estimator, term) with columns ``estimator, term, estimate,
    std_error, ci_low, ci_high, pvalue, lr_estimate, lr_std_error, lr_ci_low, lr_ci_high,
    pct_of_pre_mean, lr_pct_of_pre_mean, lr_pct_ci_low, lr_pct_ci_high, n_obs, n_entities,
    n_periods`` (long-run columns are NaN for the lag term; the % columns are filled for the
    adoption term only). ``summary`` is a JSON-friendly dict; ``fits`` holds the estimators.
    """

    table: pd.DataFrame
    summary: dict[str, Any]
    fits: dict[str, EstimatorFit]
    outcome: str
    regressors: list[str]
    lag_term: str
    adoption: str | None
    pre_adoption_mean: float | None
    primary: str
    level: float

    def row(self, estimator: str, term: str) -> pd.Series:
        t = self.table
        sel = t[(t["estimator"] == estimator) & (t["term"] == term)]
        if sel.empty:
            raise KeyError((estimator, term))
        return sel.iloc[0]


def long_run_effect(gamma: float, beta: float, var_gamma: float, var_beta: float, cov_gb: float):
    """``gamma / (1 - beta)`` and its delta-method standard error."""
    lr = gamma / (1.0 - beta)
    g = np.array([1.0 / (1.0 - beta), gamma / (1.0 - beta) ** 2])
    v = np.array([[var_gamma, cov_gb], [cov_gb, var_beta]])
    return lr, float(np.sqrt(max(g @ v @ g, 0.0)))


# ---------------------------------------------------------------------------------------------
# estimators on arrays


def _dense(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    uniq, inv = np.unique(codes, return_inverse=True)
    return uniq, inv.astype(np.int64)


def _twfe_sub(y, x, ent, per, mask=None) -> tuple[TWFEFit, np.ndarray]:
    """TWFE on the rows in ``mask``; returns the fit and the global entity codes of its entities."""
    if mask is not None:
        y, x, ent, per = y[mask], x[mask], ent[mask], per[mask]
    ent_u, ent_c = _dense(ent)
    _, per_c = _dense(per)
    fit = fit_twfe(y, x, ent_c, per_c, n_entities=len(ent_u), n_periods=int(per_c.max()) + 1)
    return fit, ent_u


def _global_influence(fit: TWFEFit, ent_u: np.ndarray, n_entities: int) -> np.ndarray:
    out = np.zeros((n_entities, fit.params.shape[0]))
    out[ent_u] = fit.influence()
    return out


def _hpj_point(y, x, ent, per, n_entities, halves, full=None):
    if full is None:
        full, ent_full = _twfe_sub(y, x, ent, per)
    else:
        ent_full = np.arange(n_entities)
    h1, ent1 = _twfe_sub(y, x, ent, per, halves)
    h2, ent2 = _twfe_sub(y, x, ent, per, ~halves)
    est = 2.0 * full.params - 0.5 * (h1.params + h2.params)
    return est, (full, ent_full), (h1, ent1), (h2, ent2)


def _resample_rows(rng, starts, counts, n_entities):
    pick = rng.integers(0, n_entities, n_entities)
    cnt = counts[pick]
    total = int(cnt.sum())
    offs = np.repeat(np.cumsum(cnt) - cnt, cnt)
    rows = np.repeat(starts[pick], cnt) + (np.arange(total) - offs)
    new_ent = np.repeat(np.arange(n_entities), cnt)
    return rows, new_ent


def _two_sls_clustered(dy, w, z, clusters, n_clusters, n_absorbed):
    """2SLS of dy on w with instruments z (already partialled), CR1 clustered covariance."""
    zz_inv = np.linalg.inv(z.T @ z)
    what = z @ (zz_inv @ (z.T @ w))
    a_inv = np.linalg.inv(what.T @ w)
    params = a_inv @ (what.T @ dy)
    u = dy - w @ params
    s = cluster_sums(clusters, n_clusters, what * u[:, None])
    n, k = w.shape
    k_tot = k + n_absorbed
    scale = n_clusters / (n_clusters - 1) * (n - 1) / (n - k_tot)
    bread = np.linalg.inv(what.T @ what)
    cov = scale * bread @ (s.T @ s) @ bread
    return params, (cov + cov.T) / 2, u


def _demean_by(codes: np.ndarray, n: int, a: np.ndarray) -> np.ndarray:
    cnt = np.bincount(codes, minlength=n).astype(float)
    sums = cluster_sums(codes, n, a)
    return a - (sums / cnt[:, None])[codes]


# ---------------------------------------------------------------------------------------------


def fit_dynamic_panel(
    df: pd.DataFrame,
    entity: str,
    time: str,
    outcome: str,
    regressors: Sequence[str],
    estimators: Sequence[str] = ESTIMATORS,
    *,
    adoption: str | None = "ai_usage_share",
    min_periods: int = 3,
    period_step: object | None = None,
    hpj_se: str = "analytic",
    n_boot: int = 199,
    seed: int | None = 0,
    level: float = 0.95,
) -> DynamicPanelResult:
    """Fit the dynamic two-way FE model ``y_it = a_i + l_t + beta y_i,t-1 + gamma'X_it + e_it``.

    Parameters
    ----------
    df : panel in long form (one row per entity and period).
    entity, time : column names; ``time`` may be datetimes (e.g. weekly ``week_start``), numbers or
        periods. Consecutive periods are ``period_step`` apart (default: the smallest gap between
        distinct times in ``df``; pass ``period_step="7D"`` for weekly data to be explicit).
    outcome, regressors : the dependent variable and the time-varying covariates X.
    estimators : any of ``"twfe"``, ``"hpj"``, ``"anderson_hsiao"``.
    adoption : the regressor whose 0 -> 1 change is "full adoption" (ignored if not a regressor).
    min_periods : entities with fewer rows than this in the estimation sample (rows with an outcome,
        a lag and all regressors) are dropped from all estimators.
    hpj_se : ``"analytic"`` (stacked entity-cluster sandwich, default) or ``"bootstrap"``
        (entity cluster bootstrap with ``n_boot`` replications and ``seed``).
    level : confidence level of the intervals.

    Returns
    -------
    DynamicPanelResult
    """
    regressors = list(regressors)
    estimators = list(estimators)
    bad = [e for e in estimators if e not in ESTIMATORS]
    if bad:
        raise ValueError(f"unknown estimators {bad}; choose from {ESTIMATORS}")
    if not regressors:
        raise ValueError("at least one regressor is needed")
    if hpj_se not in ("analytic", "bootstrap"):
        raise ValueError("hpj_se must be 'analytic' or 'bootstrap'")
    lag_term = f"{outcome}_lag1"
    terms = [lag_term, *regressors]
    adoption = adoption if adoption in regressors else None

    prep = prepare_panel(df, entity, time, [outcome, *regressors], period_step=period_step, dropna=[outcome])
    frame = prep.frame
    y = frame[outcome].to_numpy(dtype=float, na_value=np.nan)
    x = np.column_stack([frame[c].to_numpy(dtype=float, na_value=np.nan) for c in regressors])
    ylag = prep.lag(y, 1)

    ok = np.isfinite(y) & np.isfinite(ylag) & np.isfinite(x).all(axis=1)
    cnt = np.bincount(prep.entity_codes[ok], minlength=len(prep.entity_labels))
    ok &= cnt[prep.entity_codes] >= min_periods
    if not ok.any():
        raise ValueError("no rows with a lag and complete regressors (after min_periods)")

    # estimation sample of twfe / hpj
    ent_u, ent = _dense(prep.entity_codes[ok])
    n_ent = len(ent_u)
    per_u, per = _dense(prep.period[ok])
    ys = y[ok]
    xs = np.column_stack([ylag[ok], x[ok]])

    fits: dict[str, EstimatorFit] = {}

    def _mk(name, params, cov, n_obs, n_e, n_p, se_method, extra=None):
        return EstimatorFit(
            name=name,
            params=pd.Series(params, index=terms),
            cov=pd.DataFrame(cov, index=terms, columns=terms),
            n_obs=int(n_obs),
            n_entities=int(n_e),
            n_periods=int(n_p),
            se_method=se_method,
            extra=extra or {},
        )

    if "twfe" in estimators or "hpj" in estimators:
        full = fit_twfe(ys, xs, ent, per, n_entities=n_ent, n_periods=len(per_u))
        if "twfe" in estimators:
            fits["twfe"] = _mk("twfe", full.params, full.cov, full.n_obs, n_ent, len(per_u), "cluster_entity_cr1")

    if "hpj" in estimators:
        if len(per_u) < 4:
            raise ValueError("the half-panel jackknife needs at least 4 periods")
        cut = len(per_u) // 2
        halves = per < cut
        try:
            est, (f_full, e_full), (f1, e1), (f2, e2) = _hpj_point(ys, xs, ent, per, n_ent, halves, full)
        except (ValueError, np.linalg.LinAlgError) as exc:
            raise ValueError(
                "the half-panel jackknife needs every regressor to vary within entities in each half of "
                f"the periods ({exc}); drop 'hpj' or the regressor"
            ) from exc
        extra = {
            "full": pd.Series(f_full.params, index=terms),
            "half1": pd.Series(f1.params, index=terms),
            "half2": pd.Series(f2.params, index=terms),
            "half1_periods": (int(per_u[0]), int(per_u[cut - 1])),
            "half2_periods": (int(per_u[cut]), int(per_u[-1])),
        }
        if hpj_se == "analytic":
            psi = (
                2.0 * _global_influence(f_full, e_full, n_ent)
                - 0.5 * _global_influence(f1, e1, n_ent)
                - 0.5 * _global_influence(f2, e2, n_ent)
            )
            cov = psi.T @ psi
            se_method = "stacked_cluster_entity"
        else:
            rng = np.random.default_rng(seed)
            order = np.argsort(ent, kind="stable")
            ys_o, xs_o, ent_o, per_o, halves_o = ys[order], xs[order], ent[order], per[order], halves[order]
            counts = np.bincount(ent_o, minlength=n_ent)
            starts = np.cumsum(counts) - counts
            draws = np.empty((n_boot, len(terms)))
            for b in range(n_boot):
                rows, new_ent = _resample_rows(rng, starts, counts, n_ent)
                draws[b] = _hpj_point(ys_o[rows], xs_o[rows], new_ent, per_o[rows], n_ent, halves_o[rows])[0]
            cov = np.cov(draws, rowvar=False)
            extra["bootstrap_draws"] = pd.DataFrame(draws, columns=terms)
            se_method = f"cluster_bootstrap_entity_{n_boot}"
        fits["hpj"] = _mk("hpj", est, cov, len(ys), n_ent, len(per_u), se_method, extra)

    if "anderson_hsiao" in estimators:
        keep_ent = np.zeros(len(prep.entity_labels), dtype=bool)
        keep_ent[ent_u] = True
        ylag2 = prep.lag(y, 2)
        xlag = np.column_stack([prep.lag(x[:, j], 1) for j in range(x.shape[1])])
        dy = y - ylag
        dylag = ylag - ylag2
        dx = x - xlag
        ok_ah = keep_ent[prep.entity_codes] & np.isfinite(dy) & np.isfinite(dylag) & np.isfinite(dx).all(axis=1)
        if ok_ah.sum() < len(terms) + 2:
            raise ValueError("too few rows for Anderson-Hsiao (needs three consecutive periods)")
        a_ent_u, a_ent = _dense(prep.entity_codes[ok_ah])
        a_per_u, a_per = _dense(prep.period[ok_ah])
        n_pa = len(a_per_u)
        stack = np.column_stack([dy[ok_ah], dylag[ok_ah], ylag2[ok_ah], dx[ok_ah]])
        stack = _demean_by(a_per, n_pa, stack)
        d_y, d_ylag, z_inst, d_x = stack[:, 0], stack[:, 1:2], stack[:, 2:3], stack[:, 3:]
        w = np.column_stack([d_ylag, d_x])
        z = np.column_stack([z_inst, d_x])
        params, cov, _ = _two_sls_clustered(d_y, w, z, a_ent, len(a_ent_u), n_pa)
        # first stage strength of the excluded instrument (cluster-robust Wald F, one instrument)
        zz_inv = np.linalg.inv(z.T @ z)
        pi = zz_inv @ (z.T @ d_ylag[:, 0])
        v = d_ylag[:, 0] - z @ pi
        s = cluster_sums(a_ent, len(a_ent_u), z * v[:, None])
        g_n = len(a_ent_u)
        n_ah = len(d_y)
        scale = g_n / (g_n - 1) * (n_ah - 1) / (n_ah - z.shape[1] - n_pa)
        cov_pi = scale * zz_inv @ (s.T @ s) @ zz_inv
        f_first = float(pi[0] ** 2 / cov_pi[0, 0])
        fits["anderson_hsiao"] = _mk(
            "anderson_hsiao",
            params,
            cov,
            n_ah,
            len(a_ent_u),
            n_pa,
            "cluster_entity_cr1_stata",
            {"first_stage_F": f_first, "first_stage_coef": float(pi[0])},
        )

    # pre-adoption mean of the outcome over the input rows
    pre_mean = None
    if adoption is not None:
        yy = pd.to_numeric(df[outcome], errors="coerce")
        aa = pd.to_numeric(df[adoption], errors="coerce")
        sel = yy.notna() & (aa == 0)
        pre_mean = float(yy[sel].mean()) if sel.any() else None

    table, summary = _tabulate(fits, terms, lag_term, regressors, adoption, pre_mean, level)
    primary = "hpj" if "hpj" in fits else next(iter(fits))
    summary.update(
        {
            "outcome": outcome,
            "regressors": regressors,
            "entity": entity,
            "time": time,
            "primary": primary,
            "adoption": adoption,
            "pre_adoption_mean": pre_mean,
            "level": level,
        }
    )
    if "twfe" in fits and "hpj" in fits:
        b_hpj = float(fits["hpj"].params[lag_term])
        t_per = fits["twfe"].n_obs / max(fits["twfe"].n_entities, 1)
        summary["nickell"] = {
            "twfe_minus_hpj_beta": float(fits["twfe"].params[lag_term]) - b_hpj,
            "predicted_bias_ar1": -(1.0 + b_hpj) / (t_per - 1.0),
            "mean_periods_per_entity": t_per,
        }
    return DynamicPanelResult(
        table=table,
        summary=summary,
        fits=fits,
        outcome=outcome,
        regressors=regressors,
        lag_term=lag_term,
        adoption=adoption,
        pre_adoption_mean=pre_mean,
        primary=primary,
        level=level,
    )


def _tabulate(fits, terms, lag_term, regressors, adoption, pre_mean, level):
    zcrit = float(stats.norm.ppf(0.5 + level / 2))
    rows = []
    summary: dict[str, Any] = {"estimators": {}}
    for name, f in fits.items():
        se = f.std_errors
        beta = float(f.params[lag_term])
        vb = float(f.cov.loc[lag_term, lag_term])
        est_sum: dict[str, Any] = {
            "n_obs": f.n_obs,
            "n_entities": f.n_entities,
            "n_periods": f.n_periods,
            "se_method": f.se_method,
            "gamma": {},
            "long_run": {},
        }
        for term in terms:
            b = float(f.params[term])
            s = float(se[term])
            row = {
                "estimator": name,
                "term": term,
                "estimate": b,
                "std_error": s,
                "ci_low": b - zcrit * s,
                "ci_high": b + zcrit * s,
                "pvalue": float(2 * stats.norm.sf(abs(b / s))) if s > 0 else np.nan,
                "lr_estimate": np.nan,
                "lr_std_error": np.nan,
                "lr_ci_low": np.nan,
                "lr_ci_high": np.nan,
                "pct_of_pre_mean": np.nan,
                "lr_pct_of_pre_mean": np.nan,
                "lr_pct_ci_low": np.nan,
                "lr_pct_ci_high": np.nan,
                "n_obs": f.n_obs,
                "n_entities": f.n_entities,
                "n_periods": f.n_periods,
            }
            coef = {"estimate": b, "std_error": s, "ci_low": row["ci_low"], "ci_high": row["ci_high"]}
            if term == lag_term:
                est_sum["beta"] = coef
            else:
                lr, lr_se = long_run_effect(b, beta, float(f.cov.loc[term, term]), vb, float(f.cov.loc[term, lag_term]))
                row.update(
                    lr_estimate=lr,
                    lr_std_error=lr_se,
                    lr_ci_low=lr - zcrit * lr_se,
                    lr_ci_high=lr + zcrit * lr_se,
                )
                est_sum["gamma"][term] = coef
                est_sum["long_run"][term] = {
                    "estimate": lr,
                    "std_error": lr_se,
                    "ci_low": row["lr_ci_low"],
                    "ci_high": row["lr_ci_high"],
                }
                if term == adoption and pre_mean:
                    row.update(
                        pct_of_pre_mean=100 * b / pre_mean,
                        lr_pct_of_pre_mean=100 * lr / pre_mean,
                        lr_pct_ci_low=100 * min(row["lr_ci_low"] / pre_mean, row["lr_ci_high"] / pre_mean),
                        lr_pct_ci_high=100 * max(row["lr_ci_low"] / pre_mean, row["lr_ci_high"] / pre_mean),
                    )
                    est_sum["full_adoption"] = {
                        "short_run_pct_of_pre_mean": row["pct_of_pre_mean"],
                        "long_run_pct_of_pre_mean": row["lr_pct_of_pre_mean"],
                        "long_run_pct_ci_low": row["lr_pct_ci_low"],
                        "long_run_pct_ci_high": row["lr_pct_ci_high"],
                    }
            rows.append(row)
        if "first_stage_F" in f.extra:
            est_sum["first_stage_F"] = f.extra["first_stage_F"]
        summary["estimators"][name] = est_sum
    return pd.DataFrame(rows), summary
