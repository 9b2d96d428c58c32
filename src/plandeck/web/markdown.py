"""Users' markdown (story descriptions, comments) as HTML that can never run their code.

CommonMark with raw HTML off: every ``<`` a user writes is escaped. Links and images may
only point at http, https and mailto URLs; anything else (``javascript:``, ``data:``,
``vbscript:``, relative tricks) is left as plain text. Registered as the templates'
``markdown`` filter: ``{{ story.description|markdown }}``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from markupsafe import Markup

from plandeck.web.templating import templates

_ALLOWED_SCHEME = re.compile(r"^(?:https?:|mailto:)", re.IGNORECASE)


def _link_allowed(url: str) -> bool:
    # The URL arrives normalised (entities decoded, unsafe characters percent-encoded), so
    # a scheme hidden behind whitespace or an entity cannot match and is refused.
    return _ALLOWED_SCHEME.match(url.strip()) is not None


def _link_open(
    renderer: RendererHTML,
    tokens: Sequence[Token],
    idx: int,
    options: OptionsDict,
    env: EnvType,
) -> str:
    # A user's link leaves plandeck without telling the target where it came from.
    tokens[idx].attrSet("rel", "nofollow noopener noreferrer")
    return renderer.renderToken(tokens, idx, options, env)


def _parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": False})
    parser.validateLink = _link_allowed  # type: ignore[method-assign]  # markdown-it's hook
    parser.add_render_rule("link_open", _link_open)
    return parser


_PARSER = _parser()


def render_markdown(text: Any) -> Markup:
    """``text`` (None reads as empty) as safe HTML."""
    if not text:
        return Markup("")
    # Raw HTML is off, so the rendered HTML holds nothing the user wrote unescaped.
    return Markup(_PARSER.render(str(text)))


templates.env.filters["markdown"] = render_markdown
