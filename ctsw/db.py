"""DuckDB access with one writer at a time.

DuckDB allows a single process to hold a database file open for writing; a second process fails with a lock
error. Every ctsw writer (loaders, dbt, model assets, the CLI) takes an exclusive advisory lock on a sidecar
file first, so concurrent runs queue instead of failing.
"""

from __future__ import annotations

import fcntl
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
    """Open the database under the writer lock, with UTC as the session time zone."""
    with exclusive(db_path):
        con = duckdb.connect(str(db_path))
        try:
            con.execute("SET TimeZone = 'UTC'")
            yield con
        finally:
            con.close()
