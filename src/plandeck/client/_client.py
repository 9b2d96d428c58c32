"""``PlandeckClient``: a typed, synchronous client for plandeck's JSON API (``/api/v1``)."""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypedDict, TypeVar, Unpack
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter
from pydantic_core import to_jsonable_python

from plandeck import __version__
from plandeck.client.errors import ConnectionFailed, error_from_response
from plandeck.client.models import (
    ActivityEvent,
    ActivityPage,
    ApiToken,
    ApiTokenCreated,
    BoardStory,
    Comment,
    ImportResult,
    LoginResult,
    Membership,
    Phase,
    Project,
    Sprint,
    SprintCompletion,
    Story,
    StoryPage,
    Task,
    Tokens,
    TrashItem,
    TrashKind,
    User,
)

API_PREFIX = "/api/v1"
API_TOKEN_PREFIX = "pdk_"

M = TypeVar("M", bound=BaseModel)
Body = BaseModel | Mapping[str, Any] | None
TokensCallback = Callable[[Tokens], None]
Document = str | bytes | Path


def api_url(base_url: str) -> str:
    """The API root for a server address: ``http://host:8000`` and ``http://host:8000/api/v1``
    both name ``http://host:8000/api/v1``."""
    url = base_url.strip().rstrip("/")
    if not url.endswith(API_PREFIX):
        url += API_PREFIX
    return url


def _segment(value: str | int) -> str:
    """One path segment, percent-encoded (story keys may hold ``?``, ``#``, ``%``...)."""
    text = quote(str(value), safe="")
    # "." and ".." would be resolved away as relative path steps.
    return text.replace(".", "%2E") if text in (".", "..") else text


def _path(*parts: str | int) -> str:
    return "/" + "/".join(_segment(part) for part in parts)


EnumValues = str | Iterable[str] | None


class StoryQuery(TypedDict, total=False):
    """The story list's filters and order; a filter left out (or None) lets every story pass."""

    sprint: int | Literal["backlog"] | None  # a sprint number, or the stories in no sprint
    status: EnumValues  # any of these statuses (StoryStatus values)
    priority: EnumValues
    moscow: EnumValues
    assignee: int | Literal["me", "none"] | None  # a user id, the caller, or unassigned
    q: str | None  # text in the key, title or description
    sort: str | None  # rank (default), key, points, priority, status...; "-" reverses


def _if_match(version: int | None) -> dict[str, str]:
    """``If-Match`` for an expected version: the API accepts a bare ``"N"`` as well as the ETag."""
    return {} if version is None else {"If-Match": f'"{version}"'}


def _body(data: Body, fields: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON body from a schema instance (only the fields it was given) and/or keyword fields."""
    if isinstance(data, BaseModel):
        body: dict[str, Any] = data.model_dump(mode="json", exclude_unset=True)
    elif data is None:
        body = {}
    else:
        body = dict(data)
    body.update(fields)
    jsonable: dict[str, Any] = to_jsonable_python(body)
    return jsonable


def _jwt_expired(token: str) -> bool:
    """Whether a JWT's ``exp`` has passed. Only a hint for when to refresh: unverified."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return False
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return isinstance(exp, int | float) and exp <= time.time()


def _no_cookies() -> CookieJar:
    # The API is used with bearer tokens. Keeping the login's session cookie would make the
    # server treat later unsafe requests as cookie-authenticated ones needing a CSRF token.
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


# The connection broke before an answer came: the request may or may not have arrived.
_CONNECTION_LOST = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def _repeatable(method: str, headers: Mapping[str, str]) -> bool:
    """Whether sending the request twice is harmless: an idempotent method, or a change made
    conditional by ``If-Match`` (were the first one applied, the second is refused as stale
    instead of applied again)."""
    return method.upper() in _IDEMPOTENT or any(k.lower() == "if-match" for k in headers)


class PlandeckClient:
    """A synchronous client for one plandeck server.

    ``token`` is an access token (JWT) or a personal API token (``pdk_...``), sent as
    ``Authorization: Bearer``. Or call :meth:`login`: the client then keeps the access and
    refresh tokens, and when a request is refused because the access token expired it trades
    the refresh token for a new pair once and repeats the request once. ``on_tokens`` is
    called with every new pair (to save it: a refresh token is single use).

    A request whose connection breaks before any answer (a keep-alive connection the server or
    a reloading proxy closed as the request went out) is sent once more on a new connection
    when that is harmless: reads, PUT and DELETE, and changes sent with a version (``If-Match``),
    which the server refuses as stale rather than applies twice. Other requests raise
    :class:`~plandeck.client.errors.ConnectionFailed`: the change may or may not have been made.

    Every method returns the API's records as Pydantic models and raises a
    :class:`~plandeck.client.errors.PlandeckApiError` subclass for an error answer, or
    :class:`~plandeck.client.errors.ConnectionFailed` when the server cannot be reached.
    Records are named as the API names them: projects by key, phases and sprints by number,
    stories by key, tasks and comments by id.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        refresh_token: str | None = None,
        timeout: float = 30,
        transport: httpx.BaseTransport | None = None,
        on_tokens: TokensCallback | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url = api_url(base_url)
        self.access_token = token
        self.refresh_token = refresh_token
        self.on_tokens = on_tokens
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            cookies=_no_cookies(),
            headers={
                "User-Agent": f"plandeck-client/{__version__}",
                "Accept": "application/json",
                **(headers or {}),
            },
        )

    # Life cycle

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PlandeckClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # Requests

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        files: Any = None,
        authenticated: bool = True,
    ) -> httpx.Response:
        """Send one request (``path`` relative to ``/api/v1``); raise the typed error for a
        non-2xx answer. Refreshes an expired login once and repeats the request once."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        sent_token = self.access_token if authenticated else None
        response = self._send(method, path, query, json, headers, files, sent_token)
        if response.status_code == 401 and self._should_refresh(response, sent_token):
            response.close()
            self.refresh()
            response = self._send(method, path, query, json, headers, files, self.access_token)
        if response.is_error:
            raise error_from_response(response)
        return response

    def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any],
        body: Any,
        headers: Mapping[str, str] | None,
        files: Any,
        token: str | None,
    ) -> httpx.Response:
        all_headers = dict(headers or {})
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        try:
            try:
                return self._http.request(
                    method,
                    path.lstrip("/"),
                    params=params,
                    json=body,
                    files=files,
                    headers=all_headers,
                )
            except _CONNECTION_LOST:
                if files is not None or not _repeatable(method, all_headers):
                    raise
                # A keep-alive connection the server (or a proxy reloading) closed just as the
                # request went out: the pool has dropped it; one more try on a new connection.
                return self._http.request(
                    method,
                    path.lstrip("/"),
                    params=params,
                    json=body,
                    headers=all_headers,
                )
        except httpx.TimeoutException as exc:
            raise ConnectionFailed(self.base_url, f"no answer in time ({exc})") from exc
        except httpx.TransportError as exc:
            raise ConnectionFailed(self.base_url, str(exc) or type(exc).__name__) from exc

    def _should_refresh(self, response: httpx.Response, sent_token: str | None) -> bool:
        if self.refresh_token is None or not sent_token or sent_token.startswith(API_TOKEN_PREFIX):
            return False
        try:
            detail = str(response.json().get("detail", ""))
        except (ValueError, AttributeError):
            detail = ""
        return "expired" in detail or _jwt_expired(sent_token)

    def _get(self, model: type[M], path: str, **params: Any) -> M:
        return model.model_validate(self.request("GET", path, params=params).json())

    def _list(self, model: type[M], path: str, **params: Any) -> list[M]:
        return TypeAdapter(list[model]).validate_python(  # type: ignore[valid-type]
            self.request("GET", path, params=params).json()
        )

    def _send_json(
        self,
        model: type[M],
        method: str,
        path: str,
        body: dict[str, Any],
        *,
        version: int | None = None,
    ) -> M:
        response = self.request(method, path, json=body, headers=_if_match(version))
        return model.model_validate(response.json())

    def _delete(self, path: str, *, version: int | None = None) -> None:
        self.request("DELETE", path, headers=_if_match(version))

    def _store(self, tokens: Tokens) -> None:
        self.access_token = tokens.access_token
        self.refresh_token = tokens.refresh_token
        if self.on_tokens is not None:
            self.on_tokens(Tokens.model_validate(tokens.model_dump()))

    # Accounts and logins

    def register(self, email: str, password: str, *, name: str, locale: str = "en") -> User:
        """Create an account (open registration; an administrator's token for invite-only)."""
        body = {"email": email, "password": password, "name": name, "locale": locale}
        return self._send_json(User, "POST", "/auth/register", body)

    def login(self, email: str, password: str) -> LoginResult:
        """Log in; the client keeps the access and refresh tokens and uses them from now on."""
        response = self.request(
            "POST",
            "/auth/login",
            json={"email": email, "password": password},
            authenticated=False,
        )
        result = LoginResult.model_validate(response.json())
        self._store(result)
        return result

    def refresh(self) -> Tokens:
        """Trade the refresh token for a new pair (the old refresh token is used up)."""
        if self.refresh_token is None:
            raise ValueError("no refresh token: log in first")
        response = self.request(
            "POST",
            "/auth/refresh",
            json={"refresh_token": self.refresh_token},
            authenticated=False,
        )
        tokens = Tokens.model_validate(response.json())
        self._store(tokens)
        return tokens

    def logout(self) -> None:
        """End this login on the server (its whole refresh-token family) and forget the tokens."""
        body = {"refresh_token": self.refresh_token} if self.refresh_token else None
        self.request("POST", "/auth/logout", json=body, authenticated=False)
        self.access_token = None
        self.refresh_token = None

    def me(self) -> User:
        return self._get(User, "/users/me")

    def update_me(self, data: Body = None, /, **fields: Any) -> User:
        """Change the caller's account: ``name``, ``locale``."""
        return self._send_json(User, "PATCH", "/users/me", _body(data, fields))

    def change_password(self, current_password: str, new_password: str) -> None:
        """Ends every session and API login of the account, this client's included."""
        self.request(
            "POST",
            "/users/me/password",
            json={"current_password": current_password, "new_password": new_password},
        )

    def delete_me(self) -> None:
        self.request("DELETE", "/users/me")

    # Personal API tokens

    def list_tokens(self) -> list[ApiToken]:
        return self._list(ApiToken, "/tokens")

    def create_token(
        self,
        name: str,
        *,
        scopes: Iterable[str] = ("read",),
        expires_at: datetime | None = None,
    ) -> ApiTokenCreated:
        """A personal API token; ``token`` (``pdk_...``) is in this answer only."""
        body = _body(None, {"name": name, "scopes": list(scopes), "expires_at": expires_at})
        return self._send_json(ApiTokenCreated, "POST", "/tokens", body)

    def revoke_token(self, token_id: int) -> None:
        self.request("DELETE", _path("tokens", token_id))

    # Projects and members

    def list_projects(self) -> list[Project]:
        return self._list(Project, "/projects")

    def get_project(self, key: str) -> Project:
        return self._get(Project, _path("projects", key))

    def create_project(self, key: str, name: str, data: Body = None, /, **fields: Any) -> Project:
        """Fields: ``description``, ``timezone``. The caller becomes its owner."""
        body = _body(data, fields)
        body.update(key=key, name=name)
        return self._send_json(Project, "POST", "/projects", body)

    def update_project(
        self, key: str, data: Body = None, /, *, version: int | None = None, **fields: Any
    ) -> Project:
        """Fields: ``name``, ``description``, ``timezone``. With ``version``, refused with
        :class:`StaleVersion` when the project changed since."""
        return self._send_json(
            Project, "PATCH", _path("projects", key), _body(data, fields), version=version
        )

    def delete_project(self, key: str, *, version: int | None = None) -> None:
        """Owners only: removes the project and everything in it for good."""
        self._delete(_path("projects", key), version=version)

    def list_members(self, key: str) -> list[Membership]:
        return self._list(Membership, _path("projects", key, "members"))

    def add_member(
        self,
        key: str,
        *,
        user_id: int | None = None,
        email: str | None = None,
        role: str = "member",
    ) -> Membership:
        """Name the user by ``user_id`` or ``email`` (they need an account already)."""
        body = _body(None, {"user_id": user_id, "email": email, "role": role})
        body = {k: v for k, v in body.items() if v is not None}
        return self._send_json(Membership, "POST", _path("projects", key, "members"), body)

    def change_member_role(self, key: str, user_id: int, role: str) -> Membership:
        return self._send_json(
            Membership,
            "PATCH",
            _path("projects", key, "members", user_id),
            _body(None, {"role": role}),
        )

    def remove_member(self, key: str, user_id: int) -> None:
        self.request("DELETE", _path("projects", key, "members", user_id))

    # Phases and sprints (by number): the same routes under ``phases`` and ``sprints``

    def _create_numbered(
        self, model: type[M], key: str, kind: str, data: Body, fields: Mapping[str, Any]
    ) -> M:
        return self._send_json(model, "POST", _path("projects", key, kind), _body(data, fields))

    def _update_numbered(
        self,
        model: type[M],
        key: str,
        kind: str,
        number: int,
        data: Body,
        fields: Mapping[str, Any],
        version: int | None,
    ) -> M:
        path = _path("projects", key, kind, number)
        return self._send_json(model, "PATCH", path, _body(data, fields), version=version)

    def list_phases(self, key: str) -> list[Phase]:
        return self._list(Phase, _path("projects", key, "phases"))

    def get_phase(self, key: str, number: int) -> Phase:
        return self._get(Phase, _path("projects", key, "phases", number))

    def create_phase(
        self, key: str, number: int, title: str, data: Body = None, /, **fields: Any
    ) -> Phase:
        """Fields: ``status``, ``goals``, ``description``, ``notes``, ``meta``."""
        required = {"number": number, "title": title}
        return self._create_numbered(Phase, key, "phases", data, {**fields, **required})

    def update_phase(
        self,
        key: str,
        number: int,
        data: Body = None,
        /,
        *,
        version: int | None = None,
        **fields: Any,
    ) -> Phase:
        return self._update_numbered(Phase, key, "phases", number, data, fields, version)

    def delete_phase(self, key: str, number: int, *, version: int | None = None) -> None:
        """To the trash, with its sprints and stories."""
        self._delete(_path("projects", key, "phases", number), version=version)

    def list_sprints(self, key: str) -> list[Sprint]:
        return self._list(Sprint, _path("projects", key, "sprints"))

    def get_sprint(self, key: str, number: int) -> Sprint:
        return self._get(Sprint, _path("projects", key, "sprints", number))

    def create_sprint(
        self, key: str, number: int, name: str, data: Body = None, /, **fields: Any
    ) -> Sprint:
        """Fields: ``phase_id``, ``goal``, ``status``, ``weeks``, ``starts_on``, ``ends_on``."""
        required = {"number": number, "name": name}
        return self._create_numbered(Sprint, key, "sprints", data, {**fields, **required})

    def update_sprint(
        self,
        key: str,
        number: int,
        data: Body = None,
        /,
        *,
        version: int | None = None,
        **fields: Any,
    ) -> Sprint:
        return self._update_numbered(Sprint, key, "sprints", number, data, fields, version)

    def start_sprint(
        self,
        key: str,
        number: int,
        *,
        starts_on: date | None = None,
        ends_on: date | None = None,
        version: int | None = None,
    ) -> Sprint:
        """Admins: make a planned sprint the active one. ``starts_on`` defaults to today in the
        project's time zone, ``ends_on`` to the start plus the sprint's planned length (two
        weeks without one). :class:`Conflict` while another sprint is active or when this one
        is not planned; with ``version``, :class:`StaleVersion` when it changed since."""
        body = _body(None, {"starts_on": starts_on, "ends_on": ends_on})
        return self._send_json(
            Sprint,
            "POST",
            _path("projects", key, "sprints", number, "start"),
            {k: v for k, v in body.items() if v is not None},
            version=version,
        )

    def complete_sprint(
        self,
        key: str,
        number: int,
        *,
        carry_over_to: int | Literal["backlog"] | None = None,
        version: int | None = None,
    ) -> SprintCompletion:
        """Admins: end the active sprint today. Its done stories stay in it; the unfinished
        ones move to the top of ``carry_over_to`` (a sprint number or ``"backlog"``; by
        default the next planned sprint, else the backlog). :class:`Conflict` when the sprint
        is not the active one or the target is completed or cancelled, :class:`ValidationFailed`
        (``field`` ``carry_over_to``) for an unknown target."""
        body = {} if carry_over_to is None else {"carry_over_to": carry_over_to}
        return self._send_json(
            SprintCompletion,
            "POST",
            _path("projects", key, "sprints", number, "complete"),
            body,
            version=version,
        )

    def delete_sprint(self, key: str, number: int, *, version: int | None = None) -> None:
        """To the trash; its stories move to the backlog."""
        self._delete(_path("projects", key, "sprints", number), version=version)

    # Stories

    def list_stories_page(
        self,
        key: str,
        *,
        cursor: str | None = None,
        limit: int | None = None,
        **query: Unpack[StoryQuery],
    ) -> StoryPage:
        """One page of the stories that pass every filter given; pass its ``next_cursor``
        back (with the same filters and sort) for the next one."""
        params = _filters(query)
        params.update(cursor=cursor, limit=limit)
        response = self.request("GET", _path("projects", key, "stories"), params=params)
        return StoryPage.model_validate(response.json())

    def iter_stories(
        self, key: str, *, limit: int | None = None, **query: Unpack[StoryQuery]
    ) -> Iterator[Story]:
        """Every story that passes the filters, fetching page after page (``limit`` a page)."""
        cursor: str | None = None
        while True:
            page = self.list_stories_page(key, cursor=cursor, limit=limit, **query)
            yield from page.items
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def list_stories(
        self, key: str, *, limit: int | None = None, **query: Unpack[StoryQuery]
    ) -> list[Story]:
        """Every story that passes the filters (all pages)."""
        return list(self.iter_stories(key, limit=limit, **query))

    def get_story(self, key: str, story: str) -> Story:
        return self._get(Story, _path("projects", key, "stories", story))

    def create_story(self, key: str, title: str, data: Body = None, /, **fields: Any) -> Story:
        """Fields as in ``StoryCreate``: ``key`` (generated when omitted), ``points``,
        ``priority``, ``status``, ``sprint_id``, ``assignee_id``, ``description``..."""
        body = _body(data, fields)
        body["title"] = title
        return self._send_json(Story, "POST", _path("projects", key, "stories"), body)

    def update_story(
        self,
        key: str,
        story: str,
        data: Body = None,
        /,
        *,
        version: int | None = None,
        **fields: Any,
    ) -> Story:
        """Fields as in ``StoryUpdate``. With ``version`` (sent as ``If-Match``) the change is
        refused with :class:`StaleVersion` when somebody changed the story since."""
        return self._send_json(
            Story,
            "PATCH",
            _path("projects", key, "stories", story),
            _body(data, fields),
            version=version,
        )

    def delete_story(self, key: str, story: str, *, version: int | None = None) -> None:
        """To the trash (:meth:`restore_item` brings it back)."""
        self._delete(_path("projects", key, "stories", story), version=version)

    def move_story(
        self,
        key: str,
        story: str,
        data: Body = None,
        /,
        *,
        version: int | None = None,
        **fields: Any,
    ) -> Story:
        """Move on the board: to a sprint (or the backlog), a status, a place in the order."""
        return self._send_json(
            Story,
            "POST",
            _path("projects", key, "stories", story, "move"),
            _body(data, fields),
            version=version,
        )

    def board(self, key: str, sprint: int) -> list[BoardStory]:
        """A sprint's board: its stories in rank order, each with its task counts."""
        return self._list(BoardStory, _path("projects", key, "sprints", sprint, "stories"))

    def backlog(self, key: str) -> list[BoardStory]:
        """The stories in no sprint, in rank order, each with its task counts."""
        return self._list(BoardStory, _path("projects", key, "backlog"))

    # Tasks

    def list_tasks(self, key: str, story: str) -> list[Task]:
        return self._list(Task, _path("projects", key, "stories", story, "tasks"))

    def create_task(self, key: str, story: str, text: str, /, **fields: Any) -> Task:
        """Fields: ``done``, ``position``, ``parent_id``."""
        body = _body(None, fields)
        body["text"] = text
        return self._send_json(
            Task, "POST", _path("projects", key, "stories", story, "tasks"), body
        )

    def update_task(self, key: str, task_id: int, data: Body = None, /, **fields: Any) -> Task:
        """Fields: ``text``, ``done``, ``position``."""
        return self._send_json(
            Task, "PATCH", _path("projects", key, "tasks", task_id), _body(data, fields)
        )

    def get_task(self, key: str, task_id: int) -> Task:
        return self._get(Task, _path("projects", key, "tasks", task_id))

    def toggle_task(self, key: str, task_id: int) -> Task:
        """Flip the task's ``done`` on the server (one request, so nobody's tick is lost)."""
        return Task.model_validate(
            self.request("POST", _path("projects", key, "tasks", task_id, "toggle")).json()
        )

    def delete_task(self, key: str, task_id: int) -> None:
        self._delete(_path("projects", key, "tasks", task_id))

    # Comments

    def list_comments(self, key: str, story: str) -> list[Comment]:
        return self._list(Comment, _path("projects", key, "stories", story, "comments"))

    def create_comment(self, key: str, story: str, body: str) -> Comment:
        return self._send_json(
            Comment,
            "POST",
            _path("projects", key, "stories", story, "comments"),
            {"body": body},
        )

    def update_comment(self, key: str, comment_id: int, body: str) -> Comment:
        return self._send_json(
            Comment, "PATCH", _path("projects", key, "comments", comment_id), {"body": body}
        )

    def delete_comment(self, key: str, comment_id: int) -> None:
        self._delete(_path("projects", key, "comments", comment_id))

    # Activity

    def list_activity_page(
        self,
        key: str,
        *,
        before: int | None = None,
        limit: int | None = None,
        entity_type: str | None = None,
        entity_id: int | None = None,
    ) -> ActivityPage:
        """One page of the activity trail, newest first; ``next_before`` continues it."""
        response = self.request(
            "GET",
            _path("projects", key, "activity"),
            params={
                "before": before,
                "limit": limit,
                "entity_type": entity_type,
                "entity_id": entity_id,
            },
        )
        return ActivityPage.model_validate(response.json())

    def iter_activity(
        self,
        key: str,
        *,
        limit: int | None = None,
        entity_type: str | None = None,
        entity_id: int | None = None,
    ) -> Iterator[ActivityEvent]:
        """The whole trail, newest first, page after page."""
        before: int | None = None
        while True:
            page = self.list_activity_page(
                key, before=before, limit=limit, entity_type=entity_type, entity_id=entity_id
            )
            yield from page.items
            if page.next_before is None:
                return
            before = page.next_before

    # The trash

    def list_trash(self, key: str) -> list[TrashItem]:
        return self._list(TrashItem, _path("projects", key, "trash"))

    def restore_item(self, key: str, kind: TrashKind | str, item_id: int) -> None:
        """Bring an item back from the trash (with what went there with it)."""
        self.request("POST", _path("projects", key, "trash", TrashKind(kind), item_id, "restore"))

    def purge_item(self, key: str, kind: TrashKind | str, item_id: int) -> None:
        """Admins: remove the item for good."""
        self.request("DELETE", _path("projects", key, "trash", TrashKind(kind), item_id))

    # Plan documents

    def import_plan(
        self,
        key: str,
        document: Document | Mapping[str, str | bytes],
        *,
        filename: str | None = None,
        dry_run: bool = False,
        prune: bool = False,
    ) -> ImportResult:
        """Import a plan document into the project (admins).

        ``document`` is the text or bytes of one document, a file path, or a mapping of
        file names (relative paths) to contents for a folder of them. With ``dry_run`` the
        result says what would change and nothing is written; with ``prune`` stories
        missing from the document go to the trash.
        """
        files = [
            ("files", (name, content, "text/markdown"))
            for name, content in _documents(document, filename).items()
        ]
        response = self.request(
            "POST",
            _path("projects", key, "imports"),
            params={"dry_run": _flag(dry_run), "prune": _flag(prune)},
            files=files,
        )
        return ImportResult.model_validate(response.json())

    def export_markdown(self, key: str, *, phase: int | None = None) -> str:
        """The plan as a markdown document (the format :meth:`import_plan` reads)."""
        response = self.request("GET", _path("projects", key, "export.md"), params={"phase": phase})
        return response.text

    def export_json(self, key: str, *, phase: int | None = None) -> dict[str, Any]:
        """The plan as data (the README's "JSON export" format)."""
        response = self.request(
            "GET", _path("projects", key, "export.json"), params={"phase": phase}
        )
        data: dict[str, Any] = response.json()
        return data


def _flag(value: bool) -> str | None:
    return "true" if value else None


def _filters(filters: Mapping[str, Any]) -> dict[str, Any]:
    """Query parameters from filters; a list value repeats the parameter."""
    params: dict[str, Any] = {}
    for name, value in filters.items():
        if value is None:
            continue
        if isinstance(value, list | tuple | set | frozenset):
            params[name] = [str(to_jsonable_python(v)) for v in value]
        else:
            params[name] = to_jsonable_python(value)
    return params


def _documents(
    document: Document | Mapping[str, str | bytes], filename: str | None
) -> dict[str, bytes]:
    def as_bytes(content: str | bytes) -> bytes:
        return content.encode("utf-8") if isinstance(content, str) else content

    if isinstance(document, Mapping):
        return {name: as_bytes(content) for name, content in document.items()}
    if isinstance(document, Path):
        if document.is_dir():
            from plandeck.planfile.reader import PLAN_SUFFIXES

            return {
                path.relative_to(document).as_posix(): path.read_bytes()
                for path in sorted(document.rglob("*"))
                if path.is_file() and path.suffix.lower() in PLAN_SUFFIXES
            }
        return {filename or document.name: document.read_bytes()}
    return {filename or "plan.md": as_bytes(document)}
