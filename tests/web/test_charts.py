"""The charts' SVG (web/charts.py) for hand-made series: the sprint burndown, the phase's
burnup and cumulative flow, and the velocity: the points of their lines, bands and bars, the
escaping of their words, and days that have not happened yet."""

from __future__ import annotations

import re
from datetime import date, timedelta
from xml.etree import ElementTree

import pytest

from plandeck.analytics.series import (
    Burndown,
    BurndownDay,
    CumulativeFlow,
    FlowDay,
    SprintVelocity,
    Velocity,
)
from plandeck.models import StoryStatus
from plandeck.web.charts import FLOW_STACK, BurndownChart, BurnupChart, FlowChart, VelocityChart

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


# The phase's charts: a phase of four days (March 2 to 5) on its second day. Slots of 147
# px: days at x 113.5, 260.5, 407.5, 554.5; the axis' top is 9 (3 a step), so y is
# 28 + 178 * (1 - points / 9).
def _flow_day(offset: int, **points: int) -> FlowDay:
    counts = {status: points.get(status.value, 0) for status in StoryStatus}
    return FlowDay(date(2026, 3, 2) + timedelta(days=offset), counts, dict(counts))


FLOW = CumulativeFlow(
    phase_id=1,
    first=date(2026, 3, 2),
    last=date(2026, 3, 5),
    days=(
        _flow_day(0, done=2, draft=4, in_progress=2),
        _flow_day(1, done=5, draft=1, in_progress=2, blocked=1),
    ),
)
PHASE_WORDS = {
    "summary": "Phase 1",
    "description": "Per day",
    "points_label": "Points",
    "day_label": "Day",
}


def _phase_svg(chart: BurnupChart | FlowChart) -> ElementTree.Element:
    markup = str(chart.svg(**PHASE_WORDS))
    return ElementTree.fromstring(
        markup.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1)
    )


class TestBurnupChart:
    def test_scope_and_done_per_day_from_the_flow(self) -> None:
        chart = BurnupChart(FLOW)
        assert [(d.scope, d.done) for d in chart.days] == [(8, 2), (9, 5)]
        assert chart.today is not None
        assert (chart.today.scope, chart.today.done) == (9, 5)
        assert chart.top == 9

    def test_the_lines_run_through_the_middle_of_each_days_slot(self) -> None:
        svg = _phase_svg(BurnupChart(FLOW))
        assert _polyline(svg, "scope") == "113.5,47.78 260.5,28"
        assert _polyline(svg, "done") == "113.5,166.44 260.5,107.11"
        # Today's values marked; the whole phase on the axis, a tick per day.
        marks = [(c.get("class"), c.get("cy")) for c in svg.iter(f"{SVG}circle")]
        assert marks == [("chart-scope-today", "28"), ("chart-done-today", "107.11")]
        ticks = [t.get("x") for t in svg.iter(f"{SVG}text") if t.get("class") == "chart-tick"]
        assert ticks[-4:] == ["113.5", "260.5", "407.5", "554.5"]

    def test_it_is_named_and_described_and_reads_left_to_right(self) -> None:
        svg = _phase_svg(BurnupChart(FLOW))
        assert (svg.get("role"), svg.get("dir")) == ("img", "ltr")
        assert (svg.get("data-done"), svg.get("data-scope")) == ("5", "9")
        title, desc = svg.find(f"{SVG}title"), svg.find(f"{SVG}desc")
        assert title is not None
        assert desc is not None
        assert (title.text, desc.text) == ("Phase 1", "Per day")
        assert svg.get("aria-labelledby") == title.get("id")
        assert svg.get("aria-describedby") == desc.get("id")

    def test_a_phase_that_has_not_started(self) -> None:
        chart = BurnupChart(CumulativeFlow(1, date(2026, 3, 2), date(2026, 3, 5), ()))
        svg = _phase_svg(chart)
        assert chart.today is None
        assert chart.top == 1
        assert (svg.get("data-done"), svg.get("data-scope")) == ("", "")
        assert _polyline(svg, "done") == ""
        assert not list(svg.iter(f"{SVG}circle"))

    def test_no_inline_style_and_words_escaped(self) -> None:
        markup = str(BurnupChart(FLOW).svg(**{**PHASE_WORDS, "summary": "<b>&"}))
        assert "style=" not in markup
        assert "&lt;b&gt;&amp;" in markup


class TestFlowChart:
    def test_bands_stack_from_done_up_to_blocked(self) -> None:
        chart = FlowChart(FLOW)
        assert [status for status, _ in chart.bands()] == list(FLOW_STACK)
        assert FLOW_STACK[0] is StoryStatus.DONE
        assert set(FLOW_STACK) == set(StoryStatus)

    def test_a_band_runs_half_a_day_beyond_the_first_and_last_day(self) -> None:
        bands = dict(FlowChart(FLOW).bands())
        # Done: 2 then 5 points, on the axis (y 206).
        assert bands[StoryStatus.DONE] == (
            "40,166.44 113.5,166.44 260.5,107.11 334,107.11 334,206 260.5,206 113.5,206 40,206"
        )
        # The top band's upper edge is the day's total: 8, then 9.
        top = bands[StoryStatus.BLOCKED].split()
        assert top[:4] == ["40,47.78", "113.5,47.78", "260.5,28", "334,28"]

    def test_a_single_day_is_a_bar(self) -> None:
        flow = CumulativeFlow(1, FLOW.first, FLOW.last, FLOW.days[:1])
        bands = dict(FlowChart(flow).bands())
        # Top 8 (2 a step): 2 done points reach y 161.5.
        assert bands[StoryStatus.DONE] == "40,161.5 113.5,161.5 187,161.5 187,206 113.5,206 40,206"

    def test_the_svg_has_a_polygon_per_status_and_a_legend_in_workflow_order(self) -> None:
        chart = FlowChart(FLOW)
        svg = _phase_svg(chart)
        polygons = [p.get("data-status") for p in svg.iter(f"{SVG}polygon")]
        assert polygons == [s.value for s in FLOW_STACK]
        legend = str(chart.legend({s: s.value.upper() for s in StoryStatus}))
        assert re.findall(r"</svg>(\w+)</li>", legend) == [s.value.upper() for s in StoryStatus]
        assert 'aria-hidden="true"' in legend
        assert "style=" not in legend + str(chart.svg(**PHASE_WORDS))

    def test_before_the_phase_starts_there_are_no_bands(self) -> None:
        assert FlowChart(CumulativeFlow(1, FLOW.first, FLOW.last, ())).bands() == []


# Three sprints: committed 10, 4, 6; completed 8, 4, 6 (mean 6, spread 1.63). The top is 12
# (3 a step): y = 28 + 178 * (1 - points / 12). Slots of 196 px: pairs centred on x 138,
# 334 and 530, bars 32 px wide.
def _sprint(number: int, committed: int, completed: int) -> SprintVelocity:
    day = date(2026, 3, number)
    return SprintVelocity(number, number, day, day, committed, completed)


VELOCITY = Velocity(
    sprints=(_sprint(2, 10, 8), _sprint(3, 4, 4), _sprint(4, 6, 6)),
    mean=6.0,
    stdev=1.632993161855452,
)
VELOCITY_WORDS = {
    "summary": "Velocity",
    "description": "Per sprint",
    "points_label": "Points",
    "sprint_label": "Sprint",
}


def _velocity_svg(chart: VelocityChart) -> ElementTree.Element:
    markup = str(chart.svg(**VELOCITY_WORDS))
    return ElementTree.fromstring(
        markup.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1)
    )


class TestVelocityChart:
    def test_committed_and_completed_side_by_side(self) -> None:
        chart = VelocityChart(VELOCITY)
        assert chart.top == 12
        assert chart.bars()[:2] == [
            ("committed", 2, 106, pytest.approx(57.667, abs=1e-3), pytest.approx(148.333, 1e-3)),
            ("completed", 2, 138, pytest.approx(87.333, abs=1e-3), pytest.approx(118.667, 1e-3)),
        ]
        svg = _velocity_svg(chart)
        rects = [
            (r.get("class"), r.get("data-sprint"), r.get("x"), r.get("height"))
            for r in svg.iter(f"{SVG}rect")
            if r.get("data-sprint")
        ]
        assert rects[-2:] == [
            ("chart-committed", "4", "498", "89"),
            ("chart-completed", "4", "530", "89"),
        ]

    def test_the_mean_line_and_the_spread_band(self) -> None:
        svg = _velocity_svg(VelocityChart(VELOCITY))
        mean = [line for line in svg.iter(f"{SVG}line") if line.get("class") == "chart-mean"]
        assert [(m.get("y1"), m.get("y2")) for m in mean] == [("117", "117")]
        spread = [r for r in svg.iter(f"{SVG}rect") if r.get("class") == "chart-spread"]
        # From 6 + 1.633 down to 6 - 1.633: 178 * 2 * 1.633 / 12 = 48.4455 high.
        assert [(r.get("y"), r.get("height")) for r in spread] == [("92.78", "48.45")]
        assert (svg.get("data-sprints"), svg.get("data-mean")) == ("3", "6")

    def test_the_sprints_numbers_label_the_axis(self) -> None:
        svg = _velocity_svg(VelocityChart(VELOCITY))
        ticks = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "chart-tick"]
        assert ticks == ["0", "3", "6", "9", "12", "2", "3", "4"]

    def test_a_wide_slot_keeps_bars_narrow(self) -> None:
        one = Velocity((_sprint(2, 3, 3),), 3.0, 0.0)
        chart = VelocityChart(one)
        assert [bar[2] for bar in chart.bars()] == [302, 334]
        legend = str(
            chart.legend(committed_label="C", completed_label="D", mean_label="M", spread_label="S")
        )
        assert re.findall(r"</svg>(\w)</li>", legend) == ["C", "D", "M", "S"]
