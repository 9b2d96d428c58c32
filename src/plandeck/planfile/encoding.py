"""Read plan documents from disk and repair text that went through the wrong code page.

Plans written on Windows often reach us as *mojibake*: UTF-8 bytes that were once decoded
as Windows-1254 (or -1252) and saved again as UTF-8, so ``✅`` reads ``âœ…`` and ``وضعیت``
reads ``ÙˆØ¶Ø¹ÛŒØª``. :func:`decode_document` turns the bytes of a file into text and
:func:`repair_text` undoes such damage, reporting every change as a :class:`Repair` with its
line number. Text that is fine (Persian, Arabic, Cyrillic, Greek, Turkish, CJK, emoji,
accented Latin) comes through unchanged.

Which text is repaired
----------------------
The text is scanned for *runs*: maximal stretches of the characters a Windows-1254/1252
decoder makes of the bytes 0x80-0xFF. A UTF-8 sequence never holds an ASCII byte, so a
mojibake character never spans one; ASCII-only lines are skipped at once.

1. A run that ftfy's heuristic (``ftfy.badness.is_bad``) flags is fixed by ftfy
   (``fix_and_explain`` with only the encoding fix switched on: no quote uncurling, no
   normalisation, no HTML unescaping, no line-break, C1-control, ligature, width or 0xA0
   changes). Its fix is kept only if ftfy read the run through Latin-1, Windows-1252 or
   Windows-1254 and then UTF-8: a Mac Roman reading of ``ÈàÜ`` is as likely to be wrong.
2. Once the text holds such mojibake, a run too short for ftfy to judge (``Ùˆ`` for ``و``,
   ``Ú©Ù‡`` for ``که``) is repaired too when its bytes are (damaged) UTF-8 and every letter
   it reads as is in a script the flagged mojibake was in (``ARABIC`` here).

Real Turkish is safe although ``ş ğ İ`` and the dotless i are Windows-1254 letters: their
bytes are not UTF-8 (0xFD, 0xFE), or are a lone lead byte (see below).

Lost bytes
----------
Windows-1254 leaves 0x81, 0x8D, 0x8E, 0x8F, 0x90, 0x9D and 0x9E undefined, and a lossy
round trip drops them. What remains of such a character is a UTF-8 sequence short of a
continuation byte (``ف`` = D9 81 became a lone D9, shown ``Ù``), which no decoder reads.
Where a run's bytes are UTF-8 apart from such gaps, each gap is filled by trying every byte
of ``lost_bytes`` (0x81 and 0x8E by default, the two our plans lose) in every missing
position. At most two bytes of a character may be missing, and one of its continuation
bytes must be left, except for a two-byte character reduced to its lead byte, which is
restored only as a letter of the same script as a letter next to it in the run (a lone
``Ù`` may be real text; ``ÙØ¹Ù„ÛŒ`` is ``فعلی``). Candidates that do not decode, or decode to
an unassigned, private-use, surrogate or control code point, are dropped; the rest are
ranked, and the first wins:

1. the kind of character: a letter (``L*``) or an emoji (an ``So`` symbol of East Asian
   Width ``W`` in the emoji blocks U+2300-U+2BFF and U+1F000-U+1FAFF, less the enclosed
   ideographs U+1F200-U+1F2FF: that is how Unicode marks ``Emoji_Presentation`` there, which
   Python's unicodedata lacks); then other symbols, punctuation, numbers and spaces; then
   combining marks (``M*``) and format characters (``Cf``). So ``ف`` (D9 81) beats the fatha
   ``َ`` (D9 8E), and ``🎯`` (F0 9F 8E AF) the domino tile U+1F06F (F0 9F 81 AF);
2. the script of the text around it: a letter or mark whose script (the first word of its
   Unicode name, e.g. ``ARABIC``, ``KATAKANA``) is that of the nearest letter on either side
   in the run beats one whose script is not;
3. the lower restored byte (0x81 before 0x8E), then the lower byte sequence.

A flagged run with restored bytes is handed back to ftfy as the mojibake it was before the
loss (the lost bytes read as their C1 controls) and kept only if ftfy decodes it the same
way. Every character with lost bytes gets its own :class:`Repair`, naming the candidates and
the rule that chose.

Known limits: two candidates of the same kind and script are told apart by the byte alone,
so a damaged ``😎`` (F0 9F 98 8E) comes back as ``😁`` (…81) and ``ю`` (D1 8E) as the Cyrillic es
(…81); bytes other than ``lost_bytes`` are not restored; ftfy does not flag every remnant
(``â™`` left of ``♎``, ``doÄŸru`` for ``doğru``) and those stay unless rule 2 reaches them;
a space that was once a 0xA0 byte is not restored, nor is mojibake glued to a correct
accented letter (``éâœ…``).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import ftfy
from ftfy import ExplanationStep, TextFixerConfig
from ftfy.badness import is_bad

__all__ = ["LOST_BYTES", "Repair", "RepairResult", "decode_document", "repair_text"]

LOST_BYTES: tuple[int, ...] = (0x81, 0x8E)
"""Bytes tried, in this order, where a character lost a continuation byte."""


@dataclass(frozen=True)
class Repair:
    """One change made to the text; ``line`` is 1-based in the repaired text."""

    line: int
    before: str
    after: str
    note: str


@dataclass(frozen=True)
class RepairResult:
    """The repaired text and every change made to it, in the order of the text."""

    text: str
    repairs: list[Repair]


# ftfy registers the sloppy codecs, which map the bytes Windows leaves undefined to the C1
# controls of the same number, so every byte 0x80-0xFF has a character and back.
_CODECS = (("sloppy-windows-1254", "Windows-1254"), ("sloppy-windows-1252", "Windows-1252"))
_HIGH_BYTES = bytes(range(0x80, 0x100))
_RUN_RE = re.compile(
    "[{}]+".format(
        re.escape("".join(sorted({ch for codec, _ in _CODECS for ch in _HIGH_BYTES.decode(codec)})))
    )
)

# Only the encoding fixes: everything else ftfy can do would change text that is fine.
_FTFY = TextFixerConfig(
    unescape_html=False,
    remove_terminal_escapes=False,
    fix_encoding=True,
    restore_byte_a0=False,  # it turns the real space after a damaged "ğŸ¯" into a 0xA0 byte
    replace_lossy_sequences=False,
    decode_inconsistent_utf8=False,  # it re-enters ftfy with the default settings
    fix_c1_controls=False,
    fix_latin_ligatures=False,
    fix_character_width=False,
    uncurl_quotes=False,
    fix_line_breaks=False,
    fix_surrogates=False,
    remove_control_chars=False,
    normalization=None,
    explain=True,
)

_ACCEPTED_STEPS = frozenset(
    ExplanationStep(action, parameter)
    for action, parameters in (
        ("encode", ("latin-1", "sloppy-windows-1252", "sloppy-windows-1254")),
        ("decode", ("utf-8", "utf-8-variants")),
    )
    for parameter in parameters
)
_BOM = b"\xef\xbb\xbf"
# Bytes where Windows-1254 has Turkish letters (Ğ İ Ş ğ ı ş) and Windows-1252 Icelandic ones.
_TURKISH_BYTES = frozenset(b"\xd0\xdd\xde\xf0\xfd\xfe")
_MAX_LOST_PER_CHAR = 2
_REJECTED_CATEGORIES = frozenset({"Cn", "Co", "Cs", "Cc"})
_RANK_LETTER_OR_EMOJI, _RANK_OTHER, _RANK_MARK = 0, 1, 2


def decode_document(data: bytes) -> RepairResult:
    """Turn a plan file's bytes into repaired text with ``\\n`` line ends.

    A UTF-8 byte order mark is dropped. Bytes that are not UTF-8 are read as Windows-1254 when
    they use one of its Turkish letters and decode, else as Windows-1252 (or sloppily, if
    neither decodes); that choice is reported as a repair on line 1.
    """
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    repairs: list[Repair] = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        text, label = _decode_legacy(data)
        bad = data[error.start : error.end]
        bad_line = data.count(b"\n", 0, error.start) + 1
        repairs.append(
            Repair(
                line=1,
                before=bad.decode("ascii", "backslashreplace"),
                after=bad.decode(_sloppy(label)),
                note=(
                    f"not UTF-8 (byte 0x{bad[0]:02X} on line {bad_line}"
                    f" is invalid): whole document decoded as {label}"
                ),
            )
        )
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    result = repair_text(text)
    return RepairResult(result.text, repairs + result.repairs)


def repair_text(text: str, *, lost_bytes: Sequence[int] = LOST_BYTES) -> RepairResult:
    """Undo Windows-1254/1252 mojibake in ``text``, restoring ``lost_bytes`` where they went
    missing; text that does not look damaged is returned as it is, with no repairs."""
    if any(not 0x80 <= byte <= 0xBF for byte in lost_bytes):
        raise ValueError("lost_bytes must be UTF-8 continuation bytes (0x80-0xBF)")
    if text.isascii():
        return RepairResult(text, [])
    lost = tuple(lost_bytes)
    lines = text.split("\n")
    runs = [
        (index, match)
        for index, line in enumerate(lines)
        if not line.isascii()
        for match in _RUN_RE.finditer(line)
    ]
    fixes = {
        number: fixed
        for number, (_, match) in enumerate(runs)
        if (fixed := _repair_flagged_run(match.group(), lost)) is not None
    }
    if not fixes:
        return RepairResult(text, [])
    scripts = frozenset(
        script for after, _ in fixes.values() for char in after if (script := _script(char))
    )
    for number, (_, match) in enumerate(runs):
        if number not in fixes and (fixed := _repair_unflagged_run(match.group(), lost, scripts)):
            fixes[number] = fixed

    repairs: list[Repair] = []
    pieces: dict[int, list[str]] = {}
    done: dict[int, int] = {}  # how much of each changed line is in its pieces
    for number, (index, match) in enumerate(runs):
        if number not in fixes:
            continue
        after, changes = fixes[number]
        line_pieces = pieces.setdefault(index, [])
        line_pieces += (lines[index][done.get(index, 0) : match.start()], after)
        done[index] = match.end()
        repairs += (Repair(index + 1, before, new, note) for before, new, note in changes)
    for index, line_pieces in pieces.items():
        lines[index] = "".join(line_pieces) + lines[index][done[index] :]
    return RepairResult("\n".join(lines), repairs)


_Change = tuple[str, str, str]  # before, after, note
_Fix = tuple[str, list[_Change]]  # the repaired run and what was changed in it


def _repair_flagged_run(run: str, lost_bytes: tuple[int, ...]) -> _Fix | None:
    """Repair a run that ftfy's heuristic flags as mojibake."""
    if not is_bad(run):
        return None
    reading = _read_utf8(run, lost_bytes)
    # With lost bytes, ftfy must agree once they are back (as the C1 characters they read as).
    if reading is not None and reading.lost and _ftfy_fix(reading.mojibake) == reading.text:
        note = f"{reading.label} mojibake with {_lost_count(run, reading)} restored"
        return reading.text, [(run, reading.text, note), *reading.lost]
    fixed = _ftfy_fix(run)
    if fixed is None or fixed == run:
        return None
    return fixed, [(run, fixed, _describe(run, fixed))]


def _ftfy_fix(text: str) -> str | None:
    """ftfy's fix, if it read the text as UTF-8 gone through Windows-1252/1254 (or Latin-1)."""
    fixed, steps = ftfy.fix_and_explain(text, _FTFY)
    if all(step in _ACCEPTED_STEPS for step in steps or ()):
        return fixed
    return None  # e.g. a Mac Roman reading of "ÈàÜ", which is also a real string


def _repair_unflagged_run(
    run: str, lost_bytes: tuple[int, ...], scripts: frozenset[str]
) -> _Fix | None:
    """Repair a run too short for ftfy to judge (``Ùˆ`` for ``و``) in a text that has
    mojibake elsewhere, if it reads as UTF-8 in a script that mojibake was in."""
    reading = _read_utf8(run, lost_bytes)
    if reading is None or any(
        unicodedata.category(char) in _REJECTED_CATEGORIES
        or ((script := _script(char)) is not None and script not in scripts)
        for char in reading.text
    ):
        return None
    note = f"{reading.label} mojibake, like the rest of the text"
    if reading.lost:
        note += f", with {_lost_count(run, reading)} restored"
    return reading.text, [(run, reading.text, note), *reading.lost]


def _lost_count(run: str, reading: _Reading) -> str:
    count = len(reading.text.encode("utf-8")) - len(run)  # the code page has one byte a char
    return f"{count} lost byte{'s' if count > 1 else ''}"


def _describe(run: str, fixed: str) -> str:
    for codec, label in _CODECS:
        try:
            if run.encode(codec).decode("utf-8") == fixed:
                return f"{label} mojibake"
        except UnicodeError:
            continue
    return "mojibake (Latin-1 read as UTF-8 more than once)"


@dataclass(frozen=True)
class _Group:
    """One UTF-8 character in a run's bytes: where it starts, its length, the bytes found."""

    start: int
    length: int
    found: bytes

    @property
    def missing(self) -> int:
        return self.length - len(self.found)


@dataclass(frozen=True)
class _Reading:
    """A run read back as the UTF-8 it was, lost bytes restored."""

    text: str
    mojibake: str  # the run as it read before bytes were lost
    label: str  # the code page it went through
    lost: list[_Change]  # one per character that had lost bytes


def _read_utf8(run: str, lost_bytes: tuple[int, ...]) -> _Reading | None:
    """The run read as the UTF-8 it once was, or None if its bytes are not (damaged) UTF-8."""
    encoded = _encode(run)
    if encoded is None:
        return None
    data, codec, label = encoded
    groups = _split_utf8(data)
    if groups is None:
        return None
    chars: list[str] = []
    changes: list[_Change] = []
    for index, group in enumerate(groups):
        if not group.missing:
            try:
                chars.append(group.found.decode("utf-8"))
            except UnicodeDecodeError:  # overlong, surrogate or beyond U+10FFFF
                return None
            continue
        lone_lead = len(group.found) == 1
        if group.missing > _MAX_LOST_PER_CHAR or (lone_lead and group.length > 2):
            return None
        candidates = _candidates(group, lost_bytes)
        scripts = _nearby_scripts(chars, groups, index, data)
        ranked = sorted(candidates, key=lambda candidate: _rank(group, candidate, scripts))
        if not ranked or (lone_lead and _script(ranked[0].decode("utf-8")) not in scripts):
            return None  # a lone lead byte could be a real letter: only a same-script letter
        chars.append(ranked[0].decode("utf-8"))
        before = run[group.start : group.start + len(group.found)]
        changes.append((before, chars[-1], _lost_note(group, ranked[0], ranked[1:], scripts)))
    text = "".join(chars)
    return _Reading(text, text.encode("utf-8").decode(codec), label, changes)


def _encode(run: str) -> tuple[bytes, str, str] | None:
    """The run's bytes in the first code page that has all its characters."""
    for codec, label in _CODECS:
        try:
            return run.encode(codec), codec, label
        except UnicodeEncodeError:
            continue
    return None


def _split_utf8(data: bytes) -> list[_Group] | None:
    """Cut ``data`` into UTF-8 characters, allowing continuation bytes to be missing."""
    groups: list[_Group] = []
    position = 0
    while position < len(data):
        lead = data[position]
        if 0xC2 <= lead <= 0xDF:
            length = 2
        elif 0xE0 <= lead <= 0xEF:
            length = 3
        elif 0xF0 <= lead <= 0xF4:
            length = 4
        else:  # a stray continuation byte or one UTF-8 never uses: not UTF-8 at all
            return None
        end = position + 1
        while end < len(data) and end - position < length and 0x80 <= data[end] <= 0xBF:
            end += 1
        groups.append(_Group(position, length, data[position:end]))
        position = end
    return groups


def _candidates(group: _Group, lost_bytes: tuple[int, ...]) -> list[bytes]:
    lead, tail = group.found[0], group.found[1:]
    slots = group.length - 1
    found: set[bytes] = set()
    for gaps in itertools.combinations(range(slots), group.missing):
        for fill in itertools.product(lost_bytes, repeat=group.missing):
            inserted = iter(fill)
            kept = iter(tail)
            body = bytes(next(inserted) if slot in gaps else next(kept) for slot in range(slots))
            candidate = bytes([lead]) + body
            try:
                char = candidate.decode("utf-8")
            except UnicodeDecodeError:
                continue
            if unicodedata.category(char) not in _REJECTED_CATEGORIES:
                found.add(candidate)
    return sorted(found)


def _kind(char: str) -> tuple[int, str]:
    category = unicodedata.category(char)
    if category[0] == "L":
        return _RANK_LETTER_OR_EMOJI, "letter"
    if category == "So" and _is_emoji(char):
        return _RANK_LETTER_OR_EMOJI, "emoji"
    if category[0] == "M":
        return _RANK_MARK, "combining mark"
    if category == "Cf":
        return _RANK_MARK, "format character"
    names = {"S": "symbol", "P": "punctuation", "N": "number", "Z": "space"}
    return _RANK_OTHER, names.get(category[0], "character")


def _is_emoji(char: str) -> bool:
    """Whether a symbol is presented as an emoji: Unicode gives those, and only those among
    the symbols of the emoji blocks, East Asian Width W (Python has no Emoji_Presentation)."""
    code = ord(char)
    in_blocks = 0x2300 <= code <= 0x2BFF or 0x1F000 <= code <= 0x1FAFF
    ideographs = 0x1F200 <= code <= 0x1F2FF  # enclosed CJK: wide as text, not emoji
    return in_blocks and not ideographs and unicodedata.east_asian_width(char) == "W"


def _script(char: str) -> str | None:
    if unicodedata.category(char)[0] not in "LM":
        return None
    name = unicodedata.name(char, "")
    return name.split(" ", 1)[0] or None


def _nearby_scripts(
    before: list[str], groups: list[_Group], index: int, data: bytes
) -> frozenset[str]:
    """The scripts of the nearest letter on each side of ``groups[index]``: read so far
    before it, intact after it."""
    after = (
        data[group.start : group.start + group.length].decode("utf-8", "replace")
        for group in groups[index + 1 :]
        if not group.missing
    )
    scripts: set[str] = set()
    for side in (reversed(before), after):
        for char in side:
            if unicodedata.category(char)[0] == "L":
                if script := _script(char):
                    scripts.add(script)
                break
    return frozenset(scripts)


_Key = tuple[int, int, bytes, bytes]  # kind, foreign script, inserted bytes, whole sequence


def _rank(group: _Group, candidate: bytes, scripts: frozenset[str]) -> _Key:
    char = candidate.decode("utf-8")
    script = _script(char)
    foreign = int(bool(scripts) and script is not None and script not in scripts)
    return _kind(char)[0], foreign, bytes(_inserted_bytes(group, candidate)), candidate


def _lost_note(group: _Group, chosen: bytes, others: list[bytes], scripts: frozenset[str]) -> str:
    inserted = _inserted_bytes(group, chosen)
    restored = " ".join(f"0x{byte:02X}" for byte in inserted)
    head = f"lost byte{'s' if len(inserted) > 1 else ''} {restored} restored: chose {_show(chosen)}"
    if not others:
        return f"{head} (rule: the only candidate that decodes)"
    best = _rank(group, chosen, scripts)
    rivals = ", ".join(
        f"{_show(other)} (rule: {_deciding_rule(chosen, other, best, _rank(group, other, scripts))})"
        for other in others
    )
    return f"{head} over {rivals}"


def _deciding_rule(chosen: bytes, rival: bytes, best: _Key, other: _Key) -> str:
    """Which of the ranking rules put ``chosen`` before ``rival``."""
    if best[0] != other[0]:
        return f"{_kind(chosen.decode('utf-8'))[1]} over {_kind(rival.decode('utf-8'))[1]}"
    if best[1] != other[1]:
        return f"{_script(chosen.decode('utf-8'))} like the text around it"
    return "lower byte" if best[2] != other[2] else "lower byte sequence"


def _inserted_bytes(group: _Group, chosen: bytes) -> list[int]:
    """The bytes of ``chosen`` that ``group.found`` lacks, in order."""
    kept = iter(group.found)
    expected = next(kept)
    inserted: list[int] = []
    for byte in chosen:
        if byte == expected:
            expected = next(kept, -1)
        else:
            inserted.append(byte)
    return inserted


def _show(candidate: bytes) -> str:
    char = candidate.decode("utf-8")
    return f"'{char}' U+{ord(char):04X}"


def _sloppy(label: str) -> str:
    return next(codec for codec, name in _CODECS if name == label)


def _decode_legacy(data: bytes) -> tuple[str, str]:
    """Decode bytes that are not UTF-8 with the Windows code page they most likely used."""
    order = ("cp1254", "cp1252") if _TURKISH_BYTES.intersection(data) else ("cp1252", "cp1254")
    for codec in order:
        try:
            return data.decode(codec), f"Windows-{codec[2:]}"
        except UnicodeDecodeError:
            continue
    label = f"Windows-{order[0][2:]}"  # bytes it leaves undefined read as C1 controls
    return data.decode(_sloppy(label)), label
