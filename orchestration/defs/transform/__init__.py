import dagster as dg
from dagster_dbt import DbtCliResource

from orchestration.defs.transform.assets import ctsw_dbt_models
from orchestration.defs.transform.project import DBT_PROJECT

defs = dg.Definitions(assets=[ctsw_dbt_models], resources={"dbt": DbtCliResource(project_dir=DBT_PROJECT)})
