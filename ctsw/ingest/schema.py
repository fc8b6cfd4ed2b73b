"""DDL of the raw layer: one table per contract table plus the PR bridge and the quarantine."""

from __future__ import annotations

import duckdb

from ctsw.contract import TABLES, Table

RAW_SCHEMA = "raw"
# Lineage columns every raw table carries: the landing file and the 1-based data row within it.
LINEAGE_COLUMNS = (("_source_file", "VARCHAR"), ("_source_row", "BIGINT"))


def raw_table_ddl(table: Table) -> str:
    cols = [f"{c.name} {c.type}" + (" NOT NULL" if c.required else "") for c in table.columns]
    cols += [f"{name} {typ}" for name, typ in LINEAGE_COLUMNS]
    return f"CREATE TABLE IF NOT EXISTS {RAW_SCHEMA}.{table.name} (\n  " + ",\n  ".join(cols) + "\n)"


def create_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw schema and its tables if missing (idempotent)."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}")
    for table in TABLES.values():
        con.execute(raw_table_ddl(table))
    # Deployments ship PRs; the bridge keeps dbt free of engine-specific list functions.
    con.execute(
        f"""CREATE TABLE IF NOT EXISTS {RAW_SCHEMA}.deployment_pull_requests (
  deployment_id VARCHAR NOT NULL,
  pr_id VARCHAR NOT NULL,
  started_at TIMESTAMP NOT NULL
)"""
    )
    con.execute(
        f"""CREATE TABLE IF NOT EXISTS {RAW_SCHEMA}.quarantine (
  source_table VARCHAR NOT NULL,
  source_file VARCHAR NOT NULL,
  source_row BIGINT,
  field VARCHAR,
  reason VARCHAR NOT NULL,
  record VARCHAR,
  partition_ts TIMESTAMP
)"""
    )
