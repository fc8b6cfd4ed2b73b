"""dbt models as weekly-partitioned assets: one `dbt build` per run over the run's whole window."""

import json
from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets
from dagster_dbt.core.dbt_cli_invocation import DbtCliInvocation
from dagster_dbt.core.dbt_event_iterator import DbtEventIterator

from orchestration.defs.transform.project import DBT_PROJECT
from orchestration.defs.transform.translator import CtswDbtTranslator
from orchestration.partitions import DUCKDB_POOL, SINGLE_RUN, WEEKLY
from orchestration.resources import CtswResource, utc_window


def window_vars(tw: dg.TimeWindow) -> dict[str, str]:
    """The half-open window [window_start, window_end) the incremental marts recompute."""
    w = utc_window(tw)
    return {"window_start": f"{w.start:%Y-%m-%d}", "window_end": f"{w.end:%Y-%m-%d}"}


@dbt_assets(
    manifest=DBT_PROJECT.manifest_path,
    project=DBT_PROJECT,
    dagster_dbt_translator=CtswDbtTranslator(),
    partitions_def=WEEKLY,
    backfill_policy=SINGLE_RUN,
    pool=DUCKDB_POOL,
)
def ctsw_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, ctsw: CtswResource) -> Iterator[Any]:
    args = ["build", "--vars", json.dumps(window_vars(context.partition_time_window))]
    with ctsw.exclusive():  # dbt opens the DuckDB file itself: hold the writer lock for the whole build
        try:
            yield from with_column_metadata(dbt.cli(args, context=context))
        finally:
            close_dbt_duckdb()


def with_column_metadata(invocation: DbtCliInvocation) -> Iterator[Any]:
    """dbt's events with column schemas and column-level lineage (sqlglot) in the metadata, read after dbt exits.

    Same events as `invocation.stream().fetch_column_metadata()`, but dbt's output is read here, before the
    metadata thread pool starts: dagster's `imap` behind `fetch_column_metadata` polls its empty work queue
    without blocking while dbt runs (on DuckDB it waits for dbt to exit), which kept a core busy and slowed the
    thread reading dbt's output by holding the GIL. If dbt fails, what it built is still yielded, then the error.
    """
    events, error = [], None
    try:
        for event in invocation.stream():
            events.append(event)
    except Exception as exc:  # noqa: BLE001 - re-raised below, after the events dbt produced
        error = exc
    yield from DbtEventIterator(iter(events), invocation).fetch_column_metadata()
    if error is not None:
        raise error


def close_dbt_duckdb() -> None:
    """Close the DuckDB database dagster-dbt's in-process adapter opened to read column metadata.

    Left open, it holds the file past the writer lock, and the next step's connection (different settings)
    fails with "Can't open a connection to same database file with a different configuration".
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        env, DuckDBConnectionManager._ENV = DuckDBConnectionManager._ENV, None
        if env is not None:
            env.close()
