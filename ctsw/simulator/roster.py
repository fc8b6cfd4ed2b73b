"""Orgs, teams and who belonged to them.

Each team has seats (builder seats, one manager, sometimes a part-time "other"); a seat is held by successive
people with exponential tenures and hiring gaps, so hires and leavers happen on any day of the week. Some teams
form or dissolve inside the window, some grow or shrink, and a few builders change FTE mid-spell (two
membership rows for one person), which is what makes `builders` a count of distinct people.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ctsw.contract import ARCHITECTURES, DEFAULT_DELIVERY_UNIT, ROLES

from .clock import to_day
from .config import SimConfig

ORG_NAMES = ("retail", "payments", "ads", "devices", "cloud", "logistics", "media", "health", "search",
             "identity", "marketplace", "support")
BUILDER, MANAGER, OTHER = (ROLES.index(r) for r in ("builder", "manager", "other"))
NO_END = 10**7  # day number standing for "still a member" (end_date null)
ARCH_SHARES = (0.7, 0.15, 0.15)  # service, monolith, trunk
MEAN_TENURE_DAYS = {BUILDER: 1000, MANAGER: 1400, OTHER: 900}


@dataclass
class Roster:
    org_names: list[str]
    org_cost_level: np.ndarray
    team_ids: np.ndarray  # str, "t0001"
    team_names: np.ndarray
    team_org: np.ndarray  # index into org_names
    team_arch: np.ndarray  # index into ARCHITECTURES
    team_unit_written: np.ndarray  # delivery_unit as written to `teams` (None = default)
    team_n_oncall: np.ndarray  # builders on call per week
    dev_ids: np.ndarray  # str, "dev00001"
    dev_team: np.ndarray
    dev_role: np.ndarray  # index into ROLES
    dev_start: np.ndarray  # first day employed on the team
    dev_end: np.ndarray  # first day no longer (NO_END = still)
    m_dev: np.ndarray  # membership rows: developer index, [start, end) days, fte, annual loaded cost
    m_start: np.ndarray
    m_end: np.ndarray
    m_fte: np.ndarray
    m_cost: np.ndarray

    @property
    def n_teams(self) -> int:
        return len(self.team_ids)

    @property
    def team_unit(self) -> np.ndarray:
        """Resolved delivery unit per team (default by architecture when not written)."""
        default = np.array([DEFAULT_DELIVERY_UNIT[a] for a in ARCHITECTURES], dtype=object)[self.team_arch]
        return np.where(self.team_unit_written == None, default, self.team_unit_written)  # noqa: E711


def _architectures(n: int, rng: np.random.Generator) -> np.ndarray:
    counts = np.round(np.array(ARCH_SHARES) * n).astype(int)
    if n >= 3:
        counts = np.maximum(counts, 1)
    counts[0] = n - counts[1:].sum()
    return rng.permutation(np.repeat(np.arange(3), counts))


def _seats(cfg: SimConfig, rng: np.random.Generator, team_start, team_end, w0: int, length: int):
    """Seat table: team, role, open day, close day."""
    n = cfg.n_teams
    base = rng.integers(4, 11, n)
    team = np.repeat(np.arange(n), base)
    role = np.full(team.size, BUILDER)
    open_ = team_start[team].copy()
    close = team_end[team].copy()
    # Shrink: one seat of some teams closes for good mid-window.
    first_seat = np.cumsum(base) - base
    shrink = rng.random(n) < 0.2
    close[first_seat[shrink]] = np.minimum(
        close[first_seat[shrink]], w0 + (rng.uniform(0.2, 0.9, shrink.sum()) * length).astype(int))
    # Growth, manager, sometimes a part-time "other".
    grow = np.flatnonzero(rng.random(n) < 0.25)
    other = np.flatnonzero(rng.random(n) < 0.3)
    extra_team = np.concatenate([grow, np.arange(n), other])
    extra_role = np.concatenate([np.full(grow.size, BUILDER), np.full(n, MANAGER), np.full(other.size, OTHER)])
    extra_open = team_start[extra_team].copy()
    extra_open[: grow.size] = np.maximum(
        extra_open[: grow.size], w0 + (rng.uniform(0.1, 0.9, grow.size) * length).astype(int))
    return (np.concatenate([team, extra_team]), np.concatenate([role, extra_role]),
            np.concatenate([open_, extra_open]), np.concatenate([close, team_end[extra_team]]))


def _spells(rng, seat_role, seat_open, seat_close, w0: int, w_end: int):
    """Successive holders of each seat: (seat, start, end) with end exclusive."""
    tenure = np.array([MEAN_TENURE_DAYS[r] for r in range(len(ROLES))])[seat_role]
    existing = seat_open <= w0
    start = np.where(existing, w0 - rng.integers(0, 1500, seat_open.size), seat_open + rng.integers(0, 21,
                                                                                                 seat_open.size))
    end = np.where(existing, w0, start) + 1 + rng.exponential(tenure).astype(np.int64)
    limit = np.minimum(seat_close, w_end)
    alive = start < limit
    out = []
    while alive.any():
        i = np.flatnonzero(alive)
        out.append((i, start[i], np.minimum(end[i], seat_close[i])))
        gap = np.where(rng.random(i.size) < 0.3, 0, rng.integers(1, 61, i.size))
        start[i] = end[i] + gap
        end[i] = start[i] + 1 + rng.exponential(tenure[i]).astype(np.int64)
        alive &= start < limit
    seat, s, e = (np.concatenate(parts) for parts in zip(*out, strict=True))
    return seat, s, e


def build_roster(cfg: SimConfig, rng: np.random.Generator) -> Roster:
    n, n_orgs = cfg.n_teams, cfg.n_orgs
    w0 = to_day(cfg.start_week)
    length = 7 * cfg.n_weeks
    w_end = w0 + length

    org_cost_level = rng.uniform(0.85, 1.2, n_orgs)
    team_org = rng.choice(n_orgs, n, p=rng.dirichlet(np.full(n_orgs, 3.0)))
    team_org[rng.permutation(n)[:n_orgs]] = np.arange(n_orgs)  # every org has a team
    team_arch = _architectures(n, rng)
    u = rng.random(n)
    unit_override = (team_arch == ARCHITECTURES.index("service")) & (u > 0.95)
    written = np.where(u < 0.45, [DEFAULT_DELIVERY_UNIT[ARCHITECTURES[a]] for a in team_arch], None)
    written[unit_override] = "pull_request"

    team_start = np.full(n, w0 - 4000)
    team_end = np.full(n, NO_END)
    if cfg.n_weeks >= 20:
        new = rng.random(n) < 0.04
        team_start[new] = w0 + (rng.uniform(0.1, 0.6, new.sum()) * length).astype(int)
        dissolve = ~new & (rng.random(n) < 0.03)
        team_end[dissolve] = w0 + (rng.uniform(0.5, 0.95, dissolve.sum()) * length).astype(int)

    seat_team, seat_role, seat_open, seat_close = _seats(cfg, rng, team_start, team_end, w0, length)
    seat, start, end = _spells(rng, seat_role, seat_open, seat_close, w0, w_end)
    order = np.lexsort((start, seat_role[seat], seat_team[seat]))
    seat, start, end = seat[order], start[order], end[order]
    dev_team, dev_role = seat_team[seat], seat_role[seat]
    end = np.where(end >= w_end, NO_END, end)
    n_dev = seat.size

    fte = np.where(dev_role == OTHER, 0.5, 1.0)
    fte[(dev_role == BUILDER) & (rng.random(n_dev) < 0.08)] = 0.5
    cost = 200_000 * org_cost_level[team_org[dev_team]] * rng.lognormal(0, 0.18, n_dev)
    cost *= np.select([dev_role == MANAGER, dev_role == OTHER], [1.25, 0.8], 1.0)
    cost = np.round(np.clip(cost, 150_000, 350_000), -2)

    # FTE changes: one person, two consecutive membership rows.
    lo = np.maximum(start, w0) + 7
    hi = np.minimum(end, w_end) - 7
    split = np.flatnonzero((dev_role == BUILDER) & (hi > lo) & (rng.random(n_dev) < 0.06))
    at = rng.integers(lo[split], hi[split])
    m_dev = np.concatenate([np.arange(n_dev), split])
    m_start = np.concatenate([start, at])
    m_end = np.concatenate([end, end[split]])
    m_end[split] = at
    m_fte = np.concatenate([fte, 1.5 - fte[split]])

    width = max(4, len(str(n)))
    org_names = list(ORG_NAMES[:n_orgs])
    team_ids = np.array([f"t{i + 1:0{width}d}" for i in range(n)], dtype=object)
    rank_in_org = np.zeros(n, dtype=int)
    for k in range(n_orgs):
        members = np.flatnonzero(team_org == k)
        rank_in_org[members] = np.arange(1, members.size + 1)
    team_names = np.array([f"{org_names[o]}-{r}" for o, r in zip(team_org, rank_in_org, strict=True)],
                          dtype=object)
    return Roster(
        org_names=org_names, org_cost_level=org_cost_level, team_ids=team_ids, team_names=team_names,
        team_org=team_org, team_arch=team_arch, team_unit_written=written,
        team_n_oncall=np.where(rng.random(n) < 0.7, 1, 2),
        dev_ids=np.array([f"dev{i + 1:05d}" for i in range(n_dev)], dtype=object),
        dev_team=dev_team, dev_role=dev_role, dev_start=start, dev_end=end,
        m_dev=m_dev, m_start=m_start, m_end=m_end, m_fte=m_fte, m_cost=cost[m_dev],
    )
