"""The two entry points: the landing files plus truth.json, or the team-week panel alone."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .config import SimConfig
from .events import EventWriter
from .panel import panel_frame
from .truth import truth_dict
from .world import World
from .writer import LandingWriter


def simulate(cfg: SimConfig, out_dir: Path) -> dict:
    """Write the landing files of every contract table and out_dir/truth.json; return the truth."""
    out_dir = Path(out_dir)
    world = World(cfg)
    out = LandingWriter(out_dir, cfg.fmt)
    events = EventWriter(world, out)
    events.write_snapshots()
    for week in world.weeks():
        events.week(week)
    events.close()
    out.close()
    truth = truth_dict(world)
    (out_dir / "truth.json").write_text(json.dumps(truth, indent=2))
    return truth


def simulate_panel(cfg: SimConfig) -> tuple[pd.DataFrame, dict]:
    """The team-week panel `simulate` implies for the same config (docs/panel.md columns), and the truth."""
    world = World(cfg)
    return panel_frame(world, world.weeks()), truth_dict(world)
