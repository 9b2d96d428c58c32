"""Static files under content-hashed names, cached by browsers for good.

At start-up every file under ``web/static/`` is hashed; templates link to
``static_url("plandeck.css")``, which gives ``/static/plandeck.1a2b3c4d.css``. That name
changes whenever the content does, so it is served with ``Cache-Control: immutable`` and a
year's max-age; a plain name (an old bookmark, a source map) is still served, but must be
revalidated. Compression is the app's GZip middleware's job.
"""

from __future__ import annotations

import hashlib
from pathlib import Path, PurePosixPath
from typing import Any

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).resolve().parent / "static"
URL_PREFIX = "/static/"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


def _hashed_name(relative: str, content: bytes) -> str:
    path = PurePosixPath(relative)
    digest = hashlib.sha256(content).hexdigest()[:10]
    return str(path.with_name(f"{path.stem}.{digest}{path.suffix}"))


class HashedStaticFiles(StaticFiles):
    """``StaticFiles`` that also answers to the hashed names of its files."""

    def __init__(self, directory: Path = STATIC_DIR, **kwargs: Any) -> None:
        super().__init__(directory=directory, **kwargs)
        self.hashed: dict[str, str] = {}  # plain relative path -> hashed relative path
        self._plain: dict[str, str] = {}  # hashed -> plain
        for file in sorted(directory.rglob("*")):
            if file.is_file() and not file.name.startswith("."):
                relative = file.relative_to(directory).as_posix()
                hashed = _hashed_name(relative, file.read_bytes())
                self.hashed[relative] = hashed
                self._plain[hashed] = relative

    def url(self, relative: str) -> str:
        """The hashed URL of a static file; KeyError names a file that does not exist."""
        return URL_PREFIX + self.hashed[relative]

    async def get_response(self, path: str, scope: Scope) -> Response:
        plain = self._plain.get(path)
        response = await super().get_response(plain or path, scope)
        if response.status_code in (200, 304):
            response.headers["cache-control"] = IMMUTABLE if plain else REVALIDATE
        return response


static_files = HashedStaticFiles()
