"""Git history adapter: a small repository built on the fly must produce exact weekly counts.

Weeks (Mondays, UTC): W1 2024-01-01, W2 01-08, W3 01-15, W4 01-22, W5 01-29. The scenario has merge commits
off main's first parent (a PR merged into a feature branch), a merge of main into a branch, squash merges,
a bot PR, a revert shipped in a cherry-picked patch release, tags of every class, one person with two
e-mails (.mailmap) plus a configured alias, and every built-in AI marker.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from ctsw.contract import TABLES
from ctsw.sources import gitlog
from ctsw.sources.ai_markers import AI_MARKERS, FALLBACK_AI_MARKERS, AIMatcher
from ctsw.sources.git import DEFAULT_LOADED_COST_USD, GitSourceConfig, extract_git
from ctsw.sources.landing import contract_violations, write_landing
from ctsw.sources.people import Identities

ALICE = ("Alice Smith", "alice@example.com")
ALICE_OLD = ("alice", "alice.old@example.com")
BOB = ("Bob Jones", "bob@example.com")
ROBERT = ("Robert", "robert@home.example")  # Bob at home: merged by a configured alias, not .mailmap
CAROL = ("Carol White", "carol@example.com")
DEPENDABOT = ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com")
DEVIN = ("devin-ai-integration[bot]", "158243242+devin-ai-integration[bot]@users.noreply.github.com")
COPILOT_AGENT = ("copilot-swe-agent[bot]", "198982749+Copilot@users.noreply.github.com")

W = {f"W{i}": date(2024, 1, 1 + 7 * (i - 1)) for i in range(1, 6)}
CONFIG = GitSourceConfig(aliases={"robert@home.example": "bob@example.com"})


class Repo:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True)
        self.git("init", "-q", "-b", "main")

    def env(self, when: str | None, author=ALICE, committer=None) -> dict[str, str]:
        committer = committer or author
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update({
            "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(self.path),
            "GIT_AUTHOR_NAME": author[0], "GIT_AUTHOR_EMAIL": author[1],
            "GIT_COMMITTER_NAME": committer[0], "GIT_COMMITTER_EMAIL": committer[1],
        })
        if when:
            stamp = f"{when} +0000"
            env.update({"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp})
        return env

    def git(self, *args: str, when: str | None = None, author=ALICE, committer=None, keep_author_date=False) -> str:
        env = self.env(when, author, committer)
        if keep_author_date:
            env.pop("GIT_AUTHOR_DATE", None)
        out = subprocess.run(["git", "-C", str(self.path), "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false",
                              *args], env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    def commit(self, when: str, message: str, files: dict[str, int], author=ALICE) -> str:
        for name, n in files.items():
            f = self.path / name
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text("".join(f"{name} line {i}\n" for i in range(n)))
            self.git("add", name)
        self.git("commit", "-q", "-m", message, when=when, author=author)
        return self.head()

    def merge(self, branch: str, when: str, message: str, author=ALICE) -> str:
        self.git("merge", "-q", "--no-ff", "-m", message, branch, when=when, author=author)
        return self.head()

    def checkout(self, branch: str, start: str | None = None) -> None:
        self.git("checkout", "-q", *(["-b", branch, start] if start else [branch]))

    def tag(self, name: str, when: str, ref: str = "HEAD", annotated: bool = True) -> None:
        if annotated:
            self.git("tag", "-a", name, "-m", name, ref, when=when)
        else:
            self.git("tag", name, ref)


def build_shop(path: Path) -> dict[str, str]:
    r = Repo(path)
    sha = {}
    (path / ".mailmap").write_text("Alice Smith <alice@example.com> <alice.old@example.com>\n")
    r.git("add", ".mailmap")
    sha["init"] = r.commit("2024-01-01 10:00", "Initial commit", {"app/main.txt": 5})
    # W1: a merge-commit PR, a squash PR by Alice's old e-mail, the first production release
    r.checkout("feature-1", "main")
    r.commit("2024-01-02 10:00", "Add feature one\n\nCo-Authored-By: Claude <noreply@anthropic.com>",
             {"app/f1.txt": 3}, author=BOB)
    r.checkout("main")
    sha["pr1"] = r.merge("feature-1", "2024-01-03 10:00", "Merge pull request #1 from org/feature-1\n\nAdd feature one")
    sha["pr2"] = r.commit(
        "2024-01-04 09:00",
        "Add squash thing (#2)\n\nCo-authored-by: Copilot <175728472+Copilot@users.noreply.github.com>",
        {"app/s2.txt": 2}, author=ALICE_OLD)
    r.tag("v1.0.0-rc1", "2024-01-04 12:00")
    r.tag("v1.0.0", "2024-01-05 10:00")
    r.tag("nightly-20240105", "2024-01-05 23:00", annotated=False)
    # W2: a feature branch that merges main in; a direct commit; a bot PR
    r.checkout("feature-3", "main")
    r.commit("2024-01-08 10:00", "Start feature three\n\nCo-authored-by: Cursor Agent <cursoragent@cursor.com>",
             {"app/f3.txt": 4}, author=CAROL)
    r.checkout("main")
    sha["fix"] = r.commit("2024-01-09 10:00",
                          "Direct fix\n\n\N{ROBOT FACE} Generated with [Claude Code](https://claude.com/claude-code)",
                          {"app/fix.txt": 1})
    r.checkout("feature-3")
    r.merge("main", "2024-01-10 10:00", "Merge branch 'main' into feature-3", author=CAROL)
    r.checkout("deps", "main")
    r.commit("2024-01-11 09:00", "Bump lodash from 4.17.20 to 4.17.21", {"deps.txt": 1}, author=DEPENDABOT)
    r.checkout("main")
    r.merge("deps", "2024-01-11 10:00", "Merge pull request #5 from org/dependabot/npm_and_yarn/lodash-4.17.21")
    r.tag("v1.1.0-beta.1", "2024-01-12 10:00")
    # W3: a PR merged into the feature branch (off main's first parent), then the feature PR; release v1.1.0
    r.checkout("feature-3b", "feature-3")
    r.commit("2024-01-15 10:00", "aider: add sub feature", {"app/f3b.txt": 6}, author=ROBERT)
    r.checkout("feature-3")
    sha["pr4"] = r.merge("feature-3b", "2024-01-16 10:00", "Merge pull request #4 from org/feature-3b", author=CAROL)
    r.checkout("main")
    sha["pr3"] = r.merge("feature-3", "2024-01-17 10:00", "Merge pull request #3 from org/feature-3")
    r.tag("v1.1.0", "2024-01-17 10:00", annotated=False)
    # W4: a revert on main, cherry-picked into patch release v1.1.1; a squash PR cherry-picked into v1.1.2
    r.git("revert", "--no-edit", sha["fix"], when="2024-01-22 10:00")
    sha["revert"] = r.head()
    r.checkout("release-1.1", "v1.1.0")
    r.git("cherry-pick", "-x", sha["revert"], when="2024-01-23 10:00", committer=CAROL, keep_author_date=True)
    r.tag("v1.1.1", "2024-01-23 12:00")
    r.checkout("main")
    sha["pr6"] = r.commit(
        "2024-01-24 10:00",
        "Improve perf (#6)\n\nCo-authored-by: gemini-code-assist[bot] "
        "<176961590+gemini-code-assist[bot]@users.noreply.github.com>",
        {"app/perf.txt": 2}, author=BOB)
    r.checkout("release-1.1")
    r.git("cherry-pick", "-x", sha["pr6"], when="2024-01-25 10:00", committer=CAROL, keep_author_date=True)
    r.tag("v1.1.2", "2024-01-26 10:00")
    # W5: AI agents and trailers, then v1.2.0 (and tags that are not production releases)
    r.checkout("main")
    r.commit("2024-01-29 10:00", "Add endpoint\n\nCo-Authored-By: Carol <carol@example.com>",
             {"app/devin.txt": 1}, author=DEVIN)
    r.commit("2024-01-30 10:00", "Refactor\n\nCo-authored-by: Codex <codex@openai.com>", {"app/ref.txt": 1},
             author=BOB)
    r.commit("2024-01-31 09:00", "Tidy\n\nAssisted-by: SomeLLM", {"app/tidy.txt": 1})
    r.commit("2024-01-31 10:00", "Add docs", {"app/docs.txt": 1}, author=("Bob Jones (aider)", BOB[1]))
    r.commit("2024-02-01 09:00", "Initial plan\n\nCo-authored-by: alice <alice@example.com>",
             {"app/plan.txt": 1}, author=COPILOT_AGENT)
    r.tag("v1.2.0", "2024-02-01 12:00")
    r.tag("v1.2.0-nightly", "2024-02-01 23:00")
    r.tag("test-2024", "2024-02-02 10:00", annotated=False)
    return sha


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("repos") / "shop"
    build_shop(path)
    return path


@pytest.fixture(scope="module")
def tables(shop) -> dict[str, pd.DataFrame]:
    return extract_git([shop], CONFIG)


def plain(values) -> list:
    """Values with every missing marker (None, NaN, NA) as None."""
    return [None if pd.isna(v) else v for v in values]


def week(ts) -> date:
    d = pd.Timestamp(ts).date()
    return date.fromordinal(d.toordinal() - d.weekday())


def weekly(series: pd.Series) -> dict[str, int]:
    names = {v: k for k, v in W.items()}
    counts = series.map(week).value_counts()
    return {names[d]: int(n) for d, n in sorted(counts.items())}


def active_builders(m: pd.DataFrame) -> dict[str, set[str]]:
    out = {}
    for name, monday in W.items():
        on = m[(pd.to_datetime(m.start_date) <= pd.Timestamp(monday))
               & (pd.to_datetime(m.end_date) > pd.Timestamp(monday))]
        out[name] = set(on.developer_id)
    return out


def test_tables_follow_the_contract(tables):
    assert set(tables) == {"teams", "memberships", "pull_requests", "deployments", "commits", "ai_tool_usage"}
    for name, df in tables.items():
        assert list(df.columns) == list(TABLES[name].column_names)
        assert contract_violations(name, df) == [], name


def test_teams(tables):
    t = tables["teams"]
    assert [plain(r) for r in t.values.tolist()] == [["shop", "shop", "engineering", "monolith", None]]


def test_pull_requests_merged_per_week(tables):
    prs = tables["pull_requests"].set_index("pr_id")
    # #5 was opened by dependabot: excluded. #4 was merged into the feature branch, off main's first parent.
    assert sorted(prs.index) == ["shop#1", "shop#2", "shop#3", "shop#4", "shop#6"]
    assert weekly(prs.merged_at) == {"W1": 2, "W3": 2, "W4": 1}
    assert prs.loc["shop#1", "author_id"] == "bob@example.com"
    assert prs.loc["shop#1", "created_at"] == datetime(2024, 1, 2, 10)  # earliest commit of the PR range
    assert prs.loc["shop#1", "merged_at"] == datetime(2024, 1, 3, 10)
    assert (prs.loc["shop#1", "additions"], prs.loc["shop#1", "deletions"]) == (3, 0)
    assert prs.loc["shop#2", "author_id"] == "alice@example.com"  # .mailmap folds the old address
    assert prs.loc["shop#2", "created_at"] == prs.loc["shop#2", "merged_at"] == datetime(2024, 1, 4, 9)
    # #3's range: Carol's commits (incl. her merge of main, whose main-side changes are excluded) and #4
    assert prs.loc["shop#3", "author_id"] == "carol@example.com"
    assert prs.loc["shop#3", "first_commit_at"] == datetime(2024, 1, 8, 10)
    assert prs.loc["shop#3", "additions"] == 4 + 6
    assert prs.loc["shop#4", "author_id"] == "bob@example.com"  # Robert, by the configured alias
    assert prs.shipped_at.isna().all()


def test_deployments_rollbacks_and_interventions(tables):
    d = tables["deployments"].set_index("deployment_id")
    assert list(d.index) == ["shop@v1.0.0", "shop@v1.1.0", "shop@v1.1.1", "shop@v1.1.2", "shop@v1.2.0"]
    assert (d.environment == "production").all() and (d.team_id == "shop").all()
    assert d.started_at.tolist() == [datetime(2024, 1, 5, 10), datetime(2024, 1, 17, 10), datetime(2024, 1, 23, 12),
                                     datetime(2024, 1, 26, 10), datetime(2024, 2, 1, 12)]
    assert d.status.tolist() == ["succeeded", "rolled_back", "succeeded", "succeeded", "succeeded"]
    assert d.is_rollback.tolist() == [False, False, True, False, False]
    # patch release (+1) and one cherry-pick (+1) in each of v1.1.1 and v1.1.2
    assert d.manual_interventions.tolist() == [0, 0, 2, 2, 0]
    assert plain(d.pr_ids) == ["shop#1;shop#2", "shop#3;shop#4", None, "shop#6", "shop#6"]
    attempts = d[~d.is_rollback]
    assert weekly(attempts.started_at) == {"W1": 1, "W3": 1, "W4": 1, "W5": 1}
    assert weekly(attempts[attempts.status == "succeeded"].started_at) == {"W1": 1, "W4": 1, "W5": 1}
    assert weekly(attempts[attempts.status == "rolled_back"].started_at) == {"W3": 1}
    per_week = attempts.groupby(attempts.started_at.map(week)).manual_interventions.sum()
    assert {k: int(v) for k, v in per_week.items() if v} == {W["W4"]: 2}


def test_any_revert_mode_marks_the_release_containing_the_revert(shop):
    d = extract_git([shop], replace(CONFIG, rollback_mode="any_revert"))["deployments"].set_index("deployment_id")
    assert d.is_rollback.tolist() == [False, False, True, False, True]


def test_active_builders_and_memberships(tables):
    m = tables["memberships"]
    assert set(m.role) == {"builder"} and set(m.fte) == {1.0}
    assert set(m.annual_loaded_cost_usd) == {DEFAULT_LOADED_COST_USD}
    spells = sorted((r.developer_id, str(r.start_date), str(r.end_date)) for r in m.itertuples())
    assert spells == [
        ("alice@example.com", "2024-01-01", "2024-02-05"),
        ("bob@example.com", "2024-01-01", "2024-01-08"),
        ("bob@example.com", "2024-01-15", "2024-02-05"),
        ("carol@example.com", "2024-01-08", "2024-01-22"),
        ("carol@example.com", "2024-01-29", "2024-02-05"),
    ]
    a, b, c = "alice@example.com", "bob@example.com", "carol@example.com"
    assert active_builders(m) == {"W1": {a, b}, "W2": {a, c}, "W3": {a, b, c}, "W4": {a, b}, "W5": {a, b, c}}
    people = set(m.developer_id) | set(tables["pull_requests"].author_id) | set(tables["ai_tool_usage"].developer_id)
    assert people == {a, b, c}  # no bot, no second address


def test_ai_active_developers_per_tool_and_week(tables):
    u = tables["ai_tool_usage"]
    assert u.active.all()
    got: dict[tuple[str, str], set[str]] = {}
    names = {v: k for k, v in W.items()}
    for r in u.itertuples():
        got.setdefault((names[week(r.usage_date)], r.tool), set()).add(r.developer_id.split("@")[0])
    assert got == {
        ("W1", "claude_code"): {"bob"}, ("W1", "copilot"): {"alice"},
        ("W2", "cursor"): {"carol"}, ("W2", "claude_code"): {"alice"},
        ("W3", "aider"): {"bob"},
        ("W4", "gemini_code_assist"): {"bob"},
        ("W5", "devin"): {"carol"}, ("W5", "codex"): {"bob"}, ("W5", "other"): {"alice"},
        ("W5", "aider"): {"bob"}, ("W5", "copilot"): {"alice"},
    }


def test_trunk_commits_reach_customers_with_their_release(shop):
    cfg = replace(CONFIG, team_architecture={"shop": "trunk"})
    c = extract_git([shop], cfg)["commits"]
    assert len(c) == 13  # main's first-parent chain; the bot-only commits on branches are not on it
    assert weekly(c.committed_at) == {"W1": 3, "W2": 2, "W3": 1, "W4": 2, "W5": 5}
    assert weekly(c.reached_customer_at.dropna()) == {"W1": 3, "W3": 3, "W5": 7}
    assert (c.reached_customer_at >= c.committed_at).all()
    assert extract_git([shop], CONFIG)["commits"].empty  # a monolith team lands no commits


def test_bare_mirror_and_partial_clone_give_the_same_counts(shop, tables, tmp_path):
    src = str(shop)
    subprocess.run(["git", "-C", src, "config", "uploadpack.allowFilter", "true"], check=True)
    mirror = tmp_path / "m" / "shop.git"
    subprocess.run(["git", "clone", "-q", "--mirror", src, str(mirror)], check=True)
    partial = tmp_path / "p" / "shop"
    subprocess.run(["git", "clone", "-q", "--no-local", "--filter=blob:none", "--no-checkout", f"file://{src}",
                    str(partial)], check=True, capture_output=True)
    for repo in (mirror, partial):
        other = extract_git([repo], CONFIG)
        for name in ("deployments", "memberships", "ai_tool_usage", "teams"):
            pd.testing.assert_frame_equal(other[name], tables[name], check_dtype=False, obj=f"{repo}:{name}")
        key = ["pr_id", "team_id", "author_id", "created_at", "merged_at"]
        pd.testing.assert_frame_equal(other["pull_requests"][key], tables["pull_requests"][key])
    # numstat is off in the partial clone (it would fetch every blob): line counts are unknown, not zero
    assert extract_git([partial], CONFIG)["pull_requests"].additions.isna().all()


def test_one_git_log_stream_per_repository(shop, monkeypatch):
    calls = {"popen": 0, "run": 0}
    real_popen, real_run = subprocess.Popen, subprocess.run

    def popen(*a, **k):
        calls["popen"] += 1
        return real_popen(*a, **k)

    def run(*a, **k):
        calls["run"] += 1
        return real_run(*a, **k)

    monkeypatch.setattr(gitlog.subprocess, "Popen", popen)
    monkeypatch.setattr(gitlog.subprocess, "run", run)
    extract_git([shop], CONFIG)
    # run() uses Popen too: one streamed `git log`, plus a handful of small queries (not one per commit)
    assert calls["popen"] - calls["run"] == 1 and calls["run"] <= 4


def test_write_landing_round_trip(tables, tmp_path):
    written = write_landing(tables, tmp_path / "landing", source="git")
    assert written["commits"] is None  # empty: no file
    path = written["deployments"]
    assert path == tmp_path / "landing" / "deployments" / "git_deployments.parquet"
    schema = pq.read_schema(path)
    assert schema.names == list(TABLES["deployments"].column_names)
    assert str(schema.field("started_at").type) == "timestamp[us]"
    assert str(schema.field("is_rollback").type) == "bool"
    back = pd.read_parquet(written["memberships"])
    assert str(pq.read_schema(written["memberships"]).field("start_date").type) == "date32[day]"
    assert len(back) == 5
    csv = write_landing({"teams": tables["teams"]}, tmp_path / "l2", source="git", fmt="csv")["teams"]
    assert csv.read_text().splitlines()[0] == "team_id,team_name,org,architecture,delivery_unit"


# ---- monorepo: directories are teams


@pytest.fixture(scope="module")
def mono(tmp_path_factory) -> Path:
    r = Repo(tmp_path_factory.mktemp("repos") / "mono")
    r.commit("2024-01-01 10:00", "Payments", {"services/payments/a.txt": 2})
    r.commit("2024-01-02 10:00", "Both", {"services/payments/b.txt": 1, "services/search/c.txt": 3}, author=BOB)
    r.commit("2024-01-03 10:00", "Docs", {"docs/readme.md": 1}, author=CAROL)
    r.commit("2024-01-04 10:00", "Shared change (#7)", {"services/payments/d.txt": 2, "services/search/e.txt": 5},
             author=BOB)
    r.tag("v2.0.0", "2024-01-05 10:00")
    return r.path


def test_monorepo_directories_are_teams(mono):
    t = extract_git([mono], GitSourceConfig(team_prefix="services/"))
    assert list(t["teams"].team_id) == ["mono", "payments", "search"]  # mono: paths outside services/
    prs = t["pull_requests"].set_index("pr_id")
    assert list(prs.index) == ["mono#7[payments]", "mono#7[search]"]  # a PR touching two teams counts for each
    assert prs.additions.tolist() == [2, 5]
    d = t["deployments"].set_index("deployment_id")
    assert list(d.index) == ["mono@v2.0.0[mono]", "mono@v2.0.0[payments]", "mono@v2.0.0[search]"]
    assert plain(d.pr_ids) == [None, "mono#7[payments]", "mono#7[search]"]
    m = t["memberships"]
    got = sorted((r.developer_id.split("@")[0], r.team_id, r.fte) for r in m.itertuples())
    assert got == [("alice", "payments", 1.0), ("bob", "payments", 0.5), ("bob", "search", 0.5),
                   ("carol", "mono", 1.0)]
    for name, df in t.items():
        assert contract_violations(name, df) == [], name


def test_monorepo_explicit_path_map_and_per_team_tags(mono, tmp_path):
    cfg = GitSourceConfig(team_prefix="services/", path_teams={"services/search": "discovery"},
                          fallback_team="platform", split_fte_across_teams=False)
    t = extract_git([mono], cfg)
    assert list(t["teams"].team_id) == ["discovery", "payments", "platform"]
    assert set(t["memberships"].fte) == {1.0}
    # a team-scoped tag series: the production pattern names the team
    subprocess.run(["git", "-C", str(mono), "tag", "payments/v2.0.1", "HEAD"], check=True)
    cfg = replace(cfg, production_tag_pattern=r"^(?P<team>[a-z]+)/v\d+\.\d+\.\d+$")
    d = extract_git([mono], cfg)["deployments"]
    assert d[["deployment_id", "team_id", "manual_interventions", "pr_ids"]].values.tolist() == [
        ["mono@payments/v2.0.1", "payments", 1, "mono#7[payments]"]]


# ---- AI markers: every built-in pattern has an example


AI_EXAMPLES = [
    ("claude_code", "author: A <a@x>\nFix\n\nCo-Authored-By: Claude <noreply@anthropic.com>"),
    ("claude_code", "author: A <a@x>\nFix\n\nCo-authored-by: Claude Opus 4.5 <noreply@anthropic.com>"),
    ("claude_code", "author: A <a@x>\nFix\n\nAssisted-by: Claude:claude-opus-4"),
    ("claude_code", "author: A <a@x>\nFix\n\n\N{ROBOT FACE} Generated with [Claude Code](https://claude.com)"),
    ("copilot", "author: A <a@x>\nFix\n\nCo-authored-by: Copilot <175728472+Copilot@users.noreply.github.com>"),
    ("copilot", "author: copilot-swe-agent[bot] <198982749+Copilot@users.noreply.github.com>\nInitial plan"),
    ("cursor", "author: A <a@x>\nFix\n\nCo-authored-by: Cursor <noreply@cursor.com>"),
    ("cursor", "author: A <a@x>\nFix\n\nCo-authored-by: Agent <cursoragent@cursor.com>"),
    ("cursor", "author: A <a@x>\nFix\n\nMade with [Cursor](https://cursor.com)"),
    ("gemini_code_assist", "author: A <a@x>\nFix\n\nCo-authored-by: gemini-code-assist[bot] <1+g@users.x>"),
    ("gemini_code_assist", "author: A <a@x>\nFix\n\nAssisted-by: Gemini 2.5 Pro"),
    ("codex", "author: A <a@x>\nFix\n\nCo-authored-by: Codex <codex@openai.com>"),
    ("codex", "author: chatgpt-codex-connector[bot] <1+c@users.noreply.github.com>\nFix"),
    ("codex", "author: Ann (codex) <a@x>\nFix"),
    ("devin", "author: devin-ai-integration[bot] <1+d@users.noreply.github.com>\nFix"),
    ("devin", "author: A <a@x>\nFix\n\nCo-authored-by: Devin <devin@cognition.ai>"),
    ("aider", "author: A <a@x>\naider: fix the parser"),
    ("aider", "author: Ann (aider) <a@x>\nFix"),
    ("aider", "author: A <a@x>\nFix\n\nCo-authored-by: aider (gpt-4o) <noreply@aider.chat>"),
    ("other", "author: A <a@x>\nFix\n\nAssisted-by: SomeLLM v2"),
    ("other", "author: A <a@x>\nFix\n\nGenerated-by: an in-house agent"),
]


@pytest.mark.parametrize(("tool", "text"), AI_EXAMPLES)
def test_each_ai_marker(tool, text):
    assert AIMatcher().tools_in(text) == {tool}


def test_every_builtin_ai_pattern_has_an_example():
    flags = re.IGNORECASE | re.MULTILINE
    for tool, patterns in {**AI_MARKERS, **FALLBACK_AI_MARKERS}.items():
        for p in patterns:
            assert any(t == tool and re.search(p, x, flags) for t, x in AI_EXAMPLES), (tool, p)


@pytest.mark.parametrize("text", [
    "author: A <a@x>\nFix\n\nCo-authored-by: Claude Monet <claude@monet.fr>",  # a human named Claude
    "author: A <a@x>\nAdd cursor blinking to the editor",
    "author: A <a@x>\nFix\n\nCo-authored-by: Bob <bob@x>",
    "author: A <a@x>\nMention aider: in docs",
])
def test_no_ai_marker(text):
    assert AIMatcher().tools_in(text) == frozenset()


def test_identities_and_bots():
    ids = Identities({"Robert": "bob@example.com"})
    assert ids.person("dependabot[bot]", "x@y") is None
    assert ids.person("renovate", "bot@renovateapp.com") is None
    assert ids.person("github-actions", "41898282+github-actions[bot]@users.noreply.github.com") is None
    assert ids.person("Robert", "r@home") == "bob@example.com"
    assert ids.person("Ann", "12345+ann@users.noreply.github.com") == "ann@users.noreply.github.com"


def test_landing_files_load_into_raw_without_quarantine(shop, tmp_path):
    """The files pass the project's own loader: every row loads, nothing is quarantined."""
    load = pytest.importorskip("ctsw.ingest.load")
    import duckdb

    tables = extract_git([shop], replace(CONFIG, team_architecture={"shop": "trunk"}))
    landing = tmp_path / "landing"
    write_landing(tables, landing, source="git")
    con = duckdb.connect(str(tmp_path / "t.duckdb"))
    con.execute("SET TimeZone = 'UTC'")
    window = load.Window(datetime(2023, 12, 25), datetime(2024, 2, 5))
    for name in ("teams", "memberships", "pull_requests", "deployments", "commits", "ai_tool_usage"):
        res = load.load_table(con, name, load.landing_files(landing, name),
                              None if TABLES[name].partition_column is None else window, "k", landing_dir=landing)
        assert (res.rows_read, res.rows_quarantined) == (len(tables[name]), 0), (name, res.quarantine_reasons)
    bridge = con.execute("SELECT count(*) FROM raw.deployment_pull_requests").fetchone()[0]
    assert bridge == 6  # v1.0.0: 2, v1.1.0: 2, v1.1.2: 1, v1.2.0: 1


def test_retagged_release_and_tag_back_to_shipped_code(tmp_path):
    r = Repo(tmp_path / "svc")
    a = r.commit("2024-03-04 10:00", "One", {"x.txt": 1})
    r.tag("v3.0.0", "2024-03-04 12:00")
    r.tag("release-3.0.0", "2024-03-04 12:05")  # a second name for the same release: not a deployment
    r.commit("2024-03-05 10:00", "Two", {"y.txt": 1})
    r.tag("v3.1.0", "2024-03-05 12:00")
    r.tag("v3.1.1", "2024-03-06 12:00", ref=a)  # production goes back to v3.0.0's code: a rollback
    d = extract_git([r.path])["deployments"]
    assert d[["deployment_id", "status", "is_rollback", "manual_interventions"]].values.tolist() == [
        ["svc@v3.0.0", "succeeded", False, 0],
        ["svc@v3.1.0", "rolled_back", False, 0],
        ["svc@v3.1.1", "succeeded", True, 1],
    ]


def test_reverts_found_by_subject_and_by_abbreviated_sha(tmp_path):
    r = Repo(tmp_path / "api")
    r.commit("2024-03-04 10:00", "Feature A", {"a.txt": 1})
    r.tag("v1.0.0", "2024-03-04 12:00")
    # a squash-merged revert PR: GitHub's subject, no "This reverts commit" body
    r.commit("2024-03-05 10:00", 'Revert "Feature A" (#9)', {"a.txt": 0})
    r.tag("v1.0.1", "2024-03-05 12:00")
    b = r.commit("2024-03-06 10:00", "Feature B", {"b.txt": 1})
    r.commit("2024-03-06 11:00", f'Revert "Feature B"\n\nThis reverts commit {b[:7]}.', {"b.txt": 0})
    r.tag("v1.1.0", "2024-03-07 12:00")  # B and its revert ship together: nothing reached customers to roll back
    t = extract_git([r.path])
    d = t["deployments"]
    cols = ["deployment_id", "status", "is_rollback", "manual_interventions", "pr_ids"]
    assert [plain(row) for row in d[cols].values.tolist()] == [
        ["api@v1.0.0", "rolled_back", False, 0, None],
        ["api@v1.0.1", "succeeded", True, 1, "api#9"],
        ["api@v1.1.0", "succeeded", False, 0, None],
    ]
    assert list(t["pull_requests"].pr_id) == ["api#9"]


def test_prs_no_release_lists_ship_when_they_reach_the_trunk(tmp_path):
    r = Repo(tmp_path / "site")
    r.commit("2024-03-04 09:00", "Initial", {"index.txt": 1})
    r.commit("2024-03-05 10:00", "Fix header (#12)", {"header.txt": 2}, author=BOB)
    r.tag("v1.0.0", "2024-03-05 12:00")  # the only release: it lists #12
    r.checkout("feature", "main")
    r.commit("2024-03-05 11:00", "Start feature", {"f.txt": 3})
    r.checkout("sub", "feature")
    r.commit("2024-03-06 09:00", "Sub part", {"s.txt": 1}, author=CAROL)
    r.checkout("feature")
    r.merge("sub", "2024-03-06 10:00", "Merge pull request #11 from acme/sub")  # into the branch, not main
    r.checkout("main")
    r.merge("feature", "2024-03-11 15:00", "Merge pull request #10 from acme/feature")  # next week
    r.checkout("abandoned", "main")
    r.commit("2024-03-12 09:00", "Experiment", {"e.txt": 1}, author=CAROL)
    r.checkout("other", "main")
    r.commit("2024-03-12 10:00", "Other", {"o.txt": 1}, author=CAROL)
    r.checkout("abandoned")
    r.merge("other", "2024-03-12 11:00", "Merge pull request #13 from acme/other")  # never reaches main
    r.checkout("main")

    def shipped(config: GitSourceConfig) -> dict[str, datetime | None]:
        prs = extract_git([r.path], config)["pull_requests"]
        return {row.pr_id: (None if pd.isna(row.shipped_at) else row.shipped_at) for row in prs.itertuples()}

    assert shipped(GitSourceConfig()) == dict.fromkeys(["site#10", "site#11", "site#12", "site#13"])
    assert shipped(GitSourceConfig(pr_ships_on_merge=True)) == {
        "site#10": datetime(2024, 3, 11, 15),  # merged into main: ships at the merge
        "site#11": datetime(2024, 3, 11, 15),  # merged into a branch on 03-06: ships when the branch reaches main
        "site#12": None,  # listed by release v1.0.0: its deployment ships it
        "site#13": None,  # never reached the trunk
    }
