"""Plan documents over HTTP: import (with a dry run) and export as markdown or JSON."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field

from plandeck.api.responses import problems
from plandeck.auth.deps import CurrentUser, DbSession
from plandeck.errors import InvalidInput
from plandeck.kit.audit import to_json
from plandeck.planfile.importer import ImportReport
from plandeck.planfile.service import plan_file_service
from plandeck.plans.projects import project_service

router = APIRouter(prefix="/projects/{key}", tags=["plan documents"])

_ACTIONS = ("created", "updated", "unchanged", "removed")


class ChangeCounts(BaseModel):
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0


class ImportChange(BaseModel):
    entity: str = Field(examples=["story"])
    key: str = Field(examples=["9.1"])
    action: str = Field(examples=["updated"])
    fields: dict[str, list[Any]] = Field(
        default_factory=dict,
        description="Changed fields as [before, after].",
        examples=[{"points": [5, 8]}],
    )


class ImportNotice(BaseModel):
    file: str
    line: int | None
    message: str
    error: bool


class ImportResult(BaseModel):
    file: str
    dry_run: bool = Field(description="True: this is what an import would do; nothing was written.")
    summary: dict[str, ChangeCounts] = Field(
        description="Per kind (phase, sprint, story): how many were created, updated, ...",
    )
    changes: list[ImportChange] = Field(description="Everything that was (or would be) changed.")
    warnings: list[ImportNotice] = Field(
        description="What could not be mapped (kept as notes), encoding repairs, conflicts."
    )
    missing: list[str] = Field(
        description="Stories in the project but not in the document (removed only with prune)."
    )


def _result(report: ImportReport, *, dry_run: bool) -> ImportResult:
    return ImportResult(
        file=report.file,
        dry_run=dry_run,
        summary={
            entity: ChangeCounts(**{a: report.count(entity, a) for a in _ACTIONS})
            for entity in ("phase", "sprint", "story")
        },
        changes=[
            ImportChange(
                entity=c.entity,
                key=c.key,
                action=c.action,
                fields={name: [to_json(b), to_json(a)] for name, (b, a) in c.fields.items()},
            )
            for c in report.changes
            if c.action != "unchanged"
        ],
        warnings=[
            ImportNotice(file=w.file, line=w.line, message=w.message, error=w.error)
            for w in report.warnings
        ],
        missing=list(report.missing),
    )


@router.post(
    "/imports",
    responses=problems(401, 403, 404, 413, 422, 429),
    summary="Import a plan document",
)
async def import_plan(
    key: str,
    files: Annotated[
        list[UploadFile],
        File(description="A plan document, or the files of a folder (named by relative path)."),
    ],
    session: DbSession,
    user: CurrentUser,
    dry_run: Annotated[bool, Query(description="Report what would change; write nothing.")] = False,
    prune: Annotated[
        bool, Query(description="Move stories missing from the document to the trash.")
    ] = False,
) -> ImportResult:
    """Creates what is new and updates what changed, matched by phase and sprint number and
    story key; keeps the team's edits unless the document changed the same field. Admins only.
    An invalid document is refused with 422 naming the file and line, and changes nothing."""
    project = await project_service.get(session, user, key)
    uploads: dict[str, bytes] = {}
    for index, upload in enumerate(files):
        name = upload.filename or f"upload-{index + 1}.md"
        if name in uploads:
            raise InvalidInput(f"two uploaded files are named {name!r}", field="files")
        uploads[name] = await upload.read()
    report = await plan_file_service.import_files(
        session, user, project, uploads, dry_run=dry_run, prune=prune
    )
    return _result(report, dry_run=dry_run)


@router.get(
    "/export.md",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/markdown": {}}, "description": "The plan in the seed format."},
        **problems(401, 404, 429),
    },
    summary="Export the plan as markdown",
)
async def export_markdown(
    key: str,
    session: DbSession,
    user: CurrentUser,
    phase: Annotated[int | None, Query(ge=0, description="Only this phase.")] = None,
) -> PlainTextResponse:
    project = await project_service.get(session, user, key)
    text = await plan_file_service.export_markdown(session, user, project, phase=phase)
    suffix = f"-phase-{phase}" if phase is not None else ""
    return PlainTextResponse(
        text,
        media_type="text/markdown; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{project.key}{suffix}.md"'},
    )


@router.get(
    "/export.json",
    responses={
        200: {
            "content": {"application/json": {}},
            "description": "The plan as data (the README documents the format).",
        },
        **problems(401, 404, 429),
    },
    summary="Export the plan as JSON",
)
async def export_json(
    key: str,
    session: DbSession,
    user: CurrentUser,
    phase: Annotated[int | None, Query(ge=0, description="Only this phase.")] = None,
) -> JSONResponse:
    project = await project_service.get(session, user, key)
    return JSONResponse(await plan_file_service.export_json(session, user, project, phase=phase))
