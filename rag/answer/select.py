"""Hits -> an Answer: cited sentences quoted verbatim, or an abstention that says why."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from rag.config import AnswerConfig
from rag.index.metadata import DocumentHeader, SentenceRecord
from rag.question.focus import describe_missing
from rag.text.language import not_english_reason
from rag.text.words import fold
from rag.types import Answer, Citation, Difference, Hit, Passage, Source, page_number

# Reads document text: (doc_id, start, end) -> document.text[start:end].
SpanReader = Callable[[str, int, int], str]

_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Candidate:
    """A citation together with where its sentence sits, for merging neighbours."""

    citation: Citation
    paragraph: int
    first: int
    last: int


@lru_cache(maxsize=1 << 15)
def text_key(text: str) -> str:
    """The same sentence up to case, accents, quote style and spacing (syndicated copies).

    Cached by text: every question folds its candidates' texts, mostly the same sentences again.
    """
    return _SPACE.sub(" ", fold(text)).strip()


def _no_reader(doc_id: str, start: int, end: int) -> str:
    raise ValueError(f"a quote reaching outside its sentence ({doc_id} {start}:{end}) needs a reader")


def make_candidate(
    hit: Hit,
    record: SentenceRecord,
    passage: Passage,
    header: DocumentHeader,
    antecedent: SentenceRecord | None = None,
    read: SpanReader | None = None,
) -> Candidate:
    """The citation of one scored sentence, its passage as context.

    A sentence that opens by referring back ("It has been characterised as...") is quoted
    together with the sentence it refers to (``antecedent``, read with ``read``): on its
    own the quote would not say what "it" is, and a question that restates it often asks
    exactly that.
    """
    sentence = record.sentence
    opening = antecedent.sentence if antecedent is not None and read is not None else sentence
    read = read if read is not None else _no_reader  # only a quote with its antecedent reads past its sentence
    citation = Citation(
        text=sentence.text if opening is sentence else read(sentence.doc_id, opening.start, sentence.end),
        doc_id=sentence.doc_id,
        title=header.title,
        source=header.source,
        start=opening.start,
        end=sentence.end,
        score=round(hit.score, 4),
        context=passage.text if opening.start >= passage.start else read(sentence.doc_id, opening.start, passage.end),
        context_start=min(passage.start, opening.start),
        url=header.url,
        date=header.date,
        page=page_number(header.pages, sentence.start),
        content_hash=header.content_hash,
        scores={name: round(value, 4) for name, value in hit.scores.items()},
        covered=hit.covered,
        missing=hit.missing,
    )
    return Candidate(citation, sentence.paragraph, opening.position, sentence.position)


def fold_syndicated(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Keep the best-ranked copy of each sentence; list the other documents holding it."""
    kept: dict[str, Candidate] = {}
    for candidate in candidates:
        key = text_key(candidate.citation.text)
        first = kept.get(key)
        if first is None:
            kept[key] = candidate
        elif candidate.citation.doc_id != first.citation.doc_id:
            c = candidate.citation
            also = (*first.citation.also_in, Source(c.doc_id, c.title, c.source, c.start, c.end))
            kept[key] = replace(first, citation=replace(first.citation, also_in=also))
    return list(kept.values())


def _adjacent(a: Candidate, b: Candidate) -> bool:
    """Next to each other, or overlapping (a sentence quoted with the one it refers back to)."""
    return (
        a.citation.doc_id == b.citation.doc_id
        and a.paragraph == b.paragraph
        and a.first <= b.last + 1
        and b.first <= a.last + 1
    )


def _merge(a: Candidate, b: Candidate, read: SpanReader) -> Candidate:
    first, second = (a, b) if a.first < b.first else (b, a)
    x, y = first.citation, second.citation
    start, end = min(x.start, y.start), max(x.end, y.end)
    context_start = min(x.context_start, y.context_start)
    context_end = max(x.context_end, y.context_end)
    merged = replace(
        x,
        text=read(x.doc_id, start, end),
        start=start,
        end=end,
        score=max(x.score, y.score),
        context=read(x.doc_id, context_start, context_end),
        context_start=context_start,
        scores=a.citation.scores if a.citation.score >= b.citation.score else b.citation.scores,
        also_in=(),  # a merged quote is a new span; copies elsewhere were of single sentences
    )
    return Candidate(merged, first.paragraph, min(a.first, b.first), max(a.last, b.last))


def _absorb(quotes: list[Candidate], candidate: Candidate, read: SpanReader) -> list[Candidate]:
    for i, existing in enumerate(quotes):
        if _adjacent(existing, candidate):
            # The joined quote may now touch a third one, so it is absorbed again.
            return _absorb(quotes[:i] + quotes[i + 1 :], _merge(existing, candidate, read), read)
    return [*quotes, candidate]


def merge_adjacent(selected: Sequence[Candidate], read: SpanReader) -> list[Candidate]:
    """Join cited sentences that follow each other in one paragraph into one quote, best first."""
    quotes: list[Candidate] = []
    for candidate in selected:
        quotes = _absorb(quotes, candidate, read)
    return sorted(quotes, key=lambda q: -q.citation.score)


def select_citations(
    candidates: Sequence[Candidate], threshold: float, config: AnswerConfig, k: int
) -> list[Candidate]:
    """Up to ``k`` distinct sentences scoring above the threshold and near the best.

    A sentence that scored with words borrowed from the sentence before it ("This
    initiative...") is judged on its own words when that sentence is cited already.
    """
    if not candidates:
        return []
    floor = max(threshold, candidates[0].citation.score * config.relative_cutoff)
    chosen: list[Candidate] = []
    for candidate in candidates:
        score = candidate.citation.score
        if any(_follows(candidate, c) for c in chosen):
            score = candidate.citation.scores.get("score_alone", score)
        if score >= floor and len(chosen) < k:
            chosen.append(candidate)
    return chosen


def _follows(later: Candidate, earlier: Candidate) -> bool:
    c, e = later.citation, earlier.citation
    # Whether the sentence before ``later``'s own (its last) is part of ``earlier``.
    return (
        c.doc_id == e.doc_id and later.paragraph == earlier.paragraph and earlier.first < later.last <= earlier.last + 1
    )


def decide(
    question: str,
    candidates: Sequence[Candidate],
    *,
    threshold: float,
    k: int,
    config: AnswerConfig,
    read: SpanReader,
    unknown: Callable[[str], bool] | None = None,
    conflicts: Callable[[str, str], Sequence[Difference]] | None = None,
) -> Answer:
    """Answer with the best cited sentences, or abstain when the best one is too weak.

    Args:
        question: The question as asked.
        candidates: Scored sentences, best first.
        threshold: The score below which the answer abstains.
        k: The most citations to give.
        config: Answer settings (the relative cut-off for further citations).
        read: Reads document text for merged quotes.
        unknown: Tells a question term that no searched document holds, for the reason.
        conflicts: Where a sentence states otherwise what the question takes for granted
            (``rag.answer.claims.question_conflicts``), named in the reason when it decides.
    """
    distinct = fold_syndicated(candidates)
    shown = tuple(c.citation for c in distinct[:k])
    if not distinct:
        return Answer(question, True, "the index holds no sentence related to the question", 0.0, threshold, (), ())
    confidence = distinct[0].citation.score
    if confidence < threshold:
        reason = f"the best sentence scored {below(confidence, threshold)}, below the threshold {threshold:.2f}"
        # A question in another language shares no words with English sources: saying so beats listing
        # its stop words as missing.
        lacking = not_english_reason(question) or describe_missing(
            distinct[0].citation.covered, distinct[0].citation.missing, unknown
        )
        reason = f"{lacking}: {reason}" if lacking else reason
        contradiction = _contradiction(question, distinct[0].citation, threshold, conflicts)
        reason = f"{contradiction}; {reason}" if contradiction else reason
        return Answer(question, True, reason, confidence, threshold, (), shown)
    chosen = merge_adjacent(select_citations(distinct, threshold, config, k), read)
    reason = f"best sentence scored {confidence:.2f}, at or above the threshold {threshold:.2f}"
    return Answer(question, False, reason, confidence, threshold, tuple(c.citation for c in chosen), shown)


def _contradiction(
    question: str, best: Citation, threshold: float, conflicts: Callable[[str, str], Sequence[Difference]] | None
) -> str:
    """What the best sentence says against the question, when that alone puts it below the threshold
    (it would score ``scores["score_agreeing"]`` without it); else ""."""
    agreeing = best.scores.get("score_agreeing", 0.0)
    if conflicts is None or not best.scores.get("conflict") or agreeing < threshold:
        return ""
    found = conflicts(question, best.text)
    if not found:
        return ""
    first = found[0]
    if first.source_text:
        said = f"the best sentence says \u201c{first.source_text}\u201d, the question \u201c{first.claim_text}\u201d"
    else:
        said = f"the question says \u201c{first.claim_text}\u201d, which the best sentence does not"
    return f"{said} (it would score {agreeing:.2f} agreeing with the question)"


def below(score: float, threshold: float) -> str:
    """``score`` written with as many decimals as it takes (two to four) not to read as ``threshold``:
    "scored 0.175, below the threshold 0.18", never "scored 0.18, below the threshold 0.18"."""
    for decimals in (2, 3):
        if f"{score:.{decimals}f}" != f"{threshold:.{decimals}f}" and round(score, decimals) < threshold:
            return f"{score:.{decimals}f}"
    return f"{score:.4f}"
