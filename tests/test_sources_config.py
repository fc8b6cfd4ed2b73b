"""sources.toml: good files parse into the adapters' dataclasses; bad ones fail naming the file, source and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctsw.config import Settings
from ctsw.sources.config import (
    KIND_TABLES,
    SourcesConfigError,
    load_sources,
    parse_sources,
    sources_file,
)
from ctsw.sources.exports import ExportConfig
from ctsw.sources.git import GIT_TABLES, GitSourceConfig

GOOD = """
# every kind, with adapter fields
[[sources]]
kind = "git"
repos = ["repos/shop", "/srv/mirrors/billing.git"]
org = "commerce"
architecture = "service"
annual_loaded_cost_usd = 180000          # an integer is accepted for a float field
production_tag_pattern = '^v\\d+\\.\\d+\\.\\d+$'
bot_patterns = ["\\\\[bot\\\\]", "^ci@"]
emit_commits = "all"
numstat = false
tables = ["pull_requests", "deployments", "commits", "ai_tool_usage"]
[sources.aliases]
"robert@home.example" = "bob@example.com"
[sources.team_loaded_cost_usd]
billing = 210000.5
[sources.ai_markers]
claude_code = ["noreply@anthropic\\\\.com"]

[[sources]]
name = "prs"
kind = "github_pull_requests"
path = "exports/pulls-*.json"
repo_teams = { "acme/shop" = "shop" }
people = { octocat = "bob@example.com" }

[[sources]]
kind = "github_deployments"
path = "exports/deployments.json"
statuses = ["exports/statuses.json"]
environment_map = { "github-pages" = "production" }
production_environments = ["production", "prd"]

[[sources]]
name = "devlake_deploys"
kind = "github_deployments"
payload = "devlake"
path = "/data/cicd_deployment_commits.csv"

[[sources]]
kind = "pagerduty"
path = "exports/incidents.json"
service_teams = { PIKL83L = "shop" }
default_severity = "high"

[[sources]]
kind = "opsgenie"
payload = "alerts"
path = "exports/alerts.jsonl"

[[sources]]
kind = "copilot_seats"
path = ["exports/seats/*.json"]

[[sources]]
kind = "hr_roster"
path = "hr/roster.csv"
roster_columns = { developer_id = "Work Email" }
role_map = { "Staff SWE" = "builder" }
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "conf" / "sources.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_every_kind_parses_into_its_dataclass(tmp_path):
    path = write(tmp_path, GOOD)
    specs = load_sources(path)
    assert [s.name for s in specs] == ["git", "prs", "github_deployments", "devlake_deploys", "pagerduty",
                                       "opsgenie", "copilot_seats", "hr_roster"]
    assert {s.kind for s in specs} == set(KIND_TABLES)
    git = specs[0]
    assert isinstance(git.config, GitSourceConfig)
    assert git.inputs == (path.parent / "repos/shop", Path("/srv/mirrors/billing.git"))  # relative to the file
    assert git.config.org == "commerce" and git.config.architecture == "service"
    assert git.config.annual_loaded_cost_usd == 180000.0 and isinstance(git.config.annual_loaded_cost_usd, float)
    assert git.config.production_tag_pattern == r"^v\d+\.\d+\.\d+$"
    assert git.config.bot_patterns == (r"\[bot\]", "^ci@")
    assert git.config.aliases == {"robert@home.example": "bob@example.com"}
    assert git.config.team_loaded_cost_usd == {"billing": 210000.5}
    assert git.config.ai_markers == {"claude_code": (r"noreply@anthropic\.com",)}
    assert git.config.emit_commits == "all" and git.config.numstat is False
    assert git.tables == ("pull_requests", "deployments", "commits", "ai_tool_usage")  # contract order
    assert git.file == path.resolve()
    prs = specs[1]
    assert isinstance(prs.config, ExportConfig)
    assert prs.inputs == (path.parent / "exports/pulls-*.json",)
    assert prs.config.repo_teams == {"acme/shop": "shop"} and prs.tables == ("pull_requests",)
    deploys = specs[2]
    assert deploys.payload == "github" and deploys.statuses == (path.parent / "exports/statuses.json",)
    assert deploys.config.production_environments == ("production", "prd")
    assert specs[3].payload == "devlake"
    assert specs[4].config.default_severity == "high"
    assert specs[5].payload == "alerts"
    assert specs[7].tables == ("teams", "memberships")
    assert specs[7].config.roster_columns == {"developer_id": "Work Email"}


def test_defaults_and_no_file(tmp_path, monkeypatch):
    specs = parse_sources('[[sources]]\nkind = "git"\nrepos = "."\n', tmp_path / "s.toml")
    assert specs[0].config == GitSourceConfig() and specs[0].tables == GIT_TABLES
    assert specs[0].inputs == (tmp_path / ".",)
    assert load_sources(tmp_path / "missing.toml") == []
    monkeypatch.delenv("CTSW_SOURCES_FILE", raising=False)
    monkeypatch.setenv("CTSW_DATA_DIR", str(tmp_path / "data"))
    assert sources_file(Settings.from_env()) == tmp_path / "data" / "sources.toml"
    monkeypatch.setenv("CTSW_SOURCES_FILE", str(tmp_path / "elsewhere.toml"))
    assert sources_file() == tmp_path / "elsewhere.toml"
    assert load_sources() == []  # a named file that does not exist: no sources


BAD = [
    ('[[sources]]\nkind = "gitlab"\nrepos = ["x"]\n', "source #1 'gitlab', field 'kind': 'gitlab' is not one of"),
    ('[[sources]]\nrepos = ["x"]\n', "source #1, field 'kind': missing"),
    ('[[sources]]\nkind = "git"\n', "source #1 'git' (kind git), field 'repos': missing"),
    ('[[sources]]\nkind = "pagerduty"\n', "source #1 'pagerduty' (kind pagerduty), field 'path': missing"),
    ('[[sources]]\nkind = "git"\nrepos = ["x"]\narchitechture = "trunk"\n',
     "field 'architechture': unknown field for kind git (did you mean 'architecture'?)"),
    ('[[sources]]\nkind = "git"\nrepos = ["x"]\nteam_depth = "2"\n',
     "field 'team_depth': expected an integer, got '2'"),
    ('[[sources]]\nkind = "git"\nrepos = ["x"]\nannual_loaded_cost_usd = true\n',
     "field 'annual_loaded_cost_usd': expected a number, got True"),
    ('[[sources]]\nkind = "git"\nrepos = ["x"]\nrollback_mode = "every_revert"\n',
     "field 'rollback_mode': expected one of 'pure_revert_release', 'any_revert', got 'every_revert'"),
    ('[[sources]]\nkind = "git"\nrepos = ["x"]\n[sources.aliases]\n"a@x" = 3\n',
     "field 'aliases.a@x': expected text, got 3"),
    ('[[sources]]\nkind = "git"\nrepos = ["x"]\nbot_patterns = "bot"\n',
     "field 'bot_patterns': expected a list of texts, got 'bot'"),
    ('[[sources]]\nkind = "git"\nrepos = ["x"]\narchitecture = "microservices"\n',
     "source #1 'git' (kind git): architecture 'microservices' is not one of"),
    ('[[sources]]\nkind = "pagerduty"\npath = "x"\n[sources.priority_severity]\nP1 = "sev1"\n',
     "source #1 'pagerduty' (kind pagerduty): severities ['sev1'] are not in"),
    ('[[sources]]\nkind = "git"\nrepos = ["x"]\ntables = ["pages"]\n',
     "field 'tables': ['pages'] not produced by kind git"),
    ('[[sources]]\nkind = "opsgenie"\npath = "x"\npayload = "schedules"\n',
     "field 'payload': 'schedules' is not one of ['incidents', 'alerts']"),
    ('[[sources]]\nkind = "pagerduty"\npath = "x"\nstatuses = "y"\n',
     "field 'statuses': only github_deployments takes deployment statuses"),
    ('[[sources]]\nkind = "git"\nname = "my-repos"\nrepos = ["x"]\n', "field 'name': 'my-repos' must start"),
    ('[[sources]]\nkind = "git"\nrepos = ["a"]\n[[sources]]\nkind = "git"\nrepos = ["b"]\n',
     "source #2 'git' (kind git): name 'git' is already used by source #1"),
    ('[[source]]\nkind = "git"\n', "unknown top-level key(s) ['source']"),
    ('sources = "git"\n', "`sources` must be an array of tables"),
    ('[[sources]\nkind = "git"\n', "not valid TOML"),
]


@pytest.mark.parametrize(("text", "message"), BAD, ids=[m[:40] for _, m in BAD])
def test_bad_files_name_the_file_source_and_field(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(SourcesConfigError) as e:
        load_sources(path)
    assert str(e.value).startswith(f"{path.resolve()}: "), str(e.value)
    assert message in str(e.value), str(e.value)


def test_the_documented_example_parses():
    doc = (Path(__file__).parent.parent / "docs" / "sources.md").read_text()
    example = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    specs = parse_sources(example, Path("/data/sources.toml"))
    assert [s.kind for s in specs] == ["git", "hr_roster", "github_pull_requests", "github_deployments", "pagerduty",
                                       "copilot_seats"]
    assert specs[0].config.production_tag_pattern == r"^v\d+\.\d+\.\d+$"
    assert specs[0].tables == ("pull_requests", "deployments", "commits", "ai_tool_usage")
    assert specs[3].statuses == (Path("/data/exports/deployment_statuses.json"),)
