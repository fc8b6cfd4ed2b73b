import dagster as dg

from orchestration.defs.models.assets import ai_effect, capacity, cts_drivers

defs = dg.Definitions(assets=[ai_effect, cts_drivers, capacity])
