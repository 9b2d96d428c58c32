"""Reading a plan from disk: one file or a folder, in whichever format it is written."""

from __future__ import annotations

import re
from pathlib import Path

from plandeck.planfile.document import N_, PlanDocument, PlanSyntaxError, PlanWarning
from plandeck.planfile.encoding import decode_document
from plandeck.planfile.sprint_plan import parse_sprint_plan

_BMAD_STORY = re.compile(r"^#{1,2}\s+Status\s*$", re.M | re.I)
_EPIC = re.compile(r"^#{1,2}\s+Epic\s+[0-9۰-۹٠-٩]+", re.M | re.I)
PLAN_SUFFIXES = {".md", ".markdown", ".yaml", ".yml"}


def _repairs(display: str, data: bytes) -> tuple[str, list[PlanWarning]]:
    result = decode_document(data)
    warnings = [
        PlanWarning.of(
            display,
            repair.line,
            N_("repaired damaged text %(before)s -> %(after)s (%(note)s)"),
            before=repr(repair.before),
            after=repr(repair.after),
            note=repair.note,
        )
        for repair in result.repairs
    ]
    return result.text, warnings


def decode(path: Path, display: str) -> tuple[str, list[PlanWarning]]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PlanSyntaxError(
            display, None, f"cannot read the file: {exc.strerror or exc}"
        ) from None
    return _repairs(display, data)


def is_bmad(name: str, text: str) -> bool:
    return name.endswith((".yaml", ".yml")) or bool(_BMAD_STORY.search(text) or _EPIC.search(text))


def read_path(path: Path) -> PlanDocument:
    """A file or a folder of plan documents as one document."""
    if path.is_dir():
        return read_folder(path)
    text, warnings = decode(path, path.name)
    if is_bmad(path.name, text):
        from plandeck.planfile.bmad import read_bmad_folder

        doc = read_bmad_folder({path.name: text})
    else:
        doc = parse_sprint_plan(text, path.name)
    doc.warnings[:0] = warnings
    return doc


def read_folder(folder: Path) -> PlanDocument:
    files = sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in PLAN_SUFFIXES
    )
    if not files:
        raise PlanSyntaxError(
            str(folder), None, N_("expected plan documents (.md or .yaml files) in the folder")
        )
    texts: dict[str, str] = {}
    warnings: list[PlanWarning] = []
    for file in files:
        name = str(file.relative_to(folder))
        text, repaired = decode(file, name)
        texts[name] = text
        warnings += repaired
    return _read_texts(str(folder), texts, warnings)


def read_uploads(files: dict[str, bytes]) -> PlanDocument:
    """Uploaded documents (name -> bytes), read like a file or a folder of them."""
    if not files:
        raise PlanSyntaxError("upload", None, N_("expected at least one plan document"))
    texts: dict[str, str] = {}
    warnings: list[PlanWarning] = []
    for name, data in sorted(files.items()):
        text, repaired = _repairs(name, data)
        texts[name] = text
        warnings += repaired
    if len(texts) == 1:
        ((name, text),) = texts.items()
        if is_bmad(name, text):
            from plandeck.planfile.bmad import read_bmad_folder

            doc = read_bmad_folder(texts)
        else:
            doc = parse_sprint_plan(text, name)
        doc.warnings[:0] = warnings
        return doc
    return _read_texts("upload", texts, warnings)


def _read_texts(label: str, texts: dict[str, str], warnings: list[PlanWarning]) -> PlanDocument:
    if any(is_bmad(name, text) for name, text in texts.items()):
        from plandeck.planfile.bmad import read_bmad_folder

        doc = read_bmad_folder(texts)
    else:
        doc = PlanDocument(file=label)
        for name, text in texts.items():
            part = parse_sprint_plan(text, name)
            doc.phases += part.phases
            doc.sprints += part.sprints
            doc.stories += part.stories
            doc.headings += part.headings
            doc.warnings += part.warnings
    doc.warnings[:0] = warnings
    return doc
