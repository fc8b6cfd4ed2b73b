"""The one weekly partition definition: ISO weeks starting Monday 00:00 UTC."""

import warnings

import dagster as dg

from ctsw.config import Settings

# Backfill policies and partitioned asset checks are Dagster beta/preview APIs that this project relies on
# on purpose (single-run backfills, checks on the run's weeks); their warnings would drown the CLI output.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)

WEEKLY = dg.WeeklyPartitionsDefinition(
    start_date=Settings.from_env().start_week, day_offset=1, timezone="UTC"  # day_offset 1 = Monday
)
# A backfill over any range of weeks is one run; loaders and dbt get the whole range at once.
SINGLE_RUN = dg.BackfillPolicy.single_run()
# All DuckDB writers share one pool so steps never contend for the file (the file lock guards runs too).
DUCKDB_POOL = "duckdb"
