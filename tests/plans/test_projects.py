from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.errors import Conflict, Forbidden, InvalidInput, NotFound, StaleVersion
from plandeck.models import (
    ActivityAction,
    ActivityEvent,
    Comment,
    EntityType,
    Membership,
    Phase,
    Project,
    Role,
    Sprint,
    Story,
    Task,
    User,
)
from plandeck.plans.projects import project_service
from plandeck.plans.schemas import MembershipCreate, ProjectCreate, ProjectUpdate
from tests.factories.accounts import make_user
from tests.factories.activity import count_events
from tests.factories.comments import make_comment
from tests.factories.plans import (
    add_member,
    make_member,
    make_phase,
    make_project,
    make_sprint,
    make_story,
    make_task,
)


@pytest.fixture
async def project(session: AsyncSession, owner: User) -> Project:
    return await make_project(session, owner, key="PRJ", name="Planner")


async def _role_of(session: AsyncSession, project: Project, user: User) -> Role | None:
    return await session.scalar(
        select(Membership.role).where(
            Membership.project_id == project.id, Membership.user_id == user.id
        )
    )


async def _events(
    session: AsyncSession, entity_type: EntityType, entity_id: int
) -> list[ActivityEvent]:
    return list(
        (
            await session.scalars(
                select(ActivityEvent)
                .where(
                    ActivityEvent.entity_type == entity_type, ActivityEvent.entity_id == entity_id
                )
                .order_by(ActivityEvent.id)
            )
        ).all()
    )


class TestCreateProject:
    def test_key_new_is_reserved_for_the_creation_page(self) -> None:
        with pytest.raises(ValidationError, match="'new' is reserved"):
            ProjectCreate(key="new", name="Shadowed")
        assert ProjectCreate(key="News", name="Fine").key == "News"

    async def test_creator_becomes_owner_and_creation_is_recorded(
        self, session: AsyncSession, owner: User
    ) -> None:
        project = await project_service.create(
            session,
            owner,
            ProjectCreate(key="PD", name="Plandeck", description="d", timezone="Europe/Berlin"),
        )
        assert (project.key, project.name, project.timezone, project.version) == (
            "PD",
            "Plandeck",
            "Europe/Berlin",
            1,
        )
        assert await _role_of(session, project, owner) is Role.OWNER
        events = await _events(session, EntityType.PROJECT, project.id)
        assert [(e.action, e.actor_id, e.project_id) for e in events] == [
            (ActivityAction.CREATED, owner.id, project.id)
        ]
        assert events[0].after == {
            "key": "PD",
            "name": "Plandeck",
            "description": "d",
            "timezone": "Europe/Berlin",
        }

    async def test_duplicate_key_is_a_conflict(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        other = await make_user(session)
        before = await count_events(session)
        with pytest.raises(Conflict, match="a project with key 'PRJ' already exists"):
            await make_project(session, other, key="PRJ")
        assert await count_events(session) == before
        assert await session.scalar(select(func.count()).select_from(Project)) == 1

    async def test_unknown_timezone_is_invalid_input(
        self, session: AsyncSession, owner: User
    ) -> None:
        with pytest.raises(InvalidInput, match="unknown time zone 'Mars/Olympus'"):
            await make_project(session, owner, timezone="Mars/Olympus")
        assert await session.scalar(select(func.count()).select_from(Project)) == 0

    async def test_key_with_spaces_refused_by_schema(self) -> None:
        with pytest.raises(ValueError, match="String should match pattern"):
            ProjectCreate(key="MY KEY", name="x")


class TestGetProject:
    async def test_member_finds_project_by_key(
        self, session: AsyncSession, project: Project
    ) -> None:
        viewer = await make_member(session, project, Role.VIEWER)
        assert (await project_service.get(session, viewer, "PRJ")).id == project.id

    async def test_non_member_gets_not_found_never_forbidden(
        self, session: AsyncSession, project: Project
    ) -> None:
        stranger = await make_user(session)
        with pytest.raises(NotFound, match="project 'PRJ' not found"):
            await project_service.get(session, stranger, "PRJ")

    async def test_unknown_key_is_not_found(self, session: AsyncSession, owner: User) -> None:
        with pytest.raises(NotFound):
            await project_service.get(session, owner, "NOPE")

    async def test_inactive_member_gets_not_found(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        owner.is_active = False
        await session.flush()
        with pytest.raises(NotFound):
            await project_service.get(session, owner, "PRJ")


class TestListProjects:
    async def test_lists_only_own_projects_by_key(self, session: AsyncSession, owner: User) -> None:
        other = await make_user(session)
        await make_project(session, owner, key="ZED")
        await make_project(session, owner, key="ALPHA")
        theirs = await make_project(session, other, key="MID")
        shared = await make_project(session, other, key="BETA")
        await add_member(session, shared, owner, Role.VIEWER)

        mine = await project_service.list_for(session, owner)
        assert [p.key for p in mine] == ["ALPHA", "BETA", "ZED"]
        assert theirs.id not in {p.id for p in mine}
        assert [p.key for p in await project_service.list_for(session, other)] == ["BETA", "MID"]

    async def test_user_without_projects_gets_nothing(
        self, session: AsyncSession, project: Project
    ) -> None:
        assert await project_service.list_for(session, await make_user(session)) == []


class TestUpdateProject:
    async def test_admin_updates_bumps_version_and_records_diff(
        self, session: AsyncSession, project: Project
    ) -> None:
        admin = await make_member(session, project, Role.ADMIN)
        updated = await project_service.update(
            session,
            admin,
            project,
            ProjectUpdate(name="Renamed", timezone="Asia/Tokyo", description=None, version=1),
        )
        assert (updated.name, updated.timezone, updated.description, updated.version) == (
            "Renamed",
            "Asia/Tokyo",
            "",
            2,
        )
        [_, event] = await _events(session, EntityType.PROJECT, project.id)
        assert (event.action, event.actor_id) == (ActivityAction.UPDATED, admin.id)
        assert event.before == {"name": "Planner", "timezone": "UTC"}
        assert event.after == {"name": "Renamed", "timezone": "Asia/Tokyo"}

    async def test_member_cannot_update(self, session: AsyncSession, project: Project) -> None:
        member = await make_member(session, project, Role.MEMBER)
        with pytest.raises(Forbidden, match="you are a member"):
            await project_service.update(session, member, project, ProjectUpdate(name="Nope"))
        assert project.name == "Planner"

    async def test_non_member_gets_not_found(self, session: AsyncSession, project: Project) -> None:
        with pytest.raises(NotFound):
            await project_service.update(
                session, await make_user(session), project, ProjectUpdate(name="Nope")
            )

    async def test_stale_version_changes_nothing(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        await project_service.update(
            session, owner, project, ProjectUpdate(name="First", version=1)
        )
        events = await count_events(session)
        with pytest.raises(StaleVersion, match="is at version 2, not 1"):
            await project_service.update(
                session, owner, project, ProjectUpdate(name="Second", version=1)
            )
        await session.refresh(project)
        assert (project.name, project.version) == ("First", 2)
        assert await count_events(session) == events

    async def test_bad_timezone_is_invalid_input_and_changes_nothing(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        with pytest.raises(InvalidInput, match="unknown time zone"):
            await project_service.update(
                session, owner, project, ProjectUpdate(name="Renamed", timezone="Not/AZone")
            )
        await session.refresh(project)
        assert (project.name, project.timezone, project.version) == ("Planner", "UTC", 1)

    async def test_update_without_changes_writes_nothing(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        events = await count_events(session)
        await project_service.update(session, owner, project, ProjectUpdate(name="Planner"))
        assert project.version == 1
        assert await count_events(session) == events


class TestDeleteProject:
    async def test_delete_removes_everything_in_it_by_cascade(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        phase = await make_phase(session, owner, project)
        sprint = await make_sprint(session, owner, project, phase_id=phase.id)
        story = await make_story(session, owner, project, sprint_id=sprint.id)
        task = await make_task(session, owner, project, story)
        subtask = await make_task(session, owner, project, story, parent_id=task.id)
        comment = await make_comment(session, owner, project, story)
        member = await make_member(session, project, Role.MEMBER)
        survivor_project = await make_project(session, owner)
        survivor = await make_story(session, owner, survivor_project)

        await project_service.delete(session, owner, project)

        remaining = {
            model.__name__: await session.scalar(
                select(func.count()).select_from(model).where(model.id.in_(ids))
            )
            for model, ids in [
                (Project, [project.id]),
                (Phase, [phase.id]),
                (Sprint, [sprint.id]),
                (Story, [story.id]),
                (Task, [task.id, subtask.id]),
                (Comment, [comment.id]),
            ]
        }
        assert remaining == dict.fromkeys(
            ["Project", "Phase", "Sprint", "Story", "Task", "Comment"], 0
        )
        memberships = await session.scalar(
            select(func.count()).select_from(Membership).where(Membership.project_id == project.id)
        )
        assert memberships == 0
        assert await session.get(User, member.id) is not None, "members keep their accounts"
        assert await session.scalar(select(Story.id).where(Story.id == survivor.id)) == survivor.id
        assert [p.key for p in await project_service.list_for(session, owner)] == [
            survivor_project.key
        ]

    async def test_delete_keeps_an_event_with_the_last_state(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        story = await make_story(session, owner, project)
        project_id = project.id

        await project_service.delete(session, owner, project)

        rows = (
            await session.execute(
                select(ActivityEvent.project_id, ActivityEvent.action, ActivityEvent.before)
                .where(
                    ActivityEvent.entity_type == EntityType.PROJECT,
                    ActivityEvent.entity_id == project_id,
                )
                .order_by(ActivityEvent.id)
            )
        ).all()
        assert [(r.project_id, r.action) for r in rows] == [
            (None, ActivityAction.CREATED),
            (None, ActivityAction.DELETED),
        ], "the trail outlives the project, unlinked"
        assert rows[-1].before == {
            "key": "PRJ",
            "name": "Planner",
            "description": "",
            "timezone": "UTC",
        }
        story_trail = (
            await session.scalars(
                select(ActivityEvent.project_id).where(
                    ActivityEvent.entity_type == EntityType.STORY,
                    ActivityEvent.entity_id == story.id,
                )
            )
        ).all()
        assert story_trail == [None]

    async def test_admin_cannot_delete(self, session: AsyncSession, project: Project) -> None:
        admin = await make_member(session, project, Role.ADMIN)
        with pytest.raises(Forbidden, match="only a project owner"):
            await project_service.delete(session, admin, project)
        assert (
            await session.scalar(select(Project.id).where(Project.id == project.id)) == project.id
        )

    async def test_non_member_gets_not_found(self, session: AsyncSession, project: Project) -> None:
        with pytest.raises(NotFound):
            await project_service.delete(session, await make_user(session), project)

    async def test_deleted_key_can_be_used_again(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        await project_service.delete(session, owner, project)
        again = await make_project(session, owner, key="PRJ")
        assert (await project_service.get(session, owner, "PRJ")).id == again.id


class TestListMembers:
    async def test_viewer_lists_members_in_joining_order(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        viewer = await make_member(session, project, Role.VIEWER)
        members = await project_service.list_members(session, viewer, project)
        assert [(m.user_id, m.role) for m in members] == [
            (owner.id, Role.OWNER),
            (viewer.id, Role.VIEWER),
        ]

    async def test_non_member_gets_not_found(self, session: AsyncSession, project: Project) -> None:
        with pytest.raises(NotFound):
            await project_service.list_members(session, await make_user(session), project)


class TestAddMember:
    async def test_admin_adds_a_member_with_an_event(
        self, session: AsyncSession, project: Project
    ) -> None:
        admin = await make_member(session, project, Role.ADMIN)
        newcomer = await make_user(session)
        membership = await project_service.add_member(
            session, admin, project, MembershipCreate(user_id=newcomer.id)
        )
        assert membership.role is Role.MEMBER
        assert (await project_service.get(session, newcomer, "PRJ")).id == project.id
        [event] = await _events(session, EntityType.MEMBERSHIP, membership.id)
        assert (event.action, event.actor_id, event.project_id, event.after) == (
            ActivityAction.CREATED,
            admin.id,
            project.id,
            {"user_id": newcomer.id, "role": "member"},
        )

    async def test_admin_cannot_add_an_owner(self, session: AsyncSession, project: Project) -> None:
        admin = await make_member(session, project, Role.ADMIN)
        newcomer = await make_user(session)
        with pytest.raises(Forbidden, match="only an owner may make someone an owner"):
            await project_service.add_member(
                session, admin, project, MembershipCreate(user_id=newcomer.id, role=Role.OWNER)
            )
        assert await _role_of(session, project, newcomer) is None

    async def test_owner_may_add_an_owner(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        newcomer = await make_user(session)
        await project_service.add_member(
            session, owner, project, MembershipCreate(user_id=newcomer.id, role=Role.OWNER)
        )
        assert await _role_of(session, project, newcomer) is Role.OWNER

    async def test_member_cannot_add(self, session: AsyncSession, project: Project) -> None:
        member = await make_member(session, project, Role.MEMBER)
        newcomer = await make_user(session)
        with pytest.raises(Forbidden):
            await project_service.add_member(
                session, member, project, MembershipCreate(user_id=newcomer.id)
            )

    async def test_duplicate_member_is_a_conflict(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        viewer = await make_member(session, project, Role.VIEWER)
        with pytest.raises(Conflict, match=f"{viewer.email} is already a member of PRJ"):
            await project_service.add_member(
                session, owner, project, MembershipCreate(user_id=viewer.id, role=Role.ADMIN)
            )
        assert await _role_of(session, project, viewer) is Role.VIEWER

    async def test_unknown_user_is_invalid_input(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        with pytest.raises(InvalidInput, match="user_id: no active user 999999"):
            await project_service.add_member(
                session, owner, project, MembershipCreate(user_id=999_999)
            )

    async def test_inactive_user_is_invalid_input(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        dormant = await make_user(session, is_active=False)
        with pytest.raises(InvalidInput, match="no active user"):
            await project_service.add_member(
                session, owner, project, MembershipCreate(user_id=dormant.id)
            )


class TestChangeRole:
    async def test_admin_changes_a_member_to_viewer_with_an_event(
        self, session: AsyncSession, project: Project
    ) -> None:
        admin = await make_member(session, project, Role.ADMIN)
        member = await make_member(session, project, Role.MEMBER)
        membership = await project_service.change_role(
            session, admin, project, member.id, Role.VIEWER
        )
        assert membership.role is Role.VIEWER
        [event] = await _events(session, EntityType.MEMBERSHIP, membership.id)
        assert (event.action, event.before, event.after) == (
            ActivityAction.UPDATED,
            {"user_id": member.id, "role": "member"},
            {"user_id": member.id, "role": "viewer"},
        )

    async def test_last_owner_cannot_step_down(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        with pytest.raises(Conflict, match="PRJ must keep at least one owner"):
            await project_service.change_role(session, owner, project, owner.id, Role.ADMIN)
        assert await _role_of(session, project, owner) is Role.OWNER

    async def test_owner_may_step_down_when_another_owner_remains(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        second = await make_member(session, project, Role.OWNER)
        await project_service.change_role(session, owner, project, owner.id, Role.ADMIN)
        assert await _role_of(session, project, owner) is Role.ADMIN
        with pytest.raises(Conflict, match="at least one owner"):
            await project_service.change_role(session, second, project, second.id, Role.MEMBER)

    async def test_admin_cannot_promote_to_owner(
        self, session: AsyncSession, project: Project
    ) -> None:
        admin = await make_member(session, project, Role.ADMIN)
        member = await make_member(session, project, Role.MEMBER)
        with pytest.raises(Forbidden, match="only an owner may grant or take away"):
            await project_service.change_role(session, admin, project, member.id, Role.OWNER)
        with pytest.raises(Forbidden):
            await project_service.change_role(session, admin, project, admin.id, Role.OWNER)
        assert await _role_of(session, project, admin) is Role.ADMIN

    async def test_admin_cannot_demote_an_owner(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        await make_member(session, project, Role.OWNER)
        admin = await make_member(session, project, Role.ADMIN)
        with pytest.raises(Forbidden):
            await project_service.change_role(session, admin, project, owner.id, Role.VIEWER)
        assert await _role_of(session, project, owner) is Role.OWNER

    async def test_member_cannot_change_roles(
        self, session: AsyncSession, project: Project
    ) -> None:
        member = await make_member(session, project, Role.MEMBER)
        viewer = await make_member(session, project, Role.VIEWER)
        with pytest.raises(Forbidden):
            await project_service.change_role(session, member, project, viewer.id, Role.MEMBER)

    async def test_non_member_target_is_not_found(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        stranger = await make_user(session)
        with pytest.raises(NotFound, match=f"user {stranger.id} is not a member of PRJ"):
            await project_service.change_role(session, owner, project, stranger.id, Role.MEMBER)

    async def test_same_role_writes_no_event(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        member = await make_member(session, project, Role.MEMBER)
        events = await count_events(session)
        await project_service.change_role(session, owner, project, member.id, Role.MEMBER)
        assert await count_events(session) == events


class TestRemoveMember:
    @pytest.mark.parametrize("role", [Role.VIEWER, Role.MEMBER, Role.ADMIN])
    async def test_anyone_may_leave(
        self, session: AsyncSession, project: Project, role: Role
    ) -> None:
        leaver = await make_member(session, project, role)
        await project_service.remove_member(session, leaver, project, leaver.id)
        assert await _role_of(session, project, leaver) is None
        with pytest.raises(NotFound):
            await project_service.get(session, leaver, "PRJ")
        [event] = (
            await session.scalars(
                select(ActivityEvent).where(
                    ActivityEvent.entity_type == EntityType.MEMBERSHIP,
                    ActivityEvent.action == ActivityAction.DELETED,
                )
            )
        ).all()
        assert (event.actor_id, event.before) == (
            leaver.id,
            {"user_id": leaver.id, "role": role.value},
        )

    async def test_last_owner_cannot_leave(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        with pytest.raises(Conflict, match="must keep at least one owner"):
            await project_service.remove_member(session, owner, project, owner.id)
        assert await _role_of(session, project, owner) is Role.OWNER

    async def test_owner_may_leave_when_another_owner_remains(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        second = await make_member(session, project, Role.OWNER)
        await project_service.remove_member(session, owner, project, owner.id)
        assert await _role_of(session, project, owner) is None
        assert await _role_of(session, project, second) is Role.OWNER

    async def test_admin_removes_a_member(self, session: AsyncSession, project: Project) -> None:
        admin = await make_member(session, project, Role.ADMIN)
        member = await make_member(session, project, Role.MEMBER)
        await project_service.remove_member(session, admin, project, member.id)
        assert await _role_of(session, project, member) is None

    async def test_member_cannot_remove_someone_else(
        self, session: AsyncSession, project: Project
    ) -> None:
        member = await make_member(session, project, Role.MEMBER)
        viewer = await make_member(session, project, Role.VIEWER)
        with pytest.raises(Forbidden):
            await project_service.remove_member(session, member, project, viewer.id)
        assert await _role_of(session, project, viewer) is Role.VIEWER

    async def test_admin_cannot_remove_an_owner(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        await make_member(session, project, Role.OWNER)
        admin = await make_member(session, project, Role.ADMIN)
        with pytest.raises(Forbidden, match="only an owner may remove an owner"):
            await project_service.remove_member(session, admin, project, owner.id)
        assert await _role_of(session, project, owner) is Role.OWNER

    async def test_non_member_cannot_leave(self, session: AsyncSession, project: Project) -> None:
        stranger = await make_user(session)
        with pytest.raises(NotFound):
            await project_service.remove_member(session, stranger, project, stranger.id)
