"""The burndown's SVG (web/charts.py) for hand-made burndowns: the points of its lines, the
escaping of its words, and days that have not happened yet."""

from __future__ import annotations

import re
from datetime import date, timedelta
from xml.etree import ElementTree

from plandeck.analytics.series import Burndown, BurndownDay
from plandeck.web.charts import BurndownChart

SVG = "{http://www.w3.org/2000/svg}"
WORDS = {
    "summary": "Sprint 4",
    "points_label": "Points",
    "day_label": "Day",
    "ideal_label": "Ideal",
    "remaining_label": "Remaining",
    "scope_label": "Scope",
}


def _day(
    offset: int, ideal: float, remaining: int | None = None, scope: int | None = None, **more: int
) -> BurndownDay:
    future = remaining is None
    return BurndownDay(
        day=date(2026, 3, 2) + timedelta(days=offset),
        ideal=ideal,
        remaining=remaining,
        done=None if remaining is None or scope is None else scope - remaining,
        scope=scope,
        added=None if future else more.get("added", 0),
        removed=None if future else more.get("removed", 0),
    )


def _burndown(*days: BurndownDay, committed: int = 8) -> Burndown:
    return Burndown(
        sprint_number=4,
        starts_on=days[0].day,
        ends_on=days[-1].day,
        committed=committed,
        days=days,
    )


def _svg(chart: BurndownChart, **words: str) -> ElementTree.Element:
    # The SVG is HTML here; parsed as XML it must still be well formed.
    markup = str(chart.svg(**{**WORDS, **words}))
    return ElementTree.fromstring(
        markup.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1)
    )


def _polyline(svg: ElementTree.Element, name: str) -> str:
    found = [p for p in svg.iter(f"{SVG}polyline") if p.get("class") == f"chart-{name}"]
    assert len(found) == 1
    return found[0].get("points") or ""


# Five days, 8 committed; 4 points added on day 3: x from 40 to 628 (147 a day),
# y from 206 (0) to 28 (top 12, 14.83 a point).
FIVE_DAYS = _burndown(
    _day(0, 8, remaining=8, scope=8),
    _day(1, 6, remaining=6, scope=8),
    _day(2, 4, remaining=9, scope=12, added=4),
    _day(3, 2),
    _day(4, 0),
)


class TestBurndownChart:
    def test_the_axis_reaches_a_whole_step_over_the_highest_value(self) -> None:
        assert BurndownChart(FIVE_DAYS).top == 12

    def test_the_ideal_line_runs_every_day(self) -> None:
        svg = _svg(BurndownChart(FIVE_DAYS))
        assert _polyline(svg, "ideal") == ("40,87.33 187,117 334,146.67 481,176.33 628,206")

    def test_the_remaining_line_stops_today(self) -> None:
        svg = _svg(BurndownChart(FIVE_DAYS))
        assert _polyline(svg, "remaining") == "40,87.33 187,117 334,72.5"
        assert svg.get("data-remaining") == "9"
        assert BurndownChart(FIVE_DAYS).today_remaining == 9

    def test_the_scope_line_and_a_marker_on_the_day_it_changed(self) -> None:
        svg = _svg(BurndownChart(FIVE_DAYS))
        assert _polyline(svg, "scope") == "40,87.33 187,87.33 334,28"
        markers = [c for c in svg.iter(f"{SVG}circle") if c.get("class") == "chart-scope-change"]
        assert [(c.get("cx"), c.get("cy")) for c in markers] == [("334", "28")]

    def test_ticks_for_every_day_and_every_step_of_points(self) -> None:
        svg = _svg(BurndownChart(FIVE_DAYS))
        ticks = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "chart-tick"]
        assert ticks == ["0", "3", "6", "9", "12", "1", "2", "3", "4", "5"]

    def test_it_is_an_image_named_by_its_summary_and_reads_left_to_right(self) -> None:
        svg = _svg(BurndownChart(FIVE_DAYS), summary="9 of 12 points remain")
        assert (svg.get("role"), svg.get("dir")) == ("img", "ltr")
        title = svg.find(f"{SVG}title")
        assert title is not None
        assert title.text == "9 of 12 points remain"
        assert svg.get("aria-labelledby") == title.get("id")

    def test_words_are_escaped(self) -> None:
        markup = str(
            BurndownChart(FIVE_DAYS).svg(**{**WORDS, "summary": '<script>"x"</script> & co'})
        )
        assert "<script>" not in markup
        assert "&lt;script&gt;&#34;x&#34;&lt;/script&gt; &amp; co" in markup

    def test_no_inline_style(self) -> None:
        assert "style=" not in str(BurndownChart(FIVE_DAYS).svg(**WORDS))

    def test_a_sprint_that_has_not_started_has_no_remaining_line(self) -> None:
        chart = BurndownChart(_burndown(_day(0, 8), _day(1, 0)))
        svg = _svg(chart)
        assert chart.today_remaining is None
        assert svg.get("data-remaining") == ""
        assert _polyline(svg, "remaining") == ""
        assert _polyline(svg, "ideal") == "40,28 628,206"
        assert not list(svg.iter(f"{SVG}circle"))

    def test_an_empty_sprint_still_has_an_axis(self) -> None:
        chart = BurndownChart(_burndown(_day(0, 0, remaining=0, scope=0), committed=0))
        svg = _svg(chart)
        assert chart.top == 1
        # One day sits in the middle.
        assert _polyline(svg, "remaining") == "334,206"
        assert re.fullmatch(r"[\d.]+,[\d.]+", _polyline(svg, "ideal"))
