"""Page objects of the analytics charts: the phase view's burnup, cumulative flow and forecast,
and the project's analytics page."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect


class _Charts:
    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    def chart(self, name: str) -> Locator:
        """The SVG of chart ``name`` (burnup, flow, velocity)."""
        return self.page.locator(f"svg.chart-{name}")

    def section(self, name: str) -> Locator:
        return self.page.locator(f"section#{name}")

    def show_numbers(self, name: str) -> Locator:
        """Open the numbers behind chart ``name`` and give their table."""
        section = self.section(name)
        section.locator("details > summary").click()
        table = section.locator("details table")
        expect(table).to_be_visible()
        return table

    def forecast_rows(self, phase: int) -> list[list[str]]:
        rows = self.page.locator(f"#forecast-phase-{phase} tbody tr")
        return [
            [" ".join(cell.split()) for cell in row.locator("th, td").all_inner_texts()]
            for row in rows.all()
        ]


class PhaseChartsPage(_Charts):
    def open(self, key: str, number: int) -> PhaseChartsPage:
        self.page.goto(f"{self.base_url}/projects/{key}/phases/{number}")
        return self


class AnalyticsPage(_Charts):
    def open(self, key: str) -> AnalyticsPage:
        self.page.goto(f"{self.base_url}/projects/{key}/analytics")
        return self

    def downloads(self) -> list[str]:
        links = self.page.locator("#downloads a[download]")
        return [link.get_attribute("href") or "" for link in links.all()]
