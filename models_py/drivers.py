"""Drivers of CTS-SW: a linear mixed model with a Mundlak within/between decomposition.

Model
-----
For team i in week t, with ``y = log(cts_sw_usd)`` (default) and drivers ``x_1..x_K``::

    y_it = mu + sum_k bW_k (x_kit - xbar_ki) + sum_k bB_k xbar_ki + time terms + u_i + e_it,
    u_i ~ N(0, s2_team),  e_it ~ N(0, s2_resid)

fitted by REML with ``statsmodels.MixedLM`` (random intercept by team; optionally random slopes, e.g.
``random_slopes=("cr_velocity",)`` adds ``u1_i (x_velocity,it - xbar_velocity,i)`` with ``(u_i, u1_i)``
bivariate normal: teams may differ in how much a unit of velocity lowers their CTS-SW. With random
slopes the MixedLM within coefficient of that driver is a GLS average of team slopes and no longer
equals the fixed-effects one exactly; the sensitivity ranking keeps using the FE coefficients and the
MixedLM estimate and the slope variance are reported alongside).

* **Log outcome.** CTS-SW is a positive ratio (dollars per unit), right-skewed, and its drivers act
  multiplicatively (a team that delivers 10% more units for the same cost has 10% lower CTS-SW
  whatever its level). On the log scale ``100 (exp(b) - 1)`` is the % change of CTS-SW per unit of
  a driver, comparable across teams of very different size and cost; ``log_outcome=False`` fits
  the level instead. Rows with a missing or non-positive outcome are dropped (the panel never has
  infinite CTS-SW: weeks with no unit have a null outcome).
* **Mundlak decomposition.** ``x - xbar_i`` (within) and ``xbar_i`` (between; team means over the
  estimation rows). The within terms sum to zero within every team, so they are orthogonal to
  the random intercept and to every team-level term under the GLS metric, and their coefficients
  equal the fixed-effects (team dummies) estimates exactly, whatever the variance components;
  the between coefficients carry the cross-team association, which is confounded by anything
  that differs between teams. The within coefficients are the ones to read causally-ish and
  the ones the sensitivity analysis uses. The results also report team-clustered standard errors
  of the within coefficients from the equivalent fixed-effects regression, identical to
  ``PanelOLS(entity_effects=True, time_effects=<week>).fit(cov_type="clustered",
  cluster_entity=True)`` (robust to heteroskedasticity and serial correlation within a team, which
  the MixedLM standard errors are not); the sensitivity intervals use them.
* **Time.** ``time_effects="week"`` (default) gives week fixed effects: every variable (outcome
  and drivers) has its week effects removed, taken from its own exact two-way (team + week)
  decomposition ``v_it = a_i + d_t + r_it``; the Mundlak within term of ``v - d_t`` is then the
  two-way residual ``r_it``, so the within coefficients equal the two-way fixed-effects
  (team and week dummies) coefficients exactly, also in unbalanced panels (in a balanced panel
  ``d_t`` is just the week mean, centred). ``"trend"`` instead adds a linear trend (in years) as a
  fixed effect, decomposed like a driver so that the within coefficients stay exactly FE with a
  trend; ``"none"`` has no time terms.

Shared denominator
------------------
For teams whose delivery unit is the deployment, CTS-SW is ``dev_cost / deployments`` while
``interventions_per_deploy`` and ``rollback_rate`` divide by ``deployment_attempts`` (the
successful non-rollback deployments plus the failed and rolled-back attempts), and
``deploy_velocity`` divides deployments by builders. A week with few deployments mechanically
raises both CTS-SW and the per-deploy ratios (and a rolled-back attempt is one deployment fewer),
so their correlation would be partly an identity, not a driver. ``shared_denominator`` chooses how
to avoid it:

* ``"exclude_teams"`` (default): if any deployment-denominator driver (``interventions_per_deploy``,
  ``rollback_rate``, ``deploy_velocity``, ``dora_change_failure_rate``,
  ``dora_deployment_frequency``) is in the model, drop the teams whose ``delivery_unit`` is
  ``"deployment"`` - all their rows. The remaining teams' units (shipped PRs, commits reaching
  customers) are not counts of deployment attempts, so no driver and the outcome share a
  denominator. The dropped teams are listed in the result. Needs the ``delivery_unit`` column.
  The price is external validity: the estimates describe the PR- and commit-unit teams (about a
  third of the simulated org, where services dominate).
* ``"per_builder"``: keep every team and replace the per-deploy ratios, for all teams, by
  per-builder-week counts: ``interventions_per_deploy -> manual_interventions / builder_fte``
  (term ``interventions_per_builder_week``) and ``rollback_rate -> rollbacks / builder_fte``
  (``rollbacks_per_builder_week``); the deployment count then appears in no driver. These
  measure the volume of deployment friction per builder rather than its rate, and volume is
  itself confounded with output (a team that deploys more also has more interventions and
  more units, so the coefficient can turn negative). Needs
  ``manual_interventions``, ``rollbacks`` and ``builder_fte``; ``deploy_velocity`` cannot be
  rewritten and raises ValueError.
* ``"ignore"``: use the drivers as they are (for comparison).

``cr_velocity`` (PRs merged per builder FTE) shares the builder FTE with the cost in the numerator
of CTS-SW; it is not a shared denominator of the kind above and is kept, but note that for teams
that deliver PRs, the outcome's unit (shipped PRs) and velocity's numerator (merged PRs) are
closely related, which is part of why velocity is the strongest driver.

Sensitivity
-----------
For each driver, the change in CTS-SW for a one within-team standard deviation increase
(``sd_w = sqrt(sum (x - xbar_i)^2 / (n - n_teams))``, the pooled within-team SD): ``pct_change =
100 (exp(bW sd_w) - 1)`` and ``usd_change = median_team_cts * pct_change / 100``, where
``median_team_cts`` is the median over teams of each team's median CTS-SW. For a level outcome,
``usd_change = bW sd_w`` and ``pct_change = 100 usd_change / median_team_cts``. Drivers are ranked
by ``|pct_change|``. CIs come from the team-clustered FE standard error of ``bW`` (monotone
transformation of its normal CI). ``partial_r2`` is the share of the residual within-team sum of
squares (after the other drivers and the time terms) that the driver's within term explains:
``(SSR_without - SSR_full) / SSR_without`` in the FE regression.

With ``n_boot > 0`` the teams are resampled with replacement (cluster bootstrap) and the FE within
coefficients, within SDs, median team CTS-SW and the sensitivities are recomputed; the result
adds percentile CIs (``boot_pct_ci_low/high``, ``boot_usd_ci_low/high``), the share of replications in
which each driver ranks first (``boot_top_share``), its most frequent rank and that rank's share
(``boot_rank_mode``, ``boot_rank_mode_prob``) and the full table of rank probabilities
(``rank_probabilities``: every driver's probability of every rank). The MixedLM is not refitted in
the bootstrap (its within coefficients equal the FE ones), and the week effects removed from the
variables are those of the full sample.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.regression.mixed_linear_model import MixedLM

from models_py.panel_fe import TwoWayProjector, cluster_sums

__all__ = [
    "DEFAULT_DRIVERS",
    "DEPLOYMENT_DENOMINATOR_DRIVERS",
    "DriversResult",
    "fit_drivers",
]

DEFAULT_DRIVERS = (
    "cr_velocity",
    "rollback_rate",
    "interventions_per_deploy",
    "pages_per_oncall_builder",
    "ai_usage_share",
)
DEPLOYMENT_DENOMINATOR_DRIVERS = (
    "interventions_per_deploy",
    "rollback_rate",
    "deploy_velocity",
    "dora_change_failure_rate",
    "dora_deployment_frequency",
)
_PER_BUILDER = {
    "interventions_per_deploy": ("manual_interventions", "interventions_per_builder_week"),
    "rollback_rate": ("rollbacks", "rollbacks_per_builder_week"),
}


@dataclass
class DriversResult:
    """Result of :func:`fit_drivers`.

    * ``coefficients``: one row per fixed-effect term of the MixedLM (``term, component`` in
      {"intercept", "within", "between", "time"}, ``driver``, ``estimate, std_error, ci_low,
      ci_high, pvalue``) plus, for the within terms, ``fe_estimate`` and ``fe_std_error`` (team
      clustered, CR1) from the equivalent fixed-effects regression.
    * ``sensitivity``: one row per driver, ranked (``rank`` 1 = largest |pct_change|):
      ``driver, within_coef, within_coef_se, within_sd, pct_change, pct_ci_low, pct_ci_high,
      usd_change, usd_ci_low, usd_ci_high, partial_r2, rank`` (+ bootstrap columns).
    * ``variance_components``: ``team_var, residual_var, icc`` (+ ``slope_var_<driver>`` with random slopes).
    * ``rank_probabilities`` (with ``n_boot > 0``): ``driver, rank, probability`` - the share of the
      bootstrap replications in which the driver has that rank.
    * ``summary``: JSON-friendly dict; ``mixedlm``: the statsmodels results object.
    * ``dropped_drivers``: drivers left out because they have no data or one value where the outcome is known
      (a source that cannot measure on-call, say): an unmeasured driver is not ranked, rather than ranked on zeros.
    """

    coefficients: pd.DataFrame
    sensitivity: pd.DataFrame
    variance_components: dict[str, float]
    summary: dict[str, Any]
    drivers: list[str]
    outcome: str
    log_outcome: bool
    n_obs: int
    n_teams: int
    dropped_teams: list[Any] = field(default_factory=list)
    dropped_drivers: dict[str, str] = field(default_factory=dict)  # driver -> why it cannot be ranked
    mixedlm: Any = None
    frame: pd.DataFrame | None = None
    rank_probabilities: pd.DataFrame | None = None


def _team_demean(codes: np.ndarray, n_groups: int, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cnt = np.bincount(codes, minlength=n_groups).astype(float)
    means = cluster_sums(codes, n_groups, a) / cnt[:, None]
    return a - means[codes], means


def _ols_cluster(y, x, codes, n_groups, n_absorbed: int = 0):
    """OLS with cluster covariance scaled by n / (n - k - n_absorbed) (PanelOLS ``debiased=True``)."""
    xtx_inv = np.linalg.inv(x.T @ x)
    b = xtx_inv @ (x.T @ y)
    e = y - x @ b
    s = cluster_sums(codes, n_groups, x * e[:, None])
    n, k = x.shape
    cov = n / (n - k - n_absorbed) * xtx_inv @ (s.T @ s) @ xtx_inv
    return b, (cov + cov.T) / 2, e


def _apply_shared_denominator(d, drivers, mode, entity, delivery_unit, builder_fte):
    dropped: list[Any] = []
    shared = [c for c in drivers if c in DEPLOYMENT_DENOMINATOR_DRIVERS]
    if mode == "ignore" or not shared:
        return d, list(drivers), dropped
    if mode == "exclude_teams":
        if delivery_unit not in d.columns:
            raise ValueError(
                f"shared_denominator='exclude_teams' needs the {delivery_unit!r} column "
                f"(drivers {shared} share the deployment denominator); use 'per_builder' or 'ignore'"
            )
        is_dep = d[delivery_unit].astype("string").str.lower().eq("deployment").fillna(False)
        dep_teams = pd.unique(d.loc[is_dep.to_numpy(), entity])
        dropped = list(dep_teams)
        d = d[~d[entity].isin(dep_teams)]
        return d, list(drivers), dropped
    if mode == "per_builder":
        new = []
        for c in drivers:
            if c in _PER_BUILDER:
                num, name = _PER_BUILDER[c]
                for col in (num, builder_fte):
                    if col not in d.columns:
                        raise ValueError(f"shared_denominator='per_builder' needs column {col!r}")
                fte = pd.to_numeric(d[builder_fte], errors="coerce")
                d = d.assign(**{name: pd.to_numeric(d[num], errors="coerce") / fte.where(fte > 0)})
                new.append(name)
            elif c in DEPLOYMENT_DENOMINATOR_DRIVERS:
                raise ValueError(f"driver {c!r} cannot be rewritten per builder; drop it or use 'exclude_teams'")
            else:
                new.append(c)
        return d, new, dropped
    raise ValueError("shared_denominator must be 'exclude_teams', 'per_builder' or 'ignore'")


def _unidentified_drivers(df: pd.DataFrame, outcome: str, drivers: Sequence[str]) -> dict[str, str]:
    """Drivers with no data or a single value on the rows with an outcome: no within-team variation to rank."""
    known = pd.to_numeric(df[outcome], errors="coerce").notna()
    out = {}
    for c in drivers:
        values = pd.to_numeric(df.loc[known, c], errors="coerce").dropna()
        if values.empty:
            out[c] = "no data"
        elif values.nunique() == 1:
            out[c] = f"constant ({values.iloc[0]:g})"
    return out


def _fit_mixedlm(model: MixedLM, reml: bool):
    """Fit, trying optimisers in turn until the fit is usable (finite likelihood and standard errors).

    statsmodels' L-BFGS can stop at the zero-variance boundary with an infinite REML likelihood
    and undefined standard errors; BFGS, then Nelder-Mead and Powell, are tried in that order.
    """
    last = None
    messages: list[str] = []
    for method in ("bfgs", "lbfgs", "nm", "powell"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                res = model.fit(reml=reml, method=method)
            except (np.linalg.LinAlgError, ValueError) as exc:  # pragma: no cover - optimiser failure
                messages.append(f"{method}: {exc}")
                continue
        msgs = [str(w.message) for w in caught if "onverge" in str(w.message) or "boundary" in str(w.message)]
        with np.errstate(invalid="ignore"):
            bse = np.asarray(res.bse_fe, dtype=float)
        usable = np.isfinite(res.llf) and np.isfinite(bse).all() and bool(getattr(res, "converged", True))
        last = (res, messages + msgs)
        if usable:
            return res, messages + msgs
        messages.append(f"{method}: unusable fit (llf={res.llf})")
    if last is None:  # pragma: no cover
        raise RuntimeError("MixedLM could not be fitted: " + "; ".join(messages))
    return last


def fit_mixed_model(
    y: np.ndarray | pd.Series,
    exog: pd.DataFrame,
    groups: np.ndarray,
    exog_re: np.ndarray | pd.DataFrame | None = None,
    *,
    reml: bool = True,
):
    """``statsmodels.MixedLM`` fitted the way :func:`fit_drivers` does (optimisers tried in turn).

    ``exog_re`` None = random intercept only; otherwise its columns are the random-effects design
    (include a column of ones for a random intercept), e.g. ``lme4``'s ``(1 + x | g)``. Returns
    ``(results, warnings)``.
    """
    model = MixedLM(pd.Series(np.asarray(y, dtype=float), name="y"), exog, groups=groups, exog_re=exog_re)
    return _fit_mixedlm(model, reml)


def fit_drivers(
    df: pd.DataFrame,
    outcome: str = "cts_sw_usd",
    drivers: Sequence[str] = DEFAULT_DRIVERS,
    entity: str = "team_id",
    time: str = "week_start",
    *,
    log_outcome: bool = True,
    time_effects: str = "week",
    shared_denominator: str = "exclude_teams",
    delivery_unit: str = "delivery_unit",
    builder_fte: str = "builder_fte",
    reml: bool = True,
    random_slopes: Sequence[str] = (),
    n_boot: int = 0,
    seed: int | None = 0,
    level: float = 0.95,
) -> DriversResult:
    """Fit the Mundlak random-intercept model of CTS-SW on its drivers and rank the drivers.

    See the module docstring for the model, the shared-denominator handling and the sensitivity
    definitions. ``time_effects`` is ``"week"``, ``"trend"`` or ``"none"``. ``random_slopes`` lists
    drivers (e.g. ``("cr_velocity",)``) whose within term also gets a random slope by team, correlated
    with the random intercept (lme4's ``(1 + x_within | team)``).
    """
    if time_effects not in ("week", "trend", "none"):
        raise ValueError("time_effects must be 'week', 'trend' or 'none'")
    drivers = list(drivers)
    if not drivers:
        raise ValueError("at least one driver is needed")
    missing = [c for c in [entity, time, outcome, *drivers] if c not in df.columns]
    if missing:
        raise KeyError(f"columns not in the frame: {missing}")
    dropped_drivers = _unidentified_drivers(df, outcome, drivers)
    drivers = [c for c in drivers if c not in dropped_drivers]
    if not drivers:
        raise ValueError("no driver varies: " + "; ".join(f"{c}: {why}" for c, why in dropped_drivers.items()))
    extra_cols = [c for c in (delivery_unit, builder_fte, "manual_interventions", "rollbacks") if c in df.columns]
    cols = list(dict.fromkeys([entity, time, outcome, *drivers, *extra_cols]))
    d = df[cols]
    d, terms, dropped = _apply_shared_denominator(d, drivers, shared_denominator, entity, delivery_unit, builder_fte)

    yv = pd.to_numeric(d[outcome], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    xv = np.column_stack([pd.to_numeric(d[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan) for c in terms])
    ok = np.isfinite(yv) & np.isfinite(xv).all(axis=1) & d[entity].notna().to_numpy() & d[time].notna().to_numpy()
    if log_outcome:
        ok &= yv > 0
    d = d.loc[ok]
    y_raw = yv[ok]
    x = xv[ok]
    if len(d) == 0:
        raise ValueError("no complete rows")
    y = np.log(y_raw) if log_outcome else y_raw.copy()
    team_codes, team_labels = pd.factorize(d[entity])
    team_codes = team_codes.astype(np.int64)
    n_teams = len(team_labels)
    if n_teams < 3:
        raise ValueError("need at least 3 teams")
    week_codes, week_labels = pd.factorize(d[time], sort=True)
    week_codes = week_codes.astype(np.int64)
    n_weeks = len(week_labels)

    yx = np.column_stack([y, x])
    time_terms: list[str] = []
    if time_effects == "week":
        # remove each variable's week effects from its own two-way (team + week) decomposition
        _, _, week_part = TwoWayProjector(team_codes, week_codes, n_entities=n_teams, n_periods=n_weeks).decompose(yx)
        yx = yx - week_part
    elif time_effects == "trend":
        tt = pd.Series(d[time])
        if pd.api.types.is_datetime64_any_dtype(tt.dtype):
            trend = ((tt - tt.min()) / pd.Timedelta(days=365.25)).to_numpy(dtype=float)
        else:
            trend = week_codes.astype(float) / 52.18
        yx = np.column_stack([yx, trend])
        time_terms = ["trend_years"]

    within, means = _team_demean(team_codes, n_teams, yx)
    y_c = yx[:, 0]
    w_x = within[:, 1:]  # within terms of drivers (+ trend)
    b_x = means[team_codes][:, 1:]  # between terms
    all_terms = [*terms, *time_terms]
    w_names = [f"{t}_within" for t in all_terms]
    b_names = [f"{t}_between" for t in all_terms]
    exog_names = ["intercept", *w_names, *b_names]
    exog = pd.DataFrame(np.column_stack([np.ones(len(y_c)), w_x, b_x]), columns=exog_names)

    # ---- mixed model
    random_slopes = list(random_slopes)
    bad = [r for r in random_slopes if r not in drivers]
    if bad:
        raise ValueError(f"random slopes {bad} are not drivers")
    slope_terms = [terms[drivers.index(r)] for r in random_slopes]
    exog_re = None
    if slope_terms:
        exog_re = pd.DataFrame(np.column_stack([np.ones(len(y_c)), *(w_x[:, terms.index(t)] for t in slope_terms)]),
                               columns=["intercept", *(f"{t}_within" for t in slope_terms)])
    res, conv_warnings = fit_mixed_model(y_c, exog, team_codes, exog_re, reml=reml)
    fe = np.asarray(res.fe_params)
    bse = np.asarray(res.bse_fe)
    cov_re = np.asarray(res.cov_re)
    team_var = float(cov_re[0, 0])
    slope_vars = {f"slope_var_{t}": float(cov_re[j + 1, j + 1]) for j, t in enumerate(slope_terms)}
    resid_var = float(res.scale)
    icc = team_var / (team_var + resid_var) if team_var + resid_var > 0 else float("nan")
    zcrit = float(stats.norm.ppf(0.5 + level / 2))

    # ---- equivalent FE regression (team-demeaned outcome on within terms), team-clustered
    y_w = within[:, 0]
    # PanelOLS' default small-sample factor: two effects are counted (N + T - 1), a single team
    # effect nested in the team clusters is not
    n_absorbed = n_teams + n_weeks - 1 if time_effects == "week" else 0
    fe_b, fe_cov, _ = _ols_cluster(y_w, w_x, team_codes, n_teams, n_absorbed)
    fe_se = np.sqrt(np.diag(fe_cov))
    ssr_full = float(np.sum((y_w - w_x @ fe_b) ** 2))

    rows = []
    for j, name in enumerate(exog_names):
        if name == "intercept":
            comp, drv = "intercept", None
        elif name in w_names:
            i = w_names.index(name)
            comp, drv = ("within" if i < len(terms) else "time"), all_terms[i]
        else:
            i = b_names.index(name)
            comp, drv = ("between" if i < len(terms) else "time"), all_terms[i]
        row = {
            "term": name,
            "component": comp,
            "driver": drv,
            "estimate": fe[j],
            "std_error": bse[j],
            "ci_low": fe[j] - zcrit * bse[j],
            "ci_high": fe[j] + zcrit * bse[j],
            "pvalue": float(2 * stats.norm.sf(abs(fe[j] / bse[j]))) if bse[j] > 0 else np.nan,
            "fe_estimate": np.nan,
            "fe_std_error": np.nan,
        }
        if name in w_names:
            i = w_names.index(name)
            row["fe_estimate"], row["fe_std_error"] = fe_b[i], fe_se[i]
        rows.append(row)
    coefficients = pd.DataFrame(rows)

    # ---- sensitivity
    dof_w = len(y_w) - n_teams
    sd_w = np.sqrt((w_x**2).sum(axis=0) / dof_w)
    team_median = pd.Series(y_raw).groupby(team_codes).median()
    median_team = float(team_median.median())

    def _sens(b, sd, med):
        if log_outcome:
            pct = 100 * np.expm1(b * sd)
            usd = med * pct / 100
        else:
            usd = b * sd
            pct = 100 * usd / med
        return pct, usd

    k = len(terms)
    pct, usd = _sens(fe_b[:k], sd_w[:k], median_team)
    lo_b, hi_b = fe_b[:k] - zcrit * fe_se[:k], fe_b[:k] + zcrit * fe_se[:k]
    p1, u1 = _sens(lo_b, sd_w[:k], median_team)
    p2, u2 = _sens(hi_b, sd_w[:k], median_team)
    partial = []
    for j in range(k):
        keep = [c for c in range(w_x.shape[1]) if c != j]
        xr = w_x[:, keep]
        if xr.shape[1]:
            br = np.linalg.lstsq(xr, y_w, rcond=None)[0]
            ssr_r = float(np.sum((y_w - xr @ br) ** 2))
        else:
            ssr_r = float(np.sum(y_w**2))
        partial.append((ssr_r - ssr_full) / ssr_r if ssr_r > 0 else np.nan)
    sens = pd.DataFrame(
        {
            "driver": terms,
            "within_coef": fe_b[:k],
            "within_coef_se": fe_se[:k],
            "within_sd": sd_w[:k],
            "pct_change": pct,
            "pct_ci_low": np.minimum(p1, p2),
            "pct_ci_high": np.maximum(p1, p2),
            "usd_change": usd,
            "usd_ci_low": np.minimum(u1, u2),
            "usd_ci_high": np.maximum(u1, u2),
            "partial_r2": partial,
        }
    )

    rank_probabilities = None
    if n_boot > 0:
        rng = np.random.default_rng(seed)
        order = np.argsort(team_codes, kind="stable")
        counts = np.bincount(team_codes, minlength=n_teams)
        starts = np.cumsum(counts) - counts
        yx_o = yx[order]
        yraw_o = y_raw[order]
        draws = np.empty((n_boot, k))
        draws_usd = np.empty((n_boot, k))
        for bi in range(n_boot):
            pick = rng.integers(0, n_teams, n_teams)
            cnt = counts[pick]
            offs = np.repeat(np.cumsum(cnt) - cnt, cnt)
            rows_b = np.repeat(starts[pick], cnt) + (np.arange(int(cnt.sum())) - offs)
            codes_b = np.repeat(np.arange(n_teams), cnt)
            wb, _ = _team_demean(codes_b, n_teams, yx_o[rows_b])
            xb = wb[:, 1:]
            bb = np.linalg.lstsq(xb, wb[:, 0], rcond=None)[0]
            sdb = np.sqrt((xb**2).sum(axis=0) / (len(xb) - n_teams))
            medb = float(pd.Series(yraw_o[rows_b]).groupby(codes_b).median().median())
            draws[bi], draws_usd[bi] = _sens(bb[:k], sdb[:k], medb)
        alpha = (1 - level) / 2
        sens["boot_pct_ci_low"] = np.quantile(draws, alpha, axis=0)
        sens["boot_pct_ci_high"] = np.quantile(draws, 1 - alpha, axis=0)
        sens["boot_usd_ci_low"] = np.quantile(draws_usd, alpha, axis=0)
        sens["boot_usd_ci_high"] = np.quantile(draws_usd, 1 - alpha, axis=0)
        # rank of every driver in every replication (1 = largest |pct_change|)
        ranks = np.argsort(np.argsort(-np.abs(draws), axis=1, kind="stable"), axis=1, kind="stable") + 1
        probs = np.stack([(ranks == r).mean(axis=0) for r in range(1, k + 1)], axis=1)  # driver x rank
        sens["boot_top_share"] = probs[:, 0]
        sens["boot_rank_mode"] = probs.argmax(axis=1) + 1
        sens["boot_rank_mode_prob"] = probs.max(axis=1)
        rank_probabilities = pd.DataFrame(
            [{"driver": terms[j], "rank": r + 1, "probability": float(probs[j, r])} for j in range(k) for r in range(k)]
        )

    sens = sens.assign(abs_pct=np.abs(sens["pct_change"])).sort_values("abs_pct", ascending=False)
    sens = sens.drop(columns="abs_pct").reset_index(drop=True)
    sens["rank"] = np.arange(1, k + 1)

    vc = {"team_var": team_var, "residual_var": resid_var, "icc": icc, **slope_vars}
    summary = {
        "outcome": outcome,
        "log_outcome": log_outcome,
        "drivers": terms,
        "time_effects": time_effects,
        "shared_denominator": shared_denominator,
        "n_obs": int(len(y_c)),
        "n_teams": int(n_teams),
        "n_weeks": int(n_weeks),
        "n_dropped_teams": len(dropped),
        "dropped_drivers": dropped_drivers,
        "median_team_outcome": median_team,
        "variance_components": vc,
        "ranking": sens["driver"].tolist(),
        "top_driver": sens["driver"].iloc[0],
        "converged": bool(getattr(res, "converged", True)),
        "warnings": conv_warnings,
        "sensitivity": sens.set_index("driver")[["pct_change", "usd_change", "partial_r2", "rank"]].to_dict(
            orient="index"
        ),
    }
    frame = pd.DataFrame({entity: d[entity].to_numpy(), time: d[time].to_numpy(), "y": y_c})
    for j, t in enumerate(all_terms):
        frame[f"{t}_within"] = w_x[:, j]
        frame[f"{t}_between"] = b_x[:, j]
    return DriversResult(
        coefficients=coefficients,
        sensitivity=sens,
        variance_components=vc,
        summary=summary,
        drivers=terms,
        outcome=outcome,
        log_outcome=log_outcome,
        n_obs=int(len(y_c)),
        n_teams=int(n_teams),
        dropped_teams=dropped,
        dropped_drivers=dropped_drivers,
        mixedlm=res,
        frame=frame,
        rank_probabilities=rank_probabilities,
    )
