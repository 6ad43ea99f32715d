"""Claim against source sentence: the words where a claim departs from what its source says.

A claim close to a source sentence can still say something else: another number or
year, another name, "not" added or dropped, a clause the source only reports as doubtful
("there is no evidence that ..."), "all" for "some". ``compare`` lists each such
departure as a ``Difference`` holding the claim's words and the source's words with
their spans; ``quoted_out_of_context`` checks a verbatim quote against the words around
it in its source. Both read only the two texts: no model, no index.
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.answer.claim_names import misattributed_names, name_differences, name_evidence, name_runs, name_stems
from rag.answer.claim_opposites import (
    CONDITIONS,
    Cue,
    clause_end,
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
