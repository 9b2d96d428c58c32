"""The analytics charts in Chromium: the phase view's burnup, cumulative flow and forecast and
the project's analytics page, in English and Persian; their numbers one click away, time
left to right in both languages, and no serious accessibility violation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.api.live import Caller, LiveServer
from tests.e2e.axe import severe_violations
from tests.e2e.conftest import log_in
from tests.e2e.pages_analytics import AnalyticsPage, PhaseChartsPage
from tests.web.analytics_plan import AnalyticsPlan, analytics_plan

pytestmark = pytest.mark.slow
LOCALES = ["en", "fa"]


@pytest.fixture
def plan(server: LiveServer, user: Caller) -> AnalyticsPlan:
    return analytics_plan(user, str(server.project(user, name="Analytics plan")["key"]))


@pytest.fixture(params=LOCALES)
def locale(request: pytest.FixtureRequest, user: Caller) -> str:
    chosen: str = request.param
    assert user.client.patch("/users/me", json={"locale": chosen}).status_code == 200
    return chosen


@pytest.fixture
def charts_page(browser: Browser, server: LiveServer, user: Caller, locale: str) -> Iterator[Page]:
    """A logged-in page of ``user`` in ``locale``; axe is injected as an inline script, which
    our CSP rightly refuses, so the context bypasses it."""
    context = browser.new_context(
        locale=locale, bypass_csp=True, viewport={"width": 1100, "height": 900}
    )
    yield log_in(context, server, user)
    context.close()


def _direction(page: Page, locale: str) -> None:
    html = page.locator("html")
    expect(html).to_have_attribute("lang", locale)
    expect(html).to_have_attribute("dir", "rtl" if locale == "fa" else "ltr")


def test_phase_view_charts_and_forecast(
    charts_page: Page,
    server: LiveServer,
    plan: AnalyticsPlan,
    locale: str,
    screenshots_dir: Path,
) -> None:
    page = charts_page
    phase = PhaseChartsPage(page, server.base_url).open(plan.key, 1)
    _direction(page, locale)
    for name in ("burnup", "flow"):
        chart = phase.chart(name)
        expect(chart).to_be_visible()
        expect(chart).to_have_attribute("dir", "ltr")
        expect(chart).to_have_attribute("role", "img")
    expect(phase.chart("burnup")).to_have_attribute("data-scope", "10")
    # Time runs left to right also in Persian: the first day's tick left of the last's.
    ticks = phase.chart("burnup").locator("text.chart-tick")
    first = ticks.get_by_text("1", exact=True).bounding_box()
    last = ticks.get_by_text("5", exact=True).bounding_box()
    assert first is not None
    assert last is not None
    assert first["x"] < last["x"]

    burnup = phase.show_numbers("burnup")
    expect(burnup.locator("#burnup-today td[data-done]")).to_have_text("5")
    expect(burnup.locator("#burnup-today td[data-scope]")).to_have_text("10")
    flow = phase.show_numbers("flow")
    expect(flow.locator('#flow-today td[data-status="in_progress"]')).to_have_text("2")

    rows = phase.forecast_rows(1)
    assert [row[1].split(" ")[-1] for row in rows] == ["9-10", "10-11"]
    on_track, late = page.locator("#forecast-phase-1 tbody tr").all()
    expect(on_track.locator(".forecast-on-track")).to_be_visible()
    expect(late.locator(".forecast-late")).to_have_attribute("data-weeks-late", "1")
    page.screenshot(path=screenshots_dir / f"phase-charts-{locale}.png", full_page=True)
    assert severe_violations(page) == []


def test_project_analytics_page(
    charts_page: Page,
    server: LiveServer,
    plan: AnalyticsPlan,
    locale: str,
    screenshots_dir: Path,
) -> None:
    page = charts_page
    # From the project's page, by its link.
    page.goto(f"{server.base_url}/projects/{plan.key}")
    page.locator(f'a[href="/projects/{plan.key}/analytics"]').click()
    page.wait_for_url(f"{server.base_url}/projects/{plan.key}/analytics")
    analytics = AnalyticsPage(page, server.base_url)
    _direction(page, locale)
    velocity = analytics.chart("velocity")
    expect(velocity).to_be_visible()
    expect(velocity).to_have_attribute("dir", "ltr")
    expect(velocity.locator("rect.chart-completed")).to_have_count(3)
    table = analytics.show_numbers("velocity")
    expect(table.locator("tbody tr")).to_have_count(3)
    expect(table.locator('tr[data-sprint="2"] td[data-completed]')).to_have_text("8")
    assert len(analytics.forecast_rows(1)) == 2
    expect(page.locator("#forecast-phase-2")).to_have_attribute("data-status", "done")
    assert len(analytics.downloads()) == 8
    page.screenshot(path=screenshots_dir / f"analytics-{locale}.png", full_page=True)
    assert severe_violations(page) == []


def test_a_download_link_gives_the_csv(
    charts_page: Page, server: LiveServer, plan: AnalyticsPlan, locale: str
) -> None:
    page = charts_page
    analytics = AnalyticsPage(page, server.base_url).open(plan.key)
    with page.expect_download() as started:
        page.locator(f'a[href="/api/v1/projects/{plan.key}/velocity.csv?last=6"]').click()
    download = started.value
    assert download.suggested_filename == f"{plan.key}-velocity.csv"
    lines = Path(download.path()).read_text().splitlines()
    assert lines[0] == "sprint,starts_on,ends_on,committed,completed"
    assert len(lines) == 4
    assert analytics.downloads()[0].endswith("velocity.csv?last=6")
