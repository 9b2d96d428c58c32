"""The pages' languages: English and Persian, chosen per user, else by Accept-Language.

Messages live in gettext catalogs (``web/locales/<lang>/LC_MESSAGES/messages.po``), made with
Babel (``make i18n`` extracts new messages and updates them); they are compiled in memory at
start-up, so no binary ``.mo`` file is built or committed. Templates write ``{{ _("Log in")
}}``; the translation is the one of the request being rendered (a context value, not a
global: one process serves both languages at once).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jdatetime
from babel.core import Locale, negotiate_locale
from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup
from starlette.requests import Request

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
DEFAULT = "en"
SUPPORTED = ("en", "fa")
RTL = frozenset({"fa"})


def N_(message: str) -> str:  # noqa: N802 - gettext's name for "mark, translate later"
    """Marks a message for the catalog; the template translates it when it shows it."""
    return message


# How enum values (stored in English, by value) read on a page: ``{{ story.status|label }}``.
LABELS = {
    "owner": N_("Owner"),
    "admin": N_("Admin"),
    "member": N_("Member"),
    "viewer": N_("Viewer"),
    "planning": N_("Planning"),
    "planned": N_("Planned"),
    "active": N_("Active"),
    "completed": N_("Completed"),
    "cancelled": N_("Cancelled"),
    "draft": N_("Draft"),
    "approved": N_("Approved"),
    "in_progress": N_("In progress"),
    "review": N_("Review"),
    "done": N_("Done"),
    "blocked": N_("Blocked"),
    "critical": N_("Critical"),
    "high": N_("High"),
    "medium": N_("Medium"),
    "low": N_("Low"),
    "must": N_("Must have"),
    "should": N_("Should have"),
    "could": N_("Could have"),
    "wont": N_("Won't have"),
    "read": N_("Read"),
    "write": N_("Write"),
}


# The titles of plandeck.errors' errors and of the HTTP errors, as error pages show them.
ERROR_TITLES = (
    N_("Invalid input"),
    N_("Not authenticated"),
    N_("Forbidden"),
    N_("Not found"),
    N_("Conflict"),
    N_("Stale version"),
    N_("Service unavailable"),
    N_("Too many requests"),
)


@dataclass(frozen=True)
class Language:
    code: str
    translations: NullTranslations

    @property
    def direction(self) -> str:
        return "rtl" if self.code in RTL else "ltr"

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ngettext(singular, plural, n)


@cache
def language(code: str) -> Language:
    """The language ``code`` with its compiled catalog (English needs none)."""
    if code not in SUPPORTED:
        code = DEFAULT
    catalog_file = LOCALES_DIR / code / "LC_MESSAGES" / "messages.po"
    if code == DEFAULT or not catalog_file.exists():
        return Language(code, NullTranslations())
    with catalog_file.open("rb") as po:
        catalog = read_po(po, locale=code)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Language(code, Translations(fp=compiled))


def negotiate(request: Request) -> Language:
    """The user's chosen language (set on ``request.state.locale`` by the session check),
    else the best match of the browser's Accept-Language, else English."""
    chosen = getattr(request.state, "locale", None)
    if chosen in SUPPORTED:
        return language(chosen)
    preferred = [
        part.split(";")[0].strip().replace("-", "_")
        for part in request.headers.get("accept-language", "").split(",")
        if part.strip()
    ]
    found = negotiate_locale(preferred, list(SUPPORTED), sep="_") if preferred else None
    return language(found or DEFAULT)


def _lang(context: Context) -> Language:
    found = context.get("lang")
    return found if isinstance(found, Language) else language(DEFAULT)


@pass_context
def _gettext(context: Context, message: str) -> str:
    return _lang(context).gettext(message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return _lang(context).ngettext(singular, plural, n)


@pass_context
def format_day(context: Context, value: date | datetime | None) -> str:
    """A calendar day in the page's language: Jalali in Persian digits for Persian, else the
    locale's medium format (Nov 26, 2026)."""
    if value is None:
        return ""
    day = value.date() if isinstance(value, datetime) else value
    lang = _lang(context)
    if lang.code == "fa":
        jalali = jdatetime.date.fromgregorian(date=day)
        written: str = jalali.strftime("%Y/%m/%d")
        return written.translate(_PERSIAN_DIGITS)
    return format_date(day, format="medium", locale=Locale.parse(lang.code))


_PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


@pass_context
def label(context: Context, value: Any) -> str:
    """An enum's value as the page's language names it (``in_progress`` -> "In progress")."""
    raw = str(getattr(value, "value", value))
    return _lang(context).gettext(LABELS.get(raw, raw))


def ltr(value: Any) -> Markup:
    """Text that reads left to right in any language, kept so inside right-to-left text: a
    plan's week label ``5-6`` would otherwise show as ``6-5`` on a Persian page."""
    return Markup('<bdi dir="ltr">{}</bdi>').format(value)


def isolated(values: Mapping[str, object]) -> dict[str, Markup]:
    """A message's values each in its own ``<bdi>``: a file name, a key or a quoted word from
    the document keeps its own direction, and the sentence around it keeps the page's (in a
    Persian sentence, "'a' -> 'b'" would otherwise show its values in reverse order)."""
    return {name: Markup("<bdi>{}</bdi>").format(value) for name, value in values.items()}


def install(env: Any) -> None:
    """gettext in the templates' environment, per rendering."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)
    env.filters["day"] = format_day
    env.filters["label"] = label
    env.filters["ltr"] = ltr
    env.filters["isolated"] = isolated


def context_processor(request: Request) -> dict[str, Any]:
    return {"lang": negotiate(request)}
