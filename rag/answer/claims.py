"""Claim against source sentence: the words where a claim departs from what its source says.

A claim close to a source sentence can still say something else: another number or
year, another name, "not" added or dropped, a clause the source only reports as doubtful
("there is no evidence that ..."), "all" for "some". ``compare`` lists each such
departure as a ``Difference`` holding the claim's words and the source's words with
their spans; ``quoted_out_of_context`` checks a verbatim quote against the words around
it in its source. Both read only the two texts: no model, no index.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from rag.answer.claim_names import misattributed_names, name_differences, name_evidence, name_runs, name_stems
from rag.answer.claim_opposites import (
    CONDITIONS,
    NEGATIVE_PREFIXES,
    Cue,
    clause_end,
    has_opposable,
    has_rank,
    hedge_differences,
    hedges,
    negation_differences,
    negations,
    opposite_differences,
    quantifier_differences,
    rank_differences,
)
from rag.answer.claim_words import (
    Side,
    Word,
    normalised,
    number_differences,
    original_span,
    quantities,
    same_amount,
    stem,
    text_stems,
    words,
)
from rag.text.words import fold
from rag.types import Difference

# What other modules read from here; the readers themselves live in rag.answer.claim_words (words,
# numbers, dates), rag.answer.claim_names (names, acronyms, titles) and rag.answer.claim_opposites.
__all__ = [
    "Side",
    "compare",
    "name_evidence",
    "name_runs",
    "name_stems",
    "normalised",
    "original_span",
    "quantities",
    "question_conflicts",
    "quoted_out_of_context",
    "same_amount",
    "stem",
    "text_stems",
    "words",
]


def compare(
    claim: Side,
    source: Side,
    context: Side | None = None,
    names: frozenset[str] = frozenset(),
    corpus_terms: frozenset[str] = frozenset(),
) -> list[Difference]:
    """Where ``claim`` departs from ``source`` (one sentence, or two adjacent ones).

    ``context`` is the passage around the source; a name is missing only when it is
    missing from the context too. ``names`` holds folded words known to be names (seen
    capitalised mid-sentence in the corpus), to tell a name that opens a sentence from
    an ordinary capitalised first word. ``corpus_terms`` holds the stems of the claim's
    words that occur somewhere in the corpus: a name the corpus holds elsewhere, put in a
    claim about a sentence that never mentions it, is a change.
    """
    claim_words, source_words = words(claim.text), words(source.text)
    context_words = words(context.text) if context is not None else []
    found = [
        *number_differences(claim, source, claim_words, source_words),
        *name_differences(claim, source, claim_words, source_words, context_words, names, corpus_terms),
        *misattributed_names(claim, source, claim_words, source_words, names),
        *negation_differences(claim, source, claim_words, source_words),
        *opposite_differences(claim, source, claim_words, source_words),
        *rank_differences(claim, source, claim_words, source_words),
        *hedge_differences(claim, source, claim_words, source_words),
        *quantifier_differences(claim, source, claim_words, source_words),
    ]
    return _one_per_claim_span(sorted(_double_negations(found), key=lambda d: (d.claim_start, d.source_start)))


# How far (characters) a negation may stand before the word it turns: "not very difficult".
NEGATED_REACH = 16


def _double_negations(found: list[Difference]) -> list[Difference]:
    """A negation and an opposite that cancel out: "easy" for "not difficult", "not easy" for "hard"."""
    negated = [d for d in found if d.kind == "negation"]
    for opposite in [d for d in found if d.kind == "opposite"]:
        for negation in negated:
            on_source = negation.source_text and 0 <= opposite.source_start - negation.source_end <= NEGATED_REACH
            on_claim = negation.claim_text and 0 <= opposite.claim_start - negation.claim_end <= NEGATED_REACH
            if on_source or on_claim:
                found = [d for d in found if d is not opposite and d is not negation]
                negated.remove(negation)
                break
    return found


def _one_per_claim_span(found: list[Difference]) -> list[Difference]:
    """One difference per claim word that states something ("third" is a number and a rank):
    the one that names what the source says instead."""
    kept: dict[tuple[int, int], Difference] = {}
    for d in found:
        span = (d.claim_start, d.claim_end)
        if d.claim_text and span in kept:
            if d.source_text and not kept[span].source_text:
                kept[span] = d
            continue
        kept[span if d.claim_text else (d.source_start, -d.source_end)] = d
    return sorted(kept.values(), key=lambda d: (d.claim_start, d.source_start))


# --- a question against the sentence that would answer it ---------------------------------


@lru_cache(maxsize=4096)  # by the pair: a question's candidates are read again for its parts and its rewrite
def question_conflicts(question: str, sentence: str) -> tuple[Difference, ...]:
    """Where ``sentence`` says otherwise than ``question``, read as a claim, takes for granted.

    SQuAD 2.0's crowd workers wrote unanswerable questions by editing answerable ones: another
    number or date, a "not" added, an opposite ("weaker" for "stronger"), another rank. Of what
    ``compare`` finds, only these tell such a question from an answerable one (benchmarks/conflict.py
    on the public half): a number or date the sentence states otherwise (replaced), a negation the
    question adds, an opposite, a rank. Not names (the answer to "who" is a name where the question
    has none), nor an amount or a negation on one side only (answerable questions hold as many).
    Spans are offsets into the two texts.
    """
    asks = _question_cues(question)
    if not any(asks) or _YES_NO.match(question):
        # Most questions hold nothing that can be contradicted this way; and a sentence that says
        # otherwise than a yes-no question ("Is the fund smaller ...?") answers it: no.
        return ()
    amounts, opposable, ranked, negating = asks
    claim, source = Side(question, 0), Side(sentence, 0)
    claim_words, source_words = words(question), words(sentence)
    found = [
        *(number_differences(claim, source, claim_words, source_words) if amounts else ()),
        *(opposite_differences(claim, source, claim_words, source_words) if opposable else ()),
        *(rank_differences(claim, source, claim_words, source_words) if ranked else ()),
    ]
    # Reading negations is most of the cost: only for one the question may add, or one of the
    # sentence's that cancels an opposite ("not weak" for "strong").
    if negating or (any(d.kind == "opposite" for d in found) and _may_negate(sentence)):
        found += negation_differences(claim, source, claim_words, source_words)
    kept = [
        d
        for d in _double_negations(found)
        if (d.change == "replaced" or (d.kind, d.change) == ("negation", "added"))
        and not _same_period(d.claim_text, d.source_text)
        and not (d.kind == "opposite" and _in_names(d, claim_words, source_words))
    ]
    return tuple(_one_per_claim_span(sorted(kept, key=lambda d: (d.claim_start, d.source_start))))


# A question opening with a verb asks whether, not what: "Is the fund smaller than the previous ones?".
_YES_NO = re.compile(
    r"\s*(?:is|are|was|were|am|do|does|did|has|have|had|can|could|will|would|shall|should|may|might|must)\b",
    re.IGNORECASE,
)
# A year, a decade or century in figures ("1880s", "1700's"), or a century by its ordinal ("17th").
_YEAR = re.compile(r"(?:around |about |c\. )?(\d{3,4})")
_DECADE = re.compile(r"(\d{3,4})['\u2019]?s")
_CENTURY = re.compile(r"(\d{1,2})(?:st|nd|rd|th)(?: century)?", re.IGNORECASE)


def _period(text: str) -> tuple[int, int] | None:
    """The years ``text`` spans, when it is a year, a decade or a century; else None."""
    text = text.strip().lower()
    if m := _DECADE.fullmatch(text):
        start = int(m.group(1))
        return (start, start + (99 if start % 100 == 0 else 9))
    if (m := _CENTURY.fullmatch(text)) and 1 <= int(m.group(1)) <= 21:
        return ((int(m.group(1)) - 1) * 100, int(m.group(1)) * 100 - 1)
    if m := _YEAR.fullmatch(text):
        return (int(m.group(1)), int(m.group(1)))
    return None


def _same_period(said: str, stated: str) -> bool:
    """A year inside the decade or century the other text names ("in 1880" / "by the 1880s", "the 17th
    century" / "1624"): the same time told at another grain, not another one (SQuAD's answerable questions)."""
    mine, theirs = _period(said), _period(stated)
    return mine is not None and theirs is not None and mine[0] <= theirs[1] and theirs[0] <= mine[1]


def _in_names(d: Difference, claim_words: Sequence[Word], source_words: Sequence[Word]) -> bool:
    """Whether either word of an opposite is capitalised inside its text, a name's part ("North America")."""
    return any(
        w.capitalised and not w.weak and w.start == start
        for items, start in ((claim_words, d.claim_start), (source_words, d.source_start))
        for w in items
    )


@lru_cache(maxsize=1024)
def _question_cues(question: str) -> tuple[bool, bool, bool, bool]:
    """Whether the question states an amount or date, a word with an opposite, a rank, a negation."""
    items = words(question)
    return bool(quantities(question, items)), has_opposable(items), has_rank(items), _may_negate(question)


@lru_cache(maxsize=4096)
def _may_negate(text: str) -> bool:
    """Whether ``text`` holds a negation or a word that may be one by its prefix ("unchanged")."""
    items = words(text)
    return bool(negations(text, items)) or any(
        w.key.replace("-", "").startswith(NEGATIVE_PREFIXES) and len(w.key) >= 7 for w in items
    )


# --- verbatim quotes in their context ---------------------------------------------------


def quoted_out_of_context(claim: Side, sentence: Side, quote_start: int, quote_end: int) -> list[Difference]:
    """A "context" difference when the source sentence holds the quoted words under a negation,
    a hedge or a question that the quote leaves out.

    ``quote_start:quote_end`` is where the quote lies in ``sentence.text``.
    """
    items = words(sentence.text)
    found = []
    # A hedge governs its clause; a negation the few words after it.
    hedged = [c for c in hedges(sentence.text, items) if _governs(sentence.text, c, quote_start)]
    negated = [c for c in negations(sentence.text, items) if _negates(sentence.text, items, c, quote_start)]
    for cue in (*hedged, *negated):
        if cue.end <= quote_start:
            # The quote leaves out the words that make it the source's: it dropped them.
            found.append(claim.difference(sentence, "context", (0, len(claim.text)), (cue.start, cue.end), "dropped"))
    question = sentence.text.rstrip().endswith("?")
    if question and not claim.text.rstrip().endswith("?"):
        end = len(sentence.text.rstrip())
        found.append(claim.difference(sentence, "context", (0, len(claim.text)), (end - 1, end), "dropped"))
    return found[:1]


def _negates(text: str, items: Sequence[Word], cue: Cue, quote_start: int) -> bool:
    """Whether a negation reaches the quote: at most three words between, or a clause it
    governs ("no one has shown *that* ..."), in one clause."""
    between = [w for w in items if cue.end <= w.start < quote_start]
    complement = len(between) <= 6 and bool(between) and between[-1].key in ("that", "whether", "if")
    return (len(between) <= 3 or complement) and clause_end(text, cue.end, condition=True) >= quote_start


def _governs(text: str, cue: Cue, quote_start: int) -> bool:
    """Whether the cue's clause reaches the quote (no clause break between them)."""
    condition = fold(text[cue.start : cue.end].split()[0]) in CONDITIONS
    return clause_end(text, cue.end, condition=condition) >= quote_start
