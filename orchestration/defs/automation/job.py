"""The weekly job over every asset; schedules and sensors request it for a range of weeks."""

import dagster as dg

weekly_job = dg.define_asset_job(
    "ctsw_weekly",
    selection=dg.AssetSelection.all(),
    description="Load the week's telemetry, rebuild its panel rows, check them, refit the models and write the "
    "report. Request a range of weeks with the tags dagster/asset_partition_range_start and _end: one run.",
)
