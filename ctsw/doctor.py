"""`ctsw doctor`: is this machine set up to run ctsw? Each finding says what to do about it."""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import TextIO

from ctsw.config import DBT_PROJECT_DIR, Settings

OK, WARN, FAIL = "ok", "warn", "FAIL"
PACKAGES = ("dagster", "dagster-webserver", "dagster-dbt", "dbt-core", "dbt-duckdb", "duckdb", "pandas",
            "great-expectations", "matplotlib")
ENV = ("CTSW_DATA_DIR", "CTSW_LANDING_DIR", "CTSW_DUCKDB_PATH", "CTSW_START_WEEK", "CTSW_PSEUDONYM_KEY",
       "CTSW_PSEUDONYM_KEY_FILE", "CTSW_MIN_TEAM_BUILDERS", "CTSW_LOOKBACK_WEEKS", "CTSW_SCHEDULE_GRACE_HOURS",
       "CTSW_AUTOMATION", "CTSW_SENSOR_INTERVAL_SECONDS", "CTSW_SENSOR_SETTLE_SECONDS", "DAGSTER_HOME")


@dataclass
class Finding:
    status: str
    topic: str
    detail: str
    fix: str = ""


def _versions() -> list[Finding]:
    out = [Finding(OK if sys.version_info[:2] == (3, 11) else FAIL, "python",
                   f"{platform.python_version()} at {sys.executable}",
                   "" if sys.version_info[:2] == (3, 11) else "ctsw needs Python 3.11: `bash run.sh` makes .venv")]
    for name in PACKAGES:
        try:
            out.append(Finding(OK, name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            out.append(Finding(FAIL, name, "not installed", "pip install -e '.[dev]' (or `bash run.sh test`)"))
    return out


def _configuration() -> list[Finding]:
    out = []
    set_vars = {k: ("<set>" if "KEY" in k and k != "CTSW_PSEUDONYM_KEY_FILE" else v)
                for k in ENV if (v := os.environ.get(k)) is not None}
    out.append(Finding(OK, "environment", ", ".join(f"{k}={v}" for k, v in set_vars.items()) or
                       "no CTSW_* variable set: defaults relative to the working directory"))
    settings = Settings.from_env()
    try:
        start = date.fromisoformat(settings.start_week)
        out.append(Finding(OK if start.weekday() == 0 else FAIL, "CTSW_START_WEEK", settings.start_week,
                           "" if start.weekday() == 0 else "set it to a Monday, e.g. 2024-01-01"))
    except ValueError:
        out.append(Finding(FAIL, "CTSW_START_WEEK", repr(settings.start_week), "use YYYY-MM-DD, a Monday"))
    try:
        from ctsw.report.data import min_team_builders

        out.append(Finding(OK, "privacy minimum", f"teams with fewer than {min_team_builders()} builders are not "
                           "shown individually (CTSW_MIN_TEAM_BUILDERS)"))
    except ValueError as e:
        out.append(Finding(FAIL, "CTSW_MIN_TEAM_BUILDERS", str(e), "set a whole number >= 1 (default 3)"))
    try:
        from orchestration.defs.automation.settings import AutomationSettings

        a = AutomationSettings.from_env()
        out.append(Finding(OK, "automation", f"schedule `{a.cron}` UTC over the closed week + {a.lookback_weeks} "
                           f"before; landing sensor every {a.sensor_interval_seconds}s; "
                           f"{'on' if a.running_by_default else 'off until switched on in the UI'} (CTSW_AUTOMATION)"))
    except ValueError as e:
        out.append(Finding(FAIL, "automation", str(e), "fix or unset the variable"))
    return out


def _landing(settings: Settings) -> list[Finding]:
    from ctsw.contract import TABLES
    from ctsw.ingest.load import landing_files

    land = settings.landing_dir
    if not land.is_dir():
        return [Finding(FAIL, "landing folder", f"{land} does not exist",
                        "run `ctsw simulate`, or point CTSW_LANDING_DIR at your exports (docs/telemetry-contract.md)")]
    counts = {t: len(landing_files(land, t)) for t in TABLES}
    missing = [t for t, n in counts.items() if n == 0]
    detail = f"{land}: " + ", ".join(f"{t} {n}" for t, n in counts.items() if n) + " file(s)"
    out = [Finding(WARN if missing else OK, "landing folder", detail,
                   f"no files for {', '.join(missing)}: those tables load empty" if missing else "")]
    if not missing or len(missing) < len(counts):
        from ctsw.ingest.discover import landing_week_range

        found = landing_week_range(land)
        out.append(Finding(OK if found else WARN, "landing weeks", f"{found[0]}..{found[1]}" if found else
                           "no plausible event dates", "" if found else "check the event files' date columns"))
    return out


def _database(settings: Settings) -> list[Finding]:
    path = settings.duckdb_path
    if not path.exists():
        return [Finding(WARN, "DuckDB file", f"{path} does not exist yet", "`ctsw run` creates it")]
    from ctsw.status import DatabaseBusy, read_database

    try:
        with read_database(path, wait_seconds=5) as con:
            schemas = sorted({s for (s,) in con.execute("SELECT DISTINCT schema_name FROM duckdb_tables()")
                             .fetchall()})
    except DatabaseBusy:
        return [Finding(WARN, "DuckDB file", f"{path}: a run is writing to it", "try again when it finishes")]
    except Exception as e:  # noqa: BLE001 - any open error is the finding
        return [Finding(FAIL, "DuckDB file", f"{path}: {e}", "move the file away and `ctsw run` to rebuild it")]
    expected = {"raw", "marts", "models"}
    return [Finding(OK if expected <= set(schemas) else WARN, "DuckDB file",
                    f"{path} ({path.stat().st_size / 1e6:.1f} MB; schemas {', '.join(schemas) or 'none'})",
                    "" if expected <= set(schemas) else "`ctsw run` fills the missing schemas")]


def _dbt(settings: Settings) -> list[Finding]:
    manifest = DBT_PROJECT_DIR / "target" / "manifest.json"
    if not manifest.exists():
        return [Finding(WARN, "dbt manifest", f"{manifest} missing",
                        "it is parsed on first load; or run `dbt parse --project-dir dbt_project --profiles-dir "
                        "dbt_project`")]
    sources = [p for p in DBT_PROJECT_DIR.rglob("*") if p.suffix in (".sql", ".yml") and "target" not in p.parts
               and "dbt_packages" not in p.parts]
    newest = max((p.stat().st_mtime for p in sources), default=0)
    stale = newest > manifest.stat().st_mtime
    return [Finding(WARN if stale else OK, "dbt manifest", f"{manifest}" + (" (older than the models)" if stale
                    else ""), "re-parsed when Dagster loads in dev; or run `dbt parse`" if stale else "")]


def _dagster(settings: Settings) -> list[Finding]:
    home = Path(os.environ.get("DAGSTER_HOME", settings.data_dir / "dagster_home"))
    out = [Finding(OK if (home / "dagster.yaml").exists() else WARN, "Dagster home",
                   str(home), "" if (home / "dagster.yaml").exists() else "created by the first `ctsw run`")]
    try:
        from orchestration.definitions import defs

        defs.validate_loadable(defs)
        n = len(list(defs.resolve_all_asset_keys()))
        out.append(Finding(OK, "Dagster definitions", f"load: {n} assets"))
    except Exception as e:  # noqa: BLE001 - report whatever stops the definitions from loading
        out.append(Finding(FAIL, "Dagster definitions", f"{type(e).__name__}: {str(e).splitlines()[0][:300]}",
                           "fix the error above; `dagster definitions validate -m orchestration.definitions` "
                           "shows the full trace"))
    return out


def _key(settings: Settings) -> list[Finding]:
    if os.environ.get("CTSW_PSEUDONYM_KEY"):
        return [Finding(OK, "pseudonym key", "from CTSW_PSEUDONYM_KEY")]
    f = settings.pseudonym_key_file
    if not f.exists():
        return [Finding(OK, "pseudonym key", f"{f} will be created on the first load (keep it: it makes "
                        "pseudonyms stable)")]
    mode = f.stat().st_mode & 0o777
    return [Finding(OK if mode & 0o077 == 0 else WARN, "pseudonym key", f"{f} (mode {mode:o})",
                    "" if mode & 0o077 == 0 else f"chmod 600 {f}")]


def run_doctor(settings: Settings, out: TextIO) -> int:
    findings: list[Finding] = []
    for section in (_versions, _configuration):
        findings += section()
    for section in (_landing, _database, _dbt, _dagster, _key):
        try:
            findings += section(settings)
        except Exception as e:  # noqa: BLE001 - one broken check must not hide the others
            findings.append(Finding(FAIL, section.__name__.strip("_"), f"{type(e).__name__}: {e}"))
    width = max(len(f.topic) for f in findings)
    for f in findings:
        print(f"[{f.status:>4}] {f.topic:<{width}}  {f.detail}", file=out)
        if f.fix:
            print(f"       {'':<{width}}  -> {f.fix}", file=out)
    fails, warns = sum(f.status == FAIL for f in findings), sum(f.status == WARN for f in findings)
    print(f"\n{fails} problem(s), {warns} warning(s)." + (" ctsw is ready." if not fails else
                                                          " Fix the problems above (exit code 2)."), file=out)
    return 2 if fails else 0
