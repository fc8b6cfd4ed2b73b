"""Export parsers against the real API payloads in /work/shared/fixtures/api-payloads (Apache DevLake fixtures)."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest

from ctsw.contract import SEVERITIES, TABLES
from ctsw.sources.exports import (
    ExportConfig,
    copilot_metrics_summary,
    extract_copilot_metrics,
    extract_copilot_seats,
    extract_devlake_deployments,
    extract_github_deployments,
    extract_github_pull_requests,
    extract_hr_roster,
    extract_opsgenie_alerts,
    extract_opsgenie_incidents,
    extract_pagerduty_incidents,
    load_payloads,
)
from ctsw.sources.landing import contract_violations, write_landing

FIXTURES = Path("/work/shared/fixtures/api-payloads")
PRS = FIXTURES / "github__raw_tables___raw_github_api_pull_requests.csv"
GQL_DEPLOYMENTS = FIXTURES / "github_graphql__raw_tables___raw_github_graphql_deployment.csv"
DEVLAKE_DEPLOYMENTS = FIXTURES / "github__snapshot_tables__cicd_deployment_commits.csv"
PAGERDUTY = FIXTURES / "pagerduty__raw_tables___raw_pagerduty_incidents.csv"
OPSGENIE = FIXTURES / "opsgenie__raw_tables___raw_opsgenie_incidents.csv"
SEATS = FIXTURES / "gh-copilot__metrics__raw_tables___raw_copilot_seats.csv"
METRICS = FIXTURES / "gh-copilot__metrics__raw_tables___raw_copilot_metrics.csv"

pytestmark = pytest.mark.skipif(not FIXTURES.is_dir(), reason="API payload fixtures not available")


def plain(values) -> list:
    return [None if pd.isna(v) else v for v in values]


def assert_contract(tables: dict[str, pd.DataFrame]) -> None:
    for name, df in tables.items():
        assert list(df.columns) == list(TABLES[name].column_names)
        assert contract_violations(name, df) == [], name


# ---- GitHub pull requests


def test_github_pull_requests():
    cfg = ExportConfig(repo_teams={"panjf2000/ants": "pool"}, people={"barryz": "barry@example.com"})
    out = extract_github_pull_requests(PRS, cfg)
    assert_contract(out)
    prs = out["pull_requests"].set_index("pr_id")
    assert len(load_payloads(PRS)) == 50 and len(prs) == 49  # PR #4 appears twice in the export
    assert set(prs.team_id) == {"pool"}
    assert prs.merged_at.notna().sum() == 26
    p4 = prs.loc["panjf2000/ants#4"]
    assert p4.author_id == "barry@example.com"
    assert (p4.created_at, p4.merged_at) == (datetime(2018, 7, 25, 8, 19, 30), datetime(2018, 7, 26, 2, 32, 41))
    p8 = prs.loc["panjf2000/ants#8"]  # closed without merging
    assert p8.author_id == "hongli-my" and pd.isna(p8.merged_at)
    assert pd.isna(prs.loc["panjf2000/ants#211", "merged_at"])  # still open
    # the list endpoint has no line counts or commit times: null, not zero
    assert prs.additions.isna().all() and prs.first_commit_at.isna().all() and prs.shipped_at.isna().all()


def test_github_pull_requests_bots_and_single_pr_shape():
    base = json.loads(pd.read_csv(PRS).data[0])
    bot = base | {"number": 999, "user": {"login": "dependabot[bot]", "type": "Bot"}}
    single = base | {"number": 998, "additions": 12, "deletions": 3}  # GET /pulls/{n} carries line counts
    prs = extract_github_pull_requests([bot, single])["pull_requests"]
    assert list(prs.pr_id) == ["panjf2000/ants#998"]
    assert (prs.additions[0], prs.deletions[0]) == (12, 3)
    assert prs.team_id[0] == "panjf2000/ants"  # no mapping: the repository's full name


# ---- GitHub deployments


def test_github_graphql_deployments():
    cfg = ExportConfig(environment_map={"github-pages": "production"}, repo_teams={"OpenBIC": "bic"})
    out = extract_github_deployments(GQL_DEPLOYMENTS, config=cfg)
    assert_contract(out)
    d = out["deployments"].set_index("deployment_id")
    assert list(d.index) == ["3881429895", "3839563910", "1670973641", "1693412381", "1696032217",
                             "1701084484", "1707033729"]  # databaseId: the same id the REST API uses
    assert set(d.team_id) == {"bic"} and set(d.service) == {"OpenBIC"} and set(d.environment) == {"production"}
    assert set(d.status) == {"succeeded"} and not d.is_rollback.any()
    assert d.loc["3881429895", "started_at"] == datetime(2026, 2, 20, 0, 30, 37)
    assert d.loc["3881429895", "finished_at"] == datetime(2026, 2, 20, 0, 30, 59)  # the SUCCESS status
    assert d.loc["3839563910", "finished_at"] == datetime(2026, 2, 14, 0, 32, 36)  # SUCCESS, later INACTIVE
    assert d.loc["1670973641", "finished_at"] is pd.NaT  # only "INACTIVE" known: succeeded, end unknown
    assert d.loc["1707033729", "finished_at"] == datetime(2024, 8, 8, 0, 18, 12)
    assert plain(d.pr_ids) == [None] * 7
    # without an environment map github-pages is not production
    raw = extract_github_deployments(GQL_DEPLOYMENTS)["deployments"]
    assert set(raw.environment) == {"github-pages"} and set(raw.team_id) == {"facebook/OpenBIC"}


def test_github_rest_deployments_and_statuses():
    deployments = [
        {"id": 11, "sha": "a" * 40, "ref": "main", "task": "deploy", "environment": "prod",
         "created_at": "2024-03-04T10:00:00Z", "updated_at": "2024-03-04T10:05:00Z",
         "repository_url": "https://api.github.com/repos/acme/shop", "production_environment": True},
        {"id": 12, "sha": "b" * 40, "environment": "staging", "created_at": "2024-03-05T10:00:00+01:00",
         "repository_url": "https://api.github.com/repos/acme/shop"},
        {"id": 13, "sha": "c" * 40, "environment": "production", "created_at": "2024-03-06T10:00:00Z",
         "repository_url": "https://api.github.com/repos/acme/shop"},
        {"id": 14, "sha": "d" * 40, "environment": "production", "created_at": "2024-03-07T10:00:00Z",
         "repository_url": "https://api.github.com/repos/acme/shop",
         "statuses": [{"state": "error", "created_at": "2024-03-07T10:02:00Z"}]},
    ]
    url = "https://api.github.com/repos/acme/shop/deployments/"
    statuses = [
        {"state": "in_progress", "created_at": "2024-03-04T10:01:00Z", "deployment_url": url + "11"},
        {"state": "success", "created_at": "2024-03-04T10:04:00Z", "deployment_url": url + "11"},
        {"state": "failure", "created_at": "2024-03-05T09:10:00Z", "deployment_url": url + "12"},
        {"state": "queued", "created_at": "2024-03-06T10:00:01Z", "deployment_url": url + "13"},
    ]
    d = extract_github_deployments(deployments, statuses, ExportConfig(repo_teams={"acme/shop": "shop"}))
    assert_contract(d)
    rows = d["deployments"][["deployment_id", "environment", "started_at", "finished_at", "status"]]
    assert [plain(r) for r in rows.values.tolist()] == [
        ["11", "production", datetime(2024, 3, 4, 10), datetime(2024, 3, 4, 10, 4), "succeeded"],
        ["12", "staging", datetime(2024, 3, 5, 9), datetime(2024, 3, 5, 9, 10), "failed"],  # +01:00 -> UTC
        ["14", "production", datetime(2024, 3, 7, 10), datetime(2024, 3, 7, 10, 2), "failed"],
    ]  # 13 is still queued: no outcome yet, left out


def test_devlake_deployment_commits_snapshot():
    out = extract_devlake_deployments(DEVLAKE_DEPLOYMENTS, ExportConfig(environment_map={"github-pages": "prod"}))
    assert_contract(out)
    d = out["deployments"].set_index("deployment_id")
    assert len(d) == 100
    assert d.status.value_counts().to_dict() == {"succeeded": 97, "failed": 3}
    row = d.loc["github:GithubDeployment:1:DE_kwDOFAKDls4-6eZm"]
    assert (row.status, row.environment) == ("failed", "production")
    assert (row.started_at, row.finished_at) == (datetime(2023, 9, 2, 0, 18, 9), datetime(2023, 9, 2, 0, 28, 21))


# ---- PagerDuty


def test_pagerduty_incidents():
    out = extract_pagerduty_incidents(PAGERDUTY, ExportConfig(service_teams={"PIKL83L": "devservice"},
                                                              people={"PQYACO3": "keon@example.com"}))
    assert_contract(out)
    p = out["pages"]
    assert [plain(r) for r in p.values.tolist()] == [
        # triggered again after acknowledgements: the first acknowledgement (log entries) counts
        ["Q3YON8WNWTZMRQ", "devservice", datetime(2022, 11, 3, 6, 23, 6), datetime(2022, 11, 3, 6, 23, 7), None,
         "high", "keon@example.com"],
        ["Q3CZAU7Q4008QD", "devservice", datetime(2022, 11, 3, 6, 44, 28), datetime(2022, 11, 3, 6, 44, 37), None,
         "high", "keon@example.com"],
        ["Q1OHFWFP3GPXOG", "devservice", datetime(2022, 11, 3, 6, 45, 36), datetime(2022, 11, 3, 6, 45, 46),
         datetime(2022, 11, 3, 6, 51, 44), "low", "keon@example.com"],
    ]


def test_pagerduty_priority_policy_and_no_log_entries():
    inc = json.loads(pd.read_csv(PAGERDUTY).data[2])
    inc.pop("log_entries")
    inc |= {"priority": {"summary": "P1", "id": "PX"}, "resolved_at": "2022-11-03T08:51:44+02:00"}
    p = extract_pagerduty_incidents([inc], ExportConfig(escalation_policy_teams={"Default": "oncall"}))["pages"]
    assert p.team_id[0] == "oncall" and p.severity[0] == "critical"
    assert p.resolved_at[0] == datetime(2022, 11, 3, 6, 51, 44)
    assert pd.isna(p.acknowledged_at[0]) and pd.isna(p.responder_id[0])  # no log entries, no acknowledgements
    # no mapping at all: the service's name
    assert extract_pagerduty_incidents([inc])["pages"].team_id[0] == "DevService"


# ---- Opsgenie


def test_opsgenie_incidents():
    cfg = ExportConfig(vendor_team_teams={"c0259fb8-2068-48c5-ae09-1b116e3579b1": "payments"})
    out = extract_opsgenie_incidents(OPSGENIE, cfg)
    assert_contract(out)
    p = out["pages"]
    assert [plain(r) for r in p.values.tolist()] == [
        ["3a74524a-f492-4172-b3f5-6041c7cb404a", "payments", datetime(2023, 9, 6, 14, 30, 56, 346000), None, None,
         "medium", "b3948a43-fee8-4adc-b7bd-3ac58919f4eb"],  # P3, still open
        ["3f84e009-7548-4e7d-832a-fa82c1ceb6b1", "payments", datetime(2023, 9, 5, 18, 20, 28, 3000), None,
         datetime(2023, 9, 5, 18, 21, 21, 490000), "info", "b3948a43-fee8-4adc-b7bd-3ac58919f4eb"],  # P5
    ]
    assert set(p.severity) <= set(SEVERITIES)


def test_opsgenie_alerts():
    alerts = {"data": [
        {"id": "70413a06-38d6-4c85-92b8-5ebc900d42e2", "tinyId": "1791", "status": "closed", "acknowledged": True,
         "createdAt": "2017-05-24T14:11:20.505Z", "priority": "P1", "owner": "morpheus@opsgenie.com",
         "teams": [{"id": "8418d193-2dab-4490-b331-8c02cdd196b7"}],
         "report": {"ackTime": 15702, "closeTime": 60503, "acknowledgedBy": "neo@opsgenie.com"}},
        {"id": "alert-2", "status": "open", "acknowledged": False, "createdAt": "2017-05-25T00:00:00Z",
         "priority": "P4", "teams": []},
    ], "took": 0.6, "requestId": "x"}
    cfg = ExportConfig(vendor_team_teams={"8418d193-2dab-4490-b331-8c02cdd196b7": "ops"}, default_team="sre")
    p = extract_opsgenie_alerts(alerts["data"], cfg)["pages"]
    assert [plain(r) for r in p.values.tolist()] == [
        ["70413a06-38d6-4c85-92b8-5ebc900d42e2", "ops", datetime(2017, 5, 24, 14, 11, 20, 505000),
         datetime(2017, 5, 24, 14, 11, 36, 207000), datetime(2017, 5, 24, 14, 12, 21, 8000), "critical",
         "neo@opsgenie.com"],
        ["alert-2", "sre", datetime(2017, 5, 25), None, None, "low", None],
    ]


# ---- GitHub Copilot


def test_copilot_seats_give_one_active_day_per_user():
    out = extract_copilot_seats(SEATS, ExportConfig(people={"nathos": "nathan@example.com"}))
    assert_contract(out)
    u = out["ai_tool_usage"]
    # 19:12 at +03:00 is 16:12 UTC, same day; octocat never used it (last_activity_at null): no row
    assert [plain(r) for r in u.values.tolist()] == [["nathan@example.com", date(2025, 11, 6), "copilot", True]]
    late = {"assignee": {"login": "owl"}, "last_activity_at": "2025-11-06T01:30:00+03:00"}
    envelope = {"total_seats": 1, "seats": [late]}
    assert extract_copilot_seats(envelope["seats"])["ai_tool_usage"].usage_date.tolist() == [date(2025, 11, 5)]


def test_copilot_metrics_have_no_per_developer_usage(tmp_path):
    out = extract_copilot_metrics(METRICS)
    assert set(out) == {"ai_tool_usage"} and out["ai_tool_usage"].empty
    s = copilot_metrics_summary(METRICS)
    assert s.day.tolist() == [date(2025, 9, 1), date(2025, 9, 2)]
    assert s.active_users.tolist() == [10, 12]
    assert s.code_generations.tolist() == [150, 200] and s.code_acceptances.tolist() == [30, 40]


# ---- HR roster


def test_hr_roster(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "Email,Team,Team Name,Department,Job Title,Start Date,End Date,Allocation,Loaded Cost\n"
        "Ann@Example.com,payments,Payments,commerce,Senior Software Engineer,2024-01-01,,100,250000\n"
        "bo@example.com,payments,Payments,commerce,Engineering Manager,2024-01-01,2024-06-30,50,\n"
        "cy@example.com,search,,,Product Designer,2024-02-15,,1,\n"
    )
    cfg = ExportConfig(roster_columns={"team_name": "Team Name", "fte": "Allocation",
                                       "annual_loaded_cost_usd": "Loaded Cost"}, org="eng")
    out = extract_hr_roster(roster, cfg)
    assert_contract(out)
    assert [plain(r) for r in out["teams"].values.tolist()] == [
        ["payments", "Payments", "commerce", "monolith", None], ["search", "search", "eng", "monolith", None]]
    m = out["memberships"]
    assert [plain(r) for r in m.values.tolist()] == [
        ["ann@example.com", "payments", "builder", date(2024, 1, 1), None, 1.0, 250000.0],
        ["bo@example.com", "payments", "manager", date(2024, 1, 1), date(2024, 6, 30), 0.5, 200000.0],
        ["cy@example.com", "search", "other", date(2024, 2, 15), None, 1.0, 200000.0],
    ]
    with pytest.raises(ValueError, match="team_id"):
        extract_hr_roster(pd.DataFrame({"email": ["x"], "start_date": ["2024-01-01"]}))


def test_exports_write_landing_files(tmp_path):
    tables = {**extract_pagerduty_incidents(PAGERDUTY), **extract_copilot_seats(SEATS)}
    written = write_landing(tables, tmp_path, source="pagerduty", name="2022-11")
    assert written["pages"] == tmp_path / "pages" / "pagerduty_2022-11.parquet"
    back = pd.read_parquet(written["pages"])
    assert list(back.columns) == list(TABLES["pages"].column_names) and len(back) == 3


def test_conform_types_lists_and_idempotence():
    from ctsw.sources.landing import conform

    df = pd.DataFrame({
        "deployment_id": ["a", "b"], "team_id": ["t", "t"], "environment": ["production"] * 2,
        "started_at": ["2024-01-02T12:00:00+02:00", datetime(2024, 1, 3)], "status": ["succeeded"] * 2,
        "is_rollback": [False, True], "manual_interventions": [0, 2], "pr_ids": [["x#1", "x#2"], None],
        "not_in_contract": [1, 2],
    })
    once = conform("deployments", df)
    assert list(once.columns) == list(TABLES["deployments"].column_names)
    assert once.started_at.tolist() == [datetime(2024, 1, 2, 10), datetime(2024, 1, 3)]  # offsets -> UTC
    assert plain(once.pr_ids) == ["x#1;x#2", None] and plain(once.finished_at) == [None, None]
    pd.testing.assert_frame_equal(conform("deployments", once), once)
