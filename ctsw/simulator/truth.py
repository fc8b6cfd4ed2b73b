"""truth.json: every true parameter of the run, so estimates can be scored (team-level, nothing per person)."""

from __future__ import annotations

from ctsw.contract import ARCHITECTURES

from .clock import to_date
from .config import OutcomeParams
from .world import World

CONVENTIONS = {
    "equation": "y_it = a_i + l_t + beta*y_i,t-1 + gamma*ai_usage_share_it + c_rr*rollback_rate_it"
                " + c_ipd*interventions_per_deploy_it + e_it, y = count / builder_fte of the panel",
    "outcomes": {"cr_velocity": "prs_merged / builder_fte", "deploy_velocity": "deployments / builder_fte"},
    "regressors": "observed panel values of the same week; rollback_rate and interventions_per_deploy enter as 0"
                  " in team-weeks without deployment attempts (null in the panel)",
    "initial_condition": "y_i,t-1 of a team's first week is drawn from its stationary distribution; after a week"
                         " without builder FTE the team's level is used",
    "rounding": "the count is max(0, round(builder_fte * right-hand side))",
    "noise": "e_it ~ N(0, (noise_sd * sqrt(team level / mean team level))^2), independent over teams, weeks, outcomes",
    "delivery_health": "deployments come first; failed and rolled-back attempts occur at team-specific odds per"
                       " successful deployment, manual interventions at a team-specific rate per attempt, so the"
                       " rates are exogenous to the PR shock (unless ai_raises_rollbacks) and have no effect on"
                       " deployments (their denominator contains them)",
}


def _outcome(op: OutcomeParams, world: World, level, a, multiplier) -> dict:
    mean_level = float(level.mean())
    orgs = world.roster.org_names
    return {
        "beta": op.beta, "gamma": op.gamma, "long_run_effect": op.long_run_effect,
        "mean_level": mean_level, "long_run_effect_share_of_mean": op.long_run_effect / mean_level,
        "coefficients": {"ai_usage_share": op.gamma, "rollback_rate": op.rollback_rate_coef,
                         "interventions_per_deploy": op.interventions_coef},
        "gamma_by_org": {o: op.gamma * float(m) for o, m in zip(orgs, multiplier, strict=True)},
        "long_run_effect_by_org": {o: op.long_run_effect * float(m) for o, m in zip(orgs, multiplier, strict=True)},
        "noise_sd": op.noise_sd, "week_noise_sd": op.week_noise_sd,
        "level_by_architecture": op.level_by_architecture,
    } | {"fixed_effect_mean": float(a.mean())}


def truth_dict(world: World) -> dict:
    cfg, p, r, fx = world.cfg, world.params, world.roster, world.effects
    weeks = [to_date(world.w0 + 7 * t).isoformat() for t in range(cfg.n_weeks)]
    cr = _outcome(p.cr, world, fx.level_cr, fx.a_cr, world.cohort_multiplier)
    deploy = _outcome(p.deploy, world, fx.level_deploy, fx.a_deploy, world.cohort_multiplier)
    cr["week_effects"] = dict(zip(weeks, map(float, fx.week_cr), strict=True))
    deploy["week_effects"] = dict(zip(weeks, map(float, fx.week_deploy), strict=True))
    access = {o: (weeks[int(w)] if w < cfg.n_weeks else None) for o, w in zip(r.org_names, world.access, strict=True)}
    teams = {
        str(r.team_ids[i]): {
            "org": r.org_names[r.team_org[i]], "architecture": ARCHITECTURES[r.team_arch[i]],
            "delivery_unit": str(r.team_unit[i]),
            "a_cr_velocity": float(fx.a_cr[i]), "a_deploy_velocity": float(fx.a_deploy[i]),
            "level_cr_velocity": float(fx.level_cr[i]), "level_deploy_velocity": float(fx.level_deploy[i]),
            "mean_adoption_delay_weeks": float(world.team_delay[i]),
            "rollback_propensity": float(fx.p_rollback[i]), "failure_propensity": float(fx.p_fail[i]),
            "interventions_per_attempt": float(fx.interventions_rate[i]), "pages_per_week": float(fx.page_rate[i]),
        }
        for i in range(r.n_teams)
    }
    return {
        "seed": cfg.seed, "n_teams": cfg.n_teams, "n_weeks": cfg.n_weeks, "start_week": cfg.start_week,
        "end_week": to_date(world.w0 + 7 * cfg.n_weeks).isoformat(), "fmt": cfg.fmt,
        "switches": {"ai_raises_rollbacks": cfg.ai_raises_rollbacks,
                     "heterogeneous_by_cohort": cfg.heterogeneous_by_cohort, "no_ai_effect": cfg.no_ai_effect},
        "conventions": CONVENTIONS,
        "outcomes": {"cr_velocity": cr, "deploy_velocity": deploy},
        "rollout": {
            "access_week_by_org": access,
            "mean_adoption_delay_weeks": p.mean_adoption_delay_weeks,
            "adoption_speed_elasticity": p.adoption_speed_elasticity,
            "never_adopt_share": p.never_adopt_share, "weekly_active_prob": p.weekly_active_prob,
            "active_day_prob_weekday_weekend": list(p.active_day_prob),
            "cohort_gamma_multiplier_by_org": dict(zip(r.org_names, map(float, world.cohort_multiplier),
                                                       strict=True)),
        },
        "delivery": {
            "rollback_propensity_beta": list(p.rollback_beta), "failure_propensity_beta": list(p.failure_beta),
            "ai_rollback_multiplier": p.ai_rollback_multiplier if cfg.ai_raises_rollbacks else 0.0,
            "interventions_per_attempt_by_architecture": p.interventions_per_attempt,
        },
        "n_orgs": cfg.n_orgs, "n_people": int(r.dev_ids.size), "n_memberships": int(r.m_dev.size),
        "teams": teams,
    }
