"""Materialise the weekly job headless for a range of weeks, as one run, into the persistent Dagster home.

Runs go to `<data>/dagster_home`, the same instance `dagster dev` uses (see run.sh), so materialisations,
check results and metadata made here are visible in the UI afterwards.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from datetime import date, timedelta
from pathlib import Path
from typing import TextIO

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
# The event log pooled (ctsw/event_log.py): Dagster's default storage connects and checkpoints per event, which took
# most of a long backfill. No path: it stays in $DAGSTER_HOME/history/runs/, Dagster's default place, so a copied
# or moved home keeps using its own log.
POOLED_EVENT_LOG_YAML = """\
event_log_storage:
  module: ctsw.event_log
  class: PooledSqliteEventLogStorage
  config: {}
"""


def dagster_home(settings: Settings) -> Path:
    """The Dagster home, with a dagster.yaml written if it has none (an existing one is the user's: kept)."""
    home = Path(os.environ.get("DAGSTER_HOME", settings.data_dir / "dagster_home")).resolve()
    home.mkdir(parents=True, exist_ok=True)
    cfg = home / "dagster.yaml"
    if not cfg.exists():
        cfg.write_text(DAGSTER_YAML + POOLED_EVENT_LOG_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def has_run_history(settings: Settings) -> bool:
    """Whether any run has stored its history in the Dagster home (and DAGSTER_HOME points there)."""
    home = dagster_home(settings)
    return (home / "history").exists() or (home / "storage").exists()


def dagster_run_env() -> None:
    """Environment defaults for a run over many weeks (`ctsw run`, the benchmark): events per run, not per week."""
    # One "planned" event per asset for the whole range instead of one per asset and week: on SQLite run
    # storage the per-week events took ~40% of a 104-week run. Trade-off (Dagster's): if the run fails, its
    # weeks show as missing rather than failed in the UI's partition view; the run itself shows as failed.
    os.environ.setdefault("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "1")
    # The materialisations of an output over the run's weeks as one transaction per shard, not one per week
    # (ctsw.event_log's store_event_batch; Dagster's default storage stores a batch event by event).
    os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", "1000")


def monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


def run_weeks(first_week: date, last_week: date, settings: Settings, verbose: bool = False,
              out: TextIO | None = None) -> bool:
    """Materialise every asset for weeks first_week..last_week (inclusive partition keys) in one run.

    dbt's and Dagster's logs go to `<data>/logs/` unless `verbose`; the terminal gets a line as each step starts
    and finishes (with its time), and every failed check by name.
    """
    if first_week.weekday() != 0 or last_week.weekday() != 0 or last_week < first_week:
        raise ValueError(f"weeks must be Mondays with first <= last, got {first_week} and {last_week}")
    out = out or sys.stdout
    home = dagster_home(settings)
    if (home / "dagster.yaml").read_text() == DAGSTER_YAML:  # written by an earlier ctsw, not edited since
        print(f"  note: {home / 'dagster.yaml'} keeps Dagster's per-event SQLite event log; delete it and the "
              "next run writes one with ctsw's pooled event log (long backfills several times faster)", file=out)
    dagster_run_env()
    import dagster as dg  # imported late: loading Dagster and the dbt manifest takes seconds
    from dagster._core.utils import make_new_run_id

    from orchestration.definitions import defs

    job = defs.resolve_job_def("ctsw_weekly")
    log_dir = settings.data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / f"run-{first_week}-{last_week}.log"
    level = "INFO" if verbose else "WARNING"
    run_id = make_new_run_id()
    with dg.DagsterInstance.get() as instance, open(log_file, "w") as log:
        progress = _Progress(instance, run_id, out)
        progress.start()
        try:
            quiet = contextlib.ExitStack()
            if not verbose:  # Dagster's and dbt's own output (tracebacks included) go to the log file
                quiet.enter_context(contextlib.redirect_stdout(log))
                quiet.enter_context(contextlib.redirect_stderr(log))
            with quiet:
                result = job.execute_in_process(
                    instance=instance,
                    run_id=run_id,
                    tags={
                        "dagster/asset_partition_range_start": first_week.isoformat(),
                        "dagster/asset_partition_range_end": last_week.isoformat(),
                        "ctsw/trigger": "cli",
                    },
                    run_config={"loggers": {"console": {"config": {"log_level": level}}}},
                    raise_on_error=False,
                )
        finally:
            progress.stop()
    if not verbose:
        print(f"  logs: {log_file} (run {run_id}; also in the Dagster UI: bash run.sh ui)", file=out)
    return result.success


class _Progress(threading.Thread):
    """Prints one line when a step starts and when it ends, read from the run's event log as the run goes."""

    TYPES = ("STEP_START", "STEP_SUCCESS", "STEP_FAILURE", "ASSET_CHECK_EVALUATION")

    def __init__(self, instance, run_id: str, out: TextIO, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.instance, self.run_id, self.out, self.interval = instance, run_id, out, interval
        self.cursor: str | None = None
        self.started: dict[str, float] = {}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.interval):
            self.poll()

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=10)
        self.poll()

    def poll(self) -> None:
        from dagster import DagsterEventType

        try:  # only the records after the cursor: re-reading the whole log each tick grows with the run
            found = self.instance.get_records_for_run(self.run_id, cursor=self.cursor,
                                                      of_type={DagsterEventType(t) for t in self.TYPES})
        except Exception:  # noqa: BLE001 - the run's storage may not exist yet; try again next tick
            return
        for record in found.records:
            self._line(record.event_log_entry)
        self.cursor = found.cursor or self.cursor

    def _line(self, entry) -> None:
        event = entry.dagster_event
        kind, step = event.event_type_value, event.step_key
        if kind == "STEP_START":
            self.started[step] = entry.timestamp
            print(f"  ..     {step}", file=self.out, flush=True)
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
            took = entry.timestamp - self.started.get(step, entry.timestamp)
            status = "ok    " if kind == "STEP_SUCCESS" else "FAILED"
            print(f"  {status} {step} ({took:.1f}s)", file=self.out, flush=True)
            if kind == "STEP_FAILURE":
                print(f"         {_root_cause(event.event_specific_data)}", file=self.out, flush=True)
        else:
            evaluation = event.event_specific_data
            if not evaluation.passed:
                warn = evaluation.severity.value == "WARN"  # AssetCheckSeverity, without importing Dagster here
                print(f"  check {'warned' if warn else 'failed'}: {evaluation.asset_check_key.to_user_string()}",
                      file=self.out, flush=True)


def _root_cause(failure) -> str:
    """The innermost error of a failed step, in one line (the full trace is in the log file)."""
    err = getattr(failure, "error", None)
    if err is None:
        return "failed (see the log)"
    while getattr(err, "cause", None) is not None:
        err = err.cause
    lines = [ln for ln in (err.message or "").strip().splitlines() if ln.strip()]
    return f"error: {lines[-1][:400] if lines else err.cls_name}"
