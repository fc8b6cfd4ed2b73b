"""The single Dagster entry point: every stage's definitions, merged, with the shared resources."""

import dagster as dg

from orchestration.catalog import annotate
from orchestration.defs import automation, ingest, models, quality, transform
from orchestration.defs import report as report_stage
from orchestration.defs import sources as source_assets
from orchestration.resources import CTSW

# annotate: an owner and code references on every asset (orchestration/catalog.py)
defs = annotate(dg.Definitions.merge(
    source_assets.defs,
    ingest.defs,
    transform.defs,
    quality.defs,
    models.defs,
    report_stage.defs,
    automation.defs,
    dg.Definitions(resources={"ctsw": CTSW}, executor=dg.in_process_executor),
))
