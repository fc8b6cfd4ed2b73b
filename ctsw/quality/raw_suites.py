"""Generate `expectations/raw_<table>.json` from the contract (run once; the JSON files are committed).

    python -m ctsw.quality.raw_suites [--out expectations]

Per table: every required column not null, the key unique, accepted values and numeric bounds exactly as in
`ctsw.contract`, and the cross-field time orderings the raw loader also enforces (`ctsw.ingest.rules.ROW_RULES`):
rows breaking them are quarantined at load, so on `raw.*` these suites are a second line of defence.
They are evaluated in SQL (`ctsw.quality.sql_expectations`), which raises on an expectation type it does not
translate: a new type needs a translation there and a case in tests/test_quality_sql_expectations.py.
`tests/test_quality_ge.py` checks the committed files stay consistent with the contract.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ctsw.config import EXPECTATIONS_DIR
from ctsw.contract import TABLES, Table

GE_VERSION = "1.24.1"

# (later column, earlier column, strictly later?, severity): rows where either value is null are skipped.
ORDERINGS: dict[str, list[tuple[str, str, bool, str]]] = {
    "memberships": [("end_date", "start_date", True, "critical")],
    "pull_requests": [
        ("merged_at", "created_at", False, "critical"),
        ("created_at", "first_commit_at", False, "critical"),
        ("shipped_at", "merged_at", False, "critical"),
    ],
    "deployments": [("finished_at", "started_at", False, "critical")],
    "commits": [("reached_customer_at", "committed_at", False, "critical")],
    "pages": [
        ("resolved_at", "triggered_at", False, "critical"),
        ("acknowledged_at", "triggered_at", False, "critical"),
    ],
    "oncall_shifts": [("shift_end", "shift_start", True, "critical")],
}
# Contract descriptions that are not machine-checked by the loader: worth a warning, not a failure.
PATTERNS: dict[str, list[tuple[str, str, str]]] = {
    "ai_tool_usage": [("tool", r"^[a-z0-9][a-z0-9_.\-]*$", "Tool names are lower case.")],
}


def _exp(type_: str, kwargs: dict[str, Any], description: str, severity: str = "critical") -> dict[str, Any]:
    return {"type": type_, "kwargs": kwargs, "meta": {}, "severity": severity, "description": description}


def build_raw_suite(table: Table) -> dict[str, Any]:
    exps: list[dict[str, Any]] = []
    for c in table.columns:
        if c.required:
            exps.append(_exp("expect_column_values_to_not_be_null", {"column": c.name},
                             f"{c.name} is required by the contract."))
    if len(table.key) == 1:
        exps.append(_exp("expect_column_values_to_be_unique", {"column": table.key[0]},
                         f"{table.key[0]} identifies a row."))
    else:
        exps.append(_exp("expect_compound_columns_to_be_unique", {"column_list": list(table.key)},
                         f"({', '.join(table.key)}) identifies a row."))
    for c in table.columns:
        if c.accepted:
            exps.append(_exp("expect_column_values_to_be_in_set",
                             {"column": c.name, "value_set": list(c.accepted)},
                             f"{c.name} is one of the contract's accepted values."))
        if c.min is not None or c.max is not None:
            kwargs: dict[str, Any] = {"column": c.name}
            if c.min is not None:
                kwargs["min_value"] = c.min
                if c.min_exclusive:
                    kwargs["strict_min"] = True
            if c.max is not None:
                kwargs["max_value"] = c.max
            lo = "" if c.min is None else ("(" if c.min_exclusive else "[") + f"{c.min:g}"
            hi = "" if c.max is None else f"{c.max:g}]"
            exps.append(_exp("expect_column_values_to_be_between", kwargs,
                             f"{c.name} within the contract's range {lo or '(-inf'}, {hi or 'inf)'}."))
    for later, earlier, strict, severity in ORDERINGS.get(table.name, []):
        exps.append(_exp(
            "expect_column_pair_values_a_to_be_greater_than_b",
            {"column_A": later, "column_B": earlier, "or_equal": not strict,
             "ignore_row_if": "either_value_is_missing"},
            f"{later} is {'after' if strict else 'not before'} {earlier} (where both are present).",
            severity,
        ))
    for column, regex, description in PATTERNS.get(table.name, []):
        exps.append(_exp("expect_column_values_to_match_regex", {"column": column, "regex": regex},
                         description, "warning"))
    return {
        "name": f"raw_{table.name}",
        "expectations": exps,
        "meta": {
            "great_expectations_version": GE_VERSION,
            "table": f"raw.{table.name}",
            "key": list(table.key),
            "generated_from": "ctsw.contract via python -m ctsw.quality.raw_suites",
        },
    }


def write_raw_suites(out_dir: Path = EXPECTATIONS_DIR) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for table in TABLES.values():
        path = out_dir / f"raw_{table.name}.json"
        path.write_text(json.dumps(build_raw_suite(table), indent=2) + "\n")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=EXPECTATIONS_DIR)
    for path in write_raw_suites(parser.parse_args(argv).out):
        print(path)


if __name__ == "__main__":
    main()
