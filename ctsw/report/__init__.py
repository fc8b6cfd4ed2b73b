"""The HTML report: CTS-SW, DORA keys, drivers, AI adoption and its effect, capacity freed, data quality."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from ctsw.report.data import CheckResult, NoPanelError, ReportData, load, min_team_builders
from ctsw.report.render import Rendered, render

__all__ = ["CheckResult", "NoPanelError", "Report", "ReportData", "build", "default_path", "min_team_builders"]


@dataclass
class Report:
    path: Path
    data: ReportData
    rendered: Rendered


def default_path(data_dir: Path, as_of: date) -> Path:
    return data_dir / "reports" / f"ctsw-report-{as_of}.html"


def build(con: duckdb.DuckDBPyConnection, out: Path | None, data_dir: Path, as_of: date | None = None,
          min_builders: int | None = None, landing_dir: Path | None = None,
          checks: list[CheckResult] | None = None) -> Report:
    """Read the database for `as_of` (default: latest model results), render and write the HTML file."""
    data = load(con, as_of, min_builders, landing_dir, checks)
    rendered = render(data)
    path = out or default_path(data_dir, data.as_of)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(rendered.html, encoding="utf-8")
    tmp.replace(path)  # a reader never sees half a report
    return Report(path, data, rendered)
