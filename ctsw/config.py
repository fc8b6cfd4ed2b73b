"""Where ctsw reads and writes, from environment variables with defaults relative to the working directory."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"

# The first week Dagster offers as a partition (a Monday). The simulator starts here by default too.
DEFAULT_START_WEEK = "2024-01-01"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    landing_dir: Path
    duckdb_path: Path
    start_week: str
    pseudonym_key_file: Path

    @classmethod
    def from_env(cls) -> Settings:
        data_dir = Path(os.environ.get("CTSW_DATA_DIR", "data")).resolve()
        return cls(
            data_dir=data_dir,
            landing_dir=Path(os.environ.get("CTSW_LANDING_DIR", data_dir / "landing")).resolve(),
            duckdb_path=Path(os.environ.get("CTSW_DUCKDB_PATH", data_dir / "ctsw.duckdb")).resolve(),
            start_week=os.environ.get("CTSW_START_WEEK", DEFAULT_START_WEEK),
            pseudonym_key_file=Path(
                os.environ.get("CTSW_PSEUDONYM_KEY_FILE", data_dir / ".pseudonym.key")
            ).resolve(),
        )
