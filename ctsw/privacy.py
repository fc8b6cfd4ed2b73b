"""Privacy rules for published outputs (reports, exports, dashboards): see docs/privacy.md.

* Person identifiers never reach DuckDB in clear: the loader replaces them with keyed pseudonyms
  (`ctsw.ingest.pseudonym`); `PERSON_COLUMNS` are the contract's columns that hold them.
* A team with fewer builders than the minimum (`CTSW_MIN_TEAM_BUILDERS`, default 3) is never published on its
  own: with one or two builders a team's cost or velocity is a person's. It stays in every total.
* Secondary suppression: when exactly one team of an org-week is hidden, the org total minus the published
  teams would give it away, so the published team with the fewest builders is hidden as well.
* An org-week whose total has fewer builders than the minimum is flagged (`below_minimum`) so a publisher can
  leave it out; its total describes that few people.

`publish_team_weeks(team_weeks)` applies all of it to rows shaped like `marts.fct_team_weeks`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ctsw.contract import TABLES

DEFAULT_MIN_TEAM_BUILDERS = 3
MIN_TEAM_BUILDERS_ENV = "CTSW_MIN_TEAM_BUILDERS"
# Columns of the contract that identify a person (pseudonymised at load).
PERSON_COLUMNS: tuple[str, ...] = tuple(sorted({c.name for t in TABLES.values() for c in t.columns
                                                if c.pseudonymised}))
# Panel columns that add up over teams; org totals sum these and recompute ratios from the sums.
ADDITIVE = ("builder_fte", "builders", "headcount", "dev_cost_usd", "prs_merged", "deployment_attempts",
            "deployments", "rollbacks", "manual_interventions", "pages", "oncall_builders", "ai_active_builders",
            "prs_shipped", "commits_shipped", "units_delivered", "change_failures")
RATIOS = {  # ratio of sums: numerator, denominator
    "cr_velocity": ("prs_merged", "builder_fte"),
    "deploy_velocity": ("deployments", "builder_fte"),
    "cts_sw_usd": ("dev_cost_usd", "units_delivered"),
    "rollback_rate": ("rollbacks", "deployment_attempts"),
    "ai_usage_share": ("ai_active_builders", "builders"),
}


def min_team_builders(value: int | str | None = None) -> int:
    """The privacy minimum: `value`, else CTSW_MIN_TEAM_BUILDERS, else 3. A bad value raises ValueError."""
    raw = value if value is not None else os.environ.get(MIN_TEAM_BUILDERS_ENV, str(DEFAULT_MIN_TEAM_BUILDERS))
    try:
        n = int(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{MIN_TEAM_BUILDERS_ENV} must be a whole number, got {raw!r}") from None
    if n < 1:
        raise ValueError(f"{MIN_TEAM_BUILDERS_ENV} must be at least 1, got {n}")
    return n


def suppress_small_teams(team_weeks: pd.DataFrame, min_builders: int | None = None, *, whole_team: bool = False,
                         secondary: bool = True, group: tuple[str, ...] = ("org", "week_start")) -> pd.DataFrame:
    """The rows of `team_weeks` that may be published on their own.

    A team-week with fewer than `min_builders` builders is dropped (with `whole_team`, every week of a team
    that was ever below it). With `secondary`, an org-week (`group`) where exactly one team was dropped loses its
    published team with the fewest builders too, so the org total cannot be differenced back to the small one.
    """
    n = min_team_builders(min_builders)
    df = team_weeks.reset_index(drop=True)
    hidden = (df["builders"].fillna(0) < n).to_numpy()
    if whole_team:
        hidden = df["team_id"].isin(set(df.loc[hidden, "team_id"])).to_numpy()
    if secondary and all(c in df.columns for c in group):
        keys = list(group)
        hidden_per_group = pd.Series(hidden, index=df.index).groupby([df[k] for k in keys]).transform("sum")
        lone = (hidden_per_group == 1).to_numpy() & ~hidden
        if lone.any():
            candidates = df[lone].sort_values(["builders", "team_id"], kind="stable")
            extra = candidates.groupby(keys, sort=False).head(1).index.to_numpy()
            hidden = hidden.copy()
            hidden[extra] = True
    return df[~hidden].reset_index(drop=True)


def org_totals(team_weeks: pd.DataFrame, min_builders: int | None = None,
               group: tuple[str, ...] = ("org", "week_start")) -> pd.DataFrame:
    """Totals per org-week over every team, small ones included: sums, ratios of sums, teams, hidden teams.

    `below_minimum` flags an org-week whose total itself has fewer builders than the minimum.
    """
    n = min_team_builders(min_builders)
    keys = list(group)
    cols = [c for c in ADDITIVE if c in team_weeks.columns]
    grouped = team_weeks.groupby(keys, sort=True)
    out = grouped[cols].sum(min_count=1)
    out["teams"] = grouped["team_id"].nunique()
    out["teams_below_minimum"] = grouped["builders"].apply(lambda b: int((b.fillna(0) < n).sum()))
    for name, (num, den) in RATIOS.items():
        if num in out.columns and den in out.columns:
            d = out[den].astype(float)
            out[name] = np.where(d > 0, out[num].astype(float) / d.where(d > 0, 1.0), np.nan)
    out["below_minimum"] = out["builders"].fillna(0) < n if "builders" in out.columns else False
    return out.reset_index()


@dataclass
class Published:
    team_weeks: pd.DataFrame  # rows that may be shown per team
    org_weeks: pd.DataFrame  # totals over every team, small ones included
    min_builders: int

    @property
    def hidden_team_weeks(self) -> int:
        return int(self.org_weeks["teams"].sum()) - len(self.team_weeks)


def publish_team_weeks(team_weeks: pd.DataFrame, min_builders: int | None = None, *, whole_team: bool = False,
                       secondary: bool = True) -> Published:
    """Team-weeks that may be published, and org totals that keep every team."""
    n = min_team_builders(min_builders)
    return Published(
        team_weeks=suppress_small_teams(team_weeks, n, whole_team=whole_team, secondary=secondary),
        org_weeks=org_totals(team_weeks, n),
        min_builders=n,
    )
