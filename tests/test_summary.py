"""The terminal summary's CTS-SW trend: a ratio of sums per quarter that tells 'not measured' from 'none delivered'."""

import duckdb
import pandas as pd

from ctsw.summary import trend


def test_trend_is_a_ratio_of_sums_and_names_quarters_without_units():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA marts")
    con.register("p", pd.DataFrame({
        "team_id": ["a", "b", "a", "c"],
        "week_start": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-04-01", "2024-01-01"]),
        "delivery_unit": ["pull_request", "pull_request", "pull_request", "commit"],
        "dev_cost_usd": [3000.0, 1000.0, 500.0, 700.0],
        "units_delivered": [1.0, 3.0, 0.0, 2.0],
        "prs_merged": [1, 3, 0, 0], "builder_fte": [1.0, 1.0, 1.0, 1.0],
        "ai_active_builders": [0, 0, 0, 0], "builders": [1, 1, 1, 1],
    }))
    con.execute("CREATE TABLE marts.fct_team_weeks AS SELECT * FROM p")
    got = trend(con).set_index(["delivery_unit", "quarter"])["cts_sw_usd"]
    assert got[("pull_request", "2024-Q1")] == 1000.0  # (3000 + 1000) / (1 + 3), not the mean of 3000 and 333
    assert got[("pull_request", "2024-Q2")] == "no units"
    assert got[("commit", "2024-Q1")] == 350.0
    unmeasured = trend(con, unavailable=["commits shipped"]).set_index(["delivery_unit", "quarter"])["cts_sw_usd"]
    assert unmeasured[("commit", "2024-Q1")] == "n/a"
    assert unmeasured[("pull_request", "2024-Q1")] == 1000.0
