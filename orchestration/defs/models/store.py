"""Reading the checked panel for a model, and keeping every as-of week's results in `models.*` tables."""

from datetime import datetime

import duckdb
import pandas as pd

# Weeks without a production deployment attempt have no rollback rate or interventions per deploy; for the
# velocity models that is "no rollback, no intervention" (the simulator's convention too), not missing data.
ZERO_WHEN_NO_DEPLOYMENT = ("rollback_rate", "interventions_per_deploy")


def read_panel(con: duckdb.DuckDBPyConnection, end: datetime, start: datetime | None = None) -> pd.DataFrame:
    """The team-week panel for weeks in [start, end) (all history before `end` when start is None)."""
    where, params = "week_start < ?", [end]
    if start is not None:
        where, params = "week_start >= ? AND week_start < ?", [start, end]
    panel = con.execute(f"SELECT * FROM marts.fct_team_weeks WHERE {where} ORDER BY team_id, week_start",
                        params).df()
    panel["week_start"] = pd.to_datetime(panel["week_start"])
    return panel


def read_tools(con: duckdb.DuckDBPyConnection, end: datetime, start: datetime | None = None) -> pd.DataFrame:
    """Per-tool adoption (`marts.fct_team_week_tools`) for weeks in [start, end)."""
    where, params = "week_start < ?", [end]
    if start is not None:
        where, params = "week_start >= ? AND week_start < ?", [start, end]
    tools = con.execute(f"SELECT * FROM marts.fct_team_week_tools WHERE {where} ORDER BY team_id, week_start, tool",
                        params).df()
    tools["week_start"] = pd.to_datetime(tools["week_start"])
    return tools


def replace_as_of(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, as_of: datetime,
                  run_id: str) -> None:
    """Replace this as-of week's rows of `models.<table>` (earlier as-of weeks stay for the history)."""
    out = frame.copy()
    week = pd.Timestamp(as_of).date()
    out.insert(0, "as_of_week", week)
    out.insert(1, "run_id", run_id)
    con.execute("CREATE SCHEMA IF NOT EXISTS models")
    con.register("_frame", out)
    try:
        con.execute(f"CREATE TABLE IF NOT EXISTS models.{table} AS SELECT * FROM _frame LIMIT 0")
        con.begin()
        con.execute(f"DELETE FROM models.{table} WHERE as_of_week = ?", [week])
        con.execute(f"INSERT INTO models.{table} BY NAME SELECT * FROM _frame")
        con.commit()
    finally:
        con.unregister("_frame")
