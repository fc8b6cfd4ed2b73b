"""Source assets: one per source configured in `sources.toml`, running its adapter into the landing folder.

Each asset (key `sources/<name>`, group `sources`) extracts its source and writes the contract landing files the
raw loaders read (`landing/<table>/<name>_<table>.parquet`) plus a coverage record (`landing/_sources/<name>.json`).
They are unpartitioned: a source is re-extracted whole on every run (the loaders then replace the run's weeks).
No sources file, no source assets: the product runs on the files already in the landing folder.
"""

from pathlib import Path

import dagster as dg

from ctsw.sources.config import SourceSpec, load_sources
from ctsw.sources.land import land_source
from orchestration.partitions import SINGLE_RUN
from orchestration.resources import CtswResource

GROUP = "sources"
KIND_TAGS = {
    "git": "git",
    "github_pull_requests": "github",
    "github_deployments": "github",
    "pagerduty": "pagerduty",
    "opsgenie": "opsgenie",
    "copilot_seats": "github",
    "hr_roster": "csv",
}


def source_key(spec: SourceSpec) -> dg.AssetKey:
    return dg.AssetKey([GROUP, spec.name])


def source_asset(spec: SourceSpec) -> dg.AssetsDefinition:
    inputs = ", ".join(f"`{p}`" for p in spec.inputs)
    description = (
        f"Source `{spec.name}` ({spec.kind}): extracts {inputs} with the {spec.kind} adapter and lands "
        f"{', '.join(spec.tables)} in the landing folder for the raw loaders (configured in {spec.file})."
    )
    if spec.kind == "github_deployments" and spec.payload == "devlake":
        kinds = {"python", "devlake"}
    else:
        kinds = {"python", KIND_TAGS[spec.kind]}

    @dg.asset(
        key=source_key(spec),
        group_name=GROUP,
        kinds=kinds,
        description=description,
        metadata={"kind": spec.kind, "inputs": [str(p) for p in spec.inputs], "tables": list(spec.tables)},
        tags={"ctsw/source_kind": spec.kind},
        backfill_policy=SINGLE_RUN,  # like the snapshot loads: a partition-range run materialises it once
    )
    def _source(context: dg.AssetExecutionContext, ctsw: CtswResource) -> dg.MaterializeResult:
        landed = land_source(spec, Path(ctsw.landing_dir))
        unavailable = landed.coverage["unavailable"]
        context.log.info(f"{spec.name}: landed {landed.rows}")
        return dg.MaterializeResult(metadata={
            "dagster/row_count": landed.total_rows,
            **{f"rows/{t}": n for t, n in landed.rows.items()},
            "files": dg.MetadataValue.json({t: str(p) if p else None for t, p in landed.files.items()}),
            "coverage_file": str(landed.coverage_file),
            "unavailable_metrics": ", ".join(unavailable) or "none",
            "null_columns": dg.MetadataValue.json(
                {t: info["null_columns"] for t, info in landed.coverage["tables"].items() if info["null_columns"]}),
        })

    return _source


def build_source_assets(specs: list[SourceSpec]) -> list[dg.AssetsDefinition]:
    return [source_asset(s) for s in specs]


SOURCE_SPECS = load_sources()
SOURCE_ASSETS = build_source_assets(SOURCE_SPECS)


def source_deps(table_name: str, specs: list[SourceSpec] | None = None) -> list[dg.AssetKey]:
    """Keys of the source assets that land `table_name` (default: the configured sources).

    The raw load asset of the table lists them in its `deps`, so lineage shows where its files come from and a run
    lands the sources before loading. (Adding deps afterwards with `map_asset_specs` shows them in the graph but,
    in Dagster 1.13, does not order the steps of a multi-asset: declare them where the raw asset is defined.)
    """
    return [source_key(s) for s in (SOURCE_SPECS if specs is None else specs) if table_name in s.tables]

