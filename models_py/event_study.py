"""Staggered-adoption event study, robust to heterogeneous effects: the imputation estimator.

Events
------
A team's **adoption event** ``E_i`` is the first week its AI usage share reaches ``threshold`` (default
0.5); its **first use** ``F_i <= E_i`` is the first week with a positive share. Adoption ramps up over a
few weeks (people adopt one by one), so the weeks ``F_i <= t < E_i`` are already partly treated: they
are neither controls nor "pre-event" weeks. The rows are split into

* untreated ``Omega_0``: every week of teams that never use AI, and the weeks before first use
  (``t < F_i``) of the others (share exactly 0: not yet exposed at all);
* treated ``Omega_1``: the weeks ``t >= F_i`` of teams that reach the threshold, with event time
  ``h = t - E_i`` (``h < 0``: the ramp-up, ``h >= 0``: after the event), up to ``h <= horizon``;
* neither: the weeks after first use of teams that use AI but never reach the threshold, and
  treated weeks past ``horizon``.

Estimator (Borusyak, Jaravel and Spiess 2024)
--------------------------------------------
1. Fit ``y_it = a_i + l_t + e_it`` by OLS on ``Omega_0`` only (exact two-way projection).
2. Impute the untreated outcome of every treated row, ``y0_it = a_i + l_t``, and take
   ``tau_it = y_it - y0_it``.
3. The event-time effect ``tau_h`` is the mean of ``tau_it`` over the treated rows at event time ``h``;
   the **post average** is the mean over all rows with ``0 <= h <= horizon`` (each treated team-week
   weighs the same).

Because every treated row is compared only with untreated rows, there are no "forbidden
comparisons" (already treated teams as controls), so heterogeneous or growing effects do not
contaminate the estimates, unlike the static two-way FE regression on a post-event dummy, which is
reported alongside (``static_twfe``) for contrast. Treated rows of teams without an untreated row
cannot be imputed and are dropped, and so are treated rows in weeks with fewer than
``min_untreated_teams`` untreated teams (default 20): late in a rollout only the never-adopting teams
are left as controls, the week effect is then estimated from a handful of teams that every treated
team leans on, and a team-clustered variance with so few effective clusters is too small (on the
simulator, with 2 never-adopting teams the post average was 3 standard errors off). The dropped rows
are counted in ``summary``.

Inference. Each estimate is linear in the outcomes, ``tau_hat = sum_it v_it y_it``, with ``v_it = w_it``
on the treated rows and ``v = -Z0 (Z0'Z0)^+ Z1' w`` on the untreated rows (``Z`` the team and week
dummies; solved exactly through the week-by-week Schur complement). The variance is BJS's
team-clustered ``sum_i (sum_t v_it e~_it)^2`` (times ``G/(G-1)``), with ``e~`` the untreated rows' FE
residuals and, on treated rows, ``tau_it`` minus the mean of ``tau`` at its event time (their
conservative choice: heterogeneity across cohorts at the same event time only widens the interval).
The covariance of all estimates is computed, so joint tests are available.

Pre-trend test (BJS's "test 1"): on the untreated rows only, regress ``y`` on team and week effects
and dummies for the event-time leads ``h = -leads .. -1`` of teams that later reach the threshold
(leads with fewer than ``min_lead_obs`` rows, default 30, or seen in one team only, are dropped); with parallel
trends and no anticipation the lead coefficients are zero. Only weeks before first use enter, so a lead ``h`` is
observed for the teams whose ramp-up is shorter than ``-h`` weeks. Covariance: leave-one-team-out (CR3, the cluster
jackknife), exact in closed form (``_cr3_cov``); the joint Wald statistic ``W`` is referred to the Hotelling T2
distribution of a quadratic form in a covariance estimated from ``G`` teams, ``W (G-q) / (q (G-1)) ~ F(q, G-q)``,
and each lead's interval and p-value to ``t(G-1)`` (the case ``q = 1``). With the CR1 covariance and a chi-square
reference the test over-rejected on the simulator when teams are few (docs/models.md).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse, stats

from models_py.panel_fe import TwoWayProjector, cluster_sums, fit_twfe
from models_py.panel_prep import prepare_panel

__all__ = ["EventStudyResult", "adoption_events", "fit_event_study", "plot_event_study"]


@dataclass
class EventStudyResult:
    """Result of :func:`fit_event_study`.

    * ``coefficients``: one row per event time with ``event_time, phase`` ("lead" = pre-trend test
      coefficient on untreated rows, "ramp" = partly treated weeks before the event, "post"),
      ``estimate, std_error, ci_low, ci_high, pvalue, n_obs, n_teams``.
    * ``pretrend``: ``wald_stat, wald_df, pvalue, leads`` of the joint test of the leads, ``variance`` ("CR3")
      and ``n_clusters`` (G, the teams with untreated rows).
    * ``average``: the post average (``estimate, std_error, ci_low, ci_high, pvalue, n_obs, n_teams``).
    * ``static_twfe``: the naive static TWFE coefficient on the post-event dummy (same keys).
    * ``events``: one row per team: ``first_use``, ``event`` (times, NaT if none) and ``ramp_weeks``.
    * ``cov``: covariance of the ramp/post event-time estimates and the average (labels as index).
    * ``treated``: the imputed treated rows (entity, time, ``event_time``, ``tau`` = y - imputed y0).
    """

    coefficients: pd.DataFrame
    pretrend: dict[str, Any]
    average: dict[str, Any]
    static_twfe: dict[str, Any]
    events: pd.DataFrame
    cov: pd.DataFrame
    threshold: float
    level: float
    outcome: str
    treated: pd.DataFrame | None = None
    summary: dict[str, Any] = field(default_factory=dict)


def _first_period(codes: np.ndarray, periods: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, np.inf)
    np.minimum.at(out, codes[mask], periods[mask].astype(float))
    return out


def adoption_events(
    df: pd.DataFrame,
    entity: str,
    time: str,
    share: str = "ai_usage_share",
    threshold: float = 0.5,
    *,
    period_step: object | None = None,
) -> pd.DataFrame:
    """One row per entity: ``first_use`` (first time with share > 0) and ``event`` (first time with
    share >= threshold), NaT/NaN when it never happens, and ``ramp_weeks = event - first_use`` in periods."""
    if not 0 < threshold <= 1:
        raise ValueError("threshold must be in (0, 1]")
    prep = prepare_panel(df, entity, time, [share], period_step=period_step)
    s = prep.frame[share].to_numpy(dtype=float, na_value=np.nan)
    n = len(prep.entity_labels)
    f = _first_period(prep.entity_codes, prep.period, np.isfinite(s) & (s > 0), n)
    e = _first_period(prep.entity_codes, prep.period, np.isfinite(s) & (s >= threshold), n)
    t = prep.frame[time]
    lookup = pd.Series(t.to_numpy(), index=prep.period).groupby(level=0).first()

    def to_time(p):
        return [lookup.get(int(v)) if np.isfinite(v) else None for v in p]

    ramp = np.full(n, np.nan)
    has = np.isfinite(e)
    ramp[has] = e[has] - f[has]
    out = pd.DataFrame({entity: prep.entity_labels, "first_use": to_time(f), "event": to_time(e), "ramp_weeks": ramp})
    if pd.api.types.is_datetime64_any_dtype(t.dtype):
        out["first_use"] = pd.to_datetime(out["first_use"])
        out["event"] = pd.to_datetime(out["event"])
    return out


class _FESolver:
    """Solves ``Z'Z theta = b`` for two-way dummies Z (entity, period) and returns ``Z theta`` on the rows."""

    def __init__(self, ent: np.ndarray, per: np.ndarray, n_e: int, n_p: int):
        self.ent, self.per = ent, per
        self.swap = n_e < n_p
        g, h, ng, nh = (per, ent, n_p, n_e) if self.swap else (ent, per, n_e, n_p)
        self.g, self.h, self.ng, self.nh = g, h, ng, nh
        self.cnt_g = np.bincount(g, minlength=ng).astype(float)
        cnt_h = np.bincount(h, minlength=nh).astype(float)
        if ng * nh <= 20_000_000:
            c = np.bincount(g * nh + h, minlength=ng * nh).astype(float).reshape(ng, nh)
        else:
            c = sparse.csr_matrix((np.ones(len(g)), (g, h)), shape=(ng, nh))
        self.c = c
        ctwc = (c.T @ (c / self.cnt_g[:, None])) if isinstance(c, np.ndarray) else (
            c.T @ (sparse.diags(1.0 / self.cnt_g) @ c)).toarray()
        m = np.diag(cnt_h) - ctwc
        m = (m + m.T) / 2
        w, v = np.linalg.eigh(m)
        keep = w > max(w.max(), 1.0) * 1e-10
        self.m_half = v[:, keep] / np.sqrt(w[keep])  # M^+ = m_half m_half'
        self.m_pinv = self.m_half @ self.m_half.T

    def fitted(self, b_ent: np.ndarray, b_per: np.ndarray) -> np.ndarray:
        """``Z theta`` (rows x m) for right-hand sides given as entity sums and period sums (each x m)."""
        b_g, b_h = (b_per, b_ent) if self.swap else (b_ent, b_per)
        c = self.c
        ctb = np.asarray(c.T @ (b_g / self.cnt_g[:, None]))
        psi = self.m_pinv @ (b_h - ctb)
        phi = (b_g - np.asarray(c @ psi)) / self.cnt_g[:, None]
        return phi[self.g] + psi[self.h]


def _row(est, se, crit, t_df=None, **extra):
    """Estimate, interval ``est -/+ crit se`` and two-sided p-value (normal, or t with ``t_df`` degrees of freedom)."""
    ref = stats.norm if t_df is None else stats.t(t_df)
    return {"estimate": float(est), "std_error": float(se), "ci_low": float(est - crit * se),
            "ci_high": float(est + crit * se),
            "pvalue": float(2 * ref.sf(abs(est / se))) if se > 0 else np.nan, **extra}


def _cr3_cov(fs: _FESolver, clusters: np.ndarray, n_clusters: int, xt: np.ndarray, resid: np.ndarray,
             xtx_inv: np.ndarray) -> np.ndarray:
    """Leave-one-cluster-out (CR3) covariance ``(G-1)/G sum_c d_c d_c'`` of the coefficients of a two-way FE OLS.

    ``d_c = b - b_(-c)`` is exact without refitting: ``d_c = (Xt'Xt)^-1 Xt_c' (I - H_cc)^+ e_c``, with ``Xt`` the
    FE-residualised regressors, ``e`` the residuals and ``H_cc`` the cluster's block of the full hat matrix
    ``P_Z + Xt (Xt'Xt)^-1 Xt'``, ``Z`` the two sets of dummies. By FWL on the solver's dimensions (g many levels,
    h few), ``P_Z[i, j] = [g_i = g_j] / n_g + a_i' M^+ a_j`` with ``a_i = 1_h(i) - C[g_i] / n_g``. Dropping a
    cluster leaves its own dummy unidentified, so ``I - H_cc`` is singular; any solution gives the same ``d_c``
    (the pseudo-inverse picks one). ``clusters``: codes 0..G-1 of the rows (here the teams).
    """
    a_half = np.asarray(fs.c @ fs.m_half) / fs.cnt_g[:, None]  # C M_half / n_g, per level of g
    order = np.argsort(clusters, kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(clusters, minlength=n_clusters))]
    d = np.zeros((n_clusters, xt.shape[1]))
    for c in range(n_clusters):
        idx = order[bounds[c]:bounds[c + 1]]
        g = fs.g[idx]
        r = fs.m_half[fs.h[idx]] - a_half[g]
        xc = xt[idx]
        h_cc = (g[:, None] == g[None, :]) / fs.cnt_g[g][:, None] + r @ r.T + xc @ xtx_inv @ xc.T
        w, v = np.linalg.eigh(np.eye(len(idx)) - (h_cc + h_cc.T) / 2)
        keep = w > 1e-9  # eigenvalues of I - H_cc lie in [0, 1]; the null directions are 0 up to rounding
        d[c] = xtx_inv @ (xc.T @ (v[:, keep] @ ((v[:, keep].T @ resid[idx]) / w[keep])))
    return (n_clusters - 1) / n_clusters * d.T @ d


def fit_event_study(
    df: pd.DataFrame,
    entity: str,
    time: str,
    outcome: str,
    *,
    share: str = "ai_usage_share",
    threshold: float = 0.5,
    leads: int = 8,
    horizon: int = 26,
    min_obs: int = 10,
    min_lead_obs: int = 30,
    min_untreated_teams: int = 20,
    level: float = 0.95,
    period_step: object | None = None,
) -> EventStudyResult:
    """Imputation (BJS) event study of ``outcome`` around the week ``share`` first reaches ``threshold``.

    ``leads``: event-time leads in the pre-trend test; ``horizon``: last event time estimated (weeks
    after the event); event times with fewer than ``min_obs`` rows are not reported (they still count
    in the post average); leads with fewer than ``min_lead_obs`` rows are left out of the pre-trend test
    (a lead seen in a dozen teams has a clustered variance from a dozen clusters); treated rows in weeks
    with fewer than ``min_untreated_teams`` untreated teams are not imputed. See the module docstring.
    """
    if not 0 < threshold <= 1:
        raise ValueError("threshold must be in (0, 1]")
    zcrit = float(stats.norm.ppf(0.5 + level / 2))
    prep = prepare_panel(df, entity, time, [outcome, share], period_step=period_step)
    y = prep.frame[outcome].to_numpy(dtype=float, na_value=np.nan)
    s = prep.frame[share].to_numpy(dtype=float, na_value=np.nan)
    ent_all, per_all = prep.entity_codes, prep.period
    n_ent_all = len(prep.entity_labels)
    f_i = _first_period(ent_all, per_all, np.isfinite(s) & (s > 0), n_ent_all)
    e_i = _first_period(ent_all, per_all, np.isfinite(s) & (s >= threshold), n_ent_all)
    f_r, e_r = f_i[ent_all], e_i[ent_all]
    h_all = per_all - e_r  # inf/-inf/nan where no event

    valid = np.isfinite(y) & np.isfinite(s)
    om0 = valid & (per_all < f_r)  # never users have f = inf
    om1 = valid & np.isfinite(e_r) & (per_all >= f_r) & (h_all <= horizon)
    n_om1_raw = int(om1.sum())
    has0_e = np.bincount(ent_all[om0], minlength=n_ent_all) > 0
    has0_p = np.bincount(per_all[om0], minlength=int(per_all.max()) + 1) >= max(min_untreated_teams, 1)
    om1 &= has0_e[ent_all] & has0_p[per_all]
    if not om0.any() or not om1.any():
        raise ValueError("need untreated rows and imputable treated rows (teams with weeks before first use)")

    # -- step 1: two-way FE on the untreated rows
    e0_u, e0 = np.unique(ent_all[om0], return_inverse=True)
    p0_u, p0 = np.unique(per_all[om0], return_inverse=True)
    proj = TwoWayProjector(e0, p0, n_entities=len(e0_u), n_periods=len(p0_u))
    y0 = y[om0]
    resid0, ent_part, time_part = proj.decompose(y0)
    alpha = np.zeros(len(e0_u))
    alpha[e0] = ent_part
    lam = np.zeros(len(p0_u))
    lam[p0] = time_part
    # -- step 2: impute
    e_map = np.full(n_ent_all, -1)
    e_map[e0_u] = np.arange(len(e0_u))
    p_map = np.full(int(per_all.max()) + 1, -1)
    p_map[p0_u] = np.arange(len(p0_u))
    e1 = e_map[ent_all[om1]]
    p1 = p_map[per_all[om1]]
    tau = y[om1] - alpha[e1] - lam[p1]
    h1 = h_all[om1].astype(np.int64)
    # -- step 3: estimands (event times with enough rows, and the post average)
    hs, h_cnt = np.unique(h1, return_counts=True)
    report = [int(h) for h, c in zip(hs, h_cnt, strict=True) if c >= min_obs and h >= -leads]
    post = h1 >= 0
    if not post.any():
        raise ValueError("no treated rows at or after the event")
    labels = [*(f"h{h}" for h in report), "post_average"]
    w = np.zeros((len(tau), len(labels)))
    for j, h in enumerate(report):
        sel = h1 == h
        w[sel, j] = 1.0 / sel.sum()
    w[post, -1] = 1.0 / post.sum()
    est = w.T @ tau
    # -- variance: v weights on the untreated rows, BJS residuals
    b_e = cluster_sums(e1, len(e0_u), w)
    b_p = cluster_sums(p1, len(p0_u), w)
    fs0 = _FESolver(e0, p0, len(e0_u), len(p0_u))
    v0 = fs0.fitted(b_e, b_p)
    hk = h1 - hs.min()  # event times need not be contiguous: empty bins are never read
    tau_bar = np.bincount(hk, weights=tau) / np.maximum(np.bincount(hk), 1)
    eps1 = tau - tau_bar[hk]
    scores = cluster_sums(ent_all[om1], n_ent_all, w * eps1[:, None]) - cluster_sums(
        ent_all[om0], n_ent_all, v0 * resid0[:, None])
    g = int((np.bincount(ent_all[om0 | om1], minlength=n_ent_all) > 0).sum())
    cov = g / (g - 1) * scores.T @ scores
    se = np.sqrt(np.diag(cov))

    ent1 = ent_all[om1]
    rows = []
    for j, h in enumerate(report):
        sel = h1 == h
        rows.append({"event_time": h, "phase": "post" if h >= 0 else "ramp",
                     **_row(est[j], se[j], zcrit, n_obs=int(sel.sum()), n_teams=int(len(np.unique(ent1[sel]))))})
    average = _row(est[-1], se[-1], zcrit, n_obs=int(post.sum()), n_teams=int(len(np.unique(ent1[post]))))

    # -- pre-trend test on untreated rows: CR3 covariance, Hotelling T2 reference
    lead_rows = []
    g0 = len(e0_u)
    pretrend: dict[str, Any] = {"wald_stat": np.nan, "wald_df": 0, "pvalue": np.nan, "leads": [], "variance": "CR3",
                                "n_clusters": g0}
    h0 = h_all[om0]
    # a team has one row per lead, so rows = teams; a lead in a single team has no leave-one-team-out estimate
    lead_list = [k for k in range(-leads, 0) if int(np.sum(h0 == k)) >= max(min_obs, min_lead_obs, 2)]
    if lead_list:
        d = np.column_stack([(h0 == k).astype(float) for k in lead_list])
        lf = fit_twfe(y0, d, e0, p0, n_entities=g0, n_periods=len(p0_u))
        lcov = _cr3_cov(fs0, e0, g0, proj.residualize(d), lf.resid, lf.xtx_inv)
        lse = np.sqrt(np.diag(lcov))
        tcrit = float(stats.t.ppf(0.5 + level / 2, g0 - 1))
        for j, k in enumerate(lead_list):
            sel = h0 == k
            lead_rows.append({"event_time": k, "phase": "lead",
                              **_row(lf.params[j], lse[j], tcrit, g0 - 1, n_obs=int(sel.sum()),
                                     n_teams=int(len(np.unique(ent_all[om0][sel]))))})
        q = len(lead_list)
        stat = float(lf.params @ np.linalg.pinv(lcov) @ lf.params)
        pretrend = {"wald_stat": stat, "wald_df": q,
                    "pvalue": float(stats.f.sf(stat * (g0 - q) / (q * (g0 - 1)), q, g0 - q)),
                    "leads": lead_list, "variance": "CR3", "n_clusters": g0}

    # -- naive static TWFE on a post-event dummy, all valid rows
    ev_u, ev = np.unique(ent_all[valid], return_inverse=True)
    pv_u, pv = np.unique(per_all[valid], return_inverse=True)
    dpost = (np.isfinite(e_r[valid]) & (h_all[valid] >= 0)).astype(float)
    sf = fit_twfe(y[valid], dpost[:, None], ev, pv, n_entities=len(ev_u), n_periods=len(pv_u))
    static = _row(sf.params[0], sf.std_errors[0], zcrit, n_obs=int(sf.n_obs), n_teams=int(sf.n_entities))

    coefficients = pd.DataFrame(lead_rows + rows).sort_values(["event_time", "phase"], ignore_index=True)
    events = adoption_events(df, entity, time, share, threshold, period_step=period_step)
    summary = {
        "threshold": threshold,
        "leads": leads,
        "horizon": horizon,
        "n_untreated_rows": int(om0.sum()),
        "n_treated_rows": int(om1.sum()),
        "n_treated_rows_not_imputable": n_om1_raw - int(om1.sum()),
        "n_event_teams": int(np.isfinite(e_i).sum()),
        "n_never_users": int((~np.isfinite(f_i)).sum()),
        "n_users_below_threshold": int((np.isfinite(f_i) & ~np.isfinite(e_i)).sum()),
        "post_average": average,
        "static_twfe": static,
        "pretrend": pretrend,
        "level": level,
    }
    return EventStudyResult(coefficients=coefficients, pretrend=pretrend, average=average, static_twfe=static,
                            events=events, cov=pd.DataFrame(cov, index=labels, columns=labels), threshold=threshold,
                            level=level, outcome=outcome, summary=summary,
                            treated=pd.DataFrame({entity: prep.frame[entity].to_numpy()[om1],
                                                  time: prep.frame[time].to_numpy()[om1], "event_time": h1,
                                                  "tau": tau}))


def plot_event_study(res: EventStudyResult, path: str | None = None, title: str | None = None) -> bytes:
    """A PNG of the event-time coefficients with their intervals (returns the bytes; writes ``path`` if given).

    Leads (pre-trend test) in grey, the ramp-up in orange, post-event effects in blue; the post average
    and the naive static TWFE coefficient as horizontal lines.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    c = res.coefficients
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=100)
    colours = {"lead": "#7f7f7f", "ramp": "#ff7f0e", "post": "#1f77b4"}
    names = {"lead": "pre-trend leads (untreated weeks)", "ramp": "ramp-up (partly adopted)", "post": "after the event"}
    shift = {"lead": -0.15, "ramp": 0.15}
    for phase, grp in c.groupby("phase", sort=False):
        ax.errorbar(grp["event_time"] + shift.get(phase, 0.0), grp["estimate"],
                    yerr=[grp["estimate"] - grp["ci_low"], grp["ci_high"] - grp["estimate"]],
                    fmt="o", ms=4, capsize=2, color=colours.get(phase, "k"), label=names.get(phase, phase))
    ax.axhline(0, color="k", lw=0.8)
    ax.axvline(-0.5, color="k", lw=0.6, ls=":")
    ax.axhline(res.average["estimate"], color="#1f77b4", lw=1, ls="--",
               label=f"post average {res.average['estimate']:.3f}")
    ax.axhline(res.static_twfe["estimate"], color="#d62728", lw=1, ls="-.",
               label=f"naive static TWFE {res.static_twfe['estimate']:.3f}")
    p = res.pretrend.get("pvalue")
    ptxt = f"; pre-trend joint p = {p:.2f}" if p is not None and np.isfinite(p) else ""
    ax.set_title(title or f"{res.outcome}: event study at AI share >= {res.threshold:g}{ptxt}", fontsize=10)
    ax.set_xlabel("weeks relative to the adoption event")
    ax.set_ylabel(f"effect on {res.outcome}")
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    data = buf.getvalue()
    if path is not None:
        with open(path, "wb") as fh:
            fh.write(data)
    return data


def att_gt(
    df: pd.DataFrame,
    entity: str,
    time: str,
    outcome: str,
    group: str,
    *,
    control: str = "never_treated",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Callaway and Sant'Anna (2021) group-time average treatment effects, without covariates.

    ``group`` is the first treated period of the entity (0 or missing = never treated); the panel must be
    balanced. ``ATT(g, t) = E[Y_t - Y_b | G = g] - E[Y_t - Y_b | C]`` with the "varying" base period
    ``b = g - 1`` for ``t >= g`` and ``b = t - 1`` before (pre-treatment placebo cells), and the control
    group C the never-treated units (``control="never_treated"``) or the units not yet treated at
    ``max(t, b)`` (``"not_yet_treated"``). Returns the (g, t) table and the aggregations of the R
    ``did`` package's ``aggte``: ``simple`` (post cells weighted by group size) and ``dynamic`` (by event
    time ``e = t - g``, groups weighted by size). Point estimates only; a cross-check of the imputation
    estimator on a textbook data set.
    """
    if control not in ("never_treated", "not_yet_treated"):
        raise ValueError("control must be 'never_treated' or 'not_yet_treated'")
    wide = df.pivot(index=entity, columns=time, values=outcome)
    if wide.isna().any().any():
        raise ValueError("att_gt needs a balanced panel")
    g_of = df.groupby(entity)[group].first().reindex(wide.index).fillna(0).to_numpy(dtype=float)
    periods = list(wide.columns)
    y = wide.to_numpy(dtype=float)
    cohorts = sorted(v for v in np.unique(g_of) if v > 0 and v in periods)
    rows = []
    for g in cohorts:
        treated = g_of == g
        for j, t in enumerate(periods[1:], start=1):
            b = periods.index(g) - 1 if t >= g else j - 1
            if b < 0:
                continue
            if control == "never_treated":
                ctrl = g_of == 0
            else:
                ctrl = (g_of == 0) | (g_of > max(t, periods[b]))
                ctrl &= ~treated
            dt = y[:, j] - y[:, b]
            att = float(dt[treated].mean() - dt[ctrl].mean())
            rows.append({"group": g, "time": t, "att": att, "event_time": periods.index(t) - periods.index(g),
                         "n_treated": int(treated.sum()), "n_control": int(ctrl.sum())})
    table = pd.DataFrame(rows)
    size = table["n_treated"].astype(float)
    post = table["time"] >= table["group"]
    simple = float(np.average(table.loc[post, "att"], weights=size[post]))
    dynamic = {int(e): float(np.average(g["att"], weights=g["n_treated"])) for e, g in table.groupby("event_time")}
    return table, {"simple": simple, "dynamic": dynamic}
