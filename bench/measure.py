"""Run one benchmark stage as a subprocess and measure it: wall time, CPU time and peak memory.

* CPU time and `maxrss_mb` come from `os.wait4` on the stage's process: the kernel's rusage of that process and
  every descendant it waited for (dbt's subprocess, DuckDB's threads). `maxrss_mb` is the largest resident set
  of any single process of the tree.
* `peak_tree_rss_mb` is the largest sum of the resident sets of the whole process tree at one moment, sampled
  every 0.2 s from /proc (shared pages are counted once per process, so it errs high).
* The 1-minute load average is recorded before and after: the machine is shared, wall times are only
  comparable at similar load; CPU times much less affected.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        # the command name is in parentheses and may hold spaces: fields after the last ')'
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def tree_rss_bytes(pid: int) -> int:
    """Sum of the resident sets of `pid` and all its descendants (0 if it is gone)."""
    kids = _children_map()
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/statm", "rb") as fh:
                total += int(fh.read().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            pass
        todo.extend(kids.get(p, ()))
    return total


@dataclass
class Measurement:
    stage: str
    command: list[str]
    returncode: int
    wall_s: float
    cpu_s: float
    user_s: float
    sys_s: float
    maxrss_mb: float
    peak_tree_rss_mb: float
    load_before: float
    load_after: float
    log: str
    started_at: float = 0.0  # epoch seconds
    rss_series: list = field(default_factory=list)  # [seconds since start, tree RSS MB], about one a second
    detail: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def as_dict(self) -> dict:
        return asdict(self)


def run_measured(
    stage: str,
    command: list[str],
    env: dict[str, str],
    log_path: Path,
    cwd: Path | None = None,
    nice: int = 0,
    interval: float = 0.2,
) -> Measurement:
    """Run `command` to completion with stdout+stderr in `log_path`; measure it (see the module docstring)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    load_before = load_average()
    peak = 0
    series: list[list[float]] = []
    with open(log_path, "w") as log:
        t0 = time.perf_counter()
        started_at = time.time()
        proc = subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=(lambda: os.nice(nice)) if nice else None,
        )
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            last = -1.0
            while not done.is_set():
                rss = tree_rss_bytes(proc.pid)
                peak = max(peak, rss)
                now = time.perf_counter() - t0
                if now - last >= 1.0:
                    series.append([round(now, 1), round(rss / 2**20)])
                    last = now
                done.wait(interval)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        done.set()
        sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4: tell Popen so it does not wait again
    return Measurement(
        stage=stage,
        command=command,
        returncode=proc.returncode,
        wall_s=round(wall, 3),
        cpu_s=round(usage.ru_utime + usage.ru_stime, 3),
        user_s=round(usage.ru_utime, 3),
        sys_s=round(usage.ru_stime, 3),
        maxrss_mb=round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
        peak_tree_rss_mb=round(max(peak, usage.ru_maxrss * 1024) / 2**20, 1),
        load_before=load_before,
        load_after=load_average(),
        log=str(log_path),
        started_at=round(started_at, 3),
        rss_series=series,
    )
