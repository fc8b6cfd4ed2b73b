"""Model assets on panels they cannot fit: they skip with a reason instead of failing the run."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from orchestration.defs.models.assets import capacity
from orchestration.resources import CtswResource

WEEKS = pd.date_range("2024-01-01", periods=10, freq="7D")


def _panel_db(data: Path) -> CtswResource:
    data.mkdir()
    con = duckdb.connect(str(data / "ctsw.duckdb"))
    panel = pd.DataFrame({"team_id": "t1", "week_start": WEEKS, "rollback_rate": None,
                          "interventions_per_deploy": None})
    con.execute("CREATE SCHEMA marts")
    con.register("panel", panel)
    con.execute("CREATE TABLE marts.fct_team_weeks AS SELECT * FROM panel")
    con.close()
    return CtswResource(duckdb_path=str(data / "ctsw.duckdb"), landing_dir=str(data / "landing"),
                        pseudonym_key_file=str(data / ".pseudonym.key"))


def _capacity_metadata(resource: CtswResource) -> dict:
    result = dg.materialize([capacity], resources={"ctsw": resource}, partition_key=str(WEEKS[-1].date()))
    assert result.success
    [mat] = result.asset_materializations_for_node("models__capacity_freed")
    return {k: v.value for k, v in mat.metadata.items()}


def test_capacity_skips_when_the_ai_effect_never_fitted(tmp_path):
    # A git-only source has no AI usage: models/ai_effect skips and no models schema exists yet.
    meta = _capacity_metadata(_panel_db(tmp_path / "data"))
    assert meta["as_of_week"] == str(WEEKS[-1].date())
    assert "models/ai_effect skipped" in meta["skipped"]


def test_capacity_skips_when_the_ai_effect_has_no_row_for_the_week(tmp_path):
    resource = _panel_db(tmp_path / "data")
    con = duckdb.connect(resource.duckdb_path)
    con.execute("CREATE SCHEMA models")
    con.execute("CREATE TABLE models.ai_effect_estimates AS SELECT DATE '2023-12-25' AS as_of_week, "
                "'cr_velocity' AS outcome, 'hpj' AS estimator, 'ai_usage_share' AS term, "
                "0.1 AS lr_estimate, 0.05 AS lr_std_error")
    con.close()
    assert "models/ai_effect skipped" in _capacity_metadata(resource)["skipped"]


def test_the_summary_says_why_a_model_skipped(tmp_path, monkeypatch):
    from ctsw.config import Settings
    from ctsw.runner import dagster_home
    from ctsw.summary import skip_reason

    monkeypatch.setenv("CTSW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "data" / "dagster_home"))  # restored after the test
    resource = _panel_db(tmp_path / "data")
    settings = Settings.from_env()
    assert skip_reason(settings, "capacity_freed") is None  # no run history yet
    dagster_home(settings)  # the instance ctsw's runs use
    with dg.DagsterInstance.get() as instance:
        result = dg.materialize([capacity], resources={"ctsw": resource}, partition_key=str(WEEKS[-1].date()),
                                instance=instance)
    assert result.success
    assert "models/ai_effect skipped" in skip_reason(settings, "capacity_freed")
