"""Citation lookup: where each sentence of a quote, claim or paragraph comes from.

Kinds, strongest first:

- ``exact``: the sentence occurs verbatim in a source; the citation is that very span;
- ``near-exact``: the same words in the same order up to case, accents, punctuation,
  quote style and spacing; the citation spans those words in the source;

Texts are compared in one Unicode form (NFC for verbatim, NFKC for words), with every span
mapped back to the source as stored: "é" written decomposed (NFD, as macOS writes it) is "é".
- ``paraphrase``: no such span, but the source sentence it aligns with (or two adjacent
  ones it merges) scores at or above the paraphrase threshold (the same 0..1 score as
  answers) and states the same numbers, dates, names, polarity and hedges (rag.answer.claims);
- ``altered``: close to a source sentence but departing from it in one of those ways, or
  a verbatim quote of words the source places under a negation, a hedge or a question;
  the differences list the claim's words against the source's, each saying whether the
  claim replaced, added or dropped words, and the match's verdict says whether the claim
  says something else or only adds a detail (a name, number or date) the source does not state;
- ``unsupported``: nothing scores that high; the nearest sentence is still reported.

Every match carries a one-line reason.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import lru_cache

from rag.answer.claims import (
    Side,
    compare,
    name_evidence,
    name_stems,
    normalised,
    original_span,
    quantities,
    quoted_out_of_context,
    same_amount,
    stem,
    text_stems,
    words,
)
from rag.answer.select import Candidate, SpanReader
from rag.text.sentences import sentence_spans
from rag.text.words import fold
from rag.types import Citation, Difference, Match, MatchKind

_WORD = re.compile(r"[^\W_]+")


@lru_cache(maxsize=4096)
def _words(text: str) -> tuple[tuple[str, int, int], ...]:
    """Folded words of ``text`` (read from its NFKC form) with their character spans in ``text`` (cached)."""
    norm, starts, ends = normalised(text)
    return tuple((fold(m.group(0)), *original_span(starts, ends, m.start(), m.end())) for m in _WORD.finditer(norm))


def find_exact(query: str, text: str) -> tuple[int, int] | None:
    """The span of the first verbatim occurrence of ``query`` in ``text``, the two compared in
    the same Unicode form (NFC): "é" typed as one character or as "e" and an accent is one text."""
    if not query:
        return None
    at = text.find(query)
    if at >= 0:
        return at, at + len(query)
    if query.isascii() and text.isascii():
        return None
    wanted = unicodedata.normalize("NFC", query)
    norm, starts, ends = normalised(text, "NFC")
    at = norm.find(wanted)
    return original_span(starts, ends, at, at + len(wanted)) if at >= 0 else None


def find_near_exact(query: str, text: str) -> tuple[int, int] | None:
    """The span in ``text`` of the words of ``query`` in order, compared folded."""
    wanted = [w for w, _, _ in _words(query)]
    if not wanted:
        return None
    # Most candidates lack one of the words: a substring test over the folded text rules them out
    # before reading its words (benchmarks/real.py --sets mrpc: a fifth of match_sentence's time).
    folded_text = fold(normalised(text)[0])
    if not all(w in folded_text for w in wanted):
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


# Candidates within this much of the best score may be the one a claim is aligned with.
ALIGN_MARGIN = 0.15
# A claim that shares this share of its content words with a source sentence is close to it
# even when the score is below the paraphrase threshold: a difference then makes it altered.
CLOSE_COVERAGE = 0.75
# Sources holding this much less of the claim's words than the best one are not aligned with.
COVERAGE_MARGIN = 0.1
# The neighbour sentence joins the alignment when it adds this much of the claim's words.
MERGE_GAIN = 0.15
# ... or when it holds this many of the claim's words that the sentence lacks (numbers aside:
# "Step 3" must not borrow its 3 from the next step).
MERGE_WORDS = 2


def match_sentence(
    query: str,
    query_start: int,
    candidates: Sequence[Candidate],
    *,
    paraphrase_threshold: float,
    corpus_terms: frozenset[str] = frozenset(),
    read: SpanReader | None = None,
) -> Match:
    """Classify one input sentence against its scored candidates (best first).

    ``corpus_terms`` holds the stems of the sentence's words that occur anywhere in the
    corpus (see ``rag.answer.claims.compare``); ``read`` reads document text, to join a sentence
    with a neighbour that lies outside its passage.
    """
    end = query_start + len(query)
    claim = Side(query, query_start)
    verbatim: tuple[tuple[Callable[[str, str], tuple[int, int] | None], MatchKind], ...] = (
        (find_exact, "exact"),
        (find_near_exact, "near-exact"),
    )
    for finder, kind in verbatim:
        for candidate in candidates:
            span = finder(query, candidate.citation.context)
            if span:
                return _verbatim(claim, kind, candidate.citation, span)
    if not candidates:
        return Match(query, query_start, end, "unsupported", 0.0, None, reason="the index holds no sentence near it")
    # Names of the candidates' passages: capitalised mid-sentence and never in lower case there.
    evidence = [name_evidence(c.citation.context) for c in candidates]
    names = frozenset().union(*(e[0] for e in evidence)) - frozenset().union(*(e[1] for e in evidence))
    aligned, coverage, differences = _align(claim, candidates, names, corpus_terms, read)
    score = aligned.score
    if differences and (score >= paraphrase_threshold or coverage >= CLOSE_COVERAGE):
        return Match(
            query, query_start, end, "altered", score, aligned, differences=differences, reason=_altered(differences)
        )
    if score >= paraphrase_threshold:
        reason = (
            f"no verbatim span; the source scores {score:.2f} (paraphrase threshold {paraphrase_threshold:.2f}) "
            "and states the same numbers, names and polarity"
        )
        return Match(query, query_start, end, "paraphrase", score, aligned, reason=reason)
    reason = f"no source sentence scores {paraphrase_threshold:.2f} or more; the nearest scores {score:.2f}"
    return Match(query, query_start, end, "unsupported", score, None, nearest=aligned, reason=reason)


def _verbatim(claim: Side, kind: MatchKind, found_in: Citation, span: tuple[int, int]) -> Match:
    """An exact or near-exact match, unless the source says the words under a negation or hedge."""
    citation = _narrow(found_in, *span)
    end = claim.offset + len(claim.text)
    first, last = _sentences_around(found_in.context, *span)
    sentence = Side(found_in.context[first:last], found_in.context_start + first)
    out_of_context = tuple(quoted_out_of_context(claim, sentence, span[0] - first, span[1] - first))
    if out_of_context:
        return Match(
            claim.text, claim.offset, end, "altered", 1.0, citation,
            differences=out_of_context, reason=_altered(out_of_context),
        )  # fmt: skip
    reason = (
        "the sentence occurs verbatim in the source"
        if kind == "exact"
        else "the same words in the same order, up to case, accents, punctuation and spacing"
    )
    return Match(claim.text, claim.offset, end, kind, 1.0, citation, reason=reason)


def _sentences_around(text: str, start: int, end: int) -> tuple[int, int]:
    """The span of the sentences of ``text`` that hold ``text[start:end]``."""
    spans = [(a, b) for a, b in sentence_spans(text) if a < end and start < b] or [(start, end)]
    return min(spans[0][0], start), max(spans[-1][1], end)


def _align(
    claim: Side,
    candidates: Sequence[Candidate],
    names: frozenset[str],
    corpus_terms: frozenset[str],
    read: SpanReader | None,
) -> tuple[Citation, float, tuple[Difference, ...]]:
    """The source the claim is about, its share of the claim's content words, and how the claim
    departs from it.

    Each candidate scoring near the best is joined with a neighbour sentence that holds the
    claim's words (a claim may merge two sentences). Of those holding nearly the most of
    the claim's words, one the claim agrees with is preferred (a corpus may hold the same
    sentence with another step number), then the best scored. Coverage is judged on the
    claim's words other than its names, and on all of them.
    """
    # Aligned on what the claim says more than on whom it names: a claim with a swapped name
    # must meet the sentence it was taken from, not another that merely holds the new name.
    every = set(text_stems(claim.text))
    said = every - name_stems(claim.text) or every
    best = candidates[0].citation.score
    order = [stem(w.key) for w in words(claim.text)]
    units = [_extend(c, candidates, every, read, order) for c in candidates if c.citation.score >= best - ALIGN_MARGIN]
    plain = [_coverage(said, u.text) for u in units]
    full = [_coverage(every, u.text) for u in units]
    near = [n for n in range(len(units)) if plain[n] >= max(plain) - COVERAGE_MARGIN]
    near = [n for n in near if full[n] >= max(full) - 2 * COVERAGE_MARGIN] or near
    # A source stating every amount and date the claim states is one it may be about, however
    # it words the rest ("up 4.64 at 1,735.34" for "a gain of 4.64 points at 1,735.34", beside
    # sentences sharing more words and other figures): MRPC's faithful pairs, benchmarks/real.py.
    near += [n for n in range(len(units)) if n not in near and _states_all(claim.text, units[n].text)]

    def compared(n: int) -> tuple[Citation, float, tuple[Difference, ...]]:
        unit = units[n]
        context = Side(unit.context, unit.context_start)
        return unit, full[n], tuple(compare(claim, Side(unit.text, unit.start), context, names, corpus_terms))

    chosen = min((compared(n) for n in near), key=lambda c: (bool(c[2]), -c[0].score, -c[1]))
    if chosen[2] and all(d.kind == "name" and d.change == "added" for d in chosen[2]):
        # The chosen source never names whom the claim names. A better-scored one that does, and
        # agrees with the claim, is the one it is about, though it shares fewer of its other
        # words ("In return we expect North Korea to give up nuclear weapons" for "North Korea
        # would be required to end its nuclear weapons program"). A swapped name replaces one the
        # source holds: that difference is "replaced", never only "added", and keeps its source.
        better = [n for n in range(len(units)) if n not in near and units[n].score > chosen[0].score]
        agreeing = [c for c in map(compared, better) if not c[2]]
        chosen = max(agreeing, key=lambda c: c[0].score, default=chosen)
    return _named_before(claim, chosen, names, corpus_terms, read)


# How far before its passage a source's paragraph is read for whom its pronouns name (characters:
# a few sentences; a passage holds up to four, rag.config.ChunkingConfig).
PRECEDING_CHARS = 600


def _named_before(
    claim: Side,
    chosen: tuple[Citation, float, tuple[Difference, ...]],
    names: frozenset[str],
    corpus_terms: frozenset[str],
    read: SpanReader | None,
) -> tuple[Citation, float, tuple[Difference, ...]]:
    """``chosen`` compared again with the sentences of its paragraph before its passage, when the
    claim adds a name: "Taylor's aides said" for "His aides said" names whom "His" refers to when
    Taylor is named just before, even in the passage before (coreference, not a detail added)."""
    unit, coverage, differences = chosen
    if (
        read is None
        or unit.context_start == 0
        or not any(d.kind == "name" and d.change == "added" for d in differences)
    ):
        return chosen
    start = max(0, unit.context_start - PRECEDING_CHARS)
    before = read(unit.doc_id, start, unit.context_start)
    paragraph = before.rfind("\n\n")
    if paragraph >= 0:
        before, start = before[paragraph + 2 :], start + paragraph + 2
    elif start > 0:  # a sentence cut off at the window's edge: from the next one on
        first = next(iter(sentence_spans(before)), None)
        cut = first[1] if first else len(before)
        before, start = before[cut:], start + cut
    if not before.strip():
        return chosen
    context = Side(before + unit.context, start)
    again = tuple(compare(claim, Side(unit.text, unit.start), context, names, corpus_terms))
    return (unit, coverage, again) if len(again) < len(differences) else chosen


def _states_all(claim: str, text: str) -> bool:
    """Whether ``text`` states every amount and date of ``claim`` (which states at least one)."""
    said = quantities(claim)
    stated = quantities(text)
    return bool(said) and all(any(same_amount(q, s) for s in stated) for q in said)


def _coverage(wanted: set[str], text: str) -> float:
    return len(wanted & text_stems(text)) / len(wanted) if wanted else 0.0


def _extend(
    candidate: Candidate, candidates: Sequence[Candidate], wanted: set[str], read: SpanReader | None, order: list[str]
) -> Citation:
    """The candidate's sentence joined with the sentence before or after it when that one holds
    claim words the sentence lacks (numbers aside: "Step 3" must not borrow its 3 from the next step),
    and the claim says them on that side ("A, and B" joins B before A, not after it).

    ``order`` holds the stems of the claim's words in order.
    """
    unit = candidate.citation
    own = text_stems(unit.text)
    for side, (start, end) in _neighbours(candidate, candidates):
        joined = _join(unit, start, end, read)
        if joined is None:
            continue
        new = (wanted & text_stems(joined.text)) - text_stems(unit.text)
        added = {s for s in new if not s[:1].isdigit()}
        gain = _coverage(wanted, joined.text) - _coverage(wanted, unit.text)
        # A claim number alone never joins a neighbour; with a claim word it does ("... and Step 12 Click Finish").
        if len(added) >= MERGE_WORDS or (added and (gain >= MERGE_GAIN or len(new) > len(added))):
            theirs = text_stems(joined.text[start - joined.start : end - joined.start])
            if _in_order(order, theirs - own, own - theirs, before=side == "before"):
                unit = joined
    return unit


def _in_order(order: list[str], neighbour: frozenset[str], sentence: frozenset[str], *, before: bool) -> bool:
    """Whether the claim says the neighbour's own words on the neighbour's side of the sentence's own words."""
    at_neighbour = [n for n, s in enumerate(order) if s in neighbour]
    at_sentence = [n for n, s in enumerate(order) if s in sentence]
    if not at_neighbour or not at_sentence:
        return True
    return max(at_neighbour) < min(at_sentence) if before else min(at_neighbour) > max(at_sentence)


def _neighbours(candidate: Candidate, candidates: Sequence[Candidate]) -> list[tuple[str, tuple[int, int]]]:
    """Absolute spans of the sentences just before and just after the candidate's: from the
    other candidates, else from its passage."""
    c = candidate.citation
    found = {}
    for other in candidates:
        o = other.citation
        if o.doc_id == c.doc_id and other.paragraph == candidate.paragraph:
            if other.last == candidate.first - 1:
                found["before"] = (o.start, o.end)
            elif other.first == candidate.last + 1:
                found["after"] = (o.start, o.end)
    spans = sentence_spans(c.context)
    inner = c.start - c.context_start
    at = next((i for i, (a, b) in enumerate(spans) if a <= inner < b), None)
    if at is not None and at > 0:
        found.setdefault("before", (c.context_start + spans[at - 1][0], c.context_start + spans[at - 1][1]))
    if at is not None and at + 1 < len(spans):
        found.setdefault("after", (c.context_start + spans[at + 1][0], c.context_start + spans[at + 1][1]))
    return [(side, found[side]) for side in ("before", "after") if side in found]


def _join(citation: Citation, start: int, end: int, read: SpanReader | None) -> Citation | None:
    """The citation widened to cover ``start:end`` of its document (None when that text cannot be read)."""
    first, last = min(citation.start, start), max(citation.end, end)
    if citation.context_start <= first and last <= citation.context_end:
        return replace(
            _narrow(citation, first - citation.context_start, last - citation.context_start), score=citation.score
        )
    if read is None:
        return None
    context_start, context_end = min(first, citation.context_start), max(last, citation.context_end)
    return replace(
        citation,
        text=read(citation.doc_id, first, last),
        start=first,
        end=last,
        context=read(citation.doc_id, context_start, context_end),
        context_start=context_start,
        also_in=(),
    )


def _altered(differences: Sequence[Difference]) -> str:
    """One line: the first difference in words, and how many more there are."""
    first = differences[0]
    if first.kind == "context":
        said = f"quoted out of context: the source says *{first.source_text}* …"
    elif first.source_text and first.claim_text:
        said = f"{first.kind}: the claim says {first.claim_text}, the source says {first.source_text}"
    elif first.claim_text:
        said = f"{first.kind}: the claim adds “{first.claim_text}”, which the source does not say"
    else:
        said = f"{first.kind}: the source says “{first.source_text}”, which the claim leaves out"
    more = len(differences) - 1
    return said + (f" (and {more} more difference{'s' if more > 1 else ''})" if more else "")
