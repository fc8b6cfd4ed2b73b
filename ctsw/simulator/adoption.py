"""AI-tool rollout and adoption: org access weeks, each person's adoption week, and daily activity.

Access is staggered by org (one org never gets it when there are at least 4); after access each person
adopts after a geometric delay whose mean is shorter in high-velocity teams, so a naive cross-section
overstates the effect and team fixed effects are needed. Activity is drawn per member day, so a team's
`ai_active_builders` is exactly the count docs/panel.md defines.
"""

from __future__ import annotations

import numpy as np

from .config import Params
from .roster import Roster


def org_access_weeks(n_orgs: int, n_weeks: int, params: Params, rng: np.random.Generator) -> np.ndarray:
    """Week index (from the window start) at which each org gets access; inf = never in the window."""
    n_access = n_orgs - 1 if n_orgs >= 4 else n_orgs
    lo, hi = params.access_window
    weeks = np.full(n_orgs, np.inf)
    weeks[:n_access] = np.round(np.linspace(lo * n_weeks, hi * n_weeks, n_access))
    return weeks[rng.permutation(n_orgs)]


def team_adoption_delay(level_z: np.ndarray, params: Params) -> np.ndarray:
    """Mean weeks from access to a person's adoption, per team: faster for high-velocity teams."""
    return params.mean_adoption_delay_weeks * np.exp(-params.adoption_speed_elasticity * level_z)


def dev_adoption_weeks(roster: Roster, access: np.ndarray, team_delay: np.ndarray, w0: int, params: Params,
                       rng: np.random.Generator) -> np.ndarray:
    """Week index from which each person uses the tool (inf = never)."""
    hire_week = np.maximum((roster.dev_start - w0) // 7, 0)
    base = np.maximum(access[roster.team_org[roster.dev_team]], hire_week)
    delay = rng.geometric(1 / (1 + team_delay[roster.dev_team])) - 1
    never = rng.random(base.size) < params.never_adopt_share
    return np.where(never, np.inf, base + delay)


def week_activity(roster: Roster, adopt_week: np.ndarray, t: int, week_day: int, params: Params,
                  rng: np.random.Generator):
    """People employed in week t: (indices, member-day mask, active-day mask, adopted flag), masks (n, 7)."""
    emp = np.flatnonzero((roster.dev_start < week_day + 7) & (roster.dev_end > week_day))
    days = week_day + np.arange(7)
    member = (roster.dev_start[emp, None] <= days) & (roster.dev_end[emp, None] > days)
    adopted = adopt_week[emp] <= t
    active_week = adopted & (rng.random(emp.size) < params.weekly_active_prob)
    weekday = np.arange(7) < 5
    p_day = np.where(weekday, *params.active_day_prob)
    active = member & active_week[:, None] & (rng.random((emp.size, 7)) < p_day)
    # An active week has at least one active member day (weekdays preferred).
    missing = np.flatnonzero(active_week & ~active.any(axis=1))
    score = member[missing] * (rng.random((missing.size, 7)) + weekday)
    active[missing, np.argmax(score, axis=1)] = True
    return emp, member, active, adopted
