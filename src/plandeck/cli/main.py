"""The ``plandeck`` command line."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from plandeck import __version__
from plandeck.config import ConfigurationError, Settings, get_settings
from plandeck.errors import PlandeckError

# The database stack (SQLAlchemy, Alembic, the models) is imported by the commands that use
# it, so that `plandeck --version` and `--help` answer at once.

T = TypeVar("T")

app = typer.Typer(
    name="plandeck",
    help="Self-hosted sprint planning: plans as markdown documents and as a living tracker.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
user_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
app.add_typer(user_app, name="user")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
_state = {"debug": False}


class CommandError(Exception):
    """A failure the user can act on; printed as one line."""


def _version(value: bool) -> None:
    if value:
        out.print(f"plandeck {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    _version_flag: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    _state["debug"] = debug


def _settings() -> Settings:
    return get_settings()


async def _with_database(
    settings: Settings, action: Callable[[Any], Awaitable[T]], *, prepare: bool = True
) -> T:
    """Run ``action(engine)``. With ``prepare``, the embedded SQLite database is created and
    migrated first (it is plandeck's own to manage), and a server database must already be
    at the newest schema (its operator migrates it)."""
    from plandeck import migrate
    from plandeck.db import create_engine

    embedded = settings.database_url.get_backend_name() == "sqlite"
    if prepare and embedded:
        _ensure_data_dir(settings)
    engine = create_engine(settings.database_url, settings)
    try:
        if prepare and embedded:
            await migrate.upgrade(engine)
        elif prepare:
            await _require_head(engine)
        return await action(engine)
    except OSError as exc:
        raise CommandError(f"cannot reach the database {_describe(settings)}: {exc}") from exc
    finally:
        await engine.dispose()


def _ensure_data_dir(settings: Settings) -> None:
    url = settings.database_url
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        os.makedirs(os.path.dirname(os.path.abspath(url.database)), exist_ok=True)


@app.command("migrate")
def migrate_command(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Upgrade the database schema (to the newest revision by default)."""
    settings = _settings()
    _ensure_data_dir(settings)

    async def action(engine: Any) -> str | None:
        from plandeck import migrate

        await migrate.upgrade(engine, revision)
        return await migrate.current_revision(engine)

    current = asyncio.run(_with_database(settings, action, prepare=False))
    out.print(f"database at revision {current} ({_describe(settings)})")


@app.command()
def downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. -1 or base.")],
) -> None:
    """Downgrade the database schema to REVISION (``base`` removes every table)."""
    settings = _settings()

    async def action(engine: Any) -> str | None:
        from plandeck import migrate

        await migrate.downgrade(engine, revision)
        return await migrate.current_revision(engine)

    current = asyncio.run(_with_database(settings, action, prepare=False))
    out.print(f"database at revision {current or 'base'} ({_describe(settings)})")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    production: Annotated[
        bool,
        typer.Option(
            "--production",
            help="Run as PLANDECK_ENVIRONMENT=production: its checks, PLANDECK_SERVER_* workers, "
            "trusted proxies and graceful shutdown.",
        ),
    ] = False,
) -> None:
    """Serve the web UI and the API with uvicorn. The embedded SQLite database is migrated first."""
    import uvicorn

    from plandeck.app import create_app

    if production and os.environ.get("PLANDECK_ENVIRONMENT", "").lower() != "production":
        # In the environment, not only in this process's settings: every worker reads it.
        os.environ["PLANDECK_ENVIRONMENT"] = "production"
        get_settings.cache_clear()
    settings = _settings()
    from plandeck.ops.logging import configure_logging

    configure_logging(settings)
    asyncio.run(_with_database(settings, _noop))
    # Built here in production too: a bad rate limit or Redis URL stops this process with one
    # line, rather than every worker failing in a loop.
    target: Any = create_app(settings)
    options: dict[str, Any] = {"proxy_headers": False}
    metrics_dir = None
    if settings.is_production:
        target, options, metrics_dir = _production_server(settings)
    out.print(f"plandeck {__version__} serving on http://{host}:{port} ({_describe(settings)})")
    try:
        uvicorn.run(
            target,
            host=host,
            port=port,
            log_level=settings.log_level.lower(),
            # plandeck's own logging (plandeck.ops.logging), which writes one line per request.
            log_config=None,
            access_log=False,
            **options,
        )
    finally:
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _production_server(settings: Settings) -> tuple[str, dict[str, Any], str | None]:
    """uvicorn's target and options for production: workers made by the app factory, proxy
    headers believed only from ``PLANDECK_SERVER_TRUSTED_PROXIES``, graceful shutdown.

    The third value is the metrics directory made for this run, to remove afterwards."""
    server = settings.server
    workers = server.worker_count(sqlite=settings.uses_sqlite)
    options: dict[str, Any] = {
        "factory": True,
        "workers": workers,
        "proxy_headers": bool(server.trusted_proxies),
        "forwarded_allow_ips": server.trusted_proxies or None,
        "timeout_keep_alive": server.keepalive_seconds,
        "timeout_graceful_shutdown": server.graceful_timeout_seconds,
        "limit_concurrency": server.limit_concurrency,
        "server_header": False,
    }
    made = None
    if workers > 1:
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # The workers' metrics meet in files there; a fresh directory per run, so no
            # dead process's counters are added to this run's.
            made = tempfile.mkdtemp(prefix="plandeck-metrics-")
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = made
        if not settings.redis_url:
            err.print(
                f"note: {workers} workers without PLANDECK_REDIS_URL: each keeps its own rate limits"
            )
    return "plandeck.app:create_app", options, made


async def _noop(_engine: Any) -> None:
    return None


async def _require_head(engine: Any) -> None:
    from plandeck import migrate

    current = await migrate.current_revision(engine)
    if current != migrate.head_revision():
        raise CommandError(
            f"the database schema is at {current or 'nothing'}, not {migrate.head_revision()}: "
            "run `plandeck migrate` first"
        )


@app.command()
def demo() -> None:
    """Create the demo user and the demo project (the phase 3 sample plan)."""
    from plandeck.demo import DEMO_EMAIL, DEMO_PASSWORD, load_demo

    settings = _settings()

    async def action(engine: Any) -> tuple[str, bool]:
        from plandeck.db import create_sessionmaker, unit_of_work

        async with unit_of_work(create_sessionmaker(engine)) as session:
            result = await load_demo(session)
            return result.project.key, result.report is not None

    key, created = asyncio.run(_with_database(settings, action))
    verb = "created" if created else "already there"
    out.print(f"demo project {key} {verb}; log in as {DEMO_EMAIL} / {DEMO_PASSWORD}")


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Option(help="Email address (the login).")],
    name: Annotated[str, typer.Option(help="Display name.")],
    password: Annotated[
        str | None,
        typer.Option(
            envvar="PLANDECK_PASSWORD",
            help="Password; asked for when omitted (or set PLANDECK_PASSWORD).",
            show_default=False,
        ),
    ] = None,
    superuser: Annotated[bool, typer.Option(help="Make the user a site administrator.")] = False,
) -> None:
    """Create a user account."""
    from pydantic import ValidationError

    from plandeck.auth.schemas import UserCreate
    from plandeck.auth.users import user_service

    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        data = UserCreate(email=email, name=name, password=password)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise CommandError(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None
    settings = _settings()

    async def action(engine: Any) -> int:
        from plandeck.db import create_sessionmaker, unit_of_work

        async with unit_of_work(create_sessionmaker(engine)) as session:
            user = await user_service.create(session, data)
            user.is_superuser = superuser
            return user.id

    user_id = asyncio.run(_with_database(settings, action))
    out.print(f"user {data.email} created (id {user_id})")


@user_app.command("list")
def user_list() -> None:
    """List user accounts."""
    from rich.table import Table

    from plandeck.auth.users import user_service

    settings = _settings()

    async def action(engine: Any) -> list[tuple[int, str, str, bool]]:
        from plandeck.db import create_sessionmaker, unit_of_work

        async with unit_of_work(create_sessionmaker(engine), read_only=True) as session:
            users = await user_service.list_all(session)
            return [(u.id, u.email, u.name, u.is_active) for u in users]

    table = Table("id", "email", "name", "active")
    for user_id, email, name, active in asyncio.run(_with_database(settings, action)):
        table.add_row(str(user_id), email, name, "yes" if active else "no")
    out.print(table)


def _describe(settings: Settings) -> str:
    return settings.database_url.render_as_string(hide_password=True)


def _register_commands() -> None:
    from plandeck.cli import (
        backup,  # noqa: F401 - registers backup and restore
        plans,  # noqa: F401 - registers import, export and check
        purge,  # noqa: F401 - registers purge
        remote,  # noqa: F401 - registers login, logout, stories, tasks and sprints (remote mode)
        report,  # noqa: F401 - registers report
    )


def main() -> None:
    """Entry point: run the app, turning every expected failure into one line and exit code 1."""
    _register_commands()
    try:
        app()  # usage errors, --help and Exit are handled by Typer itself, which exits
    except Exception as exc:
        if _state["debug"]:
            raise
        sys.exit(_report(exc))


def _first_line(value: object) -> str:
    text = str(value).strip()
    return text.splitlines()[0] if text else type(value).__name__


def _report(exc: BaseException) -> int:
    from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

    from plandeck.client.errors import PlandeckClientError
    from plandeck.kit.integrity import translate_db_error
    from plandeck.planfile.document import PlanSyntaxError

    if isinstance(exc, PlandeckClientError):
        message = str(exc)  # a server's refusal: "409 Stale version: story 9.1 is at ..."
    elif isinstance(exc, PlandeckError) and isinstance(exc.__cause__, DBAPIError):
        # A local administrator's tool: say what the database said, too.
        message = f"{exc}: {_first_line(exc.__cause__.orig)}"
    elif isinstance(exc, PlandeckError | CommandError | ConfigurationError | PlanSyntaxError):
        message = str(exc)
    elif isinstance(exc, IntegrityError):
        message = translate_db_error(exc).detail
    elif isinstance(exc, DBAPIError):
        message = f"database error: {_first_line(exc.orig)}"
    elif isinstance(exc, SQLAlchemyError):
        message = f"database error: {_first_line(exc)}"
    elif isinstance(exc, OSError):
        message = f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc)
    else:
        message = f"{type(exc).__name__}: {exc}"
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return 1
