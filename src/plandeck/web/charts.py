"""Charts drawn on the server as inline SVG: no chart library, no JavaScript, no inline
styles (the CSP forbids them; colours and dashes are classes of board.css for the sprint
board's burndown, of charts.css for the phase and analytics pages).

Words are not chosen here: the template translates them and passes them in, so the
catalogs see them where every other message is. Time runs left to right in every
language, so the SVG carries ``dir="ltr"`` (and SVG's own ``direction="ltr"``, which its text
follows) also on a right-to-left page.

Each chart is an ``<svg role="img">`` named by its ``<title>`` (a sentence with the numbers
that matter) and described by its ``<desc>``; the page puts the numbers behind it in a
table next to it. The charts of the phase and analytics pages have their legend in HTML
(``legend()``), so long or right-to-left words wrap instead of running off the picture.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

from plandeck.analytics.series import Burndown, CumulativeFlow, Velocity
from plandeck.models import StoryStatus

WIDTH = 640
HEIGHT = 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 40, 12, 28, 34
_BOTTOM_Y, _RIGHT_X = HEIGHT - _BOTTOM, WIDTH - _RIGHT
_PLOT_WIDTH, _PLOT_HEIGHT = _RIGHT_X - _LEFT, _BOTTOM_Y - _TOP
# At most this many labelled ticks along the x axis; more days are labelled every few.
_MAX_X_TICKS = 14


def _number(value: float) -> str:
    """A coordinate or value, short: ``12``, ``12.5``, ``12.33``."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _step(top: float) -> int:
    """A whole step for about four ticks up to ``top``."""
    return max(1, math.ceil(top / 4))


def _top(values: Iterable[float]) -> int:
    """The y axis' highest value: a whole number of steps over every value (at least 1)."""
    highest = max([1, *(math.ceil(v) for v in values)])
    step = _step(highest)
    return step * math.ceil(highest / step)


def _y(top: int, points: float) -> float:
    return _TOP + _PLOT_HEIGHT * (1 - points / top)


def _open_svg(css: str, ident: str, summary: str, description: str, **data: object) -> list[str]:
    """The ``<svg>`` element's start, its title (the accessible name) and its description;
    ``data`` become ``data-*`` attributes (None as an empty value)."""
    attributes = "".join(
        f' data-{name.replace("_", "-")}="{escape("" if value is None else value)}"'
        for name, value in data.items()
    )
    return [
        f'<svg class="chart {css}" dir="ltr" direction="ltr" role="img" viewBox="0 0 {WIDTH} '
        f'{HEIGHT}" aria-labelledby="{ident}-title" aria-describedby="{ident}-desc"'
        f"{attributes}>",
        f'<title id="{ident}-title">{escape(summary)}</title>',
        f'<desc id="{ident}-desc">{escape(description)}</desc>',
    ]


def _axes(
    top: int, x_ticks: Iterable[tuple[float, str]], *, x_label: str, y_label: str
) -> list[str]:
    """Both axes, a grid line and tick per step of points, the ticks along x at the
    positions given, and the axes' names (y's above the axis, x's below)."""
    parts = [f'<path class="chart-axis" d="M{_LEFT},{_TOP}V{_BOTTOM_Y}H{_RIGHT_X}" fill="none"/>']
    for value in range(0, top + 1, _step(top)):
        y = _number(_y(top, value))
        parts.append(
            f'<line class="chart-grid" x1="{_LEFT}" x2="{_RIGHT_X}" y1="{y}" y2="{y}"/>'
            f'<text class="chart-tick" x="{_LEFT - 4}" y="{y}" text-anchor="end" '
            f'dominant-baseline="middle">{value}</text>'
        )
    for position, text in x_ticks:
        x = _number(position)
        parts.append(
            f'<line class="chart-axis" x1="{x}" x2="{x}" y1="{_BOTTOM_Y}" y2="{_BOTTOM_Y + 4}"/>'
            f'<text class="chart-tick" x="{x}" y="{_BOTTOM_Y + 15}" '
            f'text-anchor="middle">{escape(text)}</text>'
        )
    parts.append(
        f'<text class="chart-label" x="{_LEFT + _PLOT_WIDTH / 2:g}" y="{HEIGHT - 2}" '
        f'text-anchor="middle">{escape(x_label)}</text>'
        f'<text class="chart-label" x="4" y="{_TOP - 10}">{escape(y_label)}</text>'
    )
    return parts


def _every(count: int) -> int:
    return max(1, math.ceil(count / _MAX_X_TICKS))


def legend(entries: Iterable[tuple[str, str, str]]) -> Markup:
    """An HTML legend: per entry ``(css, shape, label)`` a key drawn with the series' own
    class (``shape`` "line" or "area") and its label. The keys are decoration: the label
    says it."""
    items = []
    for css, shape, label in entries:
        if shape == "area":
            mark = f'<rect class="{css}" x="1" y="1" width="20" height="10"/>'
        else:
            mark = f'<line class="{css}" x1="1" x2="21" y1="6" y2="6"/>'
        items.append(
            f'<li><svg class="chart-key" aria-hidden="true" focusable="false" '
            f'viewBox="0 0 22 12" width="22" height="12">{mark}</svg>{escape(label)}</li>'
        )
    return Markup(f'<ul class="chart-legend">{"".join(items)}</ul>')


@dataclass(frozen=True, slots=True)
class BurndownChart:
    """The geometry of a sprint's burndown: day ``i`` at ``x(i)``, ``points`` at ``y(points)``."""

    burndown: Burndown

    @property
    def today_remaining(self) -> int | None:
        """Points remaining on the last day that has happened (None before the start)."""
        known = [day.remaining for day in self.burndown.days if day.remaining is not None]
        return known[-1] if known else None

    @property
    def top(self) -> int:
        """The y axis' highest value: a whole number of steps over every value drawn."""
        values: list[float] = [self.burndown.committed]
        for day in self.burndown.days:
            values.append(day.ideal)
            values.extend(v for v in (day.remaining, day.scope) if v is not None)
        return _top(values)

    def x(self, index: int) -> float:
        count = len(self.burndown.days)
        if count <= 1:
            return _LEFT + _PLOT_WIDTH / 2
        return _LEFT + _PLOT_WIDTH * index / (count - 1)

    def y(self, points: float) -> float:
        return _y(self.top, points)

    def _points(self, values: list[tuple[int, float]]) -> str:
        return " ".join(f"{_number(self.x(i))},{_number(self.y(v))}" for i, v in values)

    @property
    def ideal_points(self) -> str:
        return self._points([(i, day.ideal) for i, day in enumerate(self.burndown.days)])

    @property
    def remaining_points(self) -> str:
        """The remaining line, up to today only (later days have no value)."""
        return self._points(
            [(i, d.remaining) for i, d in enumerate(self.burndown.days) if d.remaining is not None]
        )

    @property
    def scope_points(self) -> str:
        return self._points(
            [(i, d.scope) for i, d in enumerate(self.burndown.days) if d.scope is not None]
        )

    def svg(
        self,
        *,
        summary: str,
        points_label: str,
        day_label: str,
        ideal_label: str,
        remaining_label: str,
        scope_label: str,
    ) -> Markup:
        """The chart as an ``<svg role="img">``; ``summary`` is its accessible name."""
        days = self.burndown.days
        parts = [
            f'<svg class="chart chart-burndown" dir="ltr" direction="ltr" role="img" viewBox="0 0 {WIDTH} '
            f'{HEIGHT}" aria-labelledby="burndown-svg-title" data-remaining="'
            f'{"" if self.today_remaining is None else self.today_remaining}">',
            f'<title id="burndown-svg-title">{escape(summary)}</title>',
        ]
        # Axes, with a tick per step of points and per day.
        every = _every(len(days))
        parts += _axes(
            self.top,
            ((self.x(i), str(i + 1)) for i in range(0, len(days), every)),
            x_label=day_label,
            y_label=points_label,
        )
        # The series: scope (dashed), ideal (dotted), remaining (solid, to today).
        parts.append(
            f'<polyline class="chart-scope" fill="none" points="{self.scope_points}"/>'
            f'<polyline class="chart-ideal" fill="none" points="{self.ideal_points}"/>'
            f'<polyline class="chart-remaining" fill="none" points="{self.remaining_points}"/>'
        )
        for index, day in enumerate(days):
            if day.scope is not None and (day.added or day.removed):
                parts.append(
                    f'<circle class="chart-scope-change" r="3.5" cx="{_number(self.x(index))}" '
                    f'cy="{_number(self.y(day.scope))}"/>'
                )
        if (remaining := self.today_remaining) is not None:
            last = max(i for i, d in enumerate(days) if d.remaining is not None)
            parts.append(
                f'<circle class="chart-today" r="3.5" cx="{_number(self.x(last))}" '
                f'cy="{_number(self.y(remaining))}"/>'
            )
        # The legend, in the top margin.
        for offset, (css, label) in enumerate(
            (("remaining", remaining_label), ("ideal", ideal_label), ("scope", scope_label))
        ):
            start = _LEFT + 40 + offset * 180
            parts.append(
                f'<line class="chart-{css}" x1="{start}" x2="{start + 22}" y1="10" y2="10"/>'
                f'<text class="chart-label" x="{start + 27}" y="10" '
                f'dominant-baseline="middle">{escape(label)}</text>'
            )
        parts.append("</svg>")
        return Markup("".join(parts))


# The phase's charts: one slot per calendar day of the phase, from its first sprint's start
# to its last sprint's end; a day's values sit in the middle of its slot, and days after
# today have none (the slots stay empty, so the chart shows how much of the phase is left).


def _slot(count: int) -> float:
    return _PLOT_WIDTH / max(count, 1)


def _slot_x(count: int, index: int) -> float:
    return _LEFT + _slot(count) * (index + 0.5)


def _day_ticks(count: int) -> list[tuple[float, str]]:
    return [(_slot_x(count, i), str(i + 1)) for i in range(0, count, _every(count))]


# Bottom to top: done on the baseline, then back through the workflow to draft, and blocked
# (off the workflow) on top, so the done band's growth reads from the axis.
FLOW_STACK = (
    StoryStatus.DONE,
    StoryStatus.REVIEW,
    StoryStatus.IN_PROGRESS,
    StoryStatus.APPROVED,
    StoryStatus.DRAFT,
    StoryStatus.BLOCKED,
)


@dataclass(frozen=True, slots=True)
class PhaseDay:
    """A day of the phase's burnup: ``scope`` is every point of the phase, ``done`` the
    points of its done stories."""

    day: date
    scope: int
    done: int


@dataclass(frozen=True, slots=True)
class _PhaseChart:
    flow: CumulativeFlow

    @property
    def day_count(self) -> int:
        """Days of the phase's range, including those after today."""
        return (self.flow.last - self.flow.first).days + 1

    def x(self, index: int) -> float:
        return _slot_x(self.day_count, index)


@dataclass(frozen=True, slots=True)
class BurnupChart(_PhaseChart):
    """A phase's burnup, from its cumulative flow: done vs total scope per day."""

    @property
    def days(self) -> tuple[PhaseDay, ...]:
        return tuple(
            PhaseDay(day.day, sum(day.points.values()), day.points[StoryStatus.DONE])
            for day in self.flow.days
        )

    @property
    def today(self) -> PhaseDay | None:
        """The last day that has happened (None before the phase starts)."""
        return self.days[-1] if self.flow.days else None

    @property
    def top(self) -> int:
        return _top(day.scope for day in self.days)

    def y(self, points: float) -> float:
        return _y(self.top, points)

    def _line(self, values: Iterable[int]) -> str:
        return " ".join(f"{_number(self.x(i))},{_number(self.y(v))}" for i, v in enumerate(values))

    @property
    def scope_points(self) -> str:
        return self._line(day.scope for day in self.days)

    @property
    def done_points(self) -> str:
        return self._line(day.done for day in self.days)

    def svg(self, *, summary: str, description: str, points_label: str, day_label: str) -> Markup:
        today = self.today
        parts = _open_svg(
            "chart-burnup",
            "burnup-svg",
            summary,
            description,
            done=today and today.done,
            scope=today and today.scope,
        )
        parts += _axes(
            self.top, _day_ticks(self.day_count), x_label=day_label, y_label=points_label
        )
        parts.append(
            f'<polyline class="chart-scope" fill="none" points="{self.scope_points}"/>'
            f'<polyline class="chart-done" fill="none" points="{self.done_points}"/>'
        )
        if today is not None:
            # Today's values marked, so that a phase on its first day still shows them.
            x = _number(self.x(len(self.days) - 1))
            parts.append(
                f'<circle class="chart-scope-today" r="3.5" cx="{x}" '
                f'cy="{_number(self.y(today.scope))}"/>'
                f'<circle class="chart-done-today" r="3.5" cx="{x}" '
                f'cy="{_number(self.y(today.done))}"/>'
            )
        parts.append("</svg>")
        return Markup("".join(parts))

    def legend(self, *, done_label: str, scope_label: str) -> Markup:
        return legend((("chart-done", "line", done_label), ("chart-scope", "line", scope_label)))


@dataclass(frozen=True, slots=True)
class FlowChart(_PhaseChart):
    """A phase's cumulative flow: the points of each status per day, stacked (``FLOW_STACK``)."""

    @property
    def top(self) -> int:
        return _top(sum(day.points.values()) for day in self.flow.days)

    def y(self, points: float) -> float:
        return _y(self.top, points)

    def bands(self) -> list[tuple[StoryStatus, str]]:
        """Per status, bottom to top, the polygon of its band: along its upper edge from the
        first day to today, back along its lower edge. The edges run flat for half a day
        before the first day and after the last, so that a single day is a bar, not a line."""
        days = self.flow.days
        if not days:
            return []
        found: list[tuple[StoryStatus, str]] = []
        below = [0] * len(days)
        for status in FLOW_STACK:
            above = [under + day.points[status] for under, day in zip(below, days, strict=True)]
            outline = self._edge(above) + self._edge(below)[::-1]
            found.append((status, " ".join(f"{_number(x)},{_number(y)}" for x, y in outline)))
            below = above
        return found

    def _edge(self, values: Sequence[int]) -> list[tuple[float, float]]:
        half = _slot(self.day_count) / 2
        middle = [(self.x(i), self.y(value)) for i, value in enumerate(values)]
        return [(middle[0][0] - half, middle[0][1]), *middle, (middle[-1][0] + half, middle[-1][1])]

    def svg(self, *, summary: str, description: str, points_label: str, day_label: str) -> Markup:
        parts = _open_svg("chart-flow", "flow-svg", summary, description, days=len(self.flow.days))
        parts += _axes(
            self.top, _day_ticks(self.day_count), x_label=day_label, y_label=points_label
        )
        for status, points in self.bands():
            parts.append(
                f'<polygon class="chart-flow-{status.value}" data-status="{status.value}" '
                f'points="{points}"/>'
            )
        parts.append("</svg>")
        return Markup("".join(parts))

    def legend(self, labels: Mapping[StoryStatus, str]) -> Markup:
        """The statuses in workflow order, each with its band's colour."""
        return legend((f"chart-flow-{s.value}", "area", labels[s]) for s in StoryStatus)


@dataclass(frozen=True, slots=True)
class VelocityChart:
    """Committed and completed points side by side per finished sprint, oldest first, with
    the mean of completed as a line and the spread (mean ± one standard deviation) as a band."""

    velocity: Velocity

    @property
    def top(self) -> int:
        values: list[float] = []
        for sprint in self.velocity.sprints:
            values += [sprint.committed, sprint.completed]
        if self.velocity.mean is not None and self.velocity.stdev is not None:
            values.append(self.velocity.mean + self.velocity.stdev)
        return _top(values)

    def y(self, points: float) -> float:
        return _y(self.top, points)

    @property
    def _bar_width(self) -> float:
        return min(_slot(len(self.velocity.sprints)) * 0.35, 32)

    def x(self, index: int) -> float:
        """The middle of sprint ``index``'s pair of bars."""
        return _slot_x(len(self.velocity.sprints), index)

    def bars(self) -> list[tuple[str, int, float, float, float]]:
        """Per bar: its series ("committed" or "completed"), sprint number, x, y, height."""
        width = self._bar_width
        found = []
        for index, sprint in enumerate(self.velocity.sprints):
            for offset, (series, value) in enumerate(
                (("committed", sprint.committed), ("completed", sprint.completed))
            ):
                top = self.y(value)
                x = self.x(index) - width + offset * width
                found.append((series, sprint.number, x, top, _BOTTOM_Y - top))
        return found

    def svg(
        self, *, summary: str, description: str, points_label: str, sprint_label: str
    ) -> Markup:
        velocity = self.velocity
        parts = _open_svg(
            "chart-velocity",
            "velocity-svg",
            summary,
            description,
            sprints=len(velocity.sprints),
            mean=None if velocity.mean is None else _number(velocity.mean),
        )
        parts += _axes(
            self.top,
            ((self.x(i), str(s.number)) for i, s in enumerate(velocity.sprints)),
            x_label=sprint_label,
            y_label=points_label,
        )
        if velocity.mean is not None and velocity.stdev is not None:
            high = self.y(velocity.mean + velocity.stdev)
            low = self.y(max(velocity.mean - velocity.stdev, 0))
            parts.append(
                f'<rect class="chart-spread" x="{_LEFT}" y="{_number(high)}" '
                f'width="{_PLOT_WIDTH}" height="{_number(low - high)}"/>'
            )
        width = _number(self._bar_width)
        for series, number, x, y, height in self.bars():
            parts.append(
                f'<rect class="chart-{series}" data-sprint="{number}" x="{_number(x)}" '
                f'y="{_number(y)}" width="{width}" height="{_number(height)}"/>'
            )
        if velocity.mean is not None:
            mean = _number(self.y(velocity.mean))
            parts.append(
                f'<line class="chart-mean" x1="{_LEFT}" x2="{_RIGHT_X}" y1="{mean}" y2="{mean}"/>'
            )
        parts.append("</svg>")
        return Markup("".join(parts))

    def legend(
        self, *, committed_label: str, completed_label: str, mean_label: str, spread_label: str
    ) -> Markup:
        return legend(
            (
                ("chart-committed", "area", committed_label),
                ("chart-completed", "area", completed_label),
                ("chart-mean", "line", mean_label),
                ("chart-spread", "area", spread_label),
            )
        )
