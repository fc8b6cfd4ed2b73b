"""The landing-folder sensor: new or changed files trigger one run over exactly the weeks they touch.

The cursor records every landing file's size, modification time and the weeks its rows fall in. A file that
is new, changed or removed since the last tick touches the weeks it covered before and covers now; a changed
snapshot file (teams, memberships) touches every week in the landing folder. Weeks are grouped into ranges of
consecutive weeks, one run per range (one run for a typical drop). A file modified within the last
CTSW_SENSOR_SETTLE_SECONDS may still be being written: it waits for the next tick. On the first tick (no
cursor), files older than their table's last materialisation count as already loaded.
"""

import hashlib
import json
import time
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import duckdb

from ctsw.contract import TABLES
from ctsw.ingest.load import landing_files
from ctsw.ingest.readers import LoadError, create_stage, stage_file
from ctsw.ingest.rules import parsed, plausible
from orchestration.defs.automation.job import weekly_job
from orchestration.defs.automation.settings import AutomationSettings
from orchestration.defs.automation.weeks import contiguous, monday, range_request
from orchestration.partitions import WEEKLY
from orchestration.resources import CtswResource

CURSOR_VERSION = 1


def file_weeks(con: duckdb.DuckDBPyConnection, table: str, path: Path) -> list[str]:
    """Mondays of the weeks a landing file's rows fall in (its partition column; implausible dates left out)."""
    t = TABLES[table]
    if t.partition_column is None:
        return []
    col = t.column(t.partition_column)
    create_stage(con, (col,))
    try:
        stage_file(con, t, (col,), path, str(path))
    except LoadError:
        return []  # unreadable: its load will quarantine or report it
    rows = con.execute(f"SELECT DISTINCT CAST({parsed(col)} AS DATE) AS d FROM _stage WHERE d IS NOT NULL "
                       f"AND {plausible('d')}").fetchall()
    return sorted({monday(r[0]).isoformat() for r in rows})


def scan(landing: Path) -> dict[str, tuple[str, int, int]]:
    """Every landing file of a contract table: relative path -> (table, mtime_ns, size)."""
    out = {}
    for table in TABLES:
        for path in landing_files(landing, table):
            st = path.stat()
            out[str(path.relative_to(landing))] = (table, st.st_mtime_ns, st.st_size)
    return out


def _loaded_before(instance: dg.DagsterInstance | None) -> dict[str, float]:
    """Per table, when its raw asset last materialised (seconds since epoch); empty without run history."""
    if instance is None:
        return {}
    keys = [dg.AssetKey(["raw", t]) for t in TABLES]
    events = instance.get_latest_materialization_events(keys)
    return {k.path[-1]: e.timestamp for k, e in events.items() if e is not None}


def evaluate(landing: Path, cursor: str | None, settle_seconds: int, instance=None,
             now: float | None = None) -> tuple[list[tuple[date, date]], str, list[str]]:
    """Week ranges to run, the new cursor, and the changed files (relative paths)."""
    now = time.time() if now is None else now
    previous = json.loads(cursor)["files"] if cursor else None
    loaded = _loaded_before(instance) if previous is None else {}
    current = scan(landing)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    files: dict[str, dict] = {}
    changed: list[str] = []
    touched: set[str] = set()
    snapshot_changed = False
    try:
        for rel, (table, mtime_ns, size) in current.items():
            old = (previous or {}).get(rel)
            if now - mtime_ns / 1e9 < settle_seconds:
                if old is not None:
                    files[rel] = old  # still being written: look again next tick
                continue
            if old is not None and old["mtime_ns"] == mtime_ns and old["size"] == size:
                files[rel] = old
                continue
            weeks = file_weeks(con, table, landing / rel)
            files[rel] = {"table": table, "mtime_ns": mtime_ns, "size": size, "weeks": weeks}
            if previous is None and mtime_ns / 1e9 <= loaded.get(table, float("-inf")):
                continue  # first tick: already loaded by an earlier run
            changed.append(rel)
            touched.update(weeks)
            touched.update((old or {}).get("weeks", []))
            snapshot_changed |= TABLES[table].partition_column is None
    finally:
        con.close()
    for rel, old in (previous or {}).items():
        if rel not in current:  # removed: its weeks must be rebuilt without it
            changed.append(rel)
            touched.update(old.get("weeks", []))
            snapshot_changed |= TABLES[old["table"]].partition_column is None
    if snapshot_changed:
        touched = {w for f in files.values() for w in f.get("weeks", [])} | touched
    weeks = [date.fromisoformat(w) for w in touched]
    existing = set(WEEKLY.get_partition_keys(datetime.fromtimestamp(now, UTC)))
    weeks = [w for w in weeks if w.isoformat() in existing]  # the current week has no partition until it closes
    new_cursor = json.dumps({"version": CURSOR_VERSION, "files": files}, sort_keys=True, separators=(",", ":"))
    return contiguous(weeks), new_cursor, sorted(changed)


def build_landing_sensor(settings: AutomationSettings) -> dg.SensorDefinition:
    @dg.sensor(
        name="ctsw_landing_sensor",
        job=weekly_job,
        minimum_interval_seconds=settings.sensor_interval_seconds,
        default_status=settings.default_sensor_status,
        description=(
            "Watches the landing folder; new, changed or removed files request one run over the weeks their rows "
            f"fall in. Files changed in the last {settings.settle_seconds} s wait a tick "
            "(CTSW_SENSOR_SETTLE_SECONDS)."),
    )
    def ctsw_landing_sensor(context: dg.SensorEvaluationContext, ctsw: CtswResource):
        landing = Path(ctsw.landing_dir)
        if not landing.is_dir():
            return dg.SkipReason(f"landing folder {landing} does not exist (CTSW_LANDING_DIR)")
        ranges, cursor, changed = evaluate(landing, context.cursor, settings.settle_seconds, context.instance)
        context.update_cursor(cursor)
        if not ranges:
            return dg.SkipReason(f"{len(changed)} changed file(s), no closed week to run" if changed
                                 else "no new or changed landing files")
        digest = hashlib.sha256(cursor.encode()).hexdigest()[:16]
        context.log.info(f"{len(changed)} changed file(s): {', '.join(changed[:10])}")
        return [range_request(first, last, run_key=f"landing:{digest}:{first}..{last}",
                              **{"ctsw/trigger": "landing_sensor", "ctsw/changed_files": str(len(changed))})
                for first, last in ranges]

    return ctsw_landing_sensor
