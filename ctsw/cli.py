"""`ctsw`: simulate telemetry, run the weekly pipeline headless, and print the results."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from datetime import date
from pathlib import Path

from ctsw.config import DEFAULT_START_WEEK, Settings


def _week(text: str) -> date:
    d = date.fromisoformat(text)
    if d.weekday() != 0:
        raise argparse.ArgumentTypeError(f"{text} is not a Monday (weeks start Monday 00:00 UTC)")
    return d


def cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    from ctsw.simulator import SimConfig, simulate

    out = Path(args.out) if args.out else settings.landing_dir
    cfg = SimConfig(n_teams=args.teams, n_weeks=args.weeks, seed=args.seed, start_week=args.start_week,
                    fmt=args.format)
    t0 = time.perf_counter()
    simulate(cfg, out)
    print(f"simulated {args.teams} teams x {args.weeks} weeks into {out} in {time.perf_counter() - t0:.1f}s "
          f"(ground truth: {out / 'truth.json'})")
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from ctsw.ingest.discover import landing_week_range
    from ctsw.runner import run_weeks

    first, last = args.first, args.last
    if first is None or last is None:
        found = landing_week_range(settings.landing_dir)
        if found is None:
            print(f"error: no event files under {settings.landing_dir}; run `ctsw simulate` or pass --from/--to",
                  file=sys.stderr)
            return 2
        first, last = first or found[0], last or found[1]
    t0 = time.perf_counter()
    ok = run_weeks(first, last, settings)
    status = "succeeded" if ok else "FAILED (see the run in the Dagster UI: bash run.sh ui)"
    print(f"run of weeks {first}..{last} {status} in {time.perf_counter() - t0:.1f}s")
    return 0 if ok else 1


def cmd_summary(args: argparse.Namespace, settings: Settings) -> int:
    from ctsw.summary import print_summary

    return print_summary(settings)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    t0 = time.perf_counter()
    if settings.landing_dir.exists():
        shutil.rmtree(settings.landing_dir)  # the demo's landing folder holds only simulated telemetry
    args.out = None
    for step in (cmd_simulate, cmd_run, cmd_summary):
        code = step(args, settings)
        if code:
            return code
    print(f"\ndemo finished in {time.perf_counter() - t0:.0f}s. Open the Dagster UI with: bash run.sh ui")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ctsw", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    def sim_args(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--teams", type=int, default=200, help="number of teams (default 200)")
        sp.add_argument("--weeks", type=int, default=104, help="number of weeks (default 104)")
        sp.add_argument("--seed", type=int, default=0)
        sp.add_argument("--start-week", default=DEFAULT_START_WEEK, help="first Monday (default %(default)s)")
        sp.add_argument("--format", choices=("parquet", "csv", "jsonl"), default="parquet")

    s = sub.add_parser("simulate", help="write simulated telemetry and truth.json to the landing folder")
    sim_args(s)
    s.add_argument("--out", help="landing folder (default: $CTSW_LANDING_DIR or data/landing)")
    s.set_defaults(func=cmd_simulate)

    r = sub.add_parser("run", help="materialise every asset for a range of weeks in one run")
    r.add_argument("--from", dest="first", type=_week, help="first week (Monday); default: first in landing")
    r.add_argument("--to", dest="last", type=_week, help="last week (Monday, inclusive); default: last in landing")
    r.set_defaults(func=cmd_run)

    sub.add_parser("summary", help="print CTS-SW trend, drivers and AI effect").set_defaults(func=cmd_summary)

    d = sub.add_parser("demo", help="simulate, run every week, print the summary (replaces the landing folder)")
    sim_args(d)
    d.set_defaults(func=cmd_demo, first=None, last=None)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args, Settings.from_env())


if __name__ == "__main__":
    sys.exit(main())
