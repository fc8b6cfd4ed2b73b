"""The team-week panel of docs/panel.md, from the weekly counts of the process (no event files needed)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from ctsw.contract import ARCHITECTURES

from .world import Week, World

COUNT_COLUMNS = ("builders", "headcount", "prs_merged", "deployment_attempts", "deployments", "rollbacks",
                 "manual_interventions", "pages", "oncall_builders", "ai_active_builders", "prs_shipped",
                 "commits_shipped")


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, NaN where den is 0 (docs/panel.md: null, never infinity)."""
    den = np.asarray(den, dtype=float)
    return np.divide(num, den, out=np.full(den.shape, np.nan), where=den > 0)


def panel_frame(world: World, weeks: Iterable[Week]) -> pd.DataFrame:
    r = world.roster
    parts: dict[str, list[np.ndarray]] = {}
    for wk in weeks:
        c = wk.counts
        rows = np.flatnonzero(c["present"])
        cols = {"team": rows, "week_day": np.full(rows.size, wk.week_day), "builder_fte": c["builder_fte"][rows],
                "dev_cost_usd": c["dev_cost_usd"][rows], "failed": c["failed"][rows]}
        cols |= {k: c[k][rows] for k in COUNT_COLUMNS}
        for k, v in cols.items():
            parts.setdefault(k, []).append(v)
    d = {k: np.concatenate(v) for k, v in parts.items()}
    team = d.pop("team")
    week_day = d.pop("week_day")
    failed = d.pop("failed")
    unit = r.team_unit[team]
    units = np.select([unit == "deployment", unit == "pull_request"], [d["deployments"], d["prs_shipped"]],
                      d["commits_shipped"])
    df = pd.DataFrame({
        "team_id": r.team_ids[team].astype(str),
        "week_start": pd.to_datetime(week_day, unit="D"),
        "org": np.array(r.org_names, dtype=object)[r.team_org[team]].astype(str),
        "architecture": np.array(ARCHITECTURES, dtype=object)[r.team_arch[team]].astype(str),
        "delivery_unit": unit.astype(str),
        "builder_fte": d["builder_fte"],
        "builders": d["builders"],
        "headcount": d["headcount"],
        "dev_cost_usd": d["dev_cost_usd"],
        "prs_merged": d["prs_merged"],
        "cr_velocity": _ratio(d["prs_merged"], d["builder_fte"]),
        "deployment_attempts": d["deployment_attempts"],
        "deployments": d["deployments"],
        "deploy_velocity": _ratio(d["deployments"], d["builder_fte"]),
        "rollbacks": d["rollbacks"],
        "rollback_rate": _ratio(d["rollbacks"], d["deployment_attempts"]),
        "manual_interventions": d["manual_interventions"],
        "interventions_per_deploy": _ratio(d["manual_interventions"], d["deployment_attempts"]),
        "pages": d["pages"],
        "oncall_builders": d["oncall_builders"],
        "pages_per_oncall_builder": _ratio(d["pages"], d["oncall_builders"]),
        "ai_active_builders": d["ai_active_builders"],
        "ai_usage_share": _ratio(d["ai_active_builders"], d["builders"]),
        "prs_shipped": d["prs_shipped"],
        "commits_shipped": d["commits_shipped"],
        "units_delivered": units,
        "cts_sw_usd": _ratio(d["dev_cost_usd"], units),
        "cts_sw_null_reason": np.where(units == 0, "no_units_delivered", None),
        "dora_deployment_frequency": d["deployments"],
        "dora_change_failure_rate": _ratio(failed + d["rollbacks"], d["deployment_attempts"]),
    })
    for k in COUNT_COLUMNS + ("units_delivered", "dora_deployment_frequency"):
        df[k] = df[k].astype("int64")
    return df.sort_values(["team_id", "week_start"], ignore_index=True)
