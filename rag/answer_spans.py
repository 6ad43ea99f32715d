"""The words inside a quoted sentence that answer the question's type: the amount for "how much",
the date for "when", the name for "who".

Nothing is generated: the spans are offsets into the quote (``text[start:end]`` is shown marked),
found with the same readers of amounts, dates and names that lookup compares claims with
(``rag.claims``). A question of no such type, or a quote without such words, marks nothing.
"""

from __future__ import annotations

import re
from typing import Literal

from rag.claims import name_runs, quantities, words
from rag.words import fold

AnswerType = Literal["amount", "date", "name"]
# What a question asks for, by its question words (one question may ask for several: "How big is
# the fund and when was it set up?").
_TYPES: tuple[tuple[AnswerType, re.Pattern[str]], ...] = (
    ("amount", re.compile(r"\bhow (?:much|many|big|large|high|long|far|old)\b|\bwhat (?:amount|percentage)\b", re.I)),
    ("date", re.compile(r"\bwhen\b|\bwhat (?:year|date|day|month|time)\b|\bin which year\b", re.I)),
    ("name", re.compile(r"\bwho(?:m|se)?\b|\bwhich (?:compan(?:y|ies)|firms?|person|people|countr(?:y|ies))\b", re.I)),
)  # fmt: skip


def answer_types(question: str) -> list[AnswerType]:
    """The kinds of words ``question`` asks for, in the order of ``_TYPES``."""
    return [kind for kind, pattern in _TYPES if pattern.search(question)]


def answer_spans(question: str, text: str) -> list[tuple[int, int]]:
    """The spans of ``text`` (a quoted sentence) holding what ``question`` asks for, in order, not overlapping.

    Amounts are the numbers, money and percentages that are not dates; dates are years, months and
    decades (a run such as "June 2019" joined); names are runs of capitalised words the question
    does not already hold ("Who manages it?" marks "China Integrated Circuit Industry Investment Fund").
    """
    spans: list[tuple[int, int]] = []
    kinds = answer_types(question)
    if "amount" in kinds or "date" in kinds:
        for quantity in quantities(text):
            wanted = "date" if quantity.kind == "date" else "amount"
            if wanted in kinds and quantity.unit not in ("ordinal", "version"):
                spans.append((quantity.start, quantity.end))
    if "name" in kinds:
        asked = {fold(w.text) for w in words(question)}
        for run in name_runs(words(text), text):
            if not all(fold(w.text) in asked for w in run):
                spans.append((run[0].start, run[-1].end))
    return _joined(sorted(spans), text)


def _joined(spans: list[tuple[int, int]], text: str) -> list[tuple[int, int]]:
    """Overlapping spans merged, and spans apart by only a space or a comma ("June 2019") joined."""
    joined: list[tuple[int, int]] = []
    for start, end in spans:
        if joined and (start <= joined[-1][1] or text[joined[-1][1] : start] in (" ", ", ")):
            joined[-1] = (joined[-1][0], max(end, joined[-1][1]))
        else:
            joined.append((start, end))
    return joined
