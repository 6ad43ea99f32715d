"""Composing answers: why and how answers that quote the reason, and one answer from several parts.

- ``prefer_reasons``: for a why or how question, the on-topic sentences that state a cause or
  a manner first, quoted with the following sentence when that one gives the reason.
- ``demote_cited``: "Who else?" moves the previous turn's cited sentences last.
- ``merge_parts``: the answers to the parts of a question that asks several things, as one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Literal

from rag.answer.select import Candidate, SpanReader, text_key
from rag.question.followups import Turn
from rag.question.kinds import gives_reason
from rag.types import Answer, Citation

# --- ranking and merging ----------------------------------------------------------------------

# Reads the sentence after a candidate's last one in its paragraph: (text, start, end) or None.
NextSentence = Callable[[Candidate], "tuple[str, int, int] | None"]


def prefer_reasons(
    question: str,
    kind: Literal["why", "how"],
    candidates: Sequence[Candidate],
    threshold: float,
    next_sentence: NextSentence,
    read: SpanReader,
) -> tuple[list[Candidate], list[Candidate]]:
    """For a why or how question, the on-topic sentences that give a cause or manner, first.

    A candidate is on topic when it scores at or above the threshold and holds at least half
    the question-term coverage of the best candidate. One that states the topic and is
    followed in its paragraph by a sentence giving the reason ("X is pushing for Y. Amid
    sanctions, ...") is quoted together with that sentence. When some candidate gives a
    reason, the sentences that outscore it without giving one (they restate the question,
    "X's push for Y is not new") are left out: they do not answer why. Otherwise the order
    is kept.
    """
    if not candidates:
        return [], []
    best_lexical = max(c.citation.scores.get("lexical", 0.0) for c in candidates)
    reasons: list[Candidate] = []
    others: list[Candidate] = []
    for candidate in candidates:
        c = candidate.citation
        on_topic = c.score >= threshold and c.scores.get("lexical", 0.0) >= best_lexical / 2
        if on_topic and gives_reason(c.text, kind, question):
            reasons.append(candidate)
            continue
        following = next_sentence(candidate) if on_topic else None
        if following is not None and gives_reason(following[0], kind, question):
            reasons.append(_extend(candidate, following, read))
            continue
        others.append(candidate)
    if not reasons:
        return list(candidates), list(candidates)
    top = reasons[0].citation.score
    return reasons + others, reasons + [o for o in others if o.citation.score <= top]


def _extend(candidate: Candidate, following: tuple[str, int, int], read: SpanReader) -> Candidate:
    """The candidate quoted together with the sentence after it."""
    c = candidate.citation
    _, _, end = following
    context_end = max(c.context_end, end)
    citation = replace(
        c,
        text=read(c.doc_id, c.start, end),
        end=end,
        context=read(c.doc_id, c.context_start, context_end),
        scores={**c.scores, "reason_follows": 1.0},
        also_in=(),
    )
    return Candidate(citation, candidate.paragraph, candidate.first, candidate.last + 1)


def demote_cited(candidates: Sequence[Candidate], turns: Sequence[Turn]) -> list[Candidate]:
    """The previous turn's cited sentences moved last: "Who else?" asks for another answer."""
    if not turns:
        return list(candidates)
    cited = {text_key(t) for t in turns[-1].cited}
    fresh = [c for c in candidates if text_key(c.citation.text) not in cited]
    return fresh + [c for c in candidates if text_key(c.citation.text) in cited]


def merge_parts(question: str, parts: Sequence[Answer], k: int, threshold: float) -> Answer:
    """One answer to a question of several parts: each part's citations, best first in turn, no repeats.

    An unanswered part is named in the reason; the answer abstains only when no part is answered.
    """
    citations = _interleave([p.citations for p in parts], max(k, len(parts)))
    candidates = _interleave([p.candidates for p in parts], max(k, len(parts)) * 2)
    answered = [p for p in parts if not p.abstained]
    missing = [f"part {n} ({p.question!r}): {p.reason}" for n, p in enumerate(parts, start=1) if p.abstained]
    searched = " | ".join(p.searched_for for p in parts)
    if not answered:
        reason = "no part is answered: " + "; ".join(missing)
        confidence = max(p.confidence for p in parts)
        return Answer(question, True, reason, confidence, threshold, (), candidates, searched, tuple(parts))
    confidence = min(p.confidence for p in answered)
    reason = f"{len(parts)} parts, each answered separately; weakest answered part scored {confidence:.2f}"
    if missing:
        reason += "; not answered: " + "; ".join(missing)
    return Answer(question, False, reason, confidence, threshold, citations, candidates, searched, tuple(parts))


def _interleave(lists: Sequence[Sequence[Citation]], limit: int) -> tuple[Citation, ...]:
    """The first of each list, then the second of each..., skipping spans already taken."""
    taken: list[Citation] = []
    for rank in range(max((len(items) for items in lists), default=0)):
        for items in lists:
            if rank >= len(items):
                continue
            new = items[rank]
            overlapping = [i for i, t in enumerate(taken) if _overlaps(new, t)]
            if not overlapping and len(taken) < limit:
                taken.append(new)
            elif len(overlapping) == 1 and _contains(new, taken[overlapping[0]]):
                # "X is the court. It has nine members." answers more than "X is the court.": keep the longer.
                taken[overlapping[0]] = new
    return tuple(taken)


def _contains(outer: Citation, inner: Citation) -> bool:
    return outer.doc_id == inner.doc_id and outer.start <= inner.start and inner.end <= outer.end


def _overlaps(a: Citation, b: Citation) -> bool:
    return a.doc_id == b.doc_id and a.start < b.end and b.start < a.end
