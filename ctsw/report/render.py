"""The report as one self-contained HTML file: inline CSS, figures as inline base64 PNGs, no external requests."""

from __future__ import annotations

import base64
import html
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd

from ctsw.report import figures as F
from ctsw.report.data import ReportData

CSS = """
body{font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;color:#1d1d1f;
background:#fafafa;line-height:1.45}
main{max-width:1060px;margin:0 auto;padding:24px 28px 60px;background:#fff}
h1{font-size:1.6rem;margin:0 0 4px}h2{font-size:1.2rem;margin:36px 0 8px;border-bottom:1px solid #e5e5e5;
padding-bottom:4px}
.scope{background:#f1f5fb;border-left:4px solid #1f77b4;padding:10px 14px;margin:12px 0}
.note{background:#fff8e6;border-left:4px solid #e6ab02;padding:8px 14px;margin:8px 0}
nav ol{columns:2;margin:8px 0 0;padding-left:20px}
figure{margin:12px 0}figure img{max-width:100%;height:auto;display:block}
figcaption.reading{font-size:.95rem;margin-top:6px;color:#333}figcaption.reading::before{content:"Reading: ";
font-weight:600}
table{border-collapse:collapse;font-size:.85rem;margin:10px 0}th,td{border-bottom:1px solid #e5e5e5;
padding:4px 10px;text-align:left}th{background:#f5f5f5}td.num{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#666;font-size:.85rem}
summary{cursor:pointer;color:#1f77b4;margin:6px 0}.fail{color:#b00020;font-weight:600}.ok{color:#1b7f3b}
"""
TEAM_WINDOW_WEEKS = 13  # the team table covers the last quarter up to the as-of week


@dataclass
class Rendered:
    html: str
    figures: list[F.Figure]


def _e(text: object) -> str:
    return html.escape(str(text))


def _img(fig: F.Figure) -> str:
    b64 = base64.b64encode(fig.png).decode("ascii")
    return (f'<figure id="fig-{fig.key}"><img src="data:image/png;base64,{b64}" alt="{_e(fig.title)}">'
            f'<figcaption class="reading">{_e(fig.reading)}</figcaption></figure>')


def _table(frame: pd.DataFrame, numeric: set[str] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{_e(c)}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f'<td{" class=num" if c in numeric else ""}>{_e(v)}</td>' for c, v in row.items()) + "</tr>"
        for _, row in frame.iterrows())
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _ci(est: float, lo: float, hi: float, fmt: str = "{:.3f}") -> str:
    return f"{fmt.format(est)} [{fmt.format(lo)}, {fmt.format(hi)}]"


def _section(sid: str, title: str, body: str) -> str:
    return f'<section id="{sid}"><h2>{_e(title)}</h2>{body}</section>'


def _missing(text: str) -> str:
    return f'<p class="note">{_e(text)}</p>'


def scope_sentence(data: ReportData) -> str:
    weeks = (data.last_week - data.first_week).days // 7 + 1
    hidden = len(data.teams_below_minimum)
    return (f"As of the week of {data.as_of} (weeks start Monday 00:00 UTC). Data: {weeks} weeks from "
            f"{data.first_week} to {data.last_week}, {data.n_teams} teams in {data.n_orgs} orgs "
            f"({data.n_team_weeks} team-weeks). "
            + (f"{hidden} team(s) had fewer than {data.min_builders} builders in some week and are never shown "
               "individually; they are included in every total." if hidden else
               f"Every team had at least {data.min_builders} builders in every week."))


def _effects_table(data: ReportData) -> str:
    e = data.effects
    rows = []
    truth = (data.truth or {}).get("outcomes", {})
    for outcome in F.OUTCOMES:
        g = e[e["outcome"] == outcome]
        for est in F.ESTIMATORS:
            h = g[g["estimator"] == est]
            ai, lag = h[h["term"] == "ai_usage_share"], h[h["term"] == f"{outcome}_lag1"]
            if ai.empty:
                continue
            a = ai.iloc[0]
            b = lag.iloc[0] if not lag.empty else None
            rows.append({"outcome": F.label(outcome), "estimator": F.ESTIMATORS[est],
                         "gamma (AI share) [95% CI]": _ci(a.estimate, a.ci_low, a.ci_high),
                         "beta (persistence) [95% CI]": _ci(b.estimate, b.ci_low, b.ci_high) if b is not None else "",
                         "long-run effect [95% CI]": _ci(a.lr_estimate, a.lr_ci_low, a.lr_ci_high),
                         "long-run % of pre-AI mean": _ci(a.lr_pct_of_pre_mean, a.lr_pct_ci_low, a.lr_pct_ci_high,
                                                          "{:.1f}")})
        if outcome in truth and not g.empty:
            t = truth[outcome]
            rows.append({"outcome": F.label(outcome), "estimator": "truth (simulator)",
                         "gamma (AI share) [95% CI]": f"{t['gamma']:.3f}",
                         "beta (persistence) [95% CI]": f"{t['beta']:.3f}",
                         "long-run effect [95% CI]": f"{t['long_run_effect']:.3f}",
                         "long-run % of pre-AI mean": f"{100 * t['long_run_effect_share_of_mean']:.1f}"})
    return _table(pd.DataFrame(rows))


def _drivers_table(data: ReportData) -> str:
    s = data.sensitivity.sort_values("rank")
    return _table(pd.DataFrame({
        "rank": s["rank"].astype(int), "driver": s["driver"].map(F.label),
        "% change [95% CI]": [_ci(r.pct_change, r.pct_ci_low, r.pct_ci_high, "{:+.1f}") for r in s.itertuples()],
        "$ per unit at the median team [95% CI]": [_ci(r.usd_change, r.usd_ci_low, r.usd_ci_high, "{:+,.0f}")
                                                   for r in s.itertuples()],
        "partial R²": s["partial_r2"].map("{:.3f}".format)}), {"rank", "partial R²"})


def _capacity_table(data: ReportData) -> str:
    c = data.capacity
    c = pd.concat([c[c["scope"] == "total"], c[c["scope"] != "total"].sort_values("scope")])
    y, d = "capacity_freed_engineering_years", "capacity_freed_usd"
    return _table(pd.DataFrame({
        "scope": c["scope"],
        "engineering-years [95% CI]": [_ci(r[y], r[y + "_ci_low"], r[y + "_ci_high"], "{:.1f}")
                                       for _, r in c.iterrows()],
        "$ at loaded cost [95% CI]": [_ci(r[d], r[d + "_ci_low"], r[d + "_ci_high"], "{:,.0f}")
                                      for _, r in c.iterrows()],
    }))


def _teams_section(data: ReportData) -> str:
    start = pd.Timestamp(data.last_week - timedelta(weeks=TEAM_WINDOW_WEEKS - 1))
    recent = data.team_weeks[data.team_weeks["week_start"] >= start]
    g = recent.groupby(["org", "team_id"])
    table = pd.DataFrame({
        "fewest builders": g["builders"].min(),
        "cost": g["dev_cost_usd"].sum(), "units": g["units_delivered"].sum(),
        "prs": g["prs_merged"].sum(), "fte": g["builder_fte"].sum(),
        "ai": g["ai_active_builders"].sum(), "builders": g["builders"].sum(),
    }).reset_index()
    hidden = set(table.loc[table["fewest builders"] < data.min_builders, "team_id"]) | data.teams_below_minimum
    shown = table[~table["team_id"].isin(hidden)].copy()
    shown["CTS-SW ($/unit)"] = (shown["cost"] / shown["units"].where(shown["units"] > 0)).map(
        lambda v: "" if pd.isna(v) else f"{v:,.0f}")
    shown["PR velocity"] = (shown["prs"] / shown["fte"].where(shown["fte"] > 0)).map("{:.2f}".format)
    shown["AI usage share"] = (shown["ai"] / shown["builders"].where(shown["builders"] > 0)).map("{:.0%}".format)
    out = shown[["org", "team_id", "fewest builders", "CTS-SW ($/unit)", "PR velocity", "AI usage share"]]
    out = out.rename(columns={"team_id": "team"}).sort_values(["org", "team"])
    n_hidden = int(table["team_id"].isin(hidden).sum())
    note = (f'<p class="muted">Last {TEAM_WINDOW_WEEKS} weeks ({start.date()} to {data.last_week}), ratio of sums per '
            f"team. {n_hidden} team(s) with fewer than {data.min_builders} builders in some week are not listed "
            "(privacy minimum, CTSW_MIN_TEAM_BUILDERS); they are in every org total above. This table describes "
            "teams, never individuals, and is not a ranking.</p>")
    table = _table(out, {"fewest builders", "CTS-SW ($/unit)", "PR velocity", "AI usage share"})
    return note + (f"<details><summary>Show the {len(out)} teams</summary>{table}</details>" if len(out) > 25
                   else table)


def _quality_section(data: ReportData, fig: F.Figure) -> str:
    q = data.quarantine
    parts = [_img(fig)]
    if q.empty:
        parts.append('<p id="quarantine-summary">No rows were quarantined: every landed row met the telemetry '
                     "contract.</p>")
    else:
        by_table = q.groupby("source_table")["rows"].sum().sort_values(ascending=False)
        parts.append(f'<p id="quarantine-summary">{int(q["rows"].sum()):,} rows were quarantined (kept in '
                     f"raw.quarantine with file, row and reason): "
                     + ", ".join(f"{_e(t)} {int(n):,}" for t, n in by_table.items()) + ".</p>")
        parts.append(_table(q.rename(columns={"source_table": "table"}), {"rows"}))
    if data.checks is None:
        parts.append('<p id="checks-summary" class="muted">No Dagster run history was available, so asset check '
                     "results are not shown.</p>")
    else:
        failed = [c for c in data.checks if not c.passed]
        parts.append(f'<p id="checks-summary">{len(data.checks)} asset checks have results; '
                     + (f'<span class="fail">{len(failed)} failed</span> in their latest evaluation:</p>' if failed
                        else '<span class="ok">none failed</span> in its latest evaluation.</p>'))
        if failed:
            parts.append(_table(pd.DataFrame([{"asset": c.asset, "check": c.name, "severity": c.severity.lower(),
                                               "description": c.description} for c in failed])))
    return "".join(parts)


def render(data: ReportData) -> Rendered:
    figs: list[F.Figure] = []

    def figure(make: Callable[[ReportData], F.Figure | None]) -> F.Figure | None:
        f = make(data)
        if f is not None:
            figs.append(f)
        return f

    sections = []
    f = figure(F.cts_sw)
    sections.append(_section("cts-sw", "Cost to serve software per org", _img(f) + (
        '<p class="muted">CTS-SW = development cost / delivered units (deployments, PRs shipped or commits reaching '
        "customers, by each team's delivery unit). Org lines are ratios of sums; bands show the spread of teams "
        f"with at least {data.min_builders} builders, drawn only in weeks with at least "
        f"{F.MIN_TEAMS_FOR_BAND} such teams.</p>")))
    sections.append(_section("dora", "DORA keys", _img(figure(F.dora))))
    f = figure(F.drivers)
    sections.append(_section("drivers", "What drives CTS-SW", (_img(f) + _drivers_table(data)) if f else _missing(
        "No driver model for this as-of week.")))
    sections.append(_section("adoption", "AI adoption", _img(figure(F.adoption))))
    f = figure(F.ai_effect)
    sections.append(_section("ai-effect", "Effect of AI adoption on velocity", (_img(f) + _effects_table(data) + (
        '<p class="muted">Dynamic two-way fixed effects y<sub>it</sub> = a<sub>i</sub> + l<sub>t</sub> + '
        "b·y<sub>i,t-1</sub> + g·X<sub>it</sub> + e<sub>it</sub>, team-clustered. The naive estimator carries "
        "Nickell bias; the half-panel jackknife (HPJ) corrects it and is the primary estimate; Anderson-Hsiao IV "
        "is a consistency check. Long-run effect = g / (1 - b).</p>")) if f else _missing(
        "No AI-effect estimates for this as-of week.")))
    f = figure(F.event_study)
    sections.append(_section("event-study", "Event study", _img(f) if f else _missing(
        "No event study for this as-of week (models.event_study is absent or has no rows for it).")))
    f = figure(F.capacity)
    sections.append(_section("capacity", "Capacity freed by AI adoption", (_img(f) + _capacity_table(data))
                             if f else _missing("No capacity estimate for this as-of week.")))
    sections.append(_section("teams", "Teams (last quarter)", _teams_section(data)))
    sections.append(_section("data-quality", "Data quality", _quality_section(data, figure(F.coverage))))

    titles = {"cts-sw": "Cost to serve software per org", "dora": "DORA keys", "drivers": "What drives CTS-SW",
              "adoption": "AI adoption", "ai-effect": "Effect of AI adoption on velocity",
              "event-study": "Event study", "capacity": "Capacity freed", "teams": "Teams (last quarter)",
              "data-quality": "Data quality"}
    nav = "<nav><ol>" + "".join(f'<li><a href="#{k}">{_e(v)}</a></li>' for k, v in titles.items()) + "</ol></nav>"
    notes = "".join(f'<p class="note">{_e(n)}</p>' for n in data.notes)
    scope = (f'<p id="scope" class="scope" data-as-of="{data.as_of}" data-first-week="{data.first_week}" '
             f'data-last-week="{data.last_week}" data-teams="{data.n_teams}" data-orgs="{data.n_orgs}" '
             f'data-min-builders="{data.min_builders}">{_e(scope_sentence(data))}</p>')
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    doc = (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>ctsw report, as of {data.as_of}</title><style>{CSS}</style></head><body><main>"
        f"<h1>Cost to serve software: report as of the week of {data.as_of}</h1>{scope}{notes}{nav}"
        + "".join(sections)
        + f'<footer class="muted"><p>Generated by ctsw on {generated}. Team-level only: no figure or table ranks '
          "or scores individual engineers.</p></footer></main></body></html>\n")
    return Rendered(doc, figs)
