"""Which real sources to extract: `sources.toml`, parsed into adapter configurations.

The file is `$CTSW_SOURCES_FILE`, default `<data dir>/sources.toml`; without it no source is configured and the
pipeline runs on whatever is in the landing folder. Each `[[sources]]` entry names an adapter (`kind`), its
inputs (`repos` for git, `path` for exports; relative paths are relative to the file) and any field of the
adapter's configuration dataclass (`GitSourceConfig` for git, `ExportConfig` for every export). Errors name the
file, the source and the field. docs/sources.md has a commented example.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctsw.config import Settings
from ctsw.sources.exports import ExportConfig
from ctsw.sources.git import GIT_TABLES, GitSourceConfig

SOURCES_FILE_ENV = "CTSW_SOURCES_FILE"

# kind -> the contract tables its adapter produces
KIND_TABLES: dict[str, tuple[str, ...]] = {
    "git": GIT_TABLES,
    "github_pull_requests": ("pull_requests",),
    "github_deployments": ("deployments",),
    "pagerduty": ("pages",),
    "opsgenie": ("pages",),
    "copilot_seats": ("ai_tool_usage",),
    "hr_roster": ("teams", "memberships"),
}
KINDS = tuple(KIND_TABLES)
# `payload`: which shape of export the file holds (first = default)
PAYLOADS: dict[str, tuple[str, ...]] = {
    "github_deployments": ("github", "devlake"),
    "opsgenie": ("incidents", "alerts"),
}
# Keys of a [[sources]] entry that are not fields of the adapter configuration.
GIT_KEYS = ("kind", "name", "repos", "tables")
EXPORT_KEYS = ("kind", "name", "path", "statuses", "payload", "tables")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class SourcesConfigError(ValueError):
    """A sources file that cannot be used; the message names the file, the source and the field."""


@dataclass(frozen=True)
class SourceSpec:
    """One configured source: what to read, how to map it, which contract tables to land."""

    name: str  # asset key ["sources", name]; landing files are `<table>/<name>_<table>.parquet`
    kind: str
    inputs: tuple[Path, ...]  # repositories (git) or files / glob patterns (exports)
    config: GitSourceConfig | ExportConfig
    tables: tuple[str, ...]  # the contract tables to land (default: all the adapter produces)
    statuses: tuple[Path, ...] = ()  # github_deployments: REST deployment statuses
    payload: str | None = None  # github_deployments: github | devlake; opsgenie: incidents | alerts
    file: Path | None = None  # the sources file it came from

    @property
    def label(self) -> str:
        return f"{self.name!r} (kind {self.kind})"

    @property
    def input_field(self) -> str:
        return "repos" if self.kind == "git" else "path"

    def where(self, field: str | None = None) -> str:
        """`<file>: source 'x' (kind y)[, field 'f']` for error messages."""
        head = f"{self.file}: " if self.file else ""
        return head + f"source {self.label}" + (f", field {field!r}" if field else "")


def sources_file(settings: Settings | None = None) -> Path:
    """$CTSW_SOURCES_FILE, else `<data dir>/sources.toml` (which need not exist)."""
    env = os.environ.get(SOURCES_FILE_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return (settings or Settings.from_env()).data_dir / "sources.toml"


def load_sources(path: Path | None = None) -> list[SourceSpec]:
    """The configured sources; [] when the file does not exist. Raises SourcesConfigError on a bad file."""
    path = Path(path) if path is not None else sources_file()
    if not path.is_file():
        return []
    return parse_sources(path.read_text(encoding="utf-8"), path.resolve())


def parse_sources(text: str, file: Path) -> list[SourceSpec]:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SourcesConfigError(f"{file}: not valid TOML: {e}") from None
    unknown = sorted(set(doc) - {"sources"})
    if unknown:
        raise SourcesConfigError(f"{file}: unknown top-level key(s) {unknown}; sources are `[[sources]]` tables")
    entries = doc.get("sources", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise SourcesConfigError(f"{file}: `sources` must be an array of tables: write each as [[sources]]")
    specs: list[SourceSpec] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries, start=1):
        spec = parse_source(entry, file, i)
        if spec.name in seen:
            raise SourcesConfigError(
                f"{file}: source #{i} {spec.label}: name {spec.name!r} is already used by source #{seen[spec.name]}; "
                f"give each source a distinct `name`")
        seen[spec.name] = i
        specs.append(spec)
    return specs


def parse_source(entry: Mapping[str, Any], file: Path, index: int = 1) -> SourceSpec:
    kind = entry.get("kind")
    name = entry.get("name", kind)
    label = f"source #{index}" + (f" {name!r}" if isinstance(name, str) else "")
    if kind is None:
        raise SourcesConfigError(f"{file}: {label}, field 'kind': missing; one of {list(KINDS)}")
    if kind not in KIND_TABLES:
        raise SourcesConfigError(f"{file}: {label}, field 'kind': {kind!r} is not one of {list(KINDS)}"
                                 + _did_you_mean(str(kind), KINDS))
    label = f"source #{index} {name!r} (kind {kind})" if isinstance(name, str) else f"source #{index} (kind {kind})"

    def fail(field: str, problem: str) -> SourcesConfigError:
        return SourcesConfigError(f"{file}: {label}, field {field!r}: {problem}")

    if not isinstance(name, str) or not _NAME.match(name):
        raise fail("name", f"{name!r} must start with a letter and hold only letters, digits and _ "
                           "(it becomes the asset key sources/<name>)")
    base = file.parent
    is_git = kind == "git"
    own_keys = GIT_KEYS if is_git else EXPORT_KEYS
    cls = GitSourceConfig if is_git else ExportConfig
    field_names = [f.name for f in dataclasses.fields(cls)]
    for key in entry:
        if key not in own_keys and key not in field_names:
            raise fail(key, f"unknown field for kind {kind}" + _did_you_mean(key, [*own_keys, *field_names]))
    input_key = "repos" if is_git else "path"
    if input_key not in entry:
        what = "the repositories to read (paths to clones or mirrors)" if is_git else "the export file(s)"
        raise fail(input_key, f"missing: {what}")
    inputs = tuple(_paths(entry[input_key], base, fail, input_key))
    if not inputs:
        raise fail(input_key, "is empty")
    statuses: tuple[Path, ...] = ()
    if "statuses" in entry:
        if kind != "github_deployments":
            raise fail("statuses", "only github_deployments takes deployment statuses")
        statuses = tuple(_paths(entry["statuses"], base, fail, "statuses"))
    payload = None
    if "payload" in entry or kind in PAYLOADS:
        allowed = PAYLOADS.get(kind)
        if allowed is None:
            raise fail("payload", f"kind {kind} has a single payload shape; remove the field")
        payload = entry.get("payload", allowed[0])
        if payload not in allowed:
            raise fail("payload", f"{payload!r} is not one of {list(allowed)}")
    produced = KIND_TABLES[kind]
    tables = produced
    if "tables" in entry:
        raw = entry["tables"]
        if not isinstance(raw, list) or not all(isinstance(t, str) for t in raw):
            raise fail("tables", f"expected a list of table names, got {raw!r}")
        bad = [t for t in raw if t not in produced]
        if bad:
            raise fail("tables", f"{bad} not produced by kind {kind}; it produces {list(produced)}")
        tables = tuple(t for t in produced if t in raw)
    settings = {k: v for k, v in entry.items() if k not in own_keys}
    try:
        config = build_config(cls, settings, fail)
    except (TypeError, ValueError) as e:
        if isinstance(e, SourcesConfigError):
            raise
        raise SourcesConfigError(f"{file}: {label}: {e}") from None
    return SourceSpec(name=name, kind=kind, inputs=inputs, config=config, tables=tables, statuses=statuses,
                      payload=payload, file=file)


def _did_you_mean(word: str, options) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _paths(value: Any, base: Path, fail, field: str) -> list[Path]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) and v for v in items):
        raise fail(field, f"expected a path or a list of paths, got {value!r}")
    out = []
    for v in items:
        p = Path(v).expanduser()
        out.append(p if p.is_absolute() else base / p)
    return out


# --------------------------------------------------------------------------------------------------------------
# TOML values -> adapter configuration dataclass fields


def build_config(cls: type, values: Mapping[str, Any], fail=None):
    """An instance of the frozen dataclass `cls` from TOML values, each checked against the field's type."""
    if fail is None:
        def fail(field: str, problem: str) -> SourcesConfigError:
            return SourcesConfigError(f"field {field!r}: {problem}")
    hints = typing.get_type_hints(cls)
    kwargs = {key: _coerce(value, hints[key], key, fail) for key, value in values.items()}
    return cls(**kwargs)


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is type(None):
        return "nothing"
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args if a is not type(None))
    if origin is tuple:
        return f"a list of {_describe(args[0])}s"
    if origin is not None and isinstance(origin, type) and issubclass(origin, Mapping):
        return f"a table of {_describe(args[1])}s"
    return {str: "text", int: "an integer", float: "a number", bool: "true or false"}.get(tp, str(tp))


def _coerce(value: Any, tp: Any, field: str, fail) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    bad = fail(field, f"expected {_describe(tp)}, got {value!r}")
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, field, fail)
            except SourcesConfigError:
                continue
        raise bad
    if origin is typing.Literal:
        if value in args:
            return value
        raise bad
    if origin is tuple:
        if not isinstance(value, list):
            raise bad
        return tuple(_coerce(v, args[0], f"{field}[{i}]", fail) for i, v in enumerate(value))
    if origin is not None and isinstance(origin, type) and issubclass(origin, Mapping):
        if not isinstance(value, dict):
            raise bad
        return {str(k): _coerce(v, args[1], f"{field}.{k}", fail) for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise bad
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise bad
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise bad
    if tp is str:
        if isinstance(value, str):
            return value
        raise bad
    raise fail(field, f"cannot be set from the sources file (type {tp})")
