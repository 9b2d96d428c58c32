from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.errors import Forbidden, NotFound
from plandeck.models import (
    ActivityAction,
    ActivityEvent,
    Comment,
    EntityType,
    Project,
    Role,
    Story,
    User,
)
from plandeck.plans.comments import comment_service
from plandeck.plans.projects import project_service
from plandeck.plans.schemas import CommentCreate, CommentUpdate
from plandeck.plans.stories import story_service
from tests.factories.accounts import make_user
from tests.factories.comments import make_comment
from tests.factories.plans import make_member, make_project, make_story


@pytest.fixture
async def project(session: AsyncSession, owner: User) -> Project:
    return await make_project(session, owner, key="CM")


@pytest.fixture
async def story(session: AsyncSession, owner: User, project: Project) -> Story:
    return await make_story(session, owner, project)


async def _comment_events(session: AsyncSession, comment_id: int) -> list[ActivityEvent]:
    return list(
        (
            await session.scalars(
                select(ActivityEvent)
                .where(
                    ActivityEvent.entity_type == EntityType.COMMENT,
                    ActivityEvent.entity_id == comment_id,
                )
                .order_by(ActivityEvent.id)
            )
        ).all()
    )


async def _body(session: AsyncSession, comment: Comment) -> str | None:
    return await session.scalar(select(Comment.body).where(Comment.id == comment.id))


class TestCreateComment:
    async def test_member_comments_as_author_with_activity(
        self, session: AsyncSession, project: Project, story: Story
    ) -> None:
        member = await make_member(session, project, Role.MEMBER)
        comment = await comment_service.create(
            session, member, project, story.id, CommentCreate(body="  Looks good  ")
        )
        assert (comment.story_id, comment.author_id, comment.body) == (
            story.id,
            member.id,
            "Looks good",
        )
        [event] = await _comment_events(session, comment.id)
        assert (event.action, event.actor_id, event.project_id, event.after) == (
            ActivityAction.CREATED,
            member.id,
            project.id,
            {"story_id": story.id, "author_id": member.id, "body": "Looks good"},
        )

    async def test_listed_oldest_first_without_the_trash(
        self, session: AsyncSession, owner: User, project: Project, story: Story
    ) -> None:
        first = await make_comment(session, owner, project, story, body="first")
        trashed = await make_comment(session, owner, project, story, body="trashed")
        third = await make_comment(session, owner, project, story, body="third")
        await comment_service.delete(session, owner, project, trashed.id)
        viewer = await make_member(session, project, Role.VIEWER)
        listed = await comment_service.list_for_story(session, viewer, project, story.id)
        assert [c.id for c in listed] == [first.id, third.id]

    async def test_viewer_cannot_comment(
        self, session: AsyncSession, project: Project, story: Story
    ) -> None:
        viewer = await make_member(session, project, Role.VIEWER)
        with pytest.raises(Forbidden, match="you are a viewer"):
            await make_comment(session, viewer, project, story)
        assert await session.scalar(select(func.count()).select_from(Comment)) == 0

    async def test_non_member_gets_not_found(
        self, session: AsyncSession, project: Project, story: Story
    ) -> None:
        with pytest.raises(NotFound):
            await make_comment(session, await make_user(session), project, story)

    async def test_story_of_another_project_is_not_found(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        other = await make_project(session, owner)
        foreign_story = await make_story(session, owner, other)
        with pytest.raises(NotFound, match="not found in project CM"):
            await make_comment(session, owner, project, foreign_story)
        with pytest.raises(NotFound):
            await comment_service.list_for_story(session, owner, project, foreign_story.id)

    async def test_trashed_story_takes_no_comments(
        self, session: AsyncSession, owner: User, project: Project, story: Story
    ) -> None:
        await story_service.delete(session, owner, project, story.id)
        with pytest.raises(NotFound):
            await make_comment(session, owner, project, story)

    async def test_blank_body_refused_by_schema(self) -> None:
        with pytest.raises(ValueError, match="at least 1 character"):
            CommentCreate(body=" \n ")


class TestUpdateComment:
    async def test_author_edits_with_activity(
        self, session: AsyncSession, project: Project, story: Story
    ) -> None:
        author = await make_member(session, project, Role.MEMBER)
        comment = await make_comment(session, author, project, story, body="tpyo")
        await comment_service.update(
            session, author, project, comment.id, CommentUpdate(body="typo")
        )
        assert await _body(session, comment) == "typo"
        [_, event] = await _comment_events(session, comment.id)
        assert (event.action, event.before, event.after) == (
            ActivityAction.UPDATED,
            {"body": "tpyo"},
            {"body": "typo"},
        )

    @pytest.mark.parametrize("role", [Role.MEMBER, Role.ADMIN, Role.OWNER])
    async def test_only_the_author_edits(
        self, session: AsyncSession, project: Project, story: Story, role: Role
    ) -> None:
        author = await make_member(session, project, Role.MEMBER)
        comment = await make_comment(session, author, project, story, body="mine")
        other = await make_member(session, project, role)
        with pytest.raises(Forbidden, match="only its author may edit a comment"):
            await comment_service.update(
                session, other, project, comment.id, CommentUpdate(body="theirs")
            )
        assert await _body(session, comment) == "mine"

    async def test_author_demoted_to_viewer_cannot_edit(
        self, session: AsyncSession, owner: User, project: Project, story: Story
    ) -> None:
        author = await make_member(session, project, Role.MEMBER)
        comment = await make_comment(session, author, project, story, body="mine")
        await project_service.change_role(session, owner, project, author.id, Role.VIEWER)
        with pytest.raises(Forbidden, match="you are a viewer"):
            await comment_service.update(
                session, author, project, comment.id, CommentUpdate(body="x")
            )
        assert await _body(session, comment) == "mine"

    async def test_non_member_gets_not_found(
        self, session: AsyncSession, owner: User, project: Project, story: Story
    ) -> None:
        comment = await make_comment(session, owner, project, story)
        with pytest.raises(NotFound):
            await comment_service.update(
                session, await make_user(session), project, comment.id, CommentUpdate(body="x")
            )

    async def test_unchanged_body_writes_no_event(
        self, session: AsyncSession, owner: User, project: Project, story: Story
    ) -> None:
        comment = await make_comment(session, owner, project, story, body="same")
        await comment_service.update(
            session, owner, project, comment.id, CommentUpdate(body="same")
        )
        assert len(await _comment_events(session, comment.id)) == 1


class TestCommentTrash:
    async def test_author_deletes_and_restores_own_comment(
        self, session: AsyncSession, project: Project, story: Story
    ) -> None:
        author = await make_member(session, project, Role.MEMBER)
        comment = await make_comment(session, author, project, story)
        await comment_service.delete(session, author, project, comment.id)
        with pytest.raises(NotFound):
            await comment_service.get(session, author, project, comment.id)
        await comment_service.restore(session, author, project, comment.id)
        assert (await comment_service.get(session, author, project, comment.id)).id == comment.id
        assert [e.action for e in await _comment_events(session, comment.id)] == [
            ActivityAction.CREATED,
            ActivityAction.DELETED,
            ActivityAction.RESTORED,
        ]

    async def test_admin_may_delete_another_members_comment(
        self, session: AsyncSession, project: Project, story: Story
    ) -> None:
        author = await make_member(session, project, Role.MEMBER)
        admin = await make_member(session, project, Role.ADMIN)
        comment = await make_comment(session, author, project, story)
        await comment_service.delete(session, admin, project, comment.id)
        assert comment.deleted_at is not None
        [_, event] = await _comment_events(session, comment.id)
        assert (event.action, event.actor_id) == (ActivityAction.DELETED, admin.id)

    async def test_member_cannot_delete_another_members_comment(
        self, session: AsyncSession, project: Project, story: Story
    ) -> None:
        author = await make_member(session, project, Role.MEMBER)
        other = await make_member(session, project, Role.MEMBER)
        comment = await make_comment(session, author, project, story)
        with pytest.raises(Forbidden, match="you are a member"):
            await comment_service.delete(session, other, project, comment.id)
        assert comment.deleted_at is None
        assert len(await _comment_events(session, comment.id)) == 1

    async def test_member_cannot_restore_another_members_comment(
        self, session: AsyncSession, project: Project, story: Story
    ) -> None:
        author = await make_member(session, project, Role.MEMBER)
        other = await make_member(session, project, Role.MEMBER)
        comment = await make_comment(session, author, project, story)
        await comment_service.delete(session, author, project, comment.id)
        with pytest.raises(Forbidden):
            await comment_service.restore(session, other, project, comment.id)
        assert comment.deleted_at is not None

    async def test_non_member_gets_not_found_not_forbidden(
        self, session: AsyncSession, owner: User, project: Project, story: Story
    ) -> None:
        comment = await make_comment(session, owner, project, story)
        with pytest.raises(NotFound):
            await comment_service.delete(session, await make_user(session), project, comment.id)

    async def test_admin_purges_from_the_trash(
        self, session: AsyncSession, project: Project, story: Story
    ) -> None:
        author = await make_member(session, project, Role.MEMBER)
        admin = await make_member(session, project, Role.ADMIN)
        comment = await make_comment(session, author, project, story, body="bye")
        await comment_service.delete(session, author, project, comment.id)
        with pytest.raises(Forbidden):
            await comment_service.purge(session, author, project, comment.id)
        await comment_service.purge(session, admin, project, comment.id)
        assert await _body(session, comment) is None
        [*_, purged] = await _comment_events(session, comment.id)
        assert (purged.action, purged.before) == (
            ActivityAction.PURGED,
            {"story_id": story.id, "author_id": author.id, "body": "bye"},
        )

    async def test_comment_in_another_project_is_not_found(
        self, session: AsyncSession, owner: User, project: Project
    ) -> None:
        other = await make_project(session, owner)
        foreign = await make_comment(session, owner, other, await make_story(session, owner, other))
        with pytest.raises(NotFound, match=f"comment {foreign.id} not found in project CM"):
            await comment_service.delete(session, owner, project, foreign.id)
        assert foreign.deleted_at is None
