"""DuckDB access with one writer at a time.

DuckDB allows a single process to hold a database file open for writing; a second process fails with a lock
error. Every ctsw writer (loaders, dbt, model assets, the CLI) takes an exclusive advisory lock on a sidecar
file first, so concurrent runs queue instead of failing.

Connections are bounded by CTSW_DUCKDB_MEMORY_LIMIT (default 4GB, the limit dbt's profile uses too): past it
DuckDB spills to disk instead of growing to its default of 80% of the machine. `preserve_insertion_order`
stays on: the loaders number CSV rows by read order and copy rows in file order into the raw tables.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock")


@contextmanager
def exclusive(db_path: Path) -> Iterator[None]:
    """Hold the database's writer lock (blocks until free). Use around anything that opens the file."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path(db_path), "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextmanager
def connect(db_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the database under the writer lock, with UTC as the session time zone and a memory limit."""
    with exclusive(db_path):
        con = duckdb.connect(str(db_path))
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.execute("SET memory_limit = ?", [os.environ.get("CTSW_DUCKDB_MEMORY_LIMIT", "4GB")])
            yield con
        finally:
            con.close()


def has_table(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    """Whether `schema.name` exists (a model that never fitted, or a source never loaded, leaves none)."""
    return bool(con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?", [schema, name]
    ).fetchone()[0])
