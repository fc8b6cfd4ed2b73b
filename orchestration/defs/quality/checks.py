"""Great Expectations suites as Dagster asset checks; the panel suite blocks the model assets."""

import dagster as dg

from ctsw.config import EXPECTATIONS_DIR
from ctsw.quality.ge_runner import validate_dataframe
from orchestration.partitions import WEEKLY
from orchestration.resources import CtswResource, utc_window

PANEL_KEY = dg.AssetKey(["marts", "fct_team_weeks"])


@dg.asset_check(
    asset=PANEL_KEY,
    name="great_expectations_panel_suite",
    description="expectations/fct_team_weeks.json on the run's weeks; error-severity failures block the models.",
    blocking=True,
    partitions_def=WEEKLY,
)
def panel_suite(context: dg.AssetCheckExecutionContext, ctsw: CtswResource) -> dg.AssetCheckResult:
    w = utc_window(context.partition_time_window)
    with ctsw.connect() as con:
        df = con.execute(
            "SELECT * FROM marts.fct_team_weeks WHERE week_start >= ? AND week_start < ?", [w.start, w.end]
        ).df()
    result = validate_dataframe(df, EXPECTATIONS_DIR / "fct_team_weeks.json", key_columns=["team_id", "week_start"])
    return dg.AssetCheckResult(
        passed=result.success,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"rows": len(df), **result.to_metadata()},
    )
