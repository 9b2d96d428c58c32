"""Remote mode: ``plandeck login``/``logout`` and commands that work on a plandeck server's API.

The server is ``--server URL``, else ``PLANDECK_SERVER``, else the one of the stored login.
The credential is ``PLANDECK_TOKEN`` (an access token or a personal API token), else the
stored login, which is only ever sent to the server it was made for.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.markup import escape
from rich.table import Table

from plandeck.cli.main import CommandError, app, err, out

if TYPE_CHECKING:
    from plandeck.client import PlandeckClient
    from plandeck.client.models import Sprint, SprintCompletion, Story, Task, Tokens

CREDENTIALS_FILE = "credentials.json"
_REMOTE_HELP = "The plandeck server, e.g. https://plandeck.example.com (or PLANDECK_SERVER)."
_PROJECT_KEY = Annotated[str, typer.Argument(metavar="KEY", help="Project key.")]
_STORY_KEY = Annotated[str, typer.Argument(metavar="STORY", help="Story key, e.g. 9.1.")]
_SPRINT_NUMBER = Annotated[
    int, typer.Argument(metavar="NUMBER", min=0, help="The sprint's number, e.g. 9.")
]

stories_app = typer.Typer(help="Stories on a plandeck server (remote mode).", no_args_is_help=True)
tasks_app = typer.Typer(
    help="A story's tasks on a plandeck server (remote mode).", no_args_is_help=True
)
sprints_app = typer.Typer(
    help="Sprints on a plandeck server: list, start, complete (remote mode).",
    no_args_is_help=True,
)
app.add_typer(stories_app, name="stories")
app.add_typer(tasks_app, name="tasks")
app.add_typer(sprints_app, name="sprints")

Server = Annotated[
    str | None,
    typer.Option("--server", envvar="PLANDECK_SERVER", help=_REMOTE_HELP, show_default=False),
]


# Stored login


@dataclass(frozen=True)
class Credentials:
    server: str
    access_token: str
    refresh_token: str


def config_dir() -> Path:
    """Where the login is kept: ``$PLANDECK_CONFIG_DIR``, else the platform's config folder."""
    configured = os.environ.get("PLANDECK_CONFIG_DIR")
    return Path(configured) if configured else Path(typer.get_app_dir("plandeck"))


def credentials_path() -> Path:
    return config_dir() / CREDENTIALS_FILE


def load_credentials() -> Credentials | None:
    path = credentials_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Credentials(
            server=str(data["server"]),
            access_token=str(data["access_token"]),
            refresh_token=str(data["refresh_token"]),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CommandError(
            f"cannot read the stored login {path} ({exc}): run `plandeck logout`, then log in again"
        ) from None


def save_credentials(credentials: Credentials) -> Path:
    """Write the login readable by its owner only. The file is created with mode 0600 (never
    widened, then narrowed) and replaces the old one in one step."""
    path = credentials_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            json.dump(asdict(credentials), stream, indent=2)
            stream.write("\n")
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def _same_server(a: str, b: str) -> bool:
    import httpx

    from plandeck.client import api_url

    return httpx.URL(api_url(a)) == httpx.URL(api_url(b))


def connect(server: str | None) -> PlandeckClient:
    """A client for the chosen server with the chosen credential; a clear error without one."""
    from plandeck.client import PlandeckClient

    stored = load_credentials()
    url = server or (stored.server if stored else None)
    if not url:
        raise CommandError(
            "remote mode needs a server: pass --server URL, set PLANDECK_SERVER, or run "
            "`plandeck login --server URL` (import, export and check also work on the local "
            "database without one)"
        )
    token = os.environ.get("PLANDECK_TOKEN")
    if token:
        return PlandeckClient(url, token=token)
    if stored is None or not _same_server(stored.server, url):
        raise CommandError(
            f"not logged in to {url}: run `plandeck login --server {url}`, or set PLANDECK_TOKEN "
            "to an API token"
        )
    login_server = stored.server

    def keep(tokens: Tokens) -> None:
        save_credentials(Credentials(login_server, tokens.access_token, tokens.refresh_token))

    return PlandeckClient(
        url,
        token=stored.access_token,
        refresh_token=stored.refresh_token,
        on_tokens=keep,
    )


@contextmanager
def remote(server: str | None) -> Iterator[PlandeckClient]:
    """``connect``, closed afterwards; a stored login the server refuses says to log in again."""
    from plandeck.client import NotAuthenticated

    client = connect(server)
    try:
        with client:
            yield client
    except NotAuthenticated as exc:
        if client.on_tokens is None:  # PLANDECK_TOKEN: the user knows which token it is
            raise
        raise CommandError(
            f"{exc}; log in again: plandeck login --server {client.base_url.removesuffix('/api/v1')}"
        ) from exc


@app.command("login")
def login_command(
    server: Server = None,
    email: Annotated[
        str | None, typer.Option(help="Your account's email; asked for when omitted.")
    ] = None,
) -> None:
    """Log in to a plandeck server; later remote commands use this login.

    The password is asked for (hidden), or read from PLANDECK_PASSWORD.
    """
    from plandeck.client import PlandeckClient

    stored = load_credentials()
    url = server or (stored.server if stored else None)
    if not url:
        raise CommandError("say which server to log in to: plandeck login --server URL")
    if email is None:
        email = typer.prompt("Email")
    password = os.environ.get("PLANDECK_PASSWORD") or typer.prompt("Password", hide_input=True)
    with PlandeckClient(url) as client:
        result = client.login(email, password)
    path = save_credentials(Credentials(url, result.access_token, result.refresh_token))
    out.print(
        f"logged in to {url} as {escape(result.user.name)} <{result.user.email}>; "
        f"login stored in {path}",
        highlight=False,
    )


@app.command("logout")
def logout_command() -> None:
    """End the stored login, on the server and here."""
    from plandeck.client import PlandeckClient, PlandeckClientError

    stored = load_credentials()
    if stored is None:
        out.print("not logged in")
        return
    try:
        with PlandeckClient(stored.server, refresh_token=stored.refresh_token) as client:
            client.logout()
    except PlandeckClientError as exc:
        err.print(
            f"[yellow]warning:[/] the server did not end the login ({escape(str(exc))}); "
            "forgetting it here anyway",
            highlight=False,
        )
    credentials_path().unlink(missing_ok=True)
    out.print(f"logged out of {stored.server}", highlight=False)


# Helpers shared by the commands


def _sprint_choice(value: str | None, option: str = "--sprint") -> int | Literal["backlog"] | None:
    """``--sprint`` (or another ``option``): a sprint number or ``backlog``."""
    if value is None:
        return None
    if value.strip().lower() == "backlog":
        return "backlog"
    refusal = f"{option} takes a sprint number or 'backlog', not {value!r}"
    try:
        number = int(value)
    except ValueError:
        raise CommandError(refusal) from None
    if number < 0:
        raise CommandError(refusal)
    return number


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _date_option(value: str | None, option: str) -> date | None:
    """A ``YYYY-MM-DD`` option; Python's ``fromisoformat`` alone would also take ``20250106``
    and week dates."""
    if value is None:
        return None
    text = value.strip()
    try:
        if not _ISO_DATE.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{option} takes a date as YYYY-MM-DD, not {value!r}") from None


def _assignee_id(client: PlandeckClient, key: str, value: str) -> int | None:
    """``--assignee``: ``me``, ``none``, a user id or a member's email, as a user id."""
    text = value.strip()
    if text.lower() == "none":
        return None
    if text.lower() == "me":
        return client.me().id
    if text.isdigit():
        return int(text)
    for member in client.list_members(key):
        if member.user.email.lower() == text.lower():
            return member.user_id
    raise CommandError(f"--assignee: {text} is not a member of {key}")


def _assignee_filter(
    client: PlandeckClient, key: str, value: str | None
) -> int | Literal["me", "none"] | None:
    if value is None:
        return None
    text = value.strip().lower()
    if text == "me":
        return "me"
    found = None if text == "none" else _assignee_id(client, key, value)
    return "none" if found is None else found


def _sprint_id(client: PlandeckClient, key: str, number: int) -> int:
    return client.get_sprint(key, number).id


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


_STATUS_STYLE = {
    "done": "green",
    "in_progress": "cyan",
    "review": "magenta",
    "blocked": "red",
    "approved": "blue",
}


def _status(value: str) -> str:
    style = _STATUS_STYLE.get(value)
    return f"[{style}]{value}[/]" if style else value


class _Names:
    """Sprint numbers and member names by id, read once per command for display."""

    def __init__(self, client: PlandeckClient, key: str) -> None:
        self.sprints = {s.id: s.number for s in client.list_sprints(key)}
        self.people = {m.user_id: m.user.name for m in client.list_members(key)}

    def sprint(self, sprint_id: int | None) -> str:
        if sprint_id is None:
            return "backlog"
        number = self.sprints.get(sprint_id)
        return str(number) if number is not None else f"#{sprint_id}"

    def person(self, user_id: int | None) -> str:
        if user_id is None:
            return ""
        return self.people.get(user_id, f"user {user_id}")


def _story_line(verb: str, story: Story) -> None:
    out.print(
        f"{verb} story {escape(story.key)}: {escape(story.title)} "
        f"({story.status.value}, version {story.version})",
        highlight=False,
    )


# Stories


@stories_app.command("list")
def stories_list(
    project: Annotated[str, typer.Option("--project", help="Project key.")],
    server: Server = None,
    sprint: Annotated[
        str | None, typer.Option(help="A sprint number, or 'backlog'.", show_default=False)
    ] = None,
    status: Annotated[
        list[str] | None,
        typer.Option(help="Only this status (repeat for several).", show_default=False),
    ] = None,
    priority: Annotated[
        list[str] | None,
        typer.Option(help="Only this priority (repeat for several).", show_default=False),
    ] = None,
    assignee: Annotated[
        str | None,
        typer.Option(help="me, none, a user id or a member's email.", show_default=False),
    ] = None,
    search: Annotated[
        str | None,
        typer.Option("--search", "-q", help="Text in the key, title or description."),
    ] = None,
    sort: Annotated[
        str | None, typer.Option(help="rank (default), key, points, priority, status...")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List a project's stories (every page), in plan order unless --sort says otherwise."""
    with remote(server) as client:
        stories = client.list_stories(
            project,
            sprint=_sprint_choice(sprint),
            status=status or None,
            priority=priority or None,
            assignee=_assignee_filter(client, project, assignee),
            q=search,
            sort=sort,
        )
        if as_json:
            _print_json([s.model_dump(mode="json") for s in stories])
            return
        names = _Names(client, project)
    table = Table("key", "title", "status", "pts", "priority", "sprint", "assignee", title=project)
    for story in stories:
        table.add_row(
            escape(story.key),
            escape(story.title),
            _status(story.status.value),
            "" if story.points is None else str(story.points),
            story.priority.value,
            names.sprint(story.sprint_id),
            escape(names.person(story.assignee_id)),
        )
    out.print(table)
    points = sum(s.points or 0 for s in stories)
    out.print(f"{len(stories)} stories, {points} points", highlight=False)


@stories_app.command("show")
def stories_show(
    key: _PROJECT_KEY,
    story: _STORY_KEY,
    server: Server = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a story with its tasks."""
    with remote(server) as client:
        found = client.get_story(key, story)
        tasks = client.list_tasks(key, story)
        if as_json:
            _print_json(
                {
                    **found.model_dump(mode="json"),
                    "tasks": [t.model_dump(mode="json") for t in tasks],
                }
            )
            return
        names = _Names(client, key)
    out.print(f"[bold]{escape(found.key)}: {escape(found.title)}[/]", highlight=False)
    fields = [
        ("status", _status(found.status.value)),
        ("points", "" if found.points is None else str(found.points)),
        ("priority", found.priority.value),
        ("moscow", found.moscow.value if found.moscow else ""),
        ("sprint", names.sprint(found.sprint_id)),
        ("assignee", escape(names.person(found.assignee_id))),
        ("version", str(found.version)),
    ]
    for name, value in fields:
        if value:
            out.print(f"  {name + ':':<10}{value}", highlight=False)
    if found.description:
        out.print("", escape(found.description), sep="\n", highlight=False)
    if found.acceptance_criteria:
        out.print("\nacceptance criteria:")
        for criterion in found.acceptance_criteria:
            mark = "x" if criterion.get("done") else " "
            out.print(f"  \\[{mark}] {escape(str(criterion.get('text', '')))}", highlight=False)
    if tasks:
        out.print("\ntasks:")
        _print_tasks(tasks)


@stories_app.command("create")
def stories_create(
    key: _PROJECT_KEY,
    title: Annotated[str, typer.Option(help="The story's title.")],
    server: Server = None,
    story_key: Annotated[
        str | None, typer.Option("--key", help="Its key; generated when omitted.")
    ] = None,
    points: Annotated[int | None, typer.Option(min=0, help="Story points.")] = None,
    priority: Annotated[str | None, typer.Option(help="critical, high, medium or low.")] = None,
    status: Annotated[
        str | None, typer.Option(help="draft, approved, in_progress, review, done or blocked.")
    ] = None,
    sprint: Annotated[
        int | None, typer.Option(help="Sprint number; the backlog otherwise.")
    ] = None,
    assignee: Annotated[str | None, typer.Option(help="me, a user id or a member's email.")] = None,
    description: Annotated[str | None, typer.Option(help="Markdown.")] = None,
) -> None:
    """Create a story."""
    with remote(server) as client:
        fields: dict[str, Any] = {
            "key": story_key,
            "points": points,
            "priority": priority,
            "status": status,
            "description": description,
        }
        if sprint is not None:
            fields["sprint_id"] = _sprint_id(client, key, sprint)
        if assignee is not None:
            fields["assignee_id"] = _assignee_id(client, key, assignee)
        created = client.create_story(
            key, title, **{k: v for k, v in fields.items() if v is not None}
        )
    _story_line("created", created)


@stories_app.command("update")
def stories_update(
    key: _PROJECT_KEY,
    story: _STORY_KEY,
    server: Server = None,
    title: Annotated[str | None, typer.Option(help="New title.")] = None,
    points: Annotated[
        str | None, typer.Option(help="Story points, or 'none' to clear.", show_default=False)
    ] = None,
    priority: Annotated[str | None, typer.Option(help="critical, high, medium or low.")] = None,
    status: Annotated[
        str | None, typer.Option(help="draft, approved, in_progress, review, done or blocked.")
    ] = None,
    moscow: Annotated[str | None, typer.Option(help="must, should, could or wont.")] = None,
    assignee: Annotated[
        str | None, typer.Option(help="me, none, a user id or a member's email.")
    ] = None,
    sprint: Annotated[str | None, typer.Option(help="A sprint number, or 'backlog'.")] = None,
    description: Annotated[str | None, typer.Option(help="Markdown.")] = None,
    version: Annotated[
        int | None,
        typer.Option(min=1, help="Refuse the change if the story is no longer at this version."),
    ] = None,
) -> None:
    """Change a story's fields (only those given)."""
    changes: dict[str, Any] = {
        k: v
        for k, v in {
            "title": title,
            "priority": priority,
            "status": status,
            "moscow": moscow,
            "description": description,
        }.items()
        if v is not None
    }
    if points is not None:
        if points.strip().lower() == "none":
            changes["points"] = None
        elif points.strip().isdigit():
            changes["points"] = int(points)
        else:
            raise CommandError(f"--points takes a number or 'none', not {points!r}")
    with remote(server) as client:
        if assignee is not None:
            changes["assignee_id"] = _assignee_id(client, key, assignee)
        target = _sprint_choice(sprint)
        if target == "backlog":
            changes["sprint_id"] = None
        elif isinstance(target, int):
            changes["sprint_id"] = _sprint_id(client, key, target)
        if not changes:
            raise CommandError("nothing to change: give --title, --points, --status, ...")
        updated = client.update_story(key, story, version=version, **changes)
    _story_line("updated", updated)


@stories_app.command("move")
def stories_move(
    key: _PROJECT_KEY,
    story: _STORY_KEY,
    server: Server = None,
    sprint: Annotated[
        str | None,
        typer.Option(help="Target sprint number, or 'backlog'; the story's own when omitted."),
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(help="A new status: draft, approved, in_progress, review, done or blocked."),
    ] = None,
    before: Annotated[
        str | None, typer.Option(help="Place it right before this story.", show_default=False)
    ] = None,
    after: Annotated[
        str | None, typer.Option(help="Place it right after this story.", show_default=False)
    ] = None,
    version: Annotated[
        int | None,
        typer.Option(min=1, help="Refuse the move if the story is no longer at this version."),
    ] = None,
) -> None:
    """Move a story on the board: to a sprint or the backlog, a status, a place in the order."""
    move: dict[str, Any] = {"status": status, "before": before, "after": after}
    move = {k: v for k, v in move.items() if v is not None}
    target = _sprint_choice(sprint)
    if target is not None:
        move["sprint"] = None if target == "backlog" else target
    if not move:
        raise CommandError("say where to: give --sprint, --status, --before or --after")
    with remote(server) as client:
        moved = client.move_story(key, story, version=version, **move)
        names = _Names(client, key)
    out.print(
        f"moved story {escape(moved.key)} to {'sprint ' if moved.sprint_id else ''}"
        f"{names.sprint(moved.sprint_id)}, {moved.status.value} (version {moved.version})",
        highlight=False,
    )


# Tasks


def _print_tasks(tasks: list[Task]) -> None:
    known = {task.id for task in tasks}
    children: dict[int | None, list[Task]] = {}
    for task in tasks:
        # A subtask whose parent is not listed (it is in the trash) shows at the top level.
        parent = task.parent_id if task.parent_id in known else None
        children.setdefault(parent, []).append(task)

    def show(parent: int | None, depth: int) -> None:
        for task in children.get(parent, []):
            mark = "x" if task.done else " "
            out.print(
                f"  {'  ' * depth}\\[{mark}] {escape(task.text)}  [dim]#{task.id}[/]",
                highlight=False,
            )
            show(task.id, depth + 1)

    show(None, 0)


@tasks_app.command("list")
def tasks_list(
    key: _PROJECT_KEY,
    story: _STORY_KEY,
    server: Server = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List a story's tasks (subtasks indented), with their ids."""
    with remote(server) as client:
        tasks = client.list_tasks(key, story)
    if as_json:
        _print_json([t.model_dump(mode="json") for t in tasks])
        return
    if not tasks:
        out.print(f"story {story} has no tasks", highlight=False)
        return
    _print_tasks(tasks)
    done = sum(1 for t in tasks if t.done)
    out.print(f"{done}/{len(tasks)} done", highlight=False)


@tasks_app.command("toggle")
def tasks_toggle(
    key: _PROJECT_KEY,
    task_id: Annotated[int, typer.Argument(metavar="TASK_ID", min=1, help="The task's id.")],
    server: Server = None,
) -> None:
    """Tick a task, or untick it."""
    with remote(server) as client:
        task = client.toggle_task(key, task_id)
    state = "done" if task.done else "not done"
    out.print(f"task {task.id} {state}: {escape(task.text)}", highlight=False)


# Sprints

_SPRINT_STATUS_STYLE = {"active": "cyan", "completed": "green", "cancelled": "dim"}


def _sprint_status(value: str) -> str:
    style = _SPRINT_STATUS_STYLE.get(value)
    return f"[{style}]{value}[/]" if style else value


def _dates(sprint: Sprint) -> str:
    start, end = sprint.starts_on, sprint.ends_on
    if start and end:
        return f"{start} to {end}"
    if start:
        return f"from {start}"
    return f"until {end}" if end else ""


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


def _stories(keys: list[str], points: int) -> str:
    """``2 stories (5 points)``."""
    return f"{_count(len(keys), 'story', 'stories')} ({_count(points, 'point', 'points')})"


def completion_summary(completion: SprintCompletion) -> str:
    """One paragraph: what was done and what was carried over where, e.g. ``Sprint 3
    completed: 2 stories (5 points) done; 1 story (3 points) carried over to sprint 4: PX-7``."""
    done = _stories(completion.completed, completion.completed_points)
    summary = f"Sprint {completion.sprint.number} completed: {done} done"
    if not completion.carried_over:
        return f"{summary}; nothing carried over"
    to = (
        "the backlog"
        if completion.carried_over_to is None
        else f"sprint {completion.carried_over_to}"
    )
    moved = _stories(completion.carried_over, completion.carried_over_points)
    return f"{summary}; {moved} carried over to {to}: {', '.join(completion.carried_over)}"


@sprints_app.command("list")
def sprints_list(
    key: _PROJECT_KEY,
    server: Server = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List a project's sprints, by number."""
    with remote(server) as client:
        sprints = client.list_sprints(key)
    if as_json:
        _print_json([s.model_dump(mode="json") for s in sprints])
        return
    if not sprints:
        out.print(f"project {key} has no sprints", highlight=False)
        return
    table = Table("number", "name", "status", "dates", "weeks", title=key)
    for sprint in sprints:
        table.add_row(
            str(sprint.number),
            escape(sprint.name),
            _sprint_status(sprint.status.value),
            _dates(sprint),
            escape(sprint.weeks or ""),
        )
    out.print(table)


@sprints_app.command("start")
def sprints_start(
    key: _PROJECT_KEY,
    number: _SPRINT_NUMBER,
    server: Server = None,
    starts_on: Annotated[
        str | None,
        typer.Option(
            metavar="DATE",
            help="First day, YYYY-MM-DD; today (in the project's time zone) when omitted.",
            show_default=False,
        ),
    ] = None,
    ends_on: Annotated[
        str | None,
        typer.Option(
            metavar="DATE",
            help="Last day, YYYY-MM-DD; the start plus the sprint's planned length when omitted.",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        int | None,
        typer.Option(min=1, help="Refuse if the sprint is no longer at this version."),
    ] = None,
) -> None:
    """Start a planned sprint (admins); one sprint is active at a time."""
    first = _date_option(starts_on, "--starts-on")
    last = _date_option(ends_on, "--ends-on")
    with remote(server) as client:
        sprint = client.start_sprint(key, number, starts_on=first, ends_on=last, version=version)
    out.print(
        f"Sprint {sprint.number} started: {escape(sprint.name)}, {_dates(sprint)} "
        f"(version {sprint.version})",
        highlight=False,
    )


@sprints_app.command("complete")
def sprints_complete(
    key: _PROJECT_KEY,
    number: _SPRINT_NUMBER,
    server: Server = None,
    carry_over_to: Annotated[
        str | None,
        typer.Option(
            metavar="NUMBER|backlog",
            help="Where the unfinished stories go; the next planned sprint (else the backlog) "
            "when omitted.",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        int | None,
        typer.Option(min=1, help="Refuse if the sprint is no longer at this version."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead.")] = False,
) -> None:
    """Complete the active sprint (admins): done stories stay, the others move on."""
    target = _sprint_choice(carry_over_to, "--carry-over-to")
    with remote(server) as client:
        completion = client.complete_sprint(key, number, carry_over_to=target, version=version)
    if as_json:
        _print_json(completion.model_dump(mode="json"))
        return
    out.print(escape(completion_summary(completion)), highlight=False)


# Plan documents (the branches of `plandeck import` and `export` for a server)


def import_remote(
    server: str,
    path: Path,
    key: str,
    *,
    dry_run: bool,
    prune: bool,
) -> Any:
    """Import through the API; the project is created first when it does not exist."""
    from plandeck.client import NotFound

    with remote(server) as client:
        try:
            client.get_project(key)
        except NotFound:
            if dry_run:
                raise CommandError(
                    f"no project {key} on {client.base_url}: a dry run needs an existing project"
                ) from None
            client.create_project(key, _project_name(path))
            out.print(f"created project {key}", highlight=False)
        return client.import_plan(key, path, dry_run=dry_run, prune=prune)


def _project_name(path: Path) -> str:
    """The name a new project gets: the plan's first phase title, else the file's name."""
    from plandeck.planfile.document import PlanSyntaxError
    from plandeck.planfile.reader import read_path

    try:
        doc = read_path(path)
    except PlanSyntaxError:
        return path.stem[:200]
    return (doc.phases[0].title if doc.phases else path.stem)[:200]


def export_remote(server: str, key: str, *, phase: int | None, output_format: str) -> str:
    with remote(server) as client:
        if output_format == "json":
            data = client.export_json(key, phase=phase)
            return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
        return client.export_markdown(key, phase=phase)
