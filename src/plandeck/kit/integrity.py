"""Turn driver errors into domain errors, so no caller ever sees SQL or a driver exception."""

from __future__ import annotations

import re

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from plandeck.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PlandeckError,
    ServiceUnavailable,
)

# Readable messages for the constraints a user can run into; names follow the naming
# convention in models/base.py, so they are the same on SQLite and PostgreSQL.
_CONSTRAINT_MESSAGES = {
    "uq_users_email": "a user with this email already exists",
    "uq_projects_key": "a project with this key already exists",
    "uq_memberships_project_id_user_id": "this user is already a member of the project",
    "uq_phases_project_id_number": "the project already has a phase with this number (perhaps in the trash)",
    "uq_sprints_project_id_number": "the project already has a sprint with this number (perhaps in the trash)",
    "uq_stories_project_id_key": "the project already has a story with this key (perhaps in the trash)",
    "uq_api_tokens_token_hash": "token collision; create the token again",
}
# SQLite names the columns of a failed UNIQUE constraint rather than the constraint.
_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (\w+)\.(\w+(?:, \w+\.\w+)*)")
_SQLITE_CHECK = re.compile(r"CHECK constraint failed: (\w+)")


def _constraint_name(exc: DBAPIError) -> str | None:
    orig = exc.orig
    # asyncpg's error travels as the adapted exception's cause.
    for candidate in (orig, getattr(orig, "__cause__", None)):
        name = getattr(candidate, "constraint_name", None)
        if name:
            return str(name)
    message = str(orig)
    if match := _SQLITE_UNIQUE.search(message):
        table = match.group(1)
        columns = [part.split(".")[-1] for part in match.group(2).split(", ")]
        return f"uq_{table}_{'_'.join(columns)}"
    if match := _SQLITE_CHECK.search(message):
        return match.group(1)
    return None


def _is_kind(exc: DBAPIError, *markers: str) -> bool:
    text = f"{type(exc.orig).__name__} {getattr(exc.orig, '__cause__', '')!r} {exc.orig}".lower()
    return any(marker in text for marker in markers)


def translate_db_error(exc: DBAPIError) -> PlandeckError:
    if isinstance(exc, IntegrityError):
        name = _constraint_name(exc) or ""
        if name.startswith("uq_") or _is_kind(exc, "unique"):
            return Conflict(
                _CONSTRAINT_MESSAGES.get(name, "this would duplicate an existing record"),
                constraint=name,
            )
        if name.startswith("fk_") or _is_kind(exc, "foreign key"):
            return NotFound("a referenced record does not exist", constraint=name)
        if name.startswith("ck_") or _is_kind(exc, "check constraint", "checkviolation"):
            return InvalidInput(
                f"a value breaks the rule {name or 'of a check constraint'}",
                constraint=name,
            )
        if _is_kind(exc, "not null", "notnull"):
            return InvalidInput("a required value is missing")
        return Conflict("the change conflicts with existing data")
    if isinstance(exc, DataError) or _is_kind(
        exc,
        "dataerror",
        "out of range",
        "value too long",
        "stringdatarighttruncation",
        "characternotinrepertoire",
        "invalid byte sequence",
    ):
        return InvalidInput("a value is out of range or of the wrong type for the database")
    if isinstance(exc, OperationalError) and _is_kind(exc, "database is locked", "busy"):
        return ServiceUnavailable("the database is busy; retry the request")
    return ServiceUnavailable("the database could not complete the request")


async def flush(session: AsyncSession) -> None:
    """Flush pending changes, raising domain errors instead of driver ones.

    A failed flush leaves the transaction unusable, so the unit of work rolls it back.
    """
    try:
        await session.flush()
    except StaleDataError as exc:
        raise Conflict("the record was changed by someone else; reload and try again") from exc
    except DBAPIError as exc:
        raise translate_db_error(exc) from exc
