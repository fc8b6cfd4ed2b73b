"""Resources shared by every stage: where the data lives, and the locked DuckDB connection."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path

import dagster as dg
import duckdb

from ctsw import db
from ctsw.config import Settings
from ctsw.ingest.load import Window


class CtswResource(dg.ConfigurableResource):
    """Paths of the DuckDB file, the landing folder and the pseudonym key (defaults from CTSW_* env vars)."""

    duckdb_path: str
    landing_dir: str
    pseudonym_key_file: str

    @classmethod
    def from_settings(cls, settings: Settings) -> CtswResource:
        return cls(
            duckdb_path=str(settings.duckdb_path),
            landing_dir=str(settings.landing_dir),
            pseudonym_key_file=str(settings.pseudonym_key_file),
        )

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with db.connect(Path(self.duckdb_path)) as con:
            yield con

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with db.exclusive(Path(self.duckdb_path)):
            yield


def utc_window(tw: dg.TimeWindow) -> Window:
    """Dagster's time-zone-aware window as the naive-UTC window the raw tables use."""
    return Window(
        start=tw.start.astimezone(UTC).replace(tzinfo=None),
        end=tw.end.astimezone(UTC).replace(tzinfo=None),
    )


SETTINGS = Settings.from_env()
# dbt's profile reads the database path from the environment; keep it equal to the resource's.
os.environ.setdefault("CTSW_DUCKDB_PATH", str(SETTINGS.duckdb_path))
CTSW = CtswResource.from_settings(SETTINGS)
