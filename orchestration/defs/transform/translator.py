"""How dbt resources become Dagster assets: one translator for the whole project.

Groups by layer folder, kinds dbt + duckdb, the owner (CTSW_OWNER, default team:devex), code references to
each model's SQL file, dbt tests as asset checks, and a freshness policy on the team-week panel: it must be
rebuilt after each week closes (Monday 00:00 UTC) and before the weekly schedule's run is due to have finished.
"""

import functools
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

from orchestration.catalog import owner

LAYERS = ("staging", "intermediate", "marts")
PANEL_UNIQUE_ID = "model.ctsw.fct_team_weeks"
RUN_ALLOWANCE = timedelta(hours=6)  # how long after the schedule fires the weekly run may take


@functools.cache  # get_asset_spec runs for every dbt test result; building the cron policy took ~1% of a backfill
def panel_freshness(grace_hours: int) -> dg.FreshnessPolicy:
    """Fresh when materialised between the week's close (Monday 00:00 UTC) and schedule time + RUN_ALLOWANCE."""
    deadline = timedelta(hours=grace_hours) + RUN_ALLOWANCE
    days, rest = divmod(int(deadline.total_seconds()) // 3600, 24)
    return dg.FreshnessPolicy.cron(deadline_cron=f"0 {rest} * * {(1 + days) % 7}", lower_bound_delta=deadline,
                                   timezone="UTC")


class CtswDbtTranslator(DagsterDbtTranslator):
    def __init__(self) -> None:
        super().__init__(DagsterDbtTranslatorSettings(enable_asset_checks=True, enable_code_references=True))

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        spec = spec.replace_attributes(owners=[owner()])
        if unique_id == PANEL_UNIQUE_ID:
            from orchestration.defs.automation.settings import AutomationSettings

            spec = spec.replace_attributes(freshness_policy=panel_freshness(AutomationSettings.from_env().grace_hours))
        return spec

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        # Models are grouped by layer folder (models/<layer>/...); sources keep the raw loaders' group.
        fqn = dbt_resource_props.get("fqn", [])
        if dbt_resource_props.get("resource_type") == "source":
            return "raw"
        return next((layer for layer in LAYERS if layer in fqn), None)

    def get_kinds(self, dbt_resource_props: Mapping[str, Any]) -> set[str]:  # noqa: D102
        return {"dbt", "duckdb"}
