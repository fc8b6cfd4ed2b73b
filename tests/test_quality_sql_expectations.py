"""The SQL evaluator of GE suites (`ctsw.quality.sql_expectations`) against GE's own pandas evaluation.

GE is the reference: each case loads a small table with injected violations into DuckDB, reads it back with
`.df()` (as the pandas path read raw tables) and asserts both paths report the same result, down to counts,
percentages and sample keys.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from ctsw.config import EXPECTATIONS_DIR
from ctsw.contract import TABLES
from ctsw.quality.ge_runner import validate_dataframe
from ctsw.quality.raw_checks import LINEAGE_KEY, sample_key_columns
from ctsw.quality.sql_expectations import UnsupportedExpectation, validate_table

# Row r=0 is clean; the others carry nulls, NaN, duplicates, out-of-range values, bad orderings.
ROWS = """
CREATE TABLE t (r INTEGER, k VARCHAR, k2 VARCHAR, n DOUBLE, i BIGINT, s VARCHAR, a TIMESTAMP, b TIMESTAMP,
                d1 DATE, d2 DATE);
INSERT INTO t VALUES
 (0, 'a', 'x', 1.0, 3, 'ok', '2024-01-02 10:00', '2024-01-01 10:00', '2024-01-02', '2024-01-01'),
 (1, 'b', 'y', -1.0, -2, 'bad', NULL, '2024-01-01 10:00', '2024-01-01', '2024-01-01'),
 (2, 'b', 'y', NULL, NULL, NULL, '2024-01-01 00:00', '2024-01-02 00:00', NULL, '2024-01-01'),
 (3, NULL, NULL, 'NaN', 7, 'ok', '2024-01-05 00:00', NULL, NULL, NULL),
 (4, 'c', NULL, 2.0, 5, 'ok', '2024-01-01 00:00', '2024-01-01 00:00', '2024-01-03', '2024-01-05'),
 (5, 'c', NULL, -3.0, 0, 'x', '2024-01-01 00:00', '2024-01-03 00:00', '2024-01-03', '2024-01-03'),
 (6, 'd', 'z', 0.0, 10, 'ok', NULL, NULL, '2024-01-04', NULL),
 (7, NULL, NULL, 10.0, 1, 'OK', '2024-01-01 00:00', '2024-01-01 00:00', '2024-01-09', '2024-01-08'),
 (8, 'e', 'z', 1.0, 4, 'ok', '2024-01-01 00:00', '2024-01-01 00:00', '2024-01-09', '2024-01-08');
"""
PAIR = "expect_column_pair_values_a_to_be_greater_than_b"
BETWEEN = "expect_column_values_to_be_between"

CASES = {
    "not_null": ("expect_column_values_to_not_be_null", {"column": "k"}),
    "not_null_nan": ("expect_column_values_to_not_be_null", {"column": "n"}),
    "not_null_mostly": ("expect_column_values_to_not_be_null", {"column": "k", "mostly": 0.7}),
    "unique": ("expect_column_values_to_be_unique", {"column": "k"}),
    "unique_float": ("expect_column_values_to_be_unique", {"column": "n"}),
    "compound_unique": ("expect_compound_columns_to_be_unique", {"column_list": ["k", "k2"]}),
    "compound_unique_any_missing": ("expect_compound_columns_to_be_unique",
                                    {"column_list": ["k", "k2"], "ignore_row_if": "any_value_is_missing"}),
    "compound_unique_never": ("expect_compound_columns_to_be_unique",
                              {"column_list": ["k", "k2"], "ignore_row_if": "never"}),
    "in_set": ("expect_column_values_to_be_in_set", {"column": "s", "value_set": ["ok", "x"]}),
    "in_set_mostly": ("expect_column_values_to_be_in_set", {"column": "s", "value_set": ["ok"], "mostly": 0.6}),
    "between_min": (BETWEEN, {"column": "n", "min_value": 0}),
    "between_strict_min_max": (BETWEEN, {"column": "n", "min_value": 0, "strict_min": True, "max_value": 5}),
    "between_max_strict": (BETWEEN, {"column": "i", "max_value": 5, "strict_max": True}),
    "between_int": (BETWEEN, {"column": "i", "min_value": 0, "max_value": 7}),
    "pair_or_equal_either_missing": (PAIR, {"column_A": "a", "column_B": "b", "or_equal": True,
                                            "ignore_row_if": "either_value_is_missing"}),
    "pair_strict_dates_either_missing": (PAIR, {"column_A": "d1", "column_B": "d2", "or_equal": False,
                                                "ignore_row_if": "either_value_is_missing"}),
    "pair_default_both_missing": (PAIR, {"column_A": "a", "column_B": "b"}),
    "pair_neither": (PAIR, {"column_A": "d1", "column_B": "d2", "or_equal": True, "ignore_row_if": "neither"}),
    "regex": ("expect_column_values_to_match_regex", {"column": "s", "regex": r"^[a-z]+$"}),
    "regex_anywhere": ("expect_column_values_to_match_regex", {"column": "s", "regex": "k"}),
}


def write_suite(tmp_path: Path, expectations: list[tuple[str, dict]], severity: str = "critical") -> Path:
    path = tmp_path / "suite.json"
    path.write_text(json.dumps({"name": "suite", "meta": {}, "expectations": [
        {"type": t, "kwargs": kw, "meta": {}, "severity": severity, "description": t} for t, kw in expectations
    ]}))
    return path


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute(ROWS)
    yield c
    c.close()


def both(con, path: Path, key_columns=("k", "r")):
    ge = validate_dataframe(con.execute("SELECT * FROM t ORDER BY r").df(), path, key_columns=list(key_columns))
    sql = validate_table(con, "t", path, key_columns=list(key_columns), order_by=["r"])
    return ge, sql


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_expectation_type_agrees_with_ge(con, tmp_path, case):
    ge, sql = both(con, write_suite(tmp_path, [CASES[case]]))
    assert sql.to_metadata() == ge.to_metadata()


def test_a_suite_of_every_case_agrees_with_ge_with_warnings(con, tmp_path):
    cases = list(CASES.values())
    ge, sql = both(con, write_suite(tmp_path, cases, severity="warning"))
    assert sql.success and ge.success
    assert sql.to_metadata() == ge.to_metadata()
    assert len(sql.failed) > len(cases) // 2  # the fixture does break most of them


def test_where_restricts_the_rows(con, tmp_path):
    path = write_suite(tmp_path, [CASES["not_null"], CASES["between_min"]])
    result = validate_table(con, "t", path, key_columns=["r"], order_by=["r"], where="r < ?", params=[1])
    assert result.success and result.row_count == 1


def test_sample_keys_are_the_first_offending_rows_in_order(con, tmp_path):
    con.execute("INSERT INTO t (r, k) SELECT 100 + g, NULL FROM range(10) AS x(g)")
    (failure,) = validate_table(con, "t", write_suite(tmp_path, [CASES["not_null"]]), ["r"], ["r"]).failed
    assert failure.unexpected_count == 12
    assert failure.sample_keys == (("3",), ("7",), ("100",), ("101",), ("102",))


@pytest.mark.parametrize("expectation", [
    ("expect_column_values_to_be_null", {"column": "k"}),  # a valid GE type without an SQL translation
    pytest.param(("expect_column_values_to_not_be_null",
                  {"column": "k", "row_condition": "r>0", "condition_parser": "pandas"}),
                 marks=pytest.mark.filterwarnings("ignore:.*deprecated as of GX Core 1.9:DeprecationWarning")),
])
def test_an_expectation_without_translation_raises(con, tmp_path, expectation):
    with pytest.raises(UnsupportedExpectation):
        validate_table(con, "t", write_suite(tmp_path, [expectation]), ["r"], ["r"])


def test_a_missing_column_fails_its_expectation_not_the_suite(con, tmp_path):
    path = write_suite(tmp_path, [("expect_column_values_to_not_be_null", {"column": "nope"}), CASES["not_null"]])
    result = validate_table(con, "t", path, ["r"], ["r"])
    assert not result.success and result.evaluated == 2
    missing = next(f for f in result.failed if f.column == "nope")
    assert missing.exception and missing.unexpected_count is None and missing.is_error


def test_missing_key_column_raises(con, tmp_path):
    with pytest.raises(ValueError, match="missing"):
        validate_table(con, "t", write_suite(tmp_path, [CASES["not_null"]]), ["nope"], ["r"])


@pytest.mark.parametrize("table", sorted(TABLES))
def test_every_committed_raw_suite_translates_and_passes_an_empty_table(table):
    t = TABLES[table]
    c = duckdb.connect()
    cols = ", ".join(f"{col.name} {col.type}" for col in t.columns)
    c.execute(f"CREATE TABLE {table} ({cols}, {LINEAGE_KEY[0]} VARCHAR, {LINEAGE_KEY[1]} BIGINT)")
    result = validate_table(c, table, EXPECTATIONS_DIR / f"raw_{table}.json", sample_key_columns(t),
                            list(LINEAGE_KEY))
    assert result.success and result.evaluated == len(json.loads(
        (EXPECTATIONS_DIR / f"raw_{table}.json").read_text())["expectations"])
