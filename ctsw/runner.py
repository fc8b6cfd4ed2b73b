"""Materialise the weekly job headless for a range of weeks, as one run, into the persistent Dagster home.

Runs go to `<data>/dagster_home`, the same instance `dagster dev` uses (see run.sh), so materialisations,
check results and metadata made here are visible in the UI afterwards.
"""

from __future__ import annotations

import contextlib
import os
from datetime import date, timedelta
from pathlib import Path

from ctsw.config import Settings

DAGSTER_YAML = """\
# Written by ctsw: every DuckDB writer shares the `duckdb` pool, one step at a time across runs.
concurrency:
  pools:
    granularity: op
    default_limit: 1
telemetry:
  enabled: false
"""


def dagster_home(settings: Settings) -> Path:
    home = Path(os.environ.get("DAGSTER_HOME", settings.data_dir / "dagster_home")).resolve()
    home.mkdir(parents=True, exist_ok=True)
    cfg = home / "dagster.yaml"
    if not cfg.exists():
        cfg.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


def run_weeks(first_week: date, last_week: date, settings: Settings, verbose: bool = False) -> bool:
    """Materialise every asset for weeks first_week..last_week (inclusive partition keys) in one run.

    dbt's and Dagster's logs go to `<data>/logs/` unless `verbose`; the terminal gets one line per step.
    """
    if first_week.weekday() != 0 or last_week.weekday() != 0 or last_week < first_week:
        raise ValueError(f"weeks must be Mondays with first <= last, got {first_week} and {last_week}")
    dagster_home(settings)
    import dagster as dg  # imported late: loading Dagster and the dbt manifest takes seconds

    from orchestration.definitions import defs

    job = defs.resolve_job_def("ctsw_weekly")
    log_dir = settings.data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / f"run-{first_week}-{last_week}.log"
    level = "INFO" if verbose else "WARNING"
    with dg.DagsterInstance.get() as instance, open(log_file, "w") as log:
        with contextlib.nullcontext() if verbose else contextlib.redirect_stdout(log):
            result = job.execute_in_process(
                instance=instance,
                tags={
                    "dagster/asset_partition_range_start": first_week.isoformat(),
                    "dagster/asset_partition_range_end": last_week.isoformat(),
                },
                run_config={"loggers": {"console": {"config": {"log_level": level}}}},
                raise_on_error=False,
            )
    _print_steps(result)
    if not verbose:
        print(f"  logs: {log_file}")
    return result.success


def _print_steps(result) -> None:
    """One line per step, and every failed check by name."""
    for event in result.all_events:
        if event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
            ok = event.event_type_value == "STEP_SUCCESS"
            print(f"  {'ok ' if ok else 'FAILED'} {event.step_key}")
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if not evaluation.passed:
                print(f"  check failed: {evaluation.asset_check_key.to_user_string()}")
