"""The HTML report on a small simulated org: every section, every image a PNG with a reading, the scope statement
true to the data, no team below the privacy minimum shown, and graceful sections when a model is missing."""

from __future__ import annotations

import base64
import re
import shutil
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest
from ui.harness import BAD_ROWS, LAST, ctsw, pipeline

from ctsw.report import build
from ctsw.report.data import load

pytestmark = pytest.mark.slow

SECTIONS = ("cts-sw", "dora", "drivers", "adoption", "ai-effect", "event-study", "capacity", "teams", "data-quality")
FIGURES = {"cts-sw", "dora", "drivers", "adoption", "ai-effect", "capacity", "coverage"}  # + event-study if fitted


class Page(HTMLParser):
    """Sections, images (with their figure), readings and the scope paragraph of a report."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.images: list[dict] = []
        self.readings: dict[str, str] = {}
        self.scope: dict[str, str] = {}
        self._figure: str | None = None
        self._reading = False
        self._in_scope = False
        self.scope_text = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.sections.append(a["id"])
        elif tag == "figure":
            self._figure = a["id"].removeprefix("fig-")
        elif tag == "img":
            self.images.append({**a, "figure": self._figure})
        elif tag == "figcaption" and "reading" in a.get("class", ""):
            self._reading = True
            self.readings[self._figure] = ""
        elif tag == "p" and a.get("id") == "scope":
            self.scope, self._in_scope = a, True

    def handle_endtag(self, tag):
        if tag == "figcaption":
            self._reading = False
        elif tag == "p":
            self._in_scope = False

    def handle_data(self, data):
        if self._reading:
            self.readings[self._figure] += data
        if self._in_scope:
            self.scope_text += data


def parse(path: Path) -> tuple[str, Page]:
    text = path.read_text(encoding="utf-8")
    page = Page()
    page.feed(text)
    return text, page


def query(db: Path, sql: str, params=()):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


@pytest.fixture(scope="module")
def run():
    return pipeline()


def test_the_report_asset_wrote_a_self_contained_report_with_every_section(run):
    text, page = parse(run.report)
    assert page.sections == list(SECTIONS)
    keys = {i["figure"] for i in page.images}
    assert FIGURES <= keys <= FIGURES | {"event-study"}
    for img in page.images:
        assert img["src"].startswith("data:image/png;base64,"), img["alt"]
        png = base64.b64decode(img["src"].split(",", 1)[1], validate=True)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR", img["alt"]
        width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
        assert width > 300 and height > 100, img["alt"]
        assert len(page.readings[img["figure"]].strip()) > 40, f"{img['figure']} has no reading"
    # self-contained: no external stylesheet, script or image
    assert not re.search(r'<(link|script)\b|src="(?!data:)', text)


def test_scope_statement_matches_the_database(run):
    _, page = parse(run.report)
    first, last, teams, orgs = query(run.db, "SELECT min(week_start), max(week_start), count(DISTINCT team_id), "
                                             "count(DISTINCT org) FROM marts.fct_team_weeks WHERE week_start <= ?",
                                     [LAST])[0]
    assert page.scope["data-as-of"] == str(LAST) == str(last)
    assert (page.scope["data-first-week"], page.scope["data-last-week"]) == (str(first), str(last))
    assert page.scope["data-teams"] == str(teams)
    assert f"As of the week of {LAST}" in page.scope_text
    assert f"10 weeks from {first} to {last}, {teams} teams in {orgs} orgs" in page.scope_text


def test_data_quality_shows_quarantined_rows_and_check_results(run):
    text, _ = parse(run.report)
    summary = re.search(r'<p id="quarantine-summary">(.*?)</p>', text).group(1)
    assert f"{BAD_ROWS} rows were quarantined" in summary and "pull_requests" in summary
    checks = re.search(r'<p id="checks-summary"[^>]*>(.*?)</p>', text).group(1)
    assert "asset checks have results" in checks


def test_readings_quote_the_numbers_they_describe(run):
    _, page = parse(run.report)
    total = query(run.db, "SELECT capacity_freed_engineering_years FROM models.capacity_freed "
                          "WHERE scope = 'total' AND as_of_week = ?", [LAST])[0][0]
    assert f"about {total:.1f} engineering-years" in page.readings["capacity"]
    top = query(run.db, "SELECT pct_change FROM models.driver_sensitivity WHERE as_of_week = ? AND rank = 1",
                [LAST])[0][0]
    assert f"{top:+.1f}% CTS-SW" in page.readings["drivers"]


def test_no_team_below_the_privacy_minimum_appears(run, tmp_path):
    minimum = 5
    out = tmp_path / "report.html"
    proc = ctsw(run.env, "report", "--out", str(out), "--min-team-builders", str(minimum))
    assert proc.returncode == 0, proc.stderr
    assert f"report written to {out}" in proc.stdout
    rows = query(run.db, "SELECT team_id, min(builders) FROM marts.fct_team_weeks WHERE week_start <= ? GROUP BY 1",
                 [LAST])
    hidden = {t for t, b in rows if b < minimum}
    shown = {t for t, b in rows if b >= minimum}
    assert hidden and shown, "the simulated org should have teams on both sides of the minimum"
    text = re.sub(r'src="data:image/png;base64,[^"]*"', "", out.read_text(encoding="utf-8"))
    for team in hidden:
        assert team not in text, f"{team} has fewer than {minimum} builders but appears in the report"
    assert any(team in text for team in shown)
    assert f"{len(hidden)} team(s) had fewer than {minimum} builders" in text


def test_missing_models_leave_their_sections_with_a_note(run, tmp_path):
    db = tmp_path / "copy.duckdb"
    shutil.copy(run.db, db)
    with duckdb.connect(str(db)) as con:
        con.execute("DROP SCHEMA models CASCADE")
    with duckdb.connect(str(db), read_only=True) as con:
        report = build(con, tmp_path / "r.html", tmp_path, as_of=LAST, min_builders=3)
    text, page = parse(report.path)
    assert page.sections == list(SECTIONS)
    assert {i["figure"] for i in page.images} == {"cts-sw", "dora", "adoption", "coverage"}
    assert "No AI-effect estimates for this as-of week" in text
    assert "No event study for this as-of week" in text
    assert report.data.notes and "at least 8 weeks" in report.data.notes[0]


def test_report_data_for_an_earlier_as_of_week_uses_nothing_after_it(run):
    with duckdb.connect(str(run.db), read_only=True) as con:
        data = load(con, as_of=date(2024, 2, 12), min_builders=3)
    assert data.as_of == data.last_week == date(2024, 2, 12) and data.effects.empty
    assert data.team_weeks["week_start"].max().date() <= data.as_of
