"""Charts drawn on the server as inline SVG: no chart library, no JavaScript, no inline
styles (the CSP forbids them; colours and dashes are classes of board.css).

Words are not chosen here: the template translates them and passes them in, so the
catalogs see them where every other message is. Time runs left to right in every
language, so the SVG carries ``dir="ltr"`` (and SVG's own ``direction="ltr"``, which its text
follows) also on a right-to-left page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from markupsafe import Markup, escape

from plandeck.analytics.series import Burndown

WIDTH = 640
HEIGHT = 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 40, 12, 28, 34


def _number(value: float) -> str:
    """A coordinate or value, short: ``12``, ``12.5``, ``12.33``."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _step(top: float) -> int:
    """A whole step for about four ticks up to ``top``."""
    return max(1, math.ceil(top / 4))


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
        values = [self.burndown.committed, 1]
        for day in self.burndown.days:
            values.append(math.ceil(day.ideal))
            values.extend(v for v in (day.remaining, day.scope) if v is not None)
        highest = max(values)
        step = _step(highest)
        return step * math.ceil(highest / step)

    def x(self, index: int) -> float:
        count = len(self.burndown.days)
        width = WIDTH - _LEFT - _RIGHT
        if count <= 1:
            return _LEFT + width / 2
        return _LEFT + width * index / (count - 1)

    def y(self, points: float) -> float:
        height = HEIGHT - _TOP - _BOTTOM
        return _TOP + height * (1 - points / self.top)

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
        bottom, right = HEIGHT - _BOTTOM, WIDTH - _RIGHT
        parts.append(f'<path class="chart-axis" d="M{_LEFT},{_TOP}V{bottom}H{right}" fill="none"/>')
        step = _step(self.top)
        for value in range(0, self.top + 1, step):
            y = _number(self.y(value))
            parts.append(
                f'<line class="chart-grid" x1="{_LEFT}" x2="{right}" y1="{y}" y2="{y}"/>'
                f'<text class="chart-tick" x="{_LEFT - 4}" y="{y}" text-anchor="end" '
                f'dominant-baseline="middle">{value}</text>'
            )
        every = max(1, math.ceil(len(days) / 14))
        for index in range(0, len(days), every):
            x = _number(self.x(index))
            parts.append(
                f'<line class="chart-axis" x1="{x}" x2="{x}" y1="{bottom}" y2="{bottom + 4}"/>'
                f'<text class="chart-tick" x="{x}" y="{bottom + 15}" '
                f'text-anchor="middle">{index + 1}</text>'
            )
        parts.append(
            f'<text class="chart-label" x="{_LEFT + (right - _LEFT) / 2:g}" y="{HEIGHT - 2}" '
            f'text-anchor="middle">{escape(day_label)}</text>'
            f'<text class="chart-label" x="4" y="{_TOP - 10}">{escape(points_label)}</text>'
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
