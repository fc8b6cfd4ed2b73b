"""Per-tool AI adoption of the simulated org: the `fct_team_week_tools` panel implied by a run.

Every person has a primary AI tool and, for one in five, a second one (drawn exactly as the event files
draw them, from the seed's event stream). A builder is active with his primary tool on each of his active
days and with his second tool on some of them (40% of the active days). The AI effect of the simulator is
an effect of *any* AI use (`ai_usage_share`): all tools share the common effect, there is no tool-specific
effect. That makes the per-tool panel a test bed for the "baseline model": estimated one at a time, each
tool's share picks up the common effect of AI use and the per-tool effects add up to several times the
true total.

The second-tool days are drawn from a stream of their own (the event files draw them from the event
stream in the middle of other draws), so the per-tool counts agree with the dbt mart built from
`simulate`'s files in distribution, and exactly for builders without a second tool; `ai_usage_share` of the
panel is the same as `simulate_panel`'s.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .config import SimConfig
from .events import TOOLS
from .panel import panel_frame
from .roster import BUILDER
from .truth import truth_dict
from .world import World

SECOND_TOOL_DAY_PROB = 0.4


def tool_assignment(world: World) -> tuple[np.ndarray, np.ndarray]:
    """(primary tool, second tool or -1) per person, the same draws as the event writer's."""
    rng = np.random.default_rng(world.event_seed)
    n_dev = world.roster.dev_ids.size
    tool = rng.choice(len(TOOLS), n_dev, p=(0.5, 0.3, 0.2))
    second = np.where(rng.random(n_dev) < 0.2, (tool + rng.integers(1, len(TOOLS), n_dev)) % len(TOOLS), -1)
    return tool, second


def simulate_tool_panel(cfg: SimConfig) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(team-week panel as `simulate_panel`, per-tool panel as `marts.fct_team_week_tools`, truth)."""
    world = World(cfg)
    tool, second = tool_assignment(world)
    rng = np.random.default_rng(np.random.SeedSequence(cfg.seed).spawn(3)[2])
    r = world.roster
    parts: list[pd.DataFrame] = []

    def weeks():
        for wk in world.weeks():
            is_builder = r.dev_role[wk.emp] == BUILDER
            active_days = wk.active & is_builder[:, None]
            any_active = active_days.any(axis=1)
            has2 = second[wk.emp] >= 0
            uses2 = has2 & (active_days & (rng.random(active_days.shape) < SECOND_TOOL_DAY_PROB)).any(axis=1)
            team = r.dev_team[wk.emp]
            builders = np.bincount(team[is_builder], minlength=r.n_teams)
            rows = []
            for k in range(len(TOOLS)):
                users = any_active & (tool[wk.emp] == k) | uses2 & (second[wk.emp] == k)
                cnt = np.bincount(team[users], minlength=r.n_teams)
                t = np.flatnonzero(cnt > 0)
                rows.append(pd.DataFrame({"team": t, "tool": TOOLS[k], "ai_active_builders": cnt[t],
                                          "builders": builders[t], "week_day": wk.week_day}))
            parts.append(pd.concat(rows, ignore_index=True))
            yield wk

    panel = panel_frame(world, weeks())
    tools = pd.concat(parts, ignore_index=True)
    tools = pd.DataFrame({
        "team_id": r.team_ids[tools["team"].to_numpy()].astype(str),
        "week_start": pd.to_datetime(tools["week_day"].to_numpy(), unit="D"),
        "tool": tools["tool"].astype(str),
        "ai_active_builders": tools["ai_active_builders"].astype("int64"),
        "builders": tools["builders"].astype("int64"),
        "ai_usage_share": tools["ai_active_builders"] / tools["builders"],
    }).sort_values(["team_id", "week_start", "tool"], ignore_index=True)
    return panel, tools, truth_dict(world)
