"""``plandeck backup`` and ``plandeck restore``: the whole site, or one project, as one file."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from plandeck.cli.main import _describe, _settings, _with_database, app, err, out

if TYPE_CHECKING:
    from plandeck.ops.backup import Archive

_SHOWN = (
    ("users", "user", "users"),
    ("projects", "project", "projects"),
    ("stories", "story", "stories"),
    ("tasks", "task", "tasks"),
    ("comments", "comment", "comments"),
    ("activity_events", "activity event", "activity events"),
)


def _contents(archive: Archive) -> str:
    return ", ".join(
        f"{archive.rows(name)} {one if archive.rows(name) == 1 else many}"
        for name, one, many in _SHOWN
    )


@app.command("backup")
def backup_command(
    project_key: Annotated[
        str | None,
        typer.Option("--project", help="Back up this project (and the users it names) only."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            dir_okay=False,
            help="Write the archive to FILE (default: standard output).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write a consistent JSON Lines archive of every project (or one) with its users."""
    settings = _settings()

    async def action(engine: Any) -> Archive:
        from plandeck.ops.backup import backup

        return await backup(engine, output, project_key=project_key)

    archive = asyncio.run(_with_database(settings, action, prepare=False))
    what = f"project {project_key}" if project_key else "all projects"
    where = output if output is not None else "standard output"
    # With the archive on standard output, the summary goes to standard error.
    (out if output is not None else err).print(
        f"backup of {what} ({_contents(archive)}) written to {where}", highlight=False
    )


@app.command("restore")
def restore_command(
    archive_file: Annotated[
        Path, typer.Argument(metavar="FILE", dir_okay=False, help="An archive of plandeck backup.")
    ],
) -> None:
    """Load an archive into an empty database migrated to the archive's schema revision."""
    settings = _settings()

    async def action(engine: Any) -> Archive:
        from plandeck.ops.backup import restore

        return await restore(engine, archive_file)

    archive = asyncio.run(_with_database(settings, action, prepare=False))
    out.print(
        f"restored {archive_file} ({_contents(archive)}) into {_describe(settings)}",
        highlight=False,
    )
