from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.models import Comment, Project, Story, User
from plandeck.plans.comments import comment_service
from plandeck.plans.schemas import CommentCreate


async def make_comment(
    session: AsyncSession, actor: User, project: Project, story: Story, **fields: Any
) -> Comment:
    data = {"body": "A comment", **fields}
    return await comment_service.create(session, actor, project, story.id, CommentCreate(**data))
