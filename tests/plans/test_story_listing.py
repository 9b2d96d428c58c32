"""Story lists (filters, sorting, cursor pages), the board with task counts, and moves."""

from __future__ import annotations

import asyncio
import base64
from datetime import datetime
from typing import get_args

import orjson
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.db import create_sessionmaker, unit_of_work
from plandeck.errors import Conflict, Forbidden, InvalidInput, NotFound, StaleVersion
from plandeck.kit.pagination import encode_cursor
from plandeck.models import (
    ActivityAction,
    ActivityEvent,
    EntityType,
    MoSCoW,
    Priority,
    Project,
    Role,
    Sprint,
    Story,
    StoryStatus,
    User,
)
from plandeck.plans.schemas import StoryCreate, StoryFilter, StoryMove, StorySort
from plandeck.plans.stories import STORY_SORTING, story_service
from plandeck.plans.tasks import task_service
from tests.databases import TestDatabase
from tests.factories.accounts import make_user
from tests.factories.plans import (
    make_member,
    make_project,
    make_sprint,
    make_story,
    make_task,
)
from tests.statements import count_statements


@pytest.fixture
async def project(session: AsyncSession, owner: User) -> Project:
    return await make_project(session, owner, key="SL")


async def _page_through(
    session: AsyncSession,
    actor: User,
    project: Project,
    filters: StoryFilter | None = None,
    *,
    sort: str | None = None,
    limit: int = 3,
) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    while True:
        page = await story_service.list_filtered(
            session, actor, project, filters or StoryFilter(), sort=sort, limit=limit, cursor=cursor
        )
        pages.append([story.key for story in page.items])
        cursor = page.next_cursor
        if cursor is None:
            return pages
        assert len(pages) < 100, "pagination does not end"


async def _keys(
    session: AsyncSession,
    actor: User,
    project: Project,
    filters: StoryFilter | None = None,
    *,
    sort: str | None = None,
) -> list[str]:
    page = await story_service.list_filtered(
        session, actor, project, filters or StoryFilter(), sort=sort, limit=200
    )
    assert page.next_cursor is None
    return [story.key for story in page.items]


async def _order(
    session: AsyncSession, owner: User, project: Project, sprint: Sprint | None
) -> list[str]:
    rows = await story_service.list_for_board(
        session, owner, project.key, sprint.number if sprint else None
    )
    return [row["key"] for row in rows]


async def _ranks(session: AsyncSession, project: Project, sprint: Sprint | None) -> list[str]:
    where = Story.sprint_id.is_(None) if sprint is None else Story.sprint_id == sprint.id
    return list(
        (
            await session.scalars(
                select(Story.rank)
                .where(Story.project_id == project.id, Story.deleted_at.is_(None), where)
                .order_by(Story.rank, Story.id)
            )
        ).all()
    )


class TestListFilters:
    async def test_filters_by_status_priority_and_moscow(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        await make_story(session, owner, project, key="a", status=StoryStatus.DONE)
        await make_story(
            session, owner, project, key="b", status=StoryStatus.REVIEW, priority=Priority.HIGH
        )
        await make_story(session, owner, project, key="c", moscow=MoSCoW.MUST)
        await make_story(session, owner, project, key="d", priority=Priority.HIGH)

        statuses = StoryFilter(status=[StoryStatus.DONE, StoryStatus.REVIEW])
        assert await _keys(session, owner, project, statuses) == ["a", "b"]
        assert await _keys(session, owner, project, StoryFilter(priority=[Priority.HIGH])) == [
            "b",
            "d",
        ]
        assert await _keys(session, owner, project, StoryFilter(moscow=[MoSCoW.MUST])) == ["c"]
        both = StoryFilter(status=[StoryStatus.REVIEW], priority=[Priority.HIGH, Priority.LOW])
        assert await _keys(session, owner, project, both) == ["b"]

    async def test_filters_by_assignee_me_none_or_id(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        member = await make_member(session, project, Role.MEMBER)
        await make_story(session, owner, project, key="mine", assignee_id=owner.id)
        await make_story(session, owner, project, key="theirs", assignee_id=member.id)
        await make_story(session, owner, project, key="nobody")

        assert await _keys(session, owner, project, StoryFilter(assignee="me")) == ["mine"]
        assert await _keys(session, member, project, StoryFilter(assignee="me")) == ["theirs"]
        assert await _keys(session, owner, project, StoryFilter(assignee="none")) == ["nobody"]
        assert await _keys(session, owner, project, StoryFilter(assignee=member.id)) == ["theirs"]

    async def test_filters_by_sprint_number_or_backlog(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        nine = await make_sprint(session, owner, project, number=9)
        ten = await make_sprint(session, owner, project, number=10)
        await make_story(session, owner, project, key="9.1", sprint_id=nine.id)
        await make_story(session, owner, project, key="10.1", sprint_id=ten.id)
        await make_story(session, owner, project, key="B-1")

        assert await _keys(session, owner, project, StoryFilter(sprint=9)) == ["9.1"]
        assert await _keys(session, owner, project, StoryFilter(sprint="backlog")) == ["B-1"]
        assert await _keys(session, owner, project, StoryFilter(sprint=11)) == []

    async def test_text_search_is_case_insensitive_in_key_title_and_description(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        await make_story(session, owner, project, key="MIG-1", title="Other")
        await make_story(session, owner, project, key="x", title="Database Migration")
        await make_story(session, owner, project, key="y", title="t", description="run migrations")
        await make_story(session, owner, project, key="z", title="Unrelated")

        assert await _keys(session, owner, project, StoryFilter(q="MiGr")) == ["x", "y"]
        assert await _keys(session, owner, project, StoryFilter(q="mig")) == ["MIG-1", "x", "y"]

    async def test_search_wildcards_are_literal(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        await make_story(session, owner, project, key="p", title="100% done")
        await make_story(session, owner, project, key="q", title="1000 done")
        await make_story(session, owner, project, key="r", title="a_b")
        await make_story(session, owner, project, key="s", title="axb")

        assert await _keys(session, owner, project, StoryFilter(q="0% ")) == ["p"]
        assert await _keys(session, owner, project, StoryFilter(q="a_b")) == ["r"]

    async def test_trashed_stories_are_not_listed(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        kept = await make_story(session, owner, project, key="kept")
        gone = await make_story(session, owner, project, key="gone")
        await story_service.delete(session, owner, project, gone.id)
        assert await _keys(session, owner, project) == [kept.key]

    async def test_viewer_reads_non_member_gets_not_found(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        await make_story(session, owner, project, key="1")
        viewer = await make_member(session, project, Role.VIEWER)
        assert await _keys(session, viewer, project) == ["1"]
        with pytest.raises(NotFound):
            await _keys(session, await make_user(session), project)


class TestListSorting:
    async def test_default_order_is_sprint_number_then_rank_backlog_last(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        # Created out of number order, so sprint ids and numbers disagree.
        ten = await make_sprint(session, owner, project, number=10)
        nine = await make_sprint(session, owner, project, number=9)
        await make_story(session, owner, project, key="B-1")
        await make_story(session, owner, project, key="10.1", sprint_id=ten.id)
        await make_story(session, owner, project, key="9.1", sprint_id=nine.id)
        await make_story(session, owner, project, key="9.2", sprint_id=nine.id)
        await story_service.move(session, owner, project, "9.2", StoryMove(before="9.1"))

        assert await _keys(session, owner, project) == ["9.2", "9.1", "10.1", "B-1"]
        assert await _keys(session, owner, project, sort="-rank") == ["10.1", "9.1", "9.2", "B-1"]

    async def test_priority_and_status_sort_by_meaning_not_alphabet(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        for key, priority in [("l", "low"), ("c", "critical"), ("m", "medium"), ("h", "high")]:
            await make_story(session, owner, project, key=key, priority=Priority(priority))
        assert await _keys(session, owner, project, sort="priority") == ["c", "h", "m", "l"]
        assert await _keys(session, owner, project, sort="-priority") == ["l", "m", "h", "c"]

        await session.execute(update(Story).where(Story.key == "c").values(status="done"))
        await session.execute(update(Story).where(Story.key == "h").values(status="review"))
        assert (await _keys(session, owner, project, sort="status"))[-2:] == ["h", "c"]

    async def test_stories_without_points_sort_last_both_ways(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        await make_story(session, owner, project, key="none", points=None)
        await make_story(session, owner, project, key="five", points=5)
        await make_story(session, owner, project, key="one", points=1)
        assert await _keys(session, owner, project, sort="points") == ["one", "five", "none"]
        assert await _keys(session, owner, project, sort="-points") == ["five", "one", "none"]

    async def test_sort_names_match_the_api_vocabulary(self) -> None:
        offered = {name.removeprefix("-") for name in get_args(StorySort)}
        assert offered == set(STORY_SORTING.orders)

    async def test_unknown_sort_is_invalid_input(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        with pytest.raises(InvalidInput, match="sort: one of"):
            await _keys(session, owner, project, sort="title")


class TestListPagination:
    @pytest.fixture
    async def stories(self, session: AsyncSession, owner: User, project: Project) -> list[str]:
        """Eleven stories with ties and missing values in every sort key."""
        nine = await make_sprint(session, owner, project, number=9)
        keys = []
        for index in range(11):
            story = await make_story(
                session,
                owner,
                project,
                key=f"K{index:02}",
                points=None if index % 4 == 0 else index % 3,
                priority=list(Priority)[index % 2],
                status=list(StoryStatus)[index % 3],
                sprint_id=nine.id if index % 2 else None,
            )
            keys.append(story.key)
        # Equal timestamps, so only the id tells them apart.
        await session.execute(
            update(Story)
            .where(Story.project_id == project.id)
            .values(created_at=Story.updated_at, updated_at=Story.updated_at)
        )
        return keys

    @pytest.mark.parametrize("sort", get_args(StorySort))
    async def test_pages_join_up_to_the_whole_list(
        self,
        session: AsyncSession,
        owner: User,
        project: Project,
        stories: list[str],
        sort: str,
    ) -> None:
        pages = await _page_through(session, owner, project, sort=sort, limit=3)
        assert [len(page) for page in pages] == [3, 3, 3, 2]
        joined = [key for page in pages for key in page]
        assert joined == await _keys(session, owner, project, sort=sort)
        assert sorted(joined) == stories

    async def test_pages_respect_filters(
        self, session: AsyncSession, owner: User, project: Project, stories: list[str]
    ) -> None:
        filters = StoryFilter(sprint="backlog")
        pages = await _page_through(session, owner, project, filters, sort="-points", limit=2)
        joined = [key for page in pages for key in page]
        assert joined == await _keys(session, owner, project, filters, sort="-points")
        assert len(joined) == 6

    async def test_a_story_added_behind_the_cursor_does_not_shift_the_pages(
        self, session: AsyncSession, owner: User, project: Project, stories: list[str]
    ) -> None:
        first = await story_service.list_filtered(
            session, owner, project, StoryFilter(), sort="key", limit=4
        )
        await make_story(session, owner, project, key="A00")
        rest = await _keys_after(session, owner, project, "key", first.next_cursor)
        assert [s.key for s in first.items] + rest == stories

    async def test_exact_last_page_has_no_cursor(
        self, session: AsyncSession, owner: User, project: Project, stories: list[str]
    ) -> None:
        page = await story_service.list_filtered(
            session, owner, project, StoryFilter(), sort="key", limit=11
        )
        assert (len(page.items), page.next_cursor) == (11, None)

    async def test_cursor_of_another_sort_is_invalid(
        self, session: AsyncSession, owner: User, project: Project, stories: list[str]
    ) -> None:
        page = await story_service.list_filtered(
            session, owner, project, StoryFilter(), sort="key", limit=2
        )
        with pytest.raises(InvalidInput, match="cursor"):
            await story_service.list_filtered(
                session, owner, project, StoryFilter(), sort="-key", cursor=page.next_cursor
            )

    @pytest.mark.parametrize(
        ("sort", "cursor"),
        [
            ("points", "not base64 at all!"),
            ("points", base64.urlsafe_b64encode(b"[1, 2]").decode()),
            ("points", base64.urlsafe_b64encode(b"{").decode()),
            ("points", encode_cursor("points", [1])),
            ("points", encode_cursor("points", ["one", 1])),
            ("points", encode_cursor("points", [1, True])),
            ("key", encode_cursor("key", [None, 1])),
            ("created_at", encode_cursor("created_at", ["yesterday", 1])),
            ("created_at", encode_cursor("created_at", ["2026-01-01T00:00:00", 1])),
        ],
    )
    async def test_damaged_cursor_is_invalid_input(
        self, session: AsyncSession, owner: User, project: Project, sort: str, cursor: str
    ) -> None:
        with pytest.raises(InvalidInput, match="cursor"):
            await story_service.list_filtered(
                session, owner, project, StoryFilter(), sort=sort, cursor=cursor
            )


async def _keys_after(
    session: AsyncSession, owner: User, project: Project, sort: str, cursor: str | None
) -> list[str]:
    keys: list[str] = []
    while cursor:
        page = await story_service.list_filtered(
            session, owner, project, StoryFilter(), sort=sort, limit=4, cursor=cursor
        )
        keys += [story.key for story in page.items]
        cursor = page.next_cursor
    return keys


class TestBoard:
    async def test_sprint_stories_by_rank_with_task_counts(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        sprint = await make_sprint(session, owner, project, number=4)
        first = await make_story(session, owner, project, key="4.1", sprint_id=sprint.id)
        second = await make_story(session, owner, project, key="4.2", sprint_id=sprint.id)
        await make_story(session, owner, project, key="elsewhere")
        parent = await make_task(session, owner, project, first, done=True)
        await make_task(session, owner, project, first, parent_id=parent.id)
        await make_task(session, owner, project, first, done=True)
        trashed = await make_task(session, owner, project, first, done=True)
        await task_service.delete(session, owner, project, trashed.id)
        await story_service.move(session, owner, project, "4.2", StoryMove(before="4.1"))

        rows = await story_service.list_for_board(session, owner, project.key, 4)
        assert [(r["key"], r["tasks_total"], r["tasks_done"]) for r in rows] == [
            ("4.2", 0, 0),
            ("4.1", 3, 2),
        ]
        assert (rows[0]["id"], rows[0]["version"]) == (second.id, 2)

    async def test_backlog_holds_the_stories_in_no_sprint(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        sprint = await make_sprint(session, owner, project)
        await make_story(session, owner, project, key="in-sprint", sprint_id=sprint.id)
        await make_story(session, owner, project, key="B1")
        await make_story(session, owner, project, key="B2")
        rows = await story_service.list_for_board(session, owner, project.key, None)
        assert [r["key"] for r in rows] == ["B1", "B2"]

    async def test_viewer_reads_the_board(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        await make_story(session, owner, project, key="B1")
        viewer = await make_member(session, project, Role.VIEWER)
        rows = await story_service.list_for_board(session, viewer, project.key, None)
        assert [r["key"] for r in rows] == ["B1"]

    async def test_non_member_and_unknown_project_get_not_found(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        await make_sprint(session, owner, project, number=1)
        stranger = await make_user(session)
        with pytest.raises(NotFound, match="project 'SL' not found"):
            await story_service.list_for_board(session, stranger, project.key, 1)
        with pytest.raises(NotFound, match="project 'NOPE' not found"):
            await story_service.list_for_board(session, owner, "NOPE", None)

    async def test_unknown_or_trashed_sprint_is_not_found(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        sprint = await make_sprint(session, owner, project, number=2)
        with pytest.raises(NotFound, match="sprint 3 not found"):
            await story_service.list_for_board(session, owner, project.key, 3)
        from plandeck.plans.sprints import sprint_service

        await sprint_service.delete(session, owner, project, sprint.id)
        with pytest.raises(NotFound, match="sprint 2 not found"):
            await story_service.list_for_board(session, owner, project.key, 2)

    async def test_statement_count_does_not_grow_with_the_stories(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        small = await make_sprint(session, owner, project, number=5)
        large = await make_sprint(session, owner, project, number=50)
        for sprint, count in ((small, 5), (large, 50)):
            for index in range(count):
                story = await make_story(session, owner, project, sprint_id=sprint.id)
                for done in (True, False)[: index % 3]:
                    await make_task(session, owner, project, story, done=done)
        session.expunge_all()
        actor = await session.get(User, owner.id)
        assert actor is not None

        counts = {}
        for number in (5, 50):
            with count_statements(session) as statements:
                rows = await story_service.list_for_board(session, actor, project.key, number)
            assert len(rows) == number
            counts[number] = len(statements)
        assert counts == {5: 1, 50: 1}

    async def test_board_json_is_the_rows_as_the_api_writes_them(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        sprint = await make_sprint(session, owner, project, number=6)
        criteria = [
            {"text": 'ذخیره <b>شود</b> "quoted"', "done": True},
            {"text": "b", "done": False},
        ]
        first = await make_story(
            session,
            owner,
            project,
            key="6.1",
            sprint_id=sprint.id,
            points=5,
            title="عنوان\nwith \\ and \u2028",
            acceptance_criteria=criteria,
            moscow=MoSCoW.MUST,
        )
        await make_story(session, owner, project, key="6.2", sprint_id=sprint.id)
        await make_task(session, owner, project, first, done=True)
        await make_task(session, owner, project, first)
        await make_story(session, owner, project, key="B1")

        for number in (6, None):
            rows = await story_service.list_for_board(session, owner, project.key, number)
            with count_statements(session) as statements:
                body = await story_service.board_json_if_visible(
                    session, owner.id, project.key, number
                )
            assert body is not None
            assert len(statements) == 1
            written = orjson.loads(body)
            assert [row.keys() for row in written] == [row.keys() for row in rows]
            for row in rows:
                row.update(
                    {key: row[key].isoformat() for key in ("created_at", "updated_at") if row[key]}
                )
            for row in written:
                for key in ("created_at", "updated_at"):
                    assert row[key].endswith("Z")
                    row[key] = datetime.fromisoformat(row[key]).isoformat()
            assert written == orjson.loads(orjson.dumps(rows))

    async def test_board_json_is_none_when_nothing_is_visible(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        await make_sprint(session, owner, project, number=7)
        await make_story(session, owner, project, key="B1")
        stranger = await make_user(session)
        visible = story_service.board_json_if_visible
        assert await visible(session, owner.id, project.key, 7) is None  # empty sprint
        assert await visible(session, owner.id, project.key, 8) is None  # no such sprint
        assert await visible(session, stranger.id, project.key, None) is None
        assert await visible(session, owner.id, project.key, None) is not None
        owner.is_active = False
        await session.flush()
        assert await visible(session, owner.id, project.key, None) is None


class TestMoveStory:
    @pytest.fixture
    async def sprint(self, session: AsyncSession, owner: User, project: Project) -> Sprint:
        sprint = await make_sprint(session, owner, project, number=7)
        for index in range(1, 4):
            await make_story(session, owner, project, key=f"7.{index}", sprint_id=sprint.id)
        return sprint

    async def test_moves_between_neighbours_in_another_sprint_with_activity(
        self, session: AsyncSession, owner: User, project: Project, sprint: Sprint
    ) -> None:
        story = await make_story(session, owner, project, key="B-1")
        old_rank = story.rank
        moved = await story_service.move(
            session,
            owner,
            project,
            "B-1",
            StoryMove(sprint=7, status=StoryStatus.APPROVED, after="7.1", before="7.2"),
        )
        assert (moved.sprint_id, moved.status, moved.version) == (
            sprint.id,
            StoryStatus.APPROVED,
            2,
        )
        assert await _order(session, owner, project, sprint) == ["7.1", "B-1", "7.2", "7.3"]
        event = await session.scalar(
            select(ActivityEvent).where(
                ActivityEvent.entity_type == EntityType.STORY,
                ActivityEvent.entity_id == story.id,
                ActivityEvent.action == ActivityAction.MOVED,
            )
        )
        assert event is not None
        assert event.before == {"sprint_id": None, "status": "draft", "rank": old_rank}
        assert event.after == {"sprint_id": sprint.id, "status": "approved", "rank": moved.rank}

    @pytest.mark.parametrize(
        ("move", "order"),
        [
            (StoryMove(after="7.3"), ["7.2", "7.3", "7.1"]),
            (StoryMove(before="7.3"), ["7.2", "7.1", "7.3"]),
            (StoryMove(after="7.2"), ["7.2", "7.1", "7.3"]),
            (StoryMove(before="7.2"), ["7.1", "7.2", "7.3"]),
            (StoryMove(after="7.2", before="7.3"), ["7.2", "7.1", "7.3"]),
        ],
    )
    async def test_reorders_within_the_sprint(
        self,
        session: AsyncSession,
        owner: User,
        project: Project,
        sprint: Sprint,
        move: StoryMove,
        order: list[str],
    ) -> None:
        await story_service.move(session, owner, project, "7.1", move)
        assert await _order(session, owner, project, sprint) == order

    async def test_to_the_backlog_without_neighbours_goes_to_its_end(
        self, session: AsyncSession, owner: User, project: Project, sprint: Sprint
    ) -> None:
        await make_story(session, owner, project, key="B-1")
        await story_service.move(session, owner, project, "7.2", StoryMove(sprint=None))
        assert await _order(session, owner, project, None) == ["B-1", "7.2"]
        assert await _order(session, owner, project, sprint) == ["7.1", "7.3"]

    async def test_status_only_keeps_the_place(
        self, session: AsyncSession, owner: User, project: Project, sprint: Sprint
    ) -> None:
        before = await _ranks(session, project, sprint)
        moved = await story_service.move(
            session, owner, project, "7.2", StoryMove(status=StoryStatus.IN_PROGRESS)
        )
        assert moved.status is StoryStatus.IN_PROGRESS
        assert await _ranks(session, project, sprint) == before

    async def test_move_that_changes_nothing_writes_nothing(
        self, session: AsyncSession, owner: User, project: Project, sprint: Sprint
    ) -> None:
        moved = await story_service.move(session, owner, project, "7.2", StoryMove(sprint=7))
        assert moved.version == 1
        events = await session.scalar(
            select(ActivityEvent.id).where(ActivityEvent.action == ActivityAction.MOVED)
        )
        assert events is None

    async def test_neighbour_that_moved_meanwhile_is_honoured_where_it_is_now(
        self, session: AsyncSession, owner: User, project: Project, sprint: Sprint
    ) -> None:
        # A client read 7.1, 7.2, 7.3 and asks for "after 7.1", but someone has moved 7.1 to
        # the end since: the story goes after 7.1 where 7.1 is now.
        await story_service.move(session, owner, project, "7.1", StoryMove(after="7.3"))
        story = await make_story(session, owner, project, key="moved")
        await story_service.move(
            session, owner, project, story.key, StoryMove(sprint=7, after="7.1")
        )
        assert await _order(session, owner, project, sprint) == ["7.2", "7.3", "7.1", "moved"]

    async def test_two_moves_into_one_gap_get_distinct_ordered_ranks(
        self, session: AsyncSession, owner: User, project: Project, sprint: Sprint
    ) -> None:
        for key in ("B-1", "B-2"):
            await make_story(session, owner, project, key=key)
            await story_service.move(
                session, owner, project, key, StoryMove(sprint=7, after="7.1", before="7.2")
            )
        assert await _order(session, owner, project, sprint) == ["7.1", "B-2", "B-1", "7.2", "7.3"]
        ranks = await _ranks(session, project, sprint)
        assert len(set(ranks)) == len(ranks) == 5

    async def test_neighbours_out_of_order_are_a_conflict(
        self, session: AsyncSession, owner: User, project: Project, sprint: Sprint
    ) -> None:
        with pytest.raises(Conflict, match=r"7\.3 is no longer before 7\.2"):
            await story_service.move(
                session, owner, project, "7.1", StoryMove(after="7.3", before="7.2")
            )

    @pytest.mark.parametrize(
        ("move", "message"),
        [
            (StoryMove(after="9.9"), "after: no story 9.9"),
            (StoryMove(before="7.1"), "before: a story cannot be placed next to itself"),
            (StoryMove(sprint=None, after="7.2"), "after: story 7.2 is not in the sprint"),
            (StoryMove(sprint=99), "sprint: no sprint 99"),
        ],
    )
    async def test_bad_targets_are_invalid_input(
        self,
        session: AsyncSession,
        owner: User,
        project: Project,
        sprint: Sprint,
        move: StoryMove,
        message: str,
    ) -> None:
        with pytest.raises(InvalidInput, match=message):
            await story_service.move(session, owner, project, "7.1", move)

    async def test_trashed_neighbour_is_invalid_input(
        self, session: AsyncSession, owner: User, project: Project, sprint: Sprint
    ) -> None:
        three = await story_service.get_by_key(session, owner, project, "7.3")
        await story_service.delete(session, owner, project, three.id)
        with pytest.raises(InvalidInput, match=r"after: no story 7\.3"):
            await story_service.move(session, owner, project, "7.1", StoryMove(after="7.3"))

    async def test_schema_refuses_null_status_and_same_neighbours(self) -> None:
        with pytest.raises(ValueError, match="status cannot be null"):
            StoryMove(status=None)
        with pytest.raises(ValueError, match="must be different"):
            StoryMove(before="1", after="1")

    async def test_tied_ranks_are_respaced(
        self, session: AsyncSession, owner: User, project: Project, sprint: Sprint
    ) -> None:
        await session.execute(update(Story).where(Story.sprint_id == sprint.id).values(rank="a0"))
        await story_service.move(session, owner, project, "7.3", StoryMove(after="7.1"))
        assert await _order(session, owner, project, sprint) == ["7.1", "7.3", "7.2"]
        ranks = await _ranks(session, project, sprint)
        assert len(set(ranks)) == 3

    async def test_many_moves_into_one_gap_keep_ranks_short_and_ordered(
        self, session: AsyncSession, owner: User, project: Project, sprint: Sprint
    ) -> None:
        # Always right before 7.2: each new rank is squeezed under the last one.
        for index in range(120):
            story = await make_story(session, owner, project, key=f"M{index}")
            await story_service.move(
                session, owner, project, story.key, StoryMove(sprint=7, before="7.2")
            )
        order = await _order(session, owner, project, sprint)
        assert order == ["7.1", *[f"M{i}" for i in range(120)], "7.2", "7.3"]
        ranks = await _ranks(session, project, sprint)
        assert len(set(ranks)) == len(ranks)
        assert max(len(rank) for rank in ranks) <= 48

    async def test_stale_version_is_refused(
        self, session: AsyncSession, owner: User, project: Project, sprint: Sprint
    ) -> None:
        with pytest.raises(StaleVersion, match="is at version 1, not 3"):
            await story_service.move(
                session, owner, project, "7.1", StoryMove(after="7.3", version=3)
            )

    async def test_viewer_cannot_move_non_member_gets_not_found(
        self, session: AsyncSession, owner: User, project: Project, sprint: Sprint
    ) -> None:
        viewer = await make_member(session, project, Role.VIEWER)
        with pytest.raises(Forbidden):
            await story_service.move(session, viewer, project, "7.1", StoryMove(after="7.3"))
        with pytest.raises(NotFound):
            await story_service.move(
                session, await make_user(session), project, "7.1", StoryMove(after="7.3")
            )

    async def test_unknown_story_is_not_found(
        self, session: AsyncSession, owner: User, project: Project, sprint: Sprint
    ) -> None:
        with pytest.raises(NotFound, match=r"story 8\.1 not found"):
            await story_service.move(session, owner, project, "8.1", StoryMove(after="7.3"))


class TestConcurrentMoves:
    async def test_two_sessions_moving_into_one_gap_take_turns(
        self, fresh_database: TestDatabase
    ) -> None:
        """The second move waits for the first (a lock on the sprint's row on PostgreSQL,
        BEGIN IMMEDIATE on SQLite) and places its story from the list as the first left it."""
        sessionmaker = create_sessionmaker(fresh_database.engine)
        async with unit_of_work(sessionmaker) as session:
            owner = await make_user(session)
            project = await make_project(session, owner, key="CC")
            sprint = await make_sprint(session, owner, project, number=1)
            for key in ("1.1", "1.2", "A", "B"):
                await make_story(
                    session, owner, project, key=key, sprint_id=sprint.id if "." in key else None
                )
        gap = {"sprint": 1, "after": "1.1", "before": "1.2"}

        first_moved = asyncio.Event()
        release_first = asyncio.Event()

        async def move_first() -> None:
            async with unit_of_work(sessionmaker) as session:
                actor, in_project = await _reload(session, owner, project)
                await story_service.move(session, actor, in_project, "A", StoryMove(**gap))
                first_moved.set()
                await release_first.wait()

        async def move_second() -> None:
            await first_moved.wait()
            async with unit_of_work(sessionmaker) as session:
                actor, in_project = await _reload(session, owner, project)
                await story_service.move(session, actor, in_project, "B", StoryMove(**gap))

        first = asyncio.create_task(move_first())
        second = asyncio.create_task(move_second())
        await first_moved.wait()
        await asyncio.sleep(0.3)
        assert not second.done(), "the second move must wait for the first to commit"
        release_first.set()
        await asyncio.wait_for(asyncio.gather(first, second), timeout=30)

        async with unit_of_work(sessionmaker, read_only=True) as session:
            actor, in_project = await _reload(session, owner, project)
            rows = await story_service.list_for_board(session, actor, in_project.key, 1)
        assert [row["key"] for row in rows] == ["1.1", "B", "A", "1.2"]
        ranks = [row["rank"] for row in rows]
        assert ranks == sorted(ranks)
        assert len(set(ranks)) == 4


class TestConcurrentCreates:
    async def test_two_sessions_creating_stories_get_the_next_keys_in_turn(
        self, fresh_database: TestDatabase
    ) -> None:
        """Both keys are generated: the second create waits for the first to commit (the
        project's row is held on PostgreSQL) and takes the key after it, instead of the same
        key and a 409 from the unique constraint (found by the scale-out load test)."""
        sessionmaker = create_sessionmaker(fresh_database.engine)
        async with unit_of_work(sessionmaker) as session:
            owner = await make_user(session)
            project = await make_project(session, owner, key="CK")
        first_created = asyncio.Event()
        release_first = asyncio.Event()

        async def create(title: str, *, hold: bool) -> str:
            async with unit_of_work(sessionmaker) as session:
                actor, in_project = await _reload(session, owner, project)
                story = await story_service.create(
                    session, actor, in_project, StoryCreate(title=title)
                )
                if hold:
                    first_created.set()
                    await release_first.wait()
                return story.key

        first = asyncio.create_task(create("first", hold=True))
        await first_created.wait()
        second = asyncio.create_task(create("second", hold=False))
        await asyncio.sleep(0.3)
        assert not second.done(), "the second create must wait for the first to commit"
        release_first.set()
        keys = await asyncio.wait_for(asyncio.gather(first, second), timeout=30)
        assert keys == ["CK-1", "CK-2"]


async def _reload(session: AsyncSession, owner: User, project: Project) -> tuple[User, Project]:
    actor = await session.get(User, owner.id)
    in_project = await session.get(Project, project.id)
    assert actor is not None
    assert in_project is not None
    return actor, in_project
