"""The analytics pages over HTTP (real server): the phase view's burnup, cumulative flow and
forecast, the project's analytics page (velocity, forecasts, CSV downloads), both in English
and Persian, and what a phase or project without the history shows instead."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from tests.api.live import Caller, LiveServer
from tests.web.analytics_plan import AnalyticsPlan, analytics_plan

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def owner(live: LiveServer) -> Iterator[Caller]:
    opened_before = len(live._clients)
    caller = live.signup("analyst")
    # The module's clients live as long as the module, not one test.
    mine = live._clients[opened_before:]
    del live._clients[opened_before:]
    yield caller
    for client in mine:
        client.close()


@pytest.fixture(scope="module")
def plan(live: LiveServer, owner: Caller) -> AnalyticsPlan:
    return analytics_plan(owner, str(live.project(owner)["key"]))


@pytest.fixture(autouse=True)
def _same_day(request: pytest.FixtureRequest) -> None:
    if "plan" in request.fixturenames:
        made: AnalyticsPlan = request.getfixturevalue("plan")
        if datetime.now(UTC).date() != made.today:
            pytest.skip("the day changed (UTC midnight) since the events were written")


def _svg(page: str, name: str) -> str:
    found = re.search(rf'<svg class="chart chart-{name}".*?</svg>', page, re.S)
    assert found, f"the page has no {name} chart"
    return found.group(0)


def _cells(page: str, row_id: str) -> list[str]:
    found = re.search(rf'<tr id="{row_id}">(.*?)</tr>', page, re.S)
    assert found, f"no row {row_id}"
    return [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<t[hd][^>]*>.*?</t[hd]>", found.group(1), re.S)
    ]


_CELL = r"<t[hd][^>]*>(.*?)</t[hd]>"


def _forecast_rows(page: str, ident: str) -> list[list[str]]:
    found = re.search(rf'<div class="forecast" id="{ident}".*?</div>', page, re.S)
    assert found, f"no forecast {ident}"
    return [
        [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in re.findall(_CELL, row, re.S)]
        for row in re.findall(r"<tr data-percentile[^>]*>(.*?)</tr>", found.group(0), re.S)
    ]


def _page(live: LiveServer, caller: Caller, path: str) -> httpx.Response:
    page = live.browser_for(caller).get(path, headers={"Accept": "text/html"})
    assert page.status_code == 200, page.text
    return page


class TestPhaseCharts:
    def test_burnup_shows_done_against_scope_today(
        self, live: LiveServer, owner: Caller, plan: AnalyticsPlan
    ) -> None:
        page = _page(live, owner, f"/projects/{plan.key}/phases/1").text
        svg = _svg(page, "burnup")
        assert 'role="img"' in svg
        assert 'dir="ltr"' in svg
        assert 'data-done="5" data-scope="10"' in svg
        assert "5 of 10 points done today." in svg
        assert "<desc " in svg
        day, _date, done, scope, remaining = _cells(page, "burnup-today")
        assert (day, done, scope, remaining) == ("1", "5", "10", "5")

    def test_cumulative_flow_stacks_the_points_of_each_status(
        self, live: LiveServer, owner: Caller, plan: AnalyticsPlan
    ) -> None:
        page = _page(live, owner, f"/projects/{plan.key}/phases/1").text
        svg = _svg(page, "flow")
        # Bottom to top, done first; every status has its band.
        assert re.findall(r'data-status="(\w+)"', svg) == [
            "done",
            "review",
            "in_progress",
            "approved",
            "draft",
            "blocked",
        ]
        # Workflow order in the table: draft, approved, in progress, review, done, blocked.
        cells = _cells(page, "flow-today")
        assert cells[0] == "1"
        assert cells[2:] == ["3", "0", "2", "0", "5", "0", "10"]
        header = re.search(r'<table id="flow-numbers">.*?</thead>', page, re.S)
        assert header
        assert re.findall(r'<th scope="col">([^<]+)</th>', header.group(0)) == [
            "Day",
            "Date",
            "Draft",
            "Approved",
            "In progress",
            "Review",
            "Done",
            "Blocked",
            "Total",
        ]

    def test_forecast_against_the_plans_weeks(
        self, live: LiveServer, owner: Caller, plan: AnalyticsPlan
    ) -> None:
        page = _page(live, owner, f"/projects/{plan.key}/phases/1").text
        assert "5 points remain." in page
        assert "(8, 4, 6)" in page
        p50, p85 = _forecast_rows(page, "forecast-phase-1")
        assert p50[0] == "50% likely (P50)"
        assert p50[1] == "Sprint 5 · weeks 9-10"
        assert p50[3] == "On track"
        assert p85[0] == "85% likely (P85)"
        assert p85[1] == "Sprint 6 · weeks 10-11"
        assert p85[3] == "Late by 1 week"
        assert 'The plan: the phase ends with sprint 5, weeks <bdi dir="ltr">9-10</bdi>.' in page

    def test_a_phase_without_dates_gets_a_note_and_still_a_forecast(
        self, live: LiveServer, owner: Caller, plan: AnalyticsPlan
    ) -> None:
        page = _page(live, owner, f"/projects/{plan.key}/phases/2").text
        assert 'id="phase-charts-none"' in page
        assert "start and end dates to see its burnup and cumulative flow" in page
        assert "chart-burnup" not in page
        assert "chart-flow" not in page
        assert 'data-status="done"' in page  # nothing remains in phase 2
        assert "Nothing remains to be done in this phase." in page

    def test_the_page_links_the_charts_stylesheet_and_no_new_script(
        self, live: LiveServer, owner: Caller, plan: AnalyticsPlan
    ) -> None:
        page = _page(live, owner, f"/projects/{plan.key}/phases/1")
        assert re.search(
            r'<link rel="stylesheet" href="/static/charts\.[0-9a-f]{10}\.css">', page.text
        )
        assert "style=" not in page.text
        scripts = re.findall(r'<script src="/static/([^"]+)"', page.text)
        assert [re.sub(r"\.[0-9a-f]{10}\.", ".", name) for name in scripts] == [
            "vendor/htmx.min.js",
            "plandeck.js",
        ]


class TestAnalyticsPage:
    def test_velocity_with_mean_and_spread(
        self, live: LiveServer, owner: Caller, plan: AnalyticsPlan
    ) -> None:
        page = _page(live, owner, f"/projects/{plan.key}/analytics").text
        svg = _svg(page, "velocity")
        assert 'data-sprints="3" data-mean="6"' in svg
        assert re.findall(r'class="chart-completed" data-sprint="(\d+)"', svg) == ["2", "3", "4"]
        assert (
            "Mean: 6 points completed per sprint; spread (standard deviation): 1.6; "
            "over the last 3 finished sprints (at most 6)."
        ) in page
        rows = re.findall(r'<tr data-sprint="(\d+)">(.*?)</tr>', page, re.S)
        numbers = {
            sprint: [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<t[hd][^>]*>.*?</t[hd]>", row)]
            for sprint, row in rows
        }
        assert [numbers[s][3:] for s in ("2", "3", "4")] == [["10", "8"], ["4", "4"], ["6", "6"]]

    def test_each_phases_forecast(
        self, live: LiveServer, owner: Caller, plan: AnalyticsPlan
    ) -> None:
        page = _page(live, owner, f"/projects/{plan.key}/analytics").text
        assert [row[3] for row in _forecast_rows(page, "forecast-phase-1")] == [
            "On track",
            "Late by 1 week",
        ]
        assert re.search(r'id="forecast-phase-2" data-status="done"', page)
        assert f'href="/projects/{plan.key}/phases/2"' in page

    def test_csv_downloads_open_with_the_browser_session(
        self, live: LiveServer, owner: Caller, plan: AnalyticsPlan
    ) -> None:
        browser = live.browser_for(owner)
        page = browser.get(f"/projects/{plan.key}/analytics").text
        links = re.findall(r'<a href="(/api/v1/[^"]+\.csv[^"]*)" download>', page)
        api = f"/api/v1/projects/{plan.key}"
        assert links == [
            f"{api}/velocity.csv?last=6",
            f"{api}/phases/1/cumulative-flow.csv",
            f"{api}/phases/1/forecast.csv",
            # Phase 2 has no dated sprint: no cumulative flow to download.
            f"{api}/phases/2/forecast.csv",
            f"{api}/sprints/1/burndown.csv",
            f"{api}/sprints/2/burndown.csv",
            f"{api}/sprints/3/burndown.csv",
            f"{api}/sprints/4/burndown.csv",
        ]
        for link in links:
            download = browser.get(link)
            assert download.status_code == 200, (link, download.text)
            assert download.headers["content-type"] == "text/csv; charset=utf-8"
        assert browser.get(links[0]).text.splitlines()[1:] == [
            f"2,{plan.today},{plan.today},10,8",
            f"3,{plan.today},{plan.today},4,4",
            f"4,{plan.today},{plan.today},6,6",
        ]

    def test_the_projects_page_links_it(
        self, live: LiveServer, owner: Caller, plan: AnalyticsPlan
    ) -> None:
        page = _page(live, owner, f"/projects/{plan.key}").text
        assert f'<a href="/projects/{plan.key}/analytics">Analytics</a>' in page

    def test_a_project_without_history(self, live: LiveServer, alice: Caller) -> None:
        key = live.project(alice)["key"]
        created = alice.client.post(f"/projects/{key}/phases", json={"number": 1, "title": "One"})
        assert created.status_code == 201, created.text
        page = _page(live, alice, f"/projects/{key}/analytics").text
        assert 'id="velocity-none"' in page
        assert "chart-velocity" not in page
        assert "Not enough history for a forecast: 0 finished sprints with dates" in page
        assert "The plan gives this phase no sprint to end by." in page

    def test_a_stranger_gets_not_found(self, live: LiveServer, plan: AnalyticsPlan) -> None:
        stranger = live.browser_for(live.signup("stranger"))
        page = stranger.get(f"/projects/{plan.key}/analytics", headers={"Accept": "text/html"})
        assert page.status_code == 404
        assert "Build" not in page.text

    def test_a_visitor_must_log_in(self, live: LiveServer, plan: AnalyticsPlan) -> None:
        page = live.browser().get(f"/projects/{plan.key}/analytics")
        assert page.status_code == 303
        assert page.headers["location"] == f"/login?next=/projects/{plan.key}/analytics"


class TestInPersian:
    @pytest.fixture
    def persian(
        self, live: LiveServer, owner: Caller, plan: AnalyticsPlan
    ) -> Iterator[httpx.Client]:
        assert owner.client.patch("/users/me", json={"locale": "fa"}).status_code == 200
        yield live.browser_for(owner)
        assert owner.client.patch("/users/me", json={"locale": "en"}).status_code == 200

    def test_phase_charts_are_right_to_left_around_left_to_right_charts(
        self, persian: httpx.Client, plan: AnalyticsPlan
    ) -> None:
        page = persian.get(f"/projects/{plan.key}/phases/1").text
        assert '<html lang="fa" dir="rtl">' in page
        for name in ("burnup", "flow"):
            assert 'dir="ltr"' in _svg(page, name)
        assert "Burnup" not in page
        # The date column in Jalali, with Persian digits.
        date_cell = _cells(page, "burnup-today")[1]
        assert re.fullmatch(r"[۰-۹]{4}/[۰-۹]{2}/[۰-۹]{2}", date_cell)

    def test_analytics_page(self, persian: httpx.Client, plan: AnalyticsPlan) -> None:
        page = persian.get(f"/projects/{plan.key}/analytics").text
        assert '<html lang="fa" dir="rtl">' in page
        assert 'dir="ltr"' in _svg(page, "velocity")
        for english in ("Velocity", "Forecasts", "On track", "Late by 1 week", "Downloads"):
            assert english not in page
