"""Dagster's SQLite event log without a new engine, connection and WAL checkpoint per event.

Dagster 1.13's `SqliteEventLogStorage._connect` creates an engine, connects, commits and disposes the engine for
every event it stores, and again for the index shard for asset and check events. Closing the last connection of a
WAL database checkpoints it (copy + fsync), so a run pays a checkpoint per event. A backfill stores about one
materialisation per asset and week: ~6,000 events for 24 dbt models over 259 weeks.

`PooledSqliteEventLogStorage` keeps one pooled engine per shard (the index and the few most recent runs) and sets
`PRAGMA synchronous=NORMAL`. Durability trade-off, SQLite's documented one for WAL mode: a committed event
survives a crash of the process, but the last events before a power failure or OS crash may be lost; the
database stays consistent either way. Dagster's event log is a record of runs, not the data: the DuckDB file
and the marts are written by their own connections and are unaffected.

The UI follows a live run by watching `<run_id>.db` for changes, which with WAL happen only at a checkpoint, so a
run's shard is checkpointed after a step or the run starts or ends, and otherwise at most every
CHECKPOINT_INTERVAL_S seconds after a write: a live log may lag until the next write or step boundary (new events
are in the WAL and read at once by any query; only the file-change notification waits), for a few checkpoints per
step instead of one per event.

Used by the dagster.yaml that ctsw.runner writes for a new Dagster home (`event_log_storage`).
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import dagster as dg
import sqlalchemy as sa
from dagster import DagsterEventType, EventLogEntry
from dagster._core.events import EVENT_TYPE_TO_PIPELINE_RUN_STATUS
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)

CHECKPOINT_INTERVAL_S = 1.0
# shown in the UI at once: a step or the run starting and ending (a few per step, not one per asset and week)
CHECKPOINT_NOW = {*EVENT_TYPE_TO_PIPELINE_RUN_STATUS, DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS,
                  DagsterEventType.STEP_FAILURE}
MAX_RUN_ENGINES = 4  # a webserver reads many runs: keep only the latest few shards' connections open


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """SqliteEventLogStorage with pooled engines per shard and synchronous=NORMAL (see the module docstring)."""

    def __init__(self, base_dir: str, inst_data=None) -> None:  # noqa: ANN001
        self._engines: OrderedDict[str, sa.Engine] = OrderedDict()
        self._checkpointed: dict[str, float] = {}
        self._batch: dict[str, sa.Connection] | None = None  # open transactions per shard while storing a batch
        self._batch_thread: int | None = None
        super().__init__(base_dir, inst_data)

    @classmethod
    def config_type(cls) -> dict:
        return {"base_dir": dg.Field(dg.StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> PooledSqliteEventLogStorage:  # noqa: ANN001
        """Without `base_dir`, Dagster's default place in the home: a copied or moved home keeps its own log."""
        base_dir = config_value.get("base_dir")
        if base_dir is None:
            home = os.environ.get("DAGSTER_HOME")
            if not home:
                raise dg.DagsterInvariantViolationError("PooledSqliteEventLogStorage without base_dir needs "
                                                        "DAGSTER_HOME set to the Dagster home")
            base_dir = os.path.join(home, "history", "runs")
        return cls(base_dir, inst_data=inst_data)

    def _engine(self, shard: str) -> sa.Engine:
        engine = self._engines.get(shard)
        if engine is not None:
            self._engines.move_to_end(shard)
            return engine
        conn_string = self.conn_string_for_shard(shard)
        if shard not in self._initialized_dbs:  # Dagster's own schema set-up, on a throwaway engine as it expects
            init_engine = sa.create_engine(conn_string, poolclass=sa.pool.NullPool,
                                           connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
            self._initdb(init_engine)
            init_engine.dispose()
            self._initialized_dbs.add(shard)
        engine = sa.create_engine(
            conn_string,
            # one connection, used by one thread at a time under _db_lock (the UI's watcher thread included)
            poolclass=sa.pool.QueuePool,
            pool_size=1,
            max_overflow=0,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        )
        sa.event.listen(engine, "connect", lambda dbapi_conn, _: dbapi_conn.execute("PRAGMA synchronous=NORMAL"))
        self._engines[shard] = engine
        run_shards = [s for s in self._engines if s != INDEX_SHARD_NAME]
        for old in run_shards[:-MAX_RUN_ENGINES]:
            self._engines.pop(old).dispose()  # closing the last connection checkpoints the shard
            self._checkpointed.pop(old, None)
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[sa.Connection]:
        if self._batch is not None and self._batch_thread == threading.get_ident():
            conn = self._batch.get(shard)  # inside store_event_batch: the batch's transaction on this shard
            if conn is None:
                conn = self._batch[shard] = self._engine(shard).connect()
                conn.begin()
            yield conn
            return
        with self._db_lock:
            with self._engine(shard).connect() as conn:
                with conn.begin():
                    yield conn

    def store_event(self, event: EventLogEntry) -> None:
        super().store_event(event)
        if self._batch_thread != threading.get_ident():  # a batch checkpoints once, when it has committed
            self._checkpoint_if_due(event.run_id, event.dagster_event_type in CHECKPOINT_NOW)

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """One transaction per shard for the batch (Dagster batches the planned events of a run and the
        materialisations of one output over many partitions when DAGSTER_EVENT_BATCH_SIZE > 0, which
        ctsw.runner sets). All or nothing: on an error Dagster stores the batch's events one by one."""
        with self._db_lock:
            self._batch, self._batch_thread = {}, threading.get_ident()
            try:
                for event in events:
                    self.store_event(event)
                for conn in self._batch.values():
                    conn.commit()
            finally:
                for conn in self._batch.values():
                    conn.close()  # rolls back what was not committed
                self._batch, self._batch_thread = None, None
        for run_id in {e.run_id for e in events}:
            self._checkpoint_if_due(run_id, any(e.dagster_event_type in CHECKPOINT_NOW for e in events))

    def _checkpoint_if_due(self, run_id: str, now_anyway: bool) -> None:
        now = time.monotonic()
        if not now_anyway and now - self._checkpointed.get(run_id, 0.0) < CHECKPOINT_INTERVAL_S:
            return
        self._checkpointed[run_id] = now
        with self._db_lock, self._engine(run_id).connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def _dispose_engines(self) -> None:
        with self._db_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()
            self._checkpointed.clear()

    def wipe(self) -> None:
        self._dispose_engines()
        super().wipe()

    def dispose(self) -> None:
        self._dispose_engines()
        super().dispose()
