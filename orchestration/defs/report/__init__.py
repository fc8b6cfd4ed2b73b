import dagster as dg

from orchestration.defs.report.assets import report

defs = dg.Definitions(assets=[report])
