"""Row rules of the contract as SQL: how each text value is parsed, and why a row is quarantined.

Every landing file is first read as text, so a bad value becomes a quarantine reason naming its field instead
of failing the whole load. Expressions refer to the text column `"<name>"` and produce the typed value; a
column staged typed from Parquet (ctsw/ingest/readers.py) is taken from its typed column where that is set.
"""

from __future__ import annotations

from dataclasses import dataclass

from ctsw.contract import Column, Table
from ctsw.ingest.readers import typed_column

# Plausible event time range: earlier is a unit or epoch mistake, later than tomorrow has not happened yet.
EARLIEST_EVENT = "2000-01-01"
LATEST_EVENT = "current_date + INTERVAL 1 DAY"


def plausible(expr: str) -> str:
    """SQL: a date or timestamp inside the plausible event range (null stays null)."""
    return f"({expr} >= DATE '{EARLIEST_EVENT}' AND {expr} <= {LATEST_EVENT})"


def text(col: str) -> str:
    return f"nullif(trim(\"{col}\"), '')"


def parsed(c: Column) -> str:
    """Typed value of a staged column; null when its text does not parse."""
    typed = typed_column(c)
    if typed is None:
        return _parsed_text(c)
    value = f"CAST({typed} AS TIMESTAMP)" if c.type == "TIMESTAMP" else typed  # UTC: the session's time zone
    return f"coalesce({value}, {_parsed_text(c)})"


def _parsed_text(c: Column) -> str:
    v = text(c.name)
    if c.type == "TIMESTAMP":
        # Session time zone is UTC: a naive value is read as UTC, an offset is converted.
        return f"try_cast(try_cast({v} AS TIMESTAMPTZ) AS TIMESTAMP)"
    if c.type == "DATE":
        return f"try_cast(try_cast(try_cast({v} AS TIMESTAMPTZ) AS TIMESTAMP) AS DATE)"
    if c.type == "BIGINT":
        # try_cast('1.5' AS BIGINT) rounds; a count with a fraction is invalid, not 2.
        return f"CASE WHEN try_cast({v} AS DOUBLE) = try_cast({v} AS BIGINT) THEN try_cast({v} AS BIGINT) END"
    if c.type == "DOUBLE":
        return f"CASE WHEN isfinite(try_cast({v} AS DOUBLE)) THEN try_cast({v} AS DOUBLE) END"
    if c.type == "BOOLEAN":
        return f"try_cast(lower({v}) AS BOOLEAN)"
    if c.name == "pr_ids":
        # JSON Lines and Parquet may carry a list; the contract's text form is ';'-joined.
        return (
            f"CASE WHEN {v} LIKE '[%' THEN array_to_string(try(from_json({v}, '[\"VARCHAR\"]')), ';') "
            f"ELSE {v} END"
        )
    return v


def column_reasons(c: Column) -> list[tuple[str, str]]:
    """(condition that flags a bad row, reason) pairs for one column, on text value and typed value `p`."""
    v, p, typed = text(c.name), f"p_{c.name}", typed_column(c)
    out: list[tuple[str, str]] = []
    if c.required:
        out.append((f"{v} IS NULL" + (f" AND {typed} IS NULL" if typed else ""), "missing value"))
    out.append((f"{v} IS NOT NULL AND {p} IS NULL", f"not a valid {c.type.lower()}"))
    if c.accepted:
        allowed = ", ".join(f"'{a}'" for a in c.accepted)
        out.append((f"{p} NOT IN ({allowed})", f"not one of {', '.join(c.accepted)}"))
    if c.min is not None:
        op = "<=" if c.min_exclusive else "<"
        out.append((f"{p} {op} {c.min}", f"below {'or equal to ' if c.min_exclusive else ''}{c.min:g}"))
    if c.max is not None:
        out.append((f"{p} > {c.max}", f"above {c.max:g}"))
    if c.type in ("TIMESTAMP", "DATE"):
        out.append((f"{p} < DATE '{EARLIEST_EVENT}'", f"before {EARLIEST_EVENT}"))
        out.append((f"{p} > {LATEST_EVENT}", "in the future"))
    return out


# Cross-field rules: (field named in the reason, condition on typed values p_<col>, reason).
ROW_RULES: dict[str, list[tuple[str, str, str]]] = {
    "memberships": [("end_date", "p_end_date <= p_start_date", "ends on or before its start")],
    "pull_requests": [
        ("merged_at", "p_merged_at < p_created_at", "merged before created"),
        ("first_commit_at", "p_first_commit_at > p_created_at", "first commit after the PR was created"),
        ("shipped_at", "p_shipped_at < p_merged_at", "shipped before merged"),
    ],
    "deployments": [("finished_at", "p_finished_at < p_started_at", "finished before started")],
    "commits": [("reached_customer_at", "p_reached_customer_at < p_committed_at", "reached customers before commit")],
    "pages": [
        ("resolved_at", "p_resolved_at < p_triggered_at", "resolved before triggered"),
        ("acknowledged_at", "p_acknowledged_at < p_triggered_at", "acknowledged before triggered"),
    ],
    "oncall_shifts": [("shift_end", "p_shift_end <= p_shift_start", "ends on or before its start")],
}


@dataclass(frozen=True)
class SpellRule:
    """Spells [start, end) of one entity (`group`) must not overlap; a null end is open.

    A cross-row rule, so not in ROW_RULES: of two overlapping spells the later-starting one is quarantined.
    A spell is compared with every earlier-starting spell of its group that passes the row rules and is not a
    duplicate, including one quarantined for an overlap itself: one SQL window instead of a fixed point, and
    a chain of overlaps has to be fixed as a whole anyway.
    """

    group: tuple[str, ...]
    start: str
    end: str
    reason: str


SPELL_RULES: dict[str, SpellRule] = {
    # Two spells of one developer in one team would count their FTE and cost twice for the overlap.
    "memberships": SpellRule(("developer_id", "team_id"), "start_date", "end_date",
                             "overlaps an earlier-starting spell of the same developer in the same team"),
}


def reason_items(table: Table, check_team: bool) -> list[tuple[str, str, str]]:
    """(field, condition, reason) of every row rule; `_unknown_team` is a column the caller computes once."""
    items = []
    for c in table.columns:
        for cond, reason in column_reasons(c):
            items.append((c.name, cond, reason))
    for field, cond, reason in ROW_RULES.get(table.name, []):
        items.append((field, cond, reason))
    if check_team:
        items.append(("team_id", "_unknown_team", "unknown team_id"))
    return items


def unknown_team_sql() -> str:
    """SQL for the `_unknown_team` column that `reason_list_sql(..., check_team=True)` refers to."""
    return "coalesce(p_team_id IS NOT NULL AND p_team_id NOT IN (SELECT team_id FROM raw.teams), false)"


def reason_list_sql(table: Table, check_team: bool) -> str:
    """A DuckDB list of {field, reason} structs, empty for a good row.

    The list is built only for a row that breaks some rule: most rows break none, and building a list of
    structs per row costs more than testing the conditions. With `check_team` the query must provide the
    column `_unknown_team` (`unknown_team_sql()`), so the lookup runs once per row.
    """
    items = reason_items(table, check_team)
    conds = [f"coalesce({cond}, false)" for _, cond, _ in items]
    cases = ",\n    ".join(
        f"CASE WHEN {c} THEN {{'field': '{f}', 'reason': '{r}'}} END" for c, (f, _, r) in zip(conds, items, strict=True)
    )
    built = f"list_filter([\n    {cases}\n  ], lambda x: x IS NOT NULL)"
    return f"CASE WHEN {' OR '.join(conds)} THEN {built} ELSE []::STRUCT(field VARCHAR, reason VARCHAR)[] END"
