"""Evaluate a committed GE suite inside DuckDB, for tables too large to pull into pandas.

GE's pandas engine needs every row of the batch in memory: a backfill over a raw table at 1,000 teams x 260
weeks took 5.5 GB, at 5,000 teams it ran out of memory. Here each expectation becomes SQL over the table, so
DuckDB streams it (and spills what it must) and memory does not grow with the window:

* one scan counts, for every row-wise expectation, the rows it evaluates and the rows that fail it;
* one `GROUP BY` per uniqueness expectation counts the rows of duplicated values;
* one `ORDER BY ... LIMIT` query per failed expectation fetches its sample keys.

The JSON suite stays the source of truth: it is loaded with `ge_runner.load_suite` (GE's strict parsing), and an
expectation type or kwarg not translated here raises `UnsupportedExpectation` instead of being skipped. The
result is the `SuiteResult` the pandas path returns, with GE's pandas semantics (tests/test_quality_sql_expectations.py
checks them against `validate_dataframe` on frames with injected violations):

* nulls (and NaN in floating columns, which pandas reads as null) are skipped by every column expectation except
  not-null; `unexpected_percent` is of the evaluated rows: all rows for not-null, the non-null values for other
  column expectations, the rows `ignore_row_if` keeps for pair and compound expectations;
* uniqueness fails every row of a duplicated value (pandas `duplicated(keep=False)`); inside a compound key nulls
  equal each other, as in pandas and `GROUP BY`;
* a regex matches anywhere in the value (`re.search`; DuckDB's RE2 agrees for the patterns the suites use);
* sample keys are the first `SAMPLE_SIZE` offending rows in `order_by` order, the order the pandas path read them.

A column missing from the table fails its expectations (critical as configured, `exception` set) like GE does,
rather than failing the whole suite.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from ctsw.quality.ge_runner import SAMPLE_SIZE, FailedExpectation, SuiteResult, key_str, kwargs_summary, load_suite

# Kwargs that describe the run rather than the rule: GE accepts them on any expectation; they change nothing here.
_IGNORED_KWARGS = frozenset({"result_format", "catch_exceptions", "include_config", "batch_id"})
_FLOATS = frozenset({"FLOAT", "DOUBLE", "REAL"})


class UnsupportedExpectation(ValueError):
    """The suite holds an expectation (or kwarg) the SQL evaluator does not translate."""


@dataclass(frozen=True)
class _Check:
    evaluated: str  # SQL: the rows GE evaluates (denominator of unexpected_percent)
    unexpected: str | None  # SQL: an evaluated row that fails; None for uniqueness
    unique_over: tuple[str, ...] = ()  # uniqueness: the quoted columns whose duplicated values fail
    mostly: float = 1.0


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        raise UnsupportedExpectation(f"literal {value!r}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UnsupportedExpectation(f"literal {value!r}")
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise UnsupportedExpectation(f"literal {value!r} of type {type(value).__name__}")


def _columns(type_: str, kw: dict[str, Any]) -> list[str]:
    if type_ == "expect_compound_columns_to_be_unique":
        return list(kw["column_list"])
    if type_ == "expect_column_pair_values_a_to_be_greater_than_b":
        return [kw["column_A"], kw["column_B"]]
    return [kw["column"]]


# type -> kwargs it may carry besides the column(s) and `mostly`
_KWARGS: dict[str, frozenset[str]] = {
    "expect_column_values_to_not_be_null": frozenset(),
    "expect_column_values_to_be_unique": frozenset(),
    "expect_compound_columns_to_be_unique": frozenset({"ignore_row_if"}),
    "expect_column_values_to_be_in_set": frozenset({"value_set"}),
    "expect_column_values_to_be_between": frozenset({"min_value", "max_value", "strict_min", "strict_max"}),
    "expect_column_pair_values_a_to_be_greater_than_b": frozenset({"or_equal", "ignore_row_if"}),
    "expect_column_values_to_match_regex": frozenset({"regex"}),
}
_COLUMN_KWARGS = frozenset({"column", "column_list", "column_A", "column_B", "mostly"})


def _translate(type_: str, kw: dict[str, Any], types: dict[str, str]) -> _Check:
    """SQL for one expectation; `types` maps the table's columns to their DuckDB types."""
    if type_ not in _KWARGS:
        raise UnsupportedExpectation(f"{type_} has no SQL translation (ctsw/quality/sql_expectations.py)")
    extra = set(kw) - _KWARGS[type_] - _COLUMN_KWARGS - _IGNORED_KWARGS
    if extra:
        raise UnsupportedExpectation(f"{type_}: kwargs {sorted(extra)} have no SQL translation")

    def null(column: str) -> str:
        c = _ident(column)
        return f"({c} IS NULL OR isnan({c}))" if types[column] in _FLOATS else f"({c} IS NULL)"

    mostly = float(kw.get("mostly", 1.0))
    if type_ == "expect_column_values_to_not_be_null":
        return _Check("true", null(kw["column"]), mostly=mostly)
    if type_ == "expect_column_values_to_be_unique":
        return _Check(f"NOT {null(kw['column'])}", None, (_ident(kw["column"]),), mostly)
    if type_ == "expect_compound_columns_to_be_unique":
        cols = kw["column_list"]
        evaluated = _ignore_row_if(kw.get("ignore_row_if", "all_values_are_missing"), [null(c) for c in cols],
                                   all_="all_values_are_missing", any_="any_value_is_missing", never="never")
        return _Check(evaluated, None, tuple(_ident(c) for c in cols), mostly)
    if type_ == "expect_column_pair_values_a_to_be_greater_than_b":
        a, b = kw["column_A"], kw["column_B"]
        evaluated = _ignore_row_if(kw.get("ignore_row_if", "both_values_are_missing"), [null(a), null(b)],
                                   all_="both_values_are_missing", any_="either_value_is_missing", never="neither")
        op = ">=" if kw.get("or_equal") else ">"
        # a comparison with a null is not true: pandas counts it as unexpected too (with ignore_row_if=neither)
        return _Check(evaluated, f"({_ident(a)} {op} {_ident(b)}) IS NOT TRUE", mostly=mostly)

    c = _ident(kw["column"])
    evaluated = f"NOT {null(kw['column'])}"
    if type_ == "expect_column_values_to_be_in_set":
        values = kw["value_set"] or []
        return _Check(evaluated, f"{c} NOT IN ({', '.join(map(_literal, values))})" if values else "true",
                      mostly=mostly)
    if type_ == "expect_column_values_to_match_regex":
        return _Check(evaluated, f"NOT regexp_matches(CAST({c} AS VARCHAR), {_literal(kw['regex'])})",
                      mostly=mostly)
    # expect_column_values_to_be_between
    bounds = []
    if kw.get("min_value") is not None:
        bounds.append(f"{c} {'>' if kw.get('strict_min') else '>='} {_literal(kw['min_value'])}")
    if kw.get("max_value") is not None:
        bounds.append(f"{c} {'<' if kw.get('strict_max') else '<='} {_literal(kw['max_value'])}")
    if not bounds:
        raise UnsupportedExpectation(f"{type_} needs min_value or max_value")
    return _Check(evaluated, f"NOT ({' AND '.join(bounds)})", mostly=mostly)


def _ignore_row_if(value: str, nulls: list[str], *, all_: str, any_: str, never: str) -> str:
    if value == all_:
        return f"NOT ({' AND '.join(nulls)})"
    if value == any_:
        return f"NOT ({' OR '.join(nulls)})"
    if value == never:
        return "true"
    raise UnsupportedExpectation(f"ignore_row_if={value!r}")


def validate_table(
    con: duckdb.DuckDBPyConnection,
    table: str,
    suite_path: Path | str,
    key_columns: list[str],
    order_by: list[str],
    where: str = "true",
    params: list | None = None,
) -> SuiteResult:
    """Validate the rows of `table` (a qualified name) matching `where` (with `params`) against a JSON suite.

    `key_columns` identify offending rows in samples; `order_by` picks which come first.
    """
    params = list(params or [])
    suite = load_suite(suite_path)
    types = {name: type_ for name, type_, *_ in con.execute(f"DESCRIBE SELECT * FROM {table}").fetchall()}
    missing = [c for c in [*key_columns, *order_by] if c not in types]
    if missing or not key_columns:
        raise ValueError(f"{table}: key or order columns missing: {missing or 'no key columns'}")
    rows = f"FROM {table} WHERE ({where})"

    checks: list[tuple[Any, _Check]] = []  # (GE configuration, its SQL)
    failed: list[FailedExpectation] = []
    for expectation in suite.expectations:
        config = expectation.configuration
        kw = dict(config.kwargs)
        absent = [c for c in _columns(config.type, kw) if c not in types] if config.type in _KWARGS else []
        if absent:
            failed.append(_failure(config, None, None, (), f'column "{absent[0]}" does not exist in {table}'))
            continue
        checks.append((config, _translate(config.type, kw, types)))

    # One scan for the row count and every row-wise expectation's evaluated and unexpected counts.
    aggregates = ["count(*)"]
    for _, check in checks:
        aggregates.append(f"count(*) FILTER (WHERE {check.evaluated})")
        if check.unexpected is not None:
            aggregates.append(f"count(*) FILTER (WHERE ({check.evaluated}) AND ({check.unexpected}))")
    counts = iter(con.execute(f"SELECT {', '.join(aggregates)} {rows}", params).fetchone())
    row_count = next(counts)

    select_keys = ", ".join(_ident(c) for c in key_columns)
    order = ", ".join(_ident(c) for c in order_by)
    for config, check in checks:
        evaluated = next(counts)
        if check.unexpected is not None:
            unexpected = next(counts)
            sample_sql = f"SELECT {select_keys} {rows} AND ({check.evaluated}) AND ({check.unexpected})"
            sample_params = params
        else:
            groups = ", ".join(check.unique_over)
            duplicated = f"{rows} AND ({check.evaluated}) GROUP BY {groups} HAVING count(*) > 1"
            unexpected = con.execute(f"SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n {duplicated})",
                                     params).fetchone()[0]
            # IS NOT DISTINCT FROM: null parts of a compound key equal each other, as in GROUP BY
            on = " AND ".join(f"r.{c} IS NOT DISTINCT FROM d.{c}" for c in check.unique_over)
            sample_sql = (f"SELECT {select_keys} FROM (SELECT * {rows} AND ({check.evaluated})) r "
                          f"SEMI JOIN (SELECT {groups} {duplicated}) d ON {on}")
            sample_params = params * 2
        if not unexpected or (evaluated and (evaluated - unexpected) / evaluated >= check.mostly):
            continue
        sample = con.execute(f"{sample_sql} ORDER BY {order} LIMIT {SAMPLE_SIZE}", sample_params).fetchall()
        failed.append(_failure(config, int(unexpected), unexpected / evaluated * 100,  # GE's float, to the last bit
                               tuple(tuple(key_str(v) for v in r) for r in sample), None))
    return SuiteResult.of(failed, evaluated=len(suite.expectations), suite_name=suite.name, row_count=row_count,
                          key_columns=key_columns)


def _failure(config: Any, count: int | None, percent: float | None, sample: tuple, exception: str | None
             ) -> FailedExpectation:
    return FailedExpectation(
        expectation_type=config.type,
        column=config.kwargs.get("column"),
        kwargs=kwargs_summary(config.kwargs),
        unexpected_count=count,
        unexpected_percent=percent,
        sample_keys=sample,
        severity=str(getattr(config.severity, "value", config.severity) or "critical"),
        description=config.description,
        exception=exception,
    )
