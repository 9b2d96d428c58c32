from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from plandeck.analytics.history import (
    StoryEvent,
    StoryState,
    end_of_day,
    local_date,
)
from plandeck.models import ActivityAction, StoryStatus
from tests.analytics.helpers import (
    at,
    created,
    daily_states,
    deleted,
    moved,
    restored,
    updated,
)

UTC_ZONE = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
D1, D2, D3, D4 = (date(2026, 3, day) for day in (2, 3, 4, 5))


def _on(events: list[StoryEvent], zone: ZoneInfo, day: date) -> dict[int, StoryState]:
    return daily_states(events, zone, day, day)[0][1]


class TestLocalDate:
    def test_the_evening_before_the_clocks_go_back_is_still_that_day(self) -> None:
        # 2026-10-25 22:30 UTC is 23:30 CET (UTC+1 after the change): still the 25th in Berlin,
        # though a fixed summer offset (+2) would make it 00:30 on the 26th.
        assert local_date(datetime(2026, 10, 25, 22, 30, tzinfo=UTC), BERLIN) == date(2026, 10, 25)

    def test_after_midnight_in_summer_time_is_the_next_day(self) -> None:
        # 2026-10-24 22:30 UTC is 00:30 CEST (UTC+2) on the 25th.
        assert local_date(datetime(2026, 10, 24, 22, 30, tzinfo=UTC), BERLIN) == date(2026, 10, 25)

    def test_naive_time_is_refused(self) -> None:
        with pytest.raises(ValueError, match="naive"):
            local_date(datetime(2026, 10, 25, 12), BERLIN)  # noqa: DTZ001 - the case under test


class TestDailyStates:
    def test_each_action_changes_the_state_at_the_end_of_its_day(self) -> None:
        events = [
            created(1, at(D1), points=3, sprint_id=7, phase_id=2),
            updated(1, at(D2, 9), points=5),
            moved(1, at(D2, 10), sprint_id=8, status="in_progress", rank="b"),
            deleted(1, at(D3)),
            restored(1, at(D4, 8)),
            updated(1, at(D4, 9), status="done"),
        ]
        days = {day: dict(states) for day, states in daily_states(events, UTC_ZONE, D1, D4)}
        assert days == {
            D1: {1: StoryState(1, StoryStatus.APPROVED, 3, 7, 2, live=True)},
            D2: {1: StoryState(1, StoryStatus.IN_PROGRESS, 5, 8, 2, live=True)},
            D3: {1: StoryState(1, StoryStatus.IN_PROGRESS, 5, 8, 2, live=False)},
            D4: {1: StoryState(1, StoryStatus.DONE, 5, 8, 2, live=True)},
        }

    def test_a_day_with_no_events_keeps_the_day_before(self) -> None:
        events = [created(1, at(D1), points=2), updated(1, at(D3), points=8)]
        points = [states[1].points for _, states in daily_states(events, UTC_ZONE, D1, D3)]
        assert points == [2, 2, 8]

    def test_events_before_the_range_count_and_events_after_it_do_not(self) -> None:
        events = [created(1, at(D1), points=2), updated(1, at(D4), points=8)]
        assert [
            (day, states[1].points) for day, states in daily_states(events, UTC_ZONE, D2, D3)
        ] == [(D2, 2), (D3, 2)]

    def test_purged_story_is_in_no_scope(self) -> None:
        events = [
            created(1, at(D1), points=2),
            deleted(1, at(D2)),
            restored(1, at(D3)),
            StoryEvent(1, ActivityAction.PURGED, at(D4), {"points": 2}, None),
        ]
        assert [states[1].live for _, states in daily_states(events, UTC_ZONE, D1, D4)] == [
            True,
            False,
            True,
            False,
        ]

    def test_story_without_created_event_starts_from_defaults(self) -> None:
        assert _on([updated(4, at(D1), points=1)], UTC_ZONE, D1) == {
            4: StoryState(4, StoryStatus.DRAFT, 1, None, None, live=True)
        }

    def test_event_times_are_read_in_the_project_zone(self) -> None:
        # 22:30 UTC on 24 October is already the 25th in Berlin (00:30 CEST).
        events = [created(1, datetime(2026, 10, 24, 22, 30, tzinfo=UTC), points=1)]
        assert _on(events, BERLIN, date(2026, 10, 24)) == {}
        assert _on(events, UTC_ZONE, date(2026, 10, 24))[1].points == 1

    def test_empty_range_yields_nothing(self) -> None:
        assert list(daily_states([], UTC_ZONE, D2, D1)) == []


class TestEndOfDay:
    def test_the_day_the_clocks_go_back_lasts_25_hours(self) -> None:
        # 25 October 2026 in Berlin: from 22:00 UTC on the 24th (00:00 CEST) to 23:00 UTC
        # on the 25th (00:00 CET on the 26th).
        assert end_of_day(date(2026, 10, 24), BERLIN) == datetime(2026, 10, 24, 22, tzinfo=UTC)
        assert end_of_day(date(2026, 10, 25), BERLIN) == datetime(2026, 10, 25, 23, tzinfo=UTC)
