"""What to simulate (SimConfig) and the true parameters of the data-generating process (Params).

SimConfig is the public knob set; Params holds the truth the models are meant to recover, kept apart so the
switches in SimConfig visibly change only the parameters they name.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

from ctsw.config import DEFAULT_START_WEEK

FORMATS = {"parquet": "parquet", "csv": "csv", "jsonl": "jsonl"}


@dataclass(frozen=True)
class SimConfig:
    n_teams: int = 200
    n_weeks: int = 104
    seed: int = 0
    start_week: str = DEFAULT_START_WEEK
    fmt: str = "parquet"
    # Assumption-breaking switches, for testing the diagnostics.
    ai_raises_rollbacks: bool = False  # AI share raises rollback propensity: rollback_rate is no longer exogenous
    heterogeneous_by_cohort: bool = False  # early-access orgs get a bigger AI effect than late ones
    no_ai_effect: bool = False  # gamma = 0 for both outcomes

    def __post_init__(self) -> None:
        if self.fmt not in FORMATS:
            raise ValueError(f"fmt must be one of {sorted(FORMATS)}, got {self.fmt!r}")
        if self.n_teams < 1 or self.n_weeks < 2:
            raise ValueError("need at least 1 team and 2 weeks")
        if dt.date.fromisoformat(self.start_week).isoweekday() != 1:
            raise ValueError(f"start_week must be a Monday, got {self.start_week}")

    @property
    def n_orgs(self) -> int:
        return min(self.n_teams, 12, max(3, round(self.n_teams / 20)))

    @property
    def ext(self) -> str:
        return FORMATS[self.fmt]


@dataclass(frozen=True)
class OutcomeParams:
    """One dynamic equation: y_it = a_i + l_t + beta*y_i,t-1 + gamma*ai_share + coefs.X + e_it."""

    beta: float
    gamma: float
    rollback_rate_coef: float
    interventions_coef: float
    noise_sd: float  # sd of e_it for a team at the mean level; scales with sqrt(team level / mean level)
    level_by_architecture: dict[str, float]  # median long-run level without AI, per builder-week
    level_spread: float  # lognormal sd of team levels around the architecture median
    holiday_dips: dict[int, float]  # ISO week number -> additive week effect
    summer_weeks: tuple[int, ...]
    summer_dip: float
    week_noise_sd: float

    @property
    def long_run_effect(self) -> float:
        return self.gamma / (1 - self.beta)


@dataclass(frozen=True)
class Params:
    cr: OutcomeParams = field(default_factory=lambda: OutcomeParams(
        beta=0.45, gamma=0.30, rollback_rate_coef=-2.0, interventions_coef=-0.10, noise_sd=0.6,
        level_by_architecture={"service": 3.0, "monolith": 2.6, "trunk": 3.3}, level_spread=0.2,
        holiday_dips={51: -0.25, 52: -1.0, 53: -1.0, 1: -0.7}, summer_weeks=(31, 32, 33, 34), summer_dip=-0.2,
        week_noise_sd=0.06,
    ))
    deploy: OutcomeParams = field(default_factory=lambda: OutcomeParams(
        beta=0.35, gamma=0.05, rollback_rate_coef=0.0, interventions_coef=0.0, noise_sd=0.35,
        level_by_architecture={"service": 2.0, "monolith": 0.5, "trunk": 0.8}, level_spread=0.3,
        holiday_dips={51: -0.1, 52: -0.4, 53: -0.4, 1: -0.25}, summer_weeks=(31, 32, 33, 34), summer_dip=-0.08,
        week_noise_sd=0.04,
    ))
    # AI rollout: org access weeks spread over this share of the window; the last org never gets access
    # (when there are at least 4 orgs).
    access_window: tuple[float, float] = (0.08, 0.7)
    mean_adoption_delay_weeks: float = 6.0  # for a team of average velocity
    adoption_speed_elasticity: float = 0.8  # delay = mean * exp(-elasticity * standardised team level)
    never_adopt_share: float = 0.1
    weekly_active_prob: float = 0.9  # an adopted builder uses the tool in a given week
    active_day_prob: tuple[float, float] = (0.7, 0.05)  # per member weekday / weekend day, in an active week
    cohort_gamma_multipliers: tuple[float, float] = (1.6, 0.4)  # early / late access orgs, if heterogeneous
    # Delivery health: per-attempt propensities (team-specific, exogenous unless ai_raises_rollbacks).
    rollback_beta: tuple[float, float] = (2.0, 60.0)
    failure_beta: tuple[float, float] = (2.0, 40.0)
    ai_rollback_multiplier: float = 2.0  # rollback propensity x (1 + this x ai_share) when ai_raises_rollbacks
    interventions_per_attempt: dict[str, float] = field(
        default_factory=lambda: {"service": 0.25, "monolith": 1.0, "trunk": 0.15})
    pages_per_week_median: float = 2.0
    direct_commits_per_builder_week: float = 0.4  # trunk teams: commits beyond one per merged PR
    unshipped_commit_share: float = 0.03

    def for_config(self, cfg: SimConfig) -> Params:
        """The parameters under no_ai_effect (the other two switches act in world.py)."""
        if not cfg.no_ai_effect:
            return self
        return replace(self, cr=replace(self.cr, gamma=0.0), deploy=replace(self.deploy, gamma=0.0))
