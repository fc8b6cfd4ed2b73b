"""Team effects, week effects and noise of the two dynamic equations.

Each week, per team (world.py): successful deployments D follow
    D/fte = a_i + l_t + beta*y_i,t-1 + gamma*ai_share + e
(delivery-health coefficients are 0 here: the rates' denominator contains D, so any effect of them on D would
be simultaneous); failed and rolled-back attempts then occur at team-specific odds per success and manual
interventions at a team-specific rate per attempt; then merged PRs follow
    prs/fte = a_i + l_t + beta*y_i,t-1 + gamma*ai_share + c_rr*rollback_rate + c_ipd*interventions_per_deploy + e
with the rates observed that week (exogenous to the PR shock). Each outcome is a rounded count, so
y_obs = count / builder_fte. Rates of a team-week without attempts enter as 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ctsw.contract import ARCHITECTURES

from .config import OutcomeParams, Params
from .roster import Roster


@dataclass
class TeamEffects:
    level_cr: np.ndarray  # long-run cr_velocity without AI in an ordinary week
    level_deploy: np.ndarray
    level_z: np.ndarray  # standardised log cr level: drives adoption speed
    a_cr: np.ndarray  # fixed effects
    a_deploy: np.ndarray
    gamma_cr: np.ndarray  # per team (differs by org only when heterogeneous_by_cohort)
    gamma_deploy: np.ndarray
    p_rollback: np.ndarray  # per attempt
    p_fail: np.ndarray
    interventions_rate: np.ndarray  # per attempt
    page_rate: np.ndarray  # per week
    week_cr: np.ndarray  # week effects l_t
    week_deploy: np.ndarray


def _levels(p: OutcomeParams, arch: np.ndarray, z: np.ndarray) -> np.ndarray:
    median = np.array([p.level_by_architecture[a] for a in ARCHITECTURES])[arch]
    return median * np.exp(p.level_spread * z)


def _week_effects(p: OutcomeParams, iso_weeks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    dips = np.array([p.holiday_dips.get(int(w), 0.0) for w in iso_weeks])
    dips += np.where(np.isin(iso_weeks, p.summer_weeks), p.summer_dip, 0.0)
    return dips + rng.normal(0, p.week_noise_sd, iso_weeks.size)


def team_effects(roster: Roster, params: Params, cohort_multiplier: np.ndarray, iso_weeks: np.ndarray,
                 rng: np.random.Generator) -> TeamEffects:
    n = roster.n_teams
    z_cr = rng.standard_normal(n)
    z_deploy = 0.5 * z_cr + np.sqrt(0.75) * rng.standard_normal(n)  # faster coders deploy more
    level_cr = _levels(params.cr, roster.team_arch, z_cr)
    level_deploy = _levels(params.deploy, roster.team_arch, z_deploy)
    p_rollback = rng.beta(*params.rollback_beta, n)
    p_fail = rng.beta(*params.failure_beta, n)
    rate = np.array([params.interventions_per_attempt[a] for a in ARCHITECTURES])[roster.team_arch]
    interventions_rate = rate * rng.lognormal(-0.125, 0.5, n)

    def fixed_effect(p: OutcomeParams, level: np.ndarray) -> np.ndarray:
        return (1 - p.beta) * level - p.rollback_rate_coef * p_rollback - p.interventions_coef * interventions_rate

    mult = cohort_multiplier[roster.team_org]
    return TeamEffects(
        level_cr=level_cr, level_deploy=level_deploy, level_z=(z_cr - z_cr.mean()) / max(z_cr.std(), 1e-9),
        a_cr=fixed_effect(params.cr, level_cr), a_deploy=fixed_effect(params.deploy, level_deploy),
        gamma_cr=params.cr.gamma * mult, gamma_deploy=params.deploy.gamma * mult,
        p_rollback=p_rollback, p_fail=p_fail, interventions_rate=interventions_rate,
        page_rate=params.pages_per_week_median * rng.lognormal(0, 0.7, n),
        week_cr=_week_effects(params.cr, iso_weeks, rng), week_deploy=_week_effects(params.deploy, iso_weeks, rng),
    )


def noise(p: OutcomeParams, level: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(0, p.noise_sd * np.sqrt(level / level.mean()))


def rates(attempts, rolled_back, interventions):
    """rollback_rate and interventions_per_deploy as they enter the equations (0 without attempts)."""
    safe = np.maximum(attempts, 1)
    has = attempts > 0
    return np.where(has, rolled_back / safe, 0.0), np.where(has, interventions / safe, 0.0)
