import dagster as dg

from orchestration.defs.quality.checks import panel_suite

defs = dg.Definitions(asset_checks=[panel_suite])
