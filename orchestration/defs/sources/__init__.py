import dagster as dg

from orchestration.defs.sources.assets import SOURCE_ASSETS

defs = dg.Definitions(assets=SOURCE_ASSETS)
