import dagster as dg

from orchestration.defs.models.assets import ai_effect, ai_tool_effects, capacity, cts_drivers, event_study

defs = dg.Definitions(assets=[ai_effect, event_study, ai_tool_effects, cts_drivers, capacity])
