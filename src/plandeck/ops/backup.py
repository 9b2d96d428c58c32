"""Backups: a consistent, versioned archive of one project or of all of them, and its restore
into an empty database.

The archive is JSON Lines (UTF-8, one JSON document a line):

- line 1, the header: ``format`` and ``format_version``, the ``plandeck_version`` and the
  Alembic ``revision`` that made it, ``created_at``, the ``project`` key (None: every
  project) and, for each table in restore order, its ``name``, ``columns``, ``rows`` and the
  ``sha256`` of its row lines (each line's bytes, newline included);
- then for each table a marker line ``{"table":"users"}`` followed by its rows, one object a
  line, ordered by primary key, keys sorted, no spaces: the same data always gives the same
  bytes, so two archives compare equal apart from the header's ``created_at``.

Sessions and refresh tokens are left out (short-lived secrets: people log in again); API
tokens are kept in a backup of everything (scripts keep working), not in one project's.
The analytics snapshot (``story_days``) is copied as it is, not rebuilt.

A restore first reads the whole archive without touching the database (every line parsed,
every table counted and checksummed), then checks the database (same schema revision,
empty) and inserts every row in one transaction: a damaged archive writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any, cast

import orjson
from sqlalchemy import (
    JSON,
    Column,
    Date,
    DateTime,
    Select,
    Table,
    TypeDecorator,
    exists,
    false,
    insert,
    select,
    text,
    union,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from plandeck import __version__
from plandeck.db import READ_ONLY_OPTION
from plandeck.errors import PlandeckError
from plandeck.models import Base

FORMAT = "plandeck-backup"
FORMAT_VERSION = 1
# Restore order: every table after the tables it refers to.
TABLES = (
    "users",
    "projects",
    "memberships",
    "api_tokens",
    "phases",
    "sprints",
    "stories",
    "tasks",
    "comments",
    "activity_events",
    "story_days",
)
# Short-lived secrets: a restored site asks people to log in again.
LEFT_OUT = frozenset({"refresh_tokens", "web_sessions"})
_BATCH = 1000
_READ_CHUNK = 2000


class BackupError(PlandeckError):
    """An archive that cannot be written or restored; the message says why, in one line."""

    status_code = 422
    title = "Backup refused"
    slug = "backup-refused"


@dataclass(frozen=True, slots=True)
class TableInfo:
    name: str
    columns: tuple[str, ...]
    rows: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Archive:
    """An archive's header: what a backup wrote, or what a restore read and checked."""

    created_at: str
    plandeck_version: str
    revision: str
    project: str | None
    tables: tuple[TableInfo, ...]

    def rows(self, name: str) -> int:
        return next(t.rows for t in self.tables if t.name == name)


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


def _columns(name: str) -> tuple[str, ...]:
    return tuple(column.name for column in _table(name).columns)


def _dumps(value: Any) -> bytes:
    """Canonical JSON: sorted keys, no spaces, UTF-8, timestamps in ISO 8601."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # integers beyond 64 bits in a JSON column: orjson refuses them
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_iso
        ).encode()


def _iso(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "value"):  # an enum member
        return value.value
    raise TypeError(f"cannot archive {type(value).__name__}")


def _marker(name: str) -> bytes:
    return _dumps({"table": name}) + b"\n"


# Reading the database


async def schema_revision(connection: AsyncConnection) -> str | None:
    """The Alembic revision, read on ``connection`` (so inside its transaction)."""
    from alembic.runtime.migration import MigrationContext

    return await connection.run_sync(
        lambda sync_conn: MigrationContext.configure(sync_conn).get_current_revision()
    )


@asynccontextmanager
async def reading_snapshot(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection in one read-only transaction that sees a single snapshot of the
    database: REPEATABLE READ on PostgreSQL, one (deferred) read transaction on SQLite."""
    if engine.dialect.name == "postgresql":
        options: dict[str, Any] = {
            "isolation_level": "REPEATABLE READ",
            "postgresql_readonly": True,
        }
    else:
        options = {READ_ONLY_OPTION: True}
    async with engine.connect() as connection:
        await connection.execution_options(**options)
        async with connection.begin():
            yield connection


def _selection(name: str, project_id: int | None) -> Select[Any]:
    """The rows of table ``name`` that go into the archive, ordered by primary key."""
    table = _table(name)
    statement = select(table).order_by(*table.primary_key.columns)
    if project_id is None:
        return statement
    tables = Base.metadata.tables
    stories = tables["stories"]
    of_project = select(stories.c.id).where(stories.c.project_id == project_id)
    if name == "users":
        memberships, comments = tables["memberships"], tables["comments"]
        events = tables["activity_events"]
        # Members, and whoever else the project's rows name, so that every link restores.
        needed = union(
            select(memberships.c.user_id).where(memberships.c.project_id == project_id),
            select(stories.c.assignee_id).where(stories.c.project_id == project_id),
            select(stories.c.reporter_id).where(stories.c.project_id == project_id),
            select(comments.c.author_id).where(comments.c.story_id.in_(of_project)),
            select(events.c.actor_id).where(events.c.project_id == project_id),
        )
        return statement.where(table.c.id.in_(select(needed.subquery().c[0])))
    if name == "projects":
        return statement.where(table.c.id == project_id)
    if name == "api_tokens":
        return statement.where(false())
    if name in ("tasks", "comments"):
        return statement.where(table.c.story_id.in_(of_project))
    return statement.where(table.c.project_id == project_id)


async def write_archive(
    connection: AsyncConnection,
    out: IO[bytes],
    *,
    project_key: str | None = None,
    spool_dir: Path | None = None,
) -> Archive:
    """Write the archive of one project (``project_key``) or of everything to ``out``,
    reading on ``connection``, which should be in a ``reading_snapshot`` transaction.

    Rows are streamed: the body goes to a temporary file while the checksums are computed,
    then the header and the body are written to ``out``.
    """
    from plandeck.migrate import head_revision

    revision = await schema_revision(connection)
    if revision != head_revision():
        raise BackupError(
            f"the database schema is at {revision or 'nothing'}, not {head_revision()}: "
            "back it up with the plandeck version that matches it, or run `plandeck migrate`"
        )
    project_id = None
    if project_key is not None:
        projects = _table("projects")
        project_id = await connection.scalar(
            select(projects.c.id).where(projects.c.key == project_key)
        )
        if project_id is None:
            raise BackupError(f"no project {project_key!r}")
    tables = []
    with tempfile.TemporaryFile(dir=spool_dir) as body:
        for name in TABLES:
            body.write(_marker(name))
            digest, count = hashlib.sha256(), 0
            columns = _columns(name)
            result = await connection.stream(
                _selection(name, project_id).execution_options(yield_per=_READ_CHUNK)
            )
            async for partition in result.partitions():
                lines = b"".join(
                    _dumps(dict(zip(columns, row, strict=True))) + b"\n" for row in partition
                )
                digest.update(lines)
                body.write(lines)
                count += len(partition)
            tables.append(TableInfo(name, columns, count, digest.hexdigest()))
        archive = Archive(
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            plandeck_version=__version__,
            revision=revision,
            project=project_key,
            tables=tuple(tables),
        )
        out.write(_dumps(_header(archive)) + b"\n")
        body.seek(0)
        shutil.copyfileobj(body, out, 1 << 20)
    return archive


def _header(archive: Archive) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_at": archive.created_at,
        "plandeck_version": archive.plandeck_version,
        "revision": archive.revision,
        "project": archive.project,
        "tables": [
            {"name": t.name, "columns": list(t.columns), "rows": t.rows, "sha256": t.sha256}
            for t in archive.tables
        ],
    }


async def backup(
    engine: AsyncEngine, destination: Path | None, *, project_key: str | None = None
) -> Archive:
    """Back up to the file ``destination`` (written whole or not at all: a temporary file
    renamed at the end) or, when None, to standard output."""
    if destination is None:
        async with reading_snapshot(engine) as connection:
            archive = await write_archive(connection, sys.stdout.buffer, project_key=project_key)
        sys.stdout.buffer.flush()
        return archive
    folder = destination.resolve().parent
    handle, partial = tempfile.mkstemp(prefix=f".{destination.name}.", dir=folder)
    try:
        with os.fdopen(handle, "wb") as out:
            async with reading_snapshot(engine) as connection:
                archive = await write_archive(
                    connection, out, project_key=project_key, spool_dir=folder
                )
            out.flush()
            os.fsync(out.fileno())
        os.chmod(partial, 0o600)  # password hashes inside
        os.replace(partial, destination)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return archive


# Reading an archive


class _Lines:
    """An archive's lines with their numbers, each checked to be whole and valid JSON."""

    def __init__(self, file: IO[bytes], name: str) -> None:
        self._file = file
        self.name = name
        self.number = 0

    def fail(self, reason: str, number: int | None = None) -> BackupError:
        return BackupError(f"{self.name}: line {number or self.number}: {reason}")

    def next_raw(self) -> bytes | None:
        """The next line, newline included; None at the end of the file."""
        line = self._file.readline()
        if not line:
            return None
        self.number += 1
        if not line.endswith(b"\n"):
            raise self.fail("the line is cut short: the archive is truncated")
        return line

    def parse(self, line: bytes) -> Any:
        try:
            return orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            try:  # what orjson refuses and the standard library reads (integers beyond 64 bits)
                return json.loads(line)
            except ValueError:
                raise self.fail(f"malformed JSON ({exc})") from None


def _read_header(lines: _Lines) -> Archive:
    from plandeck.migrate import head_revision

    line = lines.next_raw()
    if line is None:
        raise BackupError(f"{lines.name}: the file is empty, not a plandeck backup")
    header = lines.parse(line)
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise lines.fail("not a plandeck backup (no plandeck-backup header)")
    if header.get("format_version") != FORMAT_VERSION:
        raise lines.fail(
            f"unknown format version {header.get('format_version')!r} "
            f"(this plandeck {__version__} reads version {FORMAT_VERSION})"
        )
    try:
        archive = Archive(
            created_at=str(header["created_at"]),
            plandeck_version=str(header["plandeck_version"]),
            revision=str(header["revision"]),
            project=header["project"],
            tables=tuple(
                TableInfo(t["name"], tuple(t["columns"]), int(t["rows"]), str(t["sha256"]))
                for t in header["tables"]
            ),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise lines.fail(f"incomplete header ({type(exc).__name__}: {exc})") from None
    if archive.revision != head_revision():
        raise BackupError(
            f"{lines.name}: the archive is of schema revision {archive.revision} "
            f"(plandeck {archive.plandeck_version}), this plandeck's is {head_revision()}: "
            "restore it with the plandeck version that made it, then upgrade with "
            "`plandeck migrate`"
        )
    names = tuple(t.name for t in archive.tables)
    if names != TABLES:
        raise lines.fail(f"the header lists the tables {', '.join(names)}, not {', '.join(TABLES)}")
    for info in archive.tables:
        if info.columns != _columns(info.name):
            raise lines.fail(f"the header's columns of table {info.name} are not this schema's")
    return archive


def _sections(lines: _Lines, archive: Archive) -> Iterator[tuple[TableInfo, Iterator[bytes]]]:
    """Each table with an iterator over its row lines; checks markers, counts, checksums
    and the end of the file as it goes."""
    for info in archive.tables:
        line = lines.next_raw()
        if line is None:
            raise lines.fail(f"the archive ends before table {info.name}: it is truncated")
        if line != _marker(info.name):
            lines.parse(line)
            raise lines.fail(f"expected the start of table {info.name}")
        yield info, _rows(lines, info)
    if lines.next_raw() is not None:
        raise lines.fail("unexpected content after the last table")


def _rows(lines: _Lines, info: TableInfo) -> Iterator[bytes]:
    digest = hashlib.sha256()
    first = lines.number + 1
    for count in range(info.rows):
        line = lines.next_raw()
        if line is None:
            raise lines.fail(
                f"the archive ends inside table {info.name} after {count} of {info.rows} "
                "rows: it is truncated"
            )
        digest.update(line)
        yield line
    if digest.hexdigest() != info.sha256:
        raise BackupError(
            f"{lines.name}: checksum mismatch of table {info.name} (lines {first}-{lines.number}): "
            "the archive is damaged"
        )


def _decoder(column: Column[Any]) -> Callable[[Any], Any] | None:
    kind = column.type
    if isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    if isinstance(kind, DateTime):
        return datetime.fromisoformat
    if isinstance(kind, Date):
        return date.fromisoformat
    return None


def _decode_row(
    lines: _Lines, line: bytes, columns: set[str], decoders: dict[str, Callable[[Any], Any]]
) -> dict[str, Any]:
    row = lines.parse(line)
    if not isinstance(row, dict) or row.keys() != columns:
        raise lines.fail("a row without the columns of its table")
    try:
        for name, decode in decoders.items():
            if row[name] is not None:
                row[name] = decode(row[name])
    except (TypeError, ValueError) as exc:
        raise lines.fail(f"a value that is no date or time ({exc})") from None
    return cast(dict[str, Any], row)


def check_archive(path: Path) -> Archive:
    """Read the whole archive without a database: every line parsed, every table counted
    and checksummed. The header, when all is well; ``BackupError`` naming the first fault."""
    with _open(path) as file:
        lines = _Lines(file, str(path))
        archive = _read_header(lines)
        for info, rows in _sections(lines, archive):
            columns, decoders = _shape(info.name)
            for line in rows:
                _decode_row(lines, line, columns, decoders)
    return archive


def _shape(name: str) -> tuple[set[str], dict[str, Callable[[Any], Any]]]:
    decoders = {}
    for column in _table(name).columns:
        decode = _decoder(column)
        if decode is not None:
            decoders[column.name] = decode
    return set(_columns(name)), decoders


@contextmanager
def _open(path: Path) -> Iterator[IO[bytes]]:
    try:
        file = path.open("rb")
    except OSError as exc:
        raise BackupError(f"{path}: {exc.strerror or exc}") from None
    with file:
        yield file


# Restoring


async def _nonempty_table(connection: AsyncConnection) -> str | None:
    for table in Base.metadata.sorted_tables:
        if await connection.scalar(select(exists().select_from(table))):
            return table.name
    return None


async def _check_target(connection: AsyncConnection, archive: Archive) -> None:
    revision = await schema_revision(connection)
    if revision is None:
        raise BackupError("the database has no schema: run `plandeck migrate` first, then restore")
    if revision != archive.revision:
        raise BackupError(
            f"the database is at schema revision {revision}, the archive at {archive.revision}: "
            "restore into a database migrated to the archive's revision"
        )
    full = await _nonempty_table(connection)
    if full is not None:
        raise BackupError(
            f"the database is not empty (table {full} has rows): restore only into an empty, "
            "freshly migrated database"
        )


async def restore_archive(connection: AsyncConnection, path: Path) -> Archive:
    """Load the archive at ``path`` into the empty database of ``connection``, in the
    connection's transaction (which the caller commits). The archive is checked whole first,
    so a damaged one raises ``BackupError`` before anything is written."""
    archive = check_archive(path)
    await _check_target(connection, archive)
    with _open(path) as file:
        lines = _Lines(file, str(path))
        _read_header(lines)
        for info, rows in _sections(lines, archive):
            await _insert_rows(connection, lines, info.name, rows)
    if connection.dialect.name == "postgresql":
        await _reset_sequences(connection)
    return archive


async def _insert_rows(
    connection: AsyncConnection, lines: _Lines, name: str, rows: Iterator[bytes]
) -> None:
    table = _table(name)
    columns, decoders = _shape(name)
    # A row that refers to a later row of its own table (a subtask moved under a newer
    # task) goes in without the link, which is set once every row is in.
    own = [
        key.parent.name
        for key in table.foreign_keys
        if key.column.table is table and key.parent.name in columns
    ]
    seen: set[Any] = set()
    later: list[dict[str, Any]] = []
    batch: list[dict[str, Any]] = []
    write = _writer(connection, table)
    for line in rows:
        row = _decode_row(lines, line, columns, decoders)
        if own:
            seen.add(row["id"])
            pending = {c: row[c] for c in own if row[c] is not None and row[c] not in seen}
            if pending:
                later.append({**pending, "id": row["id"], **_unchanged(table, row)})
                row.update(dict.fromkeys(pending))
        batch.append(row)
        if len(batch) >= _BATCH:
            await write(batch)
            batch = []
    if batch:
        await write(batch)
    for values in later:
        row_id = values.pop("id")
        await connection.execute(update(table).where(table.c.id == row_id).values(values))


def _writer(
    connection: AsyncConnection, table: Table
) -> Callable[[list[dict[str, Any]]], Awaitable[None]]:
    """A function inserting a batch of rows in the connection's transaction. On PostgreSQL
    it is COPY, several times faster than INSERTs for the activity trail; JSON columns go
    as JSON text there (None as SQL NULL, which reads back as None, as JSON null does)."""
    if connection.dialect.name != "postgresql":

        async def insert_rows(batch: list[dict[str, Any]]) -> None:
            await connection.execute(insert(table), batch)

        return insert_rows

    names = [column.name for column in table.columns]
    json_columns = {column.name for column in table.columns if isinstance(column.type, JSON)}

    async def copy_rows(batch: list[dict[str, Any]]) -> None:
        records = [
            tuple(
                _json_text(row[name])
                if name in json_columns and row[name] is not None
                else row[name]
                for name in names
            )
            for row in batch
        ]
        raw = await connection.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            table.name, records=records, columns=names
        )

    return copy_rows


def _json_text(value: Any) -> str:
    return _dumps(value).decode()


def _unchanged(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    """The row's values of columns with an ``onupdate``, which an UPDATE would otherwise
    overwrite (``updated_at``)."""
    return {c.name: row[c.name] for c in table.columns if c.onupdate is not None}


async def _reset_sequences(connection: AsyncConnection) -> None:
    """Rows came with their ids: move each id sequence past the largest, so that new rows
    get fresh ones."""
    for name in TABLES:
        table = _table(name)
        if "id" not in table.primary_key.columns:
            continue
        await connection.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                f"coalesce(max(id), 0) + 1, false) FROM {name}"
            )
        )


async def restore(engine: AsyncEngine, path: Path) -> Archive:
    """``restore_archive`` in a transaction of its own: all of it, or nothing."""
    async with engine.begin() as connection:
        return await restore_archive(connection, path)


def table_counts(archive: Archive) -> dict[str, int]:
    return {t.name: t.rows for t in archive.tables}


__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "LEFT_OUT",
    "TABLES",
    "Archive",
    "BackupError",
    "TableInfo",
    "backup",
    "check_archive",
    "reading_snapshot",
    "restore",
    "restore_archive",
    "schema_revision",
    "table_counts",
    "write_archive",
]
