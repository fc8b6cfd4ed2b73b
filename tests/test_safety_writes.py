"""Safe writes: re-running weeks, late data, parallel runs and a killed loader never corrupt the panel.

One small simulated org (8 teams x 10 weeks) is built once with `ctsw.runner.run_weeks` in a subprocess (settings
come from CTSW_DATA_DIR at import). Scenarios work on copies of the data folder (DuckDB file, landing files,
Dagster home); the re-run and the late-data scenarios start together so that their runs overlap in time instead of
adding up. Tables are compared by an md5 per marts table and week over its rows, ordered.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from ctsw import db as ctsw_db
from ctsw.ingest.load import Window, landing_files, load_table
from ctsw.simulator import SimConfig, simulate

pytestmark = pytest.mark.slow

TEAMS, WEEKS, SEED = 8, 10, 3
START = date(2024, 1, 1)
W = [START + timedelta(weeks=i) for i in range(WEEKS)]
TIMEOUT = 1200
# Steps that load, transform and check data: they must succeed in every run (model and report steps are judged
# by their own tests; a model that cannot be fitted on 8 teams is not a write-safety problem).
DATA_STEP = re.compile(r"^(load_|ctsw_dbt_models$|raw_\w+_checks$|panel_sanity_checks$|\w*great_expectations)")

CHECKSUM_SQL = """
SELECT week_start::VARCHAR AS week, md5(string_agg(CAST(t AS VARCHAR), '|' ORDER BY CAST(t AS VARCHAR))) AS h
FROM {table} t GROUP BY week_start ORDER BY week_start
"""

# Runs weeks with ctsw.runner.run_weeks (argv[1]: JSON list of [first, last]) or inspects the last N runs
# (argv[1] = "inspect", argv[2] = N); prints one JSON list with each run's step outcomes and the marts checksums.
SCRIPT = r'''
import io, json, sys
from datetime import date
import duckdb
from ctsw.config import Settings
from ctsw.runner import dagster_home, run_weeks

CHECKSUM_SQL = __CHECKSUM_SQL__

def checksums(db):
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts' ORDER BY 1").fetchall()]
        return {t: dict(con.execute(CHECKSUM_SQL.format(table="marts." + t)).fetchall()) for t in tables}

def outcome(run):
    import dagster as dg
    from dagster import DagsterEventType as T
    with dg.DagsterInstance.get() as inst:
        logs = inst.all_logs(run.run_id, of_type={T.STEP_SUCCESS, T.STEP_FAILURE, T.ASSET_CHECK_EVALUATION})
    steps, checks = {}, {}
    for e in logs:
        ev = e.dagster_event
        if ev.event_type_value == "ASSET_CHECK_EVALUATION":
            data = ev.event_specific_data
            checks[data.asset_check_key.to_user_string()] = data.passed
        else:
            steps[ev.step_key] = ev.event_type_value == "STEP_SUCCESS"
    return {"run_id": run.run_id, "status": run.status.value, "steps": steps, "checks": checks,
            "tags": {k: v for k, v in run.tags.items() if "partition_range" in k}}

def last_runs(n):
    import dagster as dg
    with dg.DagsterInstance.get() as inst:
        return list(reversed(inst.get_runs(limit=n)))

settings = Settings.from_env()
dagster_home(settings)
results = []
if sys.argv[1] == "inspect":
    for run in last_runs(int(sys.argv[2])):
        results.append(outcome(run))
else:
    for first, last in json.loads(sys.argv[1]):
        out = io.StringIO()
        ok = run_weeks(date.fromisoformat(first), date.fromisoformat(last), settings, out=out)
        results.append({"weeks": [first, last], "success": ok, "output": out.getvalue()[-4000:],
                        **outcome(last_runs(1)[0]), "checksums": checksums(settings.duckdb_path)})
results.append({"checksums": checksums(settings.duckdb_path)})
print("RESULT " + json.dumps(results))
'''.replace("__CHECKSUM_SQL__", repr(CHECKSUM_SQL))


def org_env(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CTSW_", "DAGSTER_"))}
    return {**env, "CTSW_DATA_DIR": str(data), "CTSW_PSEUDONYM_KEY": "safety-key"}


def start_script(data: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", SCRIPT, *args], env=org_env(data), cwd=str(data),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def script_result(proc: subprocess.Popen) -> tuple[list[dict], dict]:
    """(one outcome per run, the marts checksums at the end) of a SCRIPT process; waits for it once."""
    if not hasattr(proc, "ctsw_result"):
        out, err = proc.communicate(timeout=TIMEOUT)
        line = next((x for x in out.splitlines() if x.startswith("RESULT ")), None)
        assert proc.returncode == 0 and line, f"exit {proc.returncode}\n{out[-3000:]}\n{err[-3000:]}"
        *runs, last = json.loads(line[len("RESULT "):])
        proc.ctsw_result = (runs, last["checksums"])
    return proc.ctsw_result


def weeks_arg(*ranges: tuple[date, date]) -> str:
    return json.dumps([[a.isoformat(), b.isoformat()] for a, b in ranges])


def assert_data_steps_ok(run: dict) -> None:
    data_steps = {s: ok for s, ok in run["steps"].items() if DATA_STEP.match(s)}
    failed = sorted(s for s, ok in data_steps.items() if not ok)
    assert not failed, f"run {run['run_id']} failed data steps {failed}:\n{run.get('output', '')}"
    assert {"load_pull_requests", "ctsw_dbt_models", "panel_sanity_checks"} <= set(data_steps), run["steps"]
    panel_checks = {k: v for k, v in run["checks"].items() if k.startswith("marts/fct_team_weeks:")}
    assert panel_checks and all(panel_checks.values()), panel_checks


_BASE: dict = {}


def base_org(tmp_path_factory) -> dict:
    """The org every scenario copies: simulated as CSV and run for all its weeks (built once per session)."""
    if not _BASE:
        data = tmp_path_factory.mktemp("safety_base")
        sim = subprocess.run([sys.executable, "-m", "ctsw.cli", "simulate", "--teams", str(TEAMS), "--weeks",
                              str(WEEKS), "--seed", str(SEED), "--format", "csv"], env=org_env(data), cwd=str(data),
                             capture_output=True, text=True, timeout=TIMEOUT)
        assert sim.returncode == 0, sim.stdout + sim.stderr
        t0 = time.perf_counter()
        runs, checksums = script_result(start_script(data, weeks_arg((W[0], W[-1]))))
        _BASE.update(data=data, run=runs[0], checksums=checksums, seconds=time.perf_counter() - t0)
    return _BASE


def copy_org(base: dict, dest: Path) -> Path:
    shutil.copytree(base["data"], dest)
    return dest


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    org = base_org(tmp_path_factory)
    assert_data_steps_ok(org["run"])
    return org


# --- scenarios that run the pipeline, started together -------------------------------------------------------

LATE_TEAM, LATE_WEEK = "t0002", W[3]
LATE_PRS, LATE_DEPLOYMENTS = 3, 2


def add_late_files(landing: Path) -> None:
    """Rows for an old week arriving after it was built: new export files, as a late batch would land."""
    day = datetime.combine(LATE_WEEK, datetime.min.time()) + timedelta(days=2, hours=9)
    iso = "%Y-%m-%dT%H:%M:%SZ"
    prs = ["pr_id,team_id,author_id,created_at,merged_at,shipped_at,first_commit_at,additions,deletions"]
    for i in range(LATE_PRS):
        t = day + timedelta(hours=i)
        prs.append(f"late#{i},{LATE_TEAM},dev-late-{i},{t:{iso}},{t + timedelta(hours=2):{iso}},"
                   f"{t + timedelta(hours=3):{iso}},{t - timedelta(hours=1):{iso}},10,2")
    (landing / "pull_requests" / f"pull_requests_late_{LATE_WEEK}.csv").write_text("\n".join(prs) + "\n")
    deps = ["deployment_id,team_id,service,environment,started_at,finished_at,status,is_rollback,"
            "manual_interventions,pr_ids"]
    for i in range(LATE_DEPLOYMENTS):
        t = day + timedelta(hours=5 + i)
        deps.append(f"late-dep-{i},{LATE_TEAM},late-svc,production,{t:{iso}},{t + timedelta(minutes=9):{iso}},"
                    "succeeded,false,0,")
    (landing / "deployments" / f"deployments_late_{LATE_WEEK}.csv").write_text("\n".join(deps) + "\n")


@pytest.fixture(scope="module")
def scenarios(base, tmp_path_factory):
    """Start the scenarios that only need the base org at once: their runs overlap instead of adding up."""
    root = tmp_path_factory.mktemp("scenarios")
    idem = copy_org(base, root / "rerun")
    late = copy_org(base, root / "late")
    add_late_files(late / "landing")
    procs = {
        # W6 alone, then W2..W7 as one backfill run: earlier weeks after a later one, W6 a second time.
        "rerun": (idem, start_script(idem, weeks_arg((W[6], W[6]), (W[2], W[7])))),
        "late": (late, start_script(late, weeks_arg((LATE_WEEK, LATE_WEEK)))),
    }
    yield procs
    for _, proc in procs.values():
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_base_run_built_every_week(base):
    panel = base["checksums"]["fct_team_weeks"]
    assert sorted(panel) == [w.isoformat() for w in W]
    assert base["run"]["tags"] == {"dagster/asset_partition_range_start": W[0].isoformat(),
                                   "dagster/asset_partition_range_end": W[-1].isoformat()}


def test_rematerialising_a_week_alone_or_in_a_backfill_leaves_every_week_identical(base, scenarios):
    runs, final = script_result(scenarios["rerun"][1])
    assert [r["weeks"] for r in runs] == [[W[6].isoformat()] * 2, [W[2].isoformat(), W[7].isoformat()]]
    assert runs[1]["tags"] == {"dagster/asset_partition_range_start": W[2].isoformat(),
                               "dagster/asset_partition_range_end": W[7].isoformat()}
    for run in runs:
        assert_data_steps_ok(run)
        assert run["checksums"] == base["checksums"], run["weeks"]  # every marts table, every week, byte for byte
    assert final == base["checksums"]


def test_two_runs_started_together_on_one_database_both_succeed_and_change_nothing(base, scenarios):
    """On the copy the previous test re-ran: two runs of W6 at once, so W6 is materialised a third and fourth
    time. They queue on the DuckDB file lock (ctsw/db.py) instead of failing."""
    data, proc = scenarios["rerun"]
    script_result(proc)  # wait for the sequential re-runs to finish first
    cli = [sys.executable, "-m", "ctsw.cli", "run", "--from", W[6].isoformat(), "--to", W[6].isoformat()]
    pair = [subprocess.Popen(cli, env=org_env(data), cwd=str(data), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=TIMEOUT) for p in pair]
    for _, err in outputs:
        assert "could not set lock" not in err.lower() and "conflicting lock" not in err.lower(), err[-3000:]
    runs, final = script_result(start_script(data, "inspect", "2"))
    assert len({r["run_id"] for r in runs}) == 2 and all(r["run_id"] != base["run"]["run_id"] for r in runs)
    for run, p, (out, err) in zip(runs, pair, outputs, strict=True):
        run["output"] = out[-3000:] + err[-3000:]
        assert_data_steps_ok(run)
        if all(run["steps"].values()):
            assert p.returncode == 0, run["output"]
    assert final == base["checksums"]


def test_late_arriving_rows_for_an_old_week_are_picked_up_by_rerunning_it(base, scenarios):
    data, proc = scenarios["late"]
    (run,), final = script_result(proc)
    assert_data_steps_ok(run)
    changed = {t: sorted(w for w in final[t] if final[t][w] != base["checksums"][t].get(w)) for t in final}
    assert changed["fct_team_weeks"] == [LATE_WEEK.isoformat()]
    assert all(weeks in ([], [LATE_WEEK.isoformat()]) for weeks in changed.values()), changed
    sql = "SELECT * FROM marts.fct_team_weeks WHERE week_start = ? ORDER BY team_id"
    with duckdb.connect(str(base["data"] / "ctsw.duckdb"), read_only=True) as con:
        before = con.execute(sql, [LATE_WEEK]).df().set_index("team_id")
    with duckdb.connect(str(data / "ctsw.duckdb"), read_only=True) as con:
        after = con.execute(sql, [LATE_WEEK]).df().set_index("team_id")
    assert after.loc[LATE_TEAM, "prs_merged"] == before.loc[LATE_TEAM, "prs_merged"] + LATE_PRS
    assert after.loc[LATE_TEAM, "deployments"] == before.loc[LATE_TEAM, "deployments"] + LATE_DEPLOYMENTS
    others = before.index != LATE_TEAM
    assert after[others].equals(before[others])


# --- a loader killed in the middle of a week ------------------------------------------------------------------

BIG_ROWS = 600_000
KILL_WEEK = Window(datetime(2024, 1, 8), datetime(2024, 1, 15))
# Loads pull_requests for KILL_WEEK, printing STAGING before it starts and BEGIN when its transaction opens.
KILL_SCRIPT = r'''
import sys
from datetime import datetime
from pathlib import Path
from ctsw import db
from ctsw.ingest.load import Window, landing_files, load_table

class Spy:
    def __init__(self, con): self._con = con
    def __getattr__(self, name): return getattr(self._con, name)
    def begin(self):
        print("BEGIN", flush=True)
        return self._con.begin()

landing, path = Path(sys.argv[1]), Path(sys.argv[2])
with db.connect(path) as con:
    print("STAGING", flush=True)
    load_table(Spy(con), "pull_requests", landing_files(landing, "pull_requests"),
               Window(datetime(2024, 1, 8), datetime(2024, 1, 15)), "k", landing_dir=landing)
print("DONE", flush=True)
'''
RAW_STATE_SQL = ("SELECT (SELECT md5(string_agg(CAST(t AS VARCHAR), '|' ORDER BY _source_file, _source_row)) "
                 "FROM raw.pull_requests t), (SELECT count(*) FROM raw.pull_requests), "
                 "(SELECT md5(coalesce(string_agg(CAST(q AS VARCHAR), '|' ORDER BY source_file, source_row), '')) "
                 "FROM raw.quarantine q)")


@pytest.fixture(scope="module")
def loaded_small_org(tmp_path_factory):
    """Teams and three weeks of PRs loaded; a large export for week 2024-01-08 waiting in the landing folder."""
    root = tmp_path_factory.mktemp("killed")
    landing = root / "landing"
    simulate(SimConfig(n_teams=4, n_weeks=3, seed=1, fmt="csv"), landing)
    path = root / "ctsw.duckdb"
    with ctsw_db.connect(path) as con:
        load_table(con, "teams", landing_files(landing, "teams"), None, "k", landing_dir=landing)
        for i in range(3):
            window = Window(datetime(2024, 1, 1) + timedelta(weeks=i), datetime(2024, 1, 8) + timedelta(weeks=i))
            load_table(con, "pull_requests", landing_files(landing, "pull_requests"), window, "k",
                       landing_dir=landing)
        small_week = con.execute("SELECT count(*) FROM raw.pull_requests WHERE created_at >= ? AND created_at < ?",
                                 [KILL_WEEK.start, KILL_WEEK.end]).fetchone()[0]
    with duckdb.connect() as con:
        con.execute(f"""COPY (
  SELECT 'big#' || i AS pr_id, 't0001' AS team_id, 'dev-big-' || (i % 40) AS author_id,
    strftime(TIMESTAMP '2024-01-08' + to_seconds(i % 500000), '%Y-%m-%dT%H:%M:%SZ') AS created_at,
    strftime(TIMESTAMP '2024-01-08' + to_seconds(i % 500000 + 3600), '%Y-%m-%dT%H:%M:%SZ') AS merged_at,
    NULL AS shipped_at, NULL AS first_commit_at, i % 300 AS additions, i % 50 AS deletions
  FROM range({BIG_ROWS}) t(i)) TO '{landing / "pull_requests" / "pull_requests_big.csv"}' (HEADER)""")
    return {"root": root, "landing": landing, "db": path, "small_week": small_week}


@pytest.mark.parametrize("moment", ["while_staging", "inside_the_transaction"])
def test_a_loader_killed_mid_week_leaves_the_previous_state_and_a_rerun_completes(loaded_small_org, tmp_path,
                                                                                   moment):
    org = loaded_small_org
    path = tmp_path / "ctsw.duckdb"
    shutil.copy(org["db"], path)
    with duckdb.connect(str(path), read_only=True) as con:
        before = con.execute(RAW_STATE_SQL).fetchone()
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(org["landing"]), str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(line.strip() for line in proc.stdout), daemon=True)
    reader.start()
    # The transaction only deletes the week and inserts the validated rows (validation runs before it), so it
    # lasts a fraction of a second: kill it soon after it opens.
    marker, delay = ("STAGING", 0.2) if moment == "while_staging" else ("BEGIN", 0.05)
    deadline = time.monotonic() + 120
    while marker not in lines and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert marker in lines, (lines, proc.stderr.read() if proc.poll() is not None else "")
    time.sleep(delay)
    assert proc.poll() is None, "the load finished before it could be killed; make BIG_ROWS larger"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    reader.join(timeout=10)
    assert proc.returncode == -signal.SIGKILL and "DONE" not in lines
    if moment == "inside_the_transaction":
        assert "BEGIN" in lines
    # The lock died with the process; the file opens (DuckDB drops the unfinished transaction) unchanged.
    with ctsw_db.connect(path) as con:
        assert con.execute(RAW_STATE_SQL).fetchone() == before
        leftovers = con.execute("SELECT table_name FROM duckdb_tables() WHERE table_name LIKE '\\_%' ESCAPE '\\'")
        assert leftovers.fetchall() == []
        # A re-run of the same load completes and replaces the week with the new files.
        result = load_table(con, "pull_requests", landing_files(org["landing"], "pull_requests"), KILL_WEEK, "k",
                            landing_dir=org["landing"])
        week_rows = con.execute("SELECT count(*) FROM raw.pull_requests WHERE created_at >= ? AND created_at < ?",
                                [KILL_WEEK.start, KILL_WEEK.end]).fetchone()[0]
        other_weeks = con.execute("SELECT count(*) FROM raw.pull_requests WHERE created_at < ? OR created_at >= ?",
                                  [KILL_WEEK.start, KILL_WEEK.end]).fetchone()[0]
    assert result.rows_quarantined == 0
    assert week_rows == result.rows_loaded == BIG_ROWS + org["small_week"]
    assert other_weeks == before[1] - org["small_week"]
