"""The raw loader: typing, UTC, quarantine reasons, row accounting, idempotence, atomicity, pseudonyms."""

from __future__ import annotations

import json
import multiprocessing as mp
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import TEAMS_CSV, write  # noqa: F401

from ctsw import db
from ctsw.ingest.load import LoadError, Window, landing_files, load_table
from ctsw.ingest.pseudonym import PREFIX, load_or_create_key

KEY = "test-key"
WEEK1 = Window(datetime(2024, 1, 1), datetime(2024, 1, 8))


DEPLOY_HEADER = (
    "deployment_id,team_id,service,environment,started_at,finished_at,status,is_rollback,manual_interventions,pr_ids"
)


def load(con, landing: Path, table: str, window: Window | None = WEEK1):
    if table != "teams" and con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema='raw' AND table_name='teams'"
    ).fetchone()[0] == 0:
        load_table(con, "teams", landing_files(landing, "teams"), None, KEY, landing_dir=landing)
    return load_table(con, table, landing_files(landing, table), window, KEY, landing_dir=landing)


def checksum(con, table: str) -> str:
    return con.execute(f"SELECT md5(string_agg(CAST(t AS VARCHAR), '|' ORDER BY CAST(t AS VARCHAR))) FROM {table} t"
                       ).fetchone()[0]


def quarantine(con) -> pd.DataFrame:
    return con.execute("SELECT source_file, source_row, field, reason FROM raw.quarantine "
                       "ORDER BY source_table, source_file, source_row").df()


def test_types_utc_and_offsets(con, landing):
    write(landing / "deployments" / "w1.csv", DEPLOY_HEADER + "\n"
          "d1,t1,api,production,2024-01-02T12:00:00+02:00,2024-01-02T10:30:00Z,succeeded,false,2,t1#1;t1#2\n"
          "d2,t1,api,staging,2024-01-03 09:00:00,,failed,TRUE,0,\n")
    res = load(con, landing, "deployments")
    assert (res.rows_read, res.rows_loaded, res.rows_quarantined) == (2, 2, 0)
    rows = con.execute("SELECT deployment_id, started_at, finished_at, is_rollback, manual_interventions "
                       "FROM raw.deployments ORDER BY 1").fetchall()
    assert rows[0] == ("d1", datetime(2024, 1, 2, 10, 0), datetime(2024, 1, 2, 10, 30), False, 2)
    assert rows[1] == ("d2", datetime(2024, 1, 3, 9, 0), None, True, 0)  # naive is read as UTC
    bridge = con.execute("SELECT deployment_id, pr_id FROM raw.deployment_pull_requests ORDER BY 2").fetchall()
    assert bridge == [("d1", "t1#1"), ("d1", "t1#2")]
    assert con.execute("SELECT _source_file, _source_row FROM raw.deployments ORDER BY 1, 2").fetchall() == [
        ("deployments/w1.csv", 1), ("deployments/w1.csv", 2)]


def test_quarantine_reasons_and_accounting(con, landing):
    write(landing / "deployments" / "a.csv", DEPLOY_HEADER + "\n"
          "d1,t1,api,production,2024-01-02T10:00:00Z,2024-01-02T10:30:00Z,succeeded,false,1.5,\n"   # 1
          "d2,t9,api,production,2024-01-02T10:00:00Z,,failed,false,0,\n"                            # 2
          "d3,t1,api,production,2024-01-02T10:00:00Z,,exploded,false,0,\n"                          # 3
          "d4,t1,api,production,2024-01-02T10:00:00Z,2024-01-01T10:00:00Z,succeeded,false,0,\n"     # 4
          "d5,t1,api,production,2024-01-02T10:00:00Z,,succeeded,false,-1,\n"                        # 5
          "d6,t1,api,production,2024-01-04T10:00:00Z,,succeeded,false,0,\n"                         # 6
          "d6,t1,api,production,2024-01-04T10:00:00Z,,succeeded,false,0,\n"                         # 7 exact dup
          "d7,t1,api,production,2024-01-04T10:00:00Z,,succeeded,false,0,\n"                         # 8 superseded
          "d8,t1,api,production,not-a-time,,succeeded,false,0,\n"                                   # 9
          "d9,t1,api,production,2024-01-10T10:00:00Z,,succeeded,false,0,\n")                        # other week
    write(landing / "deployments" / "b.csv", DEPLOY_HEADER + "\n"
          "d7,t1,api,production,2024-01-04T10:00:00Z,,failed,false,3,\n")
    res = load(con, landing, "deployments")
    assert res.rows_read == 10 and res.rows_loaded == 2 and res.rows_quarantined == 8
    assert res.rows_read == res.rows_loaded + res.rows_quarantined
    q = quarantine(con)
    got = {(r.source_file, r.source_row): (r.field, r.reason) for r in q.itertuples()}
    a = "deployments/a.csv"
    assert got[(a, 1)] == ("manual_interventions", "manual_interventions: not a valid bigint")
    assert got[(a, 2)] == ("team_id", "team_id: unknown team_id")
    assert got[(a, 3)][1] == "status: not one of succeeded, failed, rolled_back"
    assert got[(a, 4)] == ("finished_at", "finished_at: finished before started")
    assert got[(a, 5)] == ("manual_interventions", "manual_interventions: below 0")
    assert got[(a, 6)][1] == f"exact duplicate of {a}:7"
    assert got[(a, 8)][1] == "superseded by deployments/b.csv:1 (same key, different values)"
    assert got[(a, 9)] == ("started_at", "started_at: not a valid timestamp")
    loaded = con.execute("SELECT deployment_id, status FROM raw.deployments ORDER BY 1").fetchall()
    assert loaded == [("d6", "succeeded"), ("d7", "failed")]


def test_rerun_is_idempotent_and_other_weeks_untouched(con, landing):
    write(landing / "pull_requests" / "prs.csv",
          "pr_id,team_id,author_id,created_at,merged_at,shipped_at,first_commit_at,additions,deletions\n"
          "p1,t1,alice,2024-01-02T10:00:00Z,2024-01-03T10:00:00Z,,2024-01-01T09:00:00Z,10,2\n"
          "p2,t1,bob,2024-01-09T10:00:00Z,,,,,\n"
          "p3,t1,bob,2024-01-02T10:00:00Z,2024-01-01T10:00:00Z,,,,\n")
    week2 = Window(datetime(2024, 1, 8), datetime(2024, 1, 15))
    load(con, landing, "pull_requests", week2)
    before_w2 = con.execute("SELECT pr_id FROM raw.pull_requests").fetchall()
    load(con, landing, "pull_requests", WEEK1)
    first = (checksum(con, "raw.pull_requests"), checksum(con, "raw.quarantine"))
    for _ in range(3):
        load(con, landing, "pull_requests", WEEK1)
    assert (checksum(con, "raw.pull_requests"), checksum(con, "raw.quarantine")) == first
    assert before_w2 == [("p2",)]
    assert sorted(r[0] for r in con.execute("SELECT pr_id FROM raw.pull_requests").fetchall()) == ["p1", "p2"]
    assert quarantine(con)["reason"].tolist() == ["merged_at: merged before created"]


def test_people_are_pseudonymised_everywhere(con, landing, tmp_path):
    write(landing / "pull_requests" / "prs.csv",
          "pr_id,team_id,author_id,created_at,merged_at,shipped_at,first_commit_at,additions,deletions\n"
          "p1,t1,alice@example.com,2024-01-02T10:00:00Z,,,,,\n"
          "p2,t1,alice@example.com,2024-01-02T10:00:00Z,bad,,,,\n")
    load(con, landing, "pull_requests")
    author = con.execute("SELECT author_id FROM raw.pull_requests").fetchone()[0]
    assert author.startswith(PREFIX) and "alice" not in author
    con.execute("CHECKPOINT")
    con.close()
    assert b"alice" not in (tmp_path / "t.duckdb").read_bytes()  # not in rows, quarantine records or WAL
    # The same key gives the same pseudonym; another key a different one.
    other = duckdb.connect()
    load_table(other, "teams", landing_files(landing, "teams"), None, KEY, landing_dir=landing)
    load_table(other, "pull_requests", landing_files(landing, "pull_requests"), WEEK1, KEY, landing_dir=landing)
    assert other.execute("SELECT author_id FROM raw.pull_requests").fetchone()[0] == author
    load_table(other, "pull_requests", landing_files(landing, "pull_requests"), WEEK1, "k2", landing_dir=landing)
    assert other.execute("SELECT author_id FROM raw.pull_requests").fetchone()[0] != author


def test_key_file_created_once_and_private(tmp_path, monkeypatch):
    monkeypatch.delenv("CTSW_PSEUDONYM_KEY", raising=False)
    f = tmp_path / "k" / "pseudonym.key"
    k1 = load_or_create_key(f)
    assert load_or_create_key(f) == k1 and len(k1) == 64
    assert f.stat().st_mode & 0o077 == 0


def test_jsonl_and_parquet_lists_and_schema_drift(con, landing):
    rows = [{"deployment_id": "j1", "team_id": "t1", "service": "api", "environment": "production",
             "started_at": "2024-01-02T10:00:00Z", "finished_at": None, "status": "succeeded",
             "is_rollback": False, "manual_interventions": 0, "pr_ids": ["t1#1", "t1#2"], "surprise": 1}]
    write(landing / "deployments" / "a.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    table = pa.table({"deployment_id": ["q1"], "team_id": ["t1"], "environment": ["production"],
                      "started_at": pa.array([datetime(2024, 1, 3, 8)], pa.timestamp("us", tz="UTC")),
                      "status": ["succeeded"], "is_rollback": [True], "manual_interventions": [1],
                      "pr_ids": pa.array([["t1#3"]], pa.list_(pa.string()))})
    pq.write_table(table, landing / "deployments" / "b.parquet")
    write(landing / "deployments" / "c.csv", "deployment_id,team_id,started_at\nz1,t1,2024-01-02T10:00:00Z\n")
    res = load(con, landing, "deployments")
    assert res.rows_loaded == 2 and res.rows_quarantined == 1
    assert res.ignored_columns == {"deployments/a.jsonl": ["surprise"]}
    assert con.execute("SELECT pr_id FROM raw.deployment_pull_requests ORDER BY 1").fetchall() == [
        ("t1#1",), ("t1#2",), ("t1#3",)]
    q = quarantine(con)
    assert q["reason"].iloc[0].startswith(
        "required column(s) missing from file: environment, status, is_rollback, manual_interventions")


def test_unreadable_file_rolls_back_and_names_the_file(con, landing):
    write(landing / "deployments" / "a.csv", DEPLOY_HEADER + "\n"
          "d1,t1,api,production,2024-01-02T10:00:00Z,,succeeded,false,0,\n")
    load(con, landing, "deployments")
    before = checksum(con, "raw.deployments")
    (landing / "deployments" / "b.parquet").write_bytes(b"PAR1 this is not parquet")
    write(landing / "deployments" / "a.csv", DEPLOY_HEADER + "\n")  # would empty the week if committed
    with pytest.raises(LoadError, match="b.parquet"):
        load(con, landing, "deployments")
    assert checksum(con, "raw.deployments") == before


def _hold_and_write(db_path: str, tag: str, started) -> None:
    with db.connect(Path(db_path)) as c:
        started.set()
        c.execute("CREATE TABLE IF NOT EXISTS log (tag VARCHAR)")
        c.execute("INSERT INTO log VALUES (?)", [tag])


def test_two_writers_queue_instead_of_failing(tmp_path):
    path = str(tmp_path / "lock.duckdb")
    ctx = mp.get_context("spawn")
    events = [ctx.Event() for _ in range(2)]
    procs = [ctx.Process(target=_hold_and_write, args=(path, f"w{i}", events[i])) for i in range(2)]
    with db.connect(Path(path)) as c:  # hold the lock while both start: they must wait, not error
        for p in procs:
            p.start()
        assert not any(e.wait(1.0) for e in events)
        c.execute("CREATE TABLE log (tag VARCHAR)")
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    with db.connect(Path(path)) as c:
        assert sorted(r[0] for r in c.execute("SELECT tag FROM log").fetchall()) == ["w0", "w1"]
