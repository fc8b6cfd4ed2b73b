import dagster as dg

from orchestration.defs.quality.checks import PANEL_CHECK_DEFS, RAW_CHECKS

defs = dg.Definitions(asset_checks=[*PANEL_CHECK_DEFS, *RAW_CHECKS])
