"""Simulated telemetry of an engineering organisation with a known AI effect (see config.Params for the truth)."""

from .config import SimConfig
from .run import simulate, simulate_panel
from .tools import simulate_tool_panel

__all__ = ["SimConfig", "simulate", "simulate_panel", "simulate_tool_panel"]
