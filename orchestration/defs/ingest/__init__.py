import dagster as dg

from orchestration.defs.ingest.assets import RAW_ASSETS

defs = dg.Definitions(assets=RAW_ASSETS)
