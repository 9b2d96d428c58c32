"""API throughput benchmark: a sprint's stories, plandeck against a bare reference server.

One run creates a PostgreSQL database, migrates it and fills it through the services: a user,
a project, a sprint of 50 stories with a few tasks each (the one measured), two neighbouring
sprints and a backlog so that the queries have rows to skip. Then it starts, each with two
uvicorn worker processes on loopback:

- ``plandeck``: ``uvicorn --factory plandeck.app:create_app``, rate limiting off;
- ``plandeck+limits``: the same with the rate limiter on, as in production (in-process
  memory storage), its limits raised so that every request is checked but none refused;
- ``reference``: ``bench/reference_server.py``, Starlette + asyncpg + orjson, one SQL
  statement, no authentication.

It checks that plandeck (with a bearer access token) and the reference return the same 50
stories, then loads ``GET /projects/{key}/sprints/{number}/stories`` on each with ``wrk``
(``-t2 -c32 -d15s --latency``) after a warm-up, in alternating rounds, and reports requests
per second, p50/p99 latency, the CPU time each server's workers and PostgreSQL spent per
request, and plandeck's share of the reference's requests per second. ``--profile S`` then
samples plandeck's workers with py-spy under the same load and ranks where the time goes.

    python bench/bench_api.py [--duration 15] [--connections 32] [--rounds 3] [--profile 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
import fastapi
import httpx
import pydantic
import sqlalchemy
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

from plandeck import migrate
from plandeck.auth.schemas import UserCreate
from plandeck.auth.tokens import create_access_token
from plandeck.auth.users import user_service
from plandeck.config import AuthSettings, Settings, to_async_url
from plandeck.db import create_engine, create_sessionmaker, unit_of_work
from plandeck.models import Priority, StoryStatus
from plandeck.plans.projects import project_service
from plandeck.plans.schemas import ProjectCreate, SprintCreate, StoryCreate, TaskCreate
from plandeck.plans.sprints import sprint_service
from plandeck.plans.stories import story_service
from plandeck.plans.tasks import task_service

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
ROOT = BENCH_DIR.parent
BIN = Path(sys.executable).parent
POSTGRES_ADMIN_URL = os.environ.get(
    "PLANDECK_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PROJECT_KEY = "BENCH"
SPRINT = 2  # the sprint measured; sprints 1 and 3 and the backlog are its neighbours
NEIGHBOUR_STORIES = 20
BACKLOG_STORIES = 10
TARGET_RATIO = 0.5
TARGET_P99_MS = 50.0
# Raised far above what a run can reach: the limiter does all its work and never refuses.
UNREACHABLE_LIMIT = "100000000 per minute"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

console = Console(highlight=False, width=None if sys.stdout.isatty() else 140)


# The database


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _postgres_admin(sql: str) -> Any:
    conn = await asyncpg.connect(_asyncpg_dsn(POSTGRES_ADMIN_URL), timeout=10)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def create_database(name: str) -> str:
    """A new migrated database; its plain ``postgresql://`` URL."""
    await _postgres_admin(f'CREATE DATABASE "{name}"')
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(to_async_url(url))
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()
    return url


async def drop_database(name: str) -> None:
    await _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _story_data(number: int, index: int, sprint_id: int | None) -> StoryCreate:
    priorities = list(Priority)
    statuses = list(StoryStatus)
    return StoryCreate(
        key=f"{number}.{index + 1}" if sprint_id is not None else f"B-{index + 1}",
        title=f"Story {index + 1} of sprint {number}: make the checkout page load faster",
        description=(
            "As a customer I want the checkout page to answer quickly, so that I do not give "
            "up on my order. Measure first, then fix what the profile shows.\n"
        )
        * 2,
        notes="Seen on the staging dashboard." if index % 3 == 0 else "",
        acceptance_criteria=[
            {"text": "p99 under 200 ms on the staging dataset", "done": index % 2 == 0},
            {"text": "no change to the API's responses", "done": False},
        ],
        points=(1, 2, 3, 5, 8)[index % 5],
        priority=priorities[index % len(priorities)],
        status=statuses[index % len(statuses)],
        sprint_id=sprint_id,
    )


async def seed(url: str, settings: Settings, *, stories: int, tasks: int) -> str:
    """The user, project, sprints, stories and tasks, made with the services; an access
    token of the user, signed with ``settings``' key."""
    engine = create_engine(to_async_url(url))
    try:
        async with unit_of_work(create_sessionmaker(engine)) as session:
            user = await user_service.create(
                session,
                UserCreate(
                    email="bench@example.com", name="Bench", password="bench api passphrase"
                ),
            )
            project = await project_service.create(
                session, user, ProjectCreate(key=PROJECT_KEY, name="API benchmark")
            )
            lists: list[tuple[int, int | None, int]] = []
            for number in (SPRINT - 1, SPRINT, SPRINT + 1):
                sprint = await sprint_service.create(
                    session, user, project, SprintCreate(number=number, name=f"Sprint {number}")
                )
                lists.append(
                    (number, sprint.id, stories if number == SPRINT else NEIGHBOUR_STORIES)
                )
            lists.append((0, None, BACKLOG_STORIES))
            for number, sprint_id, count in lists:
                for index in range(count):
                    story = await story_service.create(
                        session, user, project, _story_data(number, index, sprint_id)
                    )
                    for position in range(tasks + index % 3):
                        await task_service.create(
                            session,
                            user,
                            project,
                            story.id,
                            TaskCreate(text=f"Task {position + 1}", done=position < index % 4),
                        )
            token = create_access_token(settings, user)
        # Planner statistics, as autovacuum would have them for tables this size by now.
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql("ANALYZE")
        return token
    finally:
        await engine.dispose()


# Servers


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with suppress(OSError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)


def _cpu_ticks(pids: list[int]) -> dict[int, int]:
    """User + system CPU clock ticks of each process still running."""
    ticks = {}
    for pid in pids:
        with suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks[pid] = int(fields[11]) + int(fields[12])  # utime, stime
    return ticks


def _cpu_seconds_between(before: dict[int, int], after: dict[int, int]) -> float:
    """CPU seconds the processes used between two readings: one that started meanwhile
    counts whole, one that ended meanwhile (a closed connection's backend) not at all."""
    return sum(after[pid] - before.get(pid, 0) for pid in after) / _CLOCK_TICKS


def _sessions_opened(database: str) -> int:
    """Connections ``database`` has accepted so far (``pg_stat_database.sessions``)."""
    found = asyncio.run(
        _postgres_admin(f"SELECT sessions FROM pg_stat_database WHERE datname = '{database}'")
    )
    return int(found or 0)


def _postgres_backends(database: str) -> list[int]:
    """The PostgreSQL server processes serving ``database`` (``postgres: ... DB client``)."""
    pids = []
    marker = f" {database} ".encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError):
                if marker in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
    return pids


@dataclass
class Server:
    name: str
    description: str
    base_url: str
    path: str
    headers: dict[str, str]
    database: str
    process: subprocess.Popen[bytes]
    log: Path
    workers: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.base_url + self.path


@contextmanager
def serving(
    name: str,
    description: str,
    app: list[str],
    *,
    env: dict[str, str],
    path: str,
    headers: dict[str, str],
    database: str,
    workers: int,
    workdir: Path,
) -> Iterator[Server]:
    """``uvicorn APP --workers N`` on a free loopback port, stopped (its process group) after."""
    port = _free_port()
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(BIN / "uvicorn"),
                *app,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(
        name, description, f"http://127.0.0.1:{port}", path, headers, database, process, log
    )
    try:
        _wait_until_serving(server, workers)
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _wait_until_serving(server: Server, workers: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"{server.name} exited with {server.process.returncode}:\n{server.log.read_text()}"
            )
        server.workers = [
            pid
            for pid in _children(server.process.pid)
            if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        if len(server.workers) >= workers:
            with suppress(httpx.TransportError):
                # Enough requests for every worker to have started and answered.
                for _ in range(4 * workers):
                    httpx.get(server.url, headers=server.headers, timeout=5)
                return
        time.sleep(0.2)
    raise RuntimeError(
        f"{server.name} did not start within {timeout:.0f} s:\n{server.log.read_text()}"
    )


# The responses


_TIMESTAMPS = ("created_at", "updated_at", "deleted_at")


def _normalised(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with their timestamps parsed: pydantic writes UTC as ``Z``, orjson as ``+00:00``."""
    return [
        {
            name: datetime.fromisoformat(value) if name in _TIMESTAMPS and value else value
            for name, value in row.items()
        }
        for row in rows
    ]


def verify(plandeck_server: Server, reference: Server, stories: int) -> dict[str, Any]:
    """Both servers answer with the same ``stories`` rows; plandeck refuses a missing token."""
    ours = httpx.get(plandeck_server.url, headers=plandeck_server.headers, timeout=10)
    ours.raise_for_status()
    theirs = httpx.get(reference.url, timeout=10)
    theirs.raise_for_status()
    unauthenticated = httpx.get(plandeck_server.url, timeout=10).status_code
    if unauthenticated != 401:
        raise RuntimeError(f"plandeck answered {unauthenticated} without a token, not 401")
    rows, reference_rows = ours.json(), theirs.json()
    if len(rows) != stories:
        raise RuntimeError(f"plandeck returned {len(rows)} stories, expected {stories}")
    if _normalised(rows) != _normalised(reference_rows):
        for index, (mine, other) in enumerate(zip(rows, reference_rows, strict=False)):
            if _normalised([mine]) != _normalised([other]):
                raise RuntimeError(
                    f"row {index} differs:\n  plandeck:  {mine}\n  reference: {other}"
                )
        raise RuntimeError(
            f"{len(rows)} rows from plandeck, {len(reference_rows)} from the reference"
        )
    return {
        "stories": len(rows),
        "tasks": sum(row["tasks_total"] for row in rows),
        "bytes": {"plandeck": len(ours.content), "reference": len(theirs.content)},
        "content_type": {
            "plandeck": ours.headers.get("content-type"),
            "reference": theirs.headers.get("content-type"),
        },
    }


# Load


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk(output: str) -> dict[str, Any]:
    """Requests/s, latency percentiles (ms), request and error counts from wrk's report."""
    found: dict[str, Any] = {"latency_ms": {}}
    for percentile, value in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)\s*$", output, re.MULTILINE):
        found["latency_ms"][f"p{percentile}"] = _ms(value)
    if match := re.search(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", output):
        found["latency_ms"]["mean"] = _ms(match.group(1))
        found["latency_ms"]["max"] = _ms(match.group(3))
    if match := re.search(r"(\d+) requests in ([\d.]+\w+)", output):
        found["requests"] = int(match.group(1))
    if match := re.search(r"Requests/sec:\s+([\d.]+)", output):
        found["requests_per_second"] = float(match.group(1))
    match = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    found["non_2xx"] = int(match.group(1)) if match else 0
    match = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    found["socket_errors"] = sum(int(n) for n in match.groups()) if match else 0
    if "requests_per_second" not in found or "p99" not in found["latency_ms"]:
        raise RuntimeError(f"could not read wrk's report:\n{output}")
    return found


def _wrk_command(server: Server, args: argparse.Namespace, seconds: float) -> list[str]:
    command = [
        args.wrk,
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{seconds:g}s",
        "--latency",
        "--timeout",
        "5s",
    ]
    for name, value in server.headers.items():
        command += ["-H", f"{name}: {value}"]
    return [*command, server.url]


def load(server: Server, args: argparse.Namespace, seconds: float) -> dict[str, Any]:
    """One wrk run, with the CPU the server's workers and their PostgreSQL backends used."""
    postgres = _postgres_backends(server.database)
    sessions_before = _sessions_opened(server.database)
    workers_before, postgres_before = _cpu_ticks(server.workers), _cpu_ticks(postgres)
    started = time.monotonic()
    done = subprocess.run(
        _wrk_command(server, args, seconds),
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    )
    elapsed = time.monotonic() - started
    result = parse_wrk(done.stdout)
    workers_cpu = _cpu_seconds_between(workers_before, _cpu_ticks(server.workers))
    # Backends that started during the run (a pool opening connections) count whole; those
    # that also ended before it finished are missed.
    postgres_cpu = _cpu_seconds_between(
        postgres_before, _cpu_ticks(_postgres_backends(server.database))
    )
    requests = max(result.get("requests", 1), 1)
    result.update(
        # Connections the database accepted during the run: a pool too small for the
        # concurrency opens and closes connections all the time.
        new_connections=_sessions_opened(server.database) - sessions_before,
        wall_seconds=round(elapsed, 2),
        workers_cpu_seconds=round(workers_cpu, 2),
        postgres_cpu_seconds=round(postgres_cpu, 2),
        workers_cpu_ms_per_request=round(1000 * workers_cpu / requests, 3),
        postgres_cpu_ms_per_request=round(1000 * postgres_cpu / requests, 3),
        load_average_after=[round(load, 2) for load in os.getloadavg()],
    )
    return result


# Profile


def _frame_package(frame: str) -> str:
    match = re.search(r"\((.*):\d+\)$", frame)
    path = match.group(1) if match else ""
    if "plandeck" in path:
        return "plandeck"
    parts = re.split(r"[/\\]", path)
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].split(".")[0]
    for marker in ("asyncio", "json", "logging", "typing", "contextlib", "enum", "inspect"):
        if marker in parts or f"{marker}.py" in parts:
            return f"stdlib {marker}"
    return "stdlib" if "python3" in path else (path or "?")


# What a sample of a plandeck worker was doing, by the first pattern its stack matches
# (outermost frames first is not enough: the matches are tried in this order).
_STAGES = (
    (
        "worker thread (a sync dependency or route)",
        re.compile(r"run_in_threadpool|WorkerThread|to_thread"),
    ),
    ("rate limiter", re.compile(r"RateLimitMiddleware\._first_refusal|limits/")),
    (
        "authentication",
        re.compile(r"[ ;]authenticate \(|current_user|read_access_token|_access_token_user_id"),
    ),
    (
        "response: validation and JSON",
        re.compile(r"serialize_response|json_response|jsonable_encoder"),
    ),
    ("board: query, rows, access check", re.compile(r"list_for_board|StoryRepository\.board")),
    (
        "unit of work: session, pool, BEGIN/COMMIT",
        re.compile(r"get_session|unit_of_work|AsyncSession\.(close|commit|__aexit__)"),
    ),
    ("routing, dependencies, middleware", re.compile(r"run_asgi")),
    # SQLAlchemy's sync side runs in greenlets, whose samples lose the request's frames.
    ("SQLAlchemy/asyncpg in greenlets", re.compile(r"greenlet_spawn|sqlalchemy/|asyncpg/")),
    ("HTTP server and event loop", re.compile(r"Runner\.run|httptools|uvloop")),
)


def _stage(stack: str) -> str:
    for name, pattern in _STAGES:
        if pattern.search(stack):
            return name
    return "other (supervisor pipe, interpreter)"


def summarise_profile(collapsed: str, top: int = 25) -> dict[str, Any]:
    """Shares of the samples from py-spy's collapsed stacks: by stage of the request
    (``_STAGES``), by leaf frame (self time), by package of the leaf, and by frame anywhere
    on the stack (inclusive time)."""
    stages: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [frame.strip() for frame in stack.split(";") if frame.strip()]
        total += count
        stages[_stage(stack)] += count
        self_time[frames[-1]] += count
        packages[_frame_package(frames[-1])] += count
        for frame in set(frames):
            inclusive[frame] += count

    def shares(counter: Counter[str], limit: int) -> list[tuple[str, float]]:
        return [(name, round(100 * n / total, 1)) for name, n in counter.most_common(limit)]

    return {
        "samples": total,
        "stages": shares(stages, len(_STAGES) + 1),
        "self": shares(self_time, top),
        "packages": shares(packages, 15),
        # Frames under nearly every sample (the event loop, uvicorn's protocol) say nothing.
        "inclusive": [item for item in shares(inclusive, 4 * top) if item[1] < 97][:top],
    }


def profile(server: Server, args: argparse.Namespace, stamp: str) -> dict[str, Any]:
    """py-spy on every worker of ``server`` while wrk loads it; the summary and raw files."""
    py_spy = shutil.which("py-spy", path=str(BIN)) or shutil.which("py-spy")
    if py_spy is None:
        return {"skipped": "py-spy is not installed (.venv/bin/pip install py-spy)"}
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    outputs = [RESULTS_DIR / f"profile-{server.name}-{stamp}-{pid}.txt" for pid in server.workers]
    samplers = [
        subprocess.Popen(
            [
                py_spy,
                "record",
                "--pid",
                str(pid),
                "--duration",
                f"{args.profile:g}",
                "--rate",
                "200",
                "--nonblocking",
                "--format",
                "raw",
                "--output",
                str(output),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for pid, output in zip(server.workers, outputs, strict=True)
    ]
    try:
        time.sleep(0.5)  # py-spy attaches
        under_load = load(server, args, args.profile)
    finally:
        errors = []
        for sampler in samplers:
            try:
                _, stderr = sampler.communicate(timeout=args.profile + 30)
            except subprocess.TimeoutExpired:
                sampler.terminate()
                _, stderr = sampler.communicate()
            if sampler.returncode:
                errors.append(stderr.decode(errors="replace").strip())
    collapsed = "\n".join(path.read_text() for path in outputs if path.exists())
    if not collapsed.strip():
        return {"skipped": "py-spy recorded nothing: " + "; ".join(errors)}
    return {
        "files": [str(path.relative_to(ROOT)) for path in outputs],
        "load": under_load,
        **summarise_profile(collapsed),
    }


# Report


def machine() -> dict[str, Any]:
    model = ""
    with suppress(OSError, StopIteration):
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    wrk_version = (
        subprocess.run(
            [shutil.which("wrk") or "wrk", "--version"], capture_output=True, text=True, check=False
        )
        .stdout.split("[")[0]
        .strip()
    )
    return {
        "platform": platform.platform(),
        "cpu": model or platform.processor(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "fastapi": fastapi.__version__,
        "pydantic": pydantic.VERSION,
        "sqlalchemy": sqlalchemy.__version__,
        "asyncpg": asyncpg.__version__,
        "wrk": wrk_version,
        "plandeck_commit": _git_commit(),
        "load_average_at_start": [round(load, 2) for load in os.getloadavg()],
        "uptime": subprocess.run(
            ["uptime"], capture_output=True, text=True, check=False
        ).stdout.strip(),
    }


def _git_commit() -> str | None:
    """The commit measured, marked ``+changes`` when the source differs from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+changes" if dirty else "")


def _median(runs: list[dict[str, Any]], *keys: str) -> float:
    values = []
    for run in runs:
        value: Any = run
        for key in keys:
            value = value[key]
        values.append(float(value))
    return statistics.median(values)


def summarise(runs: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    reference_rps = _median(runs["reference"], "requests_per_second")
    summary = {}
    for name, measured in runs.items():
        rps = _median(measured, "requests_per_second")
        p99 = _median(measured, "latency_ms", "p99")
        row: dict[str, Any] = {
            "requests_per_second": round(rps, 1),
            "p50_ms": round(_median(measured, "latency_ms", "p50"), 2),
            "p99_ms": round(p99, 2),
            "workers_cpu_ms_per_request": round(_median(measured, "workers_cpu_ms_per_request"), 3),
            "postgres_cpu_ms_per_request": round(
                _median(measured, "postgres_cpu_ms_per_request"), 3
            ),
            "errors": sum(run["non_2xx"] + run["socket_errors"] for run in measured),
            "new_connections_per_second": round(
                _median(measured, "new_connections") / _median(measured, "wall_seconds"), 1
            ),
            "rounds": [round(run["requests_per_second"], 1) for run in measured],
        }
        if name != "reference":
            row["ratio"] = round(rps / reference_rps, 3)
            row["meets_target"] = (
                row["ratio"] >= TARGET_RATIO and p99 < TARGET_P99_MS and row["errors"] == 0
            )
        summary[name] = row
    return summary


def report_table(summary: dict[str, dict[str, Any]], servers: dict[str, str]) -> Table:
    table = Table(title="GET /projects/{key}/sprints/{number}/stories (median of the rounds)")
    for column in (
        "server",
        "req/s",
        "p50",
        "p99",
        "of reference",
        "worker CPU/req",
        "PG CPU/req",
        "new PG conn/s",
        "errors",
        "target",
    ):
        table.add_column(column, justify="left" if column in ("server", "target") else "right")
    for name, row in summary.items():
        ratio = row.get("ratio")
        verdict = "" if ratio is None else ("met" if row["meets_target"] else "missed")
        table.add_row(
            f"{name} ({servers[name]})",
            f"{row['requests_per_second']:,.0f}",
            f"{row['p50_ms']:.1f} ms",
            f"{row['p99_ms']:.1f} ms",
            "" if ratio is None else f"{100 * ratio:.0f}%",
            f"{row['workers_cpu_ms_per_request']:.2f} ms",
            f"{row['postgres_cpu_ms_per_request']:.2f} ms",
            f"{row['new_connections_per_second']:.1f}",
            str(row["errors"]),
            verdict,
        )
    table.caption = (
        f"target: at least {100 * TARGET_RATIO:.0f}% of the reference's requests/s "
        f"and p99 under {TARGET_P99_MS:.0f} ms, without errors. CPU: the servers' worker "
        "processes and their PostgreSQL backends, per request"
    )
    return table


def _print_profile(name: str, found: dict[str, Any]) -> None:
    if "skipped" in found:
        console.print(f"{name} profile skipped: {found['skipped']}")
        return
    console.print(
        f"\n[bold]{name} profile[/bold]: {found['samples']} samples over the workers, "
        f"{found['load']['requests_per_second']:,.0f} req/s under py-spy"
    )
    for title, key in (
        ("by stage of the request", "stages"),
        ("by package (self)", "packages"),
        ("by frame (self)", "self"),
        ("by frame (inclusive)", "inclusive"),
    ):
        table = Table(title=title)
        table.add_column("frame")
        table.add_column("%", justify="right")
        for frame, share in found[key][:15]:
            table.add_row(frame, f"{share:.1f}")
        console.print(table)


# The run


def _plandeck_env(
    url: str, settings: Settings, workdir: Path, *, rate_limit: bool, extra: dict[str, str]
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANDECK_")}
    env.update(
        PLANDECK_DATABASE_URL=url,
        PLANDECK_ENVIRONMENT="development",
        PLANDECK_LOG_LEVEL="WARNING",
        PLANDECK_DATA_DIR=str(workdir),
        PLANDECK_SECRET_KEY=settings.secret_key.get_secret_value(),
        PLANDECK_AUTH_ACCESS_TOKEN_MINUTES=str(settings.auth.access_token_minutes),
        PLANDECK_RATE_LIMIT_ENABLED="true" if rate_limit else "false",
    )
    if rate_limit:
        env.update(
            PLANDECK_RATE_LIMIT_PER_IP=UNREACHABLE_LIMIT,
            PLANDECK_RATE_LIMIT_PER_USER=UNREACHABLE_LIMIT,
        )
    env.update(extra)
    return env


def run(args: argparse.Namespace) -> dict[str, Any]:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    results: dict[str, Any] = {
        "benchmark": "api",
        "when": stamp,
        "command": args.command,
        "machine": machine(),
        "settings": {
            "stories": args.stories,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "threads": args.threads,
            "workers": args.workers,
            "rounds": args.rounds,
            "rate_limit": args.rate_limit,
            "plandeck_env": args.plandeck_env,
        },
    }
    name = f"plandeck_bench_{uuid.uuid4().hex[:12]}"
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-api-")))
        console.print(f"creating and filling database {name}")
        url = asyncio.run(create_database(name))
        stack.callback(lambda: asyncio.run(drop_database(name)))
        settings = Settings(
            secret_key=SecretStr(secrets.token_urlsafe(48)),
            auth=AuthSettings(access_token_minutes=24 * 60),
        )
        started = time.monotonic()
        token = asyncio.run(seed(url, settings, stories=args.stories, tasks=args.tasks))
        results["seed_seconds"] = round(time.monotonic() - started, 1)
        path = f"/api/v1/projects/{PROJECT_KEY}/sprints/{SPRINT}/stories"
        bearer = {"Authorization": f"Bearer {token}"}
        plandeck_app = ["--factory", "plandeck.app:create_app"]
        variants = {"off": [False], "on": [True], "both": [False, True]}[args.rate_limit]
        # Each measured run starts its server afresh and stops it after: the pools of idle
        # servers would otherwise hold PostgreSQL connections (max_connections is 100 here).
        servers: dict[str, Any] = {}
        for rate_limit in variants:
            label = "plandeck+limits" if rate_limit else "plandeck"
            servers[label] = partial(
                serving,
                label,
                "rate limits on, memory storage" if rate_limit else "no rate limits",
                plandeck_app,
                env=_plandeck_env(
                    url, settings, workdir, rate_limit=rate_limit, extra=args.plandeck_env
                ),
                path=path,
                headers=bearer,
                database=name,
                workers=args.workers,
                workdir=workdir,
            )
        reference_env = dict(os.environ, PLANDECK_BENCH_REFERENCE_DSN=url)
        servers["reference"] = partial(
            serving,
            "reference",
            "Starlette + asyncpg",
            ["--app-dir", str(BENCH_DIR), "--factory", "reference_server:create_app"],
            env=reference_env,
            path=f"/projects/{PROJECT_KEY}/sprints/{SPRINT}/stories",
            headers={},
            database=name,
            workers=args.workers,
            workdir=workdir,
        )
        first_plandeck = next(key for key in servers if key != "reference")
        with servers[first_plandeck]() as ours, servers["reference"]() as reference:
            results["verified"] = verify(ours, reference, args.stories)
        console.print(
            f"both return the same {args.stories} stories "
            f"({results['verified']['tasks']} tasks); loading each for {args.duration:g} s "
            f"after {args.warmup:g} s of warm-up, {args.rounds} round(s)"
        )

        order = ["reference", *(key for key in servers if key != "reference")]
        runs: dict[str, list[dict[str, Any]]] = {key: [] for key in order}
        descriptions: dict[str, str] = {}
        for round_number in range(args.rounds):
            for key in order if round_number % 2 == 0 else reversed(order):
                with servers[key]() as server:
                    descriptions[key] = server.description
                    if args.warmup > 0:
                        load(server, args, args.warmup)
                    measured = load(server, args, args.duration)
                runs[key].append(measured)
                console.print(
                    f"  round {round_number + 1} {key:16} {measured['requests_per_second']:8,.0f} req/s"
                    f"  p99 {measured['latency_ms']['p99']:6.1f} ms  load {measured['load_average_after']}"
                )
        results["runs"] = runs
        results["servers"] = descriptions
        results["summary"] = summarise(runs)
        if args.profile:
            results["profiles"] = {}
            for key in order:
                if key == "reference":
                    continue
                with servers[key]() as server:
                    if args.warmup > 0:
                        load(server, args, args.warmup)
                    results["profiles"][key] = profile(server, args, stamp)
    results["machine"]["load_average_at_end"] = [round(load, 2) for load in os.getloadavg()]
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--stories", type=int, default=50, help="stories in the sprint measured")
    parser.add_argument("--tasks", type=int, default=3, help="tasks per story (plus 0 to 2)")
    parser.add_argument(
        "--duration", type=float, default=15, help="seconds of each measured wrk run"
    )
    parser.add_argument("--warmup", type=float, default=5, help="seconds of warm-up per server")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--workers", type=int, default=2, help="uvicorn worker processes per server"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="measured runs per server, alternating"
    )
    parser.add_argument(
        "--rate-limit",
        choices=("off", "on", "both"),
        default="both",
        help="measure plandeck without the rate limiter, with it, or both",
    )
    parser.add_argument(
        "--profile",
        type=float,
        default=0,
        metavar="S",
        help="after measuring, sample plandeck's workers with py-spy for S seconds under load",
    )
    parser.add_argument(
        "--plandeck-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for plandeck's servers, e.g. PLANDECK_DATABASE_POOL_SIZE=20 (repeatable)",
    )
    parser.add_argument("--wrk", default=shutil.which("wrk") or "wrk", help="the wrk executable")
    parser.add_argument("--output", type=Path, help="default: bench/results/api-<UTC time>.json")
    args = parser.parse_args(argv)
    if shutil.which(args.wrk) is None:
        parser.error("wrk is not installed: apt-get install wrk (make bench installs it)")
    if args.stories < 1 or args.rounds < 1 or args.duration <= 0:
        parser.error("--stories, --rounds and --duration must be positive")
    if any("=" not in item for item in args.plandeck_env):
        parser.error("--plandeck-env takes NAME=VALUE")
    args.plandeck_env = dict(item.split("=", 1) for item in args.plandeck_env)
    args.command = " ".join(["python bench/bench_api.py", *(argv or [])])
    return args


def _interrupt(_signum: int, _frame: Any) -> None:
    """SIGTERM unwinds like Ctrl-C, so the servers are stopped and the database dropped."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        results = run(args)
    except KeyboardInterrupt:
        console.print("interrupted; the servers were stopped and the database dropped")
        raise SystemExit(130) from None
    console.print(report_table(results["summary"], results["servers"]))
    for name, found in results.get("profiles", {}).items():
        _print_profile(name, found)
    output = args.output or RESULTS_DIR / f"api-{results['when']}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    console.print(f"results written to {output}")


if __name__ == "__main__":
    main(sys.argv[1:])
