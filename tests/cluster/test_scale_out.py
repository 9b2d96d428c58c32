"""Scale-out: two app processes behind nginx, sharing PostgreSQL and Redis.

Sessions, tokens and rate limits live in the shared services, so any process serves any
request; optimistic locking in PostgreSQL turns a race between processes into one success
and one 409; a mixed load through nginx loses no accepted change (checked against the
database itself, not against the API's own answers).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import asyncpg
import httpx
import pytest

from tests.api.live import csrf_of
from tests.cluster.conftest import Cluster
from tests.processes import remember_secret, server_log_dir
from tests.ratelimits import within_one_window

pytestmark = pytest.mark.slow

PASSWORD = "cluster-horse-battery-staple"
remember_secret(PASSWORD, "password")
SESSION_COOKIE = "plandeck_session"

# Each simulated client comes from its own address (198.18.0.0/15, the benchmarking
# range), passed on by nginx in X-Forwarded-For: the per-address limits count it apart, and
# a rerun within the limits' minute starts from a fresh address.
_addresses = (
    f"198.{18 + n // 65536 % 2}.{n // 256 % 256}.{n % 256}"
    for n in itertools.count(random.randrange(2**17))
)


def address() -> str:
    return next(_addresses)


@dataclass
class Account:
    email: str
    user_id: int
    token: str
    address: str

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "X-Forwarded-For": self.address}


def sign_up(cluster: Cluster, name: str) -> Account:
    """A new account made and logged in through nginx, from an address of its own."""
    email = f"{name}-{uuid.uuid4().hex[:8]}@example.com"
    origin = address()
    with cluster.client(address=origin) as client:
        made = client.post(
            "/api/v1/auth/register", json={"email": email, "name": name, "password": PASSWORD}
        )
        assert made.status_code == 201, made.text
        login = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
    body = login.json()
    remember_secret(body["access_token"])
    remember_secret(body["refresh_token"])
    return Account(email, body["user"]["id"], body["access_token"], origin)


@dataclass
class Team:
    owner: Account
    project: str


@pytest.fixture(scope="module")
def team(cluster: Cluster) -> Team:
    owner = sign_up(cluster, "owner")
    key = f"C{uuid.uuid4().hex[:6].upper()}"
    with cluster.client(**owner.headers()) as client:
        made = client.post("/api/v1/projects", json={"key": key, "name": f"Cluster {key}"})
        assert made.status_code == 201, made.text
    return Team(owner, key)


def new_story(cluster: Cluster, team: Team, title: str, description: str = "") -> dict[str, Any]:
    with cluster.client(**team.owner.headers()) as client:
        made = client.post(
            f"/api/v1/projects/{team.project}/stories",
            json={"title": title, "description": description, "points": 3},
        )
    assert made.status_code == 201, made.text
    story: dict[str, Any] = made.json()
    return story


class TestSessions:
    def test_a_browser_session_made_on_one_process_is_valid_on_the_other(
        self, cluster: Cluster, team: Team
    ) -> None:
        first, second = cluster.backends
        # Straight to each process, as nginx would send them (the session cookie is Secure:
        # the forwarded scheme is HTTPS).
        forwarded = {"X-Forwarded-For": team.owner.address, "X-Forwarded-Proto": "https"}
        with httpx.Client(base_url=first, headers=forwarded, timeout=30) as on_first:
            login = on_first.post("/login", data={"email": team.owner.email, "password": PASSWORD})
        assert login.status_code == 303, login.text
        cookie = login.cookies[SESSION_COOKIE]
        remember_secret(cookie, "cookie")
        with httpx.Client(base_url=second, headers=forwarded, timeout=30) as on_second:
            page = on_second.get(
                f"/projects/{team.project}", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}
            )
            assert page.status_code == 200, page.text
            assert f"Cluster {team.project}" in page.text
            anonymous = on_second.get(f"/projects/{team.project}")
            assert anonymous.status_code in (302, 303)
            assert anonymous.headers["location"].startswith("/login")

    def test_logging_out_through_one_process_ends_the_session_on_the_other(
        self, cluster: Cluster, team: Team
    ) -> None:
        with cluster.client(address=team.owner.address) as browser:
            login = browser.post("/login", data={"email": team.owner.email, "password": PASSWORD})
            assert login.status_code == 303, login.text
            cookie = browser.cookies[SESSION_COOKIE]
            remember_secret(cookie, "cookie")
        first, second = cluster.backends
        jar = {"Cookie": f"{SESSION_COOKIE}={cookie}", "X-Forwarded-Proto": "https"}
        with (
            httpx.Client(base_url=first, headers=jar, timeout=30) as on_first,
            httpx.Client(base_url=second, headers=jar, timeout=30) as on_second,
        ):
            assert on_first.get(f"/projects/{team.project}").status_code == 200
            token = csrf_of(on_second.get(f"/projects/{team.project}"))
            out = on_second.post("/logout", data={"csrf_token": token})
            assert out.status_code == 303, out.text
            after = on_first.get(f"/projects/{team.project}")
            assert after.status_code in (302, 303)

    def test_an_access_token_from_one_process_works_on_the_other(
        self, cluster: Cluster, team: Team
    ) -> None:
        first, second = cluster.backends
        origin = {"X-Forwarded-For": team.owner.address}
        with httpx.Client(base_url=first + "/api/v1", headers=origin, timeout=30) as on_first:
            tokens = on_first.post(
                "/auth/login", json={"email": team.owner.email, "password": PASSWORD}
            )
        assert tokens.status_code == 200, tokens.text
        body = tokens.json()
        remember_secret(body["access_token"])
        remember_secret(body["refresh_token"])
        with httpx.Client(base_url=second + "/api/v1", headers=origin, timeout=30) as on_second:
            me = on_second.get(
                "/users/me", headers={"Authorization": f"Bearer {body['access_token']}"}
            )
            assert me.status_code == 200, me.text
            assert me.json()["email"] == team.owner.email
            refreshed = on_second.post(
                "/auth/refresh", json={"refresh_token": body["refresh_token"]}
            )
            assert refreshed.status_code == 200, refreshed.text
            remember_secret(refreshed.json()["access_token"])
            remember_secret(refreshed.json()["refresh_token"])


class TestRateLimit:
    def test_the_login_limit_counts_attempts_on_both_processes(self, cluster: Cluster) -> None:
        """The default login limit is 10 a minute per address. Five failures on each process
        stay under it on either alone: only a count both share refuses the eleventh."""
        origin = address()
        wrong = {"email": "nobody@example.com", "password": "not-the-password"}
        within_one_window(30)
        for base in cluster.backends:
            with httpx.Client(
                base_url=base + "/api/v1", headers={"X-Forwarded-For": origin}, timeout=30
            ) as client:
                for _ in range(5):
                    assert client.post("/auth/login", json=wrong).status_code == 401
        with cluster.client(address=origin) as client:
            refused = client.post("/api/v1/auth/login", json=wrong)
        assert refused.status_code == 429, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["retry-after"]) >= 1
        for base in cluster.backends:
            direct = httpx.post(
                base + "/api/v1/auth/login",
                json=wrong,
                headers={"X-Forwarded-For": origin},
                timeout=30,
            )
            assert direct.status_code == 429
        # Another address is not refused: the limit is per client, not global.
        with cluster.client(address=address()) as client:
            assert client.post("/api/v1/auth/login", json=wrong).status_code == 401


def _at_once(
    pool: ThreadPoolExecutor, calls: list[Callable[[], httpx.Response]]
) -> list[httpx.Response]:
    """Each call in its own thread, released together."""
    start = threading.Barrier(len(calls))

    def released(call: Callable[[], httpx.Response]) -> httpx.Response:
        start.wait()
        return call()

    return list(pool.map(released, calls))


class TestConcurrentEdits:
    def test_the_same_story_edited_through_both_processes_at_once(
        self, cluster: Cluster, team: Team
    ) -> None:
        story = new_story(cluster, team, "raced")
        path = f"/api/v1/projects/{team.project}/stories/{story['key']}"
        clients = [
            httpx.Client(base_url=base, headers=team.owner.headers(), timeout=30)
            for base in cluster.backends
        ]
        try:
            for attempt in range(5):
                current = clients[0].get(path)
                etag, version = current.headers["etag"], current.json()["version"]
                with ThreadPoolExecutor(2) as pool:
                    answers = _at_once(
                        pool,
                        [
                            partial(
                                client.patch,
                                path,
                                json={"title": f"round {attempt} by process {index}"},
                                headers={"If-Match": etag},
                            )
                            for index, client in enumerate(clients)
                        ],
                    )
                assert sorted(answer.status_code for answer in answers) == [200, 409], [
                    answer.text for answer in answers
                ]
                (won,) = [answer for answer in answers if answer.status_code == 200]
                (lost,) = [answer for answer in answers if answer.status_code == 409]
                assert lost.headers["content-type"] == "application/problem+json"
                after = clients[1].get(path).json()
                assert after["title"] == won.json()["title"]
                assert after["version"] == version + 1
        finally:
            for client in clients:
                client.close()


# The load: CLIENTS simulated users, each OPERATIONS operations (an edit is two requests,
# a read and a conditional write), through nginx, on a few shared stories.
CLIENTS = 6
OPERATIONS = 400
SHARED_STORIES = 4
OPERATION_WEIGHTS = {
    "list": 20,
    "read": 15,
    "page": 10,
    "append": 25,
    "create": 10,
    "comment": 10,
    "task": 10,
}


@dataclass
class Ledger:
    """What the server said it accepted, per simulated client."""

    appended: dict[str, list[str]] = field(default_factory=dict)
    created: dict[str, str] = field(default_factory=dict)
    comments: dict[str, list[str]] = field(default_factory=dict)
    tasks: dict[str, list[str]] = field(default_factory=dict)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    requests: int = 0


def _work(
    cluster: Cluster,
    team: Team,
    account: Account,
    shared: list[str],
    seed: int,
    *,
    operations: int = OPERATIONS,
    until: threading.Event | None = None,
    keep_alive: bool = True,
) -> Ledger:
    """``operations`` operations by one client, and more until ``until`` is set."""
    ledger = Ledger()
    chance = random.Random(seed)
    kinds = list(OPERATION_WEIGHTS)
    weights = list(OPERATION_WEIGHTS.values())
    project = f"/api/v1/projects/{team.project}"

    def call(
        name: str, method: str, url: str, *, via: httpx.Client | None = None, **kwargs: Any
    ) -> httpx.Response | None:
        ledger.requests += 1
        try:
            response = (via or client).request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            ledger.failures.append(f"{name}: {type(exc).__name__}: {exc}")
            return None
        ledger.statuses[name, response.status_code] += 1
        return response

    with (
        cluster.client(keep_alive=keep_alive, **account.headers()) as client,
        cluster.client(address=account.address, keep_alive=keep_alive) as browser,
    ):
        login = browser.post("/login", data={"email": account.email, "password": PASSWORD})
        assert login.status_code == 303, login.text
        remember_secret(browser.cookies[SESSION_COOKIE], "cookie")
        for step in itertools.count():
            if step >= operations and (until is None or until.is_set()):
                break
            tag = f"c{seed}-{step}"
            story = chance.choice(shared)
            match chance.choices(kinds, weights)[0]:
                case "list":
                    call("list", "GET", f"{project}/stories", params={"limit": 100})
                case "read":
                    call("read", "GET", f"{project}/stories/{story}")
                case "page":
                    call("page", "GET", f"/projects/{team.project}/backlog", via=browser)
                case "append":
                    read = call("append-read", "GET", f"{project}/stories/{story}")
                    if read is None or read.status_code != 200:
                        continue
                    written = call(
                        "append",
                        "PATCH",
                        f"{project}/stories/{story}",
                        json={"description": read.json()["description"] + "\n" + tag},
                        headers={"If-Match": read.headers["etag"]},
                    )
                    if written is not None and written.status_code == 200:
                        ledger.appended.setdefault(story, []).append(tag)
                case "create":
                    made = call(
                        "create",
                        "POST",
                        f"{project}/stories",
                        json={"title": f"load {tag}", "points": 2},
                    )
                    if made is not None and made.status_code == 201:
                        ledger.created[made.json()["key"]] = f"load {tag}"
                case "comment":
                    made = call(
                        "comment", "POST", f"{project}/stories/{story}/comments", json={"body": tag}
                    )
                    if made is not None and made.status_code == 201:
                        ledger.comments.setdefault(story, []).append(tag)
                case "task":
                    made = call(
                        "task", "POST", f"{project}/stories/{story}/tasks", json={"text": tag}
                    )
                    if made is not None and made.status_code == 201:
                        ledger.tasks.setdefault(story, []).append(tag)
    return ledger


async def _database_state(url: str, project: str) -> dict[str, Any]:
    """The stories, comments and tasks of ``project`` as PostgreSQL holds them."""
    connection = await asyncpg.connect(url)
    try:
        project_id = await connection.fetchval("SELECT id FROM projects WHERE key = $1", project)
        stories = await connection.fetch(
            "SELECT id, key, title, description, version FROM stories WHERE project_id = $1",
            project_id,
        )
        comments = await connection.fetch(
            "SELECT s.key, c.body FROM comments c JOIN stories s ON s.id = c.story_id"
            " WHERE s.project_id = $1",
            project_id,
        )
        tasks = await connection.fetch(
            "SELECT s.key, t.text FROM tasks t JOIN stories s ON s.id = t.story_id"
            " WHERE s.project_id = $1",
            project_id,
        )
    finally:
        await connection.close()
    return {
        "stories": {row["key"]: dict(row) for row in stories},
        "comments": [(row["key"], row["body"]) for row in comments],
        "tasks": [(row["key"], row["text"]) for row in tasks],
    }


def _requests_served(base: str) -> float:
    metrics = httpx.get(base + "/metrics", timeout=30).text
    return sum(
        float(value)
        for value in re.findall(r"^plandeck_http_requests_total\{.*\} (\S+)$", metrics, re.M)
    )


@dataclass
class Crew:
    """A project of its own with SHARED_STORIES stories and ``size`` member accounts."""

    team: Team
    shared: list[str]
    accounts: list[Account]

    @classmethod
    def gather(cls, cluster: Cluster, size: int) -> Crew:
        owner = sign_up(cluster, "owner")
        key = f"L{uuid.uuid4().hex[:6].upper()}"
        team = Team(owner, key)
        accounts = [sign_up(cluster, f"client{n}") for n in range(size)]
        with cluster.client(**owner.headers()) as client:
            made = client.post("/api/v1/projects", json={"key": key, "name": f"Load {key}"})
            assert made.status_code == 201, made.text
            for account in accounts:
                added = client.post(
                    f"/api/v1/projects/{key}/members",
                    json={"user_id": account.user_id, "role": "member"},
                )
                assert added.status_code == 201, added.text
        shared = [
            new_story(cluster, team, f"shared {n}", "start")["key"] for n in range(SHARED_STORIES)
        ]
        return cls(team, shared, accounts)

    def work(self, cluster: Cluster, **options: Any) -> list[Ledger]:
        """Every account working at once (``_work``'s options)."""
        with ThreadPoolExecutor(len(self.accounts)) as pool:
            return list(
                pool.map(
                    lambda n: _work(
                        cluster, self.team, self.accounts[n], self.shared, n, **options
                    ),
                    range(len(self.accounts)),
                )
            )


def _tally(ledgers: list[Ledger], seconds: float, served: list[float]) -> dict[str, Any]:
    statuses: Counter[tuple[str, int]] = sum((ledger.statuses for ledger in ledgers), Counter())
    requests = sum(ledger.requests for ledger in ledgers)
    return {
        "requests": requests,
        "seconds": round(seconds, 2),
        "requests_per_second": round(requests / seconds, 1),
        "transport_errors": sum(len(ledger.failures) for ledger in ledgers),
        "server_errors": sum(n for (_, status), n in statuses.items() if status >= 500),
        "conflicts": statuses["append", 409],
        "served_by_process": served,
        "statuses": {f"{name} {status}": n for (name, status), n in sorted(statuses.items())},
    }


EXPECTED = {"list": {200}, "read": {200}, "page": {200}, "append-read": {200},
            "append": {200, 409}, "create": {201}, "comment": {201}, "task": {201}}  # fmt: skip


def _assert_every_answer_expected(ledgers: list[Ledger], summary: dict[str, Any]) -> None:
    assert [failure for ledger in ledgers for failure in ledger.failures] == [], summary
    unexpected = {
        (name, status): n
        for ledger in ledgers
        for (name, status), n in ledger.statuses.items()
        if status not in EXPECTED[name]
    }
    assert unexpected == {}, summary


def _assert_nothing_lost(cluster: Cluster, crew: Crew, ledgers: list[Ledger]) -> None:
    """PostgreSQL holds every change the server accepted, exactly once, and no other."""
    state = asyncio.run(_database_state(cluster.database_url, crew.team.project))
    stories = state["stories"]
    for key in crew.shared:
        accepted = [tag for ledger in ledgers for tag in ledger.appended.get(key, [])]
        lines = stories[key]["description"].split("\n")
        assert lines[0] == "start"
        # Every accepted edit is there exactly once; no refused edit slipped in.
        assert Counter(lines[1:]) == Counter(accepted)
        assert stories[key]["version"] == 1 + len(accepted)
        for ledger in ledgers:  # and each client's edits kept their order
            own = ledger.appended.get(key, [])
            assert [line for line in lines[1:] if line in set(own)] == own
    created = {k: title for ledger in ledgers for k, title in ledger.created.items()}
    loaded = {k: s["title"] for k, s in stories.items() if s["title"].startswith("load ")}
    assert loaded == created
    assert Counter(state["comments"]) == Counter(
        (key, tag) for ledger in ledgers for key, tags in ledger.comments.items() for tag in tags
    )
    assert Counter(state["tasks"]) == Counter(
        (key, tag) for ledger in ledgers for key, tags in ledger.tasks.items() for tag in tags
    )


class TestLoad:
    def test_mixed_load_through_nginx_loses_no_accepted_change(self, cluster: Cluster) -> None:
        crew = Crew.gather(cluster, CLIENTS)
        served_before = [_requests_served(base) for base in cluster.backends]
        started = time.perf_counter()
        ledgers = crew.work(cluster)
        elapsed = time.perf_counter() - started
        served = [
            after - before
            for after, before in zip(
                [_requests_served(base) for base in cluster.backends], served_before, strict=True
            )
        ]
        summary = _tally(ledgers, elapsed, served)
        # The run's summary shows it (tests/conftest.py): the request count, errors and
        # throughput an operator asks about.
        (server_log_dir() / f"cluster-load-{uuid.uuid4().hex[:8]}.json").write_text(
            json.dumps(summary, indent=2)
        )
        _assert_every_answer_expected(ledgers, summary)
        assert summary["requests"] >= 2500
        # nginx spread the load: each process served at least a quarter of it.
        assert min(served) >= summary["requests"] / 4, served
        _assert_nothing_lost(cluster, crew, ledgers)


class TestRollingRestart:
    def test_restarting_each_process_in_turn_under_load_loses_nothing(
        self, cluster: Cluster
    ) -> None:
        """An upgrade as docs/operations.md describes it, one process at a time: taken out of
        nginx's upstream (reload), stopped (SIGTERM: it finishes what it is serving), started,
        ready, put back; meanwhile the clients keep working through nginx."""
        crew = Crew.gather(cluster, 4)
        restarted = threading.Event()
        with ThreadPoolExecutor(1) as pool:
            started = time.perf_counter()
            # A connection per request: a reload makes nginx's old workers close their idle
            # keep-alive connections, and a request a client sends on one just then is
            # lost in the race ("disconnected without a response"; seen once in CI). Browsers
            # resend it; httpx does not, so the clients here do not keep connections.
            working = pool.submit(
                crew.work, cluster, operations=50, until=restarted, keep_alive=False
            )
            try:
                for server in cluster.servers:
                    time.sleep(0.5)
                    cluster.restart(server)
                time.sleep(0.5)
            finally:
                restarted.set()
            ledgers = working.result(timeout=300)
        summary = _tally(ledgers, time.perf_counter() - started, [])
        (server_log_dir() / f"cluster-restart-{uuid.uuid4().hex[:8]}.json").write_text(
            json.dumps(summary, indent=2)
        )
        _assert_every_answer_expected(ledgers, summary)
        _assert_nothing_lost(cluster, crew, ledgers)
