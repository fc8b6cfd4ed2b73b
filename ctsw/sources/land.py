"""Run one configured source: extract with its adapter, write its landing files and its coverage record.

The Dagster source assets (orchestration/defs/sources) and `ctsw git` / `ctsw sources --land` all call
`land_source`, so a source lands the same files whichever way it runs.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ctsw.contract import TABLES
from ctsw.sources import exports
from ctsw.sources.config import SourcesConfigError, SourceSpec
from ctsw.sources.coverage import coverage_record, write_coverage
from ctsw.sources.git import extract_git
from ctsw.sources.gitlog import GitError
from ctsw.sources.landing import write_landing


@dataclass
class Landed:
    """What one source run wrote."""

    source: str
    kind: str
    inputs: list[str]
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows landed
    files: dict[str, Path | None] = field(default_factory=dict)  # table -> file (None: empty, file removed)
    coverage_file: Path | None = None
    coverage: dict[str, Any] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def resolve_inputs(spec: SourceSpec, patterns: tuple[Path, ...] | None = None, field_name: str | None = None
                   ) -> list[Path]:
    """Inputs that exist: repositories as given, export paths with glob patterns expanded (sorted)."""
    patterns = spec.inputs if patterns is None else patterns
    field_name = field_name or spec.input_field
    out: list[Path] = []
    for p in patterns:
        text = str(p)
        if spec.kind != "git" and glob.has_magic(text):
            hits = sorted(Path(h) for h in glob.glob(text, recursive=True) if Path(h).is_file())
            if not hits:
                raise SourcesConfigError(f"{spec.where(field_name)}: no file matches {text}")
            out.extend(hits)
            continue
        if not p.exists():
            raise SourcesConfigError(f"{spec.where(field_name)}: {p} does not exist")
        if spec.kind != "git" and not p.is_file():
            raise SourcesConfigError(f"{spec.where(field_name)}: {p} is not a file")
        out.append(p)
    return out


def _payloads(paths: list[Path], spec: SourceSpec, field_name: str) -> list[dict]:
    items: list[dict] = []
    for p in paths:
        try:
            items.extend(exports.load_payloads(p))
        except (ValueError, OSError) as e:
            raise SourcesConfigError(f"{spec.where(field_name)}: cannot read {p}: {e}") from None
    return items


def extract(spec: SourceSpec) -> dict[str, pd.DataFrame]:
    """The contract tables the source produces (all of them, before `spec.tables` selects what lands)."""
    paths = resolve_inputs(spec)
    cfg = spec.config
    if spec.kind == "git":
        try:
            return extract_git(paths, cfg)  # type: ignore[arg-type]
        except GitError as e:
            raise SourcesConfigError(f"{spec.where('repos')}: {e}") from None
    if spec.kind == "hr_roster":
        try:
            frame = pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False) for p in paths], ignore_index=True)
        except (ValueError, OSError) as e:
            raise SourcesConfigError(f"{spec.where('path')}: cannot read the roster: {e}") from None
        try:
            return exports.extract_hr_roster(frame, cfg)  # type: ignore[arg-type]
        except ValueError as e:
            raise SourcesConfigError(f"{spec.where('path')}: {e}") from None
    items = _payloads(paths, spec, "path")
    if spec.kind == "github_pull_requests":
        return exports.extract_github_pull_requests(items, cfg)  # type: ignore[arg-type]
    if spec.kind == "github_deployments":
        if spec.payload == "devlake":
            return exports.extract_devlake_deployments(items, cfg)  # type: ignore[arg-type]
        statuses = _payloads(resolve_inputs(spec, spec.statuses, "statuses"), spec, "statuses") \
            if spec.statuses else None
        return exports.extract_github_deployments(items, statuses, cfg)  # type: ignore[arg-type]
    if spec.kind == "pagerduty":
        return exports.extract_pagerduty_incidents(items, cfg)  # type: ignore[arg-type]
    if spec.kind == "opsgenie":
        fn = exports.extract_opsgenie_alerts if spec.payload == "alerts" else exports.extract_opsgenie_incidents
        return fn(items, cfg)  # type: ignore[arg-type]
    if spec.kind == "copilot_seats":
        return exports.extract_copilot_seats(items, cfg)  # type: ignore[arg-type]
    raise SourcesConfigError(f"{spec.where('kind')}: no adapter for kind {spec.kind!r}")  # pragma: no cover


def land_source(spec: SourceSpec, landing_dir: Path, frames: dict[str, pd.DataFrame] | None = None) -> Landed:
    """Extract (unless `frames` are given) and write `landing/<table>/<name>_<table>.parquet` for the selected
    tables, plus `landing/_sources/<name>.json`. Tables the source produces but is not to land get their stale
    files removed, so the landing folder mirrors the configuration."""
    landing_dir = Path(landing_dir)
    frames = extract(spec) if frames is None else frames
    selected = {t: frames.get(t) if t in spec.tables else pd.DataFrame(columns=list(TABLES[t].column_names))
                for t in frames}
    written = write_landing(selected, landing_dir, source=spec.name)
    landed = {t: selected[t] for t in spec.tables if t in selected}
    inputs = [str(p) for p in spec.inputs]
    record = coverage_record(spec.name, spec.kind, inputs, landed, written, spec.payload, landing_dir)
    result = Landed(source=spec.name, kind=spec.kind, inputs=inputs,
                    rows={t: int(len(df)) for t, df in landed.items()},
                    files={t: written.get(t) for t in landed}, coverage=record)
    result.coverage_file = write_coverage(landing_dir, record)
    return result
