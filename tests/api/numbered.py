"""Helpers the phase and sprint API tests share: both are project children addressed by number."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.live import Caller


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The problem+json body of a response that must have this status."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


def error_locations(response: httpx.Response) -> list[list[str]]:
    """The ``loc`` of each field a 422 response names."""
    return [error["loc"] for error in problem(response, 422)["errors"]]


def create(caller: Caller, key: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """Create a ``phases`` or ``sprints`` record in the project, which must succeed."""
    response = caller.client.post(f"/projects/{key}/{kind}", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def stale_etag(caller: Caller, path: str, change: dict[str, Any]) -> str:
    """The ETag of the record at ``path``, made stale by a change sent after reading it."""
    etag: str = caller.client.get(path).headers["ETag"]
    assert caller.client.patch(path, json=change).is_success
    return etag


def hidden_from(
    caller: Caller, path: str, number: int, new: dict[str, Any], change: dict[str, Any]
) -> None:
    """Every route under ``path`` answers 404 to ``caller``, who is no member of the project."""
    problem(caller.client.get(path), 404)
    problem(caller.client.post(path, json=new), 404)
    problem(caller.client.get(f"{path}/{number}"), 404)
    problem(caller.client.patch(f"{path}/{number}", json=change), 404)
    problem(caller.client.delete(f"{path}/{number}"), 404)
