"""The dbt project as Dagster sees it; the manifest is parsed on first load when missing."""

from dagster_dbt import DbtProject

from ctsw.config import DBT_PROJECT_DIR
from orchestration.resources import SETTINGS  # noqa: F401  (sets CTSW_DUCKDB_PATH for the dbt profile)

DBT_PROJECT = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
if DBT_PROJECT.manifest_path.exists():
    DBT_PROJECT.prepare_if_dev()
else:
    DBT_PROJECT.preparer.prepare(DBT_PROJECT)
