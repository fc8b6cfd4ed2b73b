"""What every asset carries for the catalog: an owner and references to its code (SQL and Python).

CTSW_OWNER (default `team:devex`) owns every asset that names no owner of its own. Python assets point to the
function that computes them; dbt assets to their SQL file (dagster-dbt) and to the function that runs dbt. With
CTSW_CODE_URL set (e.g. https://github.com/acme/ctsw/blob/main) the references become links to the repository.
"""

import os

import dagster as dg
from dagster_shared.record import copy  # Definitions is an immutable record: a copy with the annotated assets

from ctsw.config import PROJECT_ROOT

DEFAULT_OWNER = "team:devex"


def owner() -> str:
    return os.environ.get("CTSW_OWNER", "").strip() or DEFAULT_OWNER


def annotate(defs: dg.Definitions) -> dg.Definitions:
    assets = dg.with_source_code_references(list(defs.assets or []))
    url = os.environ.get("CTSW_CODE_URL", "").strip().rstrip("/")
    if url:
        assets = dg.link_code_references_to_git(
            assets, git_url=url.rsplit("/blob/", 1)[0], git_branch=url.rsplit("/blob/", 1)[1] if "/blob/" in url
            else "main", file_path_mapping=dg.AnchorBasedFilePathMapping(
                local_file_anchor=PROJECT_ROOT, file_anchor_path_in_repository=""))
    who = owner()
    return copy(defs, assets=assets).map_asset_specs(
        func=lambda spec: spec if spec.owners else spec.replace_attributes(owners=[who]))
