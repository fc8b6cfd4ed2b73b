"""The single Dagster entry point: every stage's definitions, merged, with the shared resources."""

import dagster as dg

from orchestration.defs import automation, ingest, models, quality, transform
from orchestration.resources import CTSW

defs = dg.Definitions.merge(
    ingest.defs,
    transform.defs,
    quality.defs,
    models.defs,
    automation.defs,
    dg.Definitions(resources={"ctsw": CTSW}, executor=dg.in_process_executor),
)
