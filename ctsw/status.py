"""`ctsw status`: what has been materialised, what is failing, what was quarantined."""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import duckdb

from ctsw import db
from ctsw.config import Settings

PANEL = ("marts", "fct_team_weeks")


class DatabaseBusy(RuntimeError):
    pass


@contextmanager
def read_database(path: Path, wait_seconds: float = 30.0, out: TextIO | None = None
                  ) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection under the writer lock; says so when a run holds the lock, gives up after a while."""
    lock = db.lock_path(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a+") as fh:
        deadline = time.monotonic() + wait_seconds
        told = False
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not told and out is not None:
                    print(f"waiting for {path.name}: a run is writing to it (up to {wait_seconds:.0f}s)", file=out)
                    told = True
                if time.monotonic() > deadline:
                    raise DatabaseBusy(f"{path} is being written by a run; try again when it finishes "
                                       "(`ctsw status` shows the run)") from None
                time.sleep(0.5)
        try:
            con = duckdb.connect(str(path), read_only=True)
            try:
                con.execute("SET TimeZone = 'UTC'")
                yield con
            finally:
                con.close()
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@dataclass
class Status:
    panel_weeks: tuple | None = None
    teams: int = 0
    models_as_of: object = None
    quarantine: dict[str, int] = field(default_factory=dict)
    last_materialised_week: str | None = None
    last_run: dict | None = None
    checks_evaluated: int = 0
    failing_checks: list[str] = field(default_factory=list)  # severity ERROR
    warning_checks: list[str] = field(default_factory=list)  # severity WARN: shown, not a failure
    latest_report: Path | None = None

    @property
    def healthy(self) -> bool:
        return not self.failing_checks and (self.last_run is None or self.last_run["status"] == "SUCCESS")


def _tables(con) -> set[str]:
    return {f"{s}.{t}" for s, t in con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()}


def read_status(settings: Settings, out: TextIO | None = None) -> Status:
    st = Status()
    with read_database(settings.duckdb_path, out=out) as con:
        tables = _tables(con)
        if "marts.fct_team_weeks" in tables:
            lo, hi, teams = con.execute("SELECT min(week_start), max(week_start), count(DISTINCT team_id) "
                                        "FROM marts.fct_team_weeks").fetchone()
            st.panel_weeks = (lo, hi) if lo else None
            st.teams = teams
        if "models.ai_effect_estimates" in tables:
            st.models_as_of = con.execute("SELECT max(as_of_week) FROM models.ai_effect_estimates").fetchone()[0]
        if "raw.quarantine" in tables:
            st.quarantine = dict(con.execute("SELECT source_table, count(*) FROM raw.quarantine GROUP BY 1 "
                                             "ORDER BY 2 DESC").fetchall())
    reports = sorted((settings.data_dir / "reports").glob("ctsw-report-*.html"))
    st.latest_report = reports[-1] if reports else None
    _read_run_history(settings, st)
    return st


def _read_run_history(settings: Settings, st: Status) -> None:
    from ctsw.runner import has_run_history

    if not has_run_history(settings):
        return
    import dagster as dg

    from ctsw.report.checks import latest_check_results
    from orchestration.definitions import defs

    with dg.DagsterInstance.get() as instance:
        parts = instance.get_materialized_partitions(dg.AssetKey(list(PANEL)))
        st.last_materialised_week = max(parts) if parts else None
        runs = instance.get_runs(limit=1)
        if runs:
            r = runs[0]
            stats = instance.get_run_stats(r.run_id)
            ended = datetime.fromtimestamp(stats.end_time, UTC).strftime("%Y-%m-%d %H:%M UTC") if stats.end_time \
                else "running"
            start = r.tags.get("dagster/asset_partition_range_start") or r.tags.get("dagster/partition")
            end = r.tags.get("dagster/asset_partition_range_end") or start
            st.last_run = {"id": r.run_id, "status": r.status.value, "ended": ended,
                           "weeks": f"{start}..{end}" if start else "unpartitioned",
                           "trigger": r.tags.get("ctsw/trigger") or r.tags.get("dagster/schedule_name")
                           or r.tags.get("dagster/sensor_name") or "hand (UI or dagster CLI)"}
        results = latest_check_results(instance, defs.resolve_asset_graph().asset_check_keys)
        st.checks_evaluated = len(results)
        st.failing_checks = [f"{c.asset}: {c.name}" for c in results if not c.passed and c.severity != "WARN"]
        st.warning_checks = [f"{c.asset}: {c.name}" for c in results if not c.passed and c.severity == "WARN"]


def print_status(st: Status, settings: Settings, out: TextIO) -> None:
    p = lambda *a: print(*a, file=out)  # noqa: E731
    p(f"database: {settings.duckdb_path}")
    if st.panel_weeks:
        p(f"panel:    weeks {st.panel_weeks[0]}..{st.panel_weeks[1]}, {st.teams} teams")
    else:
        p("panel:    empty (run `ctsw run`)")
    p(f"last materialised week (Dagster): {st.last_materialised_week or 'none recorded'}")
    p(f"models:   as of {st.models_as_of}" if st.models_as_of else "models:   not fitted yet (need >= 8 weeks)")
    if st.last_run:
        r = st.last_run
        p(f"last run: {r['status']} ({r['ended']}), weeks {r['weeks']}, started by {r['trigger']}, id {r['id']}")
    else:
        p("last run: none in the run history")
    if st.failing_checks:
        p(f"checks:   {len(st.failing_checks)} of {st.checks_evaluated} failing in their latest evaluation:")
        for c in st.failing_checks:
            p(f"          - {c}")
    else:
        p(f"checks:   {st.checks_evaluated} evaluated, none failing")
    if st.warning_checks:
        p(f"warnings: {len(st.warning_checks)} warning-level check(s) failed:")
        for c in st.warning_checks:
            p(f"          - {c}")
    if st.quarantine:
        p(f"quarantine: {sum(st.quarantine.values()):,} rows (" +
          ", ".join(f"{t} {n:,}" for t, n in st.quarantine.items()) + "); see raw.quarantine for file, row, reason")
    else:
        p("quarantine: no rows")
    p(f"report:   {st.latest_report}" if st.latest_report else "report:   none yet (`ctsw report`)")
