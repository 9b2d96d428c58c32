"""``plandeck import``, ``export`` and ``check``: plan documents from the command line."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from plandeck.cli.main import (
    CommandError,
    _describe,
    _settings,
    _with_database,
    app,
    err,
    out,
)


def _default_key(path: Path) -> str:
    letters = re.sub(r"[^A-Za-z0-9]", "", path.stem).upper() or "PLAN"
    return (letters if letters[0].isalpha() else "P" + letters)[:16]


async def _actor(session: Any, project: Any, email: str | None) -> Any:
    from sqlalchemy import select

    from plandeck.auth.users import user_service
    from plandeck.models import Membership, Role, User

    if email:
        user = await user_service.get_by_email(session, email)
        if user is None:
            raise CommandError(f"no user {email}: create one with `plandeck user create`")
        return user
    if project is not None:
        owner = await session.scalar(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.project_id == project.id, Membership.role == Role.OWNER)
            .order_by(Membership.id)
        )
        if owner is not None:
            return owner
    users = list(await session.scalars(select(User).where(User.is_active).limit(2)))
    if len(users) == 1:
        return users[0]
    raise CommandError("say who imports with --user EMAIL (or set PLANDECK_USER)")


def _print_warnings(warnings: list[Any]) -> None:
    for warning in warnings:
        err.print(f"[yellow]warning:[/] {warning}", highlight=False)


@app.command("import")
def import_command(
    path: Annotated[
        Path, typer.Argument(help="A plan document, or a folder of them.", exists=True)
    ],
    project_key: Annotated[
        str | None, typer.Option("--project", help="Project key; created when it does not exist.")
    ] = None,
    user: Annotated[
        str | None, typer.Option(envvar="PLANDECK_USER", help="Email of the acting user.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; write nothing.")
    ] = False,
    prune: Annotated[
        bool, typer.Option(help="Move stories missing from the document to the trash.")
    ] = False,
    server: Annotated[
        str | None,
        typer.Option(
            envvar="PLANDECK_SERVER",
            help="Import through this plandeck server's API instead of the local database.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Import a plan into a project: creates what is new, updates what changed, matched by key."""
    from plandeck.planfile.reader import read_path

    if server:
        from plandeck.cli.remote import import_remote

        key = project_key or _default_key(path)
        result = import_remote(server, path, key, dry_run=dry_run, prune=prune)
        _print_warnings(result.warnings)
        _summary(result, key, dry_run=dry_run, database=server)
        return
    doc = read_path(path)
    _print_warnings(doc.warnings)
    doc.raise_for_errors()
    key = project_key or _default_key(path)
    settings = _settings()

    async def action(engine: Any) -> Any:
        from sqlalchemy import select

        from plandeck.db import create_sessionmaker
        from plandeck.models import Project
        from plandeck.planfile.importer import import_document
        from plandeck.plans.projects import project_service
        from plandeck.plans.schemas import ProjectCreate

        async with create_sessionmaker(engine)() as session:
            try:
                project = await session.scalar(select(Project).where(Project.key == key))
                actor = await _actor(session, project, user)
                if project is None:
                    title = doc.phases[0].title if doc.phases else path.stem
                    project = await project_service.create(
                        session, actor, ProjectCreate(key=key, name=title[:200])
                    )
                with _progress(len(doc.stories)) as progress:
                    report = await import_document(
                        session, actor, project, doc, prune=prune, progress=progress
                    )
                if dry_run:
                    await session.rollback()
                else:
                    await session.commit()
                return report
            except BaseException:
                await session.rollback()
                raise

    report = asyncio.run(_with_database(settings, action))
    _summary(report, key, dry_run=dry_run, database=_describe(settings))


@contextmanager
def _progress(total: int) -> Iterator[Callable[[int, int], None]]:
    """A Rich progress bar on a terminal; a plain line every 10% otherwise (logs, CI)."""
    if out.is_terminal:
        with Progress(
            TextColumn("importing stories"),
            BarColumn(),
            MofNCompleteColumn(),
            console=out,
            transient=True,
        ) as bar:
            task = bar.add_task("import", total=total)
            yield lambda done, _total: bar.update(task, completed=done)
        return
    step = max(1, total // 10)

    def plain(done: int, total: int) -> None:
        if done % step == 0 or done == total:
            out.print(f"imported {done}/{total} stories", highlight=False)

    yield plain


def _summary(report: Any, key: str, *, dry_run: bool, database: str) -> None:
    table = Table("", "created", "updated", "unchanged", "removed", title=f"{report.file} -> {key}")
    for entity in ("phase", "sprint", "story"):
        table.add_row(
            entity,
            *(
                str(report.count(entity, action))
                for action in ("created", "updated", "unchanged", "removed")
            ),
        )
    out.print(table)
    if dry_run:
        for change in report.changes:
            if change.action != "unchanged":
                out.print(f"  {change}", highlight=False)
    if report.missing:
        out.print(
            f"in the project but not in the document: {', '.join(report.missing)}"
            + (
                ""
                if any(c.action == "removed" for c in report.changes)
                else " (kept; --prune moves them to the trash)"
            ),
            highlight=False,
        )
    out.print(
        f"{len(report.warnings)} warnings; "
        + ("dry run: nothing written" if dry_run else f"written to {database}")
    )


@app.command("export")
def export_command(
    project_key: Annotated[str, typer.Option("--project", help="Project key.")],
    phase: Annotated[int | None, typer.Option(help="Only this phase.")] = None,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="File to write; standard output by default."),
    ] = None,
    output_format: Annotated[str, typer.Option("--format", help="markdown or json.")] = "markdown",
    user: Annotated[
        str | None, typer.Option(envvar="PLANDECK_USER", help="Email of the reading user.")
    ] = None,
    server: Annotated[
        str | None,
        typer.Option(
            envvar="PLANDECK_SERVER",
            help="Export through this plandeck server's API instead of the local database.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Export a project's plan as markdown (the format import reads) or JSON."""
    if output_format not in ("markdown", "json"):
        raise CommandError(f"--format must be markdown or json, not {output_format!r}")
    if server:
        from plandeck.cli.remote import export_remote

        _write_export(
            export_remote(server, project_key, phase=phase, output_format=output_format), output
        )
        return
    settings = _settings()

    async def action(engine: Any) -> str:
        from sqlalchemy import select

        from plandeck.db import create_sessionmaker, unit_of_work
        from plandeck.models import Project
        from plandeck.planfile.export import render_json, render_markdown
        from plandeck.planfile.importer import document_from_project

        async with unit_of_work(create_sessionmaker(engine), read_only=True) as session:
            project = await session.scalar(select(Project).where(Project.key == project_key))
            if project is None:
                raise CommandError(f"no project {project_key!r}")
            actor = await _actor(session, project, user)
            doc = await document_from_project(session, actor, project, phase_number=phase)
            if output_format == "json":
                data = render_json(
                    doc,
                    {"key": project.key, "name": project.name, "description": project.description},
                )
                return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
            return render_markdown(doc)

    _write_export(asyncio.run(_with_database(settings, action)), output)


def _write_export(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        out.print(f"wrote {output}")


@app.command("check")
def check_command(
    path: Annotated[
        Path, typer.Argument(help="A plan document, or a folder of them.", exists=True)
    ],
) -> None:
    """Lint a plan: duplicate keys, unknown stories in the prioritisation, bad points, missing sprints."""
    from plandeck.planfile.reader import read_path

    doc = read_path(path)
    for warning in doc.warnings:
        style = "red" if warning.error else "yellow"
        label = "error" if warning.error else "warning"
        err.print(
            f"[{style}]{label}:[/] {warning.file}:{warning.line or ''} {warning.message}",
            highlight=False,
        )
    points = sum(s.points or 0 for s in doc.stories)
    out.print(
        f"{path}: {len(doc.phases)} phases, {len(doc.sprints)} sprints, {len(doc.stories)} stories, "
        f"{points} points; {len(doc.errors)} errors, {len(doc.warnings) - len(doc.errors)} warnings"
    )
    if doc.errors:
        raise typer.Exit(1)
