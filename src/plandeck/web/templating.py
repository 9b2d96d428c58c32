"""The pages' Jinja2 environment, shared by the web routes and the error pages."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

from plandeck.web import i18n
from plandeck.web.assets import static_files

templates = Jinja2Templates(
    directory=Path(__file__).parent / "templates", context_processors=[i18n.context_processor]
)
templates.env.globals["static_url"] = static_files.url
i18n.install(templates.env)
