"""The report's figures: each one a PNG and a one-line plain-language reading computed from the same numbers."""

from __future__ import annotations

import io
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")  # no display: render to PNG only

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ctsw.report.data import MIN_TEAMS_FOR_BAND, ReportData  # noqa: E402

ESTIMATORS = {"twfe": "naive TWFE", "hpj": "bias-corrected (HPJ)", "anderson_hsiao": "Anderson-Hsiao IV"}
OUTCOMES = {"cr_velocity": "PR velocity (PRs merged per builder-week)",
            "deploy_velocity": "deployment velocity (deployments per builder-week)"}
DRIVERS = {"cr_velocity": "PR velocity", "deploy_velocity": "deployment velocity", "ai_usage_share": "AI usage share",
           "rollback_rate": "rollback rate", "interventions_per_deploy": "manual interventions per deploy",
           "pages_per_oncall_builder": "pages per on-call builder"}
PALETTE = [matplotlib.colormaps["tab10"](i) for i in range(10)] + [matplotlib.colormaps["Dark2"](i) for i in range(8)]
EDGE = 4  # weeks averaged at each end when a reading compares the start of the range with its end
DPI = 110


@dataclass
class Figure:
    key: str
    title: str
    png: bytes
    reading: str


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _style(ax) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)


def label(name: str) -> str:
    return DRIVERS.get(name, name.replace("_", " "))


def _money(x: float) -> str:
    return f"${x:,.0f}"


def _pct_change(a: float, b: float) -> float:
    return 100.0 * (b - a) / a if a else float("nan")


def _edges(frame: pd.DataFrame, num: str, den: str) -> tuple[float, float]:
    """Ratio of sums over the first and the last EDGE weeks of `frame` (summed over its rows)."""
    weeks = sorted(frame["week_start"].unique())
    k = min(EDGE, max(1, len(weeks) // 2))
    first = frame[frame["week_start"].isin(weeks[:k])]
    last = frame[frame["week_start"].isin(weeks[-k:])]
    ratio = lambda f: float(f[num].sum()) / float(f[den].sum()) if float(f[den].sum()) else float("nan")  # noqa: E731
    return ratio(first), ratio(last)


def _orgs(data: ReportData) -> list[str]:
    return sorted(data.org_weeks["org"].unique())


def _colors(data: ReportData) -> dict[str, str]:
    return {org: PALETTE[i % len(PALETTE)] for i, org in enumerate(_orgs(data))}


def eligible_team_weeks(data: ReportData) -> pd.DataFrame:
    """Team-weeks that may enter a team-level display: the team has at least the minimum of builders that week."""
    return data.team_weeks[data.team_weeks["builders"] >= data.min_builders]


def cts_sw(data: ReportData) -> Figure:
    orgs, colors = _orgs(data), _colors(data)
    teams = eligible_team_weeks(data).dropna(subset=["cts_sw_usd"])
    cols = min(3, len(orgs))
    rows = int(np.ceil(len(orgs) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), sharex=True, sharey=True, squeeze=False)
    for ax in axes.flat[len(orgs):]:
        ax.set_visible(False)
    for ax, org in zip(axes.flat, orgs, strict=False):
        band = teams[teams["org"] == org].groupby("week_start")["cts_sw_usd"]
        q = band.quantile([0.1, 0.25, 0.75, 0.9]).unstack()
        q = q[band.count() >= MIN_TEAMS_FOR_BAND]
        if not q.empty:
            ax.fill_between(q.index, q[0.1], q[0.9], color=colors[org], alpha=0.12, linewidth=0,
                            label="teams, 10th-90th pct")
            ax.fill_between(q.index, q[0.25], q[0.75], color=colors[org], alpha=0.25, linewidth=0,
                            label="teams, 25th-75th pct")
        line = data.org_weeks[data.org_weeks["org"] == org]
        ax.plot(line["week_start"], line["cts_sw_usd"], color=colors[org], linewidth=2, label=f"{org} (org)")
        ax.set_title(org, fontsize=10)
        ax.set_yscale("log")
        _style(ax)
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    axes.flat[0].set_ylabel("$ per delivered unit (log)")
    axes.flat[0].legend(fontsize=7, frameon=False, loc="upper left")
    fig.suptitle("CTS-SW per org (line: ratio of sums) and the spread of its teams (bands)", fontsize=11)
    fig.tight_layout()
    a, b = _edges(data.org_weeks, "dev_cost_usd", "units_delivered")
    changes = {org: _edges(data.org_weeks[data.org_weeks["org"] == org], "dev_cost_usd", "units_delivered")
               for org in orgs}
    moved = max(changes, key=lambda o: abs(_pct_change(*changes[o])))
    reading = (f"Across all orgs CTS-SW went from {_money(a)} to {_money(b)} per delivered unit "
               f"({_pct_change(a, b):+.0f}%, first vs last {min(EDGE, len(data.org_weeks.week_start.unique()))} "
               f"weeks); {moved} moved most ({_pct_change(*changes[moved]):+.0f}%).")
    return Figure("cts-sw", "CTS-SW per org over time", _png(fig), reading)


DORA = (("deploys_per_team", "deployment frequency (per team and week)", "per_team"),
        ("dora_lead_time_hours", "lead time for changes (median hours)", "prs_shipped"),
        ("dora_change_failure_rate", "change failure rate", "ratio"),
        ("dora_time_to_restore_hours", "time to restore (median hours)", "pages"))


def _dora_total(frame: pd.DataFrame, column: str, how: str) -> float:
    if how == "per_team":
        teams = float(frame["teams"].sum())
        return float(frame["dora_deployment_frequency"].sum()) / teams if teams else float("nan")
    if how == "ratio":
        den = float(frame["deployment_attempts"].sum())
        return float(frame["change_failures"].sum()) / den if den else float("nan")
    f = frame.dropna(subset=[column])
    w = f[how].astype(float)
    return float(np.average(f[column], weights=w)) if w.sum() else float("nan")


def _dora_weekly(ow: pd.DataFrame) -> pd.DataFrame:
    """All orgs together, per week: the same aggregation as the readings use."""
    return pd.DataFrame({c: {w: _dora_total(g, c, how) for w, g in ow.groupby("week_start")} for c, _, how in DORA})


def dora(data: ReportData) -> Figure:
    colors = _colors(data)
    ow = data.org_weeks.assign(deploys_per_team=lambda f: f["dora_deployment_frequency"] / f["teams"])
    total = _dora_weekly(ow)
    many = len(_orgs(data)) > 4
    fig, axes = plt.subplots(2, 2, figsize=(10, 6.4), sharex=True)
    for ax, (column, name, _) in zip(axes.flat, DORA, strict=True):
        for org in _orgs(data):
            f = ow[ow["org"] == org]
            ax.plot(f["week_start"], f[column], color=colors[org], linewidth=0.9 if many else 1.4,
                    alpha=0.55 if many else 0.9, label=org)
        ax.plot(total.index, total[column], color="black", linewidth=2.2, label="all orgs")
        ax.set_title(name, fontsize=10)
        _style(ax)
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    axes[1, 0].yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))  # change failure rate
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(6, len(labels)), fontsize=8, frameon=False)
    fig.suptitle("DORA keys per org (black: all orgs)", fontsize=11)
    fig.tight_layout(rect=(0, 0.07 + 0.03 * (len(labels) > 6), 1, 1))
    weeks = sorted(ow["week_start"].unique())
    k = min(EDGE, max(1, len(weeks) // 2))
    first, last = ow[ow["week_start"].isin(weeks[:k])], ow[ow["week_start"].isin(weeks[-k:])]
    vals = {c: (_dora_total(first, c, how), _dora_total(last, c, how)) for c, _, how in DORA}
    df, lt, cfr, ttr = (vals[c] for c, _, _ in DORA)
    reading = (f"Last {k} weeks vs first {k}, all orgs: {df[1]:.1f} deployments per team a week (was {df[0]:.1f}), "
               f"lead time {lt[1]:.0f} h (was {lt[0]:.0f} h), change failure rate {cfr[1]:.1%} (was {cfr[0]:.1%}), "
               f"time to restore {ttr[1]:.1f} h (was {ttr[0]:.1f} h).")
    return Figure("dora", "DORA keys", _png(fig), reading)


def drivers(data: ReportData) -> Figure | None:
    s = data.sensitivity
    if s.empty:
        return None
    s = s.sort_values("rank", ascending=False)
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(s) + 1.2))
    y = np.arange(len(s))
    clear = (s["pct_ci_low"] > 0) | (s["pct_ci_high"] < 0)
    colors = np.where(clear, "#1f77b4", "#9e9e9e")
    ax.barh(y, s["pct_change"], color=colors, height=0.55)
    ax.errorbar(s["pct_change"], y, xerr=[s["pct_change"] - s["pct_ci_low"], s["pct_ci_high"] - s["pct_change"]],
                fmt="none", ecolor="#333333", capsize=3, linewidth=1)
    ax.axvline(0, color="#333333", linewidth=0.8)
    ax.set_yticks(y, [f"{int(r)}. {label(d)}" for r, d in zip(s["rank"], s["driver"], strict=True)])
    ax.set_xlabel("% change in CTS-SW for a one within-team SD increase (95% interval)")
    _style(ax)
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.8)
    ax.set_title("Drivers of CTS-SW, ranked (grey: interval includes zero)", fontsize=11)
    fig.tight_layout()
    top = s.sort_values("rank").iloc[0]
    unclear = [label(d) for d, c in zip(s.sort_values("rank")["driver"], clear.loc[s.sort_values("rank").index],
                                        strict=True) if not c]
    reading = (f"The strongest driver is {label(top['driver'])}: one within-team standard deviation more goes with "
               f"{top['pct_change']:+.1f}% CTS-SW (95% interval {top['pct_ci_low']:+.1f}% to "
               f"{top['pct_ci_high']:+.1f}%, about {_money(abs(top['usd_change']))} per unit at the median team)"
               + (f"; the intervals of {', '.join(unclear)} include zero." if unclear else
                  "; every driver's interval excludes zero."))
    return Figure("drivers", "Driver sensitivity ranking", _png(fig), reading)


def adoption(data: ReportData) -> Figure:
    colors = _colors(data)
    ow = data.org_weeks
    fig, ax = plt.subplots(figsize=(9, 3.8))
    for org in _orgs(data):
        f = ow[ow["org"] == org]
        ax.plot(f["week_start"], f["ai_usage_share"], color=colors[org], linewidth=1.5, label=org)
    total = ow.groupby("week_start")[["ai_active_builders", "team_builders"]].sum()
    share = total["ai_active_builders"] / total["team_builders"].replace(0, np.nan)
    ax.plot(share.index, share, color="black", linewidth=2.4, label="all orgs")
    teams = eligible_team_weeks(data).groupby("week_start")["ai_usage_share"]
    q = teams.quantile([0.25, 0.75]).unstack()
    q = q[teams.count() >= MIN_TEAMS_FOR_BAND]
    if not q.empty:
        ax.fill_between(q.index, q[0.25], q[0.75], color="#999999", alpha=0.2, linewidth=0,
                        label="teams, 25th-75th pct")
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.set_ylabel("builders active with an AI tool")
    ax.legend(fontsize=8, frameon=False, ncol=2)
    _style(ax)
    ax.set_title("AI-tool adoption: share of builders active in the week", fontsize=11)
    fig.tight_layout()
    half = share[share >= 0.5]
    reading = (f"Across all orgs the share of builders using an AI tool went from {share.iloc[0]:.0%} in the week of "
               f"{share.index[0]:%Y-%m-%d} to {share.iloc[-1]:.0%} in the week of {share.index[-1]:%Y-%m-%d}; "
               + (f"it first reached half of builders in the week of {half.index[0]:%Y-%m-%d}." if not half.empty
                  else "it has not reached half of builders."))
    return Figure("adoption", "AI adoption curves", _png(fig), reading)


def _effect_rows(data: ReportData) -> pd.DataFrame:
    e = data.effects
    return e[e["term"] == "ai_usage_share"] if not e.empty else e


def ai_effect(data: ReportData) -> Figure | None:
    rows = _effect_rows(data)
    if rows.empty:
        return None
    outcomes = [o for o in OUTCOMES if o in set(rows["outcome"])]
    fig, axes = plt.subplots(1, len(outcomes), figsize=(5.2 * len(outcomes), 2.8), squeeze=False)
    order = list(ESTIMATORS)
    truth = (data.truth or {}).get("outcomes", {})
    for ax, outcome in zip(axes.flat, outcomes, strict=True):
        g = rows[rows["outcome"] == outcome].set_index("estimator").reindex(order).dropna(subset=["lr_estimate"])
        y = np.arange(len(g))[::-1]
        colors = ["#d95f02" if est == "hpj" else "#555555" for est in g.index]
        for yi, color, (_, r) in zip(y, colors, g.iterrows(), strict=True):
            ax.errorbar([r["lr_pct_of_pre_mean"]], [yi], xerr=[[r["lr_pct_of_pre_mean"] - r["lr_pct_ci_low"]],
                                                                [r["lr_pct_ci_high"] - r["lr_pct_of_pre_mean"]]],
                        fmt="none", ecolor=color, capsize=4, linewidth=1.5)
        ax.scatter(g["lr_pct_of_pre_mean"], y, color=colors, zorder=3, s=30)
        ax.axvline(0, color="#333333", linewidth=0.8)
        if outcome in truth:
            ax.axvline(100 * truth[outcome]["long_run_effect_share_of_mean"], color="#1b9e77", linestyle="--",
                       linewidth=1.2, label="simulator truth")
            ax.legend(fontsize=7, frameon=False, loc="lower right")
        ax.set_yticks(y, [ESTIMATORS[e] for e in g.index])
        ax.set_xlabel("long-run effect, % of the pre-AI mean (95% interval)")
        ax.set_title(OUTCOMES[outcome], fontsize=9)
        _style(ax)
        ax.grid(axis="x", color="#e5e5e5", linewidth=0.8)
    fig.suptitle("Effect of full AI adoption on velocity: three estimators side by side", fontsize=11)
    fig.tight_layout()
    parts = []
    for outcome in outcomes:
        g = rows[rows["outcome"] == outcome].set_index("estimator")
        if "hpj" not in g.index:
            continue
        h = g.loc["hpj"]
        sure = "clearly above zero" if h.lr_pct_ci_low > 0 else (
            "clearly below zero" if h.lr_pct_ci_high < 0 else "not distinguishable from zero")
        naive = f", naive {g.loc['twfe'].lr_pct_of_pre_mean:+.0f}%" if "twfe" in g.index else ""
        parts.append(f"{label(outcome)} {h.lr_pct_of_pre_mean:+.0f}% ({h.lr_pct_ci_low:+.0f}% to "
                     f"{h.lr_pct_ci_high:+.0f}%, {sure}{naive})")
    reading = ("Bias-corrected long-run effect of full adoption versus none, as a share of the pre-AI level: "
               + "; ".join(parts) + ".")
    return Figure("ai-effect", "AI effect: naive, bias-corrected and IV estimates", _png(fig), reading)


PHASE_COLORS = {"lead": "#9e9e9e", "ramp": "#9ecae1", "post": "#1f77b4"}


def event_study(data: ReportData) -> Figure | None:
    """models.event_study: event-time rows (phase lead/ramp/post) plus post_average and static_twfe rows."""
    es = data.event_study
    needed = {"outcome", "event_time", "estimate", "ci_low", "ci_high"}
    if es is None or es.empty or not needed <= set(es.columns):
        return None
    outcomes = [o for o in OUTCOMES if o in set(es["outcome"])] or sorted(es["outcome"].unique())
    fig, axes = plt.subplots(1, len(outcomes), figsize=(5.4 * len(outcomes), 3.3), squeeze=False)
    parts = []
    for ax, outcome in zip(axes.flat, outcomes, strict=True):
        g = es[es["outcome"] == outcome]
        rows = g[g["event_time"].notna()].sort_values("event_time")
        phase = rows["phase"] if "phase" in rows.columns else pd.Series("post", index=rows.index)
        for name, color in PHASE_COLORS.items():
            r = rows[phase == name]
            if r.empty:
                continue
            x = r["event_time"].astype(float)
            ax.errorbar(x, r["estimate"], yerr=[r["estimate"] - r["ci_low"], r["ci_high"] - r["estimate"]],
                        fmt="o", markersize=3, color=color, ecolor=color, elinewidth=1, capsize=0, label=name)
        extra = g[g["event_time"].isna()].set_index("phase") if "phase" in g.columns else pd.DataFrame()
        if "post_average" in extra.index:
            ax.axhline(extra.loc["post_average", "estimate"], color="#d95f02", linestyle="--", linewidth=1.2,
                       label="post average")
        if "static_twfe" in extra.index:
            ax.axhline(extra.loc["static_twfe", "estimate"], color="#555555", linestyle=":", linewidth=1.2,
                       label="naive static TWFE")
        ax.axhline(0, color="#333333", linewidth=0.8)
        ax.axvline(-0.5, color="#bbbbbb", linestyle="-", linewidth=0.8)
        ax.set_xlabel("weeks relative to adoption (AI share first >= threshold)")
        ax.set_title(label(outcome), fontsize=9)
        _style(ax)
        text = f"{label(outcome)}: "
        if "post_average" in extra.index:
            a = extra.loc["post_average"]
            text += f"average after adoption {a['estimate']:+.2f} per builder-week ({a['ci_low']:+.2f} to " \
                    f"{a['ci_high']:+.2f})"
            if "static_twfe" in extra.index:
                text += f", naive static TWFE {extra.loc['static_twfe', 'estimate']:+.2f}"
        else:
            text += f"{len(rows)} event-time estimates"
        if "pretrend_pvalue" in g.columns and g["pretrend_pvalue"].notna().any():
            pv = float(g["pretrend_pvalue"].dropna().iloc[0])
            text += f"; pre-trend test p = {pv:.2f} (" + ("no evidence of different pre-trends)" if pv >= 0.05
                                                          else "pre-trends differ: read with care)")
        parts.append(text)
    axes.flat[0].legend(fontsize=7, frameon=False)
    fig.suptitle("Event study: effect by week relative to each team's adoption", fontsize=11)
    fig.tight_layout()
    return Figure("event-study", "Event study", _png(fig), "; ".join(parts) + ".")


def capacity(data: ReportData) -> Figure | None:
    c = data.capacity
    if c.empty:
        return None
    y, lo, hi = ("capacity_freed_engineering_years", "capacity_freed_engineering_years_ci_low",
                 "capacity_freed_engineering_years_ci_high")
    t = c[c["scope"] == "total"].iloc[0]
    c = c[c["scope"] != "total"].sort_values("scope")
    if c.empty:
        c = pd.DataFrame([t])
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(c) + 1.4))
    pos = np.arange(len(c))[::-1]
    ax.barh(pos, c[y], color="#1b9e77", height=0.55)
    ax.errorbar(c[y], pos, xerr=[c[y] - c[lo], c[hi] - c[y]], fmt="none", ecolor="#333333", capsize=3, linewidth=1)
    ax.axvline(0, color="#333333", linewidth=0.8)
    ax.set_yticks(pos, list(c["scope"]))
    ax.set_xlabel("engineering-years of capacity freed (95% interval)")
    _style(ax)
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.8)
    ax.set_title("Capacity freed by AI adoption, by org (capacity, not money saved)", fontsize=11)
    fig.tight_layout()
    d = "capacity_freed_usd"
    reading = (f"AI adoption freed about {t[y]:.1f} engineering-years (95% interval {t[lo]:.1f} to {t[hi]:.1f}), "
               f"worth {_money(t[d])} at loaded cost ({_money(t[d + '_ci_low'])} to {_money(t[d + '_ci_high'])}): "
               "time available for other work, not money saved.")
    return Figure("capacity", "Capacity freed", _png(fig), reading)


def coverage(data: ReportData) -> Figure:
    tw = data.team_weeks
    per_week = tw.groupby("week_start")["team_id"].nunique()
    fig, ax = plt.subplots(figsize=(9, 2.6))
    ax.bar(per_week.index, per_week.values, width=5, color="#7570b3")
    ax.set_ylabel("teams in the panel")
    _style(ax)
    ax.set_title("Panel coverage: teams with a row each week", fontsize=11)
    fig.tight_layout()
    expected = pd.date_range(per_week.index.min(), per_week.index.max(), freq="7D")
    missing = len(expected) - len(per_week)
    reading = (f"Between {per_week.min()} and {per_week.max()} teams have a row each week "
               f"(median {per_week.median():.0f}); " +
               (f"{missing} week(s) in the range have no rows at all." if missing else "no week is missing."))
    return Figure("coverage", "Panel coverage", _png(fig), reading)
