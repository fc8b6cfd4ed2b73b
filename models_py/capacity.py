"""Capacity freed by AI adoption: engineering-years and dollars of builder time.

This is **capacity freed**, not money saved: the builder time that the velocity gain makes
available for other work at the teams' loaded cost. Nobody's cost goes away unless headcount
changes; the dollars value the freed time.

Formula
-------
Let ``e`` be the long-run effect of full adoption on velocity (units per builder-FTE-week per unit
of ``ai_usage_share``, e.g. the HPJ estimate of ``gamma / (1 - beta)`` for ``cr_velocity``), and for
team i in week t let ``s_it`` be the adoption share, ``v_it`` the observed velocity, ``F_it`` the
builder FTE and ``C_it`` the team's dev cost (``dev_cost_usd``). Then

* velocity gained:            ``g_it = e * s_it``
* baseline (no-AI) velocity:  ``b_it`` (see ``baseline`` below)
* share of output due to AI:  ``f_it = g_it / (b_it + g_it)``
* capacity freed (builder-FTE-weeks): ``K_it = F_it * f_it``

With AI, the team produces ``F (b + g)`` units a week; producing the output it would have had
without AI, ``F b``, takes ``F b / (b + g)`` FTE, so ``F g / (b + g)`` builder-FTE-weeks are freed
each week. (This is the time freed at the AI-aided velocity; the extra builder time that would be
needed to match the AI-aided output without AI, ``F g / b``, is larger and is not what is
reported.) Totals: ``sum K_it`` FTE-weeks, ``/ weeks_per_year`` (52.18) engineering-years, and
dollars ``sum K_it * C_it / F_it = sum C_it f_it`` - freed FTE-weeks valued at the team's loaded
cost per builder-FTE-week, ``dev_cost_usd / builder_fte``. Note that ``dev_cost_usd`` includes
every role (managers, etc.), so this cost per *builder* FTE is a fully loaded team cost; pass
``cost_per_fte_week`` (a column or a number) to value the time differently.

``baseline``:

* ``"team_counterfactual"`` (default): ``b_i = mean_t(v_it) - e * mean_t(s_it)``, the team's average
  velocity with the estimated AI contribution removed (a team-level constant: weekly velocity is
  noisy and a week with few merges would otherwise make ``f`` explode).
* ``"row_counterfactual"``: ``b_it = v_it - g_it`` (so ``f_it = g_it / v_it``).
* ``"team_pre_adoption"``: the team's mean velocity over its weeks with ``s == 0``; teams without
  such weeks use ``"team_counterfactual"``.
* a number: one baseline velocity for every team.

Rows with a missing share or builder FTE, or a non-positive ``b + g``, contribute nothing and are
counted in ``n_rows_skipped``.

Uncertainty
-----------
The total is a monotone function of ``e`` for every baseline above (``dK/de`` has the sign of
``s * b``), so the interval of the total is the total evaluated at the ends of the effect's
interval: ``[K(e_lo), K(e_hi)]`` - exact for the given interval of ``e`` (a normal delta-method
interval ``e +- z se`` when ``effect_se`` is given, or ``effect_ci`` as given, e.g. the bootstrap
percentiles). Monotonicity is checked numerically on a grid; if it fails (it cannot for positive
baselines), or if ``n_sim > 0``, the interval is simulated from ``e ~ N(estimate, se^2)``.

Team-cluster bootstrap: ``long_run_bootstrap`` resamples teams with replacement and refits the HPJ
(all three regressions of the jackknife) ``n_boot`` times; ``capacity_freed(..., effect_draws=draws)``
recomputes the capacity of the actual panel at every draw and reports percentile intervals for the
total, every ``by`` group (e.g. org) and every team (``by_team=True``). The teams and their weeks are
the population being counted, so only the effect is resampled; the draws carry the joint uncertainty
of gamma and beta without the delta method's normal approximation. ``start``/``end`` restrict the sum to
any window of weeks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["CapacityResult", "capacity_freed", "capacity_from_result", "long_run_bootstrap", "WEEKS_PER_YEAR"]

WEEKS_PER_YEAR = 52.18
_MEASURES = ("capacity_freed_fte_weeks", "capacity_freed_engineering_years", "capacity_freed_usd")


@dataclass
class CapacityResult:
    """Result of :func:`capacity_freed`.

    * ``totals``: one row per measure (``capacity_freed_fte_weeks``,
      ``capacity_freed_engineering_years``, ``capacity_freed_usd``) with ``estimate, ci_low,
      ci_high``.
    * ``by_group``: if ``by`` was given, group sums with ``<measure>``, ``<measure>_ci_low``,
      ``<measure>_ci_high`` columns; else None.
    * ``rows``: per team-week ``velocity_gain, baseline_velocity, ai_output_share,
      cost_per_fte_week, capacity_freed_fte_weeks, capacity_freed_usd`` at the point estimate (0 outside
      the window).
    * ``by_team``: with ``by_team=True``, the same columns as ``by_group`` per team.
    """

    totals: pd.DataFrame
    by_group: pd.DataFrame | None
    rows: pd.DataFrame
    effect: float
    effect_ci: tuple[float, float]
    interval_method: str
    summary: dict[str, Any]
    by_team: pd.DataFrame | None = None


def _num(df: pd.DataFrame, col: str) -> np.ndarray:
    return pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


class _Calc:
    """Per-row capacity for any effect value (vectorised over rows)."""

    def __init__(self, s, v, fte, cost_w, team_codes, n_teams, baseline):
        self.s, self.v, self.fte, self.cost_w = s, v, fte, cost_w
        self.codes, self.n = team_codes, n_teams
        self.baseline = baseline
        valid_v = np.isfinite(v) & np.isfinite(s)
        cnt = np.bincount(team_codes[valid_v], minlength=n_teams).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.vbar = np.bincount(team_codes[valid_v], weights=v[valid_v], minlength=n_teams) / cnt
            self.sbar = np.bincount(team_codes[valid_v], weights=s[valid_v], minlength=n_teams) / cnt
            pre = valid_v & (s == 0)
            pcnt = np.bincount(team_codes[pre], minlength=n_teams).astype(float)
            self.vpre = np.bincount(team_codes[pre], weights=v[pre], minlength=n_teams) / pcnt

    def base(self, e: float) -> np.ndarray:
        c = self.codes
        team_cf = (self.vbar - e * self.sbar)[c]
        if self.baseline == "team_counterfactual":
            return team_cf
        if self.baseline == "row_counterfactual":
            return self.v - e * self.s
        if self.baseline == "team_pre_adoption":
            pre = self.vpre[c]
            return np.where(np.isfinite(pre), pre, team_cf)
        return np.full(self.s.shape, float(self.baseline))

    def rows(self, e: float):
        g = e * self.s
        b = self.base(e)
        denom = b + g
        with np.errstate(invalid="ignore", divide="ignore"):
            f = np.where(denom > 0, g / denom, np.nan)
        ok = np.isfinite(f) & np.isfinite(self.fte)
        k = np.where(ok, self.fte * np.where(ok, f, 0.0), 0.0)
        usd = np.where(ok & np.isfinite(self.cost_w), k * np.nan_to_num(self.cost_w), 0.0)
        return g, b, f, k, usd, ok


def capacity_freed(
    panel: pd.DataFrame,
    effect: float,
    effect_se: float | None = None,
    *,
    effect_ci: tuple[float, float] | None = None,
    effect_draws: Sequence[float] | np.ndarray | None = None,
    share: str = "ai_usage_share",
    velocity: str = "cr_velocity",
    builder_fte: str = "builder_fte",
    dev_cost: str = "dev_cost_usd",
    entity: str = "team_id",
    time: str = "week_start",
    cost_per_fte_week: str | float | None = None,
    baseline: str | float = "team_counterfactual",
    by: str | Sequence[str] | None = None,
    by_team: bool = False,
    start: Any = None,
    end: Any = None,
    level: float = 0.95,
    weeks_per_year: float = WEEKS_PER_YEAR,
    n_sim: int = 0,
    seed: int | None = 0,
) -> CapacityResult:
    """Builder capacity freed by the velocity effect ``effect`` of full AI adoption.

    ``effect`` is the long-run effect on ``velocity`` of ``share`` going from 0 to 1; its interval
    is ``effect_ci`` if given, else ``effect +- z * effect_se`` (a zero-width interval if neither
    is given). With ``effect_draws`` (e.g. the team-cluster bootstrap replications of the long-run
    effect, see :func:`long_run_bootstrap`) every interval - total, ``by`` groups and teams - is the
    percentile interval of the capacity recomputed at each draw. ``start``/``end`` restrict the sum to
    the weeks ``start <= time < end`` (any window; baselines still use all rows of each team).
    ``by_team`` adds a per-team table. See the module docstring for the formula and baselines.
    """
    if baseline not in ("team_counterfactual", "row_counterfactual", "team_pre_adoption") and not isinstance(
        baseline, (int, float)
    ):
        raise ValueError(f"unknown baseline {baseline!r}")
    zcrit = float(stats.norm.ppf(0.5 + level / 2))
    alpha = (1 - level) / 2
    effect = float(effect)
    draws = None if effect_draws is None else np.asarray(effect_draws, dtype=float)
    if draws is not None:
        draws = draws[np.isfinite(draws)]
        if draws.size < 2:
            raise ValueError("effect_draws needs at least two finite draws")
        lo, hi = (float(v) for v in np.quantile(draws, [alpha, 1 - alpha]))
        se = float(draws.std(ddof=1))
    elif effect_ci is not None:
        lo, hi = sorted(float(c) for c in effect_ci)
        se = effect_se if effect_se is not None else (hi - lo) / (2 * zcrit)
    elif effect_se is not None:
        se = float(effect_se)
        lo, hi = effect - zcrit * se, effect + zcrit * se
    else:
        se, lo, hi = 0.0, effect, effect

    s = _num(panel, share)
    v = _num(panel, velocity) if velocity in panel.columns else np.full(len(panel), np.nan)
    if baseline in ("team_counterfactual", "row_counterfactual", "team_pre_adoption") and velocity not in panel:
        raise KeyError(f"baseline {baseline!r} needs the velocity column {velocity!r}")
    fte = _num(panel, builder_fte)
    if cost_per_fte_week is None:
        with np.errstate(invalid="ignore", divide="ignore"):
            cost_w = np.where(fte > 0, _num(panel, dev_cost) / fte, np.nan)
    elif isinstance(cost_per_fte_week, str):
        cost_w = _num(panel, cost_per_fte_week)
    else:
        cost_w = np.full(len(panel), float(cost_per_fte_week))
    codes, labels = pd.factorize(panel[entity])
    codes = codes.astype(np.int64)
    if (codes < 0).any():
        raise ValueError(f"{entity} has missing values")
    calc = _Calc(s, v, fte, cost_w, codes, len(labels), baseline)
    in_window = np.ones(len(panel), dtype=bool)
    if start is not None or end is not None:
        t = pd.Series(panel[time]).reset_index(drop=True)
        if start is not None:
            in_window &= (t >= pd.Timestamp(start) if pd.api.types.is_datetime64_any_dtype(t.dtype) else t >= start)
        if end is not None:
            in_window &= (t < pd.Timestamp(end) if pd.api.types.is_datetime64_any_dtype(t.dtype) else t < end)
        in_window = np.asarray(in_window)

    def at(e: float):
        g, b, f, k, usd, ok = calc.rows(e)
        return g, b, f, np.where(in_window, k, 0.0), np.where(in_window, usd, 0.0), ok

    g, b, f, k, usd, ok = at(effect)
    rows = pd.DataFrame(
        {
            "velocity_gain": g,
            "baseline_velocity": b,
            "ai_output_share": f,
            "cost_per_fte_week": cost_w,
            "capacity_freed_fte_weeks": k,
            "capacity_freed_usd": usd,
        },
        index=panel.index,
    )
    rows.insert(0, entity, panel[entity].to_numpy())

    def totals_at(e: float) -> np.ndarray:
        _, _, _, kk, uu, _ = at(e)
        return np.array([kk.sum(), kk.sum() / weeks_per_year, uu.sum()])

    point = totals_at(effect)
    # group sums of (fte-weeks, usd) at an effect value, for any grouping codes
    group_specs: list[tuple[str, list[str], np.ndarray, pd.DataFrame]] = []
    if by is not None:
        by_cols = [by] if isinstance(by, str) else list(by)
        keys = panel[by_cols].reset_index(drop=True)
        grouped = keys.groupby(by_cols, sort=True, dropna=False)
        uniq = grouped.size().reset_index()[by_cols]
        group_specs.append(("by", by_cols, grouped.ngroup().to_numpy(dtype=np.int64), uniq))
    if by_team:
        group_specs.append(("team", [entity], codes, pd.DataFrame({entity: labels})))

    def group_sums(e: float, gcodes: np.ndarray, n: int) -> np.ndarray:
        _, _, _, kk, uu, _ = at(e)
        return np.column_stack([np.bincount(gcodes, kk, n), np.bincount(gcodes, uu, n)])

    tables: dict[str, pd.DataFrame] = {}
    if draws is not None:
        method = "bootstrap_percentile"
        sims = np.array([totals_at(e) for e in draws])
        ci_low, ci_high = np.quantile(sims, alpha, axis=0), np.quantile(sims, 1 - alpha, axis=0)
    else:
        method = "effect_ci_endpoints"
        if hi > lo:
            grid = np.linspace(lo, hi, 41)
            vals = np.array([totals_at(e) for e in grid])
            d = np.diff(vals, axis=0)
            tol = 1e-9 * np.maximum(np.abs(vals).max(axis=0), 1e-300)
            monotone = all(np.all(d[:, j] >= -tol[j]) or np.all(d[:, j] <= tol[j]) for j in range(3))
            if monotone and n_sim <= 0:
                ends = np.vstack([totals_at(lo), totals_at(hi)])
                ci_low, ci_high = ends.min(axis=0), ends.max(axis=0)
            else:
                method = "simulation"
                rng = np.random.default_rng(seed)
                sim_draws = rng.normal(effect, se, max(n_sim, 1000))
                sims = np.array([totals_at(e) for e in sim_draws])
                ci_low, ci_high = np.quantile(sims, alpha, axis=0), np.quantile(sims, 1 - alpha, axis=0)
        else:
            ci_low = ci_high = point
    for name, _cols, gcodes, keys in group_specs:
        n = len(keys)
        est = group_sums(effect, gcodes, n)
        if draws is not None:
            gs = np.stack([group_sums(e, gcodes, n) for e in draws])
            glo, ghi = np.quantile(gs, alpha, axis=0), np.quantile(gs, 1 - alpha, axis=0)
        else:
            a, c = group_sums(lo, gcodes, n), group_sums(hi, gcodes, n)
            glo, ghi = np.minimum(a, c), np.maximum(a, c)
        out = keys.copy()
        for j, m in enumerate(("capacity_freed_fte_weeks", "capacity_freed_usd")):
            out[m] = est[:, j]
            out[f"{m}_ci_low"] = glo[:, j]
            out[f"{m}_ci_high"] = ghi[:, j]
        for suf in ("", "_ci_low", "_ci_high"):
            out[f"capacity_freed_engineering_years{suf}"] = out[f"capacity_freed_fte_weeks{suf}"] / weeks_per_year
        tables[name] = out

    totals = pd.DataFrame(
        {"estimate": point, "ci_low": ci_low, "ci_high": ci_high}, index=pd.Index(_MEASURES, name="measure")
    )
    summary = {
        "label": "capacity freed (not money saved)",
        "effect": effect,
        "effect_se": se,
        "effect_ci": [lo, hi],
        "baseline": baseline,
        "level": level,
        "interval_method": method,
        "n_effect_draws": 0 if draws is None else int(draws.size),
        "window": [None if start is None else str(start), None if end is None else str(end)],
        "weeks_per_year": weeks_per_year,
        "n_rows": int(len(panel)),
        "n_rows_in_window": int(in_window.sum()),
        "n_rows_skipped": int((~ok).sum()),
        **{
            m: {"estimate": float(p), "ci_low": float(a), "ci_high": float(c)}
            for m, p, a, c in zip(_MEASURES, point, ci_low, ci_high, strict=True)
        },
    }
    return CapacityResult(
        totals=totals,
        by_group=tables.get("by"),
        rows=rows,
        effect=effect,
        effect_ci=(lo, hi),
        interval_method=method,
        summary=summary,
        by_team=tables.get("team"),
    )


def long_run_bootstrap(
    panel: pd.DataFrame,
    outcome: str = "cr_velocity",
    regressors: Sequence[str] = ("ai_usage_share", "rollback_rate", "interventions_per_deploy"),
    *,
    term: str = "ai_usage_share",
    entity: str = "team_id",
    time: str = "week_start",
    n_boot: int = 199,
    seed: int | None = 0,
    period_step: object | None = "7D",
):
    """Team-cluster bootstrap of the HPJ long-run effect ``gamma / (1 - beta)`` of ``term``.

    Returns ``(result, draws)``: the HPJ fit with bootstrap standard errors and the ``n_boot`` draws of
    the long-run effect (teams resampled with replacement, all three regressions of the jackknife
    refitted), ready for ``capacity_freed(..., effect_draws=draws)``.
    """
    from models_py.dynamic_panel import fit_dynamic_panel

    res = fit_dynamic_panel(panel, entity, time, outcome, list(regressors), ("hpj",), hpj_se="bootstrap",
                            n_boot=n_boot, seed=seed, period_step=period_step)
    b = res.fits["hpj"].extra["bootstrap_draws"]
    draws = (b[term] / (1.0 - b[f"{outcome}_lag1"])).to_numpy()
    return res, draws


def capacity_from_result(
    panel: pd.DataFrame,
    result: Any,
    *,
    estimator: str | None = None,
    term: str = "ai_usage_share",
    velocity: str | None = None,
    **kwargs: Any,
) -> CapacityResult:
    """:func:`capacity_freed` with the long-run effect of ``term`` from a ``DynamicPanelResult``.

    ``estimator`` defaults to the result's primary one (HPJ); ``velocity`` to the result's outcome.
    """
    estimator = estimator or result.primary
    row = result.row(estimator, term)
    return capacity_freed(
        panel,
        float(row["lr_estimate"]),
        float(row["lr_std_error"]),
        effect_ci=(float(row["lr_ci_low"]), float(row["lr_ci_high"])),
        share=term,
        velocity=velocity or result.outcome,
        level=result.level,
        **kwargs,
    )
