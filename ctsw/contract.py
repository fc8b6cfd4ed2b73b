"""The raw telemetry contract: one table per source, as loaded into DuckDB's `raw` schema.

This module is the single machine-readable statement of the contract; the simulator writes it, the loaders
validate against it and `docs/telemetry-contract.md` explains it. Timestamps are UTC (`TIMESTAMP` columns hold
naive UTC after load: an offset is converted, a naive value is read as UTC).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # DuckDB type after load: VARCHAR, TIMESTAMP, DATE, DOUBLE, BIGINT, BOOLEAN
    description: str
    required: bool = True  # not null
    unit: str | None = None
    accepted: tuple[str, ...] | None = None
    min: float | None = None  # inclusive
    max: float | None = None  # inclusive
    min_exclusive: bool = False
    pseudonymised: bool = False  # a person's identifier: replaced by a keyed hash at load


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    partition_column: str | None  # week partitions select rows by this column; None = snapshot table

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


ARCHITECTURES = ("service", "monolith", "trunk")
DELIVERY_UNITS = ("deployment", "pull_request", "commit")
# The article: deployments for services, shipped PRs for monoliths/scheduled releases, commits for trunk.
DEFAULT_DELIVERY_UNIT = {"service": "deployment", "monolith": "pull_request", "trunk": "commit"}
ROLES = ("builder", "manager", "other")
DEPLOYMENT_STATUSES = ("succeeded", "failed", "rolled_back")
SEVERITIES = ("critical", "high", "medium", "low", "info")
PRODUCTION = "production"

_ts = "TIMESTAMP"

TEAMS = Table(
    name="teams",
    description="One row per team (snapshot; reloaded whole).",
    key=("team_id",),
    partition_column=None,
    columns=(
        Column("team_id", "VARCHAR", "Stable team identifier."),
        Column("team_name", "VARCHAR", "Display name."),
        Column("org", "VARCHAR", "Organisation the team reports into; org totals group by it."),
        Column("architecture", "VARCHAR", "Dominant software architecture.", accepted=ARCHITECTURES),
        Column(
            "delivery_unit",
            "VARCHAR",
            "Unit of software reaching customers that CTS-SW divides by; empty = default for the architecture.",
            required=False,
            accepted=DELIVERY_UNITS,
        ),
    ),
)

MEMBERSHIPS = Table(
    name="memberships",
    description="Who belonged to which team, when, in which role, at what loaded cost (snapshot).",
    key=("developer_id", "team_id", "start_date"),
    partition_column=None,
    columns=(
        Column("developer_id", "VARCHAR", "Person identifier.", pseudonymised=True),
        Column("team_id", "VARCHAR", "Team (references teams.team_id)."),
        Column("role", "VARCHAR", "Role in the team; only builders count towards builder FTE.", accepted=ROLES),
        Column("start_date", "DATE", "First day of membership (inclusive)."),
        Column(
            "end_date",
            "DATE",
            "First day no longer a member (exclusive); null = current member.",
            required=False,
        ),
        Column("fte", "DOUBLE", "Share of a full-time position spent on this team.", unit="FTE", min=0,
               max=1, min_exclusive=True),
        Column("annual_loaded_cost_usd", "DOUBLE", "Salary plus benefits, taxes and overhead for 1 FTE-year.",
               unit="USD/year", min=0),
    ),
)

PULL_REQUESTS = Table(
    name="pull_requests",
    description="Code reviews / pull requests; one row per PR in its latest known state.",
    key=("pr_id",),
    partition_column="created_at",
    columns=(
        Column("pr_id", "VARCHAR", "Globally unique PR identifier (e.g. owner/repo#123)."),
        Column("team_id", "VARCHAR", "Owning team."),
        Column("author_id", "VARCHAR", "Author.", pseudonymised=True),
        Column("created_at", _ts, "When the PR was opened."),
        Column("merged_at", _ts, "When it was merged; null = not merged.", required=False),
        Column("shipped_at", _ts, "When it reached customers; null = unknown (then taken from the first "
               "successful production deployment that lists it).", required=False),
        Column("first_commit_at", _ts, "Earliest commit in the PR (DORA lead time starts here).",
               required=False),
        Column("additions", "BIGINT", "Lines added.", required=False, unit="lines", min=0),
        Column("deletions", "BIGINT", "Lines deleted.", required=False, unit="lines", min=0),
    ),
)

DEPLOYMENTS = Table(
    name="deployments",
    description="Deployments to any environment, including failed ones and rollbacks.",
    key=("deployment_id",),
    partition_column="started_at",
    columns=(
        Column("deployment_id", "VARCHAR", "Unique deployment identifier."),
        Column("team_id", "VARCHAR", "Owning team."),
        Column("service", "VARCHAR", "Service or application deployed.", required=False),
        Column("environment", "VARCHAR", "Target environment; 'production' reaches customers."),
        Column("started_at", _ts, "When the deployment started."),
        Column("finished_at", _ts, "When it finished; null = still running or unknown.", required=False),
        Column("status", "VARCHAR", "Outcome. rolled_back = succeeded, then reverted.",
               accepted=DEPLOYMENT_STATUSES),
        Column("is_rollback", "BOOLEAN", "This deployment is itself a rollback of an earlier one."),
        Column("manual_interventions", "BIGINT", "Manual steps a person had to take.", unit="count", min=0),
        Column("pr_ids", "VARCHAR", "PRs it shipped, ';'-separated (a JSON array is accepted in JSON "
               "Lines and a list in Parquet); loaded into raw.deployment_pull_requests.", required=False),
    ),
)

COMMITS = Table(
    name="commits",
    description="Commits to a trunk (teams whose delivery unit is the commit).",
    key=("sha",),
    partition_column="committed_at",
    columns=(
        Column("sha", "VARCHAR", "Commit hash."),
        Column("team_id", "VARCHAR", "Owning team."),
        Column("author_id", "VARCHAR", "Author.", pseudonymised=True),
        Column("committed_at", _ts, "Commit time."),
        Column("reached_customer_at", _ts, "When it reached customers; null = not (yet).", required=False),
    ),
)

PAGES = Table(
    name="pages",
    description="Pages (alerts that woke a person up) and incidents.",
    key=("page_id",),
    partition_column="triggered_at",
    columns=(
        Column("page_id", "VARCHAR", "Unique page identifier."),
        Column("team_id", "VARCHAR", "Team paged."),
        Column("triggered_at", _ts, "When the page fired."),
        Column("acknowledged_at", _ts, "When a responder acknowledged it.", required=False),
        Column("resolved_at", _ts, "When service was restored.", required=False),
        Column("severity", "VARCHAR", "Normalised severity.", accepted=SEVERITIES),
        Column("responder_id", "VARCHAR", "Who responded.", required=False, pseudonymised=True),
    ),
)

ONCALL_SHIFTS = Table(
    name="oncall_shifts",
    description="On-call shifts; a builder with a shift overlapping a week is an on-call builder that week.",
    key=("developer_id", "team_id", "shift_start"),
    partition_column="shift_start",
    columns=(
        Column("developer_id", "VARCHAR", "Person on call.", pseudonymised=True),
        Column("team_id", "VARCHAR", "Team whose rota it is."),
        Column("shift_start", _ts, "Start (inclusive)."),
        Column("shift_end", _ts, "End (exclusive)."),
    ),
)

AI_TOOL_USAGE = Table(
    name="ai_tool_usage",
    description="Daily AI coding tool activity per developer and tool.",
    key=("developer_id", "usage_date", "tool"),
    partition_column="usage_date",
    columns=(
        Column("developer_id", "VARCHAR", "Person.", pseudonymised=True),
        Column("usage_date", "DATE", "UTC day."),
        Column("tool", "VARCHAR", "Tool name, lower case (e.g. copilot, claude_code, cursor)."),
        Column("active", "BOOLEAN", "The developer used the tool that day."),
    ),
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (TEAMS, MEMBERSHIPS, PULL_REQUESTS, DEPLOYMENTS, COMMITS, PAGES, ONCALL_SHIFTS, AI_TOOL_USAGE)
}
SNAPSHOT_TABLES = tuple(n for n, t in TABLES.items() if t.partition_column is None)
EVENT_TABLES = tuple(n for n, t in TABLES.items() if t.partition_column is not None)
