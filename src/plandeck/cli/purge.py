"""``plandeck purge``: empty the trash of what has been there longer than the retention."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated, Any

import typer

from plandeck.cli.main import _describe, _settings, _with_database, app, out

_NOUNS = {
    "phase": ("phase", "phases"),
    "sprint": ("sprint", "sprints"),
    "story": ("story", "stories"),
    "task": ("task", "tasks"),
    "comment": ("comment", "comments"),
}


def _counted(purged: dict[str, int]) -> str:
    return ", ".join(
        f"{count} {_NOUNS[kind][count != 1]}" for kind, count in purged.items() if count
    )


@app.command("purge")
def purge_command(
    older_than: Annotated[
        int | None,
        typer.Option(
            "--older-than",
            min=0,
            metavar="DAYS",
            help="Purge what has been in the trash longer than DAYS days "
            "(default: PLANDECK_TRASH_RETENTION_DAYS, 30).",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be purged; remove nothing.")
    ] = False,
) -> None:
    """Remove for good what has been in any project's trash longer than the retention."""
    settings = _settings()
    days = settings.trash_retention_days if older_than is None else older_than

    async def action(engine: Any) -> dict[str, int]:
        from plandeck.db import create_sessionmaker, unit_of_work
        from plandeck.plans.trash import trash_service

        async with unit_of_work(create_sessionmaker(engine)) as session:
            purged = await trash_service.purge_older_than(session, timedelta(days=days))
            if dry_run:
                await session.rollback()
            return {kind.value: count for kind, count in purged.items()}

    purged = asyncio.run(_with_database(settings, action))
    age = f"in the trash for more than {days} day{'' if days == 1 else 's'}"
    if not any(purged.values()):
        out.print(f"nothing {age}")
    elif dry_run:
        out.print(f"would purge {_counted(purged)} {age}; dry run: nothing removed")
    else:
        out.print(f"purged {_counted(purged)} {age} from {_describe(settings)}")
