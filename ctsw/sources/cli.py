"""`ctsw git` and `ctsw sources`: extract real sources into the landing folder (and run the pipeline on them).

    ctsw git PATH [PATH ...]   extract git repositories, land them, run every week they cover, print the summary
    ctsw sources               list the sources configured in sources.toml (and check their inputs)
    ctsw sources --land        extract every configured source into the landing folder now
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from ctsw.config import Settings
from ctsw.contract import ARCHITECTURES, DELIVERY_UNITS, TABLES
from ctsw.sources.config import SourcesConfigError, SourceSpec, load_sources, sources_file


def _week(text: str) -> date:
    d = date.fromisoformat(text)
    if d.weekday() != 0:
        raise argparse.ArgumentTypeError(f"{text} is not a Monday (weeks start Monday 00:00 UTC)")
    return d


def _print_landed(landed) -> None:
    rows = ", ".join(f"{t} {n}" for t, n in landed.rows.items())
    print(f"landed source {landed.source} ({landed.kind}): {rows}")
    if landed.coverage.get("unavailable"):
        print(f"  cannot measure: {', '.join(landed.coverage['unavailable'])}")


def foreign_landing_files(landing_dir: Path, own: set[str]) -> list[Path]:
    """Landing files not written by one of the `own` sources (simulated telemetry, hand-landed files...)."""
    found = []
    for table in TABLES:
        folder = landing_dir / table
        if folder.is_dir():
            found += [p for p in sorted(folder.rglob("*")) if p.is_file() and not p.name.startswith(".")
                      and not any(p.name.startswith(f"{name}_") for name in own)]
    truth = landing_dir / "truth.json"
    return found + ([truth] if truth.exists() else [])


def last_complete_week(today: date | None = None) -> date:
    """The Monday of the last week that has closed (the weekly partitions end there)."""
    today = today or date.today()
    return today - timedelta(days=today.weekday()) - timedelta(weeks=1)


def with_builder_weeks(events: tuple[date, date], landing_dir: Path, source: str) -> tuple[date, date]:
    """The event weeks (first and last Monday) widened to the weeks `source` has builders in.

    A git source's memberships are spells of commit activity: weeks before a repository's first PR or release
    still cost money, and a ratio-of-sums CTS-SW over a quarter must include them.
    """
    import pandas as pd

    from ctsw.sources.landing import landing_path

    weeks = list(events)
    path = landing_path(landing_dir, "memberships", source)
    if path.exists():
        spells = pd.read_parquet(path, columns=["start_date", "end_date"])
        if not spells.empty:
            weeks.append(spells["start_date"].min())
            ends = spells["end_date"]
            weeks.append(date.today() if ends.isna().any() else ends.max() - timedelta(days=1))  # end exclusive
    first, last = min(weeks), max(weeks)
    return first - timedelta(days=first.weekday()), last - timedelta(days=last.weekday())


def git_spec(args: argparse.Namespace) -> SourceSpec:
    from ctsw.sources.git import GIT_TABLES, GitSourceConfig

    repos = tuple(Path(r).expanduser().resolve() for r in args.repos)
    for r in repos:
        if not r.exists():
            raise SourcesConfigError(f"repository {r} does not exist")
    fields = {"org": args.org, "architecture": args.architecture, "delivery_unit": args.delivery_unit,
              "team_prefix": args.team_prefix, "annual_loaded_cost_usd": args.annual_loaded_cost_usd,
              "production_tag_pattern": args.production_tag_pattern,
              "commit_ships_on_commit": args.commit_ships_on_commit or None,
              "pr_ships_on_merge": args.pr_ships_on_merge or None}
    config = GitSourceConfig(**{k: v for k, v in fields.items() if v is not None})
    return SourceSpec(name=args.name, kind="git", inputs=repos, config=config, tables=GIT_TABLES)


def toml_entry(spec: SourceSpec, args: argparse.Namespace) -> str:
    """The sources.toml entry that re-extracts the same repositories on every run."""
    lines = ["[[sources]]", f'name = "{spec.name}"', 'kind = "git"',
             "repos = [" + ", ".join(f'"{p}"' for p in spec.inputs) + "]"]
    for key in ("org", "architecture", "delivery_unit", "team_prefix", "production_tag_pattern"):
        value = getattr(args, key)
        if value is not None:
            lines.append(f"{key} = '{value}'")
    if args.annual_loaded_cost_usd is not None:
        lines.append(f"annual_loaded_cost_usd = {args.annual_loaded_cost_usd}")
    for flag in ("commit_ships_on_commit", "pr_ships_on_merge"):
        if getattr(args, flag):
            lines.append(f"{flag} = true")
    return "\n".join(lines)


def cmd_git(args: argparse.Namespace, settings: Settings) -> int:
    from ctsw.sources.land import land_source

    t0 = time.perf_counter()
    try:
        spec = git_spec(args)
        configured = load_sources()
    except (SourcesConfigError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    landing = settings.landing_dir
    if args.fresh:
        shutil.rmtree(landing, ignore_errors=True)
        for p in (settings.duckdb_path, settings.duckdb_path.with_name(settings.duckdb_path.name + ".wal")):
            p.unlink(missing_ok=True)
        print(f"--fresh: removed {landing} and {settings.duckdb_path}")
    foreign = foreign_landing_files(landing, {spec.name} | {s.name for s in configured})
    if foreign:
        print(f"error: {landing} holds {len(foreign)} file(s) from other sources (e.g. {foreign[0]}); mixing them "
              "with this repository would mix teams. Pass --fresh to replace the landing folder and the database, "
              "or use another CTSW_DATA_DIR.", file=sys.stderr)
        return 2
    if configured:
        print(f"note: {len(configured)} source(s) configured in {sources_file(settings)} also run: "
              + ", ".join(s.name for s in configured))
    try:
        landed = land_source(spec, landing)
    except SourcesConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    _print_landed(landed)
    if landed.rows.get("pull_requests") and not landed.rows.get("deployments") and not args.pr_ships_on_merge:
        print("  note: no production release tags, so no PR counts as shipped (CTS-SW per PR and lead time are "
              "n/a); if a PR reaches customers when it reaches the trunk (continuous deployment), pass "
              "--pr-ships-on-merge")
    print(f"  in {time.perf_counter() - t0:.1f}s; files under {landing}")
    if args.no_run:
        print("\nTo re-extract on every weekly run, add to " f"{sources_file(settings)}:\n\n{toml_entry(spec, args)}")
        return 0

    from ctsw.ingest.discover import landing_week_range
    from ctsw.runner import run_weeks
    from ctsw.summary import print_summary

    found = landing_week_range(landing)
    if found is None and (args.first is None or args.last is None):
        print("error: no events to count: no PR merges (`Merge pull request #N` / `... (#N)` subjects), no "
              "production release tags, no AI-marked commits. For such a repository count commits as the delivered "
              "unit: --architecture trunk --commit-ships-on-commit", file=sys.stderr)
        return 2
    if found is not None:
        found = with_builder_weeks(found, landing, spec.name)
    first = args.first or found[0]
    last = args.last or found[1]
    start = date.fromisoformat(settings.start_week)
    if first < start:
        if last < start:
            print(f"error: all activity ({first}..{last}) is before the first weekly partition {start}; set "
                  f"CTSW_START_WEEK={first} (for the UI too) to include it", file=sys.stderr)
            return 2
        print(f"note: history before {start} (from {first}) is not run: the weekly partitions start at "
              f"CTSW_START_WEEK={start}; set CTSW_START_WEEK={first} (for the UI too) to include it")
        first = start
    if last > last_complete_week():
        print(f"note: the week of {last} is still open: its counts are partial until it closes (run again then)")
    ok = run_weeks(first, last, settings)
    status = "succeeded" if ok else "FAILED (see the run in the Dagster UI: bash run.sh ui)"
    print(f"run of weeks {first}..{last} {status} in {time.perf_counter() - t0:.1f}s")
    code = print_summary(settings)
    print("\nTo re-extract on every weekly run, add to " f"{sources_file(settings)}:\n\n{toml_entry(spec, args)}")
    return code if ok else 1


def cmd_sources(args: argparse.Namespace, settings: Settings) -> int:
    from ctsw.sources.land import land_source, resolve_inputs

    path = sources_file(settings)
    try:
        specs = load_sources(path)
    except SourcesConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not specs:
        print(f"no sources configured ({path} does not exist); see docs/sources.md for an example")
        return 0
    print(f"{len(specs)} source(s) in {path}:")
    problems = 0
    for s in specs:
        try:
            found = resolve_inputs(s)
            state = f"{len(found)} input(s) found"
        except SourcesConfigError as e:
            state, problems = f"PROBLEM: {e}", problems + 1
        print(f"  {s.name:<20} {s.kind:<22} lands {', '.join(s.tables)}; {state}")
    if problems:
        return 2
    if args.land:
        for s in specs:
            try:
                _print_landed(land_source(s, settings.landing_dir))
            except SourcesConfigError as e:
                print(f"error: {e}", file=sys.stderr)
                return 2
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    g = subparsers.add_parser(
        "git", help="extract git repositories into the landing folder, run every week they cover, print the summary",
        description="Extract git repositories (clones or mirrors) with the git adapter (docs/sources.md), land "
                    "the contract files, run the pipeline over the weeks they cover and print the summary. "
                    "Each repository is a team unless --team-prefix makes it a monorepo.")
    g.add_argument("repos", nargs="+", metavar="PATH", help="a repository: a clone, a bare mirror or a partial clone")
    g.add_argument("--name", default="git", help="source name: landing files are <table>/<name>_<table>.parquet")
    g.add_argument("--org", help="org of every team (default engineering)")
    g.add_argument("--architecture", choices=ARCHITECTURES, help="architecture of every team (default monolith)")
    g.add_argument("--delivery-unit", choices=DELIVERY_UNITS, help="unit CTS-SW divides by (default: by architecture)")
    g.add_argument("--team-prefix", help="monorepo: directories under this prefix are teams ('' = top level)")
    g.add_argument("--annual-loaded-cost-usd", type=float, help="loaded cost of one builder-year (default 200000)")
    g.add_argument("--production-tag-pattern", help="regex (full match) of release tags that are deployments")
    g.add_argument("--commit-ships-on-commit", action="store_true",
                   help="trunk commits without a release tag reached customers when committed")
    g.add_argument("--pr-ships-on-merge", action="store_true",
                   help="PRs no release tag lists reached customers when they reached the trunk")
    g.add_argument("--from", dest="first", type=_week, help="first week (Monday); default: the first with activity")
    g.add_argument("--to", dest="last", type=_week, help="last week (Monday); default: the last with activity")
    g.add_argument("--fresh", action="store_true",
                   help="remove the landing folder and the DuckDB database first (the Dagster run history stays)")
    g.add_argument("--no-run", action="store_true", help="only land the files (and print the sources.toml entry)")
    g.set_defaults(func=cmd_git)

    s = subparsers.add_parser("sources", help="list the sources configured in sources.toml; --land extracts them",
                              description="Sources come from $CTSW_SOURCES_FILE, default <data dir>/sources.toml "
                                          "(docs/sources.md).")
    s.add_argument("--land", action="store_true", help="extract every configured source into the landing folder")
    s.set_defaults(func=cmd_sources)
