"""A thin layer over the Great Expectations 1.x API: validate a pandas DataFrame against a committed JSON suite.

The official Dagster integration (dagster-ge) is pinned to GE < 1, so the orchestration calls
`validate_dataframe` and turns `SuiteResult.to_metadata()` into asset-check metadata. This pandas path is for
the panel (small); the raw tables' suites run inside DuckDB (`sql_expectations`) with the same `SuiteResult`.

* Suites are the JSON GE 1.x serialises a suite to (`{"name", "expectations": [{"type", "kwargs", "meta",
  "severity", "description"}], "meta"}`) and are loaded strictly: an unknown expectation type or a bad
  kwarg raises instead of being dropped (GE's own `ExpectationSuite(...)` only logs and skips it).
* Severity is GE's native per-expectation field (`critical` | `warning` | `info`; default `critical`).
  `SuiteResult.success` is False only when a `critical` expectation fails (or raises); failing `warning` and
  `info` expectations are reported in `failed` but do not fail the suite.
* GE runs in an ephemeral Data Context: nothing is written to disk, progress bars are off and analytics are
  disabled (`GX_ANALYTICS_ENABLED=false`; GE 1.24 ships no usage-statistics client anyway).
* Sample keys: up to `SAMPLE_SIZE` offending rows per failed expectation (the first in DataFrame order),
  identified by `key_columns`, each a tuple of strings (dates as ISO text, nulls as `<null>`). GE returns the
  row labels (`partial_unexpected_index_list`); the keys are looked up here, because GE's own
  `unexpected_index_column_names` builds a dict for every offending row before keeping five (41 s instead of
  3 s on a 1.3M-row panel with 10% bad rows).
* Speed: one pass of GE's pandas engine; ~0.25 s for a 5,000-row week, ~3 s for a 1.3M-row backfill
  (35 expectations), plus ~2 s to import GE once per process.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.core.expectation_validation_result import ExpectationValidationResult

SAMPLE_SIZE = 5
CRITICAL = "critical"
WARNING = "warning"
INFO = "info"
SEVERITIES = (CRITICAL, WARNING, INFO)
NULL_KEY = "<null>"
# Kwargs that describe the run rather than the rule; left out of the kwargs summary.
_RUNTIME_KWARGS = frozenset({"batch_id", "result_format", "catch_exceptions", "include_config", "column"})


@dataclass(frozen=True)
class FailedExpectation:
    expectation_type: str
    column: str | None  # the column of a single-column expectation; None for pair/multicolumn/table ones
    kwargs: dict[str, Any]  # JSON-safe summary of the expectation's arguments (row_condition as text)
    unexpected_count: int | None  # None when GE raised or the expectation is not row-based
    unexpected_percent: float | None  # of the non-null values GE evaluated (GE's `unexpected_percent`)
    sample_keys: tuple[tuple[str, ...], ...]  # up to SAMPLE_SIZE key tuples of offending rows
    severity: str  # critical | warning | info
    description: str | None = None
    exception: str | None = None  # set when evaluating the expectation raised (e.g. a missing column)

    @property
    def is_error(self) -> bool:
        return self.severity == CRITICAL

    def to_metadata(self) -> dict[str, Any]:
        return {
            "expectation_type": self.expectation_type,
            "column": self.column,
            "kwargs": self.kwargs,
            "unexpected_count": self.unexpected_count,
            "unexpected_percent": self.unexpected_percent,
            "sample_keys": [list(k) for k in self.sample_keys],
            "severity": self.severity,
            "description": self.description,
            "exception": self.exception,
        }


@dataclass(frozen=True)
class SuiteResult:
    success: bool  # no critical expectation failed
    evaluated: int  # expectations evaluated
    failed: list[FailedExpectation]
    suite_name: str = ""
    row_count: int = 0
    key_columns: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, failed: list[FailedExpectation], evaluated: int, suite_name: str, row_count: int,
           key_columns: list[str]) -> SuiteResult:
        """The result of a suite whose failing expectations are `failed` (sorted here: errors first)."""
        failed = sorted(failed, key=lambda f: (SEVERITIES.index(f.severity), f.expectation_type, f.column or ""))
        return cls(success=not any(f.is_error for f in failed), evaluated=evaluated, failed=failed,
                   suite_name=suite_name, row_count=row_count, key_columns=tuple(key_columns))

    @property
    def errors(self) -> list[FailedExpectation]:
        return [f for f in self.failed if f.is_error]

    @property
    def warnings(self) -> list[FailedExpectation]:
        return [f for f in self.failed if not f.is_error]

    def to_metadata(self) -> dict[str, Any]:
        """A JSON-serialisable summary (for Dagster asset-check metadata)."""
        return {
            "suite": self.suite_name,
            "success": self.success,
            "row_count": self.row_count,
            "evaluated": self.evaluated,
            "failed": len(self.failed),
            "failed_critical": len(self.errors),
            "failed_warning": len(self.warnings),
            "key_columns": list(self.key_columns),
            "failures": [f.to_metadata() for f in self.failed],
        }


def _gx():
    """Import GE lazily (it takes ~2 s) with analytics off."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    return gx


def _ephemeral_context():
    """An in-memory Data Context: in-memory stores, no data-docs site (GE's default ephemeral config reserves a
    temporary directory for one), no progress bars, analytics off."""
    gx = _gx()
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
    )
    return gx.get_context(project_config=config, mode="ephemeral")


def load_suite(path: Path | str) -> ExpectationSuite:
    """Load a committed JSON suite; raises on an unknown expectation type, bad kwargs or bad severity."""
    _gx()
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    path = Path(path)
    raw = json.loads(path.read_text())
    if not isinstance(raw, dict) or not raw.get("name") or not isinstance(raw.get("expectations"), list):
        raise ValueError(f"{path}: not a GE suite (needs 'name' and a list of 'expectations')")
    expectations = []
    for i, exp in enumerate(raw["expectations"]):
        unknown = set(exp) - {"type", "kwargs", "meta", "severity", "description", "notes", "id"}
        if unknown:
            raise ValueError(f"{path}: expectation {i}: unknown keys {sorted(unknown)}")
        severity = exp.get("severity", CRITICAL)
        if severity not in SEVERITIES:
            raise ValueError(f"{path}: expectation {i}: severity {severity!r} not in {SEVERITIES}")
        try:
            config = ExpectationConfiguration(
                type=exp["type"],
                kwargs=exp.get("kwargs", {}),
                meta=exp.get("meta"),
                notes=exp.get("notes"),
                description=exp.get("description"),
                severity=severity,
            )
            expectations.append(config.to_domain_obj())
        except Exception as e:  # GE raises several unrelated types for a bad configuration
            raise ValueError(f"{path}: expectation {i} ({exp.get('type')}): {e}") from e
    return ExpectationSuite(name=raw["name"], expectations=expectations, meta=raw.get("meta"),
                            notes=raw.get("notes"))


def validate_dataframe(df: pd.DataFrame, suite_path: Path | str, key_columns: list[str]) -> SuiteResult:
    """Validate `df` against the suite at `suite_path`; `key_columns` identify offending rows in samples."""
    return validate_suite(df, load_suite(suite_path), key_columns)


def validate_suite(df: pd.DataFrame, suite: ExpectationSuite, key_columns: list[str]) -> SuiteResult:
    missing = [c for c in key_columns if c not in df.columns]
    if missing:
        raise ValueError(f"key columns missing from the DataFrame: {missing}")
    context = _ephemeral_context()
    # GE reports offending rows by index label (see the module docstring for why not by key columns). A fresh
    # unnamed RangeIndex (lazy under copy-on-write: no data copied) makes the labels unique positions whatever
    # index the caller's frame had, and keeps GE off its slow per-row path for named indexes.
    frame = df.reset_index(drop=True)
    name = f"ctsw_{uuid.uuid4().hex[:12]}"
    batch = (
        context.data_sources.add_pandas(name)
        .add_dataframe_asset(suite.name)
        .add_batch_definition_whole_dataframe("whole")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    result_format: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_SIZE}
    validation = batch.validate(suite, result_format=result_format)
    failed = [_failed_expectation(r, frame, key_columns) for r in validation.results if not r.success]
    return SuiteResult.of(failed, evaluated=int(validation.statistics["evaluated_expectations"]),
                          suite_name=suite.name, row_count=len(df), key_columns=key_columns)


def _failed_expectation(
    r: ExpectationValidationResult, frame: pd.DataFrame, key_columns: list[str]
) -> FailedExpectation:
    config = r.expectation_config
    kwargs = dict(config.kwargs)
    result = r.result or {}
    severity = getattr(config.severity, "value", config.severity) or CRITICAL
    count = result.get("unexpected_count")
    percent = result.get("unexpected_percent")
    return FailedExpectation(
        expectation_type=config.type,
        column=kwargs.get("column"),
        kwargs=kwargs_summary(kwargs),
        unexpected_count=None if count is None else int(count),
        unexpected_percent=None if percent is None else float(percent),
        sample_keys=_sample_keys(result, frame, key_columns),
        severity=str(severity),
        description=config.description,
        exception=_exception_message(r.exception_info),
    )


def _sample_keys(result: dict, frame: pd.DataFrame, key_columns: list[str]) -> tuple[tuple[str, ...], ...]:
    labels = [i for i in (result.get("partial_unexpected_index_list") or []) if isinstance(i, int)]
    labels = labels[:SAMPLE_SIZE]
    if not labels:
        return ()
    if not key_columns:  # no key: the row's position in the DataFrame
        return tuple((str(i),) for i in labels)
    rows = frame.loc[labels, list(key_columns)]
    return tuple(tuple(key_str(v) for v in row) for row in rows.itertuples(index=False, name=None))


def key_str(value: Any) -> str:
    """A sample key part as text: dates as ISO text, nulls as `<null>`."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return NULL_KEY
    if isinstance(value, pd.Timestamp | dt.datetime):
        ts = pd.Timestamp(value)
        return ts.date().isoformat() if ts == ts.normalize() and ts.tzinfo is None else ts.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _exception_message(info: Any) -> str | None:
    """GE reports exceptions either flat or keyed by metric id; return the first message."""
    if not isinstance(info, dict):
        return None
    if "raised_exception" in info:
        return str(info.get("exception_message")) if info.get("raised_exception") else None
    for sub in info.values():
        msg = _exception_message(sub)
        if msg:
            return msg
    return None


def kwargs_summary(kwargs: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe summary of an expectation's kwargs, without the ones that describe the run."""
    return {k: _kwarg_summary(k, v) for k, v in sorted(kwargs.items()) if k not in _RUNTIME_KWARGS}


def _kwarg_summary(name: str, value: Any) -> Any:
    if name == "row_condition" and value is not None:
        from great_expectations.expectations.row_conditions import deserialize_row_condition

        try:
            return repr(deserialize_row_condition(value))  # e.g. "units_delivered == 0"
        except (TypeError, ValueError):
            return str(value)
    return _json_safe(value)


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_safe(v) for v in value]
    if isinstance(value, dt.date | dt.datetime | pd.Timestamp):
        return value.isoformat()
    return str(value)
