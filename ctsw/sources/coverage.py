"""Which panel metrics the landed data can measure, and what each source cannot provide.

The panel (`marts.fct_team_weeks`) counts events: with no incident source, `pages` is 0 in every team-week, and a
0 there is not a measurement. Two pieces say so:

* every source run writes `<landing>/_sources/<name>.json`: the tables and rows it landed, the contract columns it
  left null, and its capability list (`CAPABILITIES`: per metric group, `full`, `partial` with the reason, or
  `none`);
* `metric_availability` checks the raw tables (does any source, or any hand-landed file, hold the rows a metric
  needs?) and `coverage_lines` turns both into the summary's coverage section:
  `unavailable: pages, on-call (no pages, oncall_shifts data; landed sources: git)`.

The landing folder's `_sources/` is not a contract table folder, so the loaders never read it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from ctsw.contract import TABLES
from ctsw.db import has_table

COVERAGE_DIR = "_sources"
# Null by the contract's design, not a gap: the delivery unit defaults by architecture, shipped_at is derived from
# deployments, a null end_date is a current member. The coverage record lists them; the summary does not.
BENIGN_NULLS = {"teams.delivery_unit", "pull_requests.shipped_at", "memberships.end_date"}


@dataclass(frozen=True)
class Metric:
    key: str  # the name printed in "unavailable: ..."
    columns: tuple[str, ...]  # panel columns (marts.fct_team_weeks) it covers
    tables: tuple[str, ...]  # contract tables that must hold rows for it to be measured
    condition: str | None = None  # extra SQL over raw tables that must be true (None = the tables have rows)


METRICS: tuple[Metric, ...] = (
    Metric("staffing", ("builder_fte", "builders", "headcount", "dev_cost_usd"), ("memberships",)),
    Metric("PRs", ("prs_merged", "cr_velocity"), ("pull_requests",)),
    Metric("deployments", ("deployments", "deployment_attempts", "deploy_velocity", "dora_deployment_frequency"),
           ("deployments",), "EXISTS (SELECT 1 FROM raw.deployments WHERE environment = 'production')"),
    Metric("rollbacks", ("rollbacks", "rollback_rate", "dora_change_failure_rate"), ("deployments",),
           "EXISTS (SELECT 1 FROM raw.deployments WHERE environment = 'production')"),
    Metric("interventions", ("manual_interventions", "interventions_per_deploy"), ("deployments",),
           "EXISTS (SELECT 1 FROM raw.deployments WHERE environment = 'production')"),
    Metric("shipped PRs", ("prs_shipped",), ("pull_requests",),
           "EXISTS (SELECT 1 FROM raw.pull_requests WHERE shipped_at IS NOT NULL) "
           "OR EXISTS (SELECT 1 FROM raw.deployment_pull_requests)"),
    Metric("lead time", ("dora_lead_time_hours",), ("pull_requests",),
           "EXISTS (SELECT 1 FROM raw.pull_requests WHERE first_commit_at IS NOT NULL AND (shipped_at IS NOT NULL "
           "OR pr_id IN (SELECT pr_id FROM raw.deployment_pull_requests)))"),
    Metric("commits shipped", ("commits_shipped",), ("commits",),
           "EXISTS (SELECT 1 FROM raw.commits WHERE reached_customer_at IS NOT NULL)"),
    Metric("pages", ("pages", "dora_time_to_restore_hours"), ("pages",)),
    Metric("on-call", ("oncall_builders", "pages_per_oncall_builder"), ("oncall_shifts",)),
    Metric("AI usage", ("ai_active_builders", "ai_usage_share"), ("ai_tool_usage",)),
)
METRIC_KEYS = tuple(m.key for m in METRICS)

# What each kind of source can measure. A metric it does not list is `none` for it.
# status: "full" | "partial" (with the reason: the value is a proxy or a lower bound)
CAPABILITIES: dict[str, dict[str, tuple[str, str]]] = {
    "git": {
        "staffing": ("partial", "builders = people committing in the week; managers and non-committers are "
                                "invisible; loaded cost is the configured placeholder unless set"),
        "PRs": ("partial", "merge and squash commits with a PR number; rebase merges are invisible"),
        "deployments": ("partial", "production release tags stand in for deployments"),
        "rollbacks": ("partial", "rollbacks from reverts between releases; failed deployments are invisible"),
        "interventions": ("partial", "patch releases and cherry-picks counted as interventions (a proxy)"),
        "shipped PRs": ("full", "a PR ships with the first production tag that contains it"),
        "lead time": ("partial", "squash merges: the PR's first commit is unknown, lead time starts at the merge"),
        "commits shipped": ("full", "trunk commits reach customers with the first production tag containing them"),
        "AI usage": ("partial", "commit trailers and agent authors only: disclosed use, a lower bound"),
    },
    "github_pull_requests": {
        "PRs": ("full", ""),
    },
    "github_deployments": {
        "deployments": ("full", ""),
        "rollbacks": ("partial", "failed deployments are counted; rollbacks are not recorded by GitHub"),
        "interventions": ("partial", "not recorded by GitHub: landed as 0"),
    },
    "pagerduty": {
        "pages": ("full", ""),
    },
    "opsgenie": {
        "pages": ("partial", "incidents carry no acknowledgement time"),
    },
    "copilot_seats": {
        "AI usage": ("partial", "a seat listing shows only the last active day: land a snapshot every day"),
    },
    "hr_roster": {
        "staffing": ("full", ""),
    },
}


def capabilities(kind: str, payload: str | None = None) -> dict[str, dict[str, str]]:
    """metric -> {"status": full|partial|none, "note": ...} for one kind of source."""
    caps = dict(CAPABILITIES.get(kind, {}))
    if kind == "github_deployments" and payload == "devlake":
        caps["rollbacks"] = ("partial", "failed deployments are counted; rollbacks are not recorded by DevLake")
        caps["interventions"] = ("partial", "not recorded by DevLake: landed as 0")
    if kind == "opsgenie" and payload == "alerts":
        caps["pages"] = ("full", "")
    return {m: {"status": caps[m][0] if m in caps else "none", "note": caps[m][1] if m in caps else ""}
            for m in METRIC_KEYS}


def coverage_record(name: str, kind: str, inputs: list[str], frames: Mapping[str, pd.DataFrame],
                    files: Mapping[str, Path | None], payload: str | None = None,
                    landing_dir: Path | None = None) -> dict[str, Any]:
    """What one source run landed: rows and all-null columns per table, and the kind's capability list."""
    tables = {}
    for table, df in frames.items():
        nullable = [c.name for c in TABLES[table].columns if not c.required]
        path = files.get(table)
        if path is not None and landing_dir is not None:
            path = Path(path).relative_to(landing_dir) if Path(path).is_relative_to(landing_dir) else path
        tables[table] = {
            "rows": int(len(df)),
            "file": str(path) if path is not None else None,
            "null_columns": [c for c in nullable if len(df) and df[c].isna().all()],
        }
    caps = capabilities(kind, payload)
    return {
        "source": name,
        "kind": kind,
        "payload": payload,
        "inputs": inputs,
        "extracted_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "tables": tables,
        "metrics": caps,
        "unavailable": [m for m, c in caps.items() if c["status"] == "none"],
    }


def coverage_path(landing_dir: Path, name: str) -> Path:
    return Path(landing_dir) / COVERAGE_DIR / f"{name}.json"


def write_coverage(landing_dir: Path, record: Mapping[str, Any]) -> Path:
    path = coverage_path(landing_dir, record["source"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(tmp, path)
    return path


def read_coverage(landing_dir: Path) -> list[dict[str, Any]]:
    """Every source's last coverage record in the landing folder, by source name."""
    folder = Path(landing_dir) / COVERAGE_DIR
    if not folder.is_dir():
        return []
    out = []
    for p in sorted(folder.glob("*.json")):
        try:
            out.append(json.loads(p.read_text()))
        except (OSError, ValueError):
            continue
    return out


# --------------------------------------------------------------------------------------------------------------
# What the raw tables can measure


def metric_availability(con: duckdb.DuckDBPyConnection) -> dict[str, bool]:
    """metric -> whether the raw tables hold the data it needs (any rows, over all loaded weeks)."""
    out = {}
    for m in METRICS:
        needed = set(m.tables) | ({"deployment_pull_requests"} if m.condition and "deployment_pull_requests"
                                 in m.condition else set())
        ok = all(has_table(con, "raw", t) for t in needed)
        if ok:
            ok = all(con.execute(f"SELECT EXISTS (SELECT 1 FROM raw.{t})").fetchone()[0] for t in m.tables)
        if ok and m.condition:
            ok = bool(con.execute(f"SELECT {m.condition}").fetchone()[0])
        out[m.key] = ok
    return out


def _relevant(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Metrics that matter for this panel: `commits shipped` only when some team delivers commits."""
    keys = set(METRIC_KEYS)
    try:
        units = {r[0] for r in con.execute("SELECT DISTINCT delivery_unit FROM marts.fct_team_weeks").fetchall()}
    except duckdb.Error:
        units = set()
    if "commit" not in units:
        keys.discard("commits shipped")
    return keys


def unavailable_metrics(con: duckdb.DuckDBPyConnection) -> list[str]:
    relevant = _relevant(con)
    return [k for k, ok in metric_availability(con).items() if not ok and k in relevant]


def coverage_lines(con: duckdb.DuckDBPyConnection, landing_dir: Path) -> list[str]:
    """The summary's coverage section; [] when every metric has data and no source run recorded coverage."""
    records = read_coverage(landing_dir)
    missing = unavailable_metrics(con)
    if not missing and not records:
        return []
    by_key = {m.key: m for m in METRICS}
    lines = ["", "-- Coverage: what the landed data can measure (an unavailable metric is 0 or null in the panel, "
                 "not a measurement)"]
    if records:
        lines.append("sources: " + ", ".join(f"{r['source']} ({r['kind']}, extracted {r['extracted_at']})"
                                             for r in records))
    if missing:
        def provided(key: str) -> list[str]:
            return [r["source"] for r in records if r["metrics"].get(key, {}).get("status", "none") != "none"]

        none = [k for k in missing if not provided(k)]
        empty = [k for k in missing if provided(k)]
        if none:
            tables = sorted({t for k in none for t in by_key[k].tables})
            why = "no configured source provides" if records else "no landed file holds"
            lines.append(f"unavailable: {', '.join(none)} ({why} {', '.join(tables)} data)")
        if empty:
            by = sorted({s for k in empty for s in provided(k)})
            lines.append(f"unavailable: {', '.join(empty)} (no such events in the inputs of {', '.join(by)})")
        lines.append("  panel columns not measured: " + ", ".join(c for k in missing for c in by_key[k].columns))
    for r in records:
        partial = [(m, c["note"]) for m, c in r["metrics"].items() if c["status"] == "partial" and m not in missing]
        for m, note in partial:
            lines.append(f"limited ({r['source']}): {m}: {note}")
        nulls = [f"{t}.{c}" for t, info in r["tables"].items() for c in info["null_columns"]
                 if f"{t}.{c}" not in BENIGN_NULLS]
        if nulls:
            lines.append(f"null from {r['source']}: {', '.join(nulls)}")
    return lines


def column_metric(column: str) -> str | None:
    """The metric group of a panel column (e.g. ai_usage_share -> "AI usage"); None for other columns."""
    for m in METRICS:
        if column in m.columns:
            return m.key
    return None
