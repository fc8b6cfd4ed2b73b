"""What the model assets store and show: tables and markdown of models_py.reports."""

from __future__ import annotations

import base64

import pytest

from ctsw.simulator import SimConfig, simulate_panel, simulate_tool_panel
from models_py.reports import ai_effect_report, event_study_report, tool_effects_report


@pytest.fixture(scope="module")
def sim():
    panel, tools, _ = simulate_tool_panel(SimConfig(n_teams=150, n_weeks=60, seed=11))
    return panel.fillna({"rollback_rate": 0.0, "interventions_per_deploy": 0.0}), tools


def test_ai_effect_report_tables_and_markdown(sim):
    panel, _ = sim
    r = ai_effect_report(panel)
    assert set(r.tables) == {"ai_effect_estimates", "exogeneity", "placebo_tests", "placebo_coefficients"}
    est = r.tables["ai_effect_estimates"]
    assert set(est["estimator"]) == {"twfe", "hpj", "anderson_hsiao"}
    assert {"lr_estimate", "lr_ci_low", "lr_ci_high", "pre_adoption_mean", "outcome"} <= set(est.columns)
    exo = r.tables["exogeneity"]
    assert set(exo["outcome"]) == {"cr_velocity", "deploy_velocity"}
    assert {"rollback_rate", "interventions_per_deploy"} <= set(exo["covariate"])
    assert len(r.tables["placebo_tests"]) == 6 and len(r.tables["placebo_coefficients"]) == 24
    for key in ("estimates", "exogeneity", "placebo"):
        assert r.markdown[key].count("\n") >= 3
    assert "half-panel jackknife" in r.markdown["estimates"]


def test_short_history_reports_what_it_can():
    panel, _ = simulate_panel(SimConfig(n_teams=20, n_weeks=8, seed=7))
    r = ai_effect_report(panel.fillna({"rollback_rate": 0.0, "interventions_per_deploy": 0.0}))
    assert "placebo_tests" not in r.tables and "ai_effect_estimates" in r.tables
    assert "not identified" in r.markdown["placebo"]


def test_event_study_report_embeds_the_plot(sim):
    panel, _ = sim
    r = event_study_report(panel, outcomes=("cr_velocity",))
    t = r.tables["event_study"]
    assert {"lead", "post", "post_average", "static_twfe"} <= set(t["phase"])
    assert t.loc[t["phase"] == "post_average", "event_time"].isna().all()
    assert t["pretrend_pvalue"].nunique() == 1
    md = r.markdown["event_study"]
    b64 = md.split("data:image/png;base64,")[1].split(")")[0]
    assert base64.b64decode(b64)[:4] == b"\x89PNG"
    assert r.values["post_average_cr_velocity"] == pytest.approx(
        t.loc[t["phase"] == "post_average", "estimate"].iloc[0])


def test_tool_effects_report(sim):
    panel, tools = sim
    r = tool_effects_report(panel, tools)
    assert set(r.tables["tool_effect_totals"]["model"]) == {"joint", "separate_sum"}
    assert r.values["overstatement_ratio"] > 1
    assert "baseline" in r.markdown["tool_effects"]
