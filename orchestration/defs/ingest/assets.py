"""Raw load assets: one per contract table, loading landing files into `raw.<table>`."""

from pathlib import Path

import dagster as dg

from ctsw.contract import TABLES, Table
from ctsw.ingest.load import landing_files, load_table
from ctsw.ingest.pseudonym import load_or_create_key
from orchestration.defs.sources.assets import source_deps
from orchestration.partitions import DUCKDB_POOL, SINGLE_RUN, WEEKLY
from orchestration.resources import CtswResource, utc_window

TEAMS_KEY = dg.AssetKey(["raw", "teams"])


# Written by the deployments loader from each deployment's pr_ids (dbt reads it as a source).
BRIDGE = "deployment_pull_requests"


def raw_asset(table: Table) -> dg.AssetsDefinition:
    """Snapshot tables reload whole; event tables replace the run's weeks (one transaction either way)."""
    partitioned = table.partition_column is not None
    description = f"{table.description} Loaded from `<landing>/{table.name}/`" + (
        f"; week partitions select rows by `{table.partition_column}`." if partitioned else "."
    )
    common = dict(
        group_name="raw",
        kinds={"duckdb", "python"},
        # rows are checked against known teams; configured sources land the files first
        deps=([] if table.name == "teams" else [TEAMS_KEY]) + source_deps(table.name),
    )
    specs = [dg.AssetSpec(key=["raw", table.name], description=description, **common)]
    if table.name == "deployments":
        specs.append(dg.AssetSpec(key=["raw", BRIDGE], description="Which PRs each deployment shipped "
                                  "(one row per deployment and PR), split from `deployments.pr_ids`.", **common))

    @dg.multi_asset(
        name=f"load_{table.name}",
        specs=specs,
        partitions_def=WEEKLY if partitioned else None,
        backfill_policy=SINGLE_RUN,  # snapshot tables too: `dagster asset materialize --partition-range` needs it
        pool=DUCKDB_POOL,
    )
    def _load(context: dg.AssetExecutionContext, ctsw: CtswResource):
        landing = Path(ctsw.landing_dir)
        files = landing_files(landing, table.name)
        window = utc_window(context.partition_time_window) if partitioned else None
        key = load_or_create_key(Path(ctsw.pseudonym_key_file))
        with ctsw.connect() as con:
            result = load_table(con, table.name, files, window, key, landing_dir=landing)
        if result.rows_quarantined:
            context.log.warning(f"{table.name}: {result.rows_quarantined} rows quarantined: "
                                f"{result.quarantine_reasons}")
        yield dg.MaterializeResult(
            asset_key=specs[0].key, metadata={"dagster/row_count": result.rows_loaded, **result.as_metadata()}
        )
        for extra in specs[1:]:
            yield dg.MaterializeResult(asset_key=extra.key)

    return _load


RAW_ASSETS = [raw_asset(t) for t in TABLES.values()]
