"""Great Expectations suites and the thin GE 1.x runner (`ctsw.quality.ge_runner`)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ctsw.config import EXPECTATIONS_DIR, PROJECT_ROOT
from ctsw.contract import ARCHITECTURES, DELIVERY_UNITS, TABLES
from ctsw.ingest.rules import ROW_RULES
from ctsw.quality.ge_runner import NULL_KEY, FailedExpectation, SuiteResult, load_suite, validate_dataframe
from ctsw.quality.raw_suites import build_raw_suite

PANEL_SUITE = EXPECTATIONS_DIR / "fct_team_weeks.json"
KEY = ["team_id", "week_start"]
W1, W2 = "2024-01-01", "2024-01-08"
TEAMS = ("t1", "t2", "t3", "t4")

NOT_NULL = "expect_column_values_to_not_be_null"
IS_NULL = "expect_column_values_to_be_null"
BETWEEN = "expect_column_values_to_be_between"
IN_SET = "expect_column_values_to_be_in_set"
PAIR = "expect_column_pair_values_a_to_be_greater_than_b"
COMPOUND_UNIQUE = "expect_compound_columns_to_be_unique"
UNIQUE = "expect_column_values_to_be_unique"


# --- helpers -------------------------------------------------------------------------------------------------


def panel_columns() -> list[str]:
    """Column names of marts.fct_team_weeks from the table in docs/panel.md."""
    cols: list[str] = []
    in_table = False
    for line in (PROJECT_ROOT / "docs" / "panel.md").read_text().splitlines():
        if line.replace(" ", "") == "|column|definition|":
            in_table = True
            continue
        if in_table:
            if not line.startswith("|"):
                break
            cell = line.split("|")[1].strip()
            if set(cell) <= {"-"}:
                continue
            cols += [c.strip() for c in cell.split(",")]
    return cols


def clean_panel() -> pd.DataFrame:
    """8 rows (4 teams x 2 weeks) that satisfy every panel expectation.

    t1..t3 are service teams shipping deployments; t4 is a trunk team that shipped no commit (units 0, CTS-SW
    null) and had no deployment attempt (rates null). Row order: t1/W1, t1/W2, t2/W1, ..., t4/W2.
    """
    rows = []
    for team in TEAMS:
        for week in (W1, W2):
            trunk = team == "t4"
            attempts, deployments, rollbacks = (0, 0, 0) if trunk else (4, 3, 1)
            units = 0 if trunk else deployments
            cost = 8000.0
            rows.append({
                "team_id": team, "week_start": pd.Timestamp(week), "org": "org_a",
                "architecture": "trunk" if trunk else "service",
                "delivery_unit": "commit" if trunk else "deployment",
                "builder_fte": 2.5, "builders": 3, "headcount": 4, "dev_cost_usd": cost,
                "prs_merged": 5, "cr_velocity": 2.0,
                "deployment_attempts": attempts, "deployments": deployments, "deploy_velocity": deployments / 2.5,
                "rollbacks": rollbacks, "rollback_rate": rollbacks / attempts if attempts else np.nan,
                "manual_interventions": 2, "interventions_per_deploy": 2 / attempts if attempts else np.nan,
                "pages": 2, "oncall_builders": 1, "pages_per_oncall_builder": 2.0,
                "ai_active_builders": 2, "ai_usage_share": 2 / 3,
                "prs_shipped": 4, "commits_shipped": 0, "units_delivered": units,
                "cts_sw_usd": cost / units if units else np.nan,
                "dora_deployment_frequency": deployments, "dora_lead_time_hours": 20.0,
                "dora_change_failure_rate": (attempts - deployments) / attempts if attempts else np.nan,
                "dora_time_to_restore_hours": 1.5,
            })
    return pd.DataFrame(rows)


def ident(f: FailedExpectation) -> str:
    """A failed expectation's columns: `col`, `A>=B` for a pair, `a,b` for a column list."""
    if f.column is not None:
        return f.column
    if "column_A" in f.kwargs:
        return f"{f.kwargs['column_A']}>={f.kwargs['column_B']}"
    return ",".join(f.kwargs.get("column_list", []))


def summary(result: SuiteResult) -> set[tuple]:
    return {
        (f.expectation_type, ident(f), f.unexpected_count, f.sample_keys, f.severity) for f in result.failed
    }


def set_value(row: int, column: str, value):
    def mutate(df: pd.DataFrame) -> None:
        df.loc[row, column] = value

    return mutate


def run(df: pd.DataFrame) -> SuiteResult:
    return validate_dataframe(df, PANEL_SUITE, KEY)


def suite_json(path: Path) -> dict:
    return json.loads(path.read_text())


def referenced_columns(exp: dict) -> set[str]:
    kw = exp["kwargs"]
    cols = {kw[k] for k in ("column", "column_A", "column_B") if k in kw}
    cols |= set(kw.get("column_list", []))
    cond = kw.get("row_condition")
    if isinstance(cond, dict):
        cols.add(cond["column"]["name"])
    return cols


# --- the panel suite -----------------------------------------------------------------------------------------


def test_clean_panel_passes():
    result = run(clean_panel())
    assert result.success
    assert result.failed == []
    assert result.evaluated == len(suite_json(PANEL_SUITE)["expectations"])
    assert result.row_count == 8


def test_clean_frame_has_exactly_the_documented_panel_columns():
    assert sorted(clean_panel().columns) == sorted(panel_columns())


def k(team: str, week: str) -> tuple[str, str]:
    return (team, week)


CASES = {
    "team_id null": (set_value(2, "team_id", None), {(NOT_NULL, "team_id", 1, (k(NULL_KEY, W1),))}),
    "week_start null": (set_value(3, "week_start", pd.NaT), {(NOT_NULL, "week_start", 1, (k("t2", NULL_KEY),))}),
    "duplicate key": (
        set_value(1, "week_start", pd.Timestamp(W1)),
        {(COMPOUND_UNIQUE, "team_id,week_start", 2, (k("t1", W1), k("t1", W1)))},
    ),
    "org null": (set_value(5, "org", None), {(NOT_NULL, "org", 1, (k("t3", W2),))}),
    "architecture unknown": (
        set_value(0, "architecture", "microservices"), {(IN_SET, "architecture", 1, (k("t1", W1),))}
    ),
    "architecture null": (set_value(0, "architecture", None), {(NOT_NULL, "architecture", 1, (k("t1", W1),))}),
    "delivery_unit unknown": (
        set_value(6, "delivery_unit", "release"), {(IN_SET, "delivery_unit", 1, (k("t4", W1),))}
    ),
    "delivery_unit null": (
        set_value(6, "delivery_unit", None), {(NOT_NULL, "delivery_unit", 1, (k("t4", W1),))}
    ),
    "builder_fte negative": (set_value(1, "builder_fte", -0.5), {(BETWEEN, "builder_fte", 1, (k("t1", W2),))}),
    "builders negative": (set_value(1, "builders", -1), {(BETWEEN, "builders", 1, (k("t1", W2),))}),
    "headcount below builders": (
        set_value(4, "headcount", 2), {(PAIR, "headcount>=builders", 1, (k("t3", W1),))}
    ),
    "ai_usage_share above 1": (
        set_value(0, "ai_usage_share", 1.5), {(BETWEEN, "ai_usage_share", 1, (k("t1", W1),))}
    ),
    "rollback_rate negative": (
        set_value(2, "rollback_rate", -0.1), {(BETWEEN, "rollback_rate", 1, (k("t2", W1),))}
    ),
    "dora_change_failure_rate above 1": (
        set_value(3, "dora_change_failure_rate", 1.01), {(BETWEEN, "dora_change_failure_rate", 1, (k("t2", W2),))}
    ),
    **{
        f"{col} negative": (set_value(0, col, -1), {(BETWEEN, col, 1, (k("t1", W1),))})
        for col in ("prs_merged", "deployments", "rollbacks", "pages", "oncall_builders", "manual_interventions",
                    "ai_active_builders", "prs_shipped", "commits_shipped")
    },
    "deployment_attempts negative": (
        set_value(0, "deployment_attempts", -1),
        {
            (BETWEEN, "deployment_attempts", 1, (k("t1", W1),)),
            (PAIR, "deployment_attempts>=deployments", 1, (k("t1", W1),)),
            (PAIR, "deployment_attempts>=rollbacks", 1, (k("t1", W1),)),
        },
    ),
    "deployments above attempts": (
        set_value(2, "deployments", 5), {(PAIR, "deployment_attempts>=deployments", 1, (k("t2", W1),))}
    ),
    "rollbacks above attempts": (
        set_value(5, "rollbacks", 5), {(PAIR, "deployment_attempts>=rollbacks", 1, (k("t3", W2),))}
    ),
    "dev_cost_usd negative": (set_value(0, "dev_cost_usd", -1.0), {(BETWEEN, "dev_cost_usd", 1, (k("t1", W1),))}),
    "dev_cost_usd null": (set_value(0, "dev_cost_usd", np.nan), {(NOT_NULL, "dev_cost_usd", 1, (k("t1", W1),))}),
    "units_delivered null": (
        set_value(0, "units_delivered", np.nan), {(NOT_NULL, "units_delivered", 1, (k("t1", W1),))}
    ),
    "units_delivered negative": (
        # -1 units with a CTS-SW: the count check fires; the null/not-null pair only looks at 0 and > 0.
        set_value(0, "units_delivered", -1), {(BETWEEN, "units_delivered", 1, (k("t1", W1),))}
    ),
    "cts_sw_usd negative": (set_value(1, "cts_sw_usd", -5.0), {(BETWEEN, "cts_sw_usd", 1, (k("t1", W2),))}),
    "cts_sw_usd infinite": (set_value(2, "cts_sw_usd", math.inf), {(BETWEEN, "cts_sw_usd", 1, (k("t2", W1),))}),
    "cts_sw_usd defined without units": (
        set_value(7, "cts_sw_usd", 100.0), {(IS_NULL, "cts_sw_usd", 1, (k("t4", W2),))}
    ),
    "cts_sw_usd null with units": (
        set_value(0, "cts_sw_usd", np.nan), {(NOT_NULL, "cts_sw_usd", 1, (k("t1", W1),))}
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_each_violation_fails_exactly_its_expectations(case):
    mutate, expected = CASES[case]
    df = clean_panel()
    mutate(df)
    result = run(df)
    assert summary(result) == {(*e[:4], "critical") for e in expected}
    assert not result.success
    assert all(f.exception is None for f in result.failed)


@pytest.mark.parametrize("column", ["cr_velocity", "deploy_velocity"])
def test_implausible_velocity_only_warns(column):
    df = clean_panel()
    df.loc[[0, 5], column] = [60.0, 51.0]
    result = run(df)
    assert summary(result) == {(BETWEEN, column, 2, (k("t1", W1), k("t3", W2)), "warning")}
    assert result.success  # warning-severity failures do not fail the suite
    assert result.errors == [] and len(result.warnings) == 1


def test_warnings_do_not_mask_errors():
    df = clean_panel()
    df.loc[0, "cr_velocity"] = 99.0
    df.loc[0, "rollback_rate"] = 2.0
    result = run(df)
    assert not result.success
    assert [(f.severity, f.column) for f in result.failed] == [
        ("critical", "rollback_rate"),
        ("warning", "cr_velocity"),
    ]


def test_counts_percentages_and_sample_size():
    df = clean_panel()
    df["prs_merged"] = -1
    df.loc[2, "rollback_rate"] = 3.0
    result = run(df)
    by_col = {f.column: f for f in result.failed}
    assert set(by_col) == {"prs_merged", "rollback_rate"}
    prs = by_col["prs_merged"]
    assert prs.unexpected_count == 8 and prs.unexpected_percent == pytest.approx(100.0)
    assert prs.sample_keys == (k("t1", W1), k("t1", W2), k("t2", W1), k("t2", W2), k("t3", W1))  # first 5
    rate = by_col["rollback_rate"]
    # GE's percentage is of the non-null values: t4's two rows have no rate.
    assert rate.unexpected_count == 1 and rate.unexpected_percent == pytest.approx(100 / 6)
    assert rate.kwargs == {"min_value": 0.0, "max_value": 1.0}


@pytest.mark.parametrize(
    "reindex",
    [
        pytest.param(lambda df: df.iloc[::-1], id="reversed"),
        pytest.param(lambda df: df.set_index(pd.Index(range(100, 108), name="rowid")), id="named-index"),
        pytest.param(lambda df: df.set_index(pd.Index([0] * 8)), id="duplicate-labels"),
        pytest.param(lambda df: df.set_index(KEY, drop=False), id="key-multiindex"),
    ],
)
def test_sample_keys_do_not_depend_on_the_index(reindex):
    df = clean_panel()
    df.loc[[2, 7], "headcount"] = 1
    df = reindex(df)
    result = run(df)
    [failed] = result.failed
    assert ident(failed) == "headcount>=builders"
    assert sorted(failed.sample_keys) == [k("t2", W1), k("t4", W2)]


def test_string_and_date_keys_render_as_text():
    df = clean_panel()
    df["week_start"] = df["week_start"].dt.date  # object dtype of datetime.date
    df.loc[0, "pages"] = -3
    [failed] = run(df).failed
    assert failed.sample_keys == (("t1", W1),)


def test_missing_column_is_a_critical_failure_not_a_crash():
    result = run(clean_panel().drop(columns=["pages"]))
    assert not result.success
    [failed] = result.failed
    assert (failed.expectation_type, failed.column, failed.severity) == (BETWEEN, "pages", "critical")
    assert failed.unexpected_count is None and "pages" in (failed.exception or "")


def test_missing_key_column_raises():
    with pytest.raises(ValueError, match="key columns missing"):
        validate_dataframe(clean_panel(), PANEL_SUITE, ["team_id", "week"])


def test_metadata_is_json_serialisable():
    df = clean_panel()
    df.loc[0, "cr_velocity"] = 99.0
    df.loc[1, "team_id"] = None
    meta = run(df).to_metadata()
    assert json.loads(json.dumps(meta, allow_nan=False)) == meta
    assert meta["success"] is False
    assert (meta["failed"], meta["failed_critical"], meta["failed_warning"]) == (2, 1, 1)
    assert meta["failures"][0]["sample_keys"] == [[NULL_KEY, W2]]
    [cts] = [e for e in suite_json(PANEL_SUITE)["expectations"] if e["type"] == IS_NULL]
    df = clean_panel()
    df.loc[6, "cts_sw_usd"] = 1.0
    [failed] = run(df).to_metadata()["failures"]
    assert failed["kwargs"]["row_condition"] == "units_delivered == 0"
    assert failed["description"] == cts["description"]


def test_validation_is_quiet_and_writes_nothing(tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    df = clean_panel()
    df.loc[0, "pages"] = -1
    run(df)
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # no progress bars
    assert list(tmp_path.iterdir()) == []  # no great_expectations/ folder or gx/ project


def test_empty_frame_passes():
    df = clean_panel().iloc[0:0]
    result = run(df)
    assert result.success and result.row_count == 0


# --- suites as committed JSON ----------------------------------------------------------------------------------


def all_suite_paths() -> list[Path]:
    return sorted(EXPECTATIONS_DIR.glob("*.json"))


@pytest.mark.parametrize("path", all_suite_paths(), ids=lambda p: p.name)
def test_suite_loads_strictly_and_is_well_formed(path):
    raw = suite_json(path)
    suite = load_suite(path)
    assert suite.name == path.stem == raw["name"]
    assert len(suite.expectations) == len(raw["expectations"])  # nothing silently dropped
    for exp in raw["expectations"]:
        assert set(exp) <= {"type", "kwargs", "meta", "severity", "description"}
        assert exp["severity"] in {"critical", "warning", "info"}
        assert exp["description"]


def test_panel_suite_references_only_documented_columns():
    documented = set(panel_columns())
    raw = suite_json(PANEL_SUITE)
    used = set().union(*(referenced_columns(e) for e in raw["expectations"]))
    assert used <= documented, used - documented
    assert raw["meta"]["key"] == KEY


def test_panel_suite_accepted_values_match_the_contract():
    sets = {e["kwargs"]["column"]: e["kwargs"]["value_set"] for e in suite_json(PANEL_SUITE)["expectations"]
            if e["type"] == IN_SET}
    assert sets == {"architecture": list(ARCHITECTURES), "delivery_unit": list(DELIVERY_UNITS)}


def test_panel_suite_severities():
    warn = {e["kwargs"]["column"] for e in suite_json(PANEL_SUITE)["expectations"] if e["severity"] != "critical"}
    assert warn == {"cr_velocity", "deploy_velocity"}


def test_one_raw_suite_per_contract_table():
    assert {p.stem for p in EXPECTATIONS_DIR.glob("raw_*.json")} == {f"raw_{t}" for t in TABLES}


@pytest.mark.parametrize("table", list(TABLES))
def test_raw_suite_is_consistent_with_the_contract(table):
    t = TABLES[table]
    raw = suite_json(EXPECTATIONS_DIR / f"raw_{table}.json")
    exps = raw["expectations"]
    assert raw["meta"]["key"] == list(t.key)
    for e in exps:
        assert referenced_columns(e) <= set(t.column_names), e
    by_type: dict[str, list[dict]] = {}
    for e in exps:
        by_type.setdefault(e["type"], []).append(e["kwargs"])
    # every accepted-values list equals the contract's (same values, same order)
    assert {kw["column"]: kw["value_set"] for kw in by_type.get(IN_SET, [])} == {
        c.name: list(c.accepted) for c in t.columns if c.accepted
    }
    # required columns are exactly the not-null checks
    assert sorted(kw["column"] for kw in by_type.get(NOT_NULL, [])) == sorted(c.name for c in t.columns if c.required)
    # the key is unique
    if len(t.key) == 1:
        assert by_type[UNIQUE] == [{"column": t.key[0]}]
    else:
        assert by_type[COMPOUND_UNIQUE] == [{"column_list": list(t.key)}]
    # numeric ranges equal the contract's
    bounds = {
        kw["column"]: (kw.get("min_value"), kw.get("max_value"), kw.get("strict_min", False))
        for kw in by_type.get(BETWEEN, [])
    }
    assert bounds == {
        c.name: (c.min, c.max, c.min_exclusive) for c in t.columns if c.min is not None or c.max is not None
    }
    # every cross-field rule of the loader has an ordering expectation on the same field
    pairs = {(kw["column_A"], kw["column_B"]) for kw in by_type.get(PAIR, [])}
    for field, _, _ in ROW_RULES.get(table, []):
        assert any(field in p for p in pairs), (table, field)
    assert all(kw["ignore_row_if"] == "either_value_is_missing" for kw in by_type.get(PAIR, []))


@pytest.mark.parametrize("table", list(TABLES))
def test_raw_suite_still_matches_its_generator_semantics(table):
    """The generator (run once) and the committed file agree on the contract-derived checks."""
    def checks(suite: dict) -> set[tuple[str, str]]:
        return {(e["type"], json.dumps(e["kwargs"], sort_keys=True)) for e in suite["expectations"]}

    generated = checks(build_raw_suite(TABLES[table]))
    committed = checks(suite_json(EXPECTATIONS_DIR / f"raw_{table}.json"))
    assert generated <= committed, generated - committed


def raw_memberships() -> pd.DataFrame:
    return pd.DataFrame({
        "developer_id": ["d1", "d2", "d1"],
        "team_id": ["t1", "t1", "t2"],
        "role": ["builder", "manager", "builder"],
        "start_date": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-03-01"]),
        "end_date": pd.to_datetime(["2024-03-01", None, None]),
        "fte": [1.0, 0.5, 1.0],
        "annual_loaded_cost_usd": [150000.0, 180000.0, 150000.0],
    })


def test_raw_memberships_clean_and_dirty():
    mk = ["developer_id", "team_id", "start_date"]
    path = EXPECTATIONS_DIR / "raw_memberships.json"
    assert validate_dataframe(raw_memberships(), path, mk).success
    df = raw_memberships()
    df.loc[0, "fte"] = 0.0  # (0, 1]: zero is out
    df.loc[1, "role"] = "contractor"
    df.loc[2, "end_date"] = pd.Timestamp("2024-03-01")  # ends on its start
    result = validate_dataframe(df, path, mk)
    assert summary(result) == {
        (BETWEEN, "fte", 1, (("d1", "t1", "2024-01-01"),), "critical"),
        (IN_SET, "role", 1, (("d2", "t1", "2024-01-01"),), "critical"),
        (PAIR, "end_date>=start_date", 1, (("d1", "t2", "2024-03-01"),), "critical"),
    }


def test_raw_pages_orderings_skip_missing_values():
    path = EXPECTATIONS_DIR / "raw_pages.json"
    t = pd.to_datetime(["2024-01-01 10:00", "2024-01-01 11:00", "2024-01-01 12:00"])
    df = pd.DataFrame({
        "page_id": ["p1", "p2", "p3"], "team_id": ["t1", "t1", "t2"], "triggered_at": t,
        "acknowledged_at": [t[0], pd.NaT, t[2] - pd.Timedelta(minutes=1)],
        "resolved_at": [t[0] + pd.Timedelta(hours=1), pd.NaT, pd.NaT],
        "severity": ["high", "low", "critical"], "responder_id": ["r1", None, "r2"],
    })
    result = validate_dataframe(df, path, ["page_id"])
    assert summary(result) == {(PAIR, "acknowledged_at>=triggered_at", 1, (("p3",),), "critical")}
