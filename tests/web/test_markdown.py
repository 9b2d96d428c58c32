"""The ``markdown`` filter: users' markdown as HTML that never runs their code."""

from __future__ import annotations

import pytest
from markupsafe import Markup

from plandeck.web.markdown import render_markdown
from plandeck.web.templating import templates


class TestFormatting:
    def test_commonmark_is_rendered(self) -> None:
        html = render_markdown("# Plan\n\n- **bold** and _it_\n- `code`")
        assert "<h1>Plan</h1>" in html
        assert "<strong>bold</strong>" in html
        assert "<em>it</em>" in html
        assert "<code>code</code>" in html

    def test_the_result_is_markup_and_empty_text_is_empty(self) -> None:
        assert isinstance(render_markdown("x"), Markup)
        assert render_markdown("") == ""
        assert render_markdown(None) == ""

    def test_the_filter_is_registered_and_not_escaped_again(self) -> None:
        rendered = templates.env.from_string("{{ text|markdown }}").render(text="*a* <b>")
        assert rendered == "<p><em>a</em> &lt;b&gt;</p>\n"

    def test_persian_text_is_kept(self) -> None:
        assert "<strong>طرح</strong>" in render_markdown("**طرح**")


class TestNoHtmlFromUsers:
    @pytest.mark.parametrize(
        ("text", "shown"),
        [
            ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
            ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"),
            (
                '<a href="javascript:alert(1)">x</a>',
                "&lt;a href=&quot;javascript:alert(1)&quot;&gt;",
            ),
            ("<div>\n\n<iframe src=x></iframe>", "&lt;iframe src=x&gt;"),
        ],
    )
    def test_raw_html_is_escaped(self, text: str, shown: str) -> None:
        html = render_markdown(text)
        assert shown in html
        assert "<script" not in html
        assert "<img" not in html
        assert "<iframe" not in html
        assert "<a " not in html

    def test_inline_html_in_a_list_item_is_escaped(self) -> None:
        assert "<b" not in render_markdown("- <b onmouseover=alert(1)>x</b>")


class TestLinks:
    @pytest.mark.parametrize(
        "url",
        [
            "https://example.com/a?b=1",
            "http://example.com",
            "mailto:grace@example.com",
            "HTTPS://EXAMPLE.COM",
        ],
    )
    def test_web_and_mail_links_are_links(self, url: str) -> None:
        html = render_markdown(f"[here]({url})")
        assert "<a href=" in html
        assert 'rel="nofollow noopener noreferrer"' in html

    @pytest.mark.parametrize(
        "url",
        [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "java&#x09;script:alert(1)",
            "&#106;avascript:alert(1)",
            "vbscript:msgbox(1)",
            "data:text/html;base64,PHNjcmlwdD4=",
            "file:///etc/passwd",
            "/relative/path",
            "//evil.example/",
        ],
    )
    def test_other_links_stay_text(self, url: str) -> None:
        html = render_markdown(f"[x]({url})")
        assert "<a" not in html
        assert "href" not in html

    def test_autolinks_follow_the_same_rule(self) -> None:
        assert '<a href="https://example.com"' in render_markdown("<https://example.com>")
        assert "<a" not in render_markdown("<javascript:alert(1)>")

    def test_images_are_limited_too(self) -> None:
        assert "<img" not in render_markdown("![x](data:image/svg+xml;base64,PHN2Zz4=)")
        assert "<img" not in render_markdown("![x](javascript:alert(1))")
        assert '<img src="https://example.com/a.png"' in render_markdown(
            "![x](https://example.com/a.png)"
        )

    def test_reference_links_are_checked(self) -> None:
        assert "<a" not in render_markdown("[x][r]\n\n[r]: javascript:alert(1)")
