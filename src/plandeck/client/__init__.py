"""A typed, synchronous Python client for plandeck's JSON API.

from plandeck.client import PlandeckClient

with PlandeckClient("https://plandeck.example.com", token="pdk_...") as client:
    for story in client.iter_stories("P3", sprint=9):
        print(story.key, story.title, story.status)
"""

from __future__ import annotations

from plandeck.client._client import PlandeckClient, api_url
from plandeck.client.errors import (
    Conflict,
    ConnectionFailed,
    Forbidden,
    NotAuthenticated,
    NotFound,
    PayloadTooLarge,
    PlandeckApiError,
    PlandeckClientError,
    RateLimited,
    ServerError,
    StaleVersion,
    ValidationFailed,
)

__all__ = [
    "Conflict",
    "ConnectionFailed",
    "Forbidden",
    "NotAuthenticated",
    "NotFound",
    "PayloadTooLarge",
    "PlandeckApiError",
    "PlandeckClient",
    "PlandeckClientError",
    "RateLimited",
    "ServerError",
    "StaleVersion",
    "ValidationFailed",
    "api_url",
]
