"""Fast two-way fixed-effects OLS with entity-clustered standard errors (pure numpy/scipy).

The estimator is the within (TWFE) estimator of ``y_it = a_i + l_t + x_it'b + e_it``. It gives the
same coefficients and standard errors as ``linearmodels.PanelOLS(y, x, entity_effects=True,
time_effects=True).fit(cov_type="clustered", cluster_entity=True)`` with its defaults, and it runs
in O(n k) time and memory plus a small dense problem, so that 5,000 teams x 260 weeks take well
under a second.

Removing the two sets of effects
--------------------------------
The fixed effects are removed exactly, not iteratively, by the Frisch-Waugh-Lovell theorem. Let
``g`` be the effect with many levels (usually the entities, G of them) and ``h`` the one with few
levels (usually the periods, H of them); ``M_g`` is the within-``g`` demeaning and ``D_h`` the
``n x H`` dummy matrix of ``h``. The residual of a column ``a`` on both sets of dummies is

    M a = M_g a - M_g D_h (D_h' M_g D_h)^+ D_h' M_g a

``D_h' M_g D_h = diag(n_h) - C' diag(1/n_g) C``, with ``C`` the sparse ``G x H`` incidence
matrix, is an ``H x H`` matrix, and ``D_h' M_g a`` is a vector of sums by ``h``; both are bincounts.
The Moore-Penrose inverse (eigen-decomposition with a relative threshold) handles the rank
deficiency of the dummies: one dimension per connected component of the bipartite
entity-period graph, so unbalanced and even disconnected panels are handled. When both
dimensions have more than ``max_dense`` levels, the projection falls back to alternating
projections (demean by ``g``, demean by ``h``, repeat until the largest change is below ``tol``).

Covariance
----------
With ``Xt``, ``e`` the demeaned regressors and residuals and ``s_c = sum_{i in c} Xt_i e_i`` the
cluster sums of the scores, the covariance is the CR1 sandwich

    V = q (Xt'Xt)^-1 (sum_c s_c s_c') (Xt'Xt)^-1,   q = n / (n - d - k)

with ``d = N + T - 1`` the number of effects that PanelOLS counts for two-way effects. This is
PanelOLS' default small-sample correction (``debiased=True``; with two effects the effects are
always counted, ``auto_df`` notwithstanding; no ``group_debias``). ``d`` is N + T - 1 even when
the panel is disconnected, as in PanelOLS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

__all__ = [
    "TwoWayProjector",
    "TWFEFit",
    "cluster_sums",
    "factorize",
    "fit_twfe",
]


def factorize(values: np.ndarray | pd.Series | pd.Index) -> tuple[np.ndarray, int]:
    """Integer codes 0..K-1 (in order of first appearance) and K. Missing values are not allowed."""
    codes, uniques = pd.factorize(np.asarray(values) if not isinstance(values, pd.Series) else values)
    if (codes < 0).any():
        raise ValueError("identifier has missing values")
    return codes.astype(np.int64, copy=False), len(uniques)


def _group_sums(codes: np.ndarray, n_groups: int, a: np.ndarray) -> np.ndarray:
    """Sums of the columns of ``a`` (n x k) by group code: (n_groups x k)."""
    out = np.empty((n_groups, a.shape[1]))
    for j in range(a.shape[1]):  # loop over columns only (k is small)
        out[:, j] = np.bincount(codes, weights=a[:, j], minlength=n_groups)
    return out


def cluster_sums(codes: np.ndarray, n_groups: int, scores: np.ndarray) -> np.ndarray:
    """Cluster sums of the scores (n x k) -> (n_groups x k)."""
    return _group_sums(codes, n_groups, scores)


class TwoWayProjector:
    """Residualises columns on two sets of dummies (entity and time effects), exactly.

    Parameters
    ----------
    entity_codes, time_codes : int arrays of codes 0..N-1 and 0..T-1 (one per observation).
    method : "auto" (exact FWL on the smaller dimension unless both dimensions exceed
        ``max_dense`` levels), "exact" or "alternating".
    tol, max_iter : convergence of the alternating projections (largest absolute change,
        relative to the scale of the column).
    """

    def __init__(
        self,
        entity_codes: np.ndarray,
        time_codes: np.ndarray,
        *,
        n_entities: int | None = None,
        n_periods: int | None = None,
        method: str = "auto",
        max_dense: int = 4000,
        tol: float = 1e-13,
        max_iter: int = 100_000,
    ) -> None:
        self.entity_codes = np.asarray(entity_codes, dtype=np.int64)
        self.time_codes = np.asarray(time_codes, dtype=np.int64)
        self.n_entities = int(n_entities if n_entities is not None else self.entity_codes.max() + 1)
        self.n_periods = int(n_periods if n_periods is not None else self.time_codes.max() + 1)
        self.n_obs = self.entity_codes.shape[0]
        self.tol = tol
        self.max_iter = max_iter
        if self.n_entities >= self.n_periods:
            self._g, self._G, self._h, self._H = (self.entity_codes, self.n_entities, self.time_codes, self.n_periods)
        else:
            self._g, self._G, self._h, self._H = (self.time_codes, self.n_periods, self.entity_codes, self.n_entities)
        self._n_g = np.bincount(self._g, minlength=self._G).astype(float)
        self._n_h = np.bincount(self._h, minlength=self._H).astype(float)
        if (self._n_g == 0).any() or (self._n_h == 0).any():
            raise ValueError("codes must be dense (every level observed)")
        if method == "auto":
            method = "exact" if self._H <= max_dense else "alternating"
        if method not in ("exact", "alternating"):
            raise ValueError(f"unknown method {method!r}")
        self.method = method
        if method == "exact":
            if self._G * self._H <= 20_000_000:  # dense incidence matrix (<= 160 MB): BLAS
                c = (
                    np.bincount(self._g * self._H + self._h, minlength=self._G * self._H)
                    .astype(float)
                    .reshape(self._G, self._H)
                )
                ctwc = (c / self._n_g[:, None]).T @ c
            else:
                c = sparse.csr_matrix((np.ones(self.n_obs), (self._g, self._h)), shape=(self._G, self._H))
                ctwc = (c.T @ (sparse.diags(1.0 / self._n_g) @ c)).toarray()
            self._c = c
            m = np.diag(self._n_h) - ctwc
            m = (m + m.T) / 2
            w, v = np.linalg.eigh(m)
            keep = w > max(w.max(), 1.0) * 1e-10
            self.rank_h = int(keep.sum())
            self._m_pinv = (v[:, keep] / w[keep]) @ v[:, keep].T
        else:
            self.rank_h = None

    def residualize(self, a: np.ndarray) -> np.ndarray:
        """Residuals of the columns of ``a`` (n x k, or n) on both sets of dummies."""
        return self.decompose(a)[0]

    def decompose(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Split ``a = resid + entity_part + time_part`` (row-level arrays of the shape of ``a``).

        ``entity_part`` is constant within an entity and ``time_part`` within a period: the fitted
        entity and time effects of the two-way regression of each column on the dummies (their
        split is unique up to a constant per connected component).
        """
        a = np.asarray(a, dtype=float)
        one_d = a.ndim == 1
        if one_d:
            a = a[:, None]
        if self.method == "exact":
            resid, g_part, h_part = self._exact(a)
        else:
            resid, g_part, h_part = self._alternating(a)
        if self._g is self.entity_codes:
            ent_part, time_part = g_part, h_part
        else:
            ent_part, time_part = h_part, g_part
        if one_d:
            return resid[:, 0], ent_part[:, 0], time_part[:, 0]
        return resid, ent_part, time_part

    def _exact(self, a: np.ndarray):
        g, h = self._g, self._h
        m_g = _group_sums(g, self._G, a) / self._n_g[:, None]
        a1 = a - m_g[g]
        r = _group_sums(h, self._H, a1)  # D_h' M_g a
        delta = self._m_pinv @ r  # H x k
        cd = np.asarray(self._c @ delta) / self._n_g[:, None]  # G x k
        resid = a1 - (delta[h] - cd[g])
        return resid, (m_g - cd)[g], delta[h]

    def _alternating(self, a: np.ndarray):
        g, h = self._g, self._h
        out = a.copy()
        eff_g = np.zeros((self._G, a.shape[1]))
        eff_h = np.zeros((self._H, a.shape[1]))
        scale = np.maximum(np.abs(a).max(axis=0), 1.0)
        for _ in range(self.max_iter):
            m_g = _group_sums(g, self._G, out) / self._n_g[:, None]
            out -= m_g[g]
            eff_g += m_g
            m_h = _group_sums(h, self._H, out) / self._n_h[:, None]
            out -= m_h[h]
            eff_h += m_h
            if (np.abs(m_h).max(axis=0) / scale).max() < self.tol:
                break
        else:  # pragma: no cover - pathological designs
            raise RuntimeError("alternating projections did not converge")
        return out, eff_g[g], eff_h[h]


@dataclass
class TWFEFit:
    """A two-way fixed-effects OLS fit.

    ``params`` and ``cov`` are arrays in the column order of the regressors; ``entity_scores`` are
    the entity sums of ``Xt * e`` (one row per entity code); ``xtx_inv`` is ``(Xt'Xt)^-1`` and
    ``scale`` the small-sample factor q, so that ``cov = scale * xtx_inv @ S'S @ xtx_inv``.
    """

    params: np.ndarray
    cov: np.ndarray
    xtx_inv: np.ndarray
    entity_scores: np.ndarray
    scale: float
    resid: np.ndarray
    n_obs: int
    n_entities: int
    n_periods: int
    n_effects: int

    @property
    def std_errors(self) -> np.ndarray:
        return np.sqrt(np.diag(self.cov))

    def influence(self) -> np.ndarray:
        """Per-entity influence ``sqrt(q) (Xt'Xt)^-1 s_i`` (n_entities x k); ``cov = infl' infl``."""
        return np.sqrt(self.scale) * self.entity_scores @ self.xtx_inv


def fit_twfe(
    y: np.ndarray,
    x: np.ndarray,
    entity_codes: np.ndarray,
    time_codes: np.ndarray,
    *,
    n_entities: int | None = None,
    n_periods: int | None = None,
    method: str = "auto",
) -> TWFEFit:
    """Two-way FE OLS of ``y`` on ``x`` with entity-clustered CR1 covariance (PanelOLS defaults).

    ``entity_codes``/``time_codes`` are dense integer codes; rows must be complete (no NaN).
    """
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    n, k = x.shape
    if not (np.isfinite(y).all() and np.isfinite(x).all()):
        raise ValueError("y and x must be finite")
    proj = TwoWayProjector(entity_codes, time_codes, n_entities=n_entities, n_periods=n_periods, method=method)
    both = proj.residualize(np.column_stack([y, x]))
    yt, xt = both[:, 0], both[:, 1:]
    norm_in = np.sqrt((x**2).sum(axis=0))
    norm_out = np.sqrt((xt**2).sum(axis=0))
    absorbed = norm_out <= 1e-9 * np.maximum(norm_in, 1e-300)
    if absorbed.any():
        raise ValueError(f"regressor column(s) {np.flatnonzero(absorbed).tolist()} are absorbed by the effects")
    xtx = xt.T @ xt
    xtx_inv = np.linalg.inv(xtx)
    params = xtx_inv @ (xt.T @ yt)
    resid = yt - xt @ params
    scores = cluster_sums(proj.entity_codes, proj.n_entities, xt * resid[:, None])
    n_effects = proj.n_entities + proj.n_periods - 1
    dof = n - n_effects - k
    if dof <= 0:
        raise ValueError(f"no residual degrees of freedom: {n} obs, {n_effects} effects, {k} regressors")
    scale = n / dof
    cov = scale * xtx_inv @ (scores.T @ scores) @ xtx_inv
    cov = (cov + cov.T) / 2
    return TWFEFit(
        params=params,
        cov=cov,
        xtx_inv=xtx_inv,
        entity_scores=scores,
        scale=scale,
        resid=resid,
        n_obs=n,
        n_entities=proj.n_entities,
        n_periods=proj.n_periods,
        n_effects=n_effects,
    )
