"""Fixtures shared by the loader tests: a landing folder with two teams and a UTC DuckDB connection."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

TEAMS_CSV = """team_id,team_name,org,architecture,delivery_unit
t1,Alpha,o1,service,
t2,Beta,o1,monolith,pull_request
"""


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    land = tmp_path / "landing"
    write(land / "teams" / "teams.csv", TEAMS_CSV)
    return land


@pytest.fixture
def con(tmp_path: Path):
    c = duckdb.connect(str(tmp_path / "t.duckdb"))
    c.execute("SET TimeZone = 'UTC'")
    yield c
    c.close()
