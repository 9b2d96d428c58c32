"""Comments on stories. Authors edit and delete their own; admins may delete anyone's."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.auth.roles import require_role
from plandeck.errors import Forbidden
from plandeck.kit.audit import apply_changes, snapshot
from plandeck.kit.integrity import flush
from plandeck.models import ActivityAction, Comment, EntityType, Project, Role, Story, User
from plandeck.plans.schemas import CommentCreate, CommentUpdate
from plandeck.plans.stories import live_story_by_key
from plandeck.plans.story_items import StoryItemService


class CommentService(StoryItemService[Comment]):
    model = Comment
    entity_type = EntityType.COMMENT
    fields = ("story_id", "author_id", "body")

    async def _check_may_change(
        self, session: AsyncSession, actor: User, project: Project, item: Comment
    ) -> None:
        if item.author_id == actor.id:
            await require_role(session, actor, project, Role.MEMBER)
        else:
            await require_role(session, actor, project, Role.ADMIN)

    async def list_for_story(
        self, session: AsyncSession, actor: User, project: Project, story_id: int
    ) -> Sequence[Comment]:
        await require_role(session, actor, project, Role.VIEWER)
        return await self._list(session, await self._story(session, project, story_id))

    async def list_by_story_key(
        self, session: AsyncSession, actor: User, project: Project, story_key: str
    ) -> Sequence[Comment]:
        await require_role(session, actor, project, Role.VIEWER)
        return await self._list(session, await live_story_by_key(session, project, story_key))

    async def _list(self, session: AsyncSession, story: Story) -> Sequence[Comment]:
        return (
            await session.scalars(
                select(Comment)
                .where(Comment.story_id == story.id, Comment.deleted_at.is_(None))
                .order_by(Comment.created_at, Comment.id)
            )
        ).all()

    async def create(
        self,
        session: AsyncSession,
        actor: User,
        project: Project,
        story_id: int,
        data: CommentCreate,
    ) -> Comment:
        await require_role(session, actor, project, Role.MEMBER)
        return await self._create(
            session, actor, project, await self._story(session, project, story_id), data
        )

    async def create_by_story_key(
        self,
        session: AsyncSession,
        actor: User,
        project: Project,
        story_key: str,
        data: CommentCreate,
    ) -> Comment:
        await require_role(session, actor, project, Role.MEMBER)
        return await self._create(
            session, actor, project, await live_story_by_key(session, project, story_key), data
        )

    async def _create(
        self,
        session: AsyncSession,
        actor: User,
        project: Project,
        story: Story,
        data: CommentCreate,
    ) -> Comment:
        comment = Comment(story_id=story.id, author_id=actor.id, body=data.body)
        session.add(comment)
        await flush(session)
        self._record(
            session,
            actor,
            project,
            comment,
            ActivityAction.CREATED,
            after=snapshot(comment, self.fields),
        )
        await flush(session)
        return comment

    async def update(
        self,
        session: AsyncSession,
        actor: User,
        project: Project,
        comment_id: int,
        data: CommentUpdate,
    ) -> Comment:
        comment, _story = await self._item(session, project, comment_id)
        if comment.author_id != actor.id:
            await require_role(session, actor, project, Role.VIEWER)
            raise Forbidden("only its author may edit a comment")
        await require_role(session, actor, project, Role.MEMBER)
        before, after = apply_changes(comment, {"body": data.body})
        if after:
            self._record(
                session, actor, project, comment, ActivityAction.UPDATED, before=before, after=after
            )
            await flush(session)
        return comment


comment_service = CommentService()
