"""Optimistic concurrency over HTTP: ``ETag`` carries a record's version, ``If-Match`` sends it back.

A GET answers with ``ETag: "story-12-v3"``; an update or delete sent with that value in
``If-Match`` (or with ``"version": 3`` in its body) succeeds only if nobody changed the
record since, and is refused with 409 otherwise.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Header, Response

from plandeck.errors import InvalidInput

_ETAG = re.compile(r'^(?:W/)?"(?:[a-z_]+-\d+-v)?(?P<version>\d+)"$')

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        pattern=r'^(\*|(W/)?"([a-z_]+-[0-9]+-v)?[0-9]+")$',
        description='The ETag a GET returned (e.g. "story-12-v3"): refuse with 409 if the record changed since.',
    ),
]


def etag(entity: str, entity_id: int, version: int) -> str:
    return f'"{entity}-{entity_id}-v{version}"'


def set_etag(response: Response, entity: str, entity_id: int, version: int) -> None:
    response.headers["ETag"] = etag(entity, entity_id, version)


def expected_version(if_match: str | None, body_version: int | None = None) -> int | None:
    """The version the caller expects, from If-Match or the body (If-Match wins); None: any."""
    if if_match is None or if_match.strip() == "*":
        return body_version
    match = _ETAG.match(if_match.strip())
    if match is None:
        raise InvalidInput(
            f'If-Match must be an ETag this API returned, like "story-12-v3"; got {if_match!r}',
            field="If-Match",
        )
    return int(match["version"])
