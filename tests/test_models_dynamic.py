"""Dynamic panel estimators: reference checks against linearmodels and truth recovery on the simulator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from linearmodels import PanelOLS
from linearmodels.datasets import wage_panel
from linearmodels.iv import IV2SLS

from models_py.dynamic_panel import fit_dynamic_panel
from models_py.panel_fe import factorize, fit_twfe
from models_py.panel_prep import add_lags

DECIMALS = 6


def _panelols(d: pd.DataFrame, entity: str, time: str, y: str, xs: list[str]):
    di = d.set_index([entity, time])
    return PanelOLS(di[y], di[xs], entity_effects=True, time_effects=True).fit(
        cov_type="clustered", cluster_entity=True
    )


def _random_unbalanced(seed: int = 0, n: int = 80, t: int = 15) -> pd.DataFrame:
    """Random regressors and outcome on an unbalanced grid (not a model of anything)."""
    rng = np.random.default_rng(seed)
    e = np.repeat(np.arange(n), t)
    w = np.tile(np.arange(t), n)
    a = rng.normal(size=n)[e]
    x = rng.normal(size=(n * t, 3)) + a[:, None] * [0.5, 0.0, -0.3]
    y = a + 0.3 * np.sin(w) + x @ [1.0, -0.5, 0.2] + rng.normal(size=n * t) * (1 + 0.5 * (e % 3))
    d = pd.DataFrame({"e": e, "w": w, "y": y, "x1": x[:, 0], "x2": x[:, 1], "x3": x[:, 2]})
    keep = rng.random(len(d)) > 0.25
    keep[d["w"] == 0] = True
    return d[keep].reset_index(drop=True)


@pytest.mark.parametrize("method", ["exact", "alternating"])
def test_twfe_matches_panelols_wage_panel(method):
    d = wage_panel.load()
    xs = ["expersq", "union", "married", "hours"]
    ref = _panelols(d, "nr", "year", "lwage", xs)
    e, _ = factorize(d["nr"])
    t, _ = factorize(d["year"])
    fit = fit_twfe(d["lwage"].to_numpy(), d[xs].to_numpy(), e, t, method=method)
    np.testing.assert_almost_equal(fit.params, ref.params.to_numpy(), DECIMALS)
    np.testing.assert_almost_equal(fit.std_errors, ref.std_errors.to_numpy(), DECIMALS)
    assert fit.n_obs == ref.nobs


@pytest.mark.parametrize("method", ["exact", "alternating"])
def test_twfe_matches_panelols_unbalanced(method):
    d = _random_unbalanced()
    xs = ["x1", "x2", "x3"]
    ref = _panelols(d, "e", "w", "y", xs)
    e, _ = factorize(d["e"])
    t, _ = factorize(d["w"])
    fit = fit_twfe(d["y"].to_numpy(), d[xs].to_numpy(), e, t, method=method)
    np.testing.assert_almost_equal(fit.params, ref.params.to_numpy(), DECIMALS)
    np.testing.assert_almost_equal(fit.std_errors, ref.std_errors.to_numpy(), DECIMALS)


def test_dynamic_twfe_matches_panelols_on_lagged_data():
    d = _random_unbalanced(seed=3)
    res = fit_dynamic_panel(d, "e", "w", "y", ["x1", "x2"], estimators=("twfe",), min_periods=1)
    lagged = add_lags(d, "e", "w", ["y"]).dropna(subset=["y_lag1"])
    ref = _panelols(lagged, "e", "w", "y", ["y_lag1", "x1", "x2"])
    fit = res.fits["twfe"]
    np.testing.assert_almost_equal(fit.params.to_numpy(), ref.params.to_numpy(), DECIMALS)
    np.testing.assert_almost_equal(fit.std_errors.to_numpy(), ref.std_errors.to_numpy(), DECIMALS)
    assert fit.n_obs == ref.nobs
    assert list(fit.params.index) == ["y_lag1", "x1", "x2"]


def test_anderson_hsiao_matches_iv2sls_with_period_dummies():
    d = _random_unbalanced(seed=5)
    res = fit_dynamic_panel(d, "e", "w", "y", ["x1"], estimators=("anderson_hsiao",), min_periods=1)
    L = add_lags(d, "e", "w", ["y", "x1"], [1, 2])
    L["dy"] = L["y"] - L["y_lag1"]
    L["dylag"] = L["y_lag1"] - L["y_lag2"]
    L["dx1"] = L["x1"] - L["x1_lag1"]
    L = L.dropna(subset=["dy", "dylag", "dx1"])
    dummies = pd.get_dummies(L["w"], prefix="w", dtype=float)
    ref = IV2SLS(L["dy"], pd.concat([L[["dx1"]], dummies], axis=1), L[["dylag"]], L[["y_lag2"]]).fit(
        cov_type="clustered", clusters=L["e"], debiased=True
    )
    fit = res.fits["anderson_hsiao"]
    np.testing.assert_almost_equal(fit.params.to_numpy(), ref.params[["dylag", "dx1"]].to_numpy(), DECIMALS)
    np.testing.assert_almost_equal(fit.std_errors.to_numpy(), ref.std_errors[["dylag", "dx1"]].to_numpy(), DECIMALS)
    assert fit.n_obs == len(L)


def test_lag_requires_consecutive_periods_and_min_periods():
    d = pd.DataFrame(
        {
            "team": ["a"] * 5 + ["b"] * 2,
            "week": pd.to_datetime(
                ["2024-01-01", "2024-01-08", "2024-01-22", "2024-01-29", "2024-02-05", "2024-01-01", "2024-01-08"]
            ),
            "y": [1.0, 2.0, 3.0, np.nan, 5.0, 1.0, 2.0],
        }
    )
    out = add_lags(d, "team", "week", ["y"], [1, 2])
    a = out[out["team"] == "a"]
    # 2024-01-15 is missing (gap) and the 2024-01-29 outcome is missing: neither is bridged
    np.testing.assert_array_equal(a["y_lag1"].to_numpy(), [np.nan, 1.0, np.nan, 3.0, np.nan])
    assert a["y_lag2"].isna().sum() == 4
    d["x"] = np.arange(len(d), dtype=float)
    d.loc[d["team"] == "a", "x"] = [0.0, 1.0, 0.0, 2.0, 5.0]
    d = pd.concat([d, d.assign(team=d["team"] + "2", x=d["x"] * 2 + 1)], ignore_index=True)
    # estimation rows per team: a -> 1 row (01-08), b -> 1 row: min_periods=2 drops them all
    with pytest.raises(ValueError, match="no rows"):
        fit_dynamic_panel(d, "team", "week", "y", ["x"], estimators=("twfe",), min_periods=2, adoption=None)


def test_hpj_bootstrap_close_to_analytic():
    d = _random_unbalanced(seed=7, n=120, t=20)
    an = fit_dynamic_panel(d, "e", "w", "y", ["x1", "x2"], estimators=("hpj",))
    bs = fit_dynamic_panel(d, "e", "w", "y", ["x1", "x2"], estimators=("hpj",), hpj_se="bootstrap", n_boot=150)
    np.testing.assert_allclose(an.fits["hpj"].params, bs.fits["hpj"].params)
    ratio = bs.fits["hpj"].std_errors / an.fits["hpj"].std_errors
    assert ratio.between(0.75, 1.33).all(), ratio
    # the jackknife is 2*full - mean(halves)
    ex = an.fits["hpj"].extra
    np.testing.assert_allclose(an.fits["hpj"].params, 2 * ex["full"] - (ex["half1"] + ex["half2"]) / 2)


def test_table_shape_and_long_run_delta():
    d = _random_unbalanced(seed=9)
    d["share"] = np.clip(d["x3"], 0, None).where(d["w"] > 5, 0.0)
    res = fit_dynamic_panel(d, "e", "w", "y", ["x1", "share"], adoption="share")
    assert set(res.table["estimator"]) == {"twfe", "hpj", "anderson_hsiao"}
    assert len(res.table) == 3 * 3
    r = res.row("twfe", "share")
    f = res.fits["twfe"]
    b = f.params["y_lag1"]
    assert r["lr_estimate"] == pytest.approx(f.params["share"] / (1 - b))
    g = np.array([1 / (1 - b), f.params["share"] / (1 - b) ** 2])
    v = f.cov.loc[["share", "y_lag1"], ["share", "y_lag1"]].to_numpy()
    assert r["lr_std_error"] == pytest.approx(np.sqrt(g @ v @ g))
    pre = d.loc[d["share"] == 0, "y"].mean()
    assert r["lr_pct_of_pre_mean"] == pytest.approx(100 * r["lr_estimate"] / pre)
    assert np.isnan(res.row("hpj", "y_lag1")["lr_estimate"])
    assert res.summary["primary"] == "hpj"
    assert res.summary["estimators"]["hpj"]["n_obs"] == res.fits["hpj"].n_obs


# ---------------------------------------------------------------------------------------------
# truth recovery on the simulator (ctsw.simulator)

REGRESSORS = ["ai_usage_share", "rollback_rate", "interventions_per_deploy"]
LAG = "cr_velocity_lag1"


def _sim(**switches):
    from ctsw.simulator import SimConfig, simulate_panel

    panel, truth = simulate_panel(SimConfig(n_teams=300, n_weeks=104, seed=switches.pop("seed", 1), **switches))
    # the simulator's convention: the rates enter its equations as 0 in weeks without deployment attempts
    panel = panel.fillna({"rollback_rate": 0.0, "interventions_per_deploy": 0.0})
    return panel, truth["outcomes"]["cr_velocity"]


def _fit(panel):
    return fit_dynamic_panel(panel, "team_id", "week_start", "cr_velocity", REGRESSORS, period_step="7D")


@pytest.fixture(scope="module")
def sim_fit():
    panel, truth = _sim()
    return _fit(panel), truth


def _covers(row, truth, prefix=""):
    return row[f"{prefix}ci_low"] <= truth <= row[f"{prefix}ci_high"]


def test_truth_keys(sim_fit):
    _, truth = sim_fit
    assert truth["coefficients"]["ai_usage_share"] == truth["gamma"]
    assert truth["long_run_effect"] == pytest.approx(truth["gamma"] / (1 - truth["beta"]))


def test_hpj_ci_contains_truth(sim_fit):
    res, truth = sim_fit
    assert res.summary["primary"] == "hpj"
    assert _covers(res.row("hpj", LAG), truth["beta"])
    assert _covers(res.row("hpj", "ai_usage_share"), truth["gamma"])
    assert _covers(res.row("hpj", "ai_usage_share"), truth["long_run_effect"], prefix="lr_")
    # full adoption in % of the pre-adoption mean velocity
    r = res.row("hpj", "ai_usage_share")
    assert r["lr_pct_ci_low"] < r["lr_pct_of_pre_mean"] < r["lr_pct_ci_high"]
    assert r["lr_pct_of_pre_mean"] == pytest.approx(100 * r["lr_estimate"] / res.pre_adoption_mean)


def test_anderson_hsiao_ci_contains_truth(sim_fit):
    res, truth = sim_fit
    assert _covers(res.row("anderson_hsiao", LAG), truth["beta"])
    assert _covers(res.row("anderson_hsiao", "ai_usage_share"), truth["gamma"])
    assert _covers(res.row("anderson_hsiao", "ai_usage_share"), truth["long_run_effect"], prefix="lr_")
    assert res.fits["anderson_hsiao"].extra["first_stage_F"] > 50


def test_naive_twfe_has_nickell_bias(sim_fit):
    res, truth = sim_fit
    twfe = res.row("twfe", LAG)["estimate"]
    hpj = res.row("hpj", LAG)["estimate"]
    t_per = res.summary["nickell"]["mean_periods_per_entity"]
    predicted = -(1 + truth["beta"]) / (t_per - 1)
    assert twfe < truth["beta"]
    # the jackknife correction is the predicted Nickell bias, give or take half
    assert 1.5 * predicted < twfe - hpj < 0.5 * predicted


def test_nickell_bias_over_seeds():
    """Averaged over 8 simulated panels the naive bias is about -(1+beta)/(T-1) and the HPJ's about 0."""
    naive, corrected, predicted = [], [], []
    for seed in range(2, 10):
        panel, truth = _sim(seed=seed)
        res = fit_dynamic_panel(
            panel, "team_id", "week_start", "cr_velocity", REGRESSORS, ("twfe", "hpj"), period_step="7D"
        )
        naive.append(res.row("twfe", LAG)["estimate"] - truth["beta"])
        corrected.append(res.row("hpj", LAG)["estimate"] - truth["beta"])
        predicted.append(-(1 + truth["beta"]) / (res.summary["nickell"]["mean_periods_per_entity"] - 1))
    pred = np.mean(predicted)
    assert 0.6 * pred > np.mean(naive) > 1.4 * pred
    assert abs(np.mean(corrected)) < 0.35 * abs(pred)


def test_no_ai_effect_gamma_ci_contains_zero():
    panel, truth = _sim(no_ai_effect=True)
    assert truth["gamma"] == 0
    res = _fit(panel)
    assert _covers(res.row("hpj", "ai_usage_share"), 0.0)
    assert _covers(res.row("hpj", "ai_usage_share"), 0.0, prefix="lr_")
    assert _covers(res.row("anderson_hsiao", "ai_usage_share"), 0.0)


def test_hpj_rejects_regressor_without_variation_in_a_half():
    d = _random_unbalanced(seed=11, n=40, t=12)
    d["late"] = np.where(d["w"] >= 9, d["x3"], 0.0)  # only varies in the second half
    with pytest.raises(ValueError, match="half-panel jackknife"):
        fit_dynamic_panel(d, "e", "w", "y", ["x1", "late"], estimators=("hpj",))
    res = fit_dynamic_panel(d, "e", "w", "y", ["x1", "late"], estimators=("twfe",))
    assert np.isfinite(res.table["std_error"]).all()


def test_summary_is_json_serialisable(sim_fit):
    import json

    res, _ = sim_fit
    text = json.dumps(res.summary)
    assert "anderson_hsiao" in text and "full_adoption" in text
