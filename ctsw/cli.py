"""ctsw: cost to serve software per team and week, its drivers, and the effect of AI-tool adoption.

Typical use:
  ctsw simulate                 write simulated telemetry to the landing folder (or land your own exports)
  ctsw run                      materialise every week in the landing folder, as one run
  ctsw report                   write the HTML report for the latest week
  ctsw status                   what is materialised, failing or quarantined
  ctsw doctor                   check the configuration, data folders, database and versions

Configuration is by environment variable (CTSW_DATA_DIR, CTSW_LANDING_DIR, CTSW_DUCKDB_PATH, CTSW_START_WEEK,
CTSW_MIN_TEAM_BUILDERS, CTSW_LOOKBACK_WEEKS, ...; `ctsw doctor` lists them).
Exit codes: 0 ok, 1 a run failed (or, for status, something is failing), 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from datetime import date
from pathlib import Path

from ctsw.config import DEFAULT_START_WEEK, Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A problem the user can fix with a different argument or setting (exit code 2)."""


def _week(text: str) -> date:
    try:
        d = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD, a Monday") from None
    if d.weekday() != 0:
        raise argparse.ArgumentTypeError(f"{text} is a {d:%A}; weeks start on Monday 00:00 UTC "
                                         f"(the Monday before is {date.fromordinal(d.toordinal() - d.weekday())})")
    return d


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{n} must be at least 1")
    return n


def _rate(text: str) -> float:
    try:
        rate = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= rate <= 1:
        raise argparse.ArgumentTypeError(f"{rate} is not a share of rows between 0 and 1")
    return rate


def cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    from ctsw.simulator import SimConfig, simulate

    out = Path(args.out) if args.out else settings.landing_dir
    cfg = SimConfig(n_teams=args.teams, n_weeks=args.weeks, seed=args.seed, start_week=args.start_week,
                    fmt=args.format)
    t0 = time.perf_counter()
    print(f"simulating {args.teams} teams x {args.weeks} weeks ...", flush=True)
    simulate(cfg, out)
    if getattr(args, "defects", 0):
        from ctsw.simulator.defects import inject_defects

        defects = inject_defects(out, args.defects, args.seed)
        print(f"injected {len(defects)} defects into {args.defects:.1%} of the rows (each listed in truth.json under "
              "\"defects\" with the file, row and quarantine reason the loader must give it)")
    print(f"simulated {args.teams} teams x {args.weeks} weeks into {out} in {time.perf_counter() - t0:.1f}s "
          f"(ground truth: {out / 'truth.json'})")
    return EXIT_OK


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from ctsw.ingest.discover import landing_week_range
    from ctsw.runner import run_weeks

    first, last = args.first, args.last
    if first is not None and last is not None and last < first:
        raise UsageError(f"--to {last} is before --from {first}")
    if first is None or last is None:
        if not settings.landing_dir.is_dir():
            raise UsageError(f"the landing folder {settings.landing_dir} does not exist; run `ctsw simulate`, set "
                             "CTSW_LANDING_DIR to your exports, or pass --from and --to")
        print(f"finding the weeks in {settings.landing_dir} ...", flush=True)
        found = landing_week_range(settings.landing_dir)
        if found is None:
            raise UsageError(f"no event files with plausible dates under {settings.landing_dir}; run `ctsw "
                             "simulate` or land exports there (docs/telemetry-contract.md), or pass --from/--to")
        first, last = first or found[0], last or found[1]
    if date.fromisoformat(settings.start_week) > first:
        raise UsageError(f"week {first} is before the first partition {settings.start_week}; set CTSW_START_WEEK "
                         f"to {first} or earlier")
    n = (last - first).days // 7 + 1
    print(f"running weeks {first}..{last} ({n} week{'s' * (n != 1)}) as one run:", flush=True)
    t0 = time.perf_counter()
    ok = run_weeks(first, last, settings, verbose=args.verbose)
    took = time.perf_counter() - t0
    if not ok:
        print(f"run of weeks {first}..{last} FAILED after {took:.1f}s. The failed step is marked above; its log and "
              "error are in the file above and in the Dagster UI (bash run.sh ui). `ctsw status` summarises.")
        return EXIT_FAILED
    print(f"run of weeks {first}..{last} succeeded in {took:.1f}s")
    from ctsw.report import default_path

    report = default_path(settings.duckdb_path.parent, last)
    if report.exists():
        print(f"report: {report}")
    return EXIT_OK


def cmd_summary(args: argparse.Namespace, settings: Settings) -> int:
    from ctsw.summary import print_summary

    return print_summary(settings)


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from ctsw.report import NoPanelError, build
    from ctsw.status import read_database

    if not settings.duckdb_path.exists():
        raise UsageError(f"{settings.duckdb_path} does not exist; run `ctsw run` first (or set CTSW_DUCKDB_PATH)")
    checks = _check_results(settings)
    t0 = time.perf_counter()
    try:
        with read_database(settings.duckdb_path, out=sys.stdout) as con:
            report = build(con, Path(args.out) if args.out else None, settings.duckdb_path.parent, as_of=args.as_of,
                           min_builders=args.min_team_builders, landing_dir=settings.landing_dir, checks=checks)
    except NoPanelError as e:
        raise UsageError(str(e)) from None
    from ctsw.report.render import scope_sentence

    print(scope_sentence(report.data))
    for note in report.data.notes:
        print(f"note: {note}")
    print(f"report written to {report.path} ({len(report.rendered.html) / 1e6:.1f} MB, "
          f"{len(report.rendered.figures)} figures) in {time.perf_counter() - t0:.1f}s")
    return EXIT_OK


def _check_results(settings: Settings):
    """Latest check results from the run history, or None when there is none."""
    from ctsw.runner import has_run_history

    if not has_run_history(settings):
        return None
    import dagster as dg

    from ctsw.report.checks import latest_check_results
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = list(graph.asset_check_keys)
    with dg.DagsterInstance.get() as instance:
        return latest_check_results(instance, keys, {k: graph.get_check_spec(k).description for k in keys})


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from ctsw.status import print_status, read_status

    if not settings.duckdb_path.exists():
        raise UsageError(f"{settings.duckdb_path} does not exist: nothing has run with this configuration. "
                         "Run `ctsw run` (or check CTSW_DATA_DIR / CTSW_DUCKDB_PATH; `ctsw doctor` shows them)")
    st = read_status(settings, out=sys.stdout)
    print_status(st, settings, sys.stdout)
    return EXIT_OK if st.healthy else EXIT_FAILED


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from ctsw.doctor import run_doctor

    return run_doctor(settings, sys.stdout)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    t0 = time.perf_counter()
    if settings.landing_dir.exists():
        shutil.rmtree(settings.landing_dir)  # the demo's landing folder holds only simulated telemetry
    args.out = None
    for step in (cmd_simulate, cmd_run, cmd_summary):
        code = step(args, settings)
        if code:
            return code
    print(f"\ndemo finished in {time.perf_counter() - t0:.0f}s. Open the report above in a browser, or the Dagster UI "
          "with: bash run.sh ui")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ctsw", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def sim_args(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--teams", type=_positive, default=200, help="number of teams (default %(default)s)")
        sp.add_argument("--weeks", type=_positive, default=104, help="number of weeks (default %(default)s)")
        sp.add_argument("--seed", type=int, default=0,
                        help="random seed: same seed, same telemetry (default %(default)s)")
        sp.add_argument("--start-week", default=DEFAULT_START_WEEK, help="first Monday (default %(default)s)")
        sp.add_argument("--format", choices=("parquet", "csv", "jsonl"), default="parquet",
                        help="file format (default %(default)s)")
        sp.add_argument("--defects", type=_rate, default=0.0, metavar="RATE",
                        help="corrupt this share of rows realistically (bad types, unknown teams, duplicates, "
                        "reversed spans, malformed lines, ...); see ctsw/simulator/defects.py (default 0)")

    def run_args(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("-v", "--verbose", action="store_true", help="show Dagster's and dbt's logs in the terminal")

    def add(name: str, help: str, description: str, func) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help, description=description,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
        sp.set_defaults(func=func)
        return sp

    s = add("simulate", "write simulated telemetry and truth.json to the landing folder",
            "Write event-level telemetry for a simulated org (teams, memberships, PRs, deployments, commits, pages, "
            "on-call shifts, AI-tool usage) with a known AI effect, and the ground truth in truth.json.", cmd_simulate)
    sim_args(s)
    s.add_argument("--out", help="landing folder (default: $CTSW_LANDING_DIR or $CTSW_DATA_DIR/landing)")

    r = add("run", "materialise every asset for a range of weeks in one run",
            "Load, transform, check, model and report a range of weeks as one Dagster run (the same run the UI "
            "and the schedule make). Prints a line per step; exit code 1 when a step fails.\n\n"
            "example: ctsw run --from 2024-01-01 --to 2024-03-25", cmd_run)
    r.add_argument("--from", dest="first", type=_week, metavar="WEEK",
                   help="first week (a Monday); default: first in the landing folder")
    r.add_argument("--to", dest="last", type=_week, metavar="WEEK",
                   help="last week (a Monday, inclusive); default: last in the landing folder")
    run_args(r)

    rep = add("report", "write the HTML report (self-contained, one file)",
              "Write a self-contained HTML report for one as-of week: CTS-SW per org with the team spread, DORA "
              "keys, driver ranking, AI adoption, the AI effect (naive, bias-corrected, IV), the event study when "
              "fitted, capacity freed, and data quality. Teams below the privacy minimum of builders are never "
              "shown individually.\n\nexample: ctsw report --out /tmp/ctsw.html", cmd_report)
    rep.add_argument("--as-of", type=_week, metavar="WEEK",
                     help="as-of week (a Monday); default: the latest week with model results")
    rep.add_argument("--out", metavar="FILE",
                     help="output file (default: $CTSW_DATA_DIR/reports/ctsw-report-<as-of>.html)")
    rep.add_argument("--min-team-builders", type=_positive, default=None, metavar="N",
                     help="privacy minimum: teams with fewer builders are not shown individually "
                     "(default: $CTSW_MIN_TEAM_BUILDERS or 3)")

    add("status", "last materialised week, failing checks, quarantine counts",
        "Show the panel's weeks, the last materialised week and run, checks failing in their latest evaluation, "
        "quarantined rows and the latest report. Exit code 1 when the last run failed or a check is failing.",
        cmd_status)
    add("doctor", "check configuration, landing folder, database, versions, dbt manifest",
        "Check everything ctsw needs and say what to do about each problem. Exit code 2 when something must be "
        "fixed before ctsw can run.", cmd_doctor)
    add("summary", "print CTS-SW trend, drivers and AI effect in the terminal",
        "Print the quarterly CTS-SW trend, the driver ranking, the AI effect (next to the simulator's truth when "
        "present) and capacity freed.", cmd_summary)
    d = add("demo", "simulate, run every week, print the summary (replaces the landing folder)",
            "Simulate an org, run every week as one run, print the summary and write the report. Replaces the "
            "landing folder's contents.", cmd_demo)
    sim_args(d)
    run_args(d)
    d.set_defaults(first=None, last=None)
    __import__("ctsw.sources.cli", fromlist=["register"]).register(sub)  # ctsw git, ctsw sources (docs/sources.md)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # usage errors exit with 2 here, with argparse's message
    try:
        return args.func(args, Settings.from_env())
    except UsageError as e:
        print(f"ctsw {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"ctsw {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        from ctsw.status import DatabaseBusy

        config = _configuration_error(e)
        if isinstance(e, DatabaseBusy) or config:
            print(f"ctsw {args.command}: error: {config or e}", file=sys.stderr)
            return EXIT_USAGE
        raise


def _configuration_error(e: BaseException) -> str | None:
    """The message of a configuration problem (bad CTSW_* value), found anywhere in the exception chain."""
    while e is not None:
        name = type(e).__name__
        if name == "AutomationConfigError" or (isinstance(e, ValueError) and "CTSW_" in str(e)):
            return f"{e} (`ctsw doctor` checks every setting)"
        e = e.__cause__ or e.__context__
    return None


if __name__ == "__main__":
    sys.exit(main())
