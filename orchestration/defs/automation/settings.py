"""Automation settings from environment variables, checked when the definitions load."""

import os
from dataclasses import dataclass
from datetime import timedelta

import dagster as dg


class AutomationConfigError(ValueError):
    """A CTSW_* automation variable has a value ctsw cannot use; the message says which and what is allowed."""


def _int(name: str, default: int, low: int, high: int, meaning: str) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise AutomationConfigError(f"{name}={raw!r}: expected a whole number of {meaning}") from None
    if not low <= value <= high:
        raise AutomationConfigError(f"{name}={value}: expected {low}..{high} {meaning}")
    return value


@dataclass(frozen=True)
class AutomationSettings:
    grace_hours: int  # after the week closes (Monday 00:00 UTC) before the schedule runs it
    lookback_weeks: int  # weeks before the closed one that the schedule re-runs (late data)
    sensor_interval_seconds: int
    settle_seconds: int  # a landing file changed more recently than this is left for the next tick
    running_by_default: bool

    @classmethod
    def from_env(cls) -> "AutomationSettings":
        switch = os.environ.get("CTSW_AUTOMATION", "off").strip().lower()
        if switch not in ("on", "off"):
            raise AutomationConfigError(f"CTSW_AUTOMATION={switch!r}: expected on or off")
        return cls(
            grace_hours=_int("CTSW_SCHEDULE_GRACE_HOURS", 30, 0, 167, "hours after Monday 00:00 UTC"),
            lookback_weeks=_int("CTSW_LOOKBACK_WEEKS", 2, 0, 52, "weeks"),
            sensor_interval_seconds=_int("CTSW_SENSOR_INTERVAL_SECONDS", 60, 5, 86400, "seconds"),
            settle_seconds=_int("CTSW_SENSOR_SETTLE_SECONDS", 30, 0, 86400, "seconds"),
            running_by_default=switch == "on",
        )

    @property
    def grace(self) -> timedelta:
        return timedelta(hours=self.grace_hours)

    @property
    def cron(self) -> str:
        """Weekly cron for Monday 00:00 UTC + grace: 30 hours (the default) is Tuesday 06:00."""
        days, hour = divmod(self.grace_hours, 24)
        return f"0 {hour} * * {(1 + days) % 7}"

    @property
    def default_status(self) -> dg.DefaultScheduleStatus:
        return dg.DefaultScheduleStatus.RUNNING if self.running_by_default else dg.DefaultScheduleStatus.STOPPED

    @property
    def default_sensor_status(self) -> dg.DefaultSensorStatus:
        return dg.DefaultSensorStatus.RUNNING if self.running_by_default else dg.DefaultSensorStatus.STOPPED
