"""Privacy (docs/privacy.md): raw person identifiers never reach the database, no table below raw is per person,
and published outputs hide teams below the minimum number of builders while org totals keep them."""

from __future__ import annotations

import csv
import re
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from ctsw.contract import TABLES
from ctsw.ingest.load import Window, landing_files, load_table
from ctsw.ingest.pseudonym import PREFIX, load_or_create_key
from ctsw.privacy import (
    DEFAULT_MIN_TEAM_BUILDERS,
    PERSON_COLUMNS,
    min_team_builders,
    org_totals,
    publish_team_weeks,
    suppress_small_teams,
)
from ctsw.simulator import SimConfig, simulate
from ctsw.simulator.defects import inject_defects

# dbt views that carry a person's pseudonym (one row per person, membership or event); every TABLE below raw
# is per team or coarser. docs/privacy.md lists the same views.
PER_PERSON_VIEWS = {
    "staging.stg_raw__memberships", "staging.stg_raw__pull_requests", "staging.stg_raw__commits",
    "staging.stg_raw__pages", "staging.stg_raw__oncall_shifts", "staging.stg_raw__ai_tool_usage",
    "intermediate.int_memberships_split_by_week", "intermediate.int_ai_tool_usage_attributed_to_builders",
}
TEXT_TYPES = ("VARCHAR", "JSON")


# --- helpers ---------------------------------------------------------------------------------------------------


def raw_person_ids(landing: Path) -> set[str]:
    """Every person identifier in the landing CSV files (before pseudonymisation)."""
    ids: set[str] = set()
    for name, table in TABLES.items():
        cols = [c.name for c in table.columns if c.pseudonymised]
        for path in landing_files(landing, name):
            with open(path, newline="") as fh:
                for row in csv.DictReader(fh):
                    ids |= {row[c] for c in cols if row.get(c)}
    return ids


def database_text(db: Path) -> list[tuple[str, str, str]]:
    """(relation, column, value) for every text-like value of every table and view, nested types as text."""
    out = []
    with duckdb.connect(str(db), read_only=True) as con:
        rels = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE NOT internal UNION "
            "SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1, 2").fetchall()
        for schema, name in rels:
            cols = con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = ? AND "
                               "table_name = ?", [schema, name]).fetchall()
            for col, typ in cols:
                if typ.startswith(TEXT_TYPES) or typ.endswith("[]") or typ.startswith(("STRUCT", "MAP", "UNION")):
                    values = con.execute(f'SELECT DISTINCT CAST("{col}" AS VARCHAR) FROM "{schema}"."{name}" '
                                         f'WHERE "{col}" IS NOT NULL').fetchall()
                    out += [(f"{schema}.{name}", col, v) for (v,) in values]
    return out


def assert_no_raw_ids(db: Path, ids: set[str]) -> None:
    assert len(ids) > 10
    pattern = re.compile("|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True)))
    leaks = [(rel, col, v) for rel, col, v in database_text(db) if pattern.search(v)]
    assert not leaks, leaks[:10]
    for path in [db, *db.parent.glob(db.name + ".wal")]:
        data = path.read_bytes()
        found = [i for i in ids if i.encode() in data]
        assert not found, f"{path.name} holds raw identifiers {sorted(found)[:5]}"


def person_columns_outside_raw(db: Path) -> tuple[set[str], set[str]]:
    """(tables, views) outside schema raw that have a person-identifier column."""
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT c.schema_name || '.' || c.table_name, t.table_name IS NOT NULL FROM duckdb_columns() c "
            "LEFT JOIN duckdb_tables() t ON t.schema_name = c.schema_name AND t.table_name = c.table_name "
            f"WHERE c.schema_name <> 'raw' AND c.column_name IN ({', '.join(repr(p) for p in PERSON_COLUMNS)})"
        ).fetchall()
    return {r for r, is_table in rows if is_table}, {r for r, is_table in rows if not is_table}


# --- the loader alone (fast) -----------------------------------------------------------------------------------


def test_person_columns_are_the_contracts_pseudonymised_columns():
    assert PERSON_COLUMNS == ("author_id", "developer_id", "responder_id")


def test_no_raw_identifier_reaches_the_raw_layer_or_the_quarantine(tmp_path):
    landing = tmp_path / "landing"
    simulate(SimConfig(n_teams=6, n_weeks=4, seed=5, fmt="csv"), landing)
    ids = raw_person_ids(landing)
    inject_defects(landing, 0.1, seed=2)  # quarantined rows keep their values in raw.quarantine.record
    db = tmp_path / "ctsw.duckdb"
    with duckdb.connect(str(db)) as con:
        for name, table in TABLES.items():
            window = Window(datetime(2000, 1, 1), datetime(2100, 1, 1)) if table.partition_column else None
            load_table(con, name, landing_files(landing, name), window, "a-key", landing_dir=landing)
        assert con.execute("SELECT count(*) FROM raw.quarantine").fetchone()[0] > 20
        pseudonyms = con.execute("SELECT DISTINCT developer_id FROM raw.memberships").fetchall()
        con.execute("CHECKPOINT")
    assert all(p.startswith(PREFIX) and len(p) == len(PREFIX) + 16 for (p,) in pseudonyms)
    assert_no_raw_ids(db, ids)


def test_the_key_comes_from_the_environment_or_a_private_file_created_once(tmp_path, monkeypatch):
    monkeypatch.delenv("CTSW_PSEUDONYM_KEY", raising=False)
    key_file = tmp_path / "secrets" / ".pseudonym.key"
    key = load_or_create_key(key_file)
    assert len(key) == 64 and key_file.read_text() == key
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert load_or_create_key(key_file) == key  # same key, same pseudonyms across loads
    monkeypatch.setenv("CTSW_PSEUDONYM_KEY", "from-env")
    assert load_or_create_key(key_file) == "from-env"


# --- suppression of small teams in published outputs -------------------------------------------------------------


def team_weeks() -> pd.DataFrame:
    """Two orgs, two weeks. Org a: t1 (5 builders), t2 (2), t3 (4); org b: t4 (1), t5 (1), t6 (6).

    In week 2 t2 grows to 3 builders: no team of org a is small that week.
    """
    rows = []
    for week, t2_builders in (("2024-01-01", 2), ("2024-01-08", 3)):
        for team, org, builders in (("t1", "a", 5), ("t2", "a", t2_builders), ("t3", "a", 4),
                                    ("t4", "b", 1), ("t5", "b", 1), ("t6", "b", 6)):
            rows.append({"team_id": team, "org": org, "week_start": pd.Timestamp(week), "builders": builders,
                         "builder_fte": builders * 0.9, "dev_cost_usd": builders * 4000.0,
                         "prs_merged": builders * 3, "deployments": builders, "units_delivered": builders})
    return pd.DataFrame(rows)


def shown(df: pd.DataFrame) -> set[tuple[str, str]]:
    return {(t, f"{w:%Y-%m-%d}") for t, w in zip(df["team_id"], df["week_start"], strict=True)}


def test_teams_below_the_minimum_are_hidden_and_a_lone_hidden_team_takes_the_smallest_other_with_it():
    out = suppress_small_teams(team_weeks(), 3)
    # Week 1: t2 is the only small team of org a, so t3 (the smallest other) is hidden too; org b hides t4, t5.
    assert shown(out) == {("t1", "2024-01-01"), ("t6", "2024-01-01"),
                          ("t1", "2024-01-08"), ("t2", "2024-01-08"), ("t3", "2024-01-08"), ("t6", "2024-01-08")}
    assert (out["builders"] >= 3).all()
    plain = suppress_small_teams(team_weeks(), 3, secondary=False)
    assert ("t3", "2024-01-01") in shown(plain) and ("t2", "2024-01-01") not in shown(plain)
    whole = suppress_small_teams(team_weeks(), 3, whole_team=True, secondary=False)
    assert not {t for t, _ in shown(whole)} & {"t2", "t4", "t5"}


def test_org_totals_still_include_the_hidden_teams():
    df = team_weeks()
    published = publish_team_weeks(df, 3)
    totals = published.org_weeks.set_index(["org", "week_start"])
    sums = df.groupby(["org", "week_start"])[["builders", "dev_cost_usd", "prs_merged", "units_delivered"]].sum()
    pd.testing.assert_frame_equal(totals[sums.columns], sums, check_dtype=False)
    week1 = totals.loc[("b", pd.Timestamp("2024-01-01"))]
    assert week1["teams"] == 3 and week1["teams_below_minimum"] == 2 and week1["builders"] == 8
    assert week1["cts_sw_usd"] == pytest.approx(8 * 4000.0 / 8)  # ratio of sums over all three teams
    assert week1["cr_velocity"] == pytest.approx(24 / (8 * 0.9))
    assert published.hidden_team_weeks == 12 - 6
    hidden_cost = df.loc[df["builders"] < 3, "dev_cost_usd"].sum()
    assert totals["dev_cost_usd"].sum() == published.team_weeks["dev_cost_usd"].sum() + hidden_cost \
        + 4 * 4000.0  # t3 in week 1 (secondary suppression)
    assert not totals["below_minimum"].any()


def test_an_org_total_of_fewer_builders_than_the_minimum_is_flagged():
    df = team_weeks()
    df = df[df["team_id"].isin(["t4", "t5"])]
    totals = org_totals(df, 3)
    assert totals["below_minimum"].all() and (totals["builders"] == 2).all()
    assert np.isfinite(totals["cts_sw_usd"]).all()


def test_the_minimum_defaults_to_three_and_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("CTSW_MIN_TEAM_BUILDERS", raising=False)
    assert min_team_builders() == DEFAULT_MIN_TEAM_BUILDERS == 3
    monkeypatch.setenv("CTSW_MIN_TEAM_BUILDERS", "5")
    assert min_team_builders() == 5
    assert min_team_builders(2) == 2
    assert shown(suppress_small_teams(team_weeks())) == {("t1", "2024-01-01"), ("t6", "2024-01-01"),
                                                         ("t1", "2024-01-08"), ("t6", "2024-01-08")}
    for bad in ("x", "0", "-1"):
        monkeypatch.setenv("CTSW_MIN_TEAM_BUILDERS", bad)
        with pytest.raises(ValueError, match="CTSW_MIN_TEAM_BUILDERS"):
            min_team_builders()


# --- after a whole pipeline run (slow: shares the org of test_safety_writes) --------------------------------------


@pytest.fixture(scope="module")
def ran_org(tmp_path_factory):
    from test_safety_writes import base_org

    return base_org(tmp_path_factory)


@pytest.mark.slow
def test_no_raw_identifier_anywhere_in_the_database_after_a_run(ran_org):
    data = ran_org["data"]
    assert_no_raw_ids(data / "ctsw.duckdb", raw_person_ids(data / "landing"))


@pytest.mark.slow
def test_no_table_outside_raw_has_a_person_identifier_column(ran_org):
    tables, views = person_columns_outside_raw(ran_org["data"] / "ctsw.duckdb")
    assert tables == set()
    assert views == PER_PERSON_VIEWS  # a new per-person model must be a view and be listed in docs/privacy.md
    doc = (Path(__file__).parent.parent / "docs" / "privacy.md").read_text()
    for view in PER_PERSON_VIEWS:
        assert view.split(".")[1] in doc, view


@pytest.mark.slow
def test_no_raw_identifier_in_the_run_logs_or_the_dagster_instance(ran_org):
    data = ran_org["data"]
    ids = raw_person_ids(data / "landing")
    found = {}
    for path in [*(data / "dagster_home").rglob("*"), *(data / "logs").rglob("*")]:
        if path.is_file():
            content = path.read_bytes()
            hits = [i for i in ids if i.encode() in content]
            if hits:
                found[str(path.relative_to(data))] = sorted(hits)[:3]
    assert not found, found

