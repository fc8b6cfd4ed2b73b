"""Data-quality checks as Dagster asset checks.

* `marts/fct_team_weeks`: the Great Expectations panel suite and three sanity checks against the raw layer
  (coverage of staffed team-weeks, builder FTE from the roster, week totals against raw counts). All are
  blocking: the models never fit a panel that failed one.
* `raw/<table>`: the table's GE suite and the quarantine, per week partition like the loader (snapshot tables
  unpartitioned). They warn and never block: the loader has already kept bad rows out, so these make what it
  found visible in the UI (counts by reason, sample rows with file and row).
"""

import dagster as dg

from ctsw.config import EXPECTATIONS_DIR
from ctsw.contract import TABLES, Table
from ctsw.quality.ge_runner import validate_dataframe
from ctsw.quality.panel_checks import PANEL_CHECKS
from ctsw.quality.raw_checks import quarantine_summary, raw_suite_result
from orchestration.partitions import DUCKDB_POOL, WEEKLY
from orchestration.resources import CtswResource, utc_window

PANEL_KEY = dg.AssetKey(["marts", "fct_team_weeks"])
RAW_SUITE_CHECK = "great_expectations_raw_suite"
QUARANTINE_CHECK = "no_quarantined_rows"


@dg.asset_check(
    asset=PANEL_KEY,
    name="great_expectations_panel_suite",
    description="expectations/fct_team_weeks.json on the run's weeks; error-severity failures block the models.",
    blocking=True,
    partitions_def=WEEKLY,
    pool=DUCKDB_POOL,
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


@dg.multi_asset_check(
    name="panel_sanity_checks",
    description="The panel against the raw layer, recomputed in SQL (ctsw/quality/panel_checks.py); blocking.",
    specs=[
        dg.AssetCheckSpec(name, asset=PANEL_KEY, description=description, blocking=True, partitions_def=WEEKLY)
        for name, (_, description) in PANEL_CHECKS.items()
    ],
    pool=DUCKDB_POOL,
)
def panel_sanity(context: dg.AssetCheckExecutionContext, ctsw: CtswResource):
    w = utc_window(context.partition_time_window)
    with ctsw.connect() as con:
        outcomes = {name: check(con, w) for name, (check, _) in PANEL_CHECKS.items()}
    for name, outcome in outcomes.items():
        yield dg.AssetCheckResult(asset_key=PANEL_KEY, check_name=name, passed=outcome.passed,
                                  severity=dg.AssetCheckSeverity.ERROR, metadata=outcome.metadata)


def raw_checks(table: Table) -> dg.AssetChecksDefinition:
    """The GE suite and the quarantine of one raw table, for the run's weeks (the whole table for snapshots)."""
    key = dg.AssetKey(["raw", table.name])
    partitions_def = WEEKLY if table.partition_column else None
    scope = "the run's weeks" if partitions_def else "the whole table"

    @dg.multi_asset_check(
        name=f"raw_{table.name}_checks",
        description=f"raw.{table.name}: GE suite and quarantine on {scope}; warnings, never blocking.",
        specs=[
            dg.AssetCheckSpec(
                RAW_SUITE_CHECK, asset=key, partitions_def=partitions_def,
                description=f"expectations/raw_{table.name}.json on {scope}. The loader quarantines rows that "
                "break the contract, so a failure here means a loader rule and the suite disagree (warning).",
            ),
            dg.AssetCheckSpec(
                QUARANTINE_CHECK, asset=key, partitions_def=partitions_def,
                description=f"Rows of {scope} the loader quarantined (raw.quarantine): counts by reason, field "
                "and file, and sample rows. Warns when there are any; fix them in the landing files.",
            ),
        ],
        pool=DUCKDB_POOL,
    )
    def _checks(context: dg.AssetCheckExecutionContext, ctsw: CtswResource):
        window = utc_window(context.partition_time_window) if partitions_def else None
        with ctsw.connect() as con:
            suite = raw_suite_result(con, table.name, window)
            quarantine = quarantine_summary(con, table.name, window)
        yield dg.AssetCheckResult(
            asset_key=key, check_name=RAW_SUITE_CHECK, passed=suite.success, severity=dg.AssetCheckSeverity.WARN,
            metadata=suite.to_metadata(),
        )
        if quarantine.rows:
            context.log.warning(f"raw.{table.name}: {quarantine.rows} quarantined row(s): {quarantine.by_reason}")
        yield dg.AssetCheckResult(
            asset_key=key, check_name=QUARANTINE_CHECK, passed=quarantine.rows == 0,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={**quarantine.to_metadata(), "sample_rows": dg.MetadataValue.md(quarantine.sample_markdown())},
        )

    return _checks


RAW_CHECKS = [raw_checks(t) for t in TABLES.values()]
PANEL_CHECK_DEFS = [panel_suite, panel_sanity]
