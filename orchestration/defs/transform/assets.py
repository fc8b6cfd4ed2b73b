"""dbt models as weekly-partitioned assets: one `dbt build` per run over the run's whole window."""

import json
from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

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
        yield from dbt.cli(args, context=context).stream()
