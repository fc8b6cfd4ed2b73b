"""What the report shows, read from the DuckDB file for one as-of week (nothing after it is used)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

# Teams with fewer builders than this are never shown on their own (they stay in every total).
DEFAULT_MIN_TEAM_BUILDERS = 3
# A team-distribution band needs at least this many teams in the week, or a quantile would be one team's value.
MIN_TEAMS_FOR_BAND = 5


def min_team_builders() -> int:
    """The privacy minimum from CTSW_MIN_TEAM_BUILDERS (default 3); a bad value is a configuration error."""
    raw = os.environ.get("CTSW_MIN_TEAM_BUILDERS", str(DEFAULT_MIN_TEAM_BUILDERS))
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"CTSW_MIN_TEAM_BUILDERS must be a whole number, got {raw!r}") from None
    if value < 1:
        raise ValueError(f"CTSW_MIN_TEAM_BUILDERS must be at least 1, got {value}")
    return value


@dataclass
class CheckResult:
    """The latest evaluation of one asset check (from the Dagster instance)."""

    asset: str
    name: str
    passed: bool
    partition: str | None = None
    description: str = ""
    severity: str = "ERROR"  # a failed WARN check is reported but does not make `ctsw status` fail


@dataclass
class ReportData:
    as_of: date
    first_week: date
    last_week: date
    n_teams: int
    n_orgs: int
    n_team_weeks: int
    min_builders: int
    org_weeks: pd.DataFrame
    team_weeks: pd.DataFrame
    effects: pd.DataFrame
    sensitivity: pd.DataFrame
    capacity: pd.DataFrame
    event_study: pd.DataFrame | None
    quarantine: pd.DataFrame
    truth: dict | None = None
    checks: list[CheckResult] | None = None  # None: no Dagster run history was available
    notes: list[str] = field(default_factory=list)

    @property
    def teams_below_minimum(self) -> set[str]:
        """Teams that had fewer builders than the minimum in any week of the report's range."""
        small = self.team_weeks.groupby("team_id")["builders"].min()
        return set(small[small < self.min_builders].index)


class NoPanelError(RuntimeError):
    """The database has no panel (yet) up to the requested week."""


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {f"{s}.{t}" for s, t in con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()}


def latest_as_of(con: duckdb.DuckDBPyConnection) -> date | None:
    """The last as-of week with model results, else the last panel week, else None."""
    tables = _tables(con)
    if "models.ai_effect_estimates" in tables:
        found = con.execute("SELECT max(as_of_week) FROM models.ai_effect_estimates").fetchone()[0]
        if found is not None:
            return found
    if "marts.fct_team_weeks" in tables:
        return con.execute("SELECT max(week_start) FROM marts.fct_team_weeks").fetchone()[0]
    return None


def _model_rows(con, tables: set[str], table: str, as_of: date) -> pd.DataFrame:
    if f"models.{table}" not in tables:
        return pd.DataFrame()
    return con.execute(f"SELECT * FROM models.{table} WHERE as_of_week = ?", [as_of]).df()


def load(con: duckdb.DuckDBPyConnection, as_of: date | None = None, min_builders: int | None = None,
         landing_dir: Path | None = None, checks: list[CheckResult] | None = None) -> ReportData:
    """Everything the report needs for `as_of` (default: the latest as-of week with model results)."""
    tables = _tables(con)
    if "marts.fct_team_weeks" not in tables:
        raise NoPanelError("the database has no panel (marts.fct_team_weeks); run `ctsw run` first")
    as_of = as_of or latest_as_of(con)
    min_builders = min_team_builders() if min_builders is None else min_builders
    team_weeks = con.execute(
        "SELECT team_id, org, week_start, builders, builder_fte, dev_cost_usd, units_delivered, cts_sw_usd, "
        "prs_merged, cr_velocity, ai_active_builders, ai_usage_share FROM marts.fct_team_weeks "
        "WHERE week_start <= ? ORDER BY team_id, week_start", [as_of]).df()
    if team_weeks.empty:
        raise NoPanelError(f"the panel has no weeks up to {as_of}; run `ctsw run` for those weeks first")
    org_weeks = con.execute("SELECT * FROM marts.fct_org_weeks WHERE week_start <= ? ORDER BY org, week_start",
                            [as_of]).df()
    for frame in (team_weeks, org_weeks):
        frame["week_start"] = pd.to_datetime(frame["week_start"])
    quarantine = (con.execute("SELECT source_table, coalesce(field, '') AS field, reason, count(*) AS rows "
                              "FROM raw.quarantine GROUP BY ALL ORDER BY rows DESC, source_table, reason").df()
                  if "raw.quarantine" in tables else pd.DataFrame(columns=["source_table", "field", "reason", "rows"]))
    event_study = _model_rows(con, tables, "event_study", as_of) if "models.event_study" in tables else None
    truth = None
    if landing_dir is not None and (landing_dir / "truth.json").exists():
        try:
            truth = json.loads((landing_dir / "truth.json").read_text())
        except (OSError, ValueError):
            truth = None
    data = ReportData(
        as_of=as_of,
        first_week=team_weeks["week_start"].min().date(),
        last_week=team_weeks["week_start"].max().date(),
        n_teams=int(team_weeks["team_id"].nunique()),
        n_orgs=int(team_weeks["org"].nunique()),
        n_team_weeks=len(team_weeks),
        min_builders=min_builders,
        org_weeks=org_weeks,
        team_weeks=team_weeks,
        effects=_model_rows(con, tables, "ai_effect_estimates", as_of),
        sensitivity=_model_rows(con, tables, "driver_sensitivity", as_of),
        capacity=_model_rows(con, tables, "capacity_freed", as_of),
        event_study=event_study,
        quarantine=quarantine,
        truth=truth,
        checks=checks,
    )
    if data.effects.empty:
        data.notes.append(f"No model results for the as-of week {as_of}: the models need at least 8 weeks of panel "
                          "up to it (run `ctsw run` over a longer range).")
    return data
