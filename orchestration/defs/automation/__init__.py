"""The weekly job over every asset and its schedule."""

import dagster as dg

weekly_job = dg.define_asset_job(
    "ctsw_weekly",
    selection=dg.AssetSelection.all(),
    description="Load the week's telemetry, rebuild its panel rows, check them and refit the models.",
)
# Tuesday 06:00 UTC for the week that closed on Sunday: a day's grace for late-arriving data.
weekly_schedule = dg.build_schedule_from_partitioned_job(weekly_job, day_of_week=2, hour_of_day=6, minute_of_hour=0)

defs = dg.Definitions(jobs=[weekly_job], schedules=[weekly_schedule])
