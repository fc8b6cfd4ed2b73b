"""The benchmark's stages that are not plain `ctsw` commands; bench/run.py runs each in its own subprocess.

    python -m bench.stage discover --detail out.json
    python -m bench.stage pipeline --from 2024-01-01 --to 2024-06-24 --select transform --detail out.json
    python -m bench.stage models --detail out.json
    python -m bench.stage floor --detail out.json
    python -m bench.stage fe --detail out.json

Paths come from the CTSW_* environment variables (ctsw.config.Settings). Each stage writes what it measured
inside the process (phase timings, dbt node timings, comparisons) as JSON to --detail.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ctsw.config import Settings

BENCH_DIR = Path(__file__).resolve().parent
FLOOR_SQL = BENCH_DIR / "floor.sql"
# What `ctsw run` materialises minus the models and the report: raw loads, every dbt model and test, the GE check.
TRANSFORM_GROUPS = ("raw", "staging", "intermediate", "marts")
# The model assets' calls (orchestration/defs/models/assets.py), repeated here so that this stage does not
# import Dagster: its time and memory are the models' only.
OUTCOMES = ("cr_velocity", "deploy_velocity")
COVARIATES = ("ai_usage_share", "rollback_rate", "interventions_per_deploy")
KEY_COLUMNS = ("prs_merged", "deployments", "builder_fte", "ai_usage_share")


class Timer:
    """Wall and CPU (all threads of this process) seconds of named phases."""

    def __init__(self) -> None:
        self.phases: dict[str, dict[str, float]] = {}

    @contextlib.contextmanager
    def __call__(self, name: str):
        w0, c0 = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.phases[name] = {
                "wall_s": round(time.perf_counter() - w0, 4),
                "cpu_s": round(time.process_time() - c0, 4),
            }


def _write(path: str | None, detail: dict[str, Any]) -> None:
    text = json.dumps(detail, indent=2, default=str)
    if path:
        Path(path).write_text(text)
    else:
        print(text)


# ------------------------------------------------------------------------------------------------ pipeline

DBT_NODE = re.compile(r"^\d+ of \d+ (OK created sql (\w+) model|PASS|WARN|ERROR|FAIL)\s+(\S+).*?in ([\d.]+)s\]")
DBT_TOTAL = re.compile(r"Finished running .* \(([\d.]+)s\)")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def dbt_timings(log_text: str) -> dict[str, Any]:
    """Per-node times from dbt's console lines: models vs data tests, and the slowest nodes."""
    models: dict[str, float] = {}
    tests: dict[str, float] = {}
    total = None
    for raw in log_text.splitlines():
        line = ANSI.sub("", raw).strip()
        m = DBT_NODE.match(line)
        if m:
            (models if m.group(1).startswith("OK created") else tests)[m.group(3)] = float(m.group(4))
        t = DBT_TOTAL.search(line)
        if t:
            total = float(t.group(1))
    slow = sorted(
        {**{f"model {k}": v for k, v in models.items()}, **{f"test {k}": v for k, v in tests.items()}}.items(),
        key=lambda kv: -kv[1],
    )[:12]
    node_s = sum(models.values()) + sum(tests.values())
    return {
        "dbt_total_s": total,
        "models": len(models),
        "models_s": round(sum(models.values()), 2),
        "tests": len(tests),
        "tests_s": round(sum(tests.values()), 2),
        # data tests' share of the time dbt spent running nodes, and dbt's own time outside the nodes
        "tests_share": round(sum(tests.values()) / node_s, 3) if node_s else None,
        "outside_nodes_s": round(total - node_s, 2) if total else None,
        "slowest": [{"node": k, "s": v} for k, v in slow],
    }


def cmd_pipeline(args: argparse.Namespace) -> int:
    """Materialise the weeks first..last as one run, like `ctsw run`, with the asset selection asked for."""
    timer = Timer()
    settings = Settings.from_env()
    # A/B on Dagster's event log: "pooled" (re)writes the home's dagster.yaml as ctsw.runner writes a new one
    # (ctsw/event_log.py), "default" without the pooled event log; unset keeps the home's dagster.yaml.
    event_log = os.environ.get("CTSW_BENCH_EVENT_LOG", "")
    if event_log:
        from ctsw.runner import DAGSTER_YAML, POOLED_EVENT_LOG_YAML

        home = Path(os.environ.get("DAGSTER_HOME", settings.data_dir / "dagster_home")).resolve()
        home.mkdir(parents=True, exist_ok=True)
        (home / "dagster.yaml").write_text(DAGSTER_YAML + (POOLED_EVENT_LOG_YAML if event_log == "pooled" else ""))
    with timer("import_definitions"):
        from ctsw.runner import dagster_home, dagster_run_env

        dagster_home(settings)
        dagster_run_env()  # as `ctsw run`
        import dagster as dg
        from dagster._core.utils import make_new_run_id

        from orchestration.definitions import defs

        if args.select == "all":
            job = defs.resolve_job_def("ctsw_weekly")
        else:
            selection = dg.AssetSelection.groups(*TRANSFORM_GROUPS)
            bench_job = dg.define_asset_job("bench_transform", selection=selection)
            job = dg.Definitions.merge(defs, dg.Definitions(jobs=[bench_job])).resolve_job_def("bench_transform")
    run_id = make_new_run_id()
    log_path = Path(args.log or settings.data_dir / "logs" / f"bench-{args.select}-{args.first}-{args.last}.log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with dg.DagsterInstance.get() as instance:
        with timer("execute"), open(log_path, "w") as log, contextlib.redirect_stdout(log):
            result = job.execute_in_process(
                instance=instance,
                run_id=run_id,
                tags={
                    "dagster/asset_partition_range_start": args.first,
                    "dagster/asset_partition_range_end": args.last,
                    "ctsw/trigger": "bench",
                },
                run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
                raise_on_error=False,
            )
        records = instance.all_logs(run_id)
        event_log_storage = type(instance.event_log_storage).__name__
    started: dict[str, float] = {}
    steps: dict[str, dict[str, Any]] = {}
    failed_checks: list[str] = []
    checks = 0
    for entry in records:
        ev = entry.dagster_event
        if ev is None:
            continue
        kind = ev.event_type_value
        if kind == "STEP_START":
            started[ev.step_key] = entry.timestamp
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
            steps[ev.step_key] = {
                "s": round(entry.timestamp - started.get(ev.step_key, entry.timestamp), 2),
                "ok": kind == "STEP_SUCCESS",
                "start": round(started.get(ev.step_key, entry.timestamp), 3),
                "end": round(entry.timestamp, 3),
            }
        elif kind == "ASSET_CHECK_EVALUATION":
            checks += 1
            if not ev.event_specific_data.passed:
                failed_checks.append(ev.event_specific_data.asset_check_key.to_user_string())
    dbt = dbt_timings(log_path.read_text(errors="replace"))
    load_s = sum(v["s"] for k, v in steps.items() if k.startswith("load_"))
    dbt_s = sum(v["s"] for k, v in steps.items() if "dbt" in k)
    check_s = sum(v["s"] for k, v in steps.items() if "great_expectations" in k or k.endswith("_checks"))
    detail = {
        "success": result.success,
        "select": args.select,
        "event_log_storage": event_log_storage,
        "weeks": [args.first, args.last],
        "phases": timer.phases,
        "steps": steps,
        "load_s": round(load_s, 2),
        "dbt_s": round(dbt_s, 2),
        "checks_s": round(check_s, 2),  # GE suite and the other Python asset checks
        "transform_s": round(load_s + dbt_s, 2),
        # time of the dbt step that dbt itself does not account for: dagster-dbt turning dbt's events into
        # Dagster events (one materialisation per asset and week) and storing them
        "dbt_step_outside_dbt_s": round(dbt_s - (dbt["dbt_total_s"] or 0), 2),
        "event_log_records": len(records),
        "check_evaluations": checks,
        "failed_checks": failed_checks,
        "dbt": dbt,
        "log": str(log_path),
    }
    _write(args.detail, detail)
    return 0 if result.success else 1


# ------------------------------------------------------------------------------------------------ discover


def cmd_discover(args: argparse.Namespace) -> int:
    """The week range `ctsw run` finds in the landing folder when no --from/--to is given."""
    from ctsw.ingest.discover import landing_week_range

    found = landing_week_range(Settings.from_env().landing_dir)
    _write(args.detail, {"first_week": str(found[0]), "last_week": str(found[1])} if found else {})
    return 0 if found else 1


# ------------------------------------------------------------------------------------------------ models


def read_model_panel(db_path: Path):
    """The whole checked panel as the model assets read it (store.read_panel, then their fillna)."""
    import duckdb

    from orchestration.defs.models.store import ZERO_WHEN_NO_DEPLOYMENT, read_panel

    with duckdb.connect(str(db_path), read_only=True) as con:
        panel = read_panel(con, datetime(9999, 1, 1))
    cols = list(ZERO_WHEN_NO_DEPLOYMENT)
    panel[cols] = panel[cols].fillna(0.0)
    return panel


def cmd_models(args: argparse.Namespace) -> int:
    """The model assets' estimators on the whole panel, no bootstrap, timed one by one (the assets themselves, with
    their diagnostics and the per-tool model, are timed as steps of the weekly_e2e run)."""
    timer = Timer()
    settings = Settings.from_env()
    with timer("import"):
        from models_py.capacity import capacity_freed
        from models_py.drivers import fit_drivers
        from models_py.dynamic_panel import fit_dynamic_panel
    with timer("read_panel"):
        panel = read_model_panel(settings.duckdb_path)
    results: dict[str, Any] = {
        "rows": len(panel),
        "teams": int(panel.team_id.nunique()),
        "weeks": int(panel.week_start.nunique()),
    }
    fits = {}
    for outcome in OUTCOMES:
        with timer(f"dynamic_panel_{outcome}"):
            fits[outcome] = fit_dynamic_panel(
                panel, "team_id", "week_start", outcome, list(COVARIATES), period_step="7D"
            )
    with timer("drivers"):
        fit_drivers(panel)
    row = fits["cr_velocity"].row("hpj", "ai_usage_share")
    with timer("capacity"):
        capacity_freed(panel, float(row.lr_estimate), float(row.lr_std_error), by="org")
    from models_py.event_study import fit_event_study

    with timer("event_study"):
        fit_event_study(panel, "team_id", "week_start", "cr_velocity", period_step="7D")
    results["hpj_ai_usage_share_cr_velocity"] = float(row.estimate)
    results["phases"] = timer.phases
    results["fit_s"] = round(sum(v["wall_s"] for k, v in timer.phases.items() if k not in ("import", "read_panel")), 3)
    _write(args.detail, results)
    return 0


# ------------------------------------------------------------------------------------------------ floor


def compare_panels(con, left: str, right: str, columns: list[str], rel_tol: float = 1e-9) -> dict[str, Any]:
    """Row-level comparison of two team-week tables on (team_id, week_start): counts and mismatches per column."""
    counts = con.execute(f"""
        SELECT count(*) FILTER (WHERE l.team_id IS NOT NULL AND r.team_id IS NOT NULL),
               count(*) FILTER (WHERE r.team_id IS NULL), count(*) FILTER (WHERE l.team_id IS NULL)
        FROM {left} l FULL JOIN {right} r ON l.team_id = r.team_id AND l.week_start = r.week_start""").fetchone()
    types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {left})").fetchall())
    mismatch = {}
    for c in columns:
        if types.get(c) == "DOUBLE":
            differs = (
                f"(l.{c} IS NULL) <> (r.{c} IS NULL) OR "
                f"abs(l.{c} - r.{c}) > {rel_tol} * greatest(1, abs(l.{c}), abs(r.{c}))"
            )
        else:
            differs = f"l.{c} IS DISTINCT FROM r.{c}"
        n = con.execute(
            f"SELECT count(*) FROM {left} l JOIN {right} r "
            f"ON l.team_id = r.team_id AND l.week_start = r.week_start WHERE {differs}"
        ).fetchone()[0]
        if n:
            mismatch[c] = n
    return {
        "rows_both": counts[0],
        "rows_only_left": counts[1],
        "rows_only_right": counts[2],
        "columns_compared": len(columns),
        "mismatched_columns": mismatch,
        "equal": counts[1] == 0 and counts[2] == 0 and not mismatch,
    }


def cmd_floor(args: argparse.Namespace) -> int:
    """Run bench/floor.sql on the landing files (timed), then compare its panel with marts.fct_team_weeks."""
    import duckdb

    timer = Timer()
    settings = Settings.from_env()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET file_search_path = '{settings.landing_dir}'")
    with timer("floor_sql"):
        con.execute(FLOOR_SQL.read_text())
    rows = con.execute("SELECT count(*) FROM floor_panel").fetchone()[0]
    detail: dict[str, Any] = {
        "rows": rows,
        "phases": timer.phases,
        "floor_s": timer.phases["floor_sql"]["wall_s"],
        "floor_cpu_s": timer.phases["floor_sql"]["cpu_s"],
    }
    if not args.no_compare:
        con.execute(f"ATTACH '{settings.duckdb_path}' AS pipeline (READ_ONLY)")
        panel_cols = [r[0] for r in con.execute("DESCRIBE pipeline.marts.fct_team_weeks").fetchall()]
        floor_cols = [r[0] for r in con.execute("DESCRIBE floor_panel").fetchall()]
        detail["same_columns"] = panel_cols == floor_cols
        detail["key_columns"] = compare_panels(con, "floor_panel", "pipeline.marts.fct_team_weeks", list(KEY_COLUMNS))
        shared = [c for c in panel_cols if c in floor_cols and c not in ("team_id", "week_start")]
        detail["all_columns"] = compare_panels(con, "floor_panel", "pipeline.marts.fct_team_weeks", shared)
    con.close()
    _write(args.detail, detail)
    return 0 if args.no_compare or detail["key_columns"]["equal"] else 1


# ------------------------------------------------------------------------------------------------ FE fits


def estimation_sample(panel, outcome: str, regressors: list[str], min_periods: int = 3):
    """The naive TWFE sample of fit_dynamic_panel: rows with an outcome, its previous-week lag and every regressor,
    entities with >= min_periods such rows."""
    from models_py.panel_prep import add_lags

    d = panel[["team_id", "week_start", outcome, *regressors]].dropna(subset=[outcome])
    d = add_lags(d, "team_id", "week_start", [outcome], period_step="7D")
    d = d.dropna(subset=[outcome, f"{outcome}_lag1", *regressors])
    return d[d.groupby("team_id").team_id.transform("size") >= min_periods].reset_index(drop=True)


def _best(fn: Callable[[], Any], repeats: int) -> tuple[Any, dict[str, float]]:
    """Run fn `repeats` times: its last result, the first (cold) and the best wall and CPU seconds."""
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return out, {
        "cold_wall_s": round(walls[0], 4),
        "best_wall_s": round(min(walls), 4),
        "best_cpu_s": round(min(cpus), 4),
        "runs": repeats,
    }


def cmd_fe(args: argparse.Namespace) -> int:
    """The naive dynamic TWFE fit (y on its lag and X, team and week effects, team-clustered) three ways."""
    import pandas as pd

    from models_py.dynamic_panel import fit_dynamic_panel
    from models_py.panel_fe import factorize, fit_twfe

    settings = Settings.from_env()
    panel = read_model_panel(settings.duckdb_path)
    outcome = args.outcome
    regs = list(COVARIATES)
    lag = f"{outcome}_lag1"
    est = estimation_sample(panel, outcome, regs)
    terms = [lag, *regs]
    detail: dict[str, Any] = {
        "outcome": outcome,
        "n_obs": len(est),
        "teams": int(est.team_id.nunique()),
        "weeks": int(est.week_start.nunique()),
        "libraries": {},
    }

    def ours():
        ent, n_e = factorize(est.team_id)
        per, n_p = factorize(est.week_start)
        fit = fit_twfe(
            est[outcome].to_numpy(float), est[terms].to_numpy(float), ent, per, n_entities=n_e, n_periods=n_p
        )
        return pd.Series(fit.params, index=terms), pd.Series(fit.std_errors, index=terms)

    def ours_full():
        res = fit_dynamic_panel(panel, "team_id", "week_start", outcome, regs, estimators=("twfe",), period_step="7D")
        f = res.fits["twfe"]
        return f.params, f.std_errors

    def linearmodels():
        from linearmodels import PanelOLS

        d = est.set_index(["team_id", "week_start"])
        res = PanelOLS(d[outcome], d[terms], entity_effects=True, time_effects=True).fit(
            cov_type="clustered", cluster_entity=True
        )
        return res.params[terms], res.std_errors[terms]

    def pyfixest():
        import pyfixest as pf

        res = pf.feols(f"{outcome} ~ {' + '.join(terms)} | team_id + week_start", data=est, vcov={"CRV1": "team_id"})
        return res.coef()[terms], res.se()[terms]

    candidates = {
        "ctsw fit_twfe": ours,
        "ctsw fit_dynamic_panel(twfe, from the panel)": ours_full,
        "linearmodels PanelOLS": linearmodels,
        "pyfixest feols": pyfixest,
    }
    estimates = {}
    for name, fn in candidates.items():
        try:
            (params, ses), timing = _best(fn, args.repeats)
        except ImportError as exc:
            detail["libraries"][name] = {"error": f"not installed: {exc}"}
            continue
        estimates[name] = params
        detail["libraries"][name] = {**timing, "params": params.round(10).to_dict(), "se": ses.round(10).to_dict()}
    ref = estimates["ctsw fit_twfe"]
    ref_se = pd.Series(detail["libraries"]["ctsw fit_twfe"]["se"])
    for name, params in estimates.items():
        se = pd.Series(detail["libraries"][name]["se"])
        detail["libraries"][name]["se_max_rel_diff_vs_ctsw"] = float(np.max(np.abs(se / ref_se - 1)))
        diff = float(np.max(np.abs(params.to_numpy() - ref.to_numpy())))
        detail["libraries"][name]["max_abs_diff_vs_ctsw"] = diff
        detail["libraries"][name]["agree_6dp"] = bool(
            np.all(params.round(6).to_numpy() == ref.round(6).to_numpy()) or diff < 5e-7
        )
    base = detail["libraries"]["ctsw fit_twfe"]["best_wall_s"]
    for lib in detail["libraries"].values():
        if "best_wall_s" in lib:
            lib["ratio_to_ctsw"] = round(lib["best_wall_s"] / base, 2) if base else None
    _write(args.detail, detail)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.stage", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="stage", required=True)
    pl = sub.add_parser("pipeline", help="one Dagster run over a range of weeks")
    pl.add_argument("--from", dest="first", type=lambda s: date.fromisoformat(s).isoformat(), required=True)
    pl.add_argument("--to", dest="last", type=lambda s: date.fromisoformat(s).isoformat(), required=True)
    pl.add_argument(
        "--select",
        choices=("transform", "all"),
        default="transform",
        help="transform: raw loads, dbt build and checks; all: the whole ctsw_weekly job",
    )
    pl.add_argument("--log", help="where dbt's and Dagster's console output goes")
    pl.set_defaults(func=cmd_pipeline)
    sub.add_parser("discover", help="the landing folder's week range, as `ctsw run` finds it").set_defaults(
        func=cmd_discover
    )
    sub.add_parser("models", help="every model estimator on the panel").set_defaults(func=cmd_models)
    fl = sub.add_parser("floor", help="bench/floor.sql on the landing files, compared with the dbt panel")
    fl.add_argument("--no-compare", action="store_true")
    fl.set_defaults(func=cmd_floor)
    fe = sub.add_parser("fe", help="naive dynamic TWFE: ctsw vs linearmodels vs pyfixest")
    fe.add_argument("--outcome", default="cr_velocity")
    fe.add_argument("--repeats", type=int, default=3)
    fe.set_defaults(func=cmd_fe)
    for sp in (pl, sub.choices["discover"], sub.choices["models"], fl, fe):
        sp.add_argument("--detail", help="write the stage's JSON here (default: stdout)")
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
