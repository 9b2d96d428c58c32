"""What the phase and sprint routes share: a project child addressed by its number, answered
with an ``ETag`` and trashed under ``If-Match``.

The routes stay written out one by one in ``phases.py`` and ``sprints.py``, so that FastAPI
documents each with its own signature, summary and responses; this holds their common steps.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from fastapi import Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from plandeck import models
from plandeck.kit.etag import expected_version, set_etag
from plandeck.plans.base import NumberedChildService
from plandeck.plans.common import ProjectChild

Out = TypeVar("Out", bound=BaseModel)


class NumberedRoutes(Generic[ProjectChild, Out]):
    service: NumberedChildService[ProjectChild]
    schema: type[Out]

    def __init__(self, service: NumberedChildService[ProjectChild], schema: type[Out]) -> None:
        self.service = service
        self.schema = schema

    def tagged(self, response: Response, obj: ProjectChild) -> Out:
        """``obj`` as the API answers it, with its ``ETag`` set on the response."""
        set_etag(response, self.service.label, obj.id, obj.version)
        return self.schema.model_validate(obj)

    async def list_in(
        self, session: AsyncSession, user: models.User, project: models.Project
    ) -> list[Out]:
        found = await self.service.list_in(session, user, project)
        return [self.schema.model_validate(obj) for obj in found]

    async def delete(
        self,
        session: AsyncSession,
        user: models.User,
        project: models.Project,
        obj: ProjectChild,
        if_match: str | None,
    ) -> None:
        await self.service.delete(
            session, user, project, obj.id, expected_version=expected_version(if_match)
        )
