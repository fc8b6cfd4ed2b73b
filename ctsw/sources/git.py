"""Git history adapter: local clones or bare mirrors -> contract tables.

`extract_git(repos, config)` returns contract table name -> frame for teams, memberships, pull_requests,
deployments, commits and ai_tool_usage. The heuristics (what is a PR, a production release, a rollback, an
intervention, an active builder, an AI-assisted commit) and their limits are documented in docs/sources.md.

Each repository is read with one streaming `git log` over all refs (not only first-parent: repositories that
merge main into branches put PR merges off it) plus one `for-each-ref` for tags; everything else is computed
in memory on the commit graph.
"""

from __future__ import annotations

import bisect
import heapq
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal

import pandas as pd

from ctsw.contract import ARCHITECTURES, DELIVERY_UNITS, PRODUCTION, TABLES
from ctsw.sources.ai_markers import AI_MARKERS, FALLBACK_AI_MARKERS, AIMatcher
from ctsw.sources.gitlog import (
    DEFAULT_REV_ARGS,
    GitError,
    is_partial_clone,
    iter_log,
    list_tags,
    mailmap_options,
    resolve_commit,
)
from ctsw.sources.landing import conform
from ctsw.sources.people import DEFAULT_BOT_PATTERNS, Identities, co_authors

# A placeholder fully loaded cost of one engineer-year (salary, benefits, taxes, overhead). Override it.
DEFAULT_LOADED_COST_USD = 200_000.0

DEFAULT_PRODUCTION_TAG = r"^(?:v|release[-_/]?)?\d+\.\d+(?:\.\d+)?$"
DEFAULT_EXCLUDED_TAG = (
    r"(?i)(?:^|[-_./+])(?:nightly|dev|develop|preview|beta|alpha|rc|test|testing|snapshot|canary|pre|staging|edge)"
)
MERGE_PR = r"^Merge pull request #(\d+) from "
SQUASH_PR = r"\(#(\d+)\)\s*$"

_REVERT_SUBJECT = re.compile(r'^Revert "(.*)"(?:\s*\(#\d+\))?\s*$')
_REVERTS_SHA = re.compile(r"This reverts commit ([0-9a-f]{7,40})", re.IGNORECASE)
_CHERRY = re.compile(r"\(cherry picked from commit ([0-9a-f]{7,40})\)", re.IGNORECASE)
_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)")

GIT_TABLES = ("teams", "memberships", "pull_requests", "deployments", "commits", "ai_tool_usage")


@dataclass(frozen=True)
class GitSourceConfig:
    """How git history maps to the contract. Every field has a documented default (docs/sources.md)."""

    # Teams and organisation
    org: str = "engineering"
    repo_teams: Mapping[str, str] = field(default_factory=dict)  # repository name -> team_id (default: name)
    repo_slugs: Mapping[str, str] = field(default_factory=dict)  # repository name -> "owner/name" in ids
    team_prefix: str | None = None  # monorepo: "services/" -> services/<team>/... (None = repository mode)
    team_depth: int = 1  # path components after team_prefix that name the team
    path_teams: Mapping[str, str] = field(default_factory=dict)  # "path/prefix" or "repo:path/prefix" -> team
    fallback_team: str | None = None  # monorepo paths outside every team (None = the repository's team)
    team_names: Mapping[str, str] = field(default_factory=dict)
    team_orgs: Mapping[str, str] = field(default_factory=dict)
    architecture: str = "monolith"
    team_architecture: Mapping[str, str] = field(default_factory=dict)
    delivery_unit: str | None = None  # None = the architecture's default
    team_delivery_unit: Mapping[str, str] = field(default_factory=dict)
    # People
    annual_loaded_cost_usd: float = DEFAULT_LOADED_COST_USD
    team_loaded_cost_usd: Mapping[str, float] = field(default_factory=dict)
    org_loaded_cost_usd: Mapping[str, float] = field(default_factory=dict)
    split_fte_across_teams: bool = True  # a person active in k teams in a week counts 1/k FTE in each
    max_gap_weeks: int = 0  # bridge up to this many inactive weeks inside a membership spell
    aliases: Mapping[str, str] = field(default_factory=dict)  # e-mail or name -> canonical id (after .mailmap)
    bot_patterns: tuple[str, ...] = DEFAULT_BOT_PATTERNS
    merge_same_name: bool = False
    # Pull requests
    merge_pr_pattern: str = MERGE_PR  # on the subject of a merge commit
    squash_pr_pattern: str = SQUASH_PR  # on the subject of a single-parent commit
    max_range_walk: int = 100_000  # commits visited to find a PR's range before falling back to merged_at
    pr_ships_on_merge: bool = False  # no production tag lists it: reached customers when it reached the trunk
    # Deployments (release tags)
    production_tag_pattern: str = DEFAULT_PRODUCTION_TAG  # full match; a named group "team" gives the team
    excluded_tag_pattern: str = DEFAULT_EXCLUDED_TAG  # searched first: nightly/dev/preview/beta/rc/test...
    patch_release_is_intervention: bool = True  # x.y.Z with Z > 0 counts one manual intervention
    cherry_pick_is_intervention: bool = True  # each "(cherry picked from commit ...)" in the range counts one
    rollback_mode: Literal["pure_revert_release", "any_revert"] = "pure_revert_release"
    # Commits (trunk teams)
    emit_commits: Literal["trunk", "all", "none"] = "trunk"
    trunk_ref: str = "HEAD"
    commit_ships_on_commit: bool = False  # no production tag contains it: reached customers when committed
    # AI markers
    ai_markers: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(AI_MARKERS))
    fallback_ai_markers: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(FALLBACK_AI_MARKERS))
    # Reading
    numstat: bool | None = None  # None = on, except in partial clones (numstat would fetch missing blobs)
    mailmap_file: str | None = None  # an extra .mailmap outside the repository
    rev_args: tuple[str, ...] = DEFAULT_REV_ARGS

    def __post_init__(self) -> None:
        for arch in [self.architecture, *self.team_architecture.values()]:
            if arch not in ARCHITECTURES:
                raise ValueError(f"architecture {arch!r} is not one of {ARCHITECTURES}")
        for unit in [self.delivery_unit, *self.team_delivery_unit.values()]:
            if unit is not None and unit not in DELIVERY_UNITS:
                raise ValueError(f"delivery_unit {unit!r} is not one of {DELIVERY_UNITS}")
        if self.team_depth < 1:
            raise ValueError("team_depth must be >= 1")

    @property
    def monorepo(self) -> bool:
        return self.team_prefix is not None or bool(self.path_teams)


# --------------------------------------------------------------------------------------------------------------
# Team mapping


class TeamMapper:
    def __init__(self, config: GitSourceConfig) -> None:
        self.c = config
        self._explicit: list[tuple[str | None, str, str]] = []  # (repo or None, prefix, team), longest first
        for key, team in config.path_teams.items():
            repo, _, prefix = key.rpartition(":") if ":" in key else ("", "", key)
            self._explicit.append((repo or None, prefix.strip("/"), team))
        self._explicit.sort(key=lambda x: -len(x[1]))
        self._cache: dict[tuple[str, str], str] = {}

    def repo_team(self, repo: str) -> str:
        return self.c.repo_teams.get(repo, repo)

    def fallback(self, repo: str) -> str:
        return self.c.fallback_team if self.c.fallback_team is not None else self.repo_team(repo)

    def path_team(self, repo: str, path: str) -> str:
        directory = path.rpartition("/")[0]
        key = (repo, directory)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._lookup(repo, directory)
            self._cache[key] = hit
        return hit

    def _lookup(self, repo: str, directory: str) -> str:
        for r, prefix, team in self._explicit:
            if r is not None and r != repo:
                continue
            if prefix == "" or directory == prefix or directory.startswith(prefix + "/"):
                return team
        if self.c.team_prefix is not None:
            prefix = self.c.team_prefix.strip("/")
            rest = directory if prefix == "" else (directory[len(prefix) + 1:] if directory.startswith(
                prefix + "/") else None)
            if rest:
                parts = rest.split("/")
                if len(parts) >= self.c.team_depth:
                    return "/".join(parts[: self.c.team_depth])
        return self.fallback(repo)


# --------------------------------------------------------------------------------------------------------------
# The commit graph of one repository


@dataclass(slots=True)
class Commit:
    sha: str
    parents: tuple[str, ...]
    person: str | None  # canonical human (a bot author's human co-author), None = bot
    author_time: int
    commit_time: int
    pr: int | None
    cherry_source: str | None
    revert_targets: list[str]
    revert_subject: str | None
    tools: frozenset[str]
    teams: frozenset[str]
    lines: dict[str, list[int]] | None  # team -> [added, deleted]; None when numstat is off

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1

    @property
    def is_revert(self) -> bool:
        return bool(self.revert_targets) or self.revert_subject is not None


@dataclass
class PullRequest:
    number: int
    sha: str
    kind: str  # "merge" or "squash"
    person: str | None
    created: int
    merged: int
    teams: frozenset[str]
    lines: dict[str, list[int]] | None


@dataclass
class Release:
    tag: str
    sha: str
    time: int
    team: str | None
    commits: list[str]
    index: int


class RepoGraph:
    def __init__(self, commits: dict[str, Commit]) -> None:
        self.commits = commits
        self.gen = self._generations()

    def _generations(self) -> dict[str, int]:
        gen: dict[str, int] = {}
        commits = self.commits
        for start in commits:
            if start in gen:
                continue
            stack = [start]
            while stack:
                sha = stack[-1]
                if sha in gen:
                    stack.pop()
                    continue
                pending = [p for p in commits[sha].parents if p in commits and p not in gen]
                if pending:
                    stack.extend(pending)
                else:
                    gen[sha] = 1 + max((gen[p] for p in commits[sha].parents if p in commits), default=0)
                    stack.pop()
        return gen

    def exclusive(self, tip: str, base: str, limit: int) -> list[str] | None:
        """Commits reachable from `tip` but not from `base` (git's `base..tip`); None past `limit` visits."""
        commits, gen = self.commits, self.gen
        if tip not in commits:
            return []
        flags: dict[str, int] = {}
        heap: list[tuple[int, str]] = []
        nonstale = 0

        def paint(sha: str, f: int) -> None:
            nonlocal nonstale
            if sha not in commits:
                return
            old = flags.get(sha)
            if old is None:
                flags[sha] = f
                heapq.heappush(heap, (-gen[sha], sha))
                if f != 3:
                    nonstale += 1
            elif old | f != old:
                flags[sha] = old | f
                if old | f == 3:
                    nonstale -= 1

        paint(base, 1)
        paint(tip, 2)
        visited = 0
        while heap and nonstale > 0:
            _, sha = heapq.heappop(heap)
            f = flags[sha]
            if f != 3:
                nonstale -= 1
            visited += 1
            if visited > limit:
                return None
            for p in commits[sha].parents:
                paint(p, f)
        return [s for s, f in flags.items() if f == 2]

    def trunk_arrival(self, trunk: list[str], limit: int) -> dict[str, int]:
        """Each commit's arrival on the trunk: the commit time of the first trunk commit containing it.

        `trunk` is a first-parent chain, newest first. A merge brings in its side's `p1..p2` range; a range past
        `limit` visits leaves its commits without an arrival.
        """
        arrival: dict[str, int] = {}
        for sha in reversed(trunk):
            c = self.commits[sha]
            arrival.setdefault(sha, c.commit_time)
            for side in c.parents[1:]:
                for member in self.exclusive(side, c.parents[0], limit) or []:
                    arrival.setdefault(member, c.commit_time)
        return arrival

    def first_parent_chain(self, head: str) -> list[str]:
        out = []
        sha: str | None = head
        seen = set()
        while sha is not None and sha in self.commits and sha not in seen:
            seen.add(sha)
            out.append(sha)
            parents = self.commits[sha].parents
            sha = parents[0] if parents else None
        return out


# --------------------------------------------------------------------------------------------------------------
# Extraction


def _utc(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None)


def _monday(ts: int) -> date:
    d = _utc(ts).date()
    return d - timedelta(days=d.weekday())


def repo_name(path: Path) -> str:
    name = Path(path).resolve().name
    return name[:-4] if name.endswith(".git") else name


@dataclass
class _RepoResult:
    name: str
    slug: str
    graph: RepoGraph
    prs: dict[int, PullRequest]
    releases: list[Release]
    rolled_back: set[int]
    rollback: set[int]
    shipped_by: dict[str | None, dict[str, int]]
    trunk: list[str]


class _Extractor:
    def __init__(self, config: GitSourceConfig) -> None:
        self.c = config
        self.teams = TeamMapper(config)
        self.ids = Identities(config.aliases, config.bot_patterns, merge_same_name=config.merge_same_name)
        self.ai = AIMatcher(config.ai_markers, config.fallback_ai_markers)
        self.merge_pr = re.compile(config.merge_pr_pattern)
        self.squash_pr = re.compile(config.squash_pr_pattern)
        self.prod_tag = re.compile(config.production_tag_pattern)
        self.excluded_tag = re.compile(config.excluded_tag_pattern) if config.excluded_tag_pattern else None

    # ---- reading

    def read(self, path: Path) -> tuple[dict[str, Commit], list[str]]:
        numstat = self.c.numstat if self.c.numstat is not None else not is_partial_clone(path)
        mailmap = mailmap_options(path, self.c.mailmap_file)
        attempts = [(numstat, mailmap)]
        if numstat:
            attempts.append((False, mailmap))  # e.g. blobs missing: file names need no blob
        if mailmap:
            attempts.append((False, ()))  # the .mailmap blob itself unreadable (partial clone offline)
        for i, (ns, mm) in enumerate(attempts):
            try:
                return self._read(path, ns, mm)
            except GitError:
                if i == len(attempts) - 1:
                    raise
        raise AssertionError("unreachable")

    def _read(self, path: Path, numstat: bool, mailmap: tuple[str, ...]) -> tuple[dict[str, Commit], list[str]]:
        name = repo_name(path)
        commits: dict[str, Commit] = {}
        order: list[str] = []
        wanted: dict[str, list[str]] = defaultdict(list)  # reverted subject -> revert commits waiting
        for e in iter_log(path, self.c.rev_args, numstat, mailmap):
            msg = e.message
            subject = msg.split("\n", 1)[0].strip()
            person = self.ids.person(e.mapped_name, e.mapped_email)
            if person is None:  # a bot author: an AI agent's commit is credited to its human co-author
                for n, m in co_authors(msg):
                    if not self.ids.is_bot(n, m) and not self.ai.is_ai_identity(n, m):
                        person = self.ids.canonical(n, m)
                        break
            cherry = _CHERRY.search(msg)
            pr = None
            if cherry is None:
                m = (self.merge_pr.search(subject) if len(e.parents) > 1 else self.squash_pr.search(subject))
                pr = int(m.group(1)) if m else None
            targets = _REVERTS_SHA.findall(msg)
            rs = _REVERT_SUBJECT.match(subject)
            lines: dict[str, list[int]] | None = {} if numstat else None
            if len(e.parents) > 1:
                teams: frozenset[str] = frozenset() if self.c.monorepo else frozenset([self.teams.repo_team(name)])
            elif not self.c.monorepo:
                teams = frozenset([self.teams.repo_team(name)])
                if lines is not None:
                    lines[next(iter(teams))] = [sum(a or 0 for _, a, _ in e.files), sum(d or 0 for _, _, d in e.files)]
            else:
                ts = set()
                for p, a, d in e.files:
                    t = self.teams.path_team(name, p)
                    ts.add(t)
                    if lines is not None:
                        acc = lines.setdefault(t, [0, 0])
                        acc[0] += a or 0
                        acc[1] += d or 0
                teams = frozenset(ts) if ts else frozenset([self.teams.fallback(name)])
            c = Commit(
                sha=e.sha, parents=e.parents, person=person, author_time=e.author_time, commit_time=e.commit_time,
                pr=pr, cherry_source=cherry.group(1) if cherry else None, revert_targets=targets,
                revert_subject=rs.group(1) if rs else None,
                tools=self.ai.tools(e.author_name, e.author_email, msg), teams=teams, lines=lines,
            )
            if subject in wanted:  # children come first: the nearest older commit with that subject
                for sha in wanted.pop(subject):
                    commits[sha].revert_targets.append(e.sha)
            if c.revert_subject is not None and not targets:
                wanted[c.revert_subject].append(c.sha)
            commits[e.sha] = c
            order.append(e.sha)
        self._resolve_abbreviations(commits)
        return commits, order

    @staticmethod
    def _resolve_abbreviations(commits: dict[str, Commit]) -> None:
        short = [c for c in commits.values() if any(len(t) < 40 for t in c.revert_targets) or (
            c.cherry_source is not None and len(c.cherry_source) < 40)]
        if not short:
            return
        ordered = sorted(commits)

        def full(prefix: str) -> str:
            if len(prefix) >= 40:
                return prefix
            i = bisect.bisect_left(ordered, prefix)
            return ordered[i] if i < len(ordered) and ordered[i].startswith(prefix) else prefix

        for c in short:
            c.revert_targets = [full(t) for t in c.revert_targets]
            if c.cherry_source is not None:
                c.cherry_source = full(c.cherry_source)

    # ---- one repository

    def repository(self, path: Path) -> _RepoResult:
        name = repo_name(path)
        slug = self.c.repo_slugs.get(name, name)
        commits, _ = self.read(path)
        graph = RepoGraph(commits)
        prs = self._pull_requests(graph, self.teams.fallback(name))
        releases, shipped_by = self._releases(path, graph)
        rolled_back, rollback = self._rollbacks(graph, releases, shipped_by)
        head = resolve_commit(path, self.c.trunk_ref) if commits else None
        trunk = graph.first_parent_chain(head) if head else []
        return _RepoResult(name, slug, graph, prs, releases, rolled_back, rollback, shipped_by, trunk)

    def _pull_requests(self, graph: RepoGraph, fallback_team: str) -> dict[int, PullRequest]:
        first: dict[int, Commit] = {}
        for c in graph.commits.values():
            if c.pr is None:
                continue
            cur = first.get(c.pr)
            if cur is None or (c.commit_time, c.sha) < (cur.commit_time, cur.sha):
                first[c.pr] = c
        prs: dict[int, PullRequest] = {}
        for number, c in first.items():
            if c.is_merge:
                rng = graph.exclusive(c.parents[1], c.parents[0], self.c.max_range_walk)
                members = [graph.commits[s] for s in rng] if rng else []
                if members:
                    earliest = min(members, key=lambda x: (x.author_time, x.commit_time, x.sha))
                    person, created = earliest.person, earliest.author_time
                else:
                    person, created = c.person, c.commit_time
                created = min(created, c.commit_time)
                plain = [m for m in members if not m.is_merge]
                if self.c.monorepo:
                    teams = frozenset().union(*(m.teams for m in plain)) if plain else frozenset([fallback_team])
                    c.teams = teams  # the merge commit belongs to the PR's teams
                else:
                    teams = c.teams
                lines = None
                if c.lines is not None:
                    lines = {}
                    for m in plain:
                        for t, (a, d) in (m.lines or {}).items():
                            acc = lines.setdefault(t, [0, 0])
                            acc[0] += a
                            acc[1] += d
            else:
                person, created = c.person, min(c.author_time, c.commit_time)
                teams, lines = c.teams, c.lines
            prs[number] = PullRequest(number, c.sha, "merge" if c.is_merge else "squash", person, created,
                                      c.commit_time, teams, lines)
        return prs

    def _classify(self, tag: str) -> tuple[bool, str | None]:
        if self.excluded_tag is not None and self.excluded_tag.search(tag):
            return False, None
        m = self.prod_tag.fullmatch(tag)
        if not m:
            return False, None
        return True, m.groupdict().get("team")

    def _releases(self, path: Path, graph: RepoGraph) -> tuple[list[Release], dict[str | None, dict[str, int]]]:
        """Production tags in time order; each ships the commits no earlier tag of its series shipped.

        A series is the tags of one team (named group `team` in the production pattern) or, without it, all
        production tags of the repository.
        """
        commits = graph.commits
        candidates = []
        for t in list_tags(path):
            ok, team = self._classify(t.name)
            if ok and t.sha in commits:
                candidates.append((t.time, graph.gen[t.sha], t.name, t.sha, team))
        candidates.sort()
        shipped_by: dict[str | None, dict[str, int]] = defaultdict(dict)
        last_tip: dict[str | None, str] = {}
        releases: list[Release] = []
        for when, _, tag, sha, team in candidates:
            if last_tip.get(team) == sha:  # a second name for the release just made (v1.2.0, release-1.2.0)
                continue
            last_tip[team] = sha
            i = len(releases)
            series = shipped_by[team]
            rng: list[str] = []
            stack = [sha]
            while stack:
                s = stack.pop()
                if s in series or s not in commits:
                    continue
                series[s] = i
                rng.append(s)
                stack.extend(p for p in commits[s].parents if p not in series)
            releases.append(Release(tag, sha, when, team, rng, i))
        return releases, dict(shipped_by)

    def _rollbacks(self, graph: RepoGraph, releases: list[Release], shipped_by: dict[str | None, dict[str, int]]
                   ) -> tuple[set[int], set[int]]:
        """Releases rolled back (a later release of the series reverts a change they shipped) and rollbacks."""
        rolled_back: set[int] = set()
        rollback: set[int] = set()
        previous: dict[str | None, Release] = {}
        for r in releases:
            series = shipped_by.get(r.team, {})
            before = previous.get(r.team)
            previous[r.team] = r
            if not r.commits and before is not None:
                # the tag points back at code an earlier release already shipped: a roll back to it
                rolled_back.add(before.index)
                rollback.add(r.index)
                continue
            reverts_shipped = False
            plain = [graph.commits[s] for s in r.commits if not graph.commits[s].is_merge]
            for c in plain:
                for target in c.revert_targets:
                    j = series.get(target)
                    if j is not None and j < r.index:
                        rolled_back.add(j)
                        reverts_shipped = True
            if reverts_shipped and (self.c.rollback_mode == "any_revert" or all(c.is_revert for c in plain)):
                rollback.add(r.index)
        return rolled_back, rollback

    # ---- all repositories -> frames

    def run(self, repos: Iterable[Path]) -> dict[str, pd.DataFrame]:
        rows: dict[str, list[dict]] = {t: [] for t in GIT_TABLES}
        activity: dict[str, dict[date, set[str]]] = defaultdict(lambda: defaultdict(set))
        usage: set[tuple[str, date, str]] = set()
        teams_seen: set[str] = set(self.c.path_teams.values())
        for path in repos:
            res = self.repository(Path(path))
            if not self.c.monorepo:
                teams_seen.add(self.teams.repo_team(res.name))
            for c in res.graph.commits.values():
                if c.person is None:
                    continue
                for t in c.teams:
                    activity[c.person][_monday(c.author_time)].add(t)
                day = _utc(c.author_time).date()
                for tool in c.tools:
                    usage.add((c.person, day, tool))
            deployed, listed = self._emit_deployments(res, rows["deployments"])
            teams_seen.update(deployed)
            teams_seen.update(self._emit_prs(res, rows["pull_requests"], listed))
            self._emit_commits(res, rows["commits"])
        for weeks in activity.values():
            for ts in weeks.values():
                teams_seen.update(ts)
        rows["memberships"] = self._memberships(activity)
        rows["ai_tool_usage"] = [
            {"developer_id": p, "usage_date": d, "tool": t, "active": True} for p, d, t in sorted(usage)
        ]
        rows["teams"] = [
            {
                "team_id": t,
                "team_name": self.c.team_names.get(t, t),
                "org": self.c.team_orgs.get(t, self.c.org),
                "architecture": self.c.team_architecture.get(t, self.c.architecture),
                "delivery_unit": self.c.team_delivery_unit.get(t, self.c.delivery_unit),
            }
            for t in sorted(teams_seen)
        ]
        out = {}
        for name in GIT_TABLES:
            df = pd.DataFrame(rows[name], columns=list(TABLES[name].column_names))
            df = df.drop_duplicates(subset=list(TABLES[name].key), keep="first")
            out[name] = conform(name, df)
        return out

    @staticmethod
    def _suffixed(base: str, team: str, teams: frozenset[str] | set[str]) -> str:
        return base if len(teams) <= 1 else f"{base}[{team}]"

    def _pr_ids(self, res: _RepoResult, number: int) -> dict[str, str]:
        pr = res.prs[number]
        return {t: self._suffixed(f"{res.slug}#{number}", t, pr.teams) for t in sorted(pr.teams)}

    def _emit_prs(self, res: _RepoResult, out: list[dict], listed: set[str]) -> set[str]:
        """PR rows; `listed` = PR ids a release lists (their deployment ships them, so shipped_at stays null)."""
        seen = set()
        arrival = res.graph.trunk_arrival(res.trunk, self.c.max_range_walk) if self.c.pr_ships_on_merge else {}
        for number, pr in sorted(res.prs.items()):
            if pr.person is None:  # opened by a bot
                continue
            reached = arrival.get(pr.sha)
            for team, pr_id in self._pr_ids(res, number).items():
                lines = pr.lines.get(team, [0, 0]) if pr.lines is not None else [None, None]
                shipped = _utc(reached) if reached is not None and pr_id not in listed else None
                out.append({
                    "pr_id": pr_id, "team_id": team, "author_id": pr.person, "created_at": _utc(pr.created),
                    "merged_at": _utc(pr.merged), "shipped_at": shipped, "first_commit_at": _utc(pr.created),
                    "additions": lines[0], "deletions": lines[1],
                })
                seen.add(team)
        return seen

    def _emit_deployments(self, res: _RepoResult, out: list[dict]) -> tuple[set[str], set[str]]:
        """Deployment rows; returns the teams seen and the PR ids the releases list."""
        commits = res.graph.commits
        pr_by_sha = {pr.sha: n for n, pr in res.prs.items() if pr.person is not None}
        repo_team = self.teams.repo_team(res.name)
        seen, listed = set(), set()
        for r in res.releases:
            members = [commits[s] for s in r.commits]
            plain = [c for c in members if not c.is_merge]
            numbers = {pr_by_sha[c.sha] for c in members if c.sha in pr_by_sha}
            numbers |= {pr_by_sha[c.cherry_source] for c in plain if c.cherry_source in pr_by_sha}
            if r.team is not None:
                teams: set[str] = {r.team}
            elif self.c.monorepo:
                teams = set().union(*(c.teams for c in members)) if members else set()
            else:
                teams = {repo_team}
            v = _VERSION.search(r.tag)
            patch = int(self.c.patch_release_is_intervention and bool(v) and int(v.group(3)) > 0)
            for team in sorted(teams):
                # In a monorepo a release counts, per team, the PRs and cherry-picks that touch the team.
                def touches(item_teams: frozenset[str], team: str = team) -> bool:
                    return not self.c.monorepo or team in item_teams

                cherries = sum(1 for c in plain if c.cherry_source and touches(c.teams))
                ids = set()
                for n in numbers:
                    pr_ids = self._pr_ids(res, n)
                    if team in pr_ids:
                        ids.add(pr_ids[team])
                    elif not self.c.monorepo:
                        ids.update(pr_ids.values())
                out.append({
                    "deployment_id": self._suffixed(f"{res.slug}@{r.tag}", team, teams),
                    "team_id": team, "service": res.name, "environment": PRODUCTION,
                    "started_at": _utc(r.time), "finished_at": _utc(r.time),
                    "status": "rolled_back" if r.index in res.rolled_back else "succeeded",
                    "is_rollback": r.index in res.rollback,
                    "manual_interventions": patch + (cherries if self.c.cherry_pick_is_intervention else 0),
                    "pr_ids": ";".join(sorted(ids)) or None,
                })
                seen.add(team)
                listed |= ids
        return seen, listed

    def _emits_commits_for(self, team: str) -> bool:
        if self.c.emit_commits == "none":
            return False
        if self.c.emit_commits == "all":
            return True
        arch = self.c.team_architecture.get(team, self.c.architecture)
        unit = self.c.team_delivery_unit.get(team, self.c.delivery_unit)
        return unit == "commit" or (unit is None and arch == "trunk")

    def _emit_commits(self, res: _RepoResult, out: list[dict]) -> None:
        times = {r.index: r.time for r in res.releases}
        for sha in res.trunk:
            c = res.graph.commits[sha]
            if c.person is None:
                continue
            for team in sorted(c.teams):
                if not self._emits_commits_for(team):
                    continue
                shipped = [series[sha] for key, series in res.shipped_by.items()
                           if (key is None or key == team) and sha in series]
                if shipped:
                    reached: int | None = max(min(times[i] for i in shipped), c.commit_time)
                else:
                    reached = c.commit_time if self.c.commit_ships_on_commit else None
                out.append({
                    "sha": self._suffixed(sha, team, c.teams), "team_id": team, "author_id": c.person,
                    "committed_at": _utc(c.commit_time),
                    "reached_customer_at": _utc(reached) if reached is not None else None,
                })

    def _memberships(self, activity: Mapping[str, Mapping[date, set[str]]]) -> list[dict]:
        rows = []
        week = timedelta(days=7)
        for person, weeks in sorted(activity.items()):
            per_team: dict[str, list[tuple[date, float]]] = defaultdict(list)
            for monday, ts in sorted(weeks.items()):
                fte = 1.0 / len(ts) if self.c.split_fte_across_teams else 1.0
                for t in ts:
                    per_team[t].append((monday, fte))
            for team, spans in sorted(per_team.items()):
                start, last, fte = spans[0][0], spans[0][0], spans[0][1]
                for monday, f in spans[1:]:
                    gap = (monday - last).days // 7 - 1
                    if gap <= self.c.max_gap_weeks and f == fte:
                        last = monday
                        continue
                    rows.append(self._membership(person, team, start, last + week, fte))
                    start, last, fte = monday, monday, f
                rows.append(self._membership(person, team, start, last + week, fte))
        return rows

    def _membership(self, person: str, team: str, start: date, end: date | None, fte: float) -> dict:
        if end is not None and end > datetime.now(UTC).date():
            end = None  # active in the week still open: a current member (the contract's open spell)
        org = self.c.team_orgs.get(team, self.c.org)
        cost = self.c.team_loaded_cost_usd.get(team, self.c.org_loaded_cost_usd.get(org,
                                                                                  self.c.annual_loaded_cost_usd))
        return {"developer_id": person, "team_id": team, "role": "builder", "start_date": start, "end_date": end,
                "fte": fte, "annual_loaded_cost_usd": cost}


def extract_git(repos: list[Path], config: GitSourceConfig | None = None) -> dict[str, pd.DataFrame]:
    """Contract tables (teams, memberships, pull_requests, deployments, commits, ai_tool_usage) from git."""
    return _Extractor(config or GitSourceConfig()).run(repos)
