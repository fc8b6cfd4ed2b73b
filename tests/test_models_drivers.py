"""CTS-SW drivers: Mundlak mixed model on the simulated panel, FE equivalence, ranking, options."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from linearmodels import PanelOLS

from ctsw.simulator import SimConfig, simulate_panel
from models_py.drivers import DEFAULT_DRIVERS, fit_drivers


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    p, _ = simulate_panel(SimConfig(n_teams=300, n_weeks=104, seed=1))
    return p


@pytest.fixture(scope="module")
def result(panel):
    return fit_drivers(panel, n_boot=50, seed=2)


def test_runs_with_variance_components(result):
    vc = result.variance_components
    assert 0 < vc["icc"] < 1
    assert vc["team_var"] > 0 and vc["residual_var"] > 0
    assert result.summary["converged"]
    assert result.drivers == list(DEFAULT_DRIVERS)
    assert np.isfinite(result.coefficients[["estimate", "std_error"]].to_numpy()).all()
    assert set(result.coefficients["component"]) == {"intercept", "within", "between"}
    assert json.loads(json.dumps(result.summary))["n_teams"] == result.n_teams


def test_velocity_is_the_largest_driver(result):
    s = result.sensitivity
    assert s.iloc[0]["driver"] == "cr_velocity"
    assert list(s["rank"]) == [1, 2, 3, 4, 5]
    top = s.iloc[0]
    # higher velocity -> more units for the same cost -> lower CTS-SW
    assert top["pct_change"] < 0 and top["usd_change"] < 0
    assert top["pct_ci_low"] <= top["pct_change"] <= top["pct_ci_high"]
    assert top["partial_r2"] == s["partial_r2"].max()
    assert top["boot_top_share"] > 0.9
    assert result.summary["top_driver"] == "cr_velocity"


def test_within_coefficients_equal_fixed_effects(result, panel):
    within = result.coefficients[result.coefficients["component"] == "within"].set_index("driver")
    # 1) PanelOLS with team effects on the same within terms and outcome
    f = result.frame.set_index(["team_id", "week_start"])
    wcols = [f"{d}_within" for d in result.drivers]
    ref = PanelOLS(f["y"], f[wcols], entity_effects=True).fit(cov_type="clustered", cluster_entity=True)
    np.testing.assert_allclose(within["estimate"].to_numpy(), ref.params.to_numpy(), atol=1e-4)
    # 2) two-way FE (team + week dummies) of log CTS-SW on the raw drivers, same rows
    q = panel[~panel["team_id"].isin(result.dropped_teams)].dropna(subset=result.drivers)
    q = q[q["cts_sw_usd"] > 0].assign(log_cts=lambda x: np.log(x["cts_sw_usd"])).set_index(["team_id", "week_start"])
    assert len(q) == result.n_obs
    ref2 = PanelOLS(q["log_cts"], q[result.drivers], entity_effects=True, time_effects=True).fit(
        cov_type="clustered", cluster_entity=True
    )
    np.testing.assert_allclose(within["estimate"].to_numpy(), ref2.params.to_numpy(), atol=1e-4)
    np.testing.assert_allclose(within["fe_estimate"].to_numpy(), ref2.params.to_numpy(), atol=1e-8)
    np.testing.assert_allclose(within["fe_std_error"].to_numpy(), ref2.std_errors.to_numpy(), atol=1e-8)


def test_shared_denominator_exclusion(result, panel):
    dep = set(panel.loc[panel["delivery_unit"] == "deployment", "team_id"])
    assert set(result.dropped_teams) == dep
    assert result.n_teams == panel["team_id"].nunique() - len(dep)
    pb = fit_drivers(panel, shared_denominator="per_builder")
    assert pb.dropped_teams == []
    assert "interventions_per_builder_week" in pb.drivers and "interventions_per_deploy" not in pb.drivers
    with pytest.raises(ValueError, match="delivery_unit"):
        fit_drivers(panel.drop(columns="delivery_unit"))


def test_trend_and_level_options(panel):
    r = fit_drivers(panel, time_effects="trend", log_outcome=False)
    within = r.coefficients[r.coefficients["component"] == "within"]
    np.testing.assert_allclose(within["estimate"], within["fe_estimate"], atol=1e-8)
    assert "trend_years_within" in set(r.coefficients["term"])
    s = r.sensitivity.set_index("driver")
    med = r.summary["median_team_outcome"]
    np.testing.assert_allclose(s["usd_change"], s["within_coef"] * s["within_sd"])
    np.testing.assert_allclose(s["pct_change"], 100 * s["usd_change"] / med)


def test_bootstrap_rank_probabilities(result):
    rp = result.rank_probabilities.pivot(index="driver", columns="rank", values="probability")
    k = len(result.drivers)
    assert rp.shape == (k, k)
    np.testing.assert_allclose(rp.sum(axis=1), 1.0)  # every driver has some rank in every replication
    np.testing.assert_allclose(rp.sum(axis=0), 1.0)  # every rank is held by one driver
    s = result.sensitivity.set_index("driver")
    np.testing.assert_allclose(s["boot_top_share"], rp.loc[s.index, 1])
    assert rp.loc["cr_velocity", 1] > 0.9
    assert (s["boot_rank_mode_prob"] == rp.max(axis=1).loc[s.index]).all()
    assert (s["boot_usd_ci_low"] <= s["boot_usd_ci_high"]).all()
    top = s.loc["cr_velocity"]
    assert top["boot_usd_ci_low"] <= top["usd_change"] <= top["boot_usd_ci_high"]


def test_random_slope_for_velocity(panel):
    r = fit_drivers(panel, random_slopes=("cr_velocity",))
    vc = r.variance_components
    assert vc["slope_var_cr_velocity"] > 0
    assert np.asarray(r.mixedlm.cov_re).shape == (2, 2)
    within = r.coefficients[r.coefficients["component"] == "within"].set_index("driver")
    # the GLS average of team slopes stays close to the FE slope, and the ranking is unchanged
    v = within.loc["cr_velocity"]
    assert abs(v["estimate"] - v["fe_estimate"]) < 2 * v["fe_std_error"]
    assert r.sensitivity.iloc[0]["driver"] == "cr_velocity"
    with pytest.raises(ValueError, match="random slopes"):
        fit_drivers(panel, random_slopes=("not_a_driver",))


def test_unmeasured_and_constant_drivers_are_left_out_not_ranked(panel):
    # A git-only source: no on-call data (null) and no deployments (rollback rate filled with 0).
    blind = panel.assign(pages_per_oncall_builder=np.nan, rollback_rate=0.0)
    r = fit_drivers(blind)
    assert r.dropped_drivers == {"pages_per_oncall_builder": "no data", "rollback_rate": "constant (0)"}
    assert set(r.sensitivity["driver"]) == {"cr_velocity", "interventions_per_deploy", "ai_usage_share"}
    reference = fit_drivers(blind, drivers=("cr_velocity", "interventions_per_deploy", "ai_usage_share"))
    pd.testing.assert_frame_equal(r.sensitivity, reference.sensitivity)
    assert reference.dropped_drivers == {}
    with pytest.raises(ValueError, match=r"no driver varies: cr_velocity: constant \(1\); pages_per_oncall_builder"):
        fit_drivers(blind.assign(cr_velocity=1.0), drivers=("cr_velocity", "pages_per_oncall_builder"))
