"""Kinds of question: several questions in one, overviews, why and how.

Pure text work on the question; the pipeline does the searching.

- ``split_parts``: "Which companies did he visit, and what did he say?" is two questions;
  "Huawei and BYD" is one noun phrase, not two questions.
- ``overview_topic``: "What is this article about?", "Summarise the chip fund article".
- ``asks_reason`` and ``gives_reason``: why and how questions, and sentences that state a
  cause or a manner.
"""

from __future__ import annotations

import re
from typing import Literal

from rag.question.followups import FRAGMENT_END, QUANTITY_HOW, words
from rag.text.words import STOPWORDS, tokenize

# --- several questions in one --------------------------------------------------------------------

# A new question starts after "and" / a comma / a semicolon when a wh-word (or an auxiliary
# after a comma) opens it: "..., and what did he say", "... and when was it set up".
_PART_BREAK = re.compile(
    r"\s*(?:\?\s+(?=[A-Z])|;\s*(?:and\s+)?|,\s*(?:and|but)\s+(?=(?:also\s+)?(?:what|which|who|whom|whose|when|where|why|how|"
    r"is|are|was|were|do|does|did|has|have|can|could|will|would)\b)|\s+(?:and|but)\s+(?=(?:also\s+)?(?:what|which|who|"
    r"whom|whose|when|where|why|how)\b))",
    re.IGNORECASE,
)


def split_parts(question: str) -> list[str]:
    """The separate questions of a question that asks several things; one part when it asks one.

    Splits only where a new question opens (a wh-word after "and", an auxiliary after ", and",
    a new sentence after "?"), so "Which companies, Huawei and BYD, ..." stays whole.
    """
    parts, start = [], 0
    for match in _PART_BREAK.finditer(question):
        parts.append(question[start : match.start()] + ("?" if match.group(0).lstrip().startswith("?") else ""))
        start = match.end()
    parts.append(question[start:])
    parts = [FRAGMENT_END.sub("", p).strip() for p in parts]
    parts = [p for p in parts if words(p)]
    if len(parts) < 2:
        return [question]
    out = []
    for part in parts:
        part = re.sub(r"^(?:also)\s+", "", part, flags=re.IGNORECASE)
        out.append(part[:1].upper() + part[1:] + "?")
    return out


# --- overview, why and how ------------------------------------------------------------------------

_OVERVIEW = re.compile(
    r"^\s*(?:(?:so|and|ok|okay),?\s+)?(?:"
    r"what(?:'s|\s+is|\s+are)\s+(?P<a>.+?)\s+(?:all\s+)?about"
    r"|what\s+(?:does|do)\s+(?P<b>.+?)\s+(?:say|cover|discuss|tell\s+(?:me|us))"
    r"|(?:please\s+)?(?:summari[sz]e|sum\s+up|give\s+(?:me\s+)?(?:a|an)\s+(?:summary|overview|gist)\s+of|overview\s+of"
    r"|(?:what\s+is|what's)\s+(?:the\s+)?(?:gist|summary|main\s+point)s?\s+of)\s+(?P<c>.+?)"
    r"|(?:give\s+me\s+)?(?:a|an|the)\s+(?:summary|overview|gist)(?:\s+of\s+(?P<d>.+?))?"
    r"|tl;?dr(?:\s+of\s+(?P<e>.+?))?"
    r")\s*[?.!]*\s*$",
    re.IGNORECASE,
)
# What a question about "this article" or "the documents" calls the text it asks about.
_DOCUMENT_WORDS = frozenset(
    "article articles document documents doc docs text texts story stories piece report reports paper papers "
    "page pages file files source sources corpus collection news post it this these them they".split()
)


def overview_topic(question: str) -> str | None:
    """For a question asking what a document is about, the words naming which document
    ("" for "this article"); None when the question asks something else."""
    match = _OVERVIEW.match(question)
    if match is None:
        return None
    subject = next((g for g in match.groups() if g), "")
    subject_words = [w for w in words(subject) if w.is_word]
    if match.group("a") or match.group("b"):
        # "What is the fund about?" asks about a thing; only a document word makes it an overview.
        if not any(w.lower in _DOCUMENT_WORDS - {"it", "this", "these", "them", "they"} for w in subject_words):
            if not (len(subject_words) == 1 and subject_words[0].lower in ("it", "this")):
                return None
    topic = [w.text for w in subject_words if w.lower not in _DOCUMENT_WORDS and w.lower not in STOPWORDS]
    return " ".join(topic)


_REASON_QUESTION = re.compile(
    r"^\s*(?:and\s+|so\s+|but\s+)?(?:why\b|how\s+come\b|for\s+what\s+reason|what\s+(?:is|was|are|were)\s+the\s+"
    r"(?:reason|cause|purpose|motive)s?)",
    re.IGNORECASE,
)
_MANNER_QUESTION = re.compile(
    r"^\s*(?:and\s+|so\s+|but\s+)?how\s+(?!" + "|".join(sorted(QUANTITY_HOW)) + r"\b)(?:\w+)", re.IGNORECASE
)
# Words and phrases with which a sentence states a cause or a purpose, or a manner.
CAUSE_MARKERS = re.compile(
    r"\b(?:because|due\s+to|owing\s+to|thanks\s+to|as\s+a\s+result|as\s+a\s+consequence|in\s+response|responding\s+to"
    r"|in\s+order\s+to|so\s+that|so\s+as\s+to|the\s+reason|reasons?\s+for|therefore|consequently|hence|thus"
    r"|amid|from\s+the\s+fact\s+that|is\s+why|explains?\s+why|respond(?:s|ed|ing)?\s+(?:to|by)|caused\s+by|result(?:s|ed)?\s+(?:of|from|in)|led\s+to|leads\s+to|driven\s+by|aim(?:s|ed|ing)?\s+to"
    r"|to\s+ensure|to\s+help|since\s+(?:it|they|he|she|the|this|these|its|their)\b)",
    re.IGNORECASE,
)
MANNER_MARKERS = re.compile(
    r"\b(?:by\s+(?:\w+\s+)?\w+ing|by\s+means\s+of|with\s+the\s+help\s+of|in\s+response)\b",
    re.IGNORECASE,
)


def asks_reason(question: str) -> Literal["why", "how"] | None:
    """ "why" for a question asking for a cause or purpose, "how" for one asking for a manner."""
    if _REASON_QUESTION.match(question):
        return "why"
    if _MANNER_QUESTION.match(question):
        return "how"
    return None


def gives_reason(sentence: str, kind: Literal["why", "how"], question: str = "") -> bool:
    """Whether a sentence states a cause (for why) or a manner or means (for how).

    A marker made of the question's own words ("by exchanging" for "... by gauge bosons
    exchange?") repeats the question rather than answering it, and does not count.
    """
    asked = set(tokenize(question))
    for match in (CAUSE_MARKERS if kind == "why" else MANNER_MARKERS).finditer(sentence):
        own = tokenize(match.group(0))
        if not own or not set(own) <= asked:
            return True
    return False
