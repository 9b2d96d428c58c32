"""Importing a plan document in the browser (a dry-run preview, then a confirmed import) and
downloading the plan as markdown."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from plandeck.auth.deps import AppSettings, DbSession
from plandeck.errors import InvalidInput
from plandeck.models import Project
from plandeck.planfile.service import PlanDocumentError, plan_file_service
from plandeck.plans.admin_view import admin_view_service
from plandeck.plans.projects import project_service
from plandeck.web.deps import Visitor, WebVisitor, check_csrf
from plandeck.web.i18n import N_
from plandeck.web.templating import templates

router = APIRouter(include_in_schema=False)

# The preview page carries the uploaded bytes (base64) back for the confirmation, in form
# fields that the form parser caps at 1 MiB each: 512 KiB of documents fit with room to
# spare. Bigger plans go through the API or the command line.
MAX_UPLOAD_BYTES = 512 * 1024
_MAX_FILES = 50
_FORM_LIMITS = {"max_files": _MAX_FILES, "max_fields": 2 * _MAX_FILES + 10}


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


def _check(request: Request, settings: AppSettings, form: FormData) -> None:
    check_csrf(request, settings, _text(form, "csrf_token") or request.headers.get("X-CSRF-Token"))


def _upload_page(
    request: Request,
    visitor: Visitor,
    project: Project,
    *,
    problem: str | None = None,
    document_error: PlanDocumentError | None = None,
    status_code: int = status.HTTP_200_OK,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "plans/import.html",
        {
            "project": project,
            "problem": problem,
            "document_error": document_error,
            "max_kib": MAX_UPLOAD_BYTES // 1024,
            "visitor": visitor,
        },
        status_code=status_code,
    )


class _TooLarge(Exception):
    pass


async def _uploaded(form: FormData) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    total = 0
    for index, part in enumerate(form.getlist("files")):
        # A file input left empty still sends a part, with no file name and no bytes.
        if not isinstance(part, UploadFile) or not part.filename:
            continue
        data = await part.read(MAX_UPLOAD_BYTES + 1)
        total += len(data)
        if total > MAX_UPLOAD_BYTES:
            raise _TooLarge
        name = part.filename or f"upload-{index + 1}.md"
        files[name if name not in files else f"{index + 1}-{name}"] = data
    return files


def _carried(form: FormData) -> dict[str, bytes] | None:
    """The documents the preview page carried back, or None when they were tampered with."""
    names = [n for n in form.getlist("name") if isinstance(n, str)]
    blobs = [d for d in form.getlist("data") if isinstance(d, str)]
    if not names or len(names) != len(blobs) or len(names) > _MAX_FILES:
        return None
    try:
        files = {
            name[:500]: base64.b64decode(blob, validate=True)
            for name, blob in zip(names, blobs, strict=True)
        }
    except (binascii.Error, ValueError):
        return None
    if sum(len(data) for data in files.values()) > MAX_UPLOAD_BYTES:
        return None
    return files


@router.get("/projects/{key}/import", response_class=HTMLResponse)
async def import_form(
    request: Request, key: str, session: DbSession, visitor: WebVisitor
) -> HTMLResponse:
    project = await admin_view_service.project_for_admin(session, visitor.user, key)
    return _upload_page(request, visitor, project)


@router.post("/projects/{key}/import/preview", response_class=HTMLResponse)
async def preview_import(
    request: Request,
    key: str,
    session: DbSession,
    settings: AppSettings,
    visitor: WebVisitor,
) -> HTMLResponse:
    form = await request.form(**_FORM_LIMITS)
    _check(request, settings, form)
    project = await admin_view_service.project_for_admin(session, visitor.user, key)
    try:
        files = await _uploaded(form)
    except _TooLarge:
        return _upload_page(
            request,
            visitor,
            project,
            problem=N_(
                "The document is too large for the browser import; use the API or the command line."
            ),
            status_code=status.HTTP_413_CONTENT_TOO_LARGE,
        )
    if not files:
        return _upload_page(
            request,
            visitor,
            project,
            problem=N_("Choose a plan document to upload."),
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    try:
        preview = await admin_view_service.preview_import(session, visitor.user, project, files)
    except (PlanDocumentError, InvalidInput) as exc:
        return _refused(request, visitor, project, exc)
    return templates.TemplateResponse(
        request,
        "plans/preview.html",
        {
            "project": project,
            "preview": preview,
            "documents": [
                (name, base64.b64encode(data).decode("ascii")) for name, data in files.items()
            ],
            "visitor": visitor,
        },
    )


def _refused(
    request: Request, visitor: Visitor, project: Project, exc: PlanDocumentError | InvalidInput
) -> HTMLResponse:
    """The upload page again with why the document was refused: its own error (file and
    line), or a rule of the tracker it breaks (a story key taken in the trash, a title too
    long), as the service's message says."""
    error = exc if isinstance(exc, PlanDocumentError) else PlanDocumentError(exc.detail)
    return _upload_page(
        request,
        visitor,
        project,
        document_error=error,
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


@router.post("/projects/{key}/import")
async def run_import(
    request: Request,
    key: str,
    session: DbSession,
    settings: AppSettings,
    visitor: WebVisitor,
) -> Response:
    form = await request.form(**_FORM_LIMITS)
    _check(request, settings, form)
    project = await admin_view_service.project_for_admin(session, visitor.user, key)
    files = _carried(form)
    if files is None:
        return _upload_page(
            request,
            visitor,
            project,
            problem=N_("The confirmation did not carry the previewed document: upload it again."),
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    try:
        await plan_file_service.import_files(session, visitor.user, project, files)
    except (PlanDocumentError, InvalidInput) as exc:
        return _refused(request, visitor, project, exc)
    return RedirectResponse(f"/projects/{project.key}", status_code=status.HTTP_303_SEE_OTHER)


@router.get("/projects/{key}/export.md")
async def export_markdown(
    key: str,
    session: DbSession,
    visitor: WebVisitor,
    phase: Annotated[int | None, Query(ge=0)] = None,
) -> PlainTextResponse:
    project = await project_service.get(session, visitor.user, key)
    text = await plan_file_service.export_markdown(session, visitor.user, project, phase=phase)
    suffix = f"-phase-{phase}" if phase is not None else ""
    return PlainTextResponse(
        text,
        media_type="text/markdown; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{project.key}{suffix}.md"'},
    )
