"""Dagster's SQLite event log without a new engine, connection and WAL checkpoint per event (proposal + A/B).

Dagster 1.13's `SqliteEventLogStorage._connect` creates an engine, opens a connection, commits and disposes the
engine for every event it stores (twice for asset events: the run shard and the index shard). Disposing closes
the last connection of the WAL database, which checkpoints it (fsync). A run over W weeks stores about two
events per asset and week (planned + materialised), so this cost grows with the number of weeks, not with the
data: ~17,000 events for a 5-year backfill.

`PooledSqliteEventLogStorage` keeps one engine per shard (its connections stay open in the pool: no checkpoint
per event) with `PRAGMA synchronous=NORMAL` (in WAL mode: durable across a crash of the process, not across a
power failure). It is a drop-in `event_log_storage` for dagster.yaml (see `DAGSTER_YAML` and
docs/performance.md); `patch()` applies the same change in-process, which `python -m bench.stage pipeline`
does when CTSW_BENCH_FAST_EVENT_LOG=1 to measure how much of a run the event log takes.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from dagster._core.storage.event_log.sqlite import sqlite_event_log as _mod
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

# What ctsw.runner.DAGSTER_YAML would add (`{home}` = the Dagster home); run and schedule storage stay SQLite.
DAGSTER_YAML = """\
run_storage:
  module: dagster._core.storage.runs
  class: SqliteRunStorage
  config:
    base_dir: {home}/history/
event_log_storage:
  module: bench.fast_event_log
  class: PooledSqliteEventLogStorage
  config:
    base_dir: {home}/history/runs/
schedule_storage:
  module: dagster._core.storage.schedules
  class: SqliteScheduleStorage
  config:
    base_dir: {home}/schedules/
"""


def _pooled_engine(storage: SqliteEventLogStorage, engines: dict[str, sa.Engine], shard: str) -> sa.Engine:
    engine = engines.get(shard)
    if engine is None:
        engine = sa.create_engine(
            storage.conn_string_for_shard(shard),
            connect_args={"timeout": _mod.SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        )

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001
            dbapi_conn.execute("PRAGMA synchronous=NORMAL")

        if shard not in storage._initialized_dbs:
            storage._initdb(engine)
            storage._initialized_dbs.add(shard)
        engines[shard] = engine
    return engine


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """SqliteEventLogStorage with one pooled engine per shard and synchronous=NORMAL (see the module docstring)."""

    def __init__(self, base_dir: str, inst_data=None) -> None:  # noqa: ANN001
        self._engines: dict[str, sa.Engine] = {}
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> PooledSqliteEventLogStorage:  # noqa: ANN001
        return cls(inst_data=inst_data, **config_value)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[sa.Connection]:
        with self._db_lock:
            with _pooled_engine(self, self._engines, shard).connect() as conn:
                with conn.begin():
                    yield conn

    def _dispose_engines(self) -> None:
        with self._db_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()

    def delete_events(self, run_id: str) -> None:
        super().delete_events(run_id)
        engine = self._engines.pop(run_id, None)
        if engine is not None:
            engine.dispose()

    def wipe(self) -> None:
        self._dispose_engines()
        super().wipe()

    def dispose(self) -> None:
        self._dispose_engines()
        super().dispose()


def patch() -> None:
    """Give every SqliteEventLogStorage of this process the pooled `_connect` (A/B measurements only)."""
    engines: dict[str, sa.Engine] = {}

    @contextmanager
    def _connect(self, shard: str) -> Iterator[sa.Connection]:
        with self._db_lock:
            with _pooled_engine(self, engines, shard).connect() as conn:
                with conn.begin():
                    yield conn

    SqliteEventLogStorage._connect = _connect


def write_dagster_yaml(home: str) -> None:
    """dagster.yaml using PooledSqliteEventLogStorage in `home` (A/B: CTSW_BENCH_FAST_EVENT_LOG=yaml)."""
    os.makedirs(home, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        os.remove(os.path.join(home, "dagster.yaml"))
    from ctsw.runner import DAGSTER_YAML as CTSW_YAML

    with open(os.path.join(home, "dagster.yaml"), "w") as fh:
        fh.write(CTSW_YAML + DAGSTER_YAML.format(home=os.path.abspath(home)))
