"""Panel preparation shared by the models: period indexing and lags that require consecutive periods."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["PreparedPanel", "add_lags", "period_index", "prepare_panel"]


def period_index(values: pd.Series | np.ndarray, period_step: object | None = None) -> np.ndarray:
    """Integer period numbers 0, 1, ... such that consecutive periods differ by exactly 1.

    Datetimes (tz-aware or not) and numbers are measured in units of ``period_step``; by default the
    step is the smallest positive difference between distinct values (7 days for weekly
    ``week_start``). A value that is not a whole number of steps from the first raises ValueError.
    Periods (``pd.Period``) use their ordinal. Anything else (e.g. strings) is ranked: distinct sorted
    values are taken to be consecutive.
    """
    s = pd.Series(values)
    if s.isna().any():
        raise ValueError("time has missing values")
    if isinstance(s.dtype, pd.PeriodDtype):
        ords = s.array.asi8.astype(np.int64)
        return ords - ords.min()
    if pd.api.types.is_datetime64_any_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
        uniq = pd.Series(pd.unique(s)).sort_values(ignore_index=True)
        if len(uniq) == 1:
            return np.zeros(len(s), dtype=np.int64)
        if period_step is None:
            step = uniq.diff().iloc[1:].min()
        else:
            step = pd.Timedelta(period_step) if pd.api.types.is_datetime64_any_dtype(s.dtype) else period_step
        rel = np.asarray((s - uniq.iloc[0]) / step, dtype=float)
        idx = np.round(rel)
        if not np.allclose(rel, idx, atol=1e-6):
            raise ValueError("time values are not on a regular grid of period_step")
        return idx.astype(np.int64)
    codes, _ = pd.factorize(s, sort=True)
    return codes.astype(np.int64)


@dataclass
class PreparedPanel:
    """Rows sorted by entity and period, with pointers to the previous period's row.

    ``prev[r]`` is the row of the same entity in period ``period[r] - 1``, or -1 if there is none
    (first observation or a gap). All arrays are aligned with ``frame`` (a sorted copy).
    """

    frame: pd.DataFrame
    entity_codes: np.ndarray
    entity_labels: np.ndarray
    period: np.ndarray
    prev: np.ndarray

    def lag(self, values: np.ndarray, k: int = 1) -> np.ndarray:
        """The k-th lag of ``values`` (aligned with the rows), NaN unless k consecutive periods exist."""
        values = np.asarray(values, dtype=float)
        ptr = np.arange(len(values))
        for _ in range(k):
            ptr = np.where(ptr >= 0, self.prev[np.maximum(ptr, 0)], -1)
        out = np.full(values.shape, np.nan)
        ok = ptr >= 0
        out[ok] = values[ptr[ok]]
        return out

    @property
    def next(self) -> np.ndarray:
        """``next[r]``: the row of the same entity in period ``period[r] + 1``, or -1 (inverse of ``prev``)."""
        nxt = np.full(len(self.prev), -1, dtype=np.int64)
        has = self.prev >= 0
        nxt[self.prev[has]] = np.flatnonzero(has)
        return nxt

    def lead(self, values: np.ndarray, k: int = 1) -> np.ndarray:
        """The k-th lead of ``values``, NaN unless the k following periods of the entity are all present."""
        values = np.asarray(values, dtype=float)
        nxt = self.next
        ptr = np.arange(len(values))
        for _ in range(k):
            ptr = np.where(ptr >= 0, nxt[np.maximum(ptr, 0)], -1)
        out = np.full(values.shape, np.nan)
        ok = ptr >= 0
        out[ok] = values[ptr[ok]]
        return out


def prepare_panel(
    df: pd.DataFrame,
    entity: str,
    time: str,
    columns: Sequence[str] = (),
    *,
    period_step: object | None = None,
    dropna: Sequence[str] = (),
) -> PreparedPanel:
    """Sort ``df[[entity, time, *columns]]`` by entity and period and link each row to its predecessor.

    Rows with a missing entity, time or any column in ``dropna`` are dropped first (so a missing
    value makes a gap). Duplicate (entity, time) pairs raise ValueError.
    """
    cols = list(dict.fromkeys([entity, time, *columns]))
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise KeyError(f"columns not in the frame: {missing}")
    d = df[cols].dropna(subset=[entity, time, *dropna])
    period = period_index(d[time], period_step)
    ent_codes, ent_labels = pd.factorize(d[entity])
    ent_codes = ent_codes.astype(np.int64)
    order = np.lexsort((period, ent_codes))
    d = d.iloc[order].reset_index(drop=True)
    period = period[order]
    ent_codes = ent_codes[order]
    same = np.zeros(len(d), dtype=bool)
    same[1:] = ent_codes[1:] == ent_codes[:-1]
    dup = same.copy()
    dup[1:] &= period[1:] == period[:-1]
    if dup.any():
        raise ValueError(f"duplicate ({entity}, {time}) rows")
    prev = np.full(len(d), -1, dtype=np.int64)
    consecutive = same.copy()
    consecutive[1:] &= period[1:] - period[:-1] == 1
    prev[consecutive] = np.flatnonzero(consecutive) - 1
    return PreparedPanel(
        frame=d, entity_codes=ent_codes, entity_labels=np.asarray(ent_labels), period=period, prev=prev
    )


def add_lags(
    df: pd.DataFrame,
    entity: str,
    time: str,
    columns: Sequence[str],
    lags: int | Sequence[int] = 1,
    *,
    period_step: object | None = None,
) -> pd.DataFrame:
    """Return ``df`` sorted by entity and time with ``{col}_lag{k}`` columns added.

    A lag is missing unless the entity is observed in each of the k preceding periods (a gap in
    the calendar makes the lag missing, it is never taken from an older row).
    """
    lag_list = [lags] if isinstance(lags, int) else list(lags)
    prep = prepare_panel(df, entity, time, list(df.columns), period_step=period_step)
    out = prep.frame.copy()
    for col in columns:
        vals = pd.to_numeric(out[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        for k in lag_list:
            out[f"{col}_lag{k}"] = prep.lag(vals, k)
    return out
