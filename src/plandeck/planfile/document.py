"""What a plan document says, independent of its format and of the database.

Parsers (``sprint_plan``, ``bmad``) produce a :class:`PlanDocument`; the importer maps it onto
phases, sprints, stories and tasks; the exporters write one back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from plandeck.models import MoSCoW, PhaseStatus, Priority, StoryStatus


def N_(template: str) -> str:  # noqa: N802 - gettext's name for "mark, translate later"
    """Marks a warning's template for the pages' catalogs (``make i18n`` extracts it)."""
    return template


@dataclass(frozen=True, eq=False)
class PlanWarning:
    """Something the reader could not map, or repaired; ``line`` is 1-based.

    ``template`` is an English sentence with ``%(name)s`` fields filled from ``params``: the
    CLI and the API show ``message``; the pages look ``template`` up in their language's
    catalog and fill it the same way. Warnings are equal when they say the same thing.
    """

    file: str
    line: int | None
    template: str
    error: bool = False  # an error makes the document unfit to import (``plandeck check`` fails)
    params: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(
        cls, file: str, line: int | None, template: str, *, error: bool = False, **params: object
    ) -> PlanWarning:
        return cls(file, line, template, error, cls.pack(params))

    @staticmethod
    def pack(params: Mapping[str, object]) -> tuple[tuple[str, str], ...]:
        return tuple((name, str(value)) for name, value in params.items())

    @property
    def arguments(self) -> dict[str, str]:
        return dict(self.params)

    @property
    def message(self) -> str:
        return self.template % self.arguments if self.params else self.template

    def _key(self) -> tuple[str, int | None, str, bool]:
        return (self.file, self.line, self.message, self.error)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PlanWarning) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {'error: ' if self.error else ''}{self.message}"


class PlanSyntaxError(Exception):
    """A document that cannot be read at all; names the file, the line and what was expected.

    Like a :class:`PlanWarning`, ``template`` and ``params`` let the pages translate it;
    ``more`` counts the document's other errors."""

    def __init__(
        self, file: str, line: int | None, template: str, *, more: int = 0, **params: object
    ) -> None:
        self.file, self.line, self.template, self.more = file, line, template, more
        self.params = PlanWarning.pack(params)
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {self.message}")

    @property
    def arguments(self) -> dict[str, str]:
        return dict(self.params)

    @property
    def message(self) -> str:
        text = self.template % self.arguments if self.params else self.template
        return text + (f" (and {self.more} more)" if self.more else "")


@dataclass
class Checkbox:
    """A task or acceptance criterion: ``- [ ] text`` / ``- [x] text``, possibly nested."""

    text: str
    done: bool = False
    line: int | None = None
    subtasks: list[Checkbox] = field(default_factory=list)


@dataclass
class StoryDoc:
    key: str
    title: str
    points: int | None = None
    priority: Priority | None = None
    status: StoryStatus | None = None
    moscow: MoSCoW | None = None
    sprint: int | None = None  # sprint number
    phase: int | None = None  # phase (or epic) number
    description: str = ""  # markdown, verbatim
    acceptance_criteria: list[Checkbox] = field(default_factory=list)
    tasks: list[Checkbox] = field(default_factory=list)
    notes: str = ""  # anything of the story that has no field of its own, verbatim
    file: str = ""
    line: int | None = None


@dataclass
class SprintDoc:
    number: int
    name: str
    weeks: str | None = None
    goal: str = ""
    phase: int | None = None
    line: int | None = None


@dataclass
class PhaseDoc:
    number: int
    title: str
    status: PhaseStatus | None = None
    goals: list[str] = field(default_factory=list)
    description: str = ""
    notes: str = ""  # sections that map to nothing else, verbatim
    meta: dict[str, str] = field(default_factory=dict)  # bold "**Key:** value" lines
    line: int | None = None


class _StoryIndex:
    """Where the first story with each key sits in a list of stories.

    Readers append stories and look keys up as they go (a duplicate check per story, then
    the prioritisation list), so the index follows appends without starting over. A list
    replaced, shortened or reordered is noticed (by its identity, its length, its last
    story, and a found story's key) and indexed again. Keys are read as stories are
    indexed: stories are not renamed once in a document.
    """

    def __init__(self, stories: list[StoryDoc]) -> None:
        self.stories = stories
        self.positions: dict[str, int] = {}
        self.size = 0
        self.last: StoryDoc | None = None
        self.extend()

    def extend(self) -> None:
        for position in range(self.size, len(self.stories)):
            self.positions.setdefault(self.stories[position].key, position)
        self.size = len(self.stories)
        self.last = self.stories[-1] if self.stories else None

    def follows(self, stories: list[StoryDoc]) -> bool:
        """Whether ``stories`` is the indexed list, at most appended to since."""
        return (
            stories is self.stories
            and len(stories) >= self.size
            and (self.size == 0 or stories[self.size - 1] is self.last)
        )

    def find(self, key: str) -> StoryDoc | None:
        position = self.positions.get(key)
        return None if position is None else self.stories[position]


@dataclass
class PlanDocument:
    file: str
    phases: list[PhaseDoc] = field(default_factory=list)
    sprints: list[SprintDoc] = field(default_factory=list)
    stories: list[StoryDoc] = field(default_factory=list)
    headings: list[str] = field(default_factory=list)  # every heading's text, as read (repaired)
    warnings: list[PlanWarning] = field(default_factory=list)
    _story_index: _StoryIndex | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def errors(self) -> list[PlanWarning]:
        return [w for w in self.warnings if w.error]

    def raise_for_errors(self) -> None:
        """Refuse a document with errors, naming the first one's file and line."""
        if self.errors:
            first = self.errors[0]
            raise PlanSyntaxError(
                first.file,
                first.line,
                first.template,
                more=len(self.errors) - 1,
                **first.arguments,
            )

    def story(self, key: str) -> StoryDoc | None:
        """The first story with this key, or None; a lookup in an index kept by key."""
        index = self._story_index
        if index is not None and index.follows(self.stories):
            index.extend()
            found = index.find(key)
            if found is None or found.key == key:
                return found
        # Not indexed yet, or the list changed other than by appending: index it again.
        self._story_index = _StoryIndex(self.stories)
        return self._story_index.find(key)
