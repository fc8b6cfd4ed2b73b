"""Event rows behind each week's counts, drawn from the seed's event stream and written week by week.

Timing rules that keep the files consistent with the counts of world.py (docs/panel.md definitions):
deployments start on weekdays 08:00-18:00 so a rollback of them starts in the same week; a service PR merged
in a week with a successful deployment is merged before the week's last successful start; PRs are opened at
most 12 days before merging, so PR files (partitioned by `created_at`) are written two weeks late; the first
successful production deployment starting after a PR becomes eligible lists it (earlier failed or rolled-back attempts
list it too), monolith PRs becoming eligible at the next week's release train.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ctsw.contract import ARCHITECTURES, PRODUCTION, ROLES, SEVERITIES

from .clock import DAY, WEEK, WORK_DAY, WORK_WEEK, ts_to_work, work_to_ts
from .roster import BUILDER, NO_END
from .world import MONOLITH, SERVICE, TRUNK, Week, World
from .writer import LandingWriter, dates, timestamps

TOOLS = ("copilot", "claude_code", "cursor")
SEVERITY_P = (0.05, 0.15, 0.35, 0.3, 0.15)
SUCCEEDED, FAILED, ROLLED_BACK = range(3)
STATUS_NAMES = ("succeeded", "failed", "rolled_back")
PR_WRITE_LAG = 2  # weeks
KEY = 1 << 40  # team * KEY + epoch seconds sorts by team, then time


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For sum(counts) items laid out group by group: each item's group and position within it."""
    group = np.repeat(np.arange(counts.size), counts)
    return group, np.arange(group.size) - (np.cumsum(counts) - counts)[group]


def _arrow(values) -> pa.Array:
    return values if isinstance(values, pa.Array) else pa.array(values)


def _labels(names: tuple[str, ...], idx: np.ndarray) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(idx, pa.int32()), pa.array(names)).cast(pa.string())


def _serial(prefix: str, first: int, n: int) -> pa.Array:
    digits = pc.utf8_lpad(pc.cast(pa.array(np.arange(first, first + n)), pa.string()), 9, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _lognormal(rng, median: float, sigma: float, lo: float, hi: float, n: int) -> np.ndarray:
    return np.clip(rng.lognormal(np.log(median), sigma, n), lo, hi).astype(np.int64)


class EventWriter:
    def __init__(self, world: World, out: LandingWriter):
        self.world, self.out = world, out
        self.rng = rng = np.random.default_rng(world.event_seed)
        r = world.roster
        n, n_dev = r.n_teams, r.dev_ids.size
        self.dev_ids = pa.array(r.dev_ids, pa.string())
        self.team_ids = pa.array(r.team_ids, pa.string())
        self.tool = rng.choice(len(TOOLS), n_dev, p=(0.5, 0.3, 0.2))
        self.second_tool = np.where(rng.random(n_dev) < 0.2,
                                    (self.tool + rng.integers(1, len(TOOLS), n_dev)) % len(TOOLS), -1)
        self.n_services = np.where(r.team_arch == SERVICE, rng.integers(1, 4, n), 1)
        suffix = {SERVICE: "svc", MONOLITH: "monolith", TRUNK: "app"}
        self.service_names = pa.array([f"{r.team_names[i]}-{suffix[r.team_arch[i]]}" + (f"{k + 1}" if k else "")
                                       for i in range(n) for k in range(self.n_services[i])])
        self.next_pr = np.ones(n, dtype=np.int64)
        self.next_deployment = self.next_page = 1
        self.pending = {k: np.empty(0, dtype=np.int64) for k in ("team", "number", "eligible")}
        self.pr_parts: dict[int, list[pa.Table]] = defaultdict(list)  # PR rows by week created

    def write_snapshots(self) -> None:
        r = self.world.roster
        self.out.snapshot("teams", {
            "team_id": self.team_ids, "team_name": pa.array(r.team_names, pa.string()),
            "org": _labels(tuple(r.org_names), r.team_org), "architecture": _labels(ARCHITECTURES, r.team_arch),
            "delivery_unit": pa.array(r.team_unit_written, pa.string()),
        })
        self.out.snapshot("memberships", {
            "developer_id": self.dev_ids.take(r.m_dev), "team_id": self.team_ids.take(r.dev_team[r.m_dev]),
            "role": _labels(ROLES, r.dev_role[r.m_dev]), "start_date": dates(r.m_start),
            "end_date": dates(np.where(r.m_end == NO_END, 0, r.m_end), r.m_end == NO_END),
            "fte": r.m_fte, "annual_loaded_cost_usd": r.m_cost,
        })

    def week(self, wk: Week) -> None:
        r = self.world.roster
        ws = wk.week_day * DAY
        builders = wk.emp[r.dev_role[wk.emp] == BUILDER]
        attempts, extra = self._deployments(wk, ws)
        self._pull_requests(wk, ws, attempts, builders)
        attempts["pr_ids"] = self._ship(attempts)
        self.out.week("deployments", wk.week_day, {k: pa.concat_arrays([_arrow(attempts[k]), _arrow(extra[k])])
                                                   for k in extra})
        self._commits(wk, ws, builders)
        self._pages(wk, ws)
        self.out.week("oncall_shifts", wk.week_day, {
            "developer_id": self.dev_ids.take(wk.oncall_dev), "team_id": self.team_ids.take(wk.oncall_team),
            "shift_start": timestamps(np.full(wk.oncall_dev.size, ws)),
            "shift_end": timestamps(np.full(wk.oncall_dev.size, ws + WEEK)),
        })
        self._ai_usage(wk)
        self._flush_prs(wk.t - PR_WRITE_LAG)

    def close(self) -> None:
        for t in range(max(0, self.world.cfg.n_weeks - PR_WRITE_LAG), self.world.cfg.n_weeks):
            self._flush_prs(t)

    def _pick(self, candidates: np.ndarray, groups: np.ndarray) -> np.ndarray:
        """A random candidate (person index) of each wanted team; -1 where the team has none."""
        if candidates.size == 0:
            return np.full(groups.size, -1)
        team = self.world.roster.dev_team[candidates]
        order = np.argsort(team, kind="stable")
        lo, hi = np.searchsorted(team[order], groups, "left"), np.searchsorted(team[order], groups, "right")
        k = lo + (self.rng.random(groups.size) * (hi - lo)).astype(np.int64)
        return np.where(hi > lo, candidates[order][np.minimum(k, candidates.size - 1)], -1)

    def _deployments(self, wk: Week, ws: int) -> tuple[dict, dict]:
        """Production attempts (with pr_ids still to fill) and the other rows: rollbacks and staging."""
        rng, c, arch = self.rng, wk.counts, self.world.roster.team_arch
        d, f, rb = c["deployments"], c["failed"], c["rollbacks"]
        team, pos = _expand(d + f + rb)
        n = team.size
        status = np.where(pos < d[team], SUCCEEDED, np.where(pos < (d + f)[team], FAILED, ROLLED_BACK))
        start = work_to_ts(ws, rng.integers(0, 5, n) * WORK_DAY + 3600 + rng.integers(0, 10 * 3600, n))
        median = np.array([1200, 5400, 600])[arch[team]]  # seconds: service, monolith, trunk
        finish = start + np.clip(rng.lognormal(np.log(median), 0.6), 60, 4 * 3600).astype(np.int64)
        unknown_finish = (status == FAILED) & (rng.random(n) < 0.02)
        it_team, _ = _expand(c["manual_interventions"])
        first = np.cumsum(d + f + rb) - (d + f + rb)
        attempt = first[it_team] + (rng.random(it_team.size) * (d + f + rb)[it_team]).astype(np.int64)
        service = self._services(team)
        attempts = dict(
            team=team, start=start, status_code=status, deployment_id=_serial("dep", self.next_deployment, n),
            team_id=self.team_ids.take(team), service=self.service_names.take(service),
            environment=pa.array(np.full(n, PRODUCTION)), started_at=timestamps(start),
            finished_at=timestamps(finish, unknown_finish), status=_labels(STATUS_NAMES, status),
            is_rollback=np.zeros(n, bool), manual_interventions=np.bincount(attempt, minlength=n),
        )
        self.next_deployment += n
        # Each rolled-back attempt is reverted by a successful rollback deployment minutes later.
        back = np.flatnonzero(status == ROLLED_BACK)
        back_start = finish[back] + rng.integers(300, 3600, back.size)
        # Half of service and trunk attempts are preceded by a staging deployment.
        stage = np.flatnonzero((arch[team] != MONOLITH) & (rng.random(n) < 0.5))
        stage_start = start[stage] - rng.integers(1800, 7200, stage.size)
        m = back.size + stage.size
        src = np.concatenate([back, stage])
        s = np.concatenate([back_start, stage_start])
        stage_failed = rng.random(stage.size) < 0.05
        extra = dict(
            deployment_id=_serial("dep", self.next_deployment, m), team_id=self.team_ids.take(team[src]),
            service=self.service_names.take(service[src]),
            environment=pa.array(np.repeat([PRODUCTION, "staging"], [back.size, stage.size])),
            started_at=timestamps(s), finished_at=timestamps(s + rng.integers(120, 1800, m)),
            status=_labels(STATUS_NAMES, np.concatenate([np.zeros(back.size, int), stage_failed.astype(int)])),
            is_rollback=np.repeat([True, False], [back.size, stage.size]),
            manual_interventions=np.concatenate([rng.poisson(0.3, back.size), np.zeros(stage.size, int)]),
            pr_ids=pa.nulls(m, pa.string()),
        )
        self.next_deployment += m
        return attempts, extra

    def _services(self, team: np.ndarray) -> np.ndarray:
        """A service of each deploying team (index into service_names)."""
        first = np.cumsum(self.n_services) - self.n_services
        return first[team] + (self.rng.random(team.size) * self.n_services[team]).astype(np.int64)

    def _pull_requests(self, wk: Week, ws: int, attempts: dict, builders: np.ndarray) -> None:
        rng, c, r = self.rng, wk.counts, self.world.roster
        n_teams = r.n_teams
        merged_n = c["prs_merged"]
        open_n = np.where(c["builders"] > 0, rng.poisson(0.08 * merged_n + 0.1), 0)
        team, pos = _expand(merged_n + open_n)
        n = team.size
        merged = pos < merged_n[team]
        number = self.next_pr[team] + pos
        self.next_pr += merged_n + open_n
        # A service team's merges come before its last successful deployment of the week.
        last = np.full(n_teams, -1, dtype=np.int64)
        ok = attempts["status_code"] == SUCCEEDED
        np.maximum.at(last, attempts["team"][ok], attempts["start"][ok])
        cutoff = np.where((r.team_arch == SERVICE) & (last >= 0), ts_to_work(ws, last), WORK_WEEK)[team]
        t_work = np.where(merged, (rng.random(n) * cutoff).astype(np.int64), rng.integers(0, WORK_WEEK, n))
        t = work_to_ts(ws, t_work)
        w0 = self.world.w0 * DAY
        created = np.where(merged, np.maximum(t - _lognormal(rng, 18 * 3600, 1.0, 300, 12 * DAY, n), w0), t)
        first_commit = created - _lognormal(rng, 5 * 3600, 1.2, 60, 10 * DAY, n)
        trunk = r.team_arch[team] == TRUNK
        shipped = t + rng.integers(600, 6 * 3600, n)
        author = self._pick(builders, team)
        self._buffer_prs(created, dict(
            pr_id=pc.binary_join_element_wise(self.team_ids.take(team), pc.cast(pa.array(number), pa.string()),
                                              "#"),
            team_id=self.team_ids.take(team), author_id=self.dev_ids.take(author), created_at=timestamps(created),
            merged_at=timestamps(t, ~merged), shipped_at=timestamps(shipped, ~(merged & trunk)),
            first_commit_at=timestamps(first_commit, rng.random(n) < 0.02),
            additions=pa.array(_lognormal(rng, 60, 1.2, 0, 20_000, n), mask=rng.random(n) < 0.01),
            deletions=pa.array(_lognormal(rng, 20, 1.3, 0, 20_000, n), mask=rng.random(n) < 0.01),
        ))
        # Merged service / monolith PRs wait to be listed by a successful production deployment.
        wait = merged & ~trunk
        eligible = np.where(r.team_arch[team] == MONOLITH, ws + WEEK, t)
        for k, v in (("team", team), ("number", number), ("eligible", eligible)):
            self.pending[k] = np.concatenate([self.pending[k], v[wait]])

    def _ship(self, attempts: dict) -> pa.Array:
        """List pending PRs on the attempts from their eligibility up to the first success; drop shipped ones."""
        p = self.pending
        key = attempts["team"] * KEY + attempts["start"]
        order = np.argsort(key, kind="stable")
        key = key[order]
        n = key.size
        success = np.where(attempts["status_code"][order] == SUCCEEDED, np.arange(n), n)
        next_success = np.append(np.minimum.accumulate(success[::-1])[::-1], n)
        first = np.searchsorted(key, p["team"] * KEY + p["eligible"], "right")  # strictly after
        team_end = np.searchsorted(key, (p["team"] + 1) * KEY, "left")
        shipper = next_success[first]
        shipped = shipper < team_end
        count = np.maximum(np.where(shipped, shipper, team_end - 1) - first + 1, 0)
        pr, offset = _expand(count)
        row = order[first[pr] + offset]
        by_row = np.lexsort((p["number"][pr], row))
        pr, row = pr[by_row], row[by_row]
        ids = pc.binary_join_element_wise(self.team_ids.take(p["team"][pr]),
                                          pc.cast(pa.array(p["number"][pr]), pa.string()), "#")
        per_row = np.bincount(row, minlength=n)
        offsets = np.concatenate([[0], np.cumsum(per_row)]).astype(np.int32)
        joined = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), ids), ";")
        for k in p:
            p[k] = p[k][~shipped]
        return pc.if_else(pa.array(per_row > 0), joined, pa.scalar(None, pa.string()))

    def _buffer_prs(self, created: np.ndarray, columns: dict) -> None:
        week = (created - self.world.w0 * DAY) // WEEK
        table = pa.table(columns)
        for w in np.unique(week):
            self.pr_parts[int(w)].append(table.filter(pa.array(week == w)))

    def _flush_prs(self, t: int) -> None:
        if t < 0:
            return
        parts = self.pr_parts.pop(t, [])
        table = pa.concat_tables(parts) if parts else None
        self.out.week("pull_requests", self.world.w0 + 7 * t,
                      {name: pa.nulls(0) if table is None else table[name] for name in PR_COLUMNS})

    def _commits(self, wk: Week, ws: int, builders: np.ndarray) -> None:
        rng, c = self.rng, wk.counts
        team, pos = _expand(c["commits"])
        n = team.size
        committed = work_to_ts(ws, rng.integers(0, WORK_WEEK, n))
        sha = np.frombuffer(rng.bytes(20 * n).hex().encode(), dtype="S40").astype(str)
        self.out.week("commits", wk.week_day, {
            "sha": pa.array(sha, pa.string()), "team_id": self.team_ids.take(team),
            "author_id": self.dev_ids.take(self._pick(builders, team)), "committed_at": timestamps(committed),
            "reached_customer_at": timestamps(committed + rng.integers(600, 6 * 3600, n),
                                              pos >= c["commits_shipped"][team]),
        })

    def _pages(self, wk: Week, ws: int) -> None:
        rng = self.rng
        team, _ = _expand(wk.counts["pages"])
        n = team.size
        triggered = ws + rng.integers(0, WEEK, n)
        severity = rng.choice(len(SEVERITIES), n, p=SEVERITY_P)
        unacked = (rng.random(n) < 0.02) | ((severity == SEVERITIES.index("info")) & (rng.random(n) < 0.5))
        acked = triggered + _lognormal(rng, 300, 1.0, 10, 2 * 3600, n)
        resolved = np.where(unacked, triggered, acked) + _lognormal(rng, 1.5 * 3600, 1.0, 60, 3 * DAY, n)
        end = (self.world.w0 + 7 * self.world.cfg.n_weeks) * DAY
        responder = self._pick(wk.oncall_dev, team)
        no_responder = unacked | (responder < 0)
        self.out.week("pages", wk.week_day, {
            "page_id": _serial("pg", self.next_page, n), "team_id": self.team_ids.take(team),
            "triggered_at": timestamps(triggered), "acknowledged_at": timestamps(acked, unacked),
            "resolved_at": timestamps(resolved, (resolved >= end) | (rng.random(n) < 0.02)),
            "severity": _labels(SEVERITIES, severity),
            "responder_id": self.dev_ids.take(pa.array(np.where(no_responder, 0, responder), mask=no_responder)),
        })
        self.next_page += n

    def _ai_usage(self, wk: Week) -> None:
        """Active days of every employed adopter (any role), a second tool on some days, idle licence rows."""
        rng = self.rng
        i, d = np.nonzero(wk.active)
        dev = wk.emp[i]
        second = (self.second_tool[dev] >= 0) & (rng.random(dev.size) < 0.4)
        idle = wk.adopted[:, None] & wk.member & ~wk.active & (np.arange(7) < 5) & (rng.random(wk.member.shape)
                                                                                    < 0.15)
        j, e = np.nonzero(idle)
        devs = np.concatenate([dev, dev[second], wk.emp[j]])
        tools = np.concatenate([self.tool[dev], self.second_tool[dev[second]], self.tool[wk.emp[j]]])
        self.out.week("ai_tool_usage", wk.week_day, {
            "developer_id": self.dev_ids.take(devs),
            "usage_date": dates(wk.week_day + np.concatenate([d, d[second], e])),
            "tool": _labels(TOOLS, tools),
            "active": np.repeat([True, False], [dev.size + second.sum(), j.size]),
        })


PR_COLUMNS = ("pr_id", "team_id", "author_id", "created_at", "merged_at", "shipped_at", "first_commit_at",
              "additions", "deletions")
