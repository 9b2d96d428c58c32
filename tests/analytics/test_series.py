from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from plandeck.analytics.history import StorySpan, StoryState, story_spans
from plandeck.analytics.series import (
    BurndownDay,
    CarryOver,
    Progress,
    SprintInfo,
    SprintVelocity,
    SprintWithoutDates,
    phase_points,
    sprint_burndown,
    sprint_points,
    story_progress,
)
from plandeck.errors import InvalidInput
from plandeck.models import SprintStatus, StoryStatus
from tests.analytics.helpers import (
    at,
    burndown_of,
    created,
    deleted,
    flow_of,
    moved,
    updated,
    velocity_of,
)

UTC_ZONE = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
START = date(2026, 3, 2)


def day(n: int) -> date:
    """Day ``n`` of the sprint, counting from 1."""
    return START + timedelta(days=n - 1)


# An 11-day sprint: Monday 2 March to Thursday 12 March 2026.
SPRINT = SprintInfo(1, 1, SprintStatus.ACTIVE, day(1), day(11), phase_id=10, weeks="1-2")
OTHER = SprintInfo(2, 2, SprintStatus.PLANNED, day(1), day(11), phase_id=10)


def _actual(burndown_days: tuple[BurndownDay, ...]) -> list[tuple[object, ...]]:
    return [(d.remaining, d.done, d.scope, d.added, d.removed) for d in burndown_days]


class TestSprintBurndown:
    # A 5, B 3, C 2 planned the day before: 10 committed.
    EVENTS = (
        created(1, at(day(0)), points=5, sprint_id=1),
        created(2, at(day(0)), points=3, sprint_id=1),
        created(3, at(day(0)), points=2, sprint_id=1),
        updated(2, at(day(2)), status="done"),  # day 2: B done
        created(4, at(day(3)), points=4, sprint_id=1),  # day 3: D (4) added
        updated(2, at(day(4)), status="in_progress"),  # day 4: B reopened after Done
        moved(1, at(day(5)), status="done"),  # day 5: A done
        deleted(3, at(day(6))),  # day 6: C (2) removed
        # day 7: no events
        updated(2, at(day(8), 9), status="done"),  # day 8: B done again
        updated(4, at(day(8), 10), points=6),  # day 8: D re-estimated 4 -> 6
        updated(4, at(day(9)), status="done"),  # day 9: D done
        updated(1, at(day(10)), points=1),  # day 10: after "today", not read
    )

    def test_scope_added_and_removed_reopened_story_and_quiet_day(self) -> None:
        burndown = burndown_of(self.EVENTS, UTC_ZONE, SPRINT, today=day(9))
        assert burndown.committed == 10
        assert (burndown.starts_on, burndown.ends_on) == (day(1), day(11))
        # Ideal: 10 * (10 - i) / 10 over the 11 days.
        assert [d.ideal for d in burndown.days] == [10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
        assert [d.day for d in burndown.days] == [day(n) for n in range(1, 12)]
        # (remaining, done, scope, added, removed)
        assert _actual(burndown.days) == [
            (10, 0, 10, 0, 0),  # day 1: A5 B3 C2
            (7, 3, 10, 0, 0),  # day 2: B done: 10 - 3
            (11, 3, 14, 4, 0),  # day 3: D4 added: 7 + 4
            (14, 0, 14, 0, 0),  # day 4: B reopened: 11 + 3
            (9, 5, 14, 0, 0),  # day 5: A done: 14 - 5
            (7, 5, 12, 0, 2),  # day 6: C2 trashed: 9 - 2
            (7, 5, 12, 0, 0),  # day 7: no events
            (6, 8, 14, 2, 0),  # day 8: B done (7 - 3), D 4 -> 6 (+2): remaining D6
            (0, 14, 14, 0, 0),  # day 9: D done
            (None, None, None, None, None),  # day 10: after today
            (None, None, None, None, None),  # day 11
        ]

    def test_story_moved_between_sprints_mid_sprint(self) -> None:
        events = [
            created(1, at(day(0)), points=5, sprint_id=1),
            created(2, at(day(0)), points=3, sprint_id=1),
            created(3, at(day(0)), points=8, sprint_id=2),
            moved(2, at(day(4)), sprint_id=2),  # day 4: B (3) leaves sprint 1 for sprint 2
            moved(1, at(day(5)), status="done"),
        ]
        first = burndown_of(events, UTC_ZONE, SPRINT, today=day(5))
        second = burndown_of(events, UTC_ZONE, OTHER, today=day(5))
        assert first.committed == 8  # A5 + B3
        assert _actual(first.days)[:5] == [
            (8, 0, 8, 0, 0),
            (8, 0, 8, 0, 0),
            (8, 0, 8, 0, 0),
            (5, 0, 5, 0, 3),  # B moved out: 8 - 3
            (0, 5, 5, 0, 0),  # A done
        ]
        assert second.committed == 8  # C8
        assert _actual(second.days)[:5] == [
            (8, 0, 8, 0, 0),
            (8, 0, 8, 0, 0),
            (8, 0, 8, 0, 0),
            (11, 0, 11, 3, 0),  # B moved in: 8 + 3
            (11, 0, 11, 0, 0),
        ]

    def test_carried_over_stories_are_remaining_not_removed(self) -> None:
        events = [
            created(1, at(day(0)), points=5, sprint_id=1),
            created(2, at(day(0)), points=3, sprint_id=1),
            moved(1, at(day(2)), status="done"),
            moved(2, at(day(3), 17), sprint_id=2),  # day 3: the completion carries B over
        ]
        completed = SprintInfo(1, 1, SprintStatus.COMPLETED, day(1), day(3))
        carry = CarryOver(day(3), frozenset({2}), 3)
        burndown = sprint_burndown(
            story_spans(events, UTC_ZONE), completed, today=day(5), carried_over=carry
        )
        assert burndown.carried_over == 3
        assert _actual(burndown.days) == [(8, 0, 8, 0, 0), (3, 5, 8, 0, 0), (3, 5, 8, 0, 0)]
        # Without the completion's record, the move reads as scope removed.
        plain = sprint_burndown(story_spans(events, UTC_ZONE), completed, today=day(5))
        assert (plain.carried_over, _actual(plain.days)[-1]) == (0, (0, 5, 5, 0, 3))

    def test_a_carried_over_story_counts_from_the_completion_day_only(self) -> None:
        completed = SprintInfo(1, 1, SprintStatus.COMPLETED, day(1), day(4))
        spans = [
            StorySpan(StoryState(1, points=5, sprint_id=1), day(0)),
            # One span from day 2 on outside the sprint: only its part from day 4 is kept in.
            StorySpan(StoryState(2, points=3, sprint_id=1), day(0), day(2)),
            StorySpan(StoryState(2, points=3, sprint_id=2), day(2)),
        ]
        carry = CarryOver(day(4), frozenset({2}), 3)
        burndown = sprint_burndown(spans, completed, today=day(4), carried_over=carry)
        assert _actual(burndown.days) == [
            (8, 0, 8, 0, 0),
            (5, 0, 5, 0, 3),
            (5, 0, 5, 0, 0),
            (8, 0, 8, 3, 0),
        ]

    def test_sprint_across_the_end_of_summer_time(self) -> None:
        # Berlin leaves summer time at 01:00 UTC on Sunday 25 October 2026.
        sprint = SprintInfo(5, 5, SprintStatus.ACTIVE, date(2026, 10, 24), date(2026, 10, 27))
        events = [
            created(1, datetime(2026, 10, 23, 10, tzinfo=UTC), points=3, sprint_id=5),
            # 22:30 UTC on the 24th is 00:30 CEST on the 25th: Y (2) is added on the 25th.
            created(2, datetime(2026, 10, 24, 22, 30, tzinfo=UTC), points=2, sprint_id=5),
            # 22:30 UTC on the 25th is 23:30 CET, still the 25th (not 00:30 on the 26th).
            updated(1, datetime(2026, 10, 25, 22, 30, tzinfo=UTC), status="done"),
        ]
        burndown = burndown_of(events, BERLIN, sprint, today=date(2026, 10, 27))
        assert burndown.committed == 3
        assert [d.ideal for d in burndown.days] == [3, 2, 1, 0]  # 3 * (3 - i) / 3
        assert _actual(burndown.days) == [
            (3, 0, 3, 0, 0),  # 24th: X3
            (2, 3, 5, 2, 0),  # 25th: Y2 added, X done
            (2, 3, 5, 0, 0),
            (2, 3, 5, 0, 0),
        ]
        # Read in UTC the same events fall on other days: Y is committed on the 24th.
        assert burndown_of(events, UTC_ZONE, sprint, today=date(2026, 10, 27)).committed == 5

    def test_sprint_not_started_has_only_the_ideal_line(self) -> None:
        events = [created(1, at(day(0)), points=4, sprint_id=1)]
        burndown = burndown_of(events, UTC_ZONE, SPRINT, today=day(0))
        assert burndown.committed == 0
        assert {d.remaining for d in burndown.days} == {None}

    def test_one_day_sprint_ideal_is_zero(self) -> None:
        sprint = SprintInfo(1, 1, SprintStatus.ACTIVE, day(1), day(1))
        events = [created(1, at(day(1)), points=4, sprint_id=1)]
        burndown = burndown_of(events, UTC_ZONE, sprint, today=day(1))
        assert [(d.ideal, d.remaining) for d in burndown.days] == [(0.0, 4)]

    def test_sprint_without_dates_is_refused(self) -> None:
        sprint = SprintInfo(1, 4, SprintStatus.ACTIVE, day(1), None)
        with pytest.raises(SprintWithoutDates, match="sprint 4 has no start or end date"):
            burndown_of([], UTC_ZONE, sprint, today=day(1))


class TestVelocity:
    SPRINTS = (
        SprintInfo(1, 1, SprintStatus.COMPLETED, day(1), day(14)),
        SprintInfo(2, 2, SprintStatus.COMPLETED, day(15), day(28)),
        SprintInfo(3, 3, SprintStatus.COMPLETED, None, None),
        SprintInfo(4, 4, SprintStatus.CANCELLED, day(29), day(42)),
        SprintInfo(5, 5, SprintStatus.ACTIVE, day(29), day(42)),
    )
    EVENTS = (
        created(1, at(day(1), 8), points=5, sprint_id=1),
        created(2, at(day(1), 9), points=3, sprint_id=1),
        created(3, at(day(2)), points=2, sprint_id=1),  # added after the first day
        updated(1, at(day(10)), status="done"),
        updated(2, at(day(11)), status="done"),
        moved(2, at(day(14), 13), sprint_id=2),  # done, then moved out on the last day
        created(4, at(day(15)), points=8, sprint_id=2),
        updated(4, at(day(20)), status="done"),
        updated(2, at(day(21)), status="in_progress"),  # reopened, never done again
    )

    def test_committed_and_completed_of_finished_sprints(self) -> None:
        result = velocity_of(self.EVENTS, UTC_ZONE, self.SPRINTS, last=5)
        assert result.sprints == (
            # Committed at the end of day 1: 5 + 3; completed at the end of day 14: A5 only
            # (B moved out, C never done).
            SprintVelocity(1, 1, day(1), day(14), 8, 5),
            # Committed at the end of day 15: B3 + D8; completed: D8 (B reopened).
            SprintVelocity(2, 2, day(15), day(28), 11, 8),
        )
        assert result.skipped == (3,)
        assert result.mean == 6.5  # (5 + 8) / 2
        assert result.stdev == 1.5  # sqrt(((5 - 6.5)^2 + (8 - 6.5)^2) / 2)

    def test_last_takes_the_highest_numbers(self) -> None:
        result = velocity_of(self.EVENTS, UTC_ZONE, self.SPRINTS, last=1)
        assert [s.number for s in result.sprints] == []
        assert result.skipped == (3,)
        assert result.mean is None
        assert result.stdev is None
        assert [
            s.number for s in velocity_of(self.EVENTS, UTC_ZONE, self.SPRINTS, last=2).sprints
        ] == [2]

    def test_last_must_be_positive(self) -> None:
        with pytest.raises(InvalidInput):
            velocity_of([], UTC_ZONE, self.SPRINTS, last=0)


class TestCumulativeFlow:
    def test_points_and_counts_per_status_per_day(self) -> None:
        sprints = [
            SprintInfo(1, 1, SprintStatus.COMPLETED, day(1), day(2), phase_id=10),
            SprintInfo(2, 2, SprintStatus.ACTIVE, day(3), day(4), phase_id=10),
            SprintInfo(3, 3, SprintStatus.PLANNED, None, None, phase_id=10),
            SprintInfo(9, 9, SprintStatus.ACTIVE, day(1), day(9), phase_id=11),
        ]
        events = [
            created(1, at(day(1)), points=5, sprint_id=1, phase_id=10),
            created(2, at(day(1)), points=3, phase_id=10),  # backlog of the phase
            created(3, at(day(1)), points=2, sprint_id=9, phase_id=11),  # other phase
            moved(1, at(day(2)), status="in_progress"),
            moved(3, at(day(3)), sprint_id=2),  # joins the phase through its sprint
            updated(1, at(day(4)), status="done"),
            deleted(2, at(day(4))),
        ]
        flow = flow_of(events, UTC_ZONE, 10, sprints, today=day(3))
        assert (flow.first, flow.last) == (day(1), day(4))
        shown = [
            (
                d.day,
                {s.value: n for s, n in d.points.items() if n},
                {s.value: n for s, n in d.stories.items() if n},
            )
            for d in flow.days
        ]
        assert shown == [
            (day(1), {"approved": 8}, {"approved": 2}),  # 5 + 3
            (day(2), {"approved": 3, "in_progress": 5}, {"approved": 1, "in_progress": 1}),
            (day(3), {"approved": 5, "in_progress": 5}, {"approved": 2, "in_progress": 1}),
        ]  # day 4 is after today
        assert list(flow.days[0].points) == list(StoryStatus)

    def test_phase_without_dated_sprints_is_refused(self) -> None:
        sprints = [SprintInfo(1, 1, SprintStatus.PLANNED, phase_id=10)]
        with pytest.raises(SprintWithoutDates):
            flow_of([], UTC_ZONE, 10, sprints, today=day(1))


class TestRollUps:
    def test_story_progress_counts_live_tasks(self) -> None:
        trashed = datetime(2026, 3, 1, tzinfo=UTC)
        tasks = [
            SimpleNamespace(done=True, deleted_at=None),
            SimpleNamespace(done=False, deleted_at=None),
            SimpleNamespace(done=True, deleted_at=None),
            SimpleNamespace(done=True, deleted_at=trashed),
        ]
        progress = story_progress(tasks)
        assert progress == Progress(2, 3)
        assert progress.fraction == 2 / 3

    def test_sprint_and_phase_points(self) -> None:
        trashed = datetime(2026, 3, 1, tzinfo=UTC)
        first = [
            SimpleNamespace(points=5, status=StoryStatus.DONE, deleted_at=None),
            SimpleNamespace(points=3, status=StoryStatus.REVIEW, deleted_at=None),
            SimpleNamespace(points=None, status=StoryStatus.DONE, deleted_at=None),
            SimpleNamespace(points=8, status=StoryStatus.DONE, deleted_at=trashed),
        ]
        second = [SimpleNamespace(points=2, status=StoryStatus.DONE, deleted_at=None)]
        assert sprint_points(first) == Progress(5, 8)
        assert sprint_points(second) == Progress(2, 2)
        # 5 + 2 done of 8 + 2.
        assert phase_points([sprint_points(first), sprint_points(second)]) == Progress(7, 10)
        assert Progress(0, 0).fraction == 0.0
