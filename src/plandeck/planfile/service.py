"""Plan documents in and out of a project, for the API and the web UI (the CLI reads files itself)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from plandeck.auth.roles import require_role
from plandeck.errors import InvalidInput
from plandeck.models import Project, Role, User
from plandeck.planfile.document import PlanSyntaxError
from plandeck.planfile.export import render_json, render_markdown
from plandeck.planfile.importer import ImportReport, document_from_project, import_document
from plandeck.planfile.reader import read_uploads


class PlanDocumentError(InvalidInput):
    """A plan document that cannot be imported; ``file`` and ``line`` say where. ``cause``:
    the reader's error, whose template the pages translate."""

    title = "Invalid plan document"
    slug = "invalid-plan-document"
    cause: PlanSyntaxError | None = None

    @classmethod
    def of(cls, exc: PlanSyntaxError) -> PlanDocumentError:
        error = cls(str(exc), file=exc.file, line=exc.line)
        error.cause = exc
        return error


class PlanFileService:
    async def import_files(
        self,
        session: AsyncSession,
        actor: User,
        project: Project,
        files: dict[str, bytes],
        *,
        dry_run: bool = False,
        prune: bool = False,
    ) -> ImportReport:
        """Import uploaded documents (a file, or a folder's files by relative name).

        A dry run does all the work inside a savepoint and rolls it back, so its report is
        exactly what the real import would do; nothing is written either way on an error.
        """
        # Who may import is decided before the document is read: a viewer learns nothing
        # about why a document would fail.
        await require_role(session, actor, project, Role.ADMIN)
        try:
            doc = read_uploads(files)
            doc.raise_for_errors()
        except PlanSyntaxError as exc:
            raise PlanDocumentError.of(exc) from None
        savepoint = await session.begin_nested()
        try:
            report = await import_document(session, actor, project, doc, prune=prune)
        except PlanSyntaxError as exc:
            await savepoint.rollback()
            raise PlanDocumentError.of(exc) from None
        except BaseException:
            await savepoint.rollback()
            raise
        if dry_run:
            await savepoint.rollback()
        else:
            await savepoint.commit()
        return report

    async def export_markdown(
        self, session: AsyncSession, actor: User, project: Project, *, phase: int | None = None
    ) -> str:
        doc = await document_from_project(session, actor, project, phase_number=phase)
        return render_markdown(doc)

    async def export_json(
        self, session: AsyncSession, actor: User, project: Project, *, phase: int | None = None
    ) -> dict[str, Any]:
        doc = await document_from_project(session, actor, project, phase_number=phase)
        return render_json(
            doc, {"key": project.key, "name": project.name, "description": project.description}
        )


plan_file_service = PlanFileService()
