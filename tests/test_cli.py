"""`ctsw` as a user meets it: help, exit codes (0 ok, 1 failed, 2 usage or configuration) and messages that say
what to do."""

from __future__ import annotations

import subprocess

import pytest
from ui.harness import BAD_ROWS, LAST, ROOT, ctsw, env_for, pipeline

from ctsw.cli import build_parser

SUBCOMMANDS = ("simulate", "run", "report", "status", "doctor", "summary", "demo")


@pytest.fixture()
def empty(tmp_path):
    return env_for(tmp_path / "data")


def test_every_subcommand_has_help():
    parser = build_parser()
    names = set(parser._subparsers._group_actions[0].choices)
    assert set(SUBCOMMANDS) <= names
    for name in SUBCOMMANDS:
        with pytest.raises(SystemExit) as exit_:
            parser.parse_args([name, "--help"])
        assert exit_.value.code == 0


def test_top_level_help_explains_exit_codes(empty):
    proc = ctsw(empty, "--help")
    assert proc.returncode == 0
    assert "Exit codes: 0 ok, 1 a run failed" in proc.stdout and "ctsw doctor" in proc.stdout


@pytest.mark.parametrize("args,message", [
    (("run", "--from", "2024-01-03"), "is a Wednesday; weeks start on Monday"),
    (("run", "--from", "next week"), "is not a date"),
    (("report", "--as-of", "2024-13-01"), "is not a date"),
    (("simulate", "--teams", "0"), "must be at least 1"),
    (("frobnicate",), "invalid choice"),
    ((), "required"),
])
def test_usage_errors_exit_2_with_argparse_message(empty, args, message):
    proc = ctsw(empty, *args)
    assert proc.returncode == 2
    assert message in proc.stderr


def test_run_without_landing_folder_says_what_to_do(empty):
    proc = ctsw(empty, "run")
    assert proc.returncode == 2
    assert "does not exist; run `ctsw simulate`" in proc.stderr and "CTSW_LANDING_DIR" in proc.stderr


def test_run_with_range_backwards_is_a_usage_error(empty):
    proc = ctsw(empty, "run", "--from", "2024-02-05", "--to", "2024-01-01")
    assert proc.returncode == 2 and "is before --from" in proc.stderr


def test_report_and_status_without_a_database(empty):
    for cmd in ("report", "status"):
        proc = ctsw(empty, cmd)
        assert proc.returncode == 2, cmd
        assert "ctsw.duckdb does not exist" in proc.stderr and "ctsw run" in proc.stderr


def test_bad_configuration_is_exit_2_naming_the_variable(empty):
    proc = ctsw({**empty, "CTSW_LOOKBACK_WEEKS": "two"}, "run", "--from", "2024-01-01", "--to", "2024-01-01")
    assert proc.returncode == 2
    assert "CTSW_LOOKBACK_WEEKS='two'" in proc.stderr and "ctsw doctor" in proc.stderr


def test_a_failed_run_exits_1_and_names_the_failed_step(tmp_path):
    env = env_for(tmp_path / "data")
    (tmp_path / "not-a-dir").write_text("")
    env["CTSW_DUCKDB_PATH"] = str(tmp_path / "not-a-dir" / "ctsw.duckdb")  # cannot be created: every writer fails
    proc = ctsw(env, "run", "--from", "2024-01-01", "--to", "2024-01-01")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAILED load_teams" in proc.stdout and "error:" in proc.stdout
    assert "run of weeks 2024-01-01..2024-01-01 FAILED" in proc.stdout and "ctsw status" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr  # the trace is in the log file, not the terminal


def test_doctor_on_a_fresh_folder_says_what_to_fix(empty):
    proc = ctsw(empty, "doctor")
    assert proc.returncode == 2
    assert "[FAIL] landing folder" in proc.stdout and "-> run `ctsw simulate`" in proc.stdout
    assert "[  ok] dagster" in proc.stdout and "[  ok] Dagster definitions" in proc.stdout
    assert "1 problem(s)" in proc.stdout


def test_run_sh_keeps_the_dagster_home_inside_an_absolute_data_dir(empty, tmp_path):
    """`CTSW_DATA_DIR=/abs/path bash run.sh ...` must not put the run history under <project>/abs/path."""
    env = {k: v for k, v in empty.items() if k != "DAGSTER_HOME"}
    proc = subprocess.run(["bash", "run.sh", "ctsw", "doctor"], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert f"DAGSTER_HOME={tmp_path / 'data' / 'dagster_home'}" in proc.stdout, proc.stdout + proc.stderr


def test_doctor_flags_a_bad_setting(empty):
    proc = ctsw({**empty, "CTSW_MIN_TEAM_BUILDERS": "three"}, "doctor")
    assert proc.returncode == 2 and "CTSW_MIN_TEAM_BUILDERS" in proc.stdout


@pytest.mark.slow
def test_doctor_and_status_after_a_run():
    run = pipeline()
    doctor = ctsw(run.env, "doctor")
    assert doctor.returncode == 0, doctor.stdout
    assert "ctsw is ready" in doctor.stdout and "landing weeks" in doctor.stdout
    status = ctsw(run.env, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    out = status.stdout
    assert f"last materialised week (Dagster): {LAST}" in out
    assert f"models:   as of {LAST}" in out
    assert f"quarantine: {BAD_ROWS} rows (pull_requests {BAD_ROWS})" in out
    assert "none failing" in out and "last run: SUCCESS" in out
    assert f"ctsw-report-{LAST}.html" in out
