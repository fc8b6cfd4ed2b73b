"""Size and power of the event study's joint pre-trend test on the simulator (not a CI test).

For each seed: ``simulate_panel`` at the given size, ``fit_event_study`` of ``cr_velocity`` (the asset's call),
and the p-value of the joint Wald test of the leads (``res.pretrend``). Designs:

* ``default`` and ``heterogeneous_by_cohort``: the simulator has no pre-trends, so the rejection rate at 5% is
  the size of the test (nominal 5%);
* ``trend<slope>`` (default DGP): ``slope x weeks to the event`` subtracted from the outcome before the event
  (the injected diverging pre-trend of ``tests/test_models_event_study.py``); the rejection rate is the power.

One JSON line per (seed, design, variance) in ``bench/results/event_study_mc_<N>x<T>.jsonl``; ``variance`` is
``res.pretrend["variance"]`` (``"CR1"`` for the versions without that field), so the lines of an earlier
version of the estimator stay in the file and the table shows both. A rerun replaces its own lines.

    python bench/event_study_mc.py --seeds 400 --size 300x104 --trends 0.04,0.02,0.01 --workers 2

``--summary-only --seeds 40`` prints the table of seeds 1..40 from the lines on disk.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing as mp  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ctsw.simulator import SimConfig, simulate_panel  # noqa: E402
from models_py.event_study import adoption_events, fit_event_study  # noqa: E402


def with_pretrend(panel: pd.DataFrame, slope: float) -> pd.DataFrame:
    """Outcome lowered by ``slope`` per week before the adoption event (adopting teams only)."""
    ev = adoption_events(panel, "team_id", "week_start").set_index("team_id")
    weeks_to = (panel["team_id"].map(ev["event"]) - panel["week_start"]).dt.days / 7
    return panel.assign(cr_velocity=panel["cr_velocity"] - slope * weeks_to.clip(lower=0).fillna(0))


def fit_record(panel: pd.DataFrame) -> dict:
    t0 = time.perf_counter()
    res = fit_event_study(panel, "team_id", "week_start", "cr_velocity", period_step="7D")
    secs = time.perf_counter() - t0
    pt = res.pretrend
    leads = res.coefficients[res.coefficients["phase"] == "lead"]
    return {"variance": pt.get("variance", "CR1"), "pvalue": float(f"{pt['pvalue']:.6g}"),
            "wald_stat": round(pt["wald_stat"], 5), "wald_df": pt["wald_df"], "leads": [int(k) for k in pt["leads"]],
            "lead_z": (leads["estimate"] / leads["std_error"]).round(4).tolist(), "fit_seconds": round(secs, 4)}


def one_seed(task: tuple[int, int, int, tuple[float, ...]]) -> list[dict]:
    n_teams, n_weeks, seed, trends = task
    base = {"n_teams": n_teams, "n_weeks": n_weeks, "seed": seed}
    panel, _ = simulate_panel(SimConfig(n_teams=n_teams, n_weeks=n_weeks, seed=seed))
    out = [{**base, "design": "default", **fit_record(panel)}]
    out += [{**base, "design": f"trend{slope:g}", **fit_record(with_pretrend(panel, slope))} for slope in trends]
    het, _ = simulate_panel(SimConfig(n_teams=n_teams, n_weeks=n_weeks, seed=seed, heterogeneous_by_cohort=True))
    out.append({**base, "design": "heterogeneous_by_cohort", **fit_record(het)})
    return out


def key(r: dict) -> tuple:
    return r["variance"], r["design"], r["seed"]


def load(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def summarise(rows: list[dict]) -> pd.DataFrame:
    """Per variance and design: rejection rate at 5% (with its Monte Carlo SE) and 1%, mean p-value, share of leads
    with |estimate / SE| < 1.96, median fit time; for the trend designs also the size-adjusted power (rejection at the
    p-value the two no-trend designs of the same variance reject 5% of the time), to compare variances at equal
    size. Seeds without a test (no lead seen in enough teams) are counted apart."""
    df = pd.DataFrame(rows)
    out = []
    for var, gv in df.groupby("variance", sort=True):
        null_p = gv.loc[~gv["design"].str.startswith("trend"), "pvalue"].dropna()
        crit = float(np.quantile(null_p, 0.05)) if len(null_p) else np.nan
        for design, g in gv.groupby("design", sort=True):
            p = g["pvalue"].dropna()
            n = len(p)
            rej = float((p < 0.05).mean())
            z = np.abs(np.concatenate([np.asarray(v, dtype=float) for v in g["lead_z"]]))
            out.append({"variance": var, "design": design, "seeds": n, "no_test": len(g) - n, "reject_5pct": rej,
                        "mcse": np.sqrt(rej * (1 - rej) / n), "reject_1pct": (p < 0.01).mean(),
                        "size_adj_power": (p < crit).mean() if design.startswith("trend") else np.nan,
                        "mean_p": p.mean(), "lead_abs_z_lt_1.96": (z < 1.959963984540054).mean(),
                        "median_fit_s": g["fit_seconds"].median()})
    return pd.DataFrame(out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=40, help="seeds 1..N (run and summarised)")
    ap.add_argument("--size", default="300x104", help="teams x weeks")
    ap.add_argument("--trends", default="0.04,0.02,0.01", help="injected pre-trend slopes (power); '' for none")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--summary-only", action="store_true")
    args = ap.parse_args(argv)
    n_teams, n_weeks = (int(v) for v in args.size.split("x"))
    trends = tuple(float(v) for v in args.trends.split(",") if v)
    path = ROOT / "bench" / "results" / f"event_study_mc_{n_teams}x{n_weeks}.jsonl"
    rows = {key(r): r for r in load(path)}
    if not args.summary_only:
        tasks = [(n_teams, n_weeks, s, trends) for s in range(1, args.seeds + 1)]
        t0 = time.perf_counter()
        with mp.get_context("fork").Pool(args.workers) as pool:
            for recs in pool.imap_unordered(one_seed, tasks):
                rows.update({key(r): r for r in recs})
        print(f"{len(tasks)} seeds in {time.perf_counter() - t0:.0f} s ({args.workers} workers)")
        path.parent.mkdir(parents=True, exist_ok=True)
        ordered = sorted(rows.values(), key=lambda r: (r["variance"], r["design"], r["seed"]))
        path.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in ordered))
    with pd.option_context("display.width", 200, "display.float_format", "{:.3f}".format):
        print(summarise([r for r in rows.values() if r["seed"] <= args.seeds]).to_string(index=False))


if __name__ == "__main__":
    main()
