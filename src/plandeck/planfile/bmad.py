"""Reading BMAD-METHOD planning artifacts: story files, epics documents and sprint-status YAML.

BMAD (v4 and v6) keeps one markdown file per story (``1.2.user-login.md``, ``1-2-user-login.md``),
the epics with their stories in ``epics.md`` or ``epic-N.md``, and the team's progress in
``sprint-status.yaml``. :func:`read_bmad_folder` reads all three from a folder and merges them into
one :class:`PlanDocument`. Nothing a story says is dropped: what has no field of its own is kept
verbatim (line endings normalised to ``\\n``) in ``notes``.

The parsers report what they could not map as :class:`PlanWarning` values (file and 1-based line);
:func:`parse_story_file` and :func:`parse_sprint_status` return plain values, so they append their
warnings to the optional ``warnings`` list they are given.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Literal, NamedTuple

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

from plandeck.models import MoSCoW, PhaseStatus, Priority, StoryStatus
from plandeck.planfile import vocabulary
from plandeck.planfile.document import (
    N_,
    Checkbox,
    PhaseDoc,
    PlanDocument,
    PlanSyntaxError,
    PlanWarning,
    StoryDoc,
)
from plandeck.planfile.vocabulary import fold, lookup, normalise_digits

__all__ = ["parse_epics", "parse_sprint_status", "parse_story_file", "read_bmad_folder"]

_MD = MarkdownIt("commonmark").enable("table")

# Separator between a number and its title: "Story 1.2: Login", "Epic 1 - Foundation", "Epic 1 Core".
_SEP = r"[\s:.\-\u2013\u2014]*"
_STORY_HEADING = re.compile(rf"^story\s+(\d+)\s*\.\s*(\d+)\b{_SEP}(.*)$", re.IGNORECASE | re.DOTALL)
_EPIC_HEADING = re.compile(rf"^epic\s+(\d+)\b{_SEP}(.*)$", re.IGNORECASE | re.DOTALL)
# At most three digits, so a date-named file ("2025-01-02-notes.md") is no story.
_FILE_KEYS = (
    re.compile(r"^(?:story[-_. ]?)?(\d{1,3})\.(\d{1,3})(?:[-_. ](.*))?\.(?:md|markdown)$", re.I),
    re.compile(r"^(?:story[-_. ]?)?(\d{1,3})-(\d{1,3})(?:[-_. ](.*))?\.(?:md|markdown)$", re.I),
)
_TITLE_POINTS = re.compile(r"\s*[(\[]\s*(\d+)\s*(?:pts?|points?|sp)\s*[)\]]", re.IGNORECASE)
_CHECK = re.compile(r"^\[([ xX])\]\s*")
# "**Key:** value", "**Key**: value", "__Key:__ value", "Key: value" (the last only for known keys).
_LABEL = re.compile(
    r"^\s*(?:[-*+]\s+)?(?:"
    r"\*\*(?P<k1>[^*\n]+?)\s*:\s*\*\*"
    r"|\*\*(?P<k2>[^*\n]+?)\*\*\s*:"
    r"|__(?P<k3>[^_\n]+?)\s*:\s*__"
    r"|(?P<plain>[^\W\d][\w /]{0,30}?)\s*:(?!//)"
    r")\s*(?P<value>.*?)\s*$"
)
_YAML_STORY = re.compile(r"^(\d+)-(\d+)(?:-(.*))?$")
_YAML_EPIC = re.compile(r"^epic-(\d+)$", re.IGNORECASE)
_YAML_RETRO = re.compile(r"^epic-(\d+)-retro(?:spective)?$", re.IGNORECASE)

_FIELDS = {
    "status": "status",
    "story status": "status",
    "points": "points",
    "story points": "points",
    "story point": "points",
    "estimate": "points",
    "estimation": "points",
    "sp": "points",
    "priority": "priority",
    "moscow": "moscow",
}
_AC_NAMES = {"acceptance criteria", "acs", "ac"}
_STORY_NAMES = {"story", "user story", "story statement", "description"}
_TASK_NAMES = {
    "tasks subtasks",
    "tasks",
    "subtasks",
    "tasks and subtasks",
    "implementation tasks",
    "task breakdown",
}
# Plain "Key:" lines count as labels only for these names; anyone's bold "**Key:**" does.
_PLAIN_LABELS = (
    set(_FIELDS)
    | _AC_NAMES
    | _STORY_NAMES
    | {"prerequisites", "technical notes", "notes", "dependencies", "definition of done"}
)

# BMAD words the shared vocabulary does not know, or would read as another status.
_BMAD_STORY_STATUS = {"ready for review": StoryStatus.REVIEW, "code review": StoryStatus.REVIEW}
_BMAD_EPIC_STATUS = {
    "backlog": PhaseStatus.PLANNING,
    "contexted": PhaseStatus.PLANNING,
    "drafted": PhaseStatus.PLANNING,
    "in progress": PhaseStatus.ACTIVE,
    "done": PhaseStatus.COMPLETED,
}


# --- markdown as blocks with line ranges -----------------------------------------------------


@dataclass
class _Block:
    """A top-level markdown block; ``start``/``end`` are 0-based lines, ``end`` exclusive."""

    kind: str  # heading, paragraph, bullet_list, ordered_list, fence, table, html_block ...
    start: int
    end: int
    tokens: list[Token]
    level: int = 0  # heading level
    text: str = ""  # inline content of a heading or paragraph


@dataclass
class _Markdown:
    file: str
    lines: list[str]  # the original text's lines, line endings normalised
    blocks: list[_Block]
    front_matter: int  # how many leading lines a YAML front matter takes, 0 without one

    @property
    def headings(self) -> list[_Block]:
        return [b for b in self.blocks if b.kind == "heading"]

    def between(self, start: int, end: int) -> list[_Block]:
        return [b for b in self.blocks if start <= b.start < end]

    def verbatim(self, start: int, end: int, *, skip: Sequence[_Block] = ()) -> str:
        """Lines ``start..end`` as written, without the blocks in ``skip`` (nor the blank lines
        after them) and without blank lines at either end."""
        dropped: set[int] = set()
        for block in skip:
            following = [b.start for b in self.blocks if b.start > block.start]
            stop = min([*following, end])
            dropped.update(range(block.start, stop))
        return _trim(
            [self.lines[i] for i in range(start, min(end, len(self.lines))) if i not in dropped]
        )


def _normalise_newlines(text: str) -> str:
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _trim(lines: Sequence[str]) -> str:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return "\n".join(lines[start:end])


def _front_matter_length(lines: list[str]) -> int:
    if not lines or lines[0].strip() != "---":
        return 0
    for index in range(1, len(lines)):
        if lines[index].strip() in ("---", "..."):
            try:
                data = yaml.safe_load("\n".join(lines[1:index]))
            except yaml.YAMLError:
                return 0
            return index + 1 if isinstance(data, dict) else 0
    return 0


def _read_markdown(text: str, file: str) -> _Markdown:
    lines = _normalise_newlines(text).split("\n")
    front = _front_matter_length(lines)
    # Blank out the front matter rather than cut it, so token line numbers stay the file's.
    tokens = _MD.parse("\n" * front + "\n".join(lines[front:]))
    blocks: list[_Block] = []
    index = 0
    while index < len(tokens):
        token, last = tokens[index], index
        if token.nesting == 1:
            last = index + 1
            while not (tokens[last].level == token.level and tokens[last].nesting == -1):
                last += 1
        if token.map is not None:
            group = tokens[index : last + 1]
            kind = token.type.removesuffix("_open")
            text_of = ""
            if kind in ("heading", "paragraph"):
                text_of = next((t.content for t in group if t.type == "inline"), "").strip()
            level = int(token.tag[1:]) if kind == "heading" else 0
            blocks.append(_Block(kind, token.map[0], token.map[1], group, level, text_of))
        index = last + 1
    return _Markdown(file, lines, blocks, front)


def _section_end(headings: Sequence[_Block], index: int, end: int) -> int:
    """Where the heading at ``index`` stops: at the next heading of its level or above."""
    level = headings[index].level
    return next((h.start for h in headings[index + 1 :] if h.level <= level), end)


# --- small readers ----------------------------------------------------------------------------


def _name(heading: str) -> str:
    """A section heading as a lookup key: "Acceptance Criteria (ACs)" -> "acceptance criteria"."""
    name = re.sub(r"\(.*?\)", " ", fold(heading.partition(":")[0]))
    return re.sub(r"[^\w]+", " ", name).strip()


class _Label(NamedTuple):
    name: str  # folded: "story points"
    key: str  # as written: "Story Points"
    value: str
    bold: bool


def _label(line: str) -> _Label | None:
    """The ``**Key:** value`` of a line, or its ``Key: value`` when the key is a known one."""
    match = _LABEL.match(line)
    if match is None:
        return None
    plain = match["plain"]
    key = (plain or match["k1"] or match["k2"] or match["k3"]).strip()
    name = _name(key)
    if plain is not None and name not in _PLAIN_LABELS:
        return None
    return _Label(name, key, match["value"].strip(" *_`"), bold=plain is None)


def _key_from_file_name(file: str) -> tuple[str, str] | None:
    """``("1.2", "user-login")`` from ``docs/stories/1.2.user-login.md`` and its kin."""
    name = normalise_digits(PurePosixPath(file.replace("\\", "/")).name)
    for pattern in _FILE_KEYS:
        if match := pattern.match(name):
            return f"{int(match[1])}.{int(match[2])}", match[3] or ""
    return None


def _title_from_slug(slug: str) -> str:
    words = re.sub(r"[-_.]+", " ", slug).strip()
    return words[:1].upper() + words[1:]


def _sort_key(key: str) -> tuple[int, ...]:
    return tuple(int(part) for part in key.split("."))


def _story_status(word: str) -> StoryStatus | None:
    bmad = _BMAD_STORY_STATUS.get(fold(word).strip(" .:*`"))
    return bmad if bmad is not None else lookup(vocabulary.STORY_STATUS, word)


def _checkboxes(tokens: Sequence[Token]) -> list[Checkbox]:
    """The items of a (nested) markdown list, ``[ ]``/``[x]`` read as the done flag."""
    roots: list[Checkbox] = []
    stack: list[Checkbox] = []
    for token in tokens:
        if token.type == "list_item_open":
            box = Checkbox(text="", line=token.map[0] + 1 if token.map else None)
            (stack[-1].subtasks if stack else roots).append(box)
            stack.append(box)
        elif token.type == "list_item_close":
            stack.pop()
        elif token.type == "inline" and stack:
            box = stack[-1]
            if box.text:
                box.text = f"{box.text}\n\n{token.content}"
            else:
                box.text, box.done = _unchecked(token.content)
    return roots


def _unchecked(text: str) -> tuple[str, bool]:
    if match := _CHECK.match(text):
        return text[match.end() :].strip(), match[1] != " "
    return text.strip(), False


def _checklist(
    blocks: Sequence[_Block], *, paragraphs: bool
) -> tuple[list[Checkbox], list[_Block]]:
    """Items from the lists among ``blocks`` (or, with ``paragraphs`` and no list, one item per
    paragraph: Given/When/Then criteria), and the blocks that became no item."""
    has_list = any(b.kind in ("bullet_list", "ordered_list") for b in blocks)
    items: list[Checkbox] = []
    rest: list[_Block] = []
    for block in blocks:
        if block.kind in ("bullet_list", "ordered_list"):
            items.extend(_checkboxes(block.tokens))
        elif block.kind == "paragraph" and paragraphs and not has_list:
            text, done = _unchecked(block.text)
            items.append(Checkbox(text=text, done=done, line=block.start + 1))
        else:
            rest.append(block)
    return items, rest


@dataclass
class _Fields:
    """Metadata lines of one story: the first value of each field wins."""

    file: str
    warnings: list[PlanWarning]
    status: tuple[str, int] | None = None  # the word as written, its 1-based line
    points: int | None = None
    priority: Priority | None = None
    moscow: MoSCoW | None = None

    def take_paragraph(self, md: _Markdown, block: _Block) -> bool:
        """Read the known ``Key: value`` lines of a paragraph; True when that is all it holds."""
        only_fields = True
        for number in range(block.start, block.end):
            label = _label(md.lines[number])
            if label is None or label.name not in _FIELDS:
                only_fields = False
                continue
            self.take(_FIELDS[label.name], label.value, number + 1)
        return only_fields

    def has(self, name: str) -> bool:
        return getattr(self, name) is not None

    def take(self, name: str, value: str, line: int) -> None:
        if name == "status" and self.status is None:
            self.status = (value, line)
        elif name == "points" and self.points is None:
            if digits := re.search(r"\d+", normalise_digits(value)):
                self.points = int(digits[0])
            else:
                self._warn(
                    line,
                    N_("story points %(value)s are not a number; left empty"),
                    value=repr(value),
                )
        elif name == "priority" and self.priority is None:
            self.priority = lookup(vocabulary.PRIORITY, value)
            if self.priority is None:
                self._warn(line, N_("unknown priority %(value)s; left empty"), value=repr(value))
        elif name == "moscow" and self.moscow is None:
            self.moscow = lookup(vocabulary.MOSCOW, value)
            if self.moscow is None:
                self._warn(line, N_("unknown MoSCoW word %(value)s; left empty"), value=repr(value))

    def apply(self, story: StoryDoc) -> None:
        story.points, story.priority, story.moscow = self.points, self.priority, self.moscow
        if self.status is not None:
            word, line = self.status
            story.status = _story_status(word)
            if story.status is None:
                self._warn(line, N_("unknown status %(value)s; left empty"), value=repr(word))

    def _warn(self, line: int, template: str, **params: object) -> None:
        self.warnings.append(
            PlanWarning(self.file, line, template, params=PlanWarning.pack(params))
        )


def _split_title(text: str) -> tuple[str, int | None]:
    """``"User Login (5 pts)"`` -> ``("User Login", 5)``."""
    if match := _TITLE_POINTS.search(normalise_digits(text)):
        return (text[: match.start()] + text[match.end() :]).strip(), int(match[1])
    return text.strip(), None


# --- story files ------------------------------------------------------------------------------


@dataclass
class _StoryRead:
    story: StoryDoc
    status_word: str | None
    status_line: int | None
    titled: bool  # the title came from a heading, not from the file name
    headings: list[str]
    warnings: list[PlanWarning] = field(default_factory=list)


def _read_story(md: _Markdown) -> _StoryRead:
    warnings: list[PlanWarning] = []
    headings = md.headings
    # The "# Story N.M" heading, else the first top heading, else a "## Story N.M" one.
    candidates = [
        *(h for h in headings if h.level == 1 and _story_match(h)),
        *(h for h in headings if h.level == 1),
        *(h for h in headings if _story_match(h)),
    ]
    title_block = candidates[0] if candidates else None
    key: str | None = None
    title = ""
    if title_block is not None:
        title = title_block.text
        if match := _STORY_HEADING.match(normalise_digits(title_block.text)):
            key, title = f"{int(match[1])}.{int(match[2])}", title_block.text[match.start(3) :]
    from_file = _key_from_file_name(md.file)
    if key is None and from_file is not None:
        key = from_file[0]
    elif key is not None and from_file is not None and from_file[0] != key:
        warnings.append(
            PlanWarning.of(
                md.file,
                title_block.start + 1 if title_block else 1,
                N_("the title says Story %(key)s, the file name %(named)s; the title wins"),
                key=key,
                named=from_file[0],
            )
        )
    if key is None:
        raise PlanSyntaxError(
            md.file,
            title_block.start + 1 if title_block else 1,
            N_("expected a '# Story N.M: Title' heading or a file name like 'N.M.slug.md'"),
        )
    title, title_points = _split_title(title)
    titled = bool(title)
    if not title:
        title = _title_from_slug(from_file[1]) if from_file and from_file[1] else f"Story {key}"

    story = StoryDoc(
        key=key,
        title=title,
        phase=int(key.split(".")[0]),
        file=md.file,
        line=title_block.start + 1 if title_block else None,
    )
    fields = _Fields(md.file, warnings, points=title_points)
    notes: list[str] = []
    if md.front_matter:
        notes.append(md.verbatim(0, md.front_matter))
    body_start = md.front_matter
    if title_block is not None:
        notes.append(md.verbatim(md.front_matter, title_block.start))  # e.g. an HTML comment
        body_start = title_block.end
    sections = [
        h for h in headings if h.level <= 2 and h is not title_block and h.start >= body_start
    ]
    ends = [s.start for s in sections[1:]] + [len(md.lines)] if sections else []

    # Between the title and the first section: "Status: drafted", "**Story Points:** 5" ...
    preamble_end = sections[0].start if sections else len(md.lines)
    consumed = [
        b
        for b in md.between(body_start, preamble_end)
        if b.kind == "paragraph" and fields.take_paragraph(md, b)
    ]
    notes.append(md.verbatim(body_start, preamble_end, skip=consumed))

    description: list[str] = []
    for heading, end in zip(sections, ends, strict=True):
        name = _name(heading.text)
        body = md.between(heading.end, end)
        if name in _FIELDS and not fields.has(_FIELDS[name]):
            if not _read_field_section(md, heading, body, fields, _FIELDS[name]):
                notes.append(md.verbatim(heading.start, end))
        elif name in _STORY_NAMES:
            description.append(md.verbatim(heading.end, end))
            for block in body:
                if block.kind == "paragraph":
                    fields.take_paragraph(md, block)
        elif name in _AC_NAMES or name in _TASK_NAMES:
            items, rest = _checklist(body, paragraphs=name in _AC_NAMES)
            (story.acceptance_criteria if name in _AC_NAMES else story.tasks).extend(items)
            if rest:  # prose or sub-headings around the list: keep the whole section
                notes.append(md.verbatim(heading.start, end))
        else:
            notes.append(md.verbatim(heading.start, end))

    story.description = "\n\n".join(d for d in description if d)
    story.notes = "\n\n".join(n for n in notes if n)
    fields.apply(story)
    return _StoryRead(
        story,
        status_word=fields.status[0] if fields.status else None,
        status_line=fields.status[1] if fields.status else None,
        titled=titled,
        headings=[h.text for h in headings],
        warnings=warnings,
    )


def _read_field_section(
    md: _Markdown, heading: _Block, body: list[_Block], fields: _Fields, name: str
) -> bool:
    """Read ``## Status`` (or ``## Status: Draft``, ``## Story Points`` ...); True when the
    section holds nothing but the value."""
    inline = heading.text.partition(":")[2].strip(" *_`")
    if inline:
        fields.take(name, inline, heading.start + 1)
        return not body
    first = next((b for b in body if b.kind == "paragraph"), None)
    if first is None:
        return not body
    line = md.lines[first.start]
    label = _label(line)
    value = label.value if label and _FIELDS.get(label.name) == name else line.strip(" *_`")
    fields.take(name, value, first.start + 1)
    for block in body:
        if block.kind == "paragraph":
            fields.take_paragraph(md, block)
    return body == [first] and first.end - first.start == 1


def parse_story_file(
    text: str, file: str, *, warnings: list[PlanWarning] | None = None
) -> StoryDoc:
    """Read one BMAD story file (``# Story 1.2: Title``, ``## Status``, ``## Story`` ...).

    The key comes from the title or, failing that, from the file name; without either this
    raises :class:`PlanSyntaxError`. What the reader could not map is appended to ``warnings``.
    """
    read = _read_story(_read_markdown(text, file))
    if warnings is not None:
        warnings.extend(read.warnings)
    return read.story


# --- epics documents --------------------------------------------------------------------------


def _epic_match(heading: _Block) -> re.Match[str] | None:
    match = _EPIC_HEADING.match(normalise_digits(heading.text)) if heading.level <= 2 else None
    # "# Epic 1 Retrospective" is a meeting about the epic, not the epic.
    if match is None or fold(match[2]).startswith("retro"):
        return None
    return match


def _story_match(heading: _Block) -> re.Match[str] | None:
    return _STORY_HEADING.match(normalise_digits(heading.text))


def _read_epics(md: _Markdown) -> PlanDocument:
    doc = PlanDocument(file=md.file, headings=[h.text for h in md.headings])
    headings = md.headings
    phases: dict[int, PhaseDoc] = {}
    index = 0
    while index < len(headings):
        heading = headings[index]
        end = _section_end(headings, index, len(md.lines))
        inside = [i for i in range(index + 1, len(headings)) if headings[i].start < end]
        if epic := _epic_match(heading):
            phase = _read_epic(md, heading, epic, [headings[i] for i in inside], end, doc)
            if phase.number in phases:
                doc.warnings.append(
                    PlanWarning.of(
                        md.file,
                        phase.line,
                        N_(
                            "Epic %(epic)s appears twice; the first one's title and description"
                            " are kept"
                        ),
                        epic=phase.number,
                    )
                )
            else:
                phases[phase.number] = phase
        elif story := _story_match(heading):
            _add_story(
                doc, _read_epic_story(md, heading, story, [headings[i] for i in inside], end, doc)
            )
        else:
            index += 1
            continue
        index = inside[-1] + 1 if inside else index + 1
    doc.phases = sorted(phases.values(), key=lambda p: p.number)
    doc.stories.sort(key=lambda s: _sort_key(s.key))
    return doc


def _add_story(doc: PlanDocument, story: StoryDoc) -> None:
    if (first := doc.story(story.key)) is not None:
        doc.warnings.append(
            PlanWarning.of(
                doc.file,
                story.line,
                N_("Story %(key)s appears twice (first at line %(first)s); this one is skipped"),
                key=story.key,
                first=first.line,
            )
        )
    else:
        doc.stories.append(story)


def _read_epic(
    md: _Markdown,
    heading: _Block,
    match: re.Match[str],
    inside: list[_Block],
    end: int,
    doc: PlanDocument,
) -> PhaseDoc:
    number = int(match[1])
    title = heading.text[match.start(2) :].strip() or f"Epic {number}"
    intro_end = inside[0].start if inside else end
    phase = PhaseDoc(
        number=number,
        title=title,
        description=md.verbatim(heading.end, intro_end),
        line=heading.start + 1,
    )
    for block in md.between(heading.end, intro_end):
        if block.kind != "paragraph":
            continue
        for number_of_line in range(block.start, block.end):
            label = _label(md.lines[number_of_line])
            if label is None or not label.bold:
                continue
            phase.meta[label.key] = label.value
            if label.name in ("goal", "epic goal", "goals"):
                phase.goals.append(label.value)
            elif label.name == "status":
                phase.status = lookup({**vocabulary.PHASE_STATUS, **_BMAD_EPIC_STATUS}, label.value)
                if phase.status is None:
                    doc.warnings.append(
                        PlanWarning.of(
                            md.file,
                            number_of_line + 1,
                            N_("unknown epic status %(value)s; left empty"),
                            value=repr(label.value),
                        )
                    )

    notes: list[str] = []
    index = 0
    while index < len(inside):
        sub = inside[index]
        story = _story_match(sub)
        level = sub.level
        stop = next(
            (
                k
                for k in range(index + 1, len(inside))
                if inside[k].level <= level or (story is None and _story_match(inside[k]))
            ),
            len(inside),
        )
        stop_line = inside[stop].start if stop < len(inside) else end
        if story is not None:
            found = _read_epic_story(md, sub, story, inside[index + 1 : stop], stop_line, doc)
            if found.phase != number:
                doc.warnings.append(
                    PlanWarning.of(
                        md.file,
                        found.line,
                        N_(
                            "Story %(key)s sits under Epic %(epic)s; it is filed under epic"
                            " %(filed)s, the number before the dot"
                        ),
                        key=found.key,
                        epic=number,
                        filed=found.phase,
                    )
                )
            _add_story(doc, found)
        else:
            notes.append(md.verbatim(sub.start, stop_line))
        index = stop
    phase.notes = "\n\n".join(n for n in notes if n)
    return phase


def _read_epic_story(
    md: _Markdown,
    heading: _Block,
    match: re.Match[str],
    inside: list[_Block],
    end: int,
    doc: PlanDocument,
) -> StoryDoc:
    """A ``### Story 1.1: Title`` entry: "As a ..." text, then labelled parts
    (``**Acceptance Criteria:**``, ``**Prerequisites:**`` ...) and sub-headings."""
    title, points = _split_title(heading.text[match.start(3) :])
    key = f"{int(match[1])}.{int(match[2])}"
    story = StoryDoc(
        key=key,
        title=title or f"Story {key}",
        phase=int(match[1]),
        file=md.file,
        line=heading.start + 1,
    )
    fields = _Fields(md.file, doc.warnings, points=points)
    intro_end = inside[0].start if inside else end
    description: list[str] = []
    notes: list[str] = []

    # Split the text before the first sub-heading at its label paragraphs.
    parts: list[tuple[str, _Block | None, list[_Block]]] = [("story", None, [])]
    consumed: list[_Block] = []
    for block in md.between(heading.end, intro_end):
        if block.kind == "paragraph" and fields.take_paragraph(md, block):
            consumed.append(block)
            continue
        label = _label(md.lines[block.start]) if block.kind == "paragraph" else None
        if label is not None:
            parts.append((_part_role(label.name), block, []))
        else:
            parts[-1][2].append(block)
    starts = [p[1].start for p in parts[1:] if p[1] is not None] + [intro_end]
    for (role, label_block, blocks), part_end in zip(parts, starts, strict=True):
        part_start = label_block.start if label_block is not None else heading.end
        if role == "story":
            description.append(md.verbatim(part_start, part_end, skip=consumed))
        elif role == "notes":
            notes.append(md.verbatim(part_start, part_end, skip=consumed))
        else:
            items, rest = _checklist(blocks, paragraphs=True)
            if label_block is not None and (criterion := _after_label(label_block)):
                items.insert(0, Checkbox(text=criterion, line=label_block.start + 1))
            story.acceptance_criteria.extend(items)
            if rest:
                notes.append(md.verbatim(part_start, part_end, skip=consumed))

    index = 0
    while index < len(inside):
        sub = inside[index]
        stop = next(
            (k for k in range(index + 1, len(inside)) if inside[k].level <= sub.level), len(inside)
        )
        stop_line = inside[stop].start if stop < len(inside) else end
        name = _name(sub.text)
        if name in _AC_NAMES:
            items, rest = _checklist(md.between(sub.end, stop_line), paragraphs=True)
            story.acceptance_criteria.extend(items)
            if rest:
                notes.append(md.verbatim(sub.start, stop_line))
        elif name in _STORY_NAMES:
            description.append(md.verbatim(sub.end, stop_line))
        else:
            notes.append(md.verbatim(sub.start, stop_line))
        index = stop

    story.description = "\n\n".join(d for d in description if d)
    story.notes = "\n\n".join(n for n in notes if n)
    fields.apply(story)
    return story


def _part_role(label: str) -> str:
    if label in _AC_NAMES:
        return "ac"
    return "story" if label in _STORY_NAMES else "notes"


def _after_label(block: _Block) -> str:
    """What a label paragraph says after its label: ``**Acceptance Criteria:** Given ...``."""
    first, _, rest = block.text.partition("\n")
    label = _label(first)
    return "\n".join(part for part in (label.value if label else "", rest.strip()) if part)


def parse_epics(text: str, file: str) -> PlanDocument:
    """Read an epics document: a phase per ``## Epic N: Title``, a story per ``### Story N.M``."""
    return _read_epics(_read_markdown(text, file))


# --- sprint-status YAML -----------------------------------------------------------------------


@dataclass
class _StatusEntry:
    word: str
    line: int | None
    slug: str = ""


@dataclass
class _SprintStatus:
    file: str
    stories: dict[str, tuple[_StatusEntry, StoryStatus | None]] = field(default_factory=dict)
    epics: dict[int, tuple[_StatusEntry, PhaseStatus | None]] = field(default_factory=dict)
    warnings: list[PlanWarning] = field(default_factory=list)

    def unknown(self, entry: _StatusEntry, key: str, template: str) -> None:
        """A status word the tracker's file uses that plandeck does not know; left empty."""
        self.warnings.append(
            PlanWarning.of(self.file, entry.line, template, value=repr(entry.word), key=key)
        )


def _yaml_lines(root: yaml.Node | None, key: str) -> tuple[int | None, dict[str, int]]:
    """The 1-based line of ``key`` in the top mapping, and of each key of its own mapping."""
    if not isinstance(root, yaml.MappingNode):
        return None, {}
    for key_node, value_node in root.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            lines: dict[str, int] = {}
            if isinstance(value_node, yaml.MappingNode):
                for inner, _ in value_node.value:
                    if isinstance(inner, yaml.ScalarNode):
                        lines[str(inner.value)] = inner.start_mark.line + 1
            return key_node.start_mark.line + 1, lines
    return None, {}


def _read_sprint_status(text: str, file: str) -> _SprintStatus:
    text = _normalise_newlines(text)
    try:
        data: Any = yaml.safe_load(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        line, problem = None, str(exc)
        if isinstance(exc, yaml.MarkedYAMLError):
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else None
            problem = exc.problem or problem
        raise PlanSyntaxError(file, line, f"expected valid YAML ({problem})") from exc
    key_line, lines = _yaml_lines(root, "development_status")
    entries = data.get("development_status", ...) if isinstance(data, dict) else ...
    if entries is None:  # "development_status:" with nothing under it yet
        entries = {}
    if not isinstance(entries, dict):
        raise PlanSyntaxError(
            file,
            key_line or 1,
            N_("expected a 'development_status:' mapping of story keys to statuses"),
        )
    result = _SprintStatus(file)
    for raw_key, raw_value in entries.items():
        name = normalise_digits(str(raw_key)).strip()
        entry = _StatusEntry(
            "" if raw_value is None else str(raw_value).strip(), lines.get(str(raw_key))
        )
        if _YAML_RETRO.match(name):
            continue  # retrospectives have no field of their own
        if epic := _YAML_EPIC.match(name):
            status = lookup({**vocabulary.PHASE_STATUS, **_BMAD_EPIC_STATUS}, entry.word)
            if status is None:
                result.unknown(
                    entry, raw_key, N_("unknown epic status %(value)s for %(key)s; left empty")
                )
            result.epics[int(epic[1])] = (entry, status)
        elif story := _YAML_STORY.match(name):
            entry.slug = story[3] or ""
            story_status = _story_status(entry.word) if entry.word else None
            if story_status is None:
                result.unknown(
                    entry, raw_key, N_("unknown status %(value)s for %(key)s; left empty")
                )
            result.stories[f"{int(story[1])}.{int(story[2])}"] = (entry, story_status)
        else:
            result.warnings.append(
                PlanWarning.of(
                    file,
                    entry.line,
                    N_("%(key)s is no story (N-M-slug) or epic (epic-N) key; skipped"),
                    key=raw_key,
                )
            )
    return result


def parse_sprint_status(
    text: str, file: str, *, warnings: list[PlanWarning] | None = None
) -> dict[str, StoryStatus]:
    """Story statuses of a ``sprint-status.yaml``: ``1-2-account-management: review`` -> ``{"1.2":
    StoryStatus.REVIEW}``. Entries with an unknown status are left out, with a warning."""
    read = _read_sprint_status(text, file)
    if warnings is not None:
        warnings.extend(read.warnings)
    return {key: status for key, (_, status) in read.stories.items() if status is not None}


# --- a whole folder ---------------------------------------------------------------------------

_Kind = Literal["story", "epics", "status", "other"]


def _classify(path: str, text: str) -> tuple[_Kind, _Markdown | None]:
    name = PurePosixPath(path.replace("\\", "/")).name.lower()
    if name.endswith((".yaml", ".yml")):
        is_status = "sprint-status" in name or "sprint_status" in name
        if is_status or re.search(r"^development_status\s*:", text, re.MULTILINE):
            return "status", None
        return "other", None
    if not name.endswith((".md", ".markdown")):
        return "other", None
    md = _read_markdown(text, path)
    headings = md.headings
    # An epic heading alone could be a README's; with stories under it, or in an "epics" file,
    # it is an epics document.
    if any(_epic_match(h) for h in headings) and (
        "epic" in name or any(_story_match(h) for h in headings)
    ):
        return "epics", md
    titled = any(h.level == 1 and _story_match(h) for h in headings)
    if titled or _key_from_file_name(path) is not None:
        return "story", md
    return "other", md


def _folder_name(paths: Sequence[str]) -> str:
    parents = [posixpath.dirname(p.replace("\\", "/")) for p in paths]
    try:
        return posixpath.commonpath(parents) or "."
    except ValueError:  # no paths, or absolute mixed with relative ones
        return "."


def read_bmad_folder(files: dict[str, str]) -> PlanDocument:
    """Read a BMAD folder given as ``{relative path: text}`` into one plan document.

    Story files win over the epics document for a story's title, description, tasks and
    acceptance criteria; neither the story files nor the sprint-status YAML move a story back:
    the more advanced status wins, and a disagreement is a warning. Files of no known kind are
    skipped with a warning. A broken sprint-status YAML or a story file without a key raises
    :class:`PlanSyntaxError`.
    """
    merge = _Merge(PlanDocument(file=_folder_name(list(files))))
    epic_docs: list[PlanDocument] = []
    story_reads: list[_StoryRead] = []
    status_docs: list[_SprintStatus] = []
    for path in sorted(files):
        kind, md = _classify(path, files[path])
        if kind == "epics" and md is not None:
            epic_docs.append(_read_epics(md))
        elif kind == "story" and md is not None:
            story_reads.append(_read_story(md))
        elif kind == "status":
            status_docs.append(_read_sprint_status(files[path], path))
        else:
            merge.warn(path, 1, N_("not a plan document, skipped"))
    # Epics first, story files over them, then the tracker's statuses: the order of the rules.
    for epics in epic_docs:
        merge.add_epics(epics)
    for read in story_reads:
        merge.add_story_file(read)
    for status_doc in status_docs:
        merge.add_sprint_status(status_doc)
    return merge.finish()


@dataclass
class _Merge:
    doc: PlanDocument
    phases: dict[int, PhaseDoc] = field(default_factory=dict)
    stories: dict[str, StoryDoc] = field(default_factory=dict)
    story_files: dict[str, str] = field(default_factory=dict)  # key -> its story file
    # Where each story's current status was said, in its own words: (word, file, 1-based line).
    said: dict[str, tuple[str, str, int | None]] = field(default_factory=dict)
    # Epic number -> (file, entry, status) from sprint-status YAML.
    epic_statuses: dict[int, tuple[str, _StatusEntry, PhaseStatus | None]] = field(
        default_factory=dict
    )

    def warn(self, file: str, line: int | None, template: str, **params: object) -> None:
        self.doc.warnings.append(PlanWarning(file, line, template, params=PlanWarning.pack(params)))

    def add_epics(self, epics: PlanDocument) -> None:
        self.doc.headings.extend(epics.headings)
        self.doc.warnings.extend(epics.warnings)
        for phase in epics.phases:
            if (first := self.phases.get(phase.number)) is not None:
                self.warn(
                    epics.file,
                    phase.line,
                    N_(
                        "Epic %(epic)s is also described at line %(first)s of an earlier"
                        " document; the first is kept"
                    ),
                    epic=phase.number,
                    first=first.line,
                )
            else:
                self.phases[phase.number] = phase
        for story in epics.stories:
            if (known := self.stories.get(story.key)) is not None:
                self.warn(
                    story.file,
                    story.line,
                    N_("Story %(key)s is also in %(other)s; the first is kept"),
                    key=story.key,
                    other=known.file,
                )
            else:
                self.stories[story.key] = story

    def add_story_file(self, read: _StoryRead) -> None:
        self.doc.headings.extend(read.headings)
        self.doc.warnings.extend(read.warnings)
        story = read.story
        if (other := self.story_files.get(story.key)) is not None:
            self.warn(
                story.file,
                story.line or 1,
                N_("Story %(key)s also has the story file %(other)s; this file is skipped"),
                key=story.key,
                other=other,
            )
            return
        self.story_files[story.key] = story.file
        base = self.stories.get(story.key)
        self.stories[story.key] = _overlay(base, read) if base is not None else story
        if read.status_word is not None and story.status is not None:
            self.said[story.key] = (read.status_word, story.file, read.status_line)

    def add_sprint_status(self, status_doc: _SprintStatus) -> None:
        self.doc.warnings.extend(status_doc.warnings)
        for number, (entry, phase_status) in status_doc.epics.items():
            self.epic_statuses[number] = (status_doc.file, entry, phase_status)
        for key, (entry, status) in status_doc.stories.items():
            story = self.stories.get(key)
            if story is None:  # tracked, but neither an epics document nor a file has it yet
                story = self.stories[key] = StoryDoc(
                    key=key,
                    title=_title_from_slug(entry.slug) or f"Story {key}",
                    phase=int(key.split(".")[0]),
                    file=status_doc.file,
                    line=entry.line,
                )
            if status is not None:
                self.merge_status(story, status, entry, status_doc.file)

    def merge_status(
        self, story: StoryDoc, status: StoryStatus, entry: _StatusEntry, file: str
    ) -> None:
        """The more advanced of the story's status and the tracker's wins; never a step back."""
        current = story.status
        if current is None:
            story.status = status
            self.said[story.key] = (entry.word, file, entry.line)
            return
        if current == status:
            return
        word, where, line = self.said.get(story.key, (current.value, story.file, story.line))
        here = f"{where}:{line}" if line else where
        there = f"{file}:{entry.line}" if entry.line else file
        progress = vocabulary.STATUS_PROGRESS
        if progress[status] > progress[current]:
            story.status = status
            self.said[story.key] = (entry.word, file, entry.line)
            self.warn(
                where,
                line,
                N_(
                    "Story %(key)s is %(here)s here but %(there)s in %(other)s; the more"
                    " advanced %(status)s wins"
                ),
                key=story.key,
                here=repr(word),
                there=repr(entry.word),
                other=there,
                status=status.value,
            )
        else:
            self.warn(
                file,
                entry.line,
                N_(
                    "Story %(key)s is %(here)s here but %(there)s in %(other)s; kept"
                    " %(status)s, a status never moves back"
                ),
                key=story.key,
                here=repr(entry.word),
                there=repr(word),
                other=here,
                status=current.value,
            )

    def finish(self) -> PlanDocument:
        stories = sorted(self.stories.values(), key=lambda s: _sort_key(s.key))
        for story in stories:
            if story.phase is not None and story.phase not in self.phases:
                self.phases[story.phase] = PhaseDoc(number=story.phase, title=f"Epic {story.phase}")
                self.warn(
                    story.file,
                    story.line or 1,
                    N_(
                        "no epics document describes epic %(epic)s of Story %(key)s; created"
                        " 'Epic %(epic)s'"
                    ),
                    epic=story.phase,
                    key=story.key,
                )
        for number, (file, entry, phase_status) in sorted(self.epic_statuses.items()):
            phase = self.phases.get(number)
            if phase is None:
                phase = self.phases[number] = PhaseDoc(number=number, title=f"Epic {number}")
                self.warn(
                    file,
                    entry.line,
                    N_("no epics document describes epic %(epic)s; created 'Epic %(epic)s'"),
                    epic=number,
                )
            if phase.status is None:
                phase.status = phase_status
            elif phase_status is not None and phase_status != phase.status:
                self.warn(
                    file,
                    entry.line,
                    N_(
                        "Epic %(epic)s is %(here)s here but %(there)s in its epics document;"
                        " kept %(status)s"
                    ),
                    epic=number,
                    here=repr(entry.word),
                    there=repr(phase.status.value),
                    status=phase.status.value,
                )
        self.doc.phases = sorted(self.phases.values(), key=lambda p: p.number)
        self.doc.stories = stories
        return self.doc


def _overlay(base: StoryDoc, read: _StoryRead) -> StoryDoc:
    """A story of an epics document overlaid with its story file, which wins."""
    story = read.story
    if not read.titled:
        story.title = base.title
    story.description = story.description or base.description
    story.acceptance_criteria = story.acceptance_criteria or base.acceptance_criteria
    story.tasks = story.tasks or base.tasks
    story.notes = "\n\n".join(n for n in (story.notes, base.notes) if n)
    story.points = story.points if story.points is not None else base.points
    story.priority = story.priority if story.priority is not None else base.priority
    story.moscow = story.moscow if story.moscow is not None else base.moscow
    story.status = story.status if story.status is not None else base.status
    return story
