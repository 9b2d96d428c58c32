"""plandeck backup and restore, run as an operator runs them, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from plandeck import migrate
from plandeck.auth.api_tokens import api_token_service
from plandeck.auth.schemas import ApiTokenCreate
from plandeck.auth.tokens import web_session_service
from plandeck.auth.users import user_service
from plandeck.config import Settings
from plandeck.db import create_sessionmaker, unit_of_work
from plandeck.models import Base, Project, Role, Story
from plandeck.ops.backup import LEFT_OUT, TABLES
from plandeck.plans.comments import comment_service
from plandeck.plans.projects import project_service
from plandeck.plans.schemas import StoryFilter
from plandeck.plans.stories import story_service
from tests.databases import KINDS, TestDatabase
from tests.factories.accounts import PASSWORD, make_user
from tests.factories.comments import make_comment
from tests.factories.plans import (
    add_member,
    make_phase,
    make_project,
    make_sprint,
    make_story,
    make_task,
)
from tests.processes import env_for, run_cli

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif("postgresql" not in KINDS, reason="the round trips need PostgreSQL"),
]

NewDatabase = Callable[..., Awaitable[TestDatabase]]


@pytest.fixture(scope="module")
async def templates(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[dict[str, TestDatabase]]:
    """One migrated database per kind, copied for each test (cheaper than migrating)."""
    made: dict[str, TestDatabase] = {}
    workdir = tmp_path_factory.mktemp("templates")
    for kind in KINDS:
        made[kind] = await TestDatabase.create(kind, workdir)
    yield made
    for db in made.values():
        await db.drop()


@pytest.fixture
async def new_database(
    templates: dict[str, TestDatabase], tmp_path: Path
) -> AsyncIterator[NewDatabase]:
    """Makes migrated databases of a kind ("sqlite", "postgresql"), or bare ones."""
    bare: list[TestDatabase] = []

    async def make(kind: str, *, migrated: bool = True) -> TestDatabase:
        if migrated:
            return await templates[kind].copy(tmp_path)
        db = await TestDatabase.create(kind, tmp_path, migrated=False)
        bare.append(db)
        return db

    yield make
    for db in bare:
        await db.drop()


@dataclass(frozen=True)
class Filled:
    owner_email: str
    outsider_email: str  # only in the second project
    key: str  # the first project
    other_key: str


async def fill(db: TestDatabase) -> Filled:
    """Two projects through the services: phases, sprints, stories, tasks with subtasks,
    comments, a story and a comment in the trash, members of every role, an API token and a
    browser session; the activity trail and the analytics snapshot come with them."""
    async with unit_of_work(create_sessionmaker(db.engine)) as session:
        owner = await make_user(session, name="Ada Owner")
        member = await make_user(session, name="Nasrin Member", locale="fa")
        viewer = await make_user(session)
        outsider = await make_user(session)
        project = await make_project(session, owner, name="Checkout", timezone="Asia/Tehran")
        await add_member(session, project, member, Role.MEMBER)
        await add_member(session, project, viewer, Role.VIEWER)
        phase = await make_phase(session, owner, project, goals=["Fast", "Safe"])
        sprint = await make_sprint(session, owner, project, phase_id=phase.id)
        stories = [
            await make_story(
                session,
                owner,
                project,
                phase_id=phase.id,
                sprint_id=sprint.id,
                assignee_id=member.id,
                title=f"Story {n} «ünïcode» ✓",
                acceptance_criteria=[{"text": "works", "done": n % 2 == 0}],
            )
            for n in range(4)
        ]
        await make_story(session, member, project, title="In the backlog", points=None)
        first = await make_task(session, owner, project, stories[0], text="Parent")
        await make_task(session, owner, project, stories[0], text="Child", parent_id=first.id)
        later = await make_task(session, owner, project, stories[0], text="Newer parent")
        # A subtask whose parent has a larger id (a task moved under a newer one): the
        # restore must insert it before its parent exists.
        first.parent_id = later.id
        await make_comment(session, member, project, stories[1], body="First!")
        gone = await make_comment(session, owner, project, stories[1], body="Oops")
        await comment_service.delete(session, owner, project, gone.id)
        await story_service.delete(session, owner, project, stories[3].id)
        await api_token_service.create(session, owner, ApiTokenCreate(name="ci"))
        await web_session_service.start(session, Settings(), owner)
        other = await make_project(session, outsider)
        await make_story(session, outsider, other)
        return Filled(owner.email, outsider.email, project.key, other.key)


def _cli(db: TestDatabase, workdir: Path, *args: str) -> tuple[int, str, str]:
    result = run_cli(*args, env=env_for(db.url, workdir), cwd=workdir, timeout=120)
    return result.returncode, result.stdout.strip(), result.stderr.strip()


def _backup(db: TestDatabase, workdir: Path, name: str, *args: str) -> Path:
    path = workdir / name
    code, _out, err = _cli(db, workdir, "backup", "--output", str(path), *args)
    assert code == 0, err
    return path


def _restore(db: TestDatabase, workdir: Path, archive: Path) -> None:
    code, out, err = _cli(db, workdir, "restore", str(archive))
    assert code == 0, err
    assert out.startswith(f"restored {archive} (")


def _comparable(archive: Path) -> tuple[dict[str, object], bytes]:
    """The archive apart from the moment it was made."""
    header_line, body = archive.read_bytes().split(b"\n", 1)
    header = json.loads(header_line)
    del header["created_at"]
    return header, body


def _rows(archive: Path, table: str) -> list[dict[str, object]]:
    rows, current = [], None
    for line in archive.read_text().splitlines()[1:]:
        value = json.loads(line)
        if set(value) == {"table"}:
            current = value["table"]
        elif current == table:
            rows.append(value)
    return rows


async def _counts(db: TestDatabase) -> dict[str, int]:
    async with db.engine.connect() as conn:
        return {
            table.name: await conn.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


async def _stories(db: TestDatabase, email: str, key: str) -> list[tuple[str, str, str]]:
    async with unit_of_work(create_sessionmaker(db.engine), read_only=True) as session:
        user = await user_service.get_by_email(session, email)
        assert user is not None
        project = await project_service.get(session, user, key)
        page = await story_service.list_filtered(session, user, project, StoryFilter(), limit=100)
        return [(s.key, s.title, s.status.value) for s in page.items]


async def _check_restored(source: TestDatabase, target: TestDatabase, filled: Filled) -> None:
    """People log in, see the same stories, and new rows get fresh ids."""
    async with unit_of_work(create_sessionmaker(target.engine)) as session:
        assert await user_service.authenticate(session, filled.owner_email, PASSWORD) is not None
        assert await user_service.authenticate(session, filled.owner_email, "wrong") is None
    assert await _stories(target, filled.owner_email, filled.key) == await _stories(
        source, filled.owner_email, filled.key
    )
    async with unit_of_work(create_sessionmaker(target.engine)) as session:
        owner = await user_service.get_by_email(session, filled.owner_email)
        assert owner is not None
        largest = await session.scalar(select(func.max(Story.id)))
        project = await session.scalar(select(Project).where(Project.key == filled.key))
        assert project is not None
        story = await make_story(session, owner, project, title="After the restore")
        assert largest is not None
        assert story.id > largest
        await make_user(session)  # the users' sequence too


class TestRoundTrip:
    @pytest.mark.parametrize(
        ("source_kind", "target_kind"),
        [("postgresql", "postgresql"), ("sqlite", "sqlite"), ("sqlite", "postgresql")],
    )
    async def test_a_backup_restores_into_a_fresh_database_identically(
        self, new_database: NewDatabase, tmp_path: Path, source_kind: str, target_kind: str
    ) -> None:
        if not {source_kind, target_kind} <= set(KINDS):
            pytest.skip(f"{source_kind} or {target_kind} is not tested")
        source = await new_database(source_kind)
        filled = await fill(source)
        first = _backup(source, tmp_path, "first.jsonl")
        target = await new_database(target_kind)
        _restore(target, tmp_path, first)
        second = _backup(target, tmp_path, "second.jsonl")
        assert _comparable(second) == _comparable(first)
        counts = await _counts(target)
        assert counts["web_sessions"] == counts["refresh_tokens"] == 0
        assert counts["api_tokens"] == 1
        assert counts["story_days"] > 0
        assert counts["activity_events"] == (await _counts(source))["activity_events"]
        await _check_restored(source, target, filled)

    async def test_backing_up_twice_gives_the_same_bytes_but_the_time(
        self, new_database: NewDatabase, tmp_path: Path
    ) -> None:
        source = await new_database("postgresql")
        await fill(source)
        one, two = _backup(source, tmp_path, "1.jsonl"), _backup(source, tmp_path, "2.jsonl")
        assert _comparable(one) == _comparable(two)
        header = json.loads(one.read_text().splitlines()[0])
        assert header["format"] == "plandeck-backup"
        assert header["format_version"] == 1
        assert header["revision"] == migrate.head_revision()
        assert [t["name"] for t in header["tables"]] == list(TABLES)
        assert one.stat().st_mode & 0o777 == 0o600

    async def test_archive_goes_to_standard_output_without_output(
        self, new_database: NewDatabase, tmp_path: Path
    ) -> None:
        source = await new_database("postgresql")
        await fill(source)
        result = run_cli("backup", env=env_for(source.url, tmp_path), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout.splitlines()[0])["format"] == "plandeck-backup"
        assert "written to standard output" in result.stderr


class TestProjectBackup:
    async def test_project_backup_holds_that_project_and_the_users_it_needs(
        self, new_database: NewDatabase, tmp_path: Path
    ) -> None:
        source = await new_database("postgresql")
        filled = await fill(source)
        archive = _backup(source, tmp_path, "project.jsonl", "--project", filled.key)
        header = json.loads(archive.read_text().splitlines()[0])
        assert header["project"] == filled.key
        assert [p["key"] for p in _rows(archive, "projects")] == [filled.key]
        emails = {u["email"] for u in _rows(archive, "users")}
        assert filled.owner_email in emails
        assert filled.outsider_email not in emails
        assert len(emails) == 3
        assert _rows(archive, "api_tokens") == []
        assert {e["project_id"] for e in _rows(archive, "activity_events")} == {
            _rows(archive, "projects")[0]["id"]
        }

        target = await new_database("postgresql")
        _restore(target, tmp_path, archive)
        assert await _stories(target, filled.owner_email, filled.key) == await _stories(
            source, filled.owner_email, filled.key
        )
        async with unit_of_work(create_sessionmaker(target.engine), read_only=True) as session:
            assert list(await session.scalars(select(Project.key))) == [filled.key]
        second = _backup(target, tmp_path, "again.jsonl", "--project", filled.key)
        assert _comparable(second) == _comparable(archive)

    async def test_unknown_project_is_refused(
        self, new_database: NewDatabase, tmp_path: Path
    ) -> None:
        source = await new_database("postgresql")
        code, _out, err = _cli(source, tmp_path, "backup", "--project", "NOPE", "-o", "x.jsonl")
        assert code == 1
        assert err == "error: no project 'NOPE'"
        assert not (tmp_path / "x.jsonl").exists()
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".x.jsonl")] == []


def test_every_table_is_archived_or_left_out_on_purpose() -> None:
    assert set(TABLES) | LEFT_OUT == set(Base.metadata.tables)
    assert not set(TABLES) & LEFT_OUT


# Refusals: each leaves the target database exactly as it was.


@pytest.fixture(scope="module")
async def good_archive(
    templates: dict[str, TestDatabase], tmp_path_factory: pytest.TempPathFactory
) -> bytes:
    workdir = tmp_path_factory.mktemp("good")
    source = await templates["postgresql"].copy(workdir)
    await fill(source)
    return _backup(source, workdir, "good.jsonl").read_bytes()


@pytest.fixture
def archive(good_archive: bytes, tmp_path: Path) -> Path:
    """A sound archive of a filled PostgreSQL database, for the test to damage."""
    path = tmp_path / "archive.jsonl"
    path.write_bytes(good_archive)
    return path


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def _first_row_of(lines: list[str], table: str) -> int:
    return lines.index(json.dumps({"table": table}, separators=(",", ":")) + "\n") + 1


def _cut_mid_line(path: Path) -> str:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return "the line is cut short: the archive is truncated"


def _cut_at_line(path: Path) -> str:
    lines = _lines(path)
    stories = _first_row_of(lines, "stories")
    path.write_text("".join(lines[: stories + 2]))
    return "the archive ends inside table stories after 2 of"


def _bad_json(path: Path) -> str:
    lines = _lines(path)
    row = _first_row_of(lines, "tasks")
    lines[row] = lines[row][:20] + "\n"
    path.write_text("".join(lines))
    return f"line {row + 1}: malformed JSON"


def _edited_row(path: Path) -> str:
    lines = _lines(path)
    row = _first_row_of(lines, "stories")
    story = json.loads(lines[row])
    story["title"] = "Edited by hand"
    lines[row] = json.dumps(story, sort_keys=True, separators=(",", ":")) + "\n"
    path.write_text("".join(lines))
    return "checksum mismatch of table stories"


def _future_format(path: Path) -> str:
    lines = _lines(path)
    header = json.loads(lines[0])
    header["format_version"] = 99
    lines[0] = json.dumps(header) + "\n"
    path.write_text("".join(lines))
    return "line 1: unknown format version 99"


def _not_json_at_all(path: Path) -> str:
    path.write_text("id,title\n1,hello\n")
    return "line 1: malformed JSON"


DAMAGE = {
    "cut mid-line": _cut_mid_line,
    "cut at a line": _cut_at_line,
    "bad JSON": _bad_json,
    "edited row": _edited_row,
    "future format": _future_format,
    "not JSON": _not_json_at_all,
}


class TestRefusals:
    @pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
    @pytest.mark.parametrize("damage", DAMAGE)
    async def test_damaged_archive_writes_nothing(
        self,
        new_database: NewDatabase,
        archive: Path,
        tmp_path: Path,
        kind: str,
        damage: str,
    ) -> None:
        if kind not in KINDS:
            pytest.skip(f"{kind} is not tested")
        expected = DAMAGE[damage](archive)
        target = await new_database(kind)
        code, _out, err = _cli(target, tmp_path, "restore", str(archive))
        assert code == 1
        assert err.startswith(f"error: {archive}: ")
        assert expected in err
        assert len(err.splitlines()) == 1
        assert set((await _counts(target)).values()) == {0}

    async def test_non_empty_database_is_refused(
        self, new_database: NewDatabase, archive: Path, tmp_path: Path
    ) -> None:
        target = await new_database("postgresql")
        async with unit_of_work(create_sessionmaker(target.engine)) as session:
            await make_user(session, email="already@example.com")
        before = await _counts(target)
        code, _out, err = _cli(target, tmp_path, "restore", str(archive))
        assert code == 1
        assert err == (
            "error: the database is not empty (table users has rows): restore only into an "
            "empty, freshly migrated database"
        )
        assert await _counts(target) == before
        async with unit_of_work(create_sessionmaker(target.engine), read_only=True) as session:
            assert await user_service.get_by_email(session, "already@example.com") is not None

    async def test_other_schema_revision_is_refused(
        self, new_database: NewDatabase, archive: Path, tmp_path: Path
    ) -> None:
        target = await new_database("postgresql")
        await migrate.downgrade(target.engine, "-1")
        older = await migrate.current_revision(target.engine)
        code, _out, err = _cli(target, tmp_path, "restore", str(archive))
        assert code == 1
        assert err.startswith(f"error: the database is at schema revision {older}, the archive at")
        assert await migrate.current_revision(target.engine) == older
        assert set((await _counts_at(target)).values()) == {0}

    async def test_database_without_schema_is_refused(
        self, new_database: NewDatabase, archive: Path, tmp_path: Path
    ) -> None:
        target = await new_database("postgresql", migrated=False)
        code, _out, err = _cli(target, tmp_path, "restore", str(archive))
        assert code == 1
        assert (
            err == "error: the database has no schema: run `plandeck migrate` first, then restore"
        )

    async def test_missing_file_is_refused(self, new_database: NewDatabase, tmp_path: Path) -> None:
        target = await new_database("postgresql")
        code, _out, err = _cli(target, tmp_path, "restore", str(tmp_path / "nothing.jsonl"))
        assert code != 0
        assert "nothing.jsonl" in err


async def _counts_at(db: TestDatabase) -> dict[str, int]:
    """Row counts of the tables that exist (an older revision lacks the newest ones)."""
    from sqlalchemy import inspect

    async with db.engine.connect() as conn:
        names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
        return {
            table.name: await conn.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
            if table.name in names
        }
