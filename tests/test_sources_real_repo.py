"""The git adapter on a real repository, every week checked against `git log` itself.

Debian's python-pyramid-jinja2-doc ships a clone of Pylons/pylons_sphinx_theme (91 commits 2010-2015, 7 authors,
10 GitHub PR merges, one of them reaching main through a `git pull` merge; no tags), its pack gzipped. The
package is installed when missing (tests/ensure_debian.sh), not copied here: the repository is CC BY-NC-SA and
holds real names. The reference counts come from git's own commands, independent of ctsw's parser and graph.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from ctsw.sources.git import GitSourceConfig, extract_git

PACKAGED = Path("/usr/share/doc/python-pyramid-jinja2-doc/_themes")


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    subprocess.run(["bash", str(Path(__file__).with_name("ensure_debian.sh")), str(PACKAGED / ".git" / "HEAD"),
                    "python-pyramid-jinja2-doc"], check=True, timeout=900)
    path = tmp_path_factory.mktemp("real") / "pst"
    shutil.copytree(PACKAGED, path)
    for packed in (path / ".git" / "objects" / "pack").glob("*.gz"):
        subprocess.run(["gunzip", str(packed)], check=True)
    return path


def git(repo: Path, *args: str) -> list[str]:
    out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


def monday(ts: int | datetime) -> date:
    d = ts.date() if isinstance(ts, datetime) else datetime.fromtimestamp(int(ts), UTC).date()
    return d - timedelta(days=d.weekday())


def weekly(times: pd.Series) -> Counter:
    return Counter(monday(t.to_pydatetime()) for t in times.dropna())


def test_weekly_counts_equal_git_log_in_every_week(repo):
    tables = extract_git([repo], GitSourceConfig(architecture="trunk", pr_ships_on_merge=True))
    trunk = git(repo, "log", "--first-parent", "HEAD", "--format=%H %ct")
    assert len(trunk) == 75

    # commits shipped: the first-parent chain of HEAD, by commit time
    assert weekly(tables["commits"].committed_at) == Counter(monday(t) for _, t in map(str.split, trunk))

    # PRs merged: "Merge pull request #N" / "... (#N)" anywhere in history, once per number (the earliest)
    merged: dict[str, tuple[int, str]] = {}
    for line in git(repo, "log", "--all", "--format=%ct %H %s"):
        t, sha, subject = line.split(" ", 2)
        m = re.match(r"Merge pull request #(\d+) from ", subject) or re.search(r"\(#(\d+)\)\s*$", subject)
        if m and (m.group(1) not in merged or int(t) < merged[m.group(1)][0]):
            merged[m.group(1)] = (int(t), sha)
    prs = tables["pull_requests"]
    assert len(prs) == len(merged) == 10
    assert weekly(prs.merged_at) == Counter(monday(t) for t, _ in merged.values())

    # PRs shipped on reaching the trunk: the oldest first-parent commit that has the merge as an ancestor
    chain = [(sha, int(t)) for sha, t in map(str.split, reversed(trunk))]

    def arrival(sha: str) -> int:
        lo, hi = 0, len(chain) - 1  # containment is monotonic along the chain: binary search
        while lo < hi:
            mid = (lo + hi) // 2
            inside = subprocess.run(["git", "-C", str(repo), "merge-base", "--is-ancestor", sha, chain[mid][0]])
            lo, hi = (lo, mid) if inside.returncode == 0 else (mid + 1, hi)
        return chain[lo][1]

    expected = {f"pst#{n}": datetime.fromtimestamp(arrival(sha), UTC).replace(tzinfo=None)
                for n, (_, sha) in merged.items()}
    assert dict(zip(prs.pr_id, prs.shipped_at, strict=True)) == expected
    late = [p for p in prs.itertuples() if p.shipped_at > p.merged_at]
    assert [p.pr_id for p in late] == ["pst#6"]  # merged on GitHub, reached main through a local pull merge

    # builders: distinct authors with a commit (any ref) in the week, by author time
    authors: dict[date, set[str]] = defaultdict(set)
    for line in git(repo, "log", "--all", "--format=%at %aE"):
        t, email = line.split(" ", 1)
        authors[monday(int(t))].add(email.lower())
    m = tables["memberships"]
    starts = pd.to_datetime(m.start_date)
    ends = pd.to_datetime(m.end_date)
    for week, people in authors.items():
        on = (starts <= pd.Timestamp(week)) & (ends > pd.Timestamp(week))
        assert set(m.developer_id[on]) == people, week
    assert sum(m.fte * (ends - starts).dt.days / 7) == sum(len(p) for p in authors.values())
