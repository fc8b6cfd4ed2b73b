"""Streaming reads of a git repository: one `git log` process for all history, one `for-each-ref` for tags.

No per-commit subprocess and no blob reads beyond `--numstat` (which the caller can turn off: in a partial
clone numstat would fetch every missing blob, so it is off there by default). Works on bare mirrors.
"""

from __future__ import annotations

import codecs
import io
import os
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# Unit separator between fields, record separator before a commit, group separator after its message.
_RS, _US, _GS = "\x1e", "\x1f", "\x1d"
_FORMAT = _RS + _US.join(["%H", "%P", "%an", "%ae", "%aN", "%aE", "%at", "%ct", "%B"]) + _GS

# All refs except GitHub's synthetic PR test merges, notes and the stash (a mirror carries refs/pull/*).
DEFAULT_REV_ARGS: tuple[str, ...] = (
    "--exclude=refs/pull/*/merge",
    "--exclude=refs/notes/*",
    "--exclude=refs/stash",
    "--all",
)


class GitError(RuntimeError):
    pass


@dataclass(slots=True)
class LogEntry:
    sha: str
    parents: tuple[str, ...]
    author_name: str  # raw, before .mailmap
    author_email: str
    mapped_name: str  # after .mailmap
    mapped_email: str
    author_time: int  # unix seconds
    commit_time: int
    message: str
    files: list[tuple[str, int | None, int | None]] = field(default_factory=list)  # path, added, deleted


@dataclass(frozen=True, slots=True)
class Tag:
    name: str
    sha: str  # the commit it points at (peeled)
    time: int  # tagger date for annotated tags, committer date of the commit for lightweight ones
    annotated: bool


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat", "GIT_OPTIONAL_LOCKS": "0"})
    return env


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, encoding="utf-8", errors="replace",
        env=_env(),
    )
    if check and proc.returncode != 0:
        raise GitError(f"git {' '.join(args[:3])} failed in {repo}: {proc.stderr.strip()}")
    return proc


def is_partial_clone(repo: Path) -> bool:
    proc = git(repo, "config", "--get-regexp", r"^(extensions\.partialclone|remote\..*\.promisor)$", check=False)
    return proc.returncode == 0 and bool(proc.stdout.strip())


def resolve_commit(repo: Path, ref: str) -> str | None:
    proc = git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
    if proc.returncode != 0:
        return None
    return proc.stdout.strip() or None


def mailmap_options(repo: Path, extra_file: str | None = None) -> tuple[str, ...]:
    """`-c` options so `--use-mailmap` sees the committed .mailmap even without a work tree file.

    Git reads `.mailmap` from the work tree, and from `HEAD:.mailmap` only in bare repositories; a clone
    without checkout (or a sparse one) would silently lose it.
    """
    opts: list[str] = []
    if extra_file:
        opts += ["-c", f"mailmap.file={extra_file}"]
    inside = git(repo, "rev-parse", "--is-bare-repository", "--show-toplevel", check=False).stdout.split()
    bare = bool(inside) and inside[0] == "true"
    if not bare and not (len(inside) > 1 and (Path(inside[1]) / ".mailmap").is_file()):
        opts += ["-c", "mailmap.blob=HEAD:.mailmap"]
    return tuple(opts)


def list_tags(repo: Path) -> list[Tag]:
    fmt = "%09".join(["%(refname)", "%(objecttype)", "%(objectname)", "%(*objecttype)", "%(*objectname)",
                      "%(creatordate:unix)"])
    out = git(repo, "for-each-ref", f"--format={fmt}", "refs/tags").stdout
    tags = []
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) != 6:
            continue
        ref, typ, obj, ptyp, pobj, when = parts
        if typ == "commit":
            sha, annotated = obj, False
        elif typ == "tag" and ptyp == "commit":
            sha, annotated = pobj, True
        else:  # a tag of a tree/blob, or a tag of a tag: not a release of code
            continue
        try:
            t = int(when)
        except ValueError:
            continue
        tags.append(Tag(name=ref.removeprefix("refs/tags/"), sha=sha, time=t, annotated=annotated))
    return tags


def _unquote(path: str) -> str:
    if len(path) >= 2 and path[0] == '"' and path[-1] == '"':
        raw = codecs.escape_decode(path[1:-1].encode("utf-8"))[0]
        return raw.decode("utf-8", errors="replace")
    return path


def iter_log(
    repo: Path, rev_args: Sequence[str] = DEFAULT_REV_ARGS, numstat: bool = True, options: Sequence[str] = ()
) -> Iterator[LogEntry]:
    """Every commit reachable from `rev_args`, children before parents, with numstat (or file names)."""
    cmd = [
        "git", "-C", str(repo), *options, "-c", "core.quotePath=false", "-c", "log.showSignature=false",
        "log", "--use-mailmap", "--no-renames", "--no-color", "--no-ext-diff", "--no-textconv", "--date-order",
        "--encoding=UTF-8", f"--format={_FORMAT}", "--numstat" if numstat else "--name-only", *rev_args, "--",
    ]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=_env(), bufsize=1 << 20)
        assert proc.stdout is not None
        # Only "\n" ends a line: str.splitlines would also split at the separators above.
        lines = io.TextIOWrapper(proc.stdout, encoding="utf-8", errors="replace", newline="\n")
        try:
            yield from _parse(lines, numstat)
        finally:
            lines.close()
            rc = proc.wait()
        if rc != 0:
            err.seek(0)
            msg = err.read().decode("utf-8", errors="replace").strip()
            if "does not have any commits" in msg or "bad default revision" in msg:
                return
            raise GitError(f"git log failed in {repo} (exit {rc}): {msg[-2000:]}")


def _parse(lines: Iterator[str], numstat: bool) -> Iterator[LogEntry]:
    cur: LogEntry | None = None
    msg: list[str] = []
    in_msg = False
    for line in lines:
        if in_msg:
            end = line.find(_GS)
            if end >= 0:
                msg.append(line[:end])
                in_msg = False
                assert cur is not None
                cur.message = "".join(msg)
            else:
                msg.append(line)
            continue
        if line.startswith(_RS):
            if cur is not None:
                yield cur
            fields = line[1:].split(_US, 8)
            if len(fields) < 9:
                raise GitError(f"unexpected git log header: {line[:200]!r}")
            sha, parents, an, ae, mn, me, at, ct, first = fields
            cur = LogEntry(sha, tuple(parents.split()), an, ae, mn, me, int(at or 0), int(ct or 0), "")
            end = first.find(_GS)
            if end >= 0:
                cur.message = first[:end]
            else:
                msg = [first]
                in_msg = True
            continue
        line = line.rstrip("\n")
        if not line or cur is None:
            continue
        if numstat:
            parts = line.split("\t", 2)
            if len(parts) != 3:
                continue
            a, d, path = parts
            cur.files.append((_unquote(path), int(a) if a.isdigit() else 0, int(d) if d.isdigit() else 0))
        else:
            cur.files.append((_unquote(line), None, None))
    if cur is not None:
        yield cur
