"""The dbt project as Dagster sees it; the manifest is parsed again when missing or older than the project."""

from pathlib import Path

from dagster_dbt import DbtProject

from ctsw.config import DBT_PROJECT_DIR
from orchestration.resources import SETTINGS  # noqa: F401  (sets CTSW_DUCKDB_PATH for the dbt profile)

# What the manifest is parsed from (dbt_project.yml's model-, macro- and test-paths).
_PARSED_FROM = ("dbt_project.yml", "models", "macros", "tests")


def manifest_is_stale(project_dir: Path, manifest_path: Path) -> bool:
    """True when the manifest is missing or a project file changed after it was parsed.

    `prepare_if_dev` only re-parses under `dagster dev`; without this check a ctsw upgrade (git pull) would
    keep the old manifest's assets and checks: checks for removed tests never report and new models are missing.
    """
    if not manifest_path.exists():
        return True
    parsed_at = manifest_path.stat().st_mtime
    for name in _PARSED_FROM:
        path = project_dir / name
        files = [path] if path.is_file() else (p for p in path.rglob("*") if p.is_file())
        if any(f.stat().st_mtime > parsed_at for f in files):
            return True
    return False


DBT_PROJECT = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
if manifest_is_stale(Path(DBT_PROJECT.project_dir), Path(DBT_PROJECT.manifest_path)):
    DBT_PROJECT.preparer.prepare(DBT_PROJECT)
else:
    DBT_PROJECT.prepare_if_dev()
