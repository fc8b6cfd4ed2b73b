"""As a user sees it: `dagster dev` on a free local port over a materialised simulated org, checked through its
GraphQL endpoint, then in headless Chromium (the panel asset's page and the HTML report). Screenshots go to
docs/img/ for the README."""

from __future__ import annotations

import time

import pytest
from ui.harness import FIRST, IMG, LAST, browser, pipeline, start_dagster_dev

pytestmark = pytest.mark.slow

PANEL = ["marts", "fct_team_weeks"]


@pytest.fixture(scope="module")
def server():
    s = start_dagster_dev(pipeline())
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def chrome():
    driver = browser()
    try:
        yield driver
    finally:
        driver.quit()


def test_asset_graph_groups_owners_and_kinds(server):
    nodes = server.graphql("{ assetNodes { assetKey { path } groupName isPartitioned kinds "
                           "owners { ... on TeamAssetOwner { team } } } }")["assetNodes"]
    by_key = {"/".join(n["assetKey"]["path"]): n for n in nodes}
    assert {"raw", "staging", "intermediate", "marts", "models", "report"} <= {n["groupName"] for n in nodes}
    for key in ("raw/pull_requests", "marts/fct_team_weeks", "models/ai_effect", "report/ctsw_report"):
        assert key in by_key, key
        assert by_key[key]["owners"] == [{"team": "devex"}], key
    assert {"dbt", "duckdb"} <= set(by_key["marts/fct_team_weeks"]["kinds"])
    assert by_key["report/ctsw_report"]["isPartitioned"]


def test_panel_partitions_checks_and_freshness(server):
    node = server.graphql("""query($k: AssetKeyInput!) { assetNodeOrError(assetKey: $k) { ... on AssetNode {
        partitionKeys
        assetPartitionStatuses { ... on TimePartitionStatuses { ranges { status startKey endKey } } }
        assetChecksOrError { ... on AssetChecks { checks { name blocking } } }
        freshnessPolicy: internalFreshnessPolicy { __typename ... on CronFreshnessPolicy { deadlineCron timezone } }
    } } }""", {"k": {"path": PANEL}})["assetNodeOrError"]
    assert node["partitionKeys"][0] == str(FIRST)
    assert node["assetPartitionStatuses"]["ranges"] == [
        {"status": "MATERIALIZED", "startKey": str(FIRST), "endKey": str(LAST)}]
    checks = {c["name"]: c["blocking"] for c in node["assetChecksOrError"]["checks"]}
    assert checks["great_expectations_panel_suite"] is True
    assert any(n.startswith("not_null_fct_team_weeks") for n in checks)
    assert node["freshnessPolicy"] == {"__typename": "CronFreshnessPolicy", "deadlineCron": "0 12 * * 2",
                                       "timezone": "UTC"}


def test_schedule_and_sensor_are_there(server):
    repos = server.graphql("{ repositoriesOrError { ... on RepositoryConnection { nodes { "
                           "schedules { name cronSchedule executionTimezone } sensors { name } } } } }")
    [repo] = repos["repositoriesOrError"]["nodes"]
    assert {"name": "ctsw_weekly_schedule", "cronSchedule": "0 6 * * 2", "executionTimezone": "UTC"} in \
        repo["schedules"]
    assert {"name": "ctsw_landing_sensor"} in repo["sensors"]


def _dismiss_popups(chrome) -> None:
    for button in chrome.find_elements("xpath", "//button[normalize-space()='Skip' or normalize-space()='Dismiss']"):
        try:
            button.click()
        except Exception:  # noqa: BLE001 - a popup that went away by itself is fine
            pass


def _wait_for(chrome, text: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = chrome.find_element("tag name", "body").text
        if text in body:
            return body
        time.sleep(0.5)
    raise AssertionError(f"{text!r} not on the page within {timeout}s: {body[:2000]}")


def test_panel_asset_page_in_the_browser(server, chrome):
    chrome.set_window_size(1400, 1000)
    chrome.get(f"{server.url}/assets/{'/'.join(PANEL)}")
    _wait_for(chrome, "Latest materialization")
    body = _wait_for(chrome, "ctsw_weekly")  # the job, in the definition panel
    time.sleep(1)
    _dismiss_popups(chrome)
    time.sleep(1)
    assert "fct_team_weeks" in body and "Columns" in body
    IMG.mkdir(parents=True, exist_ok=True)
    chrome.save_screenshot(str(IMG / "ui-panel.png"))


def test_report_renders_every_plot_in_the_browser(chrome):
    report = pipeline().report
    chrome.set_window_size(1200, 1000)
    chrome.get(report.as_uri())
    _wait_for(chrome, "Data quality")
    images = chrome.execute_script(
        "return Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight])")
    assert len(images) >= 7
    for alt, complete, width, height in images:
        assert complete and width > 0 and height > 0, f"{alt} did not render"
    IMG.mkdir(parents=True, exist_ok=True)
    chrome.set_window_size(1200, 1800)
    time.sleep(0.5)
    chrome.save_screenshot(str(IMG / "report.png"))
