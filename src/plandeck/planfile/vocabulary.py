"""Words people write in plans, in English, Persian and Arabic, mapped onto our enums."""

from __future__ import annotations

import re
import unicodedata
from typing import TypeVar

from plandeck.models import MoSCoW, PhaseStatus, Priority, StoryStatus

T = TypeVar("T")

# Persian (U+06F0..) and Arabic-Indic (U+0660..) digits read as ASCII digits.
_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")


def normalise_digits(text: str) -> str:
    return text.translate(_DIGITS)


def fold(text: str) -> str:
    """A comparison key: digits normalised, case and spacing folded, marks and ZWNJ dropped."""
    text = normalise_digits(unicodedata.normalize("NFKC", text))
    text = text.replace("\u200c", "").replace("ي", "ی").replace("ك", "ک")
    return re.sub(r"[\s_\-]+", " ", text).strip().casefold()


STORY_STATUS = {
    # plandeck / sprint plans
    "draft": StoryStatus.DRAFT,
    "approved": StoryStatus.APPROVED,
    "in progress": StoryStatus.IN_PROGRESS,
    "inprogress": StoryStatus.IN_PROGRESS,
    "review": StoryStatus.REVIEW,
    "in review": StoryStatus.REVIEW,
    "done": StoryStatus.DONE,
    "complete": StoryStatus.DONE,
    "completed": StoryStatus.DONE,
    "blocked": StoryStatus.BLOCKED,
    # BMAD sprint-status vocabulary
    "backlog": StoryStatus.DRAFT,
    "drafted": StoryStatus.DRAFT,
    "ready for dev": StoryStatus.APPROVED,
    "ready": StoryStatus.APPROVED,
    "todo": StoryStatus.DRAFT,
    "to do": StoryStatus.DRAFT,
    # Persian / Arabic
    "پیش نویس": StoryStatus.DRAFT,
    "پیشنویس": StoryStatus.DRAFT,
    "تایید شده": StoryStatus.APPROVED,
    "تأیید شده": StoryStatus.APPROVED,
    "در حال انجام": StoryStatus.IN_PROGRESS,
    "بازبینی": StoryStatus.REVIEW,
    "انجام شده": StoryStatus.DONE,
    "تمام شده": StoryStatus.DONE,
    "مسدود": StoryStatus.BLOCKED,
    "مسودة": StoryStatus.DRAFT,
    "قيد التنفيذ": StoryStatus.IN_PROGRESS,
    "مكتمل": StoryStatus.DONE,
}

# How far along a status is; an import never moves a story backwards on this scale.
STATUS_PROGRESS = {
    StoryStatus.DRAFT: 0,
    StoryStatus.APPROVED: 1,
    StoryStatus.BLOCKED: 1,
    StoryStatus.IN_PROGRESS: 2,
    StoryStatus.REVIEW: 3,
    StoryStatus.DONE: 4,
}

PRIORITY = {
    "critical": Priority.CRITICAL,
    "highest": Priority.CRITICAL,
    "p0": Priority.CRITICAL,
    "high": Priority.HIGH,
    "p1": Priority.HIGH,
    "medium": Priority.MEDIUM,
    "normal": Priority.MEDIUM,
    "p2": Priority.MEDIUM,
    "low": Priority.LOW,
    "p3": Priority.LOW,
    "بحرانی": Priority.CRITICAL,
    "حیاتی": Priority.CRITICAL,
    "بالا": Priority.HIGH,
    "زیاد": Priority.HIGH,
    "متوسط": Priority.MEDIUM,
    "پایین": Priority.LOW,
    "کم": Priority.LOW,
    "حرج": Priority.CRITICAL,
    "عالية": Priority.HIGH,
    "عالی": Priority.HIGH,
    "متوسطة": Priority.MEDIUM,
    "منخفضة": Priority.LOW,
}

MOSCOW = {
    "must": MoSCoW.MUST,
    "must have": MoSCoW.MUST,
    "should": MoSCoW.SHOULD,
    "should have": MoSCoW.SHOULD,
    "could": MoSCoW.COULD,
    "could have": MoSCoW.COULD,
    "wont": MoSCoW.WONT,
    "won't": MoSCoW.WONT,
    "won't have": MoSCoW.WONT,
    "wont have": MoSCoW.WONT,
    "will not have": MoSCoW.WONT,
}

PHASE_STATUS = {
    "planning": PhaseStatus.PLANNING,
    "planned": PhaseStatus.PLANNING,
    "active": PhaseStatus.ACTIVE,
    "in progress": PhaseStatus.ACTIVE,
    "complete": PhaseStatus.COMPLETED,
    "completed": PhaseStatus.COMPLETED,
    "done": PhaseStatus.COMPLETED,
    "cancelled": PhaseStatus.CANCELLED,
    "canceled": PhaseStatus.CANCELLED,
}


def lookup(table: dict[str, T], text: str) -> T | None:
    key = fold(text).strip(" .:*`")
    if key in table:
        return table[key]
    # "High Priority", "Status: Done ✅": the first known word wins.
    for word in re.split(r"[\s(),/✅]+", key):
        if word in table:
            return table[word]
    return None
