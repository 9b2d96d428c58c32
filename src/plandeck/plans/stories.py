"""Stories: the unit of planned work."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    Text,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    or_,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.auth.roles import membership_of, require_role
from plandeck.errors import Conflict, InvalidInput, NotFound
from plandeck.kit.audit import snapshot
from plandeck.kit.driver import fetch_value
from plandeck.kit.integrity import flush
from plandeck.kit.pagination import Page, Sorting, SortKey, paginate
from plandeck.models import (
    ActivityAction,
    EntityType,
    Membership,
    Phase,
    Priority,
    Project,
    Role,
    Sprint,
    Story,
    StoryStatus,
    Task,
    User,
)
from plandeck.models.base import UTCDateTime
from plandeck.plans import schemas
from plandeck.plans.base import ProjectChildService, ensure_free
from plandeck.plans.common import check_version, live_reference, lock_project
from plandeck.plans.ranking import last_rank, rank_between
from plandeck.plans.schemas import StoryCreate, StoryFilter, StoryMove, StoryUpdate

_KEY_PREFIX_LENGTH = 20
_NUMBERED_KEY = re.compile(r"^(?P<prefix>.*?)(?P<number>\d+)$")
# A rank longer than this makes the list's ranks respaced: the column holds 64 characters,
# and ranks only grow that long from many moves into the same gap.
_MAX_RANK_LENGTH = 48
_MOVE_FIELDS = ("sprint_id", "status", "rank")


def _order_of(column: Any, members: type[Priority] | type[StoryStatus]) -> ColumnElement[int]:
    """An enum column by its members' declared order (most urgent priority first, workflow
    order for statuses), not alphabetically."""
    return case({member: index for index, member in enumerate(members)}, value=column)


STORY_SORTING = Sorting(
    orders={
        # The plan's own order: by sprint number (the backlog last), then by rank.
        "rank": (SortKey(Sprint.number, int, nullable=True), SortKey(Story.rank, str)),
        "key": (SortKey(Story.key, str),),
        "points": (SortKey(Story.points, int, nullable=True),),
        "priority": (SortKey(_order_of(Story.priority, Priority), int),),
        "status": (SortKey(_order_of(Story.status, StoryStatus), int),),
        "created_at": (SortKey(Story.created_at, datetime),),
        "updated_at": (SortKey(Story.updated_at, datetime),),
    },
    tiebreaker=SortKey(Story.id, int),
    default="rank",
)

# The board reads the columns the Story schema shows as plain rows: no ORM objects to build.
_BOARD_COLUMNS = tuple(getattr(Story, name) for name in schemas.Story.model_fields)


async def live_story_by_key(session: AsyncSession, project: Project, key: str) -> Story:
    """A story of the project that is not in the trash; the caller has checked the role."""
    story = await session.scalar(
        select(Story).where(
            Story.project_id == project.id, Story.key == key, Story.deleted_at.is_(None)
        )
    )
    if story is None:
        raise NotFound(f"story {key} not found in project {project.key}")
    return story


def _in_list(project_id: int, sprint_id: int | None) -> ColumnElement[bool]:
    """The live stories of a sprint, or of the backlog for ``None``."""
    return and_(
        Story.project_id == project_id,
        Story.deleted_at.is_(None),
        Story.sprint_id.is_(None) if sprint_id is None else Story.sprint_id == sprint_id,
    )


class StoryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> StoryRepository:
        return cls(session)

    def filtered(self, project: Project, filters: StoryFilter, actor: User) -> Select[Any]:
        """The project's live stories that pass ``filters``; their sprint is joined for sorting."""
        statement = (
            select(Story)
            .outerjoin(Sprint, Sprint.id == Story.sprint_id)
            .where(Story.project_id == project.id, Story.deleted_at.is_(None))
        )
        if filters.status:
            statement = statement.where(Story.status.in_(filters.status))
        if filters.priority:
            statement = statement.where(Story.priority.in_(filters.priority))
        if filters.moscow:
            statement = statement.where(Story.moscow.in_(filters.moscow))
        if filters.assignee == "none":
            statement = statement.where(Story.assignee_id.is_(None))
        elif filters.assignee is not None:
            assignee = actor.id if filters.assignee == "me" else filters.assignee
            statement = statement.where(Story.assignee_id == assignee)
        if filters.sprint == "backlog":
            statement = statement.where(Story.sprint_id.is_(None))
        elif filters.sprint is not None:
            statement = statement.where(Sprint.number == filters.sprint)
        if filters.q:
            # icontains is ILIKE on PostgreSQL and lower() LIKE lower() on SQLite.
            statement = statement.where(
                or_(
                    Story.key.icontains(filters.q, autoescape=True),
                    Story.title.icontains(filters.q, autoescape=True),
                    Story.description.icontains(filters.q, autoescape=True),
                )
            )
        return statement

    async def board_access(
        self, user: User, project_key: str, sprint_number: int | None
    ) -> Row[*tuple[Any, ...]] | None:
        """(project_id, role, sprint_id) in one query: the project if ``user`` is a member,
        their role, and the live sprint with that number (None when there is none)."""
        statement = _BACKLOG_ACCESS if sprint_number is None else _SPRINT_ACCESS
        params = {"user_id": user.id, "project_key": project_key, "number": sprint_number}
        return (await self.session.execute(statement, params)).first()

    async def board(
        self, user_id: int, project_key: str, sprint_number: int | None
    ) -> list[dict[str, Any]]:
        """A list's stories by rank with their live task counts, as plain dicts, in one
        statement that also checks the caller: empty when the user is not an active member,
        the sprint does not exist, or it has no stories. Run on the session's connection:
        Core rows, no ORM execution machinery."""
        statement = _BACKLOG_BOARD if sprint_number is None else _SPRINT_BOARD
        params = {"user_id": user_id, "project_key": project_key, "number": sprint_number}
        result = await (await self.session.connection()).execute(statement, params)
        columns = tuple(result.keys())
        return [dict(zip(columns, row, strict=True)) for row in result]

    async def board_json(
        self, user_id: int, project_key: str, sprint_number: int | None
    ) -> bytes | None:
        """``board`` as the JSON array the API sends, or None when there are no rows.

        On PostgreSQL the database writes the JSON (``json_agg``): the rows never become
        Python objects, which is most of what the board costs in Python. Elsewhere the
        rows are read and serialised with orjson.
        """
        connection = await self.session.connection()
        params = {"user_id": user_id, "project_key": project_key, "number": sprint_number}
        if connection.dialect.name == "postgresql":
            statement = _BACKLOG_BOARD_JSON if sprint_number is None else _SPRINT_BOARD_JSON
            text: str | None = await fetch_value(connection, statement, params)
            return None if text is None else text.encode()
        rows = await self.board(user_id, project_key, sprint_number)
        return orjson.dumps(rows, option=orjson.OPT_UTC_Z) if rows else None


def _board_access_statement(*, sprint: bool) -> Select[*tuple[Any, ...]]:
    statement = (
        select(Project.id.label("project_id"), Membership.role)
        .join(
            Membership,
            and_(Membership.project_id == Project.id, Membership.user_id == bindparam("user_id")),
        )
        .where(Project.key == bindparam("project_key"))
    )
    if sprint:
        statement = statement.add_columns(Sprint.id.label("sprint_id")).outerjoin(
            Sprint,
            and_(
                Sprint.project_id == Project.id,
                Sprint.number == bindparam("number"),
                Sprint.deleted_at.is_(None),
            ),
        )
    return statement


def _board_statement(*, sprint: bool) -> Select[*tuple[Any, ...]]:
    """The stories of a sprint (by number) or of the backlog, with the caller's check
    folded in: the project is found by key and joined to the caller's membership and
    account, so a non-member or a deactivated user gets no rows."""
    statement = (
        select(
            *_BOARD_COLUMNS,
            func.count(Task.id).label("tasks_total"),
            func.count(case((Task.done, Task.id))).label("tasks_done"),
        )
        .join(
            Project, and_(Project.id == Story.project_id, Project.key == bindparam("project_key"))
        )
        .join(
            Membership,
            and_(Membership.project_id == Project.id, Membership.user_id == bindparam("user_id")),
        )
        .join(User, and_(User.id == Membership.user_id, User.is_active))
        .outerjoin(Task, and_(Task.story_id == Story.id, Task.deleted_at.is_(None)))
        .where(Story.deleted_at.is_(None))
        .group_by(Story.id)
        .order_by(Story.rank, Story.id)
    )
    if not sprint:
        return statement.where(Story.sprint_id.is_(None))
    return statement.join(
        Sprint,
        and_(
            Sprint.id == Story.sprint_id,
            Sprint.number == bindparam("number"),
            Sprint.deleted_at.is_(None),
        ),
    )


# The board is the busiest read, so its statements are built once, with parameters: building
# one costs about as much as running it.
_SPRINT_ACCESS = _board_access_statement(sprint=True)
_BACKLOG_ACCESS = _board_access_statement(sprint=False)
_SPRINT_BOARD = _board_statement(sprint=True)
_BACKLOG_BOARD = _board_statement(sprint=False)

# RFC 3339 in UTC with a Z, as the API writes every timestamp; constants in the SQL text.
_UTC: ColumnElement[str] = literal_column("'UTC'")
_UTC_ISO_FORMAT: ColumnElement[str] = literal_column("""'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'""")


def _board_json_statement(board: Select[Any]) -> Select[tuple[str | None]]:
    """``board`` as one JSON array built by PostgreSQL (NULL when it has no rows): the
    same keys and values as the rows serialised in Python, timestamps as UTC with a Z."""
    columns = [
        func.to_char(func.timezone(_UTC, column), _UTC_ISO_FORMAT).label(column.name)
        if isinstance(column.type, UTCDateTime)
        else column
        for column in board.selected_columns
    ]
    rows = (
        board.with_only_columns(*columns, maintain_column_froms=True)
        .order_by(None)
        .subquery("board")
    )
    return select(
        cast(func.json_agg(aggregate_order_by(rows.table_valued(), rows.c.rank, rows.c.id)), Text)
    )


_SPRINT_BOARD_JSON = _board_json_statement(_SPRINT_BOARD)
_BACKLOG_BOARD_JSON = _board_json_statement(_BACKLOG_BOARD)


class StoryService(ProjectChildService[Story]):
    model = Story
    entity_type = EntityType.STORY
    edit_role = Role.MEMBER
    fields = (
        "key",
        "title",
        "description",
        "notes",
        "acceptance_criteria",
        "points",
        "priority",
        "status",
        "moscow",
        "phase_id",
        "sprint_id",
        "assignee_id",
        "rank",
    )
    order_by = ("sprint_id", "rank")

    async def _key_free(self, session: AsyncSession, project: Project, key: str) -> None:
        taken = await session.scalar(
            select(Story.id).where(Story.project_id == project.id, Story.key == key)
        )
        ensure_free(taken, f"{project.key} already has a story {key} (perhaps in the trash)", "key")

    async def _next_key(
        self, session: AsyncSession, project: Project, sprint: Sprint | None
    ) -> str:
        """``S.N`` for a story created in sprint S (after that sprint's highest N); ``KEY-N`` otherwise."""
        # A long project key is shortened so that the key fits its column with room for
        # ten digits; it is the same prefix every time, so the numbering stays consistent.
        prefix = f"{sprint.number}." if sprint else f"{project.key[:_KEY_PREFIX_LENGTH]}-"
        keys = (
            await session.scalars(
                select(Story.key).where(
                    Story.project_id == project.id, Story.key.startswith(prefix, autoescape=True)
                )
            )
        ).all()
        numbers = [
            int(match["number"])
            for key in keys
            if (match := _NUMBERED_KEY.match(key)) and match["prefix"] == prefix
        ]
        return f"{prefix}{max(numbers, default=0) + 1}"

    async def _check_assignee(
        self, session: AsyncSession, project: Project, assignee_id: int | None
    ) -> None:
        if assignee_id is None:
            return
        user = await session.get(User, assignee_id)
        if user is None or await membership_of(session, user, project.id) is None:
            raise InvalidInput(
                f"assignee_id: user {assignee_id} is not a member of {project.key}",
                field="assignee_id",
            )

    async def create(
        self, session: AsyncSession, actor: User, project: Project, data: StoryCreate
    ) -> Story:
        await require_role(session, actor, project, self.edit_role)
        await live_reference(session, Phase, project, data.phase_id, "phase_id")
        sprint = await live_reference(session, Sprint, project, data.sprint_id, "sprint_id")
        await self._check_assignee(session, project, data.assignee_id)
        values = data.model_dump()
        if data.key is None:
            await lock_project(session, project)
            values["key"] = await self._next_key(session, project, sprint)
        else:
            await self._key_free(session, project, data.key)
        if data.phase_id is None and sprint is not None:
            values["phase_id"] = sprint.phase_id
        rank = rank_between(await last_rank(session, project.id, data.sprint_id), None)
        story = Story(project_id=project.id, reporter_id=actor.id, rank=rank, **values)
        return await self._created(session, actor, story)

    async def get_by_key(
        self, session: AsyncSession, actor: User, project: Project, key: str
    ) -> Story:
        await require_role(session, actor, project, Role.VIEWER)
        return await live_story_by_key(session, project, key)

    async def list_for_sprint(
        self, session: AsyncSession, actor: User, project: Project, sprint_id: int | None
    ) -> Sequence[Story]:
        """A sprint's stories by rank; ``None`` lists the backlog."""
        await require_role(session, actor, project, Role.VIEWER)
        where = Story.sprint_id.is_(None) if sprint_id is None else Story.sprint_id == sprint_id
        return (
            await session.scalars(
                select(Story)
                .where(Story.project_id == project.id, Story.deleted_at.is_(None), where)
                .order_by(Story.rank)
            )
        ).all()

    async def update(
        self, session: AsyncSession, actor: User, project: Project, story_id: int, data: StoryUpdate
    ) -> Story:
        return await self.update_fields(session, actor, project, story_id, data)

    async def _validate_changes(
        self, session: AsyncSession, project: Project, obj: Story, changes: dict[str, Any]
    ) -> dict[str, Any]:
        if "key" in changes and changes["key"] != obj.key:
            await self._key_free(session, project, changes["key"])
        if changes.get("phase_id") is not None:
            await live_reference(session, Phase, project, changes["phase_id"], "phase_id")
        if "sprint_id" in changes and changes["sprint_id"] != obj.sprint_id:
            await live_reference(session, Sprint, project, changes["sprint_id"], "sprint_id")
            # A story that changes sprint joins the end of its new list.
            changes["rank"] = rank_between(
                await last_rank(session, project.id, changes["sprint_id"]), None
            )
        if "assignee_id" in changes:
            await self._check_assignee(session, project, changes["assignee_id"])
        return changes

    # By key, as the API addresses stories

    async def update_by_key(
        self,
        session: AsyncSession,
        actor: User,
        project: Project,
        key: str,
        data: StoryUpdate,
    ) -> Story:
        await require_role(session, actor, project, self.edit_role)
        story = await live_story_by_key(session, project, key)
        changes = await self._validate_changes(session, project, story, data.changes())
        return await self._apply(session, actor, story, changes, expected_version=data.version)

    async def delete_by_key(
        self,
        session: AsyncSession,
        actor: User,
        project: Project,
        key: str,
        *,
        expected_version: int | None = None,
    ) -> Story:
        story = await live_story_by_key(session, project, key)
        return await self.delete(
            session, actor, project, story.id, expected_version=expected_version
        )

    # Lists

    async def list_filtered(
        self,
        session: AsyncSession,
        actor: User,
        project: Project,
        filters: StoryFilter,
        *,
        sort: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Story]:
        """One page of the project's stories that pass ``filters``, in ``sort`` order
        (``STORY_SORTING``; by sprint then rank by default)."""
        await require_role(session, actor, project, Role.VIEWER)
        statement = StoryRepository.from_session(session).filtered(project, filters, actor)
        return await paginate(
            session, statement, STORY_SORTING, sort=sort, limit=limit, cursor=cursor
        )

    async def list_for_board(
        self, session: AsyncSession, actor: User, project_key: str, sprint_number: int | None
    ) -> list[dict[str, Any]]:
        """A sprint's stories (the backlog's for ``None``) by rank, each with ``tasks_total``
        and ``tasks_done``, as dicts of the Story schema's fields.

        The board is the busiest read, so it takes the project by key and, when the list
        has stories, makes one query: the stories with their task counts, joined to the
        caller's membership. Only an empty answer needs the second query, which tells an
        empty list from a project the caller may not see (404) or a missing sprint (404).
        """
        if not actor.is_active:
            raise NotFound(f"project {project_key!r} not found")
        repository = StoryRepository.from_session(session)
        # Viewer is the lowest role: being a member is the role check.
        stories = await repository.board(actor.id, project_key, sprint_number)
        if stories:
            return stories
        access = await repository.board_access(actor, project_key, sprint_number)
        if access is None:
            raise NotFound(f"project {project_key!r} not found")
        if sprint_number is not None and access.sprint_id is None:
            raise NotFound(f"sprint {sprint_number} not found in project {project_key}")
        return []

    async def board_json_if_visible(
        self, session: AsyncSession, user_id: int, project_key: str, sprint_number: int | None
    ) -> bytes | None:
        """``list_for_board`` for a caller known by id only (``CurrentUserId``), as the JSON
        array the API sends: the rows when the user is an active member and the list has
        stories, in one query; None otherwise, and then ``list_for_board`` with the loaded
        user says why (or that the list is empty)."""
        return await StoryRepository.from_session(session).board_json(
            user_id, project_key, sprint_number
        )

    # Moves

    async def move(
        self,
        session: AsyncSession,
        actor: User,
        project: Project,
        key: str,
        data: StoryMove,
    ) -> Story:
        """Move a story to another sprint or the backlog and/or status, between two neighbours.

        Moves into one list take turns: the list is locked (its sprint's row, the project's
        for the backlog; SQLite serialises writers anyway), then the story and its neighbours
        are read as they are now, so a neighbour that moved meanwhile is honoured where it
        is and two stories moved into the same gap get distinct ranks in a defined order.
        """
        await require_role(session, actor, project, self.edit_role)
        story = await live_story_by_key(session, project, key)
        if "sprint" in data.model_fields_set:
            sprint_id = await _lock_list(session, project, number=data.sprint)
        else:
            sprint_id = story.sprint_id
            await _lock_list(session, project, sprint_id=sprint_id)
        await session.refresh(story, with_for_update={"key_share": True})
        if story.deleted_at is not None:
            raise NotFound(f"story {key} not found in project {project.key}")
        check_version(self.label, story, data.version)
        before, after = await _neighbours(session, project, story, sprint_id, data)
        rank = await _rank_for(session, project.id, story, sprint_id, after=after, before=before)
        was = snapshot(story, _MOVE_FIELDS)
        story.sprint_id, story.rank = sprint_id, rank
        if data.status is not None:
            story.status = data.status
        now = snapshot(story, _MOVE_FIELDS)
        if now != was:
            self._record(session, actor, story, ActivityAction.MOVED, before=was, after=now)
            await flush(session)
        return story


async def _lock_list(
    session: AsyncSession,
    project: Project,
    *,
    sprint_id: int | None = None,
    number: int | None = None,
) -> int | None:
    """Lock the list a story moves into: the sprint's row (by id or number), or the
    project's row for the backlog. ``FOR NO KEY UPDATE`` leaves inserts that reference the
    row (new stories, activity events) free. Returns the sprint's id."""
    if sprint_id is None and number is None:
        await session.execute(
            select(Project.id).where(Project.id == project.id).with_for_update(key_share=True)
        )
        return None
    if number is None:
        where = Sprint.id == sprint_id
    else:
        where = and_(Sprint.number == number, Sprint.deleted_at.is_(None))
    locked = await session.scalar(
        select(Sprint.id)
        .where(Sprint.project_id == project.id, where)
        .with_for_update(key_share=True)
    )
    if locked is None:
        raise InvalidInput(f"sprint: no sprint {number} in project {project.key}", field="sprint")
    return locked


async def _neighbours(
    session: AsyncSession, project: Project, story: Story, sprint_id: int | None, data: StoryMove
) -> tuple[Story | None, Story | None]:
    """The stories named ``before`` and ``after``, read afresh; each must be in the target list."""
    keys = [key for key in (data.before, data.after) if key is not None]
    if not keys:
        return None, None
    found = {
        neighbour.key: neighbour
        for neighbour in await session.scalars(
            select(Story)
            .where(
                Story.project_id == project.id,
                Story.key.in_(keys),
                Story.deleted_at.is_(None),
            )
            .execution_options(populate_existing=True)
        )
    }
    named: list[Story | None] = []
    for field, key in (("before", data.before), ("after", data.after)):
        neighbour = found.get(key) if key is not None else None
        if key is not None:
            if neighbour is None:
                raise InvalidInput(f"{field}: no story {key} in project {project.key}", field=field)
            if neighbour.id == story.id:
                raise InvalidInput(f"{field}: a story cannot be placed next to itself", field=field)
            if neighbour.sprint_id != sprint_id:
                raise InvalidInput(
                    f"{field}: story {key} is not in the sprint (or backlog) the story moves to",
                    field=field,
                )
        named.append(neighbour)
    return named[0], named[1]


async def _rank_for(
    session: AsyncSession,
    project_id: int,
    story: Story,
    sprint_id: int | None,
    *,
    after: Story | None,
    before: Story | None,
) -> str:
    """The rank that places ``story`` right after ``after`` (or right before ``before``)."""
    if after is None and before is None:
        if sprint_id == story.sprint_id:
            return story.rank
        return rank_between(await last_rank(session, project_id, sprint_id), None)
    if (
        after is not None
        and before is not None
        and (after.rank, after.id) > (before.rank, before.id)
    ):
        raise Conflict(
            f"story {after.key} is no longer before {before.key}; reload the list and try again"
        )
    rank = await _rank_in_gap(session, project_id, story, sprint_id, after=after, before=before)
    if rank is None:
        await _respace(session, project_id, story, sprint_id)
        rank = await _rank_in_gap(session, project_id, story, sprint_id, after=after, before=before)
        assert rank is not None, "respaced ranks leave room in every gap"
    return rank


async def _rank_in_gap(
    session: AsyncSession,
    project_id: int,
    story: Story,
    sprint_id: int | None,
    *,
    after: Story | None,
    before: Story | None,
) -> str | None:
    """A rank between the neighbour and the story next to it now; None if there is no room
    (tied ranks) or the rank would grow too long."""
    if after is not None:
        lower: str | None = after.rank
        upper = await _adjacent_rank(session, project_id, story, sprint_id, after, following=True)
    else:
        assert before is not None
        lower = await _adjacent_rank(session, project_id, story, sprint_id, before, following=False)
        upper = before.rank
    if lower is not None and upper is not None and lower >= upper:
        return None
    rank = rank_between(lower, upper)
    return rank if len(rank) <= _MAX_RANK_LENGTH else None


async def _adjacent_rank(
    session: AsyncSession,
    project_id: int,
    story: Story,
    sprint_id: int | None,
    neighbour: Story,
    *,
    following: bool,
) -> str | None:
    """The rank of the story right after (or before) ``neighbour`` in the list, ``story`` aside."""
    position = tuple_(Story.rank, Story.id)
    mark = tuple_(neighbour.rank, neighbour.id)
    statement = select(Story.rank).where(_in_list(project_id, sprint_id), Story.id != story.id)
    if following:
        statement = statement.where(position > mark).order_by(Story.rank, Story.id)
    else:
        statement = statement.where(position < mark).order_by(Story.rank.desc(), Story.id.desc())
    rank: str | None = await session.scalar(statement.limit(1))
    return rank


async def _respace(
    session: AsyncSession, project_id: int, story: Story, sprint_id: int | None
) -> None:
    """Give the list's stories fresh, short ranks in their current order. Rare: only tied
    ranks or a rank grown long from many moves into the same gap need it."""
    stories = await session.scalars(
        select(Story)
        .where(_in_list(project_id, sprint_id), Story.id != story.id)
        .order_by(Story.rank, Story.id)
        .execution_options(populate_existing=True)
    )
    rank: str | None = None
    for each in stories:
        rank = rank_between(rank, None)
        each.rank = rank
    await flush(session)


story_service = StoryService()
