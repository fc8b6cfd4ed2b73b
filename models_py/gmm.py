"""Arellano-Bond difference GMM for ``y_it = a_i + l_t + sum_l rho_l y_i,t-l + x_it'b + e_it``.

First differences remove ``a_i``; the differenced equation of period t is instrumented by the levels
``y_i,s`` for all ``s <= t - 2`` (one instrument column per (t, s) pair, "GMM-style", missing levels set
to 0 as in Stata's ``xtabond``), by the differences of the strictly exogenous regressors and by one dummy
per period (the time effects in levels become period dummies in differences, which also span the
differenced constant). With ``Z_i``, ``X_i``, ``dy_i`` the rows of team i:

* one step: ``W1 = (sum_i Z_i' H Z_i)^-1``, ``H`` = 2 on the diagonal and -1 between consecutive periods
  (the covariance of ``Delta e`` for i.i.d. ``e``);
* ``b = (X'Z W Z'X)^-1 X'Z W Z'dy``;
* robust covariance ``(X'ZWZ'X)^-1 X'Z W (sum_i Z_i'u_i u_i'Z_i) W Z'X (X'ZWZ'X)^-1`` (no small-sample
  factor), the one of ``xtabond, vce(robust)``; the non-robust one-step covariance is
  ``sigma2 (X'Z W1 Z'X)^-1`` with ``sigma2 = u'u / (2 (n - k))`` (``u'u/(n-k)`` estimates Var(Delta e) = 2 s2);
* two step (``steps=2``): ``W2 = (sum_i Z_i'u1_i u1_i'Z_i)^-1`` from the one-step residuals; its
  conventional covariance ``(X'Z W2 Z'X)^-1`` is reported without Windmeijer's correction (it is too
  small in small samples).

It reproduces Arellano and Bond (1991), Table 4, column (a1) on their UK company panel; the main model
uses the half-panel jackknife instead (T is long, and difference GMM has T^2 instruments).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models_py.panel_prep import prepare_panel

__all__ = ["GMMResult", "fit_difference_gmm"]


@dataclass
class GMMResult:
    params: pd.Series
    cov: pd.DataFrame
    cov_nonrobust: pd.DataFrame | None
    n_obs: int
    n_entities: int
    n_instruments: int
    steps: int

    @property
    def std_errors(self) -> pd.Series:
        return pd.Series(np.sqrt(np.diag(self.cov.to_numpy())), index=self.params.index)


def fit_difference_gmm(
    df: pd.DataFrame,
    entity: str,
    time: str,
    outcome: str,
    *,
    ar_lags: int = 1,
    exog: Sequence[tuple[str, int]] = (),
    time_effects: bool = True,
    steps: int = 1,
    period_step: object | None = None,
) -> GMMResult:
    """Difference GMM; ``exog`` lists strictly exogenous terms as (column, lag) pairs, e.g. ``[("w", 0), ("w", 1)]``."""
    if steps not in (1, 2):
        raise ValueError("steps must be 1 or 2")
    cols = list(dict.fromkeys([outcome, *(c for c, _ in exog)]))
    prep = prepare_panel(df, entity, time, cols, period_step=period_step, dropna=[outcome])
    fr = prep.frame
    y = fr[outcome].to_numpy(dtype=float)
    per = prep.period

    def lag(v, k):
        return v if k == 0 else prep.lag(v, k)

    dy = y - lag(y, 1)
    names, xcols = [], []
    for l_ in range(1, ar_lags + 1):
        names.append(f"{outcome}_lag{l_}")
        xcols.append(lag(y, l_) - lag(y, l_ + 1))
    for c, k in exog:
        v = fr[c].to_numpy(dtype=float)
        names.append(c if k == 0 else f"{c}_lag{k}")
        xcols.append(lag(v, k) - lag(v, k + 1))
    dx_exog = np.column_stack(xcols[ar_lags:]) if exog else np.empty((len(y), 0))
    x = np.column_stack(xcols)
    ok = np.isfinite(dy) & np.isfinite(x).all(axis=1)
    p_first = int(per.min())
    periods = np.unique(per[ok])
    # GMM-style instruments: y_s for s <= t - 2, one column per (t, s)
    pairs = [(t, s) for t in periods for s in range(p_first, int(t) - 1)]
    col_of = {ts: j for j, ts in enumerate(pairs)}
    rows = np.flatnonzero(ok)
    n = len(rows)
    # level of y at period s for each row's entity: walk back from the row
    z_gmm = np.zeros((n, len(pairs)))
    for back in range(2, int(periods.max() - p_first) + 1):
        ys = lag(y, back)[rows]
        s = per[rows] - back
        has = np.isfinite(ys) & (s >= p_first)
        idx = [col_of[(int(t), int(ss))] for t, ss in zip(per[rows][has], s[has], strict=True)]
        z_gmm[np.flatnonzero(has), idx] = ys[has]
    z_parts = [z_gmm, dx_exog[rows]]
    x_r = x[rows]
    if time_effects:
        dummies = (per[rows][:, None] == periods[None, :]).astype(float)
        z_parts.append(dummies)
        x_r = np.column_stack([x_r, dummies])
        names = [*names, *(f"period_{int(p)}" for p in periods)]
    z = np.column_stack(z_parts)
    keep = np.abs(z).sum(axis=0) > 0
    z = z[:, keep]
    dy_r = dy[rows]
    ent = prep.entity_codes[rows]
    # one-step weight: sum_i Z_i' H Z_i with H = 2 I - (adjacent-period links)
    prev_row = np.full(n, -1)
    pos = {r: i for i, r in enumerate(rows)}
    for i, r in enumerate(rows):
        p = prep.prev[r]
        if p >= 0 and p in pos:
            prev_row[i] = pos[p]
    a = 2.0 * z.T @ z
    linked = np.flatnonzero(prev_row >= 0)
    cross = z[linked].T @ z[prev_row[linked]]
    a -= cross + cross.T
    w1 = np.linalg.pinv(a)

    def gmm(w):
        zx = z.T @ x_r
        zy = z.T @ dy_r
        m = np.linalg.inv(zx.T @ w @ zx)
        b = m @ zx.T @ w @ zy
        return b, m, zx

    b, m, zx = gmm(w1)
    u = dy_r - x_r @ b
    n_ent = int(ent.max()) + 1
    zu = np.zeros((n_ent, z.shape[1]))
    np.add.at(zu, ent, z * u[:, None])
    s_mat = zu.T @ zu
    k = x_r.shape[1]
    sigma2 = float(u @ u) / (2 * (n - k))
    cov_nonrobust = sigma2 * m
    cov = m @ zx.T @ w1 @ s_mat @ w1 @ zx @ m
    if steps == 2:
        w2 = np.linalg.pinv(s_mat)
        b, m, zx = gmm(w2)
        cov = m
        cov_nonrobust = None
    idx = pd.Index(names)
    return GMMResult(
        params=pd.Series(b, index=idx),
        cov=pd.DataFrame((cov + cov.T) / 2, index=idx, columns=idx),
        cov_nonrobust=None if cov_nonrobust is None else pd.DataFrame(cov_nonrobust, index=idx, columns=idx),
        n_obs=n,
        n_entities=int(len(np.unique(ent))),
        n_instruments=int(z.shape[1]),
        steps=steps,
    )
