"""Reading a sprint board or backlog page as the tests need it: its lists of cards, its forms
(fields and a select's options), and the text and attributes of its elements with an id."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

import httpx


@dataclass
class Form:
    action: str
    fields: dict[str, str] = field(default_factory=dict)
    # A select's options in order, as (value, selected).
    options: dict[str, list[tuple[str, bool]]] = field(default_factory=dict)

    def chosen(self, name: str) -> str:
        return next(value for value, selected in self.options[name] if selected)


class BoardPage(HTMLParser):
    """A board page's forms (their fields and options), its lists of cards, and the text
    of its elements with an id."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self.lists: dict[str, list[str]] = {}
        self.texts: dict[str, str] = {}
        self.attributes: dict[str, dict[str, str]] = {}
        self._form: Form | None = None
        self._select: str | None = None
        self._list: str | None = None
        self._open: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if found.get("id"):
            self.attributes[found["id"]] = found
        if tag == "form":
            self._form = Form(found.get("action", ""))
        elif tag == "input" and self._form is not None and "name" in found:
            self._form.fields[found["name"]] = found.get("value", "")
        elif tag == "select" and self._form is not None:
            self._select = found["name"]
            self._form.options[self._select] = []
        elif tag == "option" and self._form is not None and self._select:
            self._form.options[self._select].append((found["value"], "selected" in found))
        if tag == "ol" and "data-list" in found:
            self._list = found.get("data-status") or found["data-sprint"]
            self.lists[self._list] = []
        if tag == "li" and "card" in found.get("class", "").split() and self._list:
            self.lists[self._list].append(found["data-key"])
        if tag not in ("input", "meta", "link", "br", "img"):
            self._open.append((tag, found.get("id")))
            if found.get("id"):
                self.texts[found["id"]] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._form is not None:
            self.forms.append(self._form)
            self._form = None
        if tag == "select":
            self._select = None
        if tag == "ol":
            self._list = None
        while self._open:
            opened, _ = self._open.pop()
            if opened == tag:
                break

    def handle_data(self, data: str) -> None:
        for _, element_id in self._open:
            if element_id:
                self.texts[element_id] += data

    def text(self, element_id: str) -> str:
        return " ".join(self.texts[element_id].split())

    def move_forms(self) -> list[dict[str, str]]:
        """The fields of the cards' move forms."""
        return [form.fields for form in self.forms if form.action.endswith("/board/move")]

    def form(self, action_end: str) -> Form | None:
        return next((form for form in self.forms if form.action.endswith(action_end)), None)

    def cards(self) -> list[str]:
        return [key for keys in self.lists.values() for key in keys]


def parse_board(page: httpx.Response) -> BoardPage:
    parsed = BoardPage()
    parsed.feed(page.text)
    return parsed
