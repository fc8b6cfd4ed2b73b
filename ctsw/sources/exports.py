"""Vendor API exports -> contract tables (one `extract_*` per payload kind; each returns table name -> frame).

Inputs are the objects the vendor's API returned, as a list of dicts or a file: a JSON array (or a response
envelope such as `{"incidents": [...]}`, `{"seats": [...]}`, a GraphQL `{"data": {...{"nodes": [...]}}}`), JSON
Lines, or a CSV whose `data` column holds one JSON object per row (Apache DevLake's `_raw_*` tables). Fields a
source cannot provide stay null. docs/sources.md has the field-by-field mapping.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from ctsw.contract import ARCHITECTURES, PRODUCTION, ROLES, SEVERITIES, TABLES
from ctsw.sources.git import DEFAULT_LOADED_COST_USD
from ctsw.sources.landing import conform
from ctsw.sources.people import DEFAULT_BOT_PATTERNS

Payloads = str | Path | Iterable[Mapping[str, Any]]

UNASSIGNED_TEAM = "unassigned"


@dataclass(frozen=True)
class ExportConfig:
    """Team and people mapping for exports. Lookups try the exact key, then its lower case."""

    default_team: str | None = None  # when no mapping applies (None = a natural id from the source, see docs)
    repo_teams: Mapping[str, str] = field(default_factory=dict)  # "owner/name" or "name" -> team
    service_teams: Mapping[str, str] = field(default_factory=dict)  # PagerDuty/Opsgenie service id or name
    escalation_policy_teams: Mapping[str, str] = field(default_factory=dict)  # PagerDuty policy id or name
    vendor_team_teams: Mapping[str, str] = field(default_factory=dict)  # PagerDuty/Opsgenie team id or name
    people: Mapping[str, str] = field(default_factory=dict)  # login / vendor user id / e-mail -> canonical id
    production_environments: tuple[str, ...] = ("production", "prod", "prd", "live")
    environment_map: Mapping[str, str] = field(default_factory=dict)  # e.g. {"github-pages": "production"}
    priority_severity: Mapping[str, str] = field(default_factory=lambda: {
        "P1": "critical", "P2": "high", "P3": "medium", "P4": "low", "P5": "info"})
    urgency_severity: Mapping[str, str] = field(default_factory=lambda: {"high": "high", "low": "low"})
    default_severity: str = "medium"
    exclude_bots: bool = True
    bot_patterns: tuple[str, ...] = DEFAULT_BOT_PATTERNS
    # HR roster
    org: str = "engineering"
    architecture: str = "monolith"
    annual_loaded_cost_usd: float = DEFAULT_LOADED_COST_USD
    roster_columns: Mapping[str, str] = field(default_factory=dict)  # contract column -> roster CSV header
    role_map: Mapping[str, str] = field(default_factory=dict)  # roster role/title -> builder/manager/other

    def __post_init__(self) -> None:
        bad = {v for v in [*self.priority_severity.values(), *self.urgency_severity.values(),
                           self.default_severity] if v not in SEVERITIES}
        if bad:
            raise ValueError(f"severities {sorted(bad)} are not in {SEVERITIES}")
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture {self.architecture!r} is not one of {ARCHITECTURES}")


# --------------------------------------------------------------------------------------------------------------
# Reading payloads

_LIST_KEYS = ("incidents", "alerts", "seats", "deployments", "statuses", "pull_requests", "items", "nodes",
              "data", "edges")
_WRAPPER_KEYS = ("data", "repository", "organization", "deployments", "node", "viewer")


def _unwrap(obj: Any) -> list[dict]:
    if isinstance(obj, list):
        out = []
        for x in obj:
            if isinstance(x, dict) and set(x) == {"node"}:  # GraphQL edges
                out.append(x["node"])
            elif isinstance(x, dict):
                out.append(x)
        return out
    if isinstance(obj, dict):
        if any(k in obj for k in ("id", "Id", "ID")):  # an entity (its own lists are fields, not a page)
            return [obj]
        for key in _LIST_KEYS:
            if isinstance(obj.get(key), list):
                return _unwrap(obj[key])
        for key in _WRAPPER_KEYS:
            if isinstance(obj.get(key), dict):
                return _unwrap(obj[key])
        return [obj]
    return []


def load_payloads(source: Payloads) -> list[dict]:
    """API objects from a file (CSV with a JSON `data` column, JSON, JSON Lines) or an iterable of dicts."""
    if not isinstance(source, str | Path):
        return [dict(x) for x in source]
    path = Path(source)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        if "data" in df.columns:
            return [o for text in df["data"] if text for o in _unwrap(json.loads(text))]
        return df.to_dict("records")
    text = path.read_text(encoding="utf-8")
    if suffix in (".jsonl", ".ndjson"):
        return [o for line in text.splitlines() if line.strip() for o in _unwrap(json.loads(line))]
    return _unwrap(json.loads(text))


# --------------------------------------------------------------------------------------------------------------
# Helpers


def _get(obj: Mapping[str, Any] | None, *names: str) -> Any:
    """First present value among `names`; keys match case-insensitively (GraphQL nodes come in both cases)."""
    if not isinstance(obj, Mapping):
        return None
    lower = None
    for n in names:
        if n in obj:
            return obj[n]
        if lower is None:
            lower = {str(k).lower(): v for k, v in obj.items()}
        if n.lower() in lower:
            return lower[n.lower()]
    return None


def _ts(value: Any) -> datetime | None:
    """UTC naive timestamp from ISO text (any offset) or epoch milliseconds; None when empty."""
    if value is None or value == "" or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, int | float):
        t = pd.Timestamp(int(value), unit="ms", tz="UTC")
    else:
        t = pd.Timestamp(str(value))
        t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    return t.tz_localize(None).to_pydatetime()


def _lookup(mapping: Mapping[str, str], key: Any) -> str | None:
    if key is None or key == "":
        return None
    k = str(key)
    if k in mapping:
        return mapping[k]
    lower = {str(a).lower(): b for a, b in mapping.items()}
    return lower.get(k.lower())


def _team(config: ExportConfig, candidates: Iterable[tuple[Mapping[str, str], Any]], natural: Any) -> str:
    for mapping, key in candidates:
        hit = _lookup(mapping, key)
        if hit:
            return hit
    if config.default_team:
        return config.default_team
    return str(natural) if natural not in (None, "") else UNASSIGNED_TEAM


def _person(config: ExportConfig, *keys: Any) -> str | None:
    for k in keys:
        hit = _lookup(config.people, k)
        if hit:
            return hit
    for k in keys:
        if k not in (None, ""):
            return str(k).lower() if "@" in str(k) else str(k)
    return None


def _is_bot(config: ExportConfig, login: str | None, user_type: str | None) -> bool:
    if user_type and str(user_type).lower() == "bot":
        return True
    return bool(login) and any(re.search(p, login, re.IGNORECASE) for p in config.bot_patterns)


def _frames(**rows: list[dict]) -> dict[str, pd.DataFrame]:
    out = {}
    for name, items in rows.items():
        df = pd.DataFrame(items, columns=list(TABLES[name].column_names))
        df = df.drop_duplicates(subset=list(TABLES[name].key), keep="last")
        out[name] = conform(name, df)
    return out


def _repo_full_name(*urls_or_names: Any) -> str | None:
    for v in urls_or_names:
        if not v:
            continue
        s = str(v)
        m = re.search(r"(?:api\.github\.com/repos/|github\.com/)([^/\s]+/[^/\s#?]+)", s)
        if m:
            return m.group(1).removesuffix(".git")
        if re.fullmatch(r"[^/\s]+/[^/\s]+", s):
            return s
    return None


def _repo_team(config: ExportConfig, full_name: str | None) -> str:
    short = full_name.split("/")[-1] if full_name else None
    return _team(config, [(config.repo_teams, full_name), (config.repo_teams, short)], full_name)


def _environment(config: ExportConfig, name: Any, production_flag: Any = None) -> str:
    env = str(name or "").strip()
    mapped = _lookup(config.environment_map, env)
    if mapped:
        env = mapped
    if production_flag is True or env.lower() in config.production_environments:
        return PRODUCTION
    return env.lower() or "unknown"


# --------------------------------------------------------------------------------------------------------------
# GitHub pull requests (REST `GET /repos/{owner}/{repo}/pulls[/{number}]`)


def extract_github_pull_requests(source: Payloads, config: ExportConfig | None = None) -> dict[str, pd.DataFrame]:
    """pull_requests from GitHub REST PR objects; the latest `updated_at` of a PR wins."""
    cfg = config or ExportConfig()
    latest: dict[str, dict] = {}
    for pr in load_payloads(source):
        base_repo = _get(_get(pr, "base"), "repo")
        full = _get(base_repo, "full_name") or _repo_full_name(_get(pr, "url"), _get(pr, "html_url"))
        number = _get(pr, "number")
        if full is None or number is None:
            continue
        pr_id = f"{full}#{number}"
        if pr_id in latest and str(_get(latest[pr_id], "updated_at") or "") > str(_get(pr, "updated_at") or ""):
            continue
        latest[pr_id] = pr | {"_full": full, "_id": pr_id}
    rows = []
    for pr_id, pr in sorted(latest.items()):
        user = _get(pr, "user") or {}
        login = _get(user, "login")
        if cfg.exclude_bots and _is_bot(cfg, login, _get(user, "type")):
            continue
        rows.append({
            "pr_id": pr_id,
            "team_id": _repo_team(cfg, pr["_full"]),
            "author_id": _person(cfg, login, _get(user, "id")) or "ghost",
            "created_at": _ts(_get(pr, "created_at")),
            "merged_at": _ts(_get(pr, "merged_at")),
            "shipped_at": None,
            "first_commit_at": None,
            "additions": _get(pr, "additions"),
            "deletions": _get(pr, "deletions"),
        })
    return _frames(pull_requests=rows)


# --------------------------------------------------------------------------------------------------------------
# GitHub deployments (REST deployments + deployment statuses, or GraphQL Deployment nodes)

_DEPLOY_STATE = {
    "success": "succeeded", "active": "succeeded",
    "failure": "failed", "error": "failed", "abandoned": "failed",
    "inactive": "superseded", "destroyed": "superseded",
}
_PENDING = {"pending", "queued", "in_progress", "waiting", "requested"}


def _outcome(statuses: list[tuple[str, datetime | None]], fallback_state: str | None
             ) -> tuple[str, datetime | None] | None:
    """(contract status, finished_at) from status history, or None while the deployment has no outcome."""
    ordered = sorted((s for s in statuses if s[0]), key=lambda s: (s[1] is None, s[1] or datetime.min))
    for state, when in ordered:
        mapped = _DEPLOY_STATE.get(state.lower())
        if mapped in ("succeeded", "failed"):
            return mapped, when
    for state in [s for s, _ in reversed(ordered)] + ([fallback_state] if fallback_state else []):
        mapped = _DEPLOY_STATE.get(str(state).lower())
        if mapped == "superseded":  # made inactive by a later deployment: it had been live; end unknown
            return "succeeded", None
        if mapped == "failed":
            return "failed", None
        if mapped == "succeeded":
            return "succeeded", None
    return None


def extract_github_deployments(
    source: Payloads, statuses: Payloads | Mapping[Any, Iterable[Mapping]] | None = None,
    config: ExportConfig | None = None,
) -> dict[str, pd.DataFrame]:
    """deployments from GitHub REST deployment objects (+ their statuses) or GraphQL Deployment nodes.

    REST statuses may be embedded (`"statuses": [...]`), given as a list of status objects (matched by their
    `deployment_url`) or as a mapping deployment id -> status objects. Deployments with no outcome yet
    (pending, queued, in progress) are left out: extract again later.
    """
    cfg = config or ExportConfig()
    by_deployment: dict[str, list[Mapping]] = {}
    if isinstance(statuses, Mapping):
        by_deployment = {str(k): list(v) for k, v in statuses.items()}
    elif statuses is not None:
        for st in load_payloads(statuses):
            m = re.search(r"/deployments/(\d+)", str(_get(st, "deployment_url") or _get(st, "url") or ""))
            if m:
                by_deployment.setdefault(m.group(1), []).append(st)
    rows = []
    for d in load_payloads(source):
        db_id = _get(d, "databaseId")
        rest_id = _get(d, "id") if db_id is None else None
        dep_id = str(db_id if db_id is not None else rest_id)
        repo = _get(d, "repository")
        full = _repo_full_name(_get(repo, "nameWithOwner"), _get(repo, "url"), _get(d, "repository_url"),
                               _get(d, "url"))
        embedded = _get(d, "statuses")
        if isinstance(embedded, Mapping):  # GraphQL connection
            embedded = _get(embedded, "nodes") or []
        history = list(embedded or []) + by_deployment.get(dep_id, [])
        latest = _get(d, "latestStatus")
        if isinstance(latest, Mapping):
            history.append(latest)
        points = [(str(_get(s, "state") or ""), _ts(_get(s, "updatedAt", "updated_at", "createdAt", "created_at")))
                  for s in history]
        result = _outcome(points, _get(d, "state"))
        if result is None:
            continue
        status, finished = result
        started = _ts(_get(d, "createdAt", "created_at"))
        if finished is not None and started is not None and finished < started:
            finished = started
        rows.append({
            "deployment_id": dep_id,
            "team_id": _repo_team(cfg, full),
            "service": (full.split("/")[-1] if full else _get(repo, "name")),
            "environment": _environment(cfg, _get(d, "environment"), _get(d, "production_environment")),
            "started_at": started,
            "finished_at": finished,
            "status": status,
            "is_rollback": False,
            "manual_interventions": 0,
            "pr_ids": None,
        })
    return _frames(deployments=rows)


def extract_devlake_deployments(source: Payloads, config: ExportConfig | None = None) -> dict[str, pd.DataFrame]:
    """deployments from Apache DevLake's `cicd_deployment_commits` (one row per deployment and commit)."""
    cfg = config or ExportConfig()
    rows = []
    seen = set()
    for r in load_payloads(source):
        dep_id = _get(r, "cicd_deployment_id") or _get(r, "id")
        if not dep_id or dep_id in seen:
            continue
        seen.add(dep_id)
        result = str(_get(r, "result") or "").upper()
        if result not in ("SUCCESS", "FAILURE"):
            continue  # still running or unknown
        full = _repo_full_name(_get(r, "repo_url"))
        rows.append({
            "deployment_id": dep_id,
            "team_id": _repo_team(cfg, full),
            "service": full.split("/")[-1] if full else None,
            "environment": _environment(cfg, _get(r, "original_environment") or _get(r, "environment")),
            "started_at": _ts(_get(r, "started_date") or _get(r, "created_date")),
            "finished_at": _ts(_get(r, "finished_date")),
            "status": "succeeded" if result == "SUCCESS" else "failed",
            "is_rollback": False,
            "manual_interventions": 0,
            "pr_ids": None,
        })
    return _frames(deployments=rows)


# --------------------------------------------------------------------------------------------------------------
# PagerDuty incidents (`GET /incidents`, optionally `include[]=log_entries`)


def _pd_severity(cfg: ExportConfig, inc: Mapping) -> str:
    priority = _get(_get(inc, "priority"), "summary", "name")
    sev = _lookup(cfg.priority_severity, priority)
    if sev:
        return sev
    return _lookup(cfg.urgency_severity, _get(inc, "urgency")) or cfg.default_severity


def extract_pagerduty_incidents(source: Payloads, config: ExportConfig | None = None) -> dict[str, pd.DataFrame]:
    """pages from PagerDuty incident objects."""
    cfg = config or ExportConfig()
    rows = []
    for inc in load_payloads(source):
        entries = [e for e in (_get(inc, "log_entries") or []) if isinstance(e, Mapping)]
        acks = sorted((_ts(_get(e, "created_at")), _get(_get(e, "agent"), "id")) for e in entries
                      if _get(e, "type") == "acknowledge_log_entry" and _ts(_get(e, "created_at")))
        resolves = sorted(_ts(_get(e, "created_at")) for e in entries
                          if _get(e, "type") == "resolve_log_entry" and _ts(_get(e, "created_at")))
        current_acks = sorted((_ts(_get(a, "at")), _get(_get(a, "acknowledger"), "id"))
                              for a in (_get(inc, "acknowledgements") or []) if _ts(_get(a, "at")))
        first_ack = acks[0] if acks else (current_acks[0] if current_acks else (None, None))
        status = str(_get(inc, "status") or "")
        resolved = _ts(_get(inc, "resolved_at"))
        if resolved is None and status == "resolved":
            resolved = resolves[-1] if resolves else _ts(_get(inc, "last_status_change_at"))
        assignees = [_get(_get(a, "assignee"), "id") for a in (_get(inc, "assignments") or [])]
        service = _get(inc, "service") or {}
        policy = _get(inc, "escalation_policy") or {}
        teams = _get(inc, "teams") or []
        team0 = teams[0] if teams else {}
        rows.append({
            "page_id": _get(inc, "id"),
            "team_id": _team(cfg, [
                (cfg.service_teams, _get(service, "id")), (cfg.service_teams, _get(service, "summary")),
                (cfg.escalation_policy_teams, _get(policy, "id")),
                (cfg.escalation_policy_teams, _get(policy, "summary")),
                (cfg.vendor_team_teams, _get(team0, "id")), (cfg.vendor_team_teams, _get(team0, "summary")),
            ], _get(team0, "summary") or _get(service, "summary")),
            "triggered_at": _ts(_get(inc, "created_at")),
            "acknowledged_at": first_ack[0],
            "resolved_at": resolved,
            "severity": _pd_severity(cfg, inc),
            "responder_id": _person(cfg, first_ack[1] or next((a for a in assignees if a), None)),
        })
    return _frames(pages=rows)


# --------------------------------------------------------------------------------------------------------------
# Opsgenie incidents (`GET /v1/incidents`) and alerts (`GET /v2/alerts`)


def _og_team(cfg: ExportConfig, obj: Mapping) -> str:
    owner = _get(obj, "ownerTeam")
    team_ids = [_get(r, "id") or _get(r, "name") for r in (_get(obj, "responders") or [])
                if str(_get(r, "type") or "").lower() == "team"]
    team_ids += [_get(t, "id") or _get(t, "name") for t in (_get(obj, "teams") or []) if isinstance(t, Mapping)]
    services = _get(obj, "impactedServices") or []
    candidates = [(cfg.vendor_team_teams, owner)] + [(cfg.vendor_team_teams, t) for t in team_ids]
    candidates += [(cfg.service_teams, s) for s in services]
    return _team(cfg, candidates, owner or (team_ids[0] if team_ids else None))


def extract_opsgenie_incidents(source: Payloads, config: ExportConfig | None = None) -> dict[str, pd.DataFrame]:
    """pages from Opsgenie incident objects (no acknowledgement time in the incident object: null)."""
    cfg = config or ExportConfig()
    rows = []
    for inc in load_payloads(source):
        status = str(_get(inc, "status") or "").lower()
        users = [_get(r, "id") for r in (_get(inc, "responders") or [])
                 if str(_get(r, "type") or "").lower() == "user"]
        rows.append({
            "page_id": _get(inc, "id"),
            "team_id": _og_team(cfg, inc),
            "triggered_at": _ts(_get(inc, "createdAt")),
            "acknowledged_at": None,
            "resolved_at": _ts(_get(inc, "impactEndDate")) if status in ("resolved", "closed") else None,
            "severity": _lookup(cfg.priority_severity, _get(inc, "priority")) or cfg.default_severity,
            "responder_id": _person(cfg, users[0]) if users else None,
        })
    return _frames(pages=rows)


def extract_opsgenie_alerts(source: Payloads, config: ExportConfig | None = None) -> dict[str, pd.DataFrame]:
    """pages from Opsgenie alert objects; `report.ackTime`/`closeTime` are milliseconds after `createdAt`."""
    cfg = config or ExportConfig()
    rows = []
    for alert in load_payloads(source):
        created = _ts(_get(alert, "createdAt"))
        report = _get(alert, "report") or {}
        ack_ms, close_ms = _get(report, "ackTime"), _get(report, "closeTime")
        acked = created + timedelta(milliseconds=int(ack_ms)) if created and ack_ms is not None else None
        closed = None
        if created and close_ms is not None and str(_get(alert, "status") or "").lower() == "closed":
            closed = created + timedelta(milliseconds=int(close_ms))
        rows.append({
            "page_id": _get(alert, "id"),
            "team_id": _og_team(cfg, alert),
            "triggered_at": created,
            "acknowledged_at": acked,
            "resolved_at": closed,
            "severity": _lookup(cfg.priority_severity, _get(alert, "priority")) or cfg.default_severity,
            "responder_id": _person(cfg, _get(report, "acknowledgedBy") or _get(alert, "owner")),
        })
    return _frames(pages=rows)


# --------------------------------------------------------------------------------------------------------------
# GitHub Copilot


def extract_copilot_seats(source: Payloads, config: ExportConfig | None = None) -> dict[str, pd.DataFrame]:
    """ai_tool_usage from Copilot seat assignments: `last_activity_at` is one active day for the seat's user.

    A seat listing is a snapshot: it only ever shows the last active day. Collect it daily and land every
    snapshot (rows are keyed by developer, day and tool, so repeats collapse) to build a usage history.
    """
    cfg = config or ExportConfig()
    rows = []
    for seat in load_payloads(source):
        when = _ts(_get(seat, "last_activity_at"))
        assignee = _get(seat, "assignee") or {}
        login = _get(assignee, "login") if isinstance(assignee, Mapping) else assignee
        if when is None or not login:
            continue
        rows.append({"developer_id": _person(cfg, login, _get(assignee, "id") if isinstance(assignee, Mapping)
                                             else None),
                     "usage_date": when.date(), "tool": "copilot", "active": True})
    return _frames(ai_tool_usage=rows)


def extract_copilot_metrics(source: Payloads, config: ExportConfig | None = None) -> dict[str, pd.DataFrame]:
    """Copilot metrics are organisation-level daily aggregates: they cannot say *which* developer was active.

    So no contract row comes out of them (an empty ai_tool_usage). `copilot_metrics_summary` gives the daily
    figures for cross-checking the per-developer sources (seats, commit trailers).
    """
    load_payloads(source)  # validate that it parses
    return _frames(ai_tool_usage=[])


def copilot_metrics_summary(source: Payloads) -> pd.DataFrame:
    """Daily org-level Copilot figures (not a contract table): day, active users, generations, acceptances."""
    rows = []
    for day in load_payloads(source):
        feats = _get(day, "totals_by_language_feature") or []
        rows.append({
            "day": pd.Timestamp(str(_get(day, "day", "date"))).date(),
            "active_users": _get(day, "daily_active_users", "total_active_users"),
            "engaged_users": _get(day, "total_engaged_users"),
            "code_generations": sum(int(_get(f, "code_generation_activity_count") or 0) for f in feats) or None,
            "code_acceptances": sum(int(_get(f, "code_acceptance_activity_count") or 0) for f in feats) or None,
            "loc_added": sum(int(_get(f, "loc_added_sum") or 0) for f in feats) or None,
        })
    return pd.DataFrame(rows, columns=["day", "active_users", "engaged_users", "code_generations",
                                       "code_acceptances", "loc_added"])


# --------------------------------------------------------------------------------------------------------------
# HR roster CSV -> teams + memberships

ROSTER_DEFAULT_HEADERS = {
    "developer_id": ("developer_id", "email", "employee_email", "work_email", "employee_id", "person_id"),
    "team_id": ("team_id", "team"),
    "team_name": ("team_name",),
    "org": ("org", "organisation", "organization", "department"),
    "architecture": ("architecture",),
    "delivery_unit": ("delivery_unit",),
    "role": ("role", "job_role", "title", "job_title"),
    "start_date": ("start_date", "start", "from"),
    "end_date": ("end_date", "end", "to", "until"),
    "fte": ("fte", "allocation", "allocation_pct"),
    "annual_loaded_cost_usd": ("annual_loaded_cost_usd", "loaded_cost", "annual_cost_usd"),
}


def _header(name: Any) -> str:
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower())


def _role(cfg: ExportConfig, raw: Any) -> str:
    text = str(raw or "").strip()
    mapped = _lookup(cfg.role_map, text)
    if mapped:
        return mapped
    low = text.lower()
    if low in ROLES:
        return low
    if not low:
        return "builder"
    if re.search(r"manager|director|head of|vp\b|lead(?:er)?ship", low):
        return "manager"
    if re.search(r"engineer|developer|programmer|sre\b|devops|architect|scientist|builder", low):
        return "builder"
    return "other"


def extract_hr_roster(source: str | Path | pd.DataFrame, config: ExportConfig | None = None
                      ) -> dict[str, pd.DataFrame]:
    """teams and memberships from an HR roster (one row per person, team and period).

    Headers are matched ignoring case, spaces and hyphens against `roster_columns` or the defaults in
    `ROSTER_DEFAULT_HEADERS`. Required: a person id, a team and a start date. fte defaults to 1 (values > 1
    are read as percentages), role to builder (titles are mapped: "*manager*" -> manager, "*engineer*" ->
    builder, else other), cost to `annual_loaded_cost_usd`.
    """
    cfg = config or ExportConfig()
    df = source.copy() if isinstance(source, pd.DataFrame) else pd.read_csv(source, dtype=str,
                                                                            keep_default_na=False)
    headers = {_header(c): c for c in df.columns}

    def column(name: str) -> pd.Series | None:
        wanted = [cfg.roster_columns[name]] if name in cfg.roster_columns else list(ROSTER_DEFAULT_HEADERS[name])
        for w in wanted:
            if _header(w) in headers:
                return df[headers[_header(w)]].astype(object)
        return None

    cols = {name: column(name) for name in ROSTER_DEFAULT_HEADERS}
    for required in ("developer_id", "team_id", "start_date"):
        if cols[required] is None:
            raise ValueError(f"HR roster: no column for {required} (headers: {list(df.columns)})")
    members, teams = [], {}
    for i in range(len(df)):
        def val(name: str, i: int = i) -> Any:
            s = cols[name]
            v = None if s is None else s.iloc[i]
            return None if v is None or pd.isna(v) or str(v).strip() == "" else str(v).strip()

        person, team = val("developer_id"), val("team_id")
        if person is None or team is None:
            continue
        fte = float(val("fte")) if val("fte") is not None else 1.0
        if fte > 1:
            fte /= 100.0
        cost = val("annual_loaded_cost_usd")
        members.append({
            "developer_id": _person(cfg, str(person).strip()),
            "team_id": str(team).strip(),
            "role": _role(cfg, val("role")),
            "start_date": val("start_date"),
            "end_date": val("end_date"),
            "fte": fte,
            "annual_loaded_cost_usd": float(cost) if cost is not None else cfg.annual_loaded_cost_usd,
        })
        tid = str(team).strip()
        if tid not in teams:
            teams[tid] = {
                "team_id": tid,
                "team_name": val("team_name") or tid,
                "org": val("org") or cfg.org,
                "architecture": (val("architecture") or cfg.architecture).lower(),
                "delivery_unit": val("delivery_unit"),
            }
    return _frames(teams=list(teams.values()), memberships=members)
