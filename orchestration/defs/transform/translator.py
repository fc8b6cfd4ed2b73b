"""How dbt resources become Dagster assets: one translator for the whole project."""

from collections.abc import Mapping
from typing import Any

from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

LAYERS = ("staging", "intermediate", "marts")


class CtswDbtTranslator(DagsterDbtTranslator):
    def __init__(self) -> None:
        super().__init__(DagsterDbtTranslatorSettings(enable_asset_checks=True, enable_code_references=True))

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        # Models are grouped by layer folder (models/<layer>/...); sources keep the raw loaders' group.
        fqn = dbt_resource_props.get("fqn", [])
        if dbt_resource_props.get("resource_type") == "source":
            return "raw"
        return next((layer for layer in LAYERS if layer in fqn), None)

    def get_kinds(self, dbt_resource_props: Mapping[str, Any]) -> set[str]:  # noqa: D102
        return {"dbt", "duckdb"}
