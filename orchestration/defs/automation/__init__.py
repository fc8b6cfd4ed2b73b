"""The weekly job, its schedule (the closed week plus trailing weeks) and the landing-folder sensor."""

import dagster as dg

from orchestration.defs.automation.job import weekly_job
from orchestration.defs.automation.schedule import build_weekly_schedule
from orchestration.defs.automation.sensor import build_landing_sensor
from orchestration.defs.automation.settings import AutomationSettings

SETTINGS = AutomationSettings.from_env()
weekly_schedule = build_weekly_schedule(SETTINGS)
landing_sensor = build_landing_sensor(SETTINGS)

defs = dg.Definitions(jobs=[weekly_job], schedules=[weekly_schedule], sensors=[landing_sensor])
