"""The words inside a quoted sentence that answer the question's type: the amount for "how much",
the date for "when", the name for "who".

Nothing is generated: the spans are offsets into the quote (``text[start:end]`` is shown marked),
found with the same readers of amounts, dates and names that lookup compares claims with
(``rag.answer.claims``). A question of no such type, or a quote without such words, marks nothing.
"""

from __future__ import annotations

import re
from typing import Literal

from rag.answer.claim_names import known_names
from rag.answer.claims import name_runs, quantities, words
from rag.text.words import fold

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


def answer_spans(question: str, text: str, context: str = "") -> list[tuple[int, int]]:
    """The spans of ``text`` (a quoted sentence) holding what ``question`` asks for, in order, not overlapping.

    Amounts are the numbers, money and percentages that are not dates; dates are years, months and
    decades (a run such as "June 2019" joined); names are runs of capitalised words ("Who manages it?"
    marks "China Integrated Circuit Industry Investment Fund"). What the question already gives is
    not its answer, so nothing it holds is marked: no span whose words are all in the question ("2019"
    for "What did the fund do after 2019?"), and no name run holding a name the question gives
    ("Premier Li" and "Li's" for "Which companies did Li Qiang visit?"). A word capitalised only
    because it opens the sentence ("Amid rising tensions, ...") is a name only where ``context`` (the
    quote's passage; the quote itself when not given) capitalises it mid-sentence and never writes it
    in lower case.
    """
    asked = {_bare(w.text) for w in words(question)}
    given = _given_names(question)
    spans: list[tuple[int, int]] = []
    kinds = answer_types(question)
    if "amount" in kinds or "date" in kinds:
        for quantity in quantities(text):
            wanted = "date" if quantity.kind == "date" else "amount"
            if wanted in kinds and quantity.unit not in ("ordinal", "version"):
                spans.append((quantity.start, quantity.end))
    if "name" in kinds:
        names = known_names(words(context or text))
        for run in name_runs(words(text), text):
            if all(w.weak for w in run) and not all(w.key in names for w in run):
                continue  # a sentence's opening word, not shown to be a name
            if not any(_bare(w.text) in given for w in run):
                spans.append((run[0].start, run[-1].end))
    return [span for span in _joined(sorted(spans), text) if not _all_asked(text[span[0] : span[1]], asked)]


# A question's opening word is capitalised because it opens the question, not because it is a name.
_OPENERS = re.compile(
    r"(?:who(?:m|se)?|which|what|when|where|why|how|did|does|do|is|are|was|were|has|have|and|in|on)$", re.I
)


def _bare(word: str) -> str:
    """A word folded, without a possessive ("Li's" and "Li’s" are "li")."""
    return re.sub(r"['’]s$", "", fold(word))


def _given_names(question: str) -> set[str]:
    """The names a question gives: its capitalised words, bar an opening question word ("Which", "When")."""
    found = words(question)
    return {_bare(w.text) for n, w in enumerate(found)
            if w.text[:1].isupper() and not (n == 0 and _OPENERS.match(w.text))}  # fmt: skip


def _all_asked(span: str, asked: set[str]) -> bool:
    """Whether every word of ``span`` is a word of the question (a span without words is not)."""
    found = [_bare(w.text) for w in words(span)]
    return bool(found) and all(word in asked for word in found)


def _joined(spans: list[tuple[int, int]], text: str) -> list[tuple[int, int]]:
    """Overlapping spans merged, and spans apart by only a space or a comma ("June 2019") joined."""
    joined: list[tuple[int, int]] = []
    for start, end in spans:
        if joined and (start <= joined[-1][1] or text[joined[-1][1] : start] in (" ", ", ")):
            joined[-1] = (joined[-1][0], max(end, joined[-1][1]))
        else:
            joined.append((start, end))
    return joined
