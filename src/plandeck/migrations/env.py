"""Alembic environment. plandeck passes an open connection (see plandeck.migrate); the
``alembic`` command line, used by developers to write migrations, gets one from settings."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from alembic import context
from sqlalchemy.engine import Connection

from plandeck.models import Base
from plandeck.models.base import UTCDateTime

target_metadata = Base.metadata


def _render_item(kind: str, obj: Any, _context: Any) -> str | Literal[False]:
    # Migrations must not import the models, which move on after a migration is written.
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite can only ALTER by copying the table
        compare_type=True,
        compare_server_default=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_settings() -> None:
    from plandeck.config import get_settings
    from plandeck.db import create_engine

    settings = get_settings()
    engine = create_engine(settings.database_url, settings)
    async with engine.begin() as conn:
        await conn.run_sync(_run_migrations)
    await engine.dispose()


connection = context.config.attributes.get("connection")
if context.is_offline_mode():
    raise SystemExit("plandeck migrations run online only")
elif connection is not None:
    _run_migrations(connection)
else:
    asyncio.run(_run_with_settings())
