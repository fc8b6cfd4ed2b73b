"""A backfill from Dagster's own CLI (`dagster asset materialize --select '*' --partition-range A...B`) over 10
weeks is one run, and dbt gets the whole range as its window."""

from __future__ import annotations

import json
import os
import re
from datetime import timedelta

import dagster as dg
import pytest
from ui.harness import FIRST, LAST, pipeline

from orchestration.partitions import WEEKLY

pytestmark = pytest.mark.slow

RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


@pytest.fixture(scope="module")
def run():
    return pipeline()


@pytest.fixture(scope="module")
def instance(run):
    # Opened as `dagster` and the UI open it, with DAGSTER_HOME naming the home (ctsw's event log finds its files
    # there).
    saved = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(run.home)
    try:
        with dg.DagsterInstance.get() as inst:
            yield inst
    finally:
        if saved is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = saved


def test_ten_weeks_are_one_run(run, instance):
    weeks = WEEKLY.get_partition_keys_in_range(dg.PartitionKeyRange(str(FIRST), str(LAST)))
    assert len(weeks) == 10
    runs = instance.get_runs()
    assert len(runs) == 1, [r.run_id for r in runs]
    r = runs[0]
    assert r.status == dg.DagsterRunStatus.SUCCESS
    assert (r.tags[RANGE_START], r.tags[RANGE_END]) == (str(FIRST), str(LAST))
    for key in (["marts", "fct_team_weeks"], ["raw", "pull_requests"], ["report", "ctsw_report"]):
        assert instance.get_materialized_partitions(dg.AssetKey(key)) == set(weeks), key


def test_dbt_gets_the_whole_range_as_its_window(run, instance):
    run_id = instance.get_runs()[0].run_id
    commands = [e.user_message for e in instance.all_logs(run_id) if "Running dbt command" in (e.user_message or "")]
    assert len(commands) == 1, commands  # one dbt build for the ten weeks
    window = json.loads(re.search(r"--vars (\{.*?\})", commands[0]).group(1))
    assert window == {"window_start": str(FIRST), "window_end": str(LAST + timedelta(weeks=1))}


def test_panel_materialisations_carry_column_lineage(run, instance):
    event = instance.get_latest_materialization_event(dg.AssetKey(["marts", "fct_team_weeks"]))
    meta = event.asset_materialization.metadata
    schema = meta["dagster/column_schema"].value
    assert {"team_id", "week_start", "cts_sw_usd"} <= {c.name for c in schema.columns}
    lineage = meta["dagster/column_lineage"].value
    deps = lineage.deps_by_column["cr_velocity"]
    assert deps, "cr_velocity should trace back to its upstream columns"


def test_report_plots_are_in_the_as_of_weeks_metadata_only(run, instance):
    key = dg.AssetKey(["report", "ctsw_report"])
    records = instance.fetch_materializations(key, limit=20).records
    by_week = {r.partition_key: r.asset_materialization.metadata for r in records}
    assert set(by_week) == {str(w) for w in WEEKLY.get_partition_keys_in_range(
        dg.PartitionKeyRange(str(FIRST), str(LAST)))}
    plots = [k for k in by_week[str(LAST)] if k.startswith("plot: ")]
    assert len(plots) >= 6
    assert "data:image/png;base64," in by_week[str(LAST)][plots[0]].value
    assert not any(k.startswith("plot: ") for k in by_week[str(FIRST)])
    assert by_week[str(LAST)]["as_of_week"].value == str(LAST)
