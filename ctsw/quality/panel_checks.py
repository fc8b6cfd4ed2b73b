"""Sanity checks of the team-week panel against the raw layer, recomputed in plain SQL (not through dbt).

Each check takes the run's window of weeks and returns a `CheckOutcome`:

* `panel_coverage`: the panel has exactly one row for every team with a membership (any role) overlapping a
  week of the window, up to the data horizon (the last week with any event telemetry, as the panel's spine
  defines it), and no other rows.
* `builder_fte_matches_roster`: builder FTE per team-week equals sum(fte x days in the week / 7) over the
  team's builder memberships in `raw.memberships`.
* `week_totals_reconcile`: per week, the panel's prs_merged and deployments add up to the raw PRs merged and
  the raw successful production deployments (rollbacks excluded) of that week, for teams staffed that week.
  Activity of a team-week without members is not in the panel by design; it is reported, not failed.

They are independent of the dbt models on purpose: a bug in a join or a stale incremental week shows up as a
disagreement with the raw tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb

from ctsw.ingest.load import Window

SAMPLE_SIZE = 5
PANEL = "marts.fct_team_weeks"
FTE_TOLERANCE = 1e-6  # the panel rounds builder FTE to 9 decimals
# Event tables whose last week is the panel's data horizon (on-call rotas are scheduled ahead: not counted).
HORIZON_COLUMNS = (("pull_requests", "created_at"), ("deployments", "started_at"), ("commits", "committed_at"),
                   ("pages", "triggered_at"), ("ai_tool_usage", "usage_date"))


@dataclass
class CheckOutcome:
    passed: bool
    metadata: dict[str, Any] = field(default_factory=dict)


def _weeks_sql() -> str:
    """Weeks of the window [?, ?) up to the data horizon; parameters: window start, window end."""
    horizon = " UNION ALL ".join(
        f"SELECT max(CAST(date_trunc('week', {c}) AS DATE)) AS w FROM raw.{t}" for t, c in HORIZON_COLUMNS
    )
    return f"""weeks AS (
  SELECT CAST(t.w AS DATE) AS week_start, CAST(t.w + INTERVAL 7 DAY AS DATE) AS week_end
  FROM range(CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP), INTERVAL 7 DAY) AS t(w)
  WHERE CAST(t.w AS DATE) <= (SELECT max(w) FROM ({horizon}))
)"""


def _roster_sql() -> str:
    """Team-weeks staffed per raw.memberships, with builder FTE recomputed; parameters as `_weeks_sql`."""
    return f"""WITH {_weeks_sql()},
days AS (
  SELECT m.team_id, w.week_start, m.role, m.fte,
    date_diff('day', greatest(m.start_date, w.week_start),
              least(coalesce(m.end_date, w.week_end), w.week_end)) AS days
  FROM raw.memberships m
  JOIN weeks w ON m.start_date < w.week_end AND coalesce(m.end_date, w.week_end) > w.week_start
)
SELECT team_id, week_start,
  sum(CASE WHEN role = 'builder' THEN fte * days / 7.0 ELSE 0 END) AS builder_fte
FROM days WHERE days > 0 GROUP BY team_id, week_start"""


def _bounds(window: Window) -> list:
    return [window.start, window.end]


def _sample(rows: list[tuple], names: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{n: _plain(v) for n, v in zip(names, r, strict=True)} for r in rows[:SAMPLE_SIZE]]


def _plain(v: Any) -> Any:
    if v is None or isinstance(v, bool | int | str):
        return v
    if isinstance(v, float):
        return round(v, 9)
    return str(v)


def panel_coverage(con: duckdb.DuckDBPyConnection, window: Window) -> CheckOutcome:
    """One panel row per staffed team-week of the window (up to the data horizon), and no other rows."""
    diff = con.execute(f"""
WITH roster AS ({_roster_sql()}),
panel AS (SELECT team_id, week_start FROM {PANEL} WHERE week_start >= ? AND week_start < ?),
counted AS (SELECT team_id, week_start, count(*) AS n FROM panel GROUP BY ALL)
SELECT coalesce(r.team_id, c.team_id) AS team_id, coalesce(r.week_start, c.week_start) AS week_start,
  CASE WHEN c.team_id IS NULL THEN 'missing' WHEN r.team_id IS NULL THEN 'unexpected' ELSE 'duplicated' END
    AS problem, coalesce(c.n, 0) AS panel_rows
FROM roster r FULL OUTER JOIN counted c USING (team_id, week_start)
WHERE r.team_id IS NULL OR c.team_id IS NULL OR c.n > 1
ORDER BY week_start, team_id
""", _bounds(window) + _bounds(window)).fetchall()
    expected = con.execute(f"SELECT count(*) FROM ({_roster_sql()})", _bounds(window)).fetchone()[0]
    actual = con.execute(f"SELECT count(*) FROM {PANEL} WHERE week_start >= ? AND week_start < ?",
                         _bounds(window)).fetchone()[0]
    counts = {p: sum(1 for r in diff if r[2] == p) for p in ("missing", "unexpected", "duplicated")}
    return CheckOutcome(
        passed=not diff,
        metadata={
            "expected_team_weeks": int(expected),
            "panel_rows": int(actual),
            "missing_team_weeks": counts["missing"],
            "unexpected_team_weeks": counts["unexpected"],
            "duplicated_team_weeks": counts["duplicated"],
            "sample": _sample(diff, ("team_id", "week_start", "problem", "panel_rows")),
        },
    )


def builder_fte_matches_roster(con: duckdb.DuckDBPyConnection, window: Window) -> CheckOutcome:
    """builder_fte of every panel row equals the roster's sum(fte x days / 7) over builders."""
    rows = con.execute(f"""
WITH roster AS ({_roster_sql()}),
panel AS (SELECT team_id, week_start, builder_fte FROM {PANEL} WHERE week_start >= ? AND week_start < ?)
SELECT p.team_id, p.week_start, p.builder_fte AS panel_builder_fte, coalesce(r.builder_fte, 0) AS roster_builder_fte
FROM panel p LEFT JOIN roster r USING (team_id, week_start)
WHERE p.builder_fte IS NULL OR abs(p.builder_fte - coalesce(r.builder_fte, 0)) > {FTE_TOLERANCE}
ORDER BY abs(coalesce(p.builder_fte, 1e9) - coalesce(r.builder_fte, 0)) DESC, p.week_start, p.team_id
""", _bounds(window) + _bounds(window)).fetchall()
    checked = con.execute(f"SELECT count(*) FROM {PANEL} WHERE week_start >= ? AND week_start < ?",
                          _bounds(window)).fetchone()[0]
    return CheckOutcome(
        passed=not rows,
        metadata={
            "team_weeks_checked": int(checked),
            "mismatched_team_weeks": len(rows),
            "tolerance": FTE_TOLERANCE,
            "sample": _sample(rows, ("team_id", "week_start", "panel_builder_fte", "roster_builder_fte")),
        },
    )


def week_totals_reconcile(con: duckdb.DuckDBPyConnection, window: Window) -> CheckOutcome:
    """Per week: sum(prs_merged) and sum(deployments) of the panel equal the raw counts for staffed teams."""
    rows = con.execute(f"""
WITH roster AS ({_roster_sql()}),
prs AS (
  SELECT team_id, CAST(date_trunc('week', merged_at) AS DATE) AS week_start, count(*) AS n
  FROM raw.pull_requests WHERE merged_at >= ? AND merged_at < ? GROUP BY ALL
),
deps AS (
  SELECT team_id, CAST(date_trunc('week', started_at) AS DATE) AS week_start, count(*) AS n
  FROM raw.deployments
  WHERE started_at >= ? AND started_at < ?
    AND lower(trim(environment)) = 'production' AND NOT is_rollback AND status = 'succeeded'
  GROUP BY ALL
),
raw_weeks AS (
  SELECT week_start,
    sum(n) FILTER (WHERE kind = 'prs' AND staffed) AS raw_prs_merged,
    sum(n) FILTER (WHERE kind = 'deps' AND staffed) AS raw_deployments,
    sum(n) FILTER (WHERE kind = 'prs' AND NOT staffed) AS unstaffed_prs_merged,
    sum(n) FILTER (WHERE kind = 'deps' AND NOT staffed) AS unstaffed_deployments
  FROM (
    SELECT 'prs' AS kind, a.week_start, a.n, r.team_id IS NOT NULL AS staffed
    FROM prs a LEFT JOIN roster r USING (team_id, week_start)
    UNION ALL
    SELECT 'deps', a.week_start, a.n, r.team_id IS NOT NULL FROM deps a LEFT JOIN roster r USING (team_id, week_start)
  ) GROUP BY week_start
),
panel_weeks AS (
  SELECT week_start, sum(prs_merged) AS panel_prs_merged, sum(deployments) AS panel_deployments
  FROM {PANEL} WHERE week_start >= ? AND week_start < ? GROUP BY week_start
)
SELECT coalesce(p.week_start, r.week_start) AS week_start,
  coalesce(p.panel_prs_merged, 0), coalesce(r.raw_prs_merged, 0),
  coalesce(p.panel_deployments, 0), coalesce(r.raw_deployments, 0),
  coalesce(r.unstaffed_prs_merged, 0), coalesce(r.unstaffed_deployments, 0)
FROM panel_weeks p FULL OUTER JOIN raw_weeks r USING (week_start)
ORDER BY week_start
""", _bounds(window) * 4).fetchall()
    names = ("week_start", "panel_prs_merged", "raw_prs_merged", "panel_deployments", "raw_deployments",
             "unstaffed_prs_merged", "unstaffed_deployments")
    bad = [r for r in rows if r[1] != r[2] or r[3] != r[4]]
    return CheckOutcome(
        passed=not bad,
        metadata={
            "weeks_checked": len(rows),
            "mismatched_weeks": len(bad),
            "prs_merged": {"panel": int(sum(r[1] for r in rows)), "raw": int(sum(r[2] for r in rows))},
            "deployments": {"panel": int(sum(r[3] for r in rows)), "raw": int(sum(r[4] for r in rows))},
            # Activity of teams without members that week: dropped from the panel by design (docs/panel.md).
            "unstaffed_activity": {"prs_merged": int(sum(r[5] for r in rows)),
                                   "deployments": int(sum(r[6] for r in rows))},
            "sample": _sample(bad, names),
        },
    )


PANEL_CHECKS = {
    "panel_covers_staffed_team_weeks": (panel_coverage, "Exactly one panel row per team with a membership "
                                        "overlapping the week (up to the data horizon), recomputed from "
                                        "raw.memberships."),
    "builder_fte_matches_roster": (builder_fte_matches_roster, "builder_fte equals sum(fte x days in week / 7) "
                                   "over the team's builder memberships in raw.memberships."),
    "week_totals_reconcile_with_raw": (week_totals_reconcile, "Per week, sum(prs_merged) and sum(deployments) "
                                       "equal the raw PRs merged and successful production deployments of "
                                       "staffed teams."),
}
