"""The Dagster definitions: they load, and their shape (assets, groups, partitions, checks, schedule) is what
the product promises. A snapshot of keys and groups makes an accidental change to the graph visible."""

import json
import os
from pathlib import Path

import dagster as dg
import pytest

# The product's own graph: no sources file means no source assets (tests/test_sources_* cover those).
os.environ["CTSW_SOURCES_FILE"] = "/nonexistent/sources.toml"

from ctsw.contract import TABLES  # noqa: E402
from orchestration.definitions import defs  # noqa: E402
from orchestration.defs.quality.checks import panel_suite  # noqa: E402
from orchestration.partitions import WEEKLY  # noqa: E402

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"


@pytest.fixture(scope="module")
def graph():
    defs.validate_loadable(defs)
    return defs.resolve_asset_graph()


def current_snapshot(graph) -> dict:
    return {
        k.to_user_string(): {
            "group": graph.get(k).group_name,
            "partitioned": graph.get(k).partitions_def is not None,
            "deps": sorted(p.to_user_string() for p in graph.get(k).parent_keys),
        }
        for k in sorted(graph.get_all_asset_keys())
    }


def test_asset_graph_matches_snapshot(graph):
    # Regenerate after an intended change: CTSW_UPDATE_SNAPSHOTS=1 pytest tests/test_definitions.py
    current = current_snapshot(graph)
    if os.environ.get("CTSW_UPDATE_SNAPSHOTS"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
    assert current == json.loads(SNAPSHOT.read_text())


def test_every_stage_has_its_group_and_descriptions(graph):
    groups = {graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert {"raw", "staging", "intermediate", "marts", "models"} <= groups
    for k in graph.get_all_asset_keys():
        node = graph.get(k)
        assert node.description, f"{k.to_user_string()} has no description"
        assert "duckdb" in node.kinds, k


def test_one_weekly_partitioning_with_single_run_backfills(graph):
    for k in graph.get_all_asset_keys():
        node = graph.get(k)
        table = TABLES.get(k.path[-1]) if k.path[0] == "raw" else None
        if table is not None and table.partition_column is None:
            assert node.partitions_def is None, k  # snapshot tables reload whole
            continue
        assert node.partitions_def == WEEKLY, k
        assert node.backfill_policy == dg.BackfillPolicy.single_run(), k
    keys = WEEKLY.get_partition_keys_in_range(dg.PartitionKeyRange("2024-01-01", "2024-01-15"))
    assert keys == ["2024-01-01", "2024-01-08", "2024-01-15"]  # Mondays, UTC


def test_panel_check_blocks_models_and_dbt_tests_are_checks(graph):
    panel = dg.AssetKey(["marts", "fct_team_weeks"])
    checks = {c for c in graph.asset_check_keys if c.asset_key == panel}
    names = {c.name for c in checks}
    assert "great_expectations_panel_suite" in names
    assert any("unique" in n for n in names), "dbt key tests should surface as asset checks"
    assert next(iter(panel_suite.check_specs)).blocking
    for model in ("ai_effect", "cts_drivers", "capacity_freed"):
        assert panel in graph.get(dg.AssetKey(["models", model])).parent_keys


def test_weekly_schedule_runs_tuesday_morning_for_the_closed_week():
    assert defs.resolve_job_def("ctsw_weekly").partitions_def == WEEKLY
    schedule = defs.resolve_schedule_def("ctsw_weekly_schedule")
    assert schedule.cron_schedule == "0 6 * * 2"
    assert schedule.execution_timezone in (None, "UTC")


def test_dbt_manifest_is_parsed_again_when_the_project_changed(tmp_path):
    from orchestration.defs.transform.project import manifest_is_stale

    (tmp_path / "models" / "marts").mkdir(parents=True)
    model = tmp_path / "models" / "marts" / "m.sql"
    model.write_text("select 1")
    (tmp_path / "dbt_project.yml").write_text("name: x")
    manifest = tmp_path / "target" / "manifest.json"
    assert manifest_is_stale(tmp_path, manifest)  # never parsed
    manifest.parent.mkdir()
    manifest.write_text("{}")
    os.utime(model, (1_000_000, 1_000_000))
    os.utime(tmp_path / "dbt_project.yml", (1_000_000, 1_000_000))
    assert not manifest_is_stale(tmp_path, manifest)
    os.utime(model)  # an upgrade rewrote a model after the manifest was parsed
    os.utime(manifest, (2_000_000, 2_000_000))
    assert manifest_is_stale(tmp_path, manifest)

