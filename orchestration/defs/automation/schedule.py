"""The weekly schedule: the week that just closed, after a grace period, plus the trailing weeks, as one run."""

from datetime import UTC, date, datetime

import dagster as dg

from orchestration.defs.automation.job import weekly_job
from orchestration.defs.automation.settings import AutomationSettings
from orchestration.defs.automation.weeks import closed_weeks, range_request
from orchestration.partitions import WEEKLY


def build_weekly_schedule(settings: AutomationSettings) -> dg.ScheduleDefinition:
    first_week = date.fromisoformat(WEEKLY.start.strftime("%Y-%m-%d"))

    @dg.schedule(
        name="ctsw_weekly_schedule",
        job=weekly_job,
        cron_schedule=settings.cron,
        execution_timezone="UTC",
        default_status=settings.default_status,
        description=(
            f"Every week, {settings.grace_hours} hours after the week closes (Monday 00:00 UTC; "
            f"CTSW_SCHEDULE_GRACE_HOURS), one run over the week that closed and the {settings.lookback_weeks} "
            "weeks before it (CTSW_LOOKBACK_WEEKS), so late-arriving data is picked up."),
    )
    def ctsw_weekly_schedule(context: dg.ScheduleEvaluationContext):
        now = context.scheduled_execution_time or datetime.now(UTC)
        weeks = closed_weeks(now, settings.grace, settings.lookback_weeks, first_week)
        if weeks is None:
            return dg.SkipReason(f"no week since {first_week} (CTSW_START_WEEK) has closed {settings.grace_hours} "
                                 f"hours before {now:%Y-%m-%d %H:%M} UTC")
        first, last = weeks
        return range_request(first, last, run_key=f"schedule:{first}..{last}", **{"ctsw/trigger": "schedule"})

    return ctsw_weekly_schedule
