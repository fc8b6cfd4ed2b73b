"""The pooled event log (ctsw/event_log.py) that ctsw.runner configures for a new Dagster home: selected by the
generated dagster.yaml, a run's events readable from another process, and no events lost by concurrent writers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.utils import make_new_run_id

from ctsw.config import Settings
from ctsw.event_log import PooledSqliteEventLogStorage
from ctsw.runner import DAGSTER_YAML, dagster_home

ROOT = Path(__file__).resolve().parent.parent
KEY = dg.AssetKey(["raw", "events_test"])


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    return dagster_home(Settings.from_env())


def _python(code: str, home: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "DAGSTER_HOME": str(home)})


def _finish(proc: subprocess.Popen) -> str:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    return out


def test_generated_yaml_selects_the_pooled_event_log_in_its_own_home(home, tmp_path, monkeypatch):
    text = (home / "dagster.yaml").read_text()
    assert text.startswith(DAGSTER_YAML) and "ctsw.event_log" in text and str(home) not in text
    copy = tmp_path / "copied_home"
    shutil.copytree(home, copy)
    for where in (home, copy):  # a copied home writes to its own log, not to the one it was copied from
        monkeypatch.setenv("DAGSTER_HOME", str(where))
        with dg.DagsterInstance.get() as instance:
            assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
            assert instance.event_log_storage._base_dir == str(where / "history" / "runs")


def test_an_existing_dagster_yaml_is_kept(tmp_path, monkeypatch):
    existing = tmp_path / "dagster_home" / "dagster.yaml"
    existing.parent.mkdir()
    existing.write_text(DAGSTER_YAML)
    monkeypatch.setenv("DAGSTER_HOME", str(existing.parent))
    dagster_home(Settings.from_env())
    assert existing.read_text() == DAGSTER_YAML


def test_a_runs_events_are_readable_by_a_fresh_instance_in_another_process(home, monkeypatch, capfd):
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "1000")  # as ctsw.runner sets it: the 20 weeks are one batch
    batches: list[int] = []
    store_batch = PooledSqliteEventLogStorage.store_event_batch
    monkeypatch.setattr(PooledSqliteEventLogStorage, "store_event_batch",
                        lambda self, events: batches.append(len(events)) or store_batch(self, events))
    weeks = dg.StaticPartitionsDefinition([f"w{i}" for i in range(20)])

    @dg.asset(key=KEY, partitions_def=weeks)
    def events_test() -> None:
        return None

    job = dg.Definitions(assets=[events_test]).resolve_implicit_global_asset_job_def()
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(instance=instance, tags={"dagster/asset_partition_range_start": "w0",
                                                                 "dagster/asset_partition_range_end": "w19"})
        assert result.success
        written = [e.dagster_event.event_type_value for e in instance.all_logs(result.run_id) if e.dagster_event]
    out = _finish(_python(f"""
        import json
        import dagster as dg
        with dg.DagsterInstance.get() as instance:
            run = instance.get_run_by_id({result.run_id!r})
            types = [e.dagster_event.event_type_value for e in instance.all_logs(run.run_id) if e.dagster_event]
            parts = instance.get_materialized_partitions(dg.AssetKey({KEY.path!r}))
            print(json.dumps({{"status": run.status.value, "types": types, "parts": sorted(parts),
                               "storage": type(instance.event_log_storage).__name__}}))
    """, home))
    seen = json.loads(out)
    assert seen["storage"] == "PooledSqliteEventLogStorage"
    assert seen["status"] == "SUCCESS"
    assert seen["types"] == written and written.count("ASSET_MATERIALIZATION") == 20
    assert seen["parts"] == sorted(weeks.get_partition_keys())
    assert 20 in batches, batches
    assert "Exception while storing event batch" not in capfd.readouterr().err  # no fallback to one by one


def test_two_processes_writing_at_once_lose_no_events(home):
    per_process = 150
    with dg.DagsterInstance.get() as instance:  # creates the shards: Dagster's first set-up of one is not race-free
        instance.report_runless_asset_event(dg.AssetMaterialization(KEY, partition="setup"))
    writer = """
        import dagster as dg
        with dg.DagsterInstance.get() as instance:
            for i in range({n}):
                instance.report_runless_asset_event(
                    dg.AssetMaterialization(dg.AssetKey({path!r}), partition="{who}-" + str(i)))
    """
    procs = [_python(writer.format(n=per_process, path=KEY.path, who=who), home) for who in ("a", "b")]
    for proc in procs:
        _finish(proc)
    with dg.DagsterInstance.get() as instance:
        parts = instance.get_materialized_partitions(KEY)
        records = instance.fetch_materializations(KEY, limit=10 * per_process).records
    assert parts == {"setup"} | {f"{who}-{i}" for who in ("a", "b") for i in range(per_process)}
    assert len(records) == 2 * per_process + 1


def test_the_ui_sees_a_live_runs_end_before_the_writer_closes(home):
    """The UI follows a run by watching its shard file, which WAL changes only at a checkpoint (ctsw/event_log.py)."""
    run_id = make_new_run_id()
    writer = _python(f"""
        import sys
        import dagster as dg

        @dg.asset(key=dg.AssetKey({KEY.path!r}))
        def events_test() -> None:
            return None

        job = dg.Definitions(assets=[events_test]).resolve_implicit_global_asset_job_def()
        with dg.DagsterInstance.get() as instance:
            assert job.execute_in_process(instance=instance, run_id={run_id!r}).success
            print("done", flush=True)
            sys.stdin.read()  # keep the storage and its connections open until the test has looked
    """, home)
    seen: list[str] = []
    with dg.DagsterInstance.get() as instance:
        instance.watch_event_logs(run_id, None, lambda entry, _cursor: seen.append(entry.dagster_event_type))
        try:
            assert writer.stdout.readline().strip() == "done", writer.stderr.read()[-3000:]
            deadline = time.monotonic() + 10
            while dg.DagsterEventType.RUN_SUCCESS not in seen and time.monotonic() < deadline:
                time.sleep(0.1)
            assert dg.DagsterEventType.RUN_SUCCESS in seen
        finally:
            _finish(writer)  # closes its stdin: the writer exits
