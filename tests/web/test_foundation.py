"""What every page stands on: hashed static files, compression, the language and direction."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import httpx
import pytest
from babel.messages.pofile import read_po
from jinja2 import Environment

from plandeck.web import i18n
from plandeck.web.assets import HashedStaticFiles
from tests.api.live import LiveServer

LOCALES = Path(i18n.LOCALES_DIR)


def _stylesheet(page: str) -> str:
    found = re.search(r'<link rel="stylesheet" href="(/static/[^"]+)"', page)
    assert found, page
    return found.group(1)


@pytest.mark.slow
class TestStaticFiles:
    def test_pages_link_hashed_names_served_immutable(self, live: LiveServer) -> None:
        with httpx.Client(base_url=live.base_url) as browser:
            url = _stylesheet(browser.get("/login").text)
            assert re.fullmatch(r"/static/plandeck\.[0-9a-f]{10}\.css", url)
            response = browser.get(url)
            plain = browser.get("/static/plandeck.css")
        assert response.status_code == 200
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["content-type"].startswith("text/css")
        assert plain.content == response.content
        assert plain.headers["cache-control"] == "no-cache"

    def test_text_is_compressed_for_browsers_that_accept_it(self, live: LiveServer) -> None:
        url = "/static/" + HashedStaticFiles().hashed["vendor/htmx.min.js"]
        with httpx.Client(base_url=live.base_url) as browser:
            compressed = browser.get(url, headers={"Accept-Encoding": "gzip"})
            identity = browser.get(url, headers={"Accept-Encoding": "identity"})
        assert compressed.headers["content-encoding"] == "gzip"
        assert "content-encoding" not in identity.headers
        assert compressed.content == identity.content  # httpx decoded it
        assert int(compressed.headers["content-length"]) < len(identity.content) / 2

    def test_unknown_and_escaping_paths_are_not_found(self, live: LiveServer) -> None:
        with httpx.Client(base_url=live.base_url) as browser:
            assert browser.get("/static/nope.css").status_code == 404
            assert browser.get("/static/../config.py").status_code == 404


def test_hashed_name_follows_the_content(tmp_path: Path) -> None:
    (tmp_path / "a.css").write_text("body{}")
    before = HashedStaticFiles(tmp_path).url("a.css")
    (tmp_path / "a.css").write_text("body{color:red}")
    after = HashedStaticFiles(tmp_path).url("a.css")
    assert before != after
    assert before.startswith("/static/a.")
    assert before.endswith(".css")


@pytest.mark.slow
class TestLanguage:
    def test_persian_browser_gets_the_persian_right_to_left_page(self, live: LiveServer) -> None:
        with httpx.Client(base_url=live.base_url) as browser:
            page = browser.get("/login", headers={"Accept-Language": "fa-IR,fa;q=0.9,en;q=0.5"})
        assert '<html lang="fa" dir="rtl">' in page.text
        assert "<h1>ورود</h1>" in page.text

    @pytest.mark.parametrize("header", ["", "en-US,en;q=0.9", "de-DE", "*"])
    def test_others_get_english_left_to_right(self, live: LiveServer, header: str) -> None:
        with httpx.Client(base_url=live.base_url) as browser:
            page = browser.get("/login", headers={"Accept-Language": header})
        assert '<html lang="en" dir="ltr">' in page.text
        assert "<h1>Log in</h1>" in page.text


class TestCatalogs:
    def test_every_message_has_a_persian_translation_with_the_same_placeholders(self) -> None:
        with (LOCALES / "messages.pot").open("rb") as pot:
            template = read_po(pot)
        with (LOCALES / "fa" / "LC_MESSAGES" / "messages.po").open("rb") as po:
            persian = read_po(po, locale="fa")
        missing = [m.id for m in template if m.id and not (persian.get(m.id) or None)]
        assert missing == []
        for message in persian:
            if not message.id:
                continue
            assert "fuzzy" not in message.flags, message.id
            assert message.string, message.id
            placeholders = re.compile(r"%\(\w+\)s")
            assert sorted(placeholders.findall(str(message.string))) == sorted(
                placeholders.findall(str(message.id))
            ), message.id

    def test_templates_translate_per_rendering(self) -> None:
        env = Environment(autoescape=True)
        i18n.install(env)
        template = env.from_string('{{ _("Log in") }} {{ _("Sprint %(number)s", number=9) }}')
        assert template.render(lang=i18n.language("fa")) == "ورود اسپرینت 9"
        assert template.render(lang=i18n.language("en")) == "Log in Sprint 9"
        assert template.render() == "Log in Sprint 9"

    def test_days_are_jalali_in_persian(self) -> None:
        env = Environment(autoescape=True)
        i18n.install(env)
        template = env.from_string("{{ day|day }}")
        assert template.render(day=date(2026, 11, 26), lang=i18n.language("fa")) == "۱۴۰۵/۰۹/۰۵"
        assert template.render(day=date(2026, 11, 26), lang=i18n.language("en")) == "Nov 26, 2026"
        assert template.render(day=None) == ""
