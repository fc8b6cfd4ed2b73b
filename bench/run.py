"""The ctsw benchmark: every stage of the pipeline at one or more sizes, each stage in its own subprocess.

    python -m bench.run --smoke                       # 20 teams x 16 weeks, about two minutes (CI)
    python -m bench.run --sizes small,default         # 500 x 104 and 1000 x 260
    nice -n 10 python -m bench.run --sizes scale      # 5000 teams x 260 weeks (about 78M landing rows)
    python -m bench.run --sizes 2000x52               # any TEAMSxWEEKS
    python -m bench.run --scaling bench/results/*.json  # time vs size slopes from saved results

Stages, in order (docs/performance.md explains each): simulate; discover (the week range `ctsw run` finds);
backfill (one Dagster run over every week but the last, raw loads + dbt build + checks); weekly (the last week as
one partition, the same assets); weekly_e2e (the whole `ctsw_weekly` job for that week: also the models and the
report); models (every estimator called directly on the panel, no bootstrap); report (`ctsw report` when the CLI
has it); floor (bench/floor.sql, and its panel compared with the dbt panel); fe (naive dynamic TWFE: ours,
linearmodels, pyfixest). Each stage's wall time, CPU time (user + system of the process tree) and peak memory
go to bench/results/<size>-<date>.json; the table is printed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.measure import Measurement, load_average, run_measured
from ctsw.runner import monday

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
SIZES = {"smoke": (20, 16), "small": (500, 104), "default": (1000, 260), "scale": (5000, 260)}
STAGES = ("simulate", "discover", "backfill", "weekly", "weekly_e2e", "models", "report", "floor", "fe")
GB = 1024.0
# The targets (checked at every size; they are meant for `scale`). Seconds and MB.
TARGETS = {
    "simulate": {"wall_s": 300, "peak_tree_rss_mb": 4 * GB},
    "backfill": {"wall_s": 600},
    # "one weekly partition end to end (load, dbt, checks)": the weekly stage; weekly_e2e adds the models and the
    # report, which the model-stage target covers.
    "weekly": {"wall_s": 60},
    "models": {"wall_s": 300},
}
STAGE_MEMORY_LIMIT_MB = 8 * GB
REFERENCE_STAGES = ("floor", "fe")
FLOOR_RATIO_LIMIT = 3.0


def parse_size(text: str) -> tuple[str, int, int]:
    if text in SIZES:
        return (text, *SIZES[text])
    teams, _, weeks = text.lower().partition("x")
    if not (teams.isdigit() and weeks.isdigit()):
        raise argparse.ArgumentTypeError(f"{text!r}: a size is one of {', '.join(SIZES)} or TEAMSxWEEKS")
    return (f"{teams}x{weeks}", int(teams), int(weeks))


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )

    def version(pkg: str) -> str | None:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as v

        try:
            return v(pkg)
        except PackageNotFoundError:
            return None

    return {
        "nproc": os.cpu_count(),
        "memory_gb": round(mem_kb / 2**20, 1),
        "cpu_model": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "versions": {
            p: version(p)
            for p in (
                "duckdb",
                "dbt-core",
                "dbt-duckdb",
                "dagster",
                "dagster-dbt",
                "pandas",
                "numpy",
                "linearmodels",
                "pyfixest",
            )
        },
    }


def start_week(weeks: int, today: date | None = None) -> date:
    """A first Monday such that every simulated week (and the on-call rota after it) lies in the past."""
    today = today or date.today()
    return monday(today) - timedelta(weeks=weeks + 2)


def landing_stats(landing: Path) -> dict[str, Any]:
    import pyarrow.parquet as pq

    rows: dict[str, int] = {}
    size = 0
    for folder in sorted(p for p in landing.iterdir() if p.is_dir()):
        n = 0
        for f in folder.glob("*.parquet"):
            n += pq.ParquetFile(f).metadata.num_rows
            size += f.stat().st_size
        rows[folder.name] = n
    return {"rows": rows, "total_rows": sum(rows.values()), "bytes": size}


def last_data_week(landing: Path) -> date:
    """The panel's horizon: the last week with telemetry other than on-call rotas (int_weeks_enumerated)."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET file_search_path = '{landing}'")
    parts = {
        "pull_requests": "created_at",
        "deployments": "started_at",
        "commits": "committed_at",
        "pages": "triggered_at",
        "ai_tool_usage": "usage_date",
    }
    sql = " UNION ALL ".join(
        f"SELECT max({c}::TIMESTAMP) AS m FROM read_parquet('{t}/*.parquet')" for t, c in parts.items()
    )
    last = con.execute(f"SELECT max(m) FROM ({sql})").fetchone()[0]
    con.close()
    return monday(last.date())


def run_size(name: str, teams: int, weeks: int, args: argparse.Namespace) -> dict[str, Any]:
    work = Path(args.work_dir).resolve() / name
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    logs = work / "bench-logs"
    first = start_week(weeks)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CTSW_", "DAGSTER_HOME"))}
    env |= {
        "CTSW_DATA_DIR": str(work),
        "CTSW_START_WEEK": first.isoformat(),
        "CTSW_PSEUDONYM_KEY": "bench",
        "PYTHONPATH": str(PROJECT_ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
    }
    py = sys.executable
    out: dict[str, Any] = {
        "size": name,
        "teams": teams,
        "weeks": weeks,
        "start_week": first.isoformat(),
        "started": datetime.now().isoformat(timespec="seconds"),
        "machine": machine(),
        "options": {
            "duckdb_memory_limit": env.get("CTSW_DUCKDB_MEMORY_LIMIT", "4GB (ctsw/db.py, dbt_project/profiles.yml)"),
        },
        "stages": {},
    }
    print(
        f"\n== {name}: {teams} teams x {weeks} weeks from {first} (data in {work}; load {load_average()})", flush=True
    )

    def stage(key: str, command: list[str], detail: bool = False) -> Measurement:
        detail_path = logs / f"{key}.json"
        cmd = command + (["--detail", str(detail_path)] if detail else [])
        m = run_measured(key, cmd, env, logs / f"{key}.log", cwd=PROJECT_ROOT, nice=args.nice)
        if detail and detail_path.exists():
            m.detail = json.loads(detail_path.read_text())
            step_memory(m)
        out["stages"][key] = m.as_dict()
        status = "ok" if m.ok else f"FAILED (rc {m.returncode}, see {m.log})"
        print(
            f"  {key:<11} {m.wall_s:9.1f}s wall {m.cpu_s:9.1f}s cpu {m.peak_tree_rss_mb:8.0f} MB  "
            f"load {m.load_before:.1f}->{m.load_after:.1f}  {status}",
            flush=True,
        )
        return m

    sim = stage(
        "simulate",
        [
            py,
            "-m",
            "ctsw.cli",
            "simulate",
            "--teams",
            str(teams),
            "--weeks",
            str(weeks),
            "--seed",
            str(args.seed),
            "--start-week",
            first.isoformat(),
        ],
    )
    if not sim.ok:
        return out
    landing = work / "landing"
    out["landing"] = landing_stats(landing)
    disc = stage("discover", [py, "-m", "bench.stage", "discover"], detail=True)
    if not disc.ok:
        return out
    found = [disc.detail["first_week"], disc.detail["last_week"]]
    first_week = date.fromisoformat(found[0])
    last_week = last_data_week(landing)
    out["weeks_run"] = {
        "discovered": found,
        "backfill": [str(first_week), str(last_week - timedelta(weeks=1))],
        "weekly": str(last_week),
    }
    pipeline = [py, "-m", "bench.stage", "pipeline"]
    back = stage(
        "backfill",
        pipeline + ["--from", str(first_week), "--to", str(last_week - timedelta(weeks=1)), "--select", "transform"],
        detail=True,
    )
    if back.ok:
        stage(
            "weekly",
            pipeline + ["--from", str(last_week), "--to", str(last_week), "--select", "transform"],
            detail=True,
        )
        if args.skip_e2e:
            out["stages"]["weekly_e2e"] = {"skipped": "--skip-e2e (the smoke size skips it: one more Dagster run)"}
        else:
            stage(
                "weekly_e2e",
                pipeline + ["--from", str(last_week), "--to", str(last_week), "--select", "all"],
                detail=True,
            )
        stage("models", [py, "-m", "bench.stage", "models"], detail=True)
        stage("report", [py, "-m", "ctsw.cli", "report"])
        stage("floor", [py, "-m", "bench.stage", "floor"], detail=True)
        if not args.skip_fe:
            stage("fe", [py, "-m", "bench.stage", "fe", "--repeats", str(args.fe_repeats)], detail=True)
    out["finished"] = datetime.now().isoformat(timespec="seconds")
    out["summary"] = summarise(out)
    if not args.keep_data:
        shutil.rmtree(landing, ignore_errors=True)
    return out


def step_memory(m: Measurement) -> None:
    """Peak tree RSS while each Dagster step ran (from the stage's RSS samples and the steps' times)."""
    steps = m.detail.get("steps")
    if not steps or not m.rss_series:
        return
    for step in steps.values():
        lo, hi = step["start"] - m.started_at - 1, step["end"] - m.started_at + 1
        inside = [mb for t, mb in m.rss_series if lo <= t <= hi]
        step["peak_tree_rss_mb"] = max(inside) if inside else None


def summarise(out: dict[str, Any]) -> dict[str, Any]:
    st = out["stages"]
    s: dict[str, Any] = {}
    back, floor = st.get("backfill", {}), st.get("floor", {})
    if back.get("detail") and floor.get("detail"):
        f = floor["detail"]["floor_s"]
        s["floor_s"] = f
        s["backfill_over_floor"] = round(back["wall_s"] / f, 2)
        s["load_plus_dbt_over_floor"] = round(back["detail"]["transform_s"] / f, 2)
        s["floor_equals_panel_key_columns"] = floor["detail"].get("key_columns", {}).get("equal")
        s["floor_equals_panel_all_columns"] = floor["detail"].get("all_columns", {}).get("equal")
        dbt = back["detail"].get("dbt", {})
        s["backfill_load_s"] = back["detail"]["load_s"]
        s["backfill_dbt_s"] = back["detail"]["dbt_s"]
        s["backfill_checks_s"] = back["detail"]["checks_s"]
        s["backfill_dbt_step_outside_dbt_s"] = back["detail"]["dbt_step_outside_dbt_s"]
        s["backfill_dbt_tests_share"] = dbt.get("tests_share")
    fe = st.get("fe", {}).get("detail", {}).get("libraries", {})
    if fe:
        ours = fe.get("ctsw fit_twfe", {}).get("best_wall_s")
        others = [
            v["best_wall_s"] for k, v in fe.items() if k.startswith(("linearmodels", "pyfixest")) and "best_wall_s" in v
        ]
        s["fe_ctsw_s"] = ours
        s["fe_fastest_other_s"] = min(others) if others else None
        s["fe_all_agree_6dp"] = all(v.get("agree_6dp", False) for v in fe.values() if "best_wall_s" in v)
    targets = {}
    for key, limits in TARGETS.items():
        m = st.get(key, {})
        if "wall_s" in m:
            targets[key] = all(m[k] <= v for k, v in limits.items()) and m.get("returncode") == 0
    # The pipeline's stages; floor and fe are reference measurements (the floor runs with DuckDB's default limit,
    # 80% of RAM, and is not something a user runs).
    measured = [m for k, m in st.items() if "peak_tree_rss_mb" in m and k not in REFERENCE_STAGES]
    targets["every_stage_below_8GB"] = all(m["peak_tree_rss_mb"] < STAGE_MEMORY_LIMIT_MB for m in measured)
    if "backfill_over_floor" in s:
        targets["backfill_within_3x_floor"] = s["backfill_over_floor"] <= FLOOR_RATIO_LIMIT
    if s.get("fe_fastest_other_s"):
        targets["fe_no_slower_than_fastest_library"] = s["fe_ctsw_s"] <= s["fe_fastest_other_s"]
    s["targets_met"] = targets
    return s


def table(results: list[dict[str, Any]], markdown: bool = False) -> str:
    head = ["size", "stage", "wall s", "cpu s", "peak MB", "maxrss MB", "load", "ok"]
    rows = []
    for r in results:
        for key in STAGES:
            m = r["stages"].get(key)
            if m is None:
                continue
            if "wall_s" not in m:
                rows.append([r["size"], key, "-", "-", "-", "-", "-", "skipped"])
                continue
            rows.append(
                [
                    r["size"],
                    key,
                    f"{m['wall_s']:.1f}",
                    f"{m['cpu_s']:.1f}",
                    f"{m['peak_tree_rss_mb']:.0f}",
                    f"{m['maxrss_mb']:.0f}",
                    f"{m['load_before']:.1f}->{m['load_after']:.1f}",
                    "yes" if m["returncode"] == 0 else "NO",
                ]
            )
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=False)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*head)] + [fmt.format(*r) for r in rows])


def breakdown(results: list[dict[str, Any]]) -> str:
    """Markdown: where each Dagster run's time went (raw loads, dbt, Dagster's handling of dbt, checks)."""
    lines = [
        "| size | run | wall s | loads s | dbt step s | of which dbt s (tests %) | Dagster around dbt s "
        "| checks s | events |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for key in ("backfill", "weekly", "weekly_e2e"):
            m = r["stages"].get(key, {})
            d = m.get("detail")
            if not d:
                continue
            dbt = d["dbt"]
            share = f"{dbt['tests_share'] * 100:.0f}" if dbt.get("tests_share") is not None else "-"
            lines.append(
                f"| {r['size']} | {key} | {m['wall_s']:.0f} | {d['load_s']:.0f} | {d['dbt_s']:.0f} | "
                f"{dbt['dbt_total_s'] or 0:.0f} ({share}) | {d['dbt_step_outside_dbt_s']:.0f} | {d['checks_s']:.0f} | "
                f"{d['event_log_records']} |"
            )
    return "\n".join(lines)


def scaling(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Per stage, the least-squares slope of log(wall time) on log(landing rows): 1 = linear."""
    out: dict[str, Any] = {}
    for key in STAGES:
        pts = [
            (r["landing"]["total_rows"], r["stages"][key]["wall_s"])
            for r in results
            if "landing" in r and "wall_s" in r["stages"].get(key, {}) and r["stages"][key]["wall_s"] > 0
        ]
        if len({p[0] for p in pts}) < 2:
            continue
        xs = [math.log(p[0]) for p in pts]
        ys = [math.log(p[1]) for p in pts]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
        out[key] = {"slope": round(slope, 2), "points": [{"rows": p[0], "wall_s": p[1]} for p in sorted(pts)]}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--sizes",
        default="smoke",
        help=f"comma-separated: {', '.join(f'{k} ({t}x{w})' for k, (t, w) in SIZES.items())} "
        "or TEAMSxWEEKS (default smoke)",
    )
    p.add_argument("--smoke", action="store_true", help="same as --sizes smoke")
    p.add_argument(
        "--work-dir",
        default=os.environ.get("CTSW_BENCH_DIR", "/tmp/ctsw-bench"),
        help="scratch data directory, one sub-folder per size, replaced (default /tmp/ctsw-bench)",
    )
    p.add_argument("--results-dir", default=str(RESULTS_DIR))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--nice", type=int, default=0, help="niceness added to every stage's process")
    p.add_argument("--fe-repeats", type=int, default=3)
    p.add_argument("--skip-fe", action="store_true")
    p.add_argument("--skip-e2e", action="store_true", help="skip the whole-job weekly run (always with --smoke)")
    p.add_argument("--keep-data", action="store_true", help="keep the landing files (the database is kept)")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    p.add_argument(
        "--scaling", nargs="+", metavar="RESULTS_JSON", help="print the time-vs-size slopes of saved results and exit"
    )
    args = p.parse_args(argv)
    if args.scaling:
        results = [json.loads(Path(f).read_text()) for f in args.scaling]
        print(table(results, args.markdown))
        print()
        print(breakdown(results))
        print(json.dumps({k: v["slope"] for k, v in scaling(results).items()}, indent=2))
        return 0
    if args.smoke:
        args.sizes, args.skip_e2e = "smoke", True
    sizes = [parse_size(s.strip()) for s in args.sizes.split(",")]
    results_dir = Path(args.results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    results = []
    ok = True
    for name, teams, weeks in sizes:
        r = run_size(name, teams, weeks, args)
        path = results_dir / f"{name}-{date.today().isoformat()}.json"
        path.write_text(json.dumps(r, indent=2, default=str))
        print(f"  results: {path}")
        results.append(r)
        ok &= all(m.get("returncode", 0) == 0 for m in r["stages"].values())
    print()
    print(table(results, args.markdown))
    for r in results:
        print(f"\n{r['size']}: " + json.dumps(r.get("summary", {}), indent=2))
    if len(results) > 1:
        print("\nscaling (slope of log wall time on log landing rows; 1 = linear):")
        print(json.dumps({k: v["slope"] for k, v in scaling(results).items()}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
