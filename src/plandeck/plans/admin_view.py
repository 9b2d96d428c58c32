"""What the administration pages show: a project's members with the visitor's own role, and
the projects only an admin may open (import)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.auth.roles import require_role
from plandeck.kit.audit import to_json
from plandeck.models import Membership, Project, Role, User
from plandeck.planfile.importer import ImportReport
from plandeck.planfile.reader import read_uploads
from plandeck.planfile.service import plan_file_service
from plandeck.plans.projects import project_service


@dataclass(frozen=True)
class MembersView:
    project: Project
    members: Sequence[Membership]
    role: Role  # the visitor's own

    @property
    def can_manage(self) -> bool:
        return self.role.at_least(Role.ADMIN)

    @property
    def is_owner(self) -> bool:
        return self.role is Role.OWNER


@dataclass(frozen=True)
class ImportPreview:
    report: ImportReport
    titles: dict[str, str]  # story key -> its title in the document

    def stories(self, action: str) -> list[tuple[str, str, dict[str, tuple[str, str]]]]:
        """The stories the import would create or update: key, title, and each changed field
        as short text (before, after)."""
        return [
            (
                change.key,
                self.titles.get(change.key, ""),
                {name: (_short(b), _short(a)) for name, (b, a) in change.fields.items()},
            )
            for change in self.report.changes
            if change.entity == "story" and change.action == action
        ]

    def count(self, entity: str, action: str) -> int:
        return self.report.count(entity, action)


def _short(value: object, limit: int = 80) -> str:
    plain = to_json(value)
    if plain is None or plain == "":
        return "\N{EN DASH}"
    text = plain if isinstance(plain, str) else json.dumps(plain, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class AdminViewService:
    async def members(self, session: AsyncSession, actor: User, key: str) -> MembersView:
        """Any member may see who else is in the project (as the API lets them); the page
        offers the forms that change it to admins only."""
        project = await project_service.get(session, actor, key)
        members = await project_service.list_members(session, actor, project)
        role = next((m.role for m in members if m.user_id == actor.id), Role.VIEWER)
        return MembersView(project, members, role)

    async def project_for_admin(self, session: AsyncSession, actor: User, key: str) -> Project:
        """The project, if the actor administers it: NotFound for a non-member, Forbidden for
        a member below admin."""
        project = await project_service.get(session, actor, key)
        await require_role(session, actor, project, Role.ADMIN)
        return project

    async def preview_import(
        self, session: AsyncSession, actor: User, project: Project, files: dict[str, bytes]
    ) -> ImportPreview:
        """The dry run of an import, with the document's story titles to show beside the keys
        (its report names stories by key only)."""
        report = await plan_file_service.import_files(session, actor, project, files, dry_run=True)
        titles = {story.key: story.title for story in read_uploads(files).stories}
        return ImportPreview(report, titles)


admin_view_service = AdminViewService()
