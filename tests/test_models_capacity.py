"""Capacity freed: hand-computed values on a 2-team toy panel, zero effect, ordered intervals."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from models_py.capacity import WEEKS_PER_YEAR, capacity_freed


@pytest.fixture()
def toy() -> pd.DataFrame:
    # team A: 2 builders, velocity 3 then 4, share 0 then 0.5, cost 10,000 per week
    # team B: 1 builder, velocity 2 then 2.5, share 0.5 then 1, cost 6,000 per week
    return pd.DataFrame(
        {
            "team_id": ["A", "A", "B", "B"],
            "org": ["x", "x", "y", "y"],
            "week_start": pd.to_datetime(["2024-01-01", "2024-01-08"] * 2),
            "ai_usage_share": [0.0, 0.5, 0.5, 1.0],
            "cr_velocity": [3.0, 4.0, 2.0, 2.5],
            "builder_fte": [2.0, 2.0, 1.0, 1.0],
            "dev_cost_usd": [10_000.0, 10_000.0, 6_000.0, 6_000.0],
        }
    )


def test_hand_computed_row_counterfactual(toy):
    e = 0.4
    res = capacity_freed(toy, e, baseline="row_counterfactual")
    # f = e*s / v (baseline v - e*s): A: 0, 0.2/4; B: 0.2/2, 0.4/2.5
    f = np.array([0.0, 0.2 / 4, 0.2 / 2, 0.4 / 2.5])
    fte_weeks = np.array([2, 2, 1, 1]) * f
    usd = np.array([10_000, 10_000, 6_000, 6_000]) * f
    assert res.totals.loc["capacity_freed_fte_weeks", "estimate"] == pytest.approx(fte_weeks.sum())
    assert res.totals.loc["capacity_freed_engineering_years", "estimate"] == pytest.approx(
        fte_weeks.sum() / WEEKS_PER_YEAR
    )
    assert res.totals.loc["capacity_freed_usd", "estimate"] == pytest.approx(usd.sum())
    np.testing.assert_allclose(res.rows["capacity_freed_fte_weeks"], fte_weeks)
    np.testing.assert_allclose(res.rows["cost_per_fte_week"], [5_000, 5_000, 6_000, 6_000])


def test_hand_computed_team_counterfactual_and_groups(toy):
    e = 0.4
    res = capacity_freed(toy, e, by="org")
    # team baselines: A: mean v 3.5 - 0.4*0.25 = 3.4; B: 2.25 - 0.4*0.75 = 1.95
    g = e * toy["ai_usage_share"].to_numpy()
    b = np.array([3.4, 3.4, 1.95, 1.95])
    f = g / (b + g)
    k = toy["builder_fte"].to_numpy() * f
    assert res.totals.loc["capacity_freed_fte_weeks", "estimate"] == pytest.approx(k.sum())
    assert res.totals.loc["capacity_freed_usd", "estimate"] == pytest.approx((toy["dev_cost_usd"] * f).sum())
    by = res.by_group.set_index("org")
    assert by.loc["x", "capacity_freed_fte_weeks"] == pytest.approx(k[:2].sum())
    assert by.loc["y", "capacity_freed_engineering_years"] == pytest.approx(k[2:].sum() / WEEKS_PER_YEAR)


def test_fixed_baseline(toy):
    res = capacity_freed(toy, 1.0, baseline=3.0)
    f = toy["ai_usage_share"] / (3.0 + toy["ai_usage_share"])
    assert res.totals.loc["capacity_freed_fte_weeks", "estimate"] == pytest.approx((toy["builder_fte"] * f).sum())


def test_zero_effect_zero_capacity(toy):
    res = capacity_freed(toy, 0.0)
    assert (res.totals["estimate"] == 0).all()
    assert (res.rows["capacity_freed_fte_weeks"] == 0).all()
    res = capacity_freed(toy, 0.0, 0.1)
    assert res.totals.loc["capacity_freed_usd", "estimate"] == 0
    assert res.totals.loc["capacity_freed_usd", "ci_low"] < 0 < res.totals.loc["capacity_freed_usd", "ci_high"]


def test_interval_ordered_and_at_effect_ci_endpoints(toy):
    res = capacity_freed(toy, 0.4, 0.1)
    t = res.totals
    assert (t["ci_low"] < t["estimate"]).all() and (t["estimate"] < t["ci_high"]).all()
    assert res.interval_method == "effect_ci_endpoints"
    lo = capacity_freed(toy, res.effect_ci[0]).totals["estimate"]
    hi = capacity_freed(toy, res.effect_ci[1]).totals["estimate"]
    np.testing.assert_allclose(t["ci_low"], lo)
    np.testing.assert_allclose(t["ci_high"], hi)
    sim = capacity_freed(toy, 0.4, 0.1, n_sim=4000, seed=1).totals
    assert sim.loc["capacity_freed_fte_weeks", "ci_low"] == pytest.approx(
        t.loc["capacity_freed_fte_weeks", "ci_low"], rel=0.1
    )


def test_missing_share_is_skipped(toy):
    toy.loc[1, "ai_usage_share"] = np.nan
    res = capacity_freed(toy, 0.4, baseline="row_counterfactual")
    assert res.summary["n_rows_skipped"] == 1
    assert res.summary["label"].startswith("capacity freed")
    assert json.loads(json.dumps(res.summary))["n_rows_skipped"] == 1


def test_from_dynamic_result_on_simulated_panel():
    from ctsw.simulator import SimConfig, simulate_panel
    from models_py.capacity import capacity_from_result
    from models_py.dynamic_panel import fit_dynamic_panel

    panel, truth = simulate_panel(SimConfig(n_teams=120, n_weeks=60, seed=3))
    filled = panel.fillna({"rollback_rate": 0.0, "interventions_per_deploy": 0.0})
    res = fit_dynamic_panel(
        filled,
        "team_id",
        "week_start",
        "cr_velocity",
        ["ai_usage_share", "rollback_rate", "interventions_per_deploy"],
        ("twfe", "hpj"),
        period_step="7D",
    )
    cap = capacity_from_result(panel, res, by="org")
    t = cap.totals
    assert (t["ci_low"] <= t["estimate"]).all() and (t["estimate"] <= t["ci_high"]).all()
    assert t.loc["capacity_freed_fte_weeks", "estimate"] > 0
    assert cap.by_group["capacity_freed_fte_weeks"].sum() == pytest.approx(
        t.loc["capacity_freed_fte_weeks", "estimate"]
    )
    # the interval of the effect maps onto the interval of the capacity
    lr = res.row("hpj", "ai_usage_share")
    assert cap.effect_ci == (pytest.approx(lr["lr_ci_low"]), pytest.approx(lr["lr_ci_high"]))
    # evaluated at the true long-run effect, the capacity lies inside the estimated interval
    at_truth = capacity_freed(panel, truth["outcomes"]["cr_velocity"]["long_run_effect"]).totals
    assert t.loc["capacity_freed_usd", "ci_low"] <= at_truth.loc["capacity_freed_usd", "estimate"]
    assert at_truth.loc["capacity_freed_usd", "estimate"] <= t.loc["capacity_freed_usd", "ci_high"]


def test_bootstrap_draws_give_percentile_intervals_per_team_org_total(toy):
    draws = np.linspace(0.2, 0.6, 201)
    res = capacity_freed(toy, 0.4, effect_draws=draws, by="org", by_team=True)
    assert res.interval_method == "bootstrap_percentile"
    t = res.totals
    lo = capacity_freed(toy, np.quantile(draws, 0.025)).totals["estimate"]
    hi = capacity_freed(toy, np.quantile(draws, 0.975)).totals["estimate"]
    # capacity is monotone in the effect, so its percentiles are the capacity at the effect's percentiles
    np.testing.assert_allclose(t["ci_low"], lo, rtol=1e-6)
    np.testing.assert_allclose(t["ci_high"], hi, rtol=1e-6)
    team = res.by_team.set_index("team_id")
    assert team["capacity_freed_fte_weeks"].sum() == pytest.approx(t.loc["capacity_freed_fte_weeks", "estimate"])
    assert (team["capacity_freed_usd_ci_low"] <= team["capacity_freed_usd"]).all()
    assert (team["capacity_freed_usd"] <= team["capacity_freed_usd_ci_high"]).all()
    assert team.loc["A", "capacity_freed_fte_weeks_ci_high"] > team.loc["A", "capacity_freed_fte_weeks_ci_low"]
    assert res.summary["n_effect_draws"] == 201


def test_window_restricts_the_sum(toy):
    full = capacity_freed(toy, 0.4, baseline="row_counterfactual")
    second = capacity_freed(toy, 0.4, baseline="row_counterfactual", start="2024-01-08")
    first = capacity_freed(toy, 0.4, baseline="row_counterfactual", end="2024-01-08")
    total = full.totals.loc["capacity_freed_fte_weeks", "estimate"]
    a = first.totals.loc["capacity_freed_fte_weeks", "estimate"]
    b = second.totals.loc["capacity_freed_fte_weeks", "estimate"]
    assert a + b == pytest.approx(total) and a > 0 and b > 0
    assert a == pytest.approx(1 * 0.2 / 2)  # week 1: only team B (share 0.5, v 2): 1 FTE x 0.2/2
    assert second.summary["n_rows_in_window"] == 2


def test_long_run_bootstrap_on_simulated_panel():
    from ctsw.simulator import SimConfig, simulate_panel
    from models_py.capacity import long_run_bootstrap

    panel, truth = simulate_panel(SimConfig(n_teams=120, n_weeks=60, seed=3))
    filled = panel.fillna({"rollback_rate": 0.0, "interventions_per_deploy": 0.0})
    res, draws = long_run_bootstrap(filled, n_boot=60, seed=1)
    assert draws.shape == (60,) and np.isfinite(draws).all()
    lr = res.row("hpj", "ai_usage_share")
    assert np.std(draws, ddof=1) == pytest.approx(lr["lr_std_error"], rel=0.35)
    cap = capacity_freed(panel, lr["lr_estimate"], effect_draws=draws, by="org", by_team=True)
    t = cap.totals
    assert (t["ci_low"] < t["estimate"]).all() and (t["estimate"] < t["ci_high"]).all()
    at_truth = capacity_freed(panel, truth["outcomes"]["cr_velocity"]["long_run_effect"]).totals
    assert t.loc["capacity_freed_usd", "ci_low"] <= at_truth.loc["capacity_freed_usd", "estimate"]
    assert at_truth.loc["capacity_freed_usd", "estimate"] <= t.loc["capacity_freed_usd", "ci_high"]
    assert cap.by_team["capacity_freed_usd"].sum() == pytest.approx(t.loc["capacity_freed_usd", "estimate"])
