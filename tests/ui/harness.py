"""What the user-level tests share: one small simulated org materialised once per test session as a user would
(`dagster asset materialize --partition-range`, one run), `dagster dev` on a free local port, and headless
Chromium (Debian's chromium + chromium-driver, installed by tests/ui/ensure_chromium.sh when missing)."""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
IMG = ROOT / "docs" / "img"
TEAMS, WEEKS, SEED = 16, 10, 1
FIRST, LAST = date(2024, 1, 1), date(2024, 3, 4)  # the 10 simulated weeks
BAD_ROWS = 2  # pull requests of a team that does not exist: quarantined, shown in the report's data quality
HERMETIC = ("CTSW_LANDING_DIR", "CTSW_DUCKDB_PATH", "CTSW_MIN_TEAM_BUILDERS", "CTSW_START_WEEK",
            "CTSW_PSEUDONYM_KEY_FILE", "CTSW_AUTOMATION", "CTSW_LOOKBACK_WEEKS", "CTSW_SCHEDULE_GRACE_HOURS")


@dataclass
class Pipeline:
    data: Path
    env: dict[str, str]
    materialize: subprocess.CompletedProcess
    seconds: float

    @property
    def db(self) -> Path:
        return self.data / "ctsw.duckdb"

    @property
    def home(self) -> Path:
        return self.data / "dagster_home"

    @property
    def report(self) -> Path:
        return self.data / "reports" / f"ctsw-report-{LAST}.html"


def env_for(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in HERMETIC}
    env.update(CTSW_DATA_DIR=str(data), DAGSTER_HOME=str(data / "dagster_home"), CTSW_PSEUDONYM_KEY="ui-test-key",
               PYTHONUNBUFFERED="1")
    return env


def ctsw(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ctsw.cli", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def _scratch() -> Path:
    root = Path(tempfile.mkdtemp(prefix="ctsw-ui-"))
    atexit.register(shutil.rmtree, root, True)
    return root


@functools.cache
def pipeline() -> Pipeline:
    """Simulate 16 teams x 10 weeks, add two bad rows, materialise every asset over the 10 weeks in one run."""
    data = _scratch() / "data"
    env = env_for(data)
    sim = ctsw(env, "simulate", "--teams", str(TEAMS), "--weeks", str(WEEKS), "--seed", str(SEED), "--format", "csv")
    assert sim.returncode == 0, sim.stderr
    prs = data / "landing" / "pull_requests" / "pull_requests_2024-01-08.csv"
    frame = pd.read_csv(prs, dtype=str, keep_default_na=False)
    bad = frame.tail(BAD_ROWS).assign(team_id="t9999", pr_id=[f"t9999#{i}" for i in range(BAD_ROWS)])
    pd.concat([frame, bad]).to_csv(prs, index=False)
    home = data / "dagster_home"
    home.mkdir(parents=True)
    from ctsw.runner import DAGSTER_YAML, POOLED_EVENT_LOG_YAML

    (home / "dagster.yaml").write_text(DAGSTER_YAML + POOLED_EVENT_LOG_YAML)  # what ctsw writes in a new home
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "orchestration.definitions",
         "--select", "*", "--partition-range", f"{FIRST}...{LAST}"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)
    seconds = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return Pipeline(data, env, proc, seconds)


# --- dagster dev -----------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Webserver:
    url: str
    proc: subprocess.Popen
    log: Path

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        req = urllib.request.Request(f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            out = json.loads(resp.read())
        assert "errors" not in out, out["errors"]
        return out["data"]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # dagster dev and the processes it started, nothing else
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


LOCATION_STATUS = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus locationOrLoadError { " \
                  "__typename ... on PythonError { message } } } } } }"


def start_dagster_dev(p: Pipeline, timeout: float = 180) -> Webserver:
    """`dagster dev` on a free 127.0.0.1 port over the pipeline's data; returns once the code location loaded."""
    port = free_port()
    log = p.data / f"dagster-dev-{port}.log"
    fh = open(log, "w")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "dagster", "dev", "-w", str(ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p",
         str(port)], env=p.env, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    server = Webserver(f"http://127.0.0.1:{port}", proc, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dagster dev exited with {proc.returncode}: {log.read_text()[-3000:]}")
        try:
            entries = server.graphql(LOCATION_STATUS)["workspaceOrError"]["locationEntries"]
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                errors = [e for e in entries if e["locationOrLoadError"]["__typename"] == "PythonError"]
                if errors:
                    server.stop()
                    raise RuntimeError(f"code location failed to load: {errors}")
                return server
        except (OSError, urllib.error.URLError, AssertionError, KeyError, TypeError):
            pass
        time.sleep(1)
    server.stop()
    raise TimeoutError(f"dagster dev did not load within {timeout}s: {log.read_text()[-3000:]}")


# --- headless Chromium -----------------------------------------------------------------------------------------

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


def ensure_chromium() -> None:
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return
    subprocess.run(["bash", str(Path(__file__).with_name("ensure_chromium.sh"))], check=True, timeout=900)


def browser(width: int = 1400, height: int = 1000):
    """Headless Chromium through Selenium with Debian's chromedriver (nothing is downloaded)."""
    ensure_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="ctsw-chromium-")
    atexit.register(shutil.rmtree, profile, True)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 f"--user-data-dir={profile}", f"--window-size={width},{height}", "--hide-scrollbars"):
        opts.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=opts)
