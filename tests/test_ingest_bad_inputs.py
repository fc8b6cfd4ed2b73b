"""The bad-input matrix: whatever lands, the load finishes (or fails naming file, row and field), loses nothing,
and says what was wrong. Every load here keeps `rows_read = rows_loaded + rows_quarantined`.

The table of outcomes is in docs/telemetry-contract.md ("What happens to bad input").
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import TEAMS_CSV, write  # noqa: F401

from ctsw.ingest.discover import landing_week_range
from ctsw.ingest.load import LoadError, LoadResult, Window, landing_files, load_table

KEY = "test-key"
WEEK1 = Window(datetime(2024, 1, 1), datetime(2024, 1, 8))
WEEK2 = Window(datetime(2024, 1, 8), datetime(2024, 1, 15))

DEPLOY_HEADER = (
    "deployment_id,team_id,service,environment,started_at,finished_at,status,is_rollback,manual_interventions,pr_ids"
)
PR_HEADER = "pr_id,team_id,author_id,created_at,merged_at,shipped_at,first_commit_at,additions,deletions"
MEMBER_HEADER = "developer_id,team_id,role,start_date,end_date,fte,annual_loaded_cost_usd"


def dep(i: int, started: str = "2024-01-02T10:00:00Z", status: str = "succeeded", team: str = "t1") -> str:
    return f"d{i},{team},api,production,{started},,{status},false,0,"


def load(con, landing: Path, table: str, window: Window | None = WEEK1) -> LoadResult:
    load_table(con, "teams", landing_files(landing, "teams"), None, KEY, landing_dir=landing)
    res = load_table(con, table, landing_files(landing, table), window, KEY, landing_dir=landing)
    assert res.rows_read == res.rows_loaded + res.rows_quarantined
    assert con.execute(f"SELECT count(*) FROM raw.{table} WHERE _source_file IS NULL").fetchone()[0] == 0
    return res


def quarantined(con, table: str) -> dict[tuple[str, int], tuple[str | None, str]]:
    rows = con.execute("SELECT source_file, source_row, field, reason FROM raw.quarantine WHERE source_table = ? "
                       "ORDER BY source_file, source_row", [table]).fetchall()
    return {(f, r): (fld, reason) for f, r, fld, reason in rows}


def loaded(con, table: str, key: str) -> list[tuple]:
    return con.execute(f"SELECT {key}, _source_row FROM raw.{table} ORDER BY _source_file, _source_row").fetchall()


# --- malformed CSV ----------------------------------------------------------------------------------------

def test_csv_wrong_field_counts_bad_bytes_and_unterminated_quote_are_counted_rows(con, landing):
    f = "deployments/a.csv"
    write(landing / f, (
        DEPLOY_HEADER + "\n"
        + dep(1) + "\n"                                            # row 1 ok
        + "d2,t1,api\n"                                            # row 2: too few fields
        + dep(3) + "\n"                                            # row 3 ok
        + dep(4) + ",extra\n"                                      # row 4: too many fields
        + dep(5).replace(",api,", ',"api"x,') + "\n"               # row 5: stray quote
        + dep(6) + "\n"                                            # row 6 ok
    ).encode() + dep(7).replace("api", "caf\xe9").encode("latin-1") + b"\n"  # row 7: not UTF-8
      + (dep(8) + "\n"                                              # row 8 ok
         + dep(9).replace(",api,", ',"api,') + "\n"                # row 9: quote never closed ...
         + dep(10) + "\n" + dep(11) + "\n").encode())              # rows 10, 11: ... swallowed
    res = load(con, landing, "deployments")
    assert (res.rows_read, res.rows_loaded, res.rows_quarantined) == (11, 4, 7)
    assert loaded(con, "deployments", "deployment_id") == [("d1", 1), ("d3", 3), ("d6", 6), ("d8", 8)]
    q = quarantined(con, "deployments")
    assert q[(f, 2)] == (None, "malformed CSV row: 3 fields where the header has 10")
    assert q[(f, 4)] == (None, "malformed CSV row: 11 fields where the header has 10")
    assert q[(f, 5)] == ("service", "malformed CSV row: the quoted value of service is not closed properly")
    assert q[(f, 7)] == ("service", "service: not valid UTF-8 (save the file as UTF-8)")
    assert q[(f, 9)] == ("service", "malformed CSV row: the quoted value of service is not closed "
                                    "(it runs on over the next 2 line(s))")
    assert q[(f, 10)] == q[(f, 11)] == (None, "malformed CSV row: inside the quoted value opened in row 9, "
                                              "never closed")
    assert len(q) == 7
    # The reader's rejects (raw lines) are gone; the quarantine record holds no raw text for unparsed rows.
    assert not con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '_csv%'").fetchone()[0]


def test_csv_header_problems_raise_naming_file_row_and_field(con, landing):
    cases = {
        "headerless.csv": (dep(1) + "\n" + dep(2) + "\n", "row 0 (header): none of its 10 column(s)"),
        "twice.csv": ("deployment_id,team_id,team_id\nd1,t1,t1\n", "row 0 (header): column team_id appears twice"),
        "latin1.csv": ("deployment_id,équipe\nd1,t1\n".encode("latin-1"),
                       "row 0 (header), column 2: the name is not valid UTF-8"),
    }
    for name, (content, message) in cases.items():
        folder = landing / "deployments"
        for old in folder.glob("*") if folder.exists() else []:
            old.unlink()
        write(folder / name, content)
        with pytest.raises(LoadError, match=re.escape(f"deployments/{name}: {message}")):
            load(con, landing, "deployments")


def test_file_in_the_wrong_folder_is_refused(con, landing):
    write(landing / "deployments" / "pages.csv", "page_id,triggered_at\npg1,2024-01-02T10:00:00Z\n")
    with pytest.raises(LoadError, match=r"deployments/pages.csv: .*none of its 2 column\(s\) is a column of "
                                        r"deployments .*wrong folder"):
        load(con, landing, "deployments")


# --- columns ----------------------------------------------------------------------------------------------

def test_wrong_missing_and_extra_columns(con, landing):
    write(landing / "deployments" / "renamed.csv",
          DEPLOY_HEADER.replace("team_id", "Team_ID") + "\n" + dep(1) + "\n")
    write(landing / "deployments" / "no_status.csv",
          DEPLOY_HEADER.replace(",status", "") + "\n" + dep(2).replace(",succeeded", "") + "\n")
    write(landing / "deployments" / "no_service.csv",   # a nullable column may be left out
          DEPLOY_HEADER.replace(",service", "") + "\n" + dep(3).replace(",api", "") + "\n")
    write(landing / "deployments" / "extra.csv", "\ufeff" + DEPLOY_HEADER + ",region\n" + dep(4) + ",eu\n")  # BOM
    res = load(con, landing, "deployments")
    assert (res.rows_read, res.rows_loaded, res.rows_quarantined) == (4, 2, 2)
    assert sorted(r[0] for r in loaded(con, "deployments", "deployment_id")) == ["d3", "d4"]
    q = quarantined(con, "deployments")
    assert q[("deployments/renamed.csv", 1)] == (
        "team_id", "required column(s) missing from file: team_id (the file has unknown column(s): Team_ID)")
    assert q[("deployments/no_status.csv", 1)] == ("status", "required column(s) missing from file: status")
    assert res.ignored_columns == {"deployments/extra.csv": ["region"], "deployments/renamed.csv": ["Team_ID"]}
    assert res.missing_columns == {"deployments/no_status.csv": ["status"], "deployments/renamed.csv": ["team_id"]}


def test_wrong_types_are_quarantined_per_field(con, landing):
    write(landing / "deployments" / "a.csv", DEPLOY_HEADER + "\n"
          "d1,t1,api,production,2024-01-02T10:00:00Z,,succeeded,false,two,\n"
          "d2,t1,api,production,2024-01-02T10:00:00Z,,succeeded,maybe,0,\n"
          "d3,t1,api,production,yesterday,,succeeded,false,0,\n"
          "d4,t1,api,production,2024-01-02T10:00:00Z,soon,succeeded,false,0,\n")
    res = load(con, landing, "deployments")
    assert (res.rows_read, res.rows_loaded, res.rows_quarantined) == (4, 0, 4)
    q = quarantined(con, "deployments")
    a = "deployments/a.csv"
    assert q[(a, 1)] == ("manual_interventions", "manual_interventions: not a valid bigint")
    assert q[(a, 2)] == ("is_rollback", "is_rollback: not a valid boolean")
    assert q[(a, 3)] == ("started_at", "started_at: not a valid timestamp")
    assert q[(a, 4)] == ("finished_at", "finished_at: not a valid timestamp")
    # A row whose partition value does not parse belongs to no week: any window load reports it.
    assert con.execute("SELECT partition_ts FROM raw.quarantine WHERE source_row = 3").fetchone() == (None,)


# --- empty files ------------------------------------------------------------------------------------------

def test_empty_files_load_nothing_without_error_and_still_replace_the_week(con, landing):
    write(landing / "deployments" / "a.csv", DEPLOY_HEADER + "\n" + dep(1) + "\n")
    assert load(con, landing, "deployments").rows_loaded == 1
    write(landing / "deployments" / "a.csv", DEPLOY_HEADER + "\n")   # header only: the export now says "none"
    write(landing / "deployments" / "zero.csv", b"")
    write(landing / "deployments" / "zero.parquet", b"")
    write(landing / "deployments" / "zero.jsonl", b"")
    write(landing / "deployments" / "blank.jsonl", "\n\n")
    res = load(con, landing, "deployments")
    assert (res.rows_read, res.rows_loaded, res.rows_quarantined) == (0, 0, 0)
    assert res.empty_files == ["deployments/a.csv", "deployments/blank.jsonl", "deployments/zero.csv",
                               "deployments/zero.jsonl", "deployments/zero.parquet"]
    assert res.as_metadata()["empty_files"] == res.empty_files
    assert con.execute("SELECT count(*) FROM raw.deployments").fetchone()[0] == 0


# --- rules ------------------------------------------------------------------------------------------------

def test_unknown_team_and_status_outside_the_contract(con, landing):
    write(landing / "deployments" / "a.csv", DEPLOY_HEADER + "\n"
          + dep(1, team="t9") + "\n" + dep(2, status="SUCCEEDED") + "\n" + dep(3, status="cancelled") + "\n")
    res = load(con, landing, "deployments")
    assert (res.rows_read, res.rows_loaded) == (3, 0)
    q = quarantined(con, "deployments")
    a = "deployments/a.csv"
    assert q[(a, 1)] == ("team_id", "team_id: unknown team_id")
    assert q[(a, 2)] == ("status", "status: not one of succeeded, failed, rolled_back")  # case matters
    assert q[(a, 3)] == ("status", "status: not one of succeeded, failed, rolled_back")


def test_duplicates_exact_conflicting_and_moved_to_another_week(con, landing):
    write(landing / "pull_requests" / "2024-01-05.csv", PR_HEADER + "\n"
          "p1,t1,alice,2024-01-02T10:00:00Z,,,,1,0\n"
          "p1,t1,alice,2024-01-02T10:00:00Z,,,,1,0\n"       # exact duplicate
          "p2,t1,bob,2024-01-03T10:00:00Z,,,,5,0\n"
          "p3,t1,bob,2024-01-04T10:00:00Z,,,,5,0\n")
    write(landing / "pull_requests" / "2024-01-12.csv", PR_HEADER + "\n"
          "p2,t1,bob,2024-01-03T10:00:00Z,2024-01-09T10:00:00Z,,,7,1\n"   # conflicting: newer export wins
          "p3,t1,bob,2024-01-09T10:00:00Z,,,,5,0\n")                      # created_at corrected into week 2
    r1 = load(con, landing, "pull_requests", WEEK1)
    r2 = load(con, landing, "pull_requests", WEEK2)
    assert (r1.rows_read, r1.rows_loaded, r1.rows_quarantined) == (5, 2, 3)
    assert (r2.rows_read, r2.rows_loaded, r2.rows_quarantined) == (1, 1, 0)
    keys = [r[0] for r in con.execute("SELECT pr_id FROM raw.pull_requests ORDER BY pr_id").fetchall()]
    assert keys == ["p1", "p2", "p3"]  # each key once across both weeks
    q = quarantined(con, "pull_requests")
    old = "pull_requests/2024-01-05.csv"
    assert q[(old, 1)] == ("pr_id", f"exact duplicate of {old}:2")
    assert q[(old, 3)] == ("pr_id", "superseded by pull_requests/2024-01-12.csv:1 (same key, different values)")
    assert q[(old, 4)] == ("pr_id", "superseded by pull_requests/2024-01-12.csv:2 (same key, different values)")
    assert con.execute("SELECT created_at FROM raw.pull_requests WHERE pr_id = 'p3'").fetchone() == (
        datetime(2024, 1, 9, 10),)


def test_reversed_durations(con, landing):
    write(landing / "pull_requests" / "a.csv", PR_HEADER + "\n"
          "p1,t1,alice,2024-01-03T10:00:00Z,2024-01-02T10:00:00Z,,,,\n")
    write(landing / "pages" / "a.csv",
          "page_id,team_id,triggered_at,acknowledged_at,resolved_at,severity,responder_id\n"
          "g1,t1,2024-01-03T10:00:00Z,2024-01-03T10:05:00Z,2024-01-03T09:00:00Z,high,bob\n"
          "g2,t1,2024-01-03T10:00:00Z,,2024-01-03T10:00:00Z,high,bob\n")   # zero duration is fine
    write(landing / "oncall_shifts" / "a.csv", "developer_id,team_id,shift_start,shift_end\n"
          "bob,t1,2024-01-03T10:00:00Z,2024-01-03T10:00:00Z\n")
    assert load(con, landing, "pull_requests").rows_quarantined == 1
    pages = load(con, landing, "pages")
    assert (pages.rows_loaded, pages.rows_quarantined) == (1, 1)
    assert load(con, landing, "oncall_shifts").rows_quarantined == 1
    reasons = [r[0] for r in con.execute("SELECT reason FROM raw.quarantine ORDER BY source_table").fetchall()]
    assert reasons == ["shift_end: ends on or before its start", "resolved_at: resolved before triggered",
                       "merged_at: merged before created"]


def test_future_and_far_past_timestamps_are_reported_not_lost(con, landing):
    write(landing / "deployments" / "a.csv", DEPLOY_HEADER + "\n"
          + dep(1) + "\n" + dep(2, started="2999-01-01T00:00:00Z") + "\n" + dep(3, started="1970-01-01T00:00:00Z")
          + "\n" + "d4,t1,api,production,2024-01-02T10:00:00Z,2099-01-01T00:00:00Z,succeeded,false,0,\n")
    res = load(con, landing, "deployments")
    assert (res.rows_read, res.rows_loaded, res.rows_quarantined) == (4, 1, 3)
    q = quarantined(con, "deployments")
    a = "deployments/a.csv"
    assert q[(a, 2)] == ("started_at", "started_at: in the future")
    assert q[(a, 3)] == ("started_at", "started_at: before 2000-01-01")
    assert q[(a, 4)] == ("finished_at", "finished_at: in the future")
    # Implausible partition values belong to no week: every window load reports them (quarantine stays
    # one row each), and discovery does not stretch the run over 1970..2999.
    assert load(con, landing, "deployments", WEEK2).rows_quarantined == 2
    assert con.execute("SELECT count(*) FROM raw.quarantine").fetchone()[0] == 3
    assert landing_week_range(landing) == (date(2024, 1, 1), date(2024, 1, 1))


def test_naive_and_offset_timestamps_are_utc_whatever_the_session_zone(con, landing):
    write(landing / "deployments" / "a.csv", DEPLOY_HEADER + "\n"
          + dep(1, started="2024-01-02T12:00:00+02:00") + "\n" + dep(2, started="2024-01-02T10:00:00Z") + "\n"
          + dep(3, started="2024-01-02 10:00:00") + "\n" + dep(4, started="2024-01-02T05:00:00-05:00") + "\n")
    con.execute("SET TimeZone = 'America/New_York'")
    load(con, landing, "deployments")
    assert con.execute("SELECT current_setting('TimeZone')").fetchone()[0] == "America/New_York"  # restored
    got = con.execute("SELECT DISTINCT started_at FROM raw.deployments").fetchall()
    assert got == [(datetime(2024, 1, 2, 10),)]


def test_memberships_out_of_range_values_overlaps_and_zero_builders(con, landing):
    m = "memberships/m.csv"
    write(landing / m, MEMBER_HEADER + "\n"
          "ann,t1,builder,2024-01-01,,0,100000\n"                  # 1 fte 0
          "ann,t1,builder,2024-01-01,,1.5,100000\n"                # 2 fte above 1
          "bob,t1,builder,2024-01-01,,1,-5\n"                      # 3 negative cost
          "cat,t1,builder,2024-01-01,2024-03-01,1,100000\n"        # 4 ok
          "cat,t1,builder,2024-02-01,2024-04-01,1,100000\n"        # 5 overlaps 4
          "cat,t1,builder,2024-03-01,,1,100000\n"                  # 6 starts where 4 ends; overlaps 5
          "cat,t2,builder,2024-02-01,,0.5,100000\n"                # 7 another team: fine
          "dan,t1,builder,2024-01-01,,1,100000\n"                  # 8 open spell
          "dan,t1,manager,2024-06-01,2024-07-01,1,100000\n"        # 9 inside 8 (role changes need 8 closed)
          "eve,t2,manager,2024-01-01,,1,150000\n")                 # 10 t2 has no builder at all
    res = load(con, landing, "memberships", None)
    assert (res.rows_read, res.rows_loaded, res.rows_quarantined) == (10, 4, 6)
    q = quarantined(con, "memberships")
    assert q[(m, 1)] == ("fte", "fte: below or equal to 0")
    assert q[(m, 2)] == ("fte", "fte: above 1")
    assert q[(m, 3)] == ("annual_loaded_cost_usd", "annual_loaded_cost_usd: below 0")
    overlap = "start_date: overlaps an earlier-starting spell of the same developer in the same team"
    assert q[(m, 5)] == ("start_date", f"{overlap} ({m}:4, ends 2024-03-01)")
    assert q[(m, 6)] == ("start_date", f"{overlap} ({m}:5, ends 2024-04-01)")
    assert q[(m, 9)] == ("start_date", f"{overlap} ({m}:8, no end date)")
    assert [r[1] for r in loaded(con, "memberships", "team_id")] == [4, 7, 8, 10]
    # A team-week without builders is a panel matter (builder FTE 0): the loader loads such rows as they are.
    assert con.execute("SELECT role FROM raw.memberships WHERE team_id = 't2' AND fte = 1").fetchall() == [
        ("manager",)]


# --- JSON Lines -------------------------------------------------------------------------------------------

def _dep_json(i: int, **over) -> str:
    row = {"deployment_id": f"j{i}", "team_id": "t1", "service": "api", "environment": "production",
           "started_at": "2024-01-02T10:00:00Z", "finished_at": None, "status": "succeeded", "is_rollback": False,
           "manual_interventions": 0, "pr_ids": [f"t1#{i}"]}
    row.update(over)
    return json.dumps(row, ensure_ascii=False)


def test_jsonl_truncated_last_line_bad_lines_and_bytes(con, landing):
    f = "deployments/a.jsonl"
    content = ("\ufeff" + _dep_json(1) + "\r\n"            # line 1 ok (byte-order mark, CRLF)
               + "\n"                                        # line 2 blank: not a record
               + "[1, 2]\n"                                  # line 3 not an object
               + "{\"deployment_id\": \"j4\",, }\n"          # line 4 not JSON
               + _dep_json(5) + "\n").encode()               # line 5 ok
    content += _dep_json(6, service="caf\xe9").encode("latin-1") + b"\n"   # line 6 not UTF-8
    content += _dep_json(7)[:40].encode()                    # line 7 cut off: no newline at the end
    write(landing / f, content)
    res = load(con, landing, "deployments")
    assert (res.rows_read, res.rows_loaded, res.rows_quarantined) == (6, 2, 4)
    assert loaded(con, "deployments", "deployment_id") == [("j1", 1), ("j5", 5)]
    q = quarantined(con, "deployments")
    assert q[(f, 3)] == (None, "not a JSON object (JSON Lines hold one object per line)")
    assert q[(f, 4)] == (None, "not valid JSON")
    assert q[(f, 6)] == ("service", "service: not valid UTF-8 (save the file as UTF-8)")
    assert q[(f, 7)] == (None, "not valid JSON: the last line is cut off (no newline at the end)")
    assert con.execute("SELECT pr_id FROM raw.deployment_pull_requests ORDER BY 1").fetchall() == [
        ("t1#1",), ("t1#5",)]


def test_jsonl_missing_key_and_wrong_types(con, landing):
    f = "deployments/a.jsonl"
    rows = [_dep_json(1, manual_interventions="none"), _dep_json(2, is_rollback="nope"),
            _dep_json(3, started_at=1704189600), json.dumps({"deployment_id": "j4", "team_id": "t1"})]
    write(landing / f, "\n".join(rows) + "\n")
    res = load(con, landing, "deployments")
    assert (res.rows_read, res.rows_loaded) == (4, 0)
    q = quarantined(con, "deployments")
    assert q[(f, 1)][1] == "manual_interventions: not a valid bigint"
    assert q[(f, 2)][1] == "is_rollback: not a valid boolean"
    assert q[(f, 3)][1] == "started_at: not a valid timestamp"  # epoch seconds are not a timestamp
    assert q[(f, 4)][1] == ("environment: missing value; started_at: missing value; status: missing value; "
                            "is_rollback: missing value; manual_interventions: missing value")


# --- Parquet ----------------------------------------------------------------------------------------------

def test_parquet_with_another_schema(con, landing):
    ts = pa.array([datetime(2024, 1, 2, 10)] * 2, pa.timestamp("us", tz="UTC"))
    base = {"deployment_id": ["q1", "q2"], "team_id": ["t1", "t1"], "environment": ["production"] * 2,
            "started_at": ts, "status": ["succeeded", "failed"], "is_rollback": [False, True],
            "manual_interventions": pa.array([0, 3], pa.int32())}
    (landing / "deployments").mkdir(parents=True)
    pq.write_table(pa.table({**base, "region": ["eu", "us"]}), landing / "deployments" / "extra.parquet")
    renamed = {("Status" if k == "status" else k): v for k, v in base.items()}
    renamed["deployment_id"] = ["r1", "r2"]
    pq.write_table(pa.table(renamed), landing / "deployments" / "renamed.parquet")
    epoch = {**base, "deployment_id": ["e1", "e2"], "started_at": pa.array([1704189600, 1704189600], pa.int64())}
    pq.write_table(pa.table(epoch), landing / "deployments" / "epoch.parquet")
    naive = {**base, "deployment_id": ["n1", "n2"], "started_at": pa.array([datetime(2024, 1, 3, 8)] * 2),
             "manual_interventions": pa.array([1.0, 2.5])}
    pq.write_table(pa.table(naive), landing / "deployments" / "naive.parquet")
    res = load(con, landing, "deployments")
    assert (res.rows_read, res.rows_loaded, res.rows_quarantined) == (8, 3, 5)
    assert sorted(r[0] for r in loaded(con, "deployments", "deployment_id")) == ["n1", "q1", "q2"]
    q = quarantined(con, "deployments")
    assert q[("deployments/renamed.parquet", 1)] == (
        "status", "required column(s) missing from file: status (the file has unknown column(s): Status)")
    assert q[("deployments/epoch.parquet", 2)] == ("started_at", "started_at: not a valid timestamp")
    assert q[("deployments/naive.parquet", 2)] == ("manual_interventions", "manual_interventions: not a valid bigint")
    assert res.ignored_columns == {"deployments/extra.parquet": ["region"], "deployments/renamed.parquet": ["Status"]}
    assert con.execute("SELECT started_at FROM raw.deployments WHERE deployment_id = 'n1'").fetchone() == (
        datetime(2024, 1, 3, 8),)


def test_parquet_strings_that_are_not_utf8_are_quarantined_per_row(con, landing):
    # pyarrow writes the bytes it is given; DuckDB refuses such a file outright, the loader falls back per row.
    data = b"api" + b"caf\xe9"  # row 2 is Latin-1
    offsets = pa.array([0, 3, len(data)], pa.int32()).buffers()[1]
    service = pa.Array.from_buffers(pa.string(), 2, [None, offsets, pa.py_buffer(data)])
    tbl = pa.table({"deployment_id": ["u1", "u2"], "team_id": ["t1", "t1"], "service": service,
                    "environment": ["production"] * 2, "started_at": ["2024-01-02T10:00:00Z"] * 2,
                    "status": ["succeeded"] * 2, "is_rollback": [False, False], "manual_interventions": [0, 0]})
    (landing / "deployments").mkdir(parents=True)
    pq.write_table(tbl, landing / "deployments" / "a.parquet")
    res = load(con, landing, "deployments")
    assert (res.rows_read, res.rows_loaded, res.rows_quarantined) == (2, 1, 1)
    assert quarantined(con, "deployments") == {
        ("deployments/a.parquet", 2): ("service", "service: not valid UTF-8 (save the file as UTF-8)")}


def test_unreadable_parquet_names_the_file_and_keeps_the_week(con, landing):
    write(landing / "deployments" / "a.csv", DEPLOY_HEADER + "\n" + dep(1) + "\n")
    load(con, landing, "deployments")
    write(landing / "deployments" / "b.parquet", b"PAR1 truncated upload")
    with pytest.raises(LoadError, match="deployments/b.parquet: cannot be read as Parquet"):
        load(con, landing, "deployments")
    assert loaded(con, "deployments", "deployment_id") == [("d1", 1)]


def test_unparseable_rows_leave_no_raw_identifier_behind(con, landing, tmp_path):
    write(landing / "pull_requests" / "a.csv", PR_HEADER + "\n"
          "p1,t1,alice@example.com,2024-01-02T10:00:00Z\n"             # too few fields
          'p2,t1,"alice@example.com,2024-01-02T10:00:00Z,,,,,\n')     # quote never closed
    write(landing / "pull_requests" / "b.jsonl", '{"pr_id": "p3", "author_id": "alice@example.com", "cre')
    res = load(con, landing, "pull_requests")
    assert (res.rows_read, res.rows_quarantined) == (3, 3)
    assert "alice" not in str(res.as_metadata())
    con.execute("CHECKPOINT")
    con.close()
    assert b"alice" not in (tmp_path / "t.duckdb").read_bytes()
