"""Imputation event study: brute-force algebra, truth on the simulator, pre-trends, heterogeneity, plot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ctsw.simulator import SimConfig, simulate_panel
from models_py.event_study import adoption_events, fit_event_study, plot_event_study


def _toy(seed=0, n=40, t=14):
    """Staggered binary-ish adoption with a ramp, effects growing with event time, AR errors."""
    rng = np.random.default_rng(seed)
    e = np.repeat(np.arange(n), t)
    w = np.tile(np.arange(t), n)
    first = np.where(rng.random(n) < 0.25, 10**6, rng.integers(4, 11, n))
    ramp = rng.integers(0, 3, n)
    s = np.where(w >= first[e] + ramp[e], 0.8, np.where(w >= first[e], 0.3, 0.0))
    h = w - (first + ramp)[e]
    y = rng.normal(size=n)[e] + 0.2 * np.cos(w) + np.where(s >= 0.5, 0.5 + 0.1 * h, 0.2 * s) + rng.normal(size=n * t)
    return pd.DataFrame({"team": e, "week": w, "y": y, "s": s})


def _brute(d, res, leads):
    """BJS with dense dummies: OLS on untreated rows, imputed effects, v weights by least squares."""
    ev = adoption_events(d, "team", "week", "s", 0.5).set_index("team")
    f = d["team"].map(ev["first_use"]).astype(float).fillna(np.inf)
    e = d["team"].map(ev["event"]).astype(float)
    om0 = d["week"] < f
    om1 = e.notna() & (d["week"] >= f) & (d["week"] - e <= res.summary["horizon"])
    z = pd.get_dummies(d[["team", "week"]].astype(str), dtype=float).to_numpy()
    z0, z1 = z[om0.to_numpy()], z[om1.to_numpy()]
    theta = np.linalg.pinv(z0) @ d.loc[om0, "y"].to_numpy()
    tau = d.loc[om1, "y"].to_numpy() - z1 @ theta
    h = (d.loc[om1, "week"] - e[om1]).to_numpy().astype(int)
    post = h >= 0
    w = post / post.sum()
    v0 = z0 @ np.linalg.pinv(z0.T @ z0) @ z1.T @ w
    resid0 = d.loc[om0, "y"].to_numpy() - z0 @ theta
    tau_bar = pd.Series(tau).groupby(h).transform("mean").to_numpy()
    scores = pd.Series(w * (tau - tau_bar)).groupby(d.loc[om1, "team"].to_numpy()).sum().reindex(
        range(d["team"].nunique()), fill_value=0.0) - pd.Series(v0 * resid0).groupby(
        d.loc[om0, "team"].to_numpy()).sum().reindex(range(d["team"].nunique()), fill_value=0.0)
    g = d["team"].nunique()
    return float(w @ tau), float(np.sqrt(g / (g - 1) * (scores**2).sum()))


def test_imputation_and_variance_match_dense_dummy_algebra():
    d = _toy()
    res = fit_event_study(d, "team", "week", "y", share="s", leads=3, horizon=20, min_obs=1, min_lead_obs=1,
                          min_untreated_teams=1)
    est, se = _brute(d, res, 3)
    assert res.average["estimate"] == pytest.approx(est, abs=1e-10)
    assert res.average["std_error"] == pytest.approx(se, rel=1e-8)
    # event-time means average to the post average with row weights
    post = res.coefficients[res.coefficients["phase"] == "post"]
    assert np.average(post["estimate"], weights=post["n_obs"]) == pytest.approx(est)
    assert res.treated["tau"][res.treated["event_time"] >= 0].mean() == pytest.approx(est)


def test_event_times_with_a_gap_match_dense_dummy_algebra():
    """No treated row at event time 2 (an unbalanced panel): the per-event-time residual means still line up."""
    d = _toy()
    ev = adoption_events(d, "team", "week", "s", 0.5).set_index("team")
    d = d[(d["week"] - d["team"].map(ev["event"]).astype(float) != 2).to_numpy()].reset_index(drop=True)
    res = fit_event_study(d, "team", "week", "y", share="s", leads=3, horizon=20, min_obs=1, min_lead_obs=1,
                          min_untreated_teams=1)
    assert 2 not in set(res.treated["event_time"])
    est, se = _brute(d, res, 3)
    assert res.average["estimate"] == pytest.approx(est, abs=1e-10)
    assert res.average["std_error"] == pytest.approx(se, rel=1e-8)


@pytest.mark.parametrize(("n", "t"), [(40, 14), (12, 30)])  # more teams than weeks, and fewer
def test_pretrend_cr3_equals_leave_one_team_out_refits(n, t):
    """The closed-form CR3 covariance of the leads is the jackknife over teams: the lead regression (team and week
    dummies, lead dummies, untreated rows) refitted by dense least squares without each team in turn."""
    d = _toy(seed=4, n=n, t=t)
    res = fit_event_study(d, "team", "week", "y", share="s", leads=4, horizon=30, min_obs=1, min_lead_obs=3,
                          min_untreated_teams=1)
    leads = res.pretrend["leads"]
    assert len(leads) >= 3 and res.pretrend["variance"] == "CR3"
    ev = adoption_events(d, "team", "week", "s", 0.5).set_index("team")
    u = d[(d["week"] < d["team"].map(ev["first_use"]).astype(float).fillna(np.inf)).to_numpy()]
    h = (u["week"] - u["team"].map(ev["event"]).astype(float)).to_numpy()
    x = np.column_stack([(h == k).astype(float) for k in leads])
    x = np.column_stack([x, pd.get_dummies(u[["team", "week"]].astype(str), dtype=float).to_numpy()])
    y, team = u["y"].to_numpy(), u["team"].to_numpy()

    def lead_coefs(rows):
        return np.linalg.lstsq(x[rows], y[rows], rcond=None)[0][: len(leads)]

    b = lead_coefs(np.ones(len(y), dtype=bool))
    teams = np.unique(team)
    jack = np.array([lead_coefs(team != g) - b for g in teams])
    g = len(teams)
    cov = (g - 1) / g * jack.T @ jack
    lead_rows = res.coefficients[res.coefficients["phase"] == "lead"]
    assert lead_rows["estimate"].to_numpy() == pytest.approx(b, abs=1e-10)
    se = np.sqrt(np.diag(cov))
    assert lead_rows["std_error"].to_numpy() == pytest.approx(se, rel=1e-8)
    assert lead_rows["pvalue"].to_numpy() == pytest.approx(2 * stats.t.sf(np.abs(b / se), g - 1), rel=1e-6)
    wald = float(b @ np.linalg.solve(cov, b))
    assert res.pretrend["wald_stat"] == pytest.approx(wald, rel=1e-8)
    # Hotelling T2 reference: Wald (G - q) / (q (G - 1)) ~ F(q, G - q)
    q = len(leads)
    assert res.pretrend["pvalue"] == pytest.approx(stats.f.sf(wald * (g - q) / (q * (g - 1)), q, g - q), rel=1e-6)


def _true_effects(panel: pd.DataFrame, truth: dict) -> pd.DataFrame:
    """tau_it = gamma_org * sum_k beta^k share_i,t-k: the simulator's effect of the share path on velocity."""
    tr = truth["outcomes"]["cr_velocity"]
    p = panel.sort_values(["team_id", "week_start"]).reset_index(drop=True)
    gam = p["org"].map(tr["gamma_by_org"]).to_numpy()
    s = p["ai_usage_share"].fillna(0).to_numpy()
    new = np.r_[True, p["team_id"].to_numpy()[1:] != p["team_id"].to_numpy()[:-1]]
    out, acc = np.empty(len(p)), 0.0
    for i in range(len(p)):
        acc = (0.0 if new[i] else tr["beta"] * acc) + gam[i] * s[i]
        out[i] = acc
    return p.assign(tau_true=out)[["team_id", "week_start", "tau_true"]]


def _fit(panel):
    return fit_event_study(panel, "team_id", "week_start", "cr_velocity", period_step="7D")


@pytest.fixture(scope="module")
def default_sim():
    panel, truth = simulate_panel(SimConfig(n_teams=300, n_weeks=104, seed=1))
    return panel, truth, _fit(panel)


def test_default_simulator_pretrends_zero_and_average_covers_truth(default_sim):
    panel, truth, res = default_sim
    leads = res.coefficients[res.coefficients["phase"] == "lead"]
    assert len(leads) >= 5
    assert ((leads["ci_low"] <= 0) & (leads["ci_high"] >= 0)).mean() >= 0.75
    assert res.pretrend["pvalue"] > 0.05
    q = res.treated.merge(_true_effects(panel, truth), on=["team_id", "week_start"])
    att = q.loc[q["event_time"] >= 0, "tau_true"].mean()
    a = res.average
    assert a["ci_low"] <= att <= a["ci_high"]
    assert res.summary["n_event_teams"] > 200 and res.summary["n_never_users"] > 0
    # the effect builds up: later event times exceed the event week
    post = res.coefficients[res.coefficients["phase"] == "post"].set_index("event_time")["estimate"]
    assert post.loc[20:26].mean() > post.loc[0] + 0.05


def test_heterogeneous_cohorts_static_twfe_understates_event_study_does_not():
    """Early cohorts have 4x the effect of late ones and effects grow with time since adoption: the static
    TWFE uses early adopters as controls for late ones and is biased down (Goodman-Bacon); the imputation
    estimator compares treated rows with untreated rows only."""
    panel, truth = simulate_panel(SimConfig(n_teams=300, n_weeks=104, seed=2, heterogeneous_by_cohort=True))
    res = _fit(panel)
    q = res.treated.merge(_true_effects(panel, truth), on=["team_id", "week_start"])
    att = q.loc[q["event_time"] >= 0, "tau_true"].mean()
    a, st = res.average, res.static_twfe
    assert a["ci_low"] <= att <= a["ci_high"]
    assert st["estimate"] < a["estimate"] - 0.05
    assert st["ci_high"] < att  # the static coefficient's interval misses the truth
    assert res.pretrend["pvalue"] > 0.05


def test_pretrend_test_detects_a_diverging_trend(default_sim):
    panel, _, _ = default_sim
    ev = adoption_events(panel, "team_id", "week_start").set_index("team_id")
    e = panel["team_id"].map(ev["event"])
    weeks_to = (e - panel["week_start"]).dt.days / 7
    bad = panel.assign(cr_velocity=panel["cr_velocity"] - 0.04 * weeks_to.clip(lower=0).fillna(0))
    res = _fit(bad)
    assert res.pretrend["pvalue"] < 1e-3


def test_threshold_and_events():
    d = _toy(seed=3)
    ev = adoption_events(d, "team", "week", "s", threshold=0.5)
    low = adoption_events(d, "team", "week", "s", threshold=0.2)
    users = ev["first_use"].notna()
    assert (ev.loc[users, "event"] >= ev.loc[users, "first_use"]).all()
    assert (low.loc[users, "event"] == low.loc[users, "first_use"]).all()  # 0.3 on the first used week
    with pytest.raises(ValueError, match="threshold"):
        fit_event_study(d, "team", "week", "y", share="s", threshold=0)


def test_plot_is_a_png(default_sim, tmp_path):
    _, _, res = default_sim
    path = tmp_path / "es.png"
    data = plot_event_study(res, str(path))
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and path.read_bytes() == data
    assert len(data) > 10_000
