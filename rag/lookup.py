"""Citation lookup: where each sentence of a quote, claim or paragraph comes from.

Kinds, strongest first:

- ``exact``: the sentence occurs verbatim in a source; the citation is that very span;
- ``near-exact``: the same words in the same order up to case, accents, punctuation,
  quote style and spacing; the citation spans those words in the source;
- ``paraphrase``: no such span, but the best source sentence scores at or above the
  paraphrase threshold (the same 0..1 score as answers) and holds every number the
  input states (a claim of "$90 billion" is not supported by a source saying "$40 billion");
- ``unsupported``: nothing scores that high; the nearest sentence is still reported.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from rag.answer import Candidate
from rag.lexical import fold
from rag.types import Citation, Match

_WORD = re.compile(r"[^\W_]+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def numbers_missing(query: str, source: str) -> list[str]:
    """Numbers stated in ``query`` that ``source`` does not contain ("1,000" matches "1000")."""
    have = {n.replace(",", "") for n in _NUMBER.findall(source)}
    return [n for n in _NUMBER.findall(query) if n.replace(",", "") not in have]


def _words(text: str) -> list[tuple[str, int, int]]:
    """Folded words of ``text`` with their character spans in it."""
    return [(fold(m.group(0)), m.start(), m.end()) for m in _WORD.finditer(text)]


def find_exact(query: str, text: str) -> tuple[int, int] | None:
    """The span of the first verbatim occurrence of ``query`` in ``text``."""
    at = text.find(query)
    return (at, at + len(query)) if query and at >= 0 else None


def find_near_exact(query: str, text: str) -> tuple[int, int] | None:
    """The span in ``text`` of the words of ``query`` in order, compared folded."""
    wanted = [w for w, _, _ in _words(query)]
    if not wanted:
        return None
    words = _words(text)
    folded = [w for w, _, _ in words]
    for i in range(len(words) - len(wanted) + 1):
        if folded[i : i + len(wanted)] == wanted:
            return words[i][1], words[i + len(wanted) - 1][2]
    return None


def _narrow(citation: Citation, start: int, end: int) -> Citation:
    """The citation cut to ``context[start:end]`` (offsets relative to its context)."""
    absolute = citation.context_start + start
    return replace(citation, text=citation.context[start:end], start=absolute, end=absolute + (end - start), also_in=())


def match_sentence(
    query: str,
    query_start: int,
    candidates: Sequence[Candidate],
    *,
    paraphrase_threshold: float,
) -> Match:
    """Classify one input sentence against its scored candidates (best first)."""
    for finder, kind in ((find_exact, "exact"), (find_near_exact, "near-exact")):
        for candidate in candidates:
            span = finder(query, candidate.citation.context)
            if span:
                citation = _narrow(candidate.citation, *span)
                return Match(query, query_start, query_start + len(query), kind, 1.0, citation)
    end = query_start + len(query)
    if not candidates:
        return Match(query, query_start, end, "unsupported", 0.0, None)
    best = candidates[0].citation
    if best.score >= paraphrase_threshold and not numbers_missing(query, best.text):
        return Match(query, query_start, end, "paraphrase", best.score, best)
    return Match(query, query_start, end, "unsupported", best.score, None, nearest=best)
