"""The team-week process: roster, rollout and the weekly outcome recursion, one week at a time.

All randomness here comes from the panel stream of the seed; the event files are drawn afterwards from a
separate stream, conditional on the counts produced here. That is why `simulate_panel` (this process only)
and `simulate` (this process plus events) agree exactly on every count.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ctsw.contract import ARCHITECTURES

from .adoption import dev_adoption_weeks, org_access_weeks, team_adoption_delay, week_activity
from .clock import iso_week_numbers, to_day
from .config import Params, SimConfig
from .outcomes import noise, rates, team_effects
from .roster import BUILDER, Roster, build_roster

COST_WEEKS_PER_YEAR = 52.18
SERVICE, MONOLITH, TRUNK = (ARCHITECTURES.index(a) for a in ("service", "monolith", "trunk"))


@dataclass
class Week:
    """One week of the process: per-team counts (arrays of n_teams) and the people behind them."""

    t: int
    week_day: int  # day number of the Monday
    counts: dict[str, np.ndarray]
    emp: np.ndarray  # people employed this week
    member: np.ndarray  # (len(emp), 7) member days
    active: np.ndarray  # (len(emp), 7) days with AI-tool activity
    adopted: np.ndarray  # (len(emp),) has adopted the tool by this week
    oncall_dev: np.ndarray  # on-call builders (person index), one shift each, Monday to Monday
    oncall_team: np.ndarray


class World:
    def __init__(self, cfg: SimConfig):
        self.cfg = cfg
        panel_seq, self.event_seed = np.random.SeedSequence(cfg.seed).spawn(2)
        self.rng = np.random.default_rng(panel_seq)
        self.params = Params().for_config(cfg)
        self.w0 = to_day(cfg.start_week)
        self.iso_weeks = iso_week_numbers(self.w0, cfg.n_weeks)
        self.roster: Roster = build_roster(cfg, self.rng)
        self.access = org_access_weeks(cfg.n_orgs, cfg.n_weeks, self.params, self.rng)
        early = self.access <= np.median(self.access[np.isfinite(self.access)])
        hi, lo = self.params.cohort_gamma_multipliers
        self.cohort_multiplier = np.where(early, hi, lo) if cfg.heterogeneous_by_cohort else np.ones(cfg.n_orgs)
        self.effects = team_effects(self.roster, self.params, self.cohort_multiplier, self.iso_weeks, self.rng)
        self.team_delay = team_adoption_delay(self.effects.level_z, self.params)
        self.adopt_week = dev_adoption_weeks(self.roster, self.access, self.team_delay, self.w0, self.params,
                                             self.rng)

    def weeks(self) -> Iterator[Week]:
        """The weeks in order; call once per World (the stream is consumed)."""
        r, fx, p, rng = self.roster, self.effects, self.params, self.rng
        n = r.n_teams
        m_team, m_role = r.dev_team[r.m_dev], r.dev_role[r.m_dev]
        lag_cr = fx.level_cr + noise(p.cr, fx.level_cr, rng) / np.sqrt(1 - p.cr.beta**2)
        lag_deploy = fx.level_deploy + noise(p.deploy, fx.level_deploy, rng) / np.sqrt(1 - p.deploy.beta**2)
        backlog = np.zeros(n, dtype=np.int64)  # merged PRs waiting for a deployment
        for t in range(self.cfg.n_weeks):
            wd = self.w0 + 7 * t
            days = np.clip(np.minimum(r.m_end, wd + 7) - np.maximum(r.m_start, wd), 0, 7)
            frac = r.m_fte * days / 7
            builder_fte = np.bincount(m_team, frac * (m_role == BUILDER), n)
            dev_cost = np.bincount(m_team, frac * r.m_cost / COST_WEEKS_PER_YEAR, n)

            emp, member, active, adopted = week_activity(r, self.adopt_week, t, wd, p, rng)
            e_team = r.dev_team[emp]
            e_builder = r.dev_role[emp] == BUILDER
            builders = np.bincount(e_team[e_builder], minlength=n)
            headcount = np.bincount(e_team, minlength=n)
            ai_active = np.bincount(e_team[e_builder & active.any(axis=1)], minlength=n)
            share = np.where(builders > 0, ai_active / np.maximum(builders, 1), 0.0)
            present = headcount > 0
            oncall_dev, oncall_team = self._oncall(emp[e_builder], wd)

            # Deployments, then delivery health, then PRs (which use this week's observed rates).
            base = (fx.a_deploy + fx.week_deploy[t] + p.deploy.beta * lag_deploy + fx.gamma_deploy * share
                    + noise(p.deploy, fx.level_deploy, rng))
            deployments = np.maximum(0, np.rint(builder_fte * base)).astype(np.int64)
            p_rollback = fx.p_rollback * (1 + p.ai_rollback_multiplier * share * self.cfg.ai_raises_rollbacks)
            per_success = deployments / np.maximum(1 - p_rollback - fx.p_fail, 0.2)
            rolled_back = rng.poisson(p_rollback * per_success)
            failed = rng.poisson(fx.p_fail * per_success)
            attempts = deployments + failed + rolled_back
            interventions = rng.poisson(fx.interventions_rate * attempts)
            rr, ipd = rates(attempts, rolled_back, interventions)
            base = (fx.a_cr + fx.week_cr[t] + p.cr.beta * lag_cr + fx.gamma_cr * share
                    + p.cr.rollback_rate_coef * rr + p.cr.interventions_coef * ipd + noise(p.cr, fx.level_cr, rng))
            prs = np.maximum(0, np.rint(builder_fte * base)).astype(np.int64)

            has_fte = builder_fte > 0
            safe_fte = np.where(has_fte, builder_fte, 1.0)
            lag_cr = np.where(has_fte, prs / safe_fte, fx.level_cr)
            lag_deploy = np.where(has_fte, deployments / safe_fte, fx.level_deploy)

            trunk = r.team_arch == TRUNK
            commits = np.where(trunk & has_fte, prs + rng.poisson(p.direct_commits_per_builder_week * builder_fte),
                               0)
            commits_unshipped = rng.binomial(commits, p.unshipped_commit_share)
            pages = np.where(present, rng.poisson(fx.page_rate), 0)

            # Shipping: services ship a week's merges with that week's deployments; a monolith's release
            # train ships what was merged before the week; trunk PRs ship on merge.
            deployed = deployments > 0
            service, monolith = r.team_arch == SERVICE, r.team_arch == MONOLITH
            prs_shipped = np.where(trunk, prs, np.where(deployed, backlog + np.where(service, prs, 0), 0))
            backlog = np.where(service, np.where(deployed, 0, backlog + prs),
                               np.where(monolith, prs + np.where(deployed, 0, backlog), 0))

            counts = dict(
                present=present, builder_fte=builder_fte, builders=builders, headcount=headcount,
                dev_cost_usd=dev_cost, prs_merged=prs, deployments=deployments, failed=failed,
                rollbacks=rolled_back, deployment_attempts=attempts, manual_interventions=interventions,
                pages=pages, oncall_builders=np.bincount(oncall_team, minlength=n), ai_active_builders=ai_active,
                prs_shipped=prs_shipped, commits=commits, commits_shipped=commits - commits_unshipped,
            )
            yield Week(t, wd, counts, emp, member, active, adopted, oncall_dev, oncall_team)

    def _oncall(self, builders: np.ndarray, wd: int):
        """Pick each team's on-call builders for the week, preferring people there all week."""
        r = self.roster
        team = r.dev_team[builders]
        full = (r.dev_start[builders] <= wd) & (r.dev_end[builders] >= wd + 7)
        key = self.rng.random(builders.size) + ~full
        order = np.lexsort((key, team))
        sorted_team = team[order]
        rank = np.arange(order.size) - np.searchsorted(sorted_team, sorted_team)
        pick = order[rank < r.team_n_oncall[sorted_team]]
        return builders[pick], team[pick]
