"""Hybrid search: dense and BM25 candidates, then every candidate sentence scored directly.

A sentence's score is the weighted mean of five signals, each between 0 and 1 (an absolute
scale, so one threshold means the same thing for every question):

- ``dense``: cosine between the question and the sentence;
- ``dense_passage``: cosine to the sentence's passage (mean of its sentences' vectors);
- ``lexical``: IDF-weighted share of the question's terms that the sentence holds (a
  sentence opening with "It", "This", "They"... is read with the sentence before it);
- ``lexical_passage``: the same share over the whole passage;
- ``phrase``: the share of the question's adjacent term pairs adjacent in the sentence;

with the passage signals at half weight and the phrase signal at a quarter (context
helps, but the sentence is what gets quoted), plus a small bonus when a "when / how
many" question meets a sentence holding a number the question does not.
The mix follows earlier measurements: word overlap is the strongest selector, dense
similarity recognises off-topic questions, and both work best at sentence level
(``benchmarks/squad.py`` measures the result).

A question (not a lookup) is then scored by the fitted answer model (``rank_question``,
``rag.answer_model``) over those signals and what the sentence holds of the question's focus
(``question_focus``: names, rare words and the kind of answer asked, a date for "when", a
number for "how many"), checked against the sentence by ``focus_coverage``. A sentence that
repeats the question's names but lacks the asked fact is the commonest false answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from rag.answer_model import probability, ranking
from rag.config import RetrievalConfig
from rag.index.dense import DenseSearch, VectorSegments
from rag.index.lexical import LexicalSearch, Weighing, coverage
from rag.index.metadata import MetadataSegments, SentenceRecord
from rag.question.focus import NUMBER, Focus, Vocabulary, focus_coverage, question_focus, vocabulary
from rag.text.words import capitalised_tokens, name_groups, tokenize
from rag.types import Hit, Sentence

WEIGHTS = {"dense": 1.0, "dense_passage": 0.5, "lexical": 1.0, "lexical_passage": 0.5, "phrase": 0.25}
NUMBER_BONUS = 0.03

_WANTS_NUMBER = re.compile(
    r"^\s*(when|what year|which year|in what year"
    r"|how (many|much|long|old|far|large|big|tall|often|fast|high|heavy|deep|wide|hot|cold)"
    r"|what (percentage|percent|date|time|number|amount|age))\b",
    re.IGNORECASE,
)
# "It consists of nine members": such a sentence is about what the sentence before it names.
_REFERS_BACK = re.compile(r"^(?:It|Its|This|These|That|Those|They|Their|He|His|She|Her|Such|Thus)\b")


@dataclass(frozen=True, slots=True)
class Query:
    """A question prepared once for scoring: its vector, its terms and their IDF."""

    text: str
    vector: np.ndarray
    tokens: tuple[str, ...]
    idf: dict[str, float]
    names: tuple[tuple[str, ...], ...]
    bigrams: frozenset[tuple[str, str]]
    wants_number: bool
    focus: Focus = field(default_factory=lambda: Focus())


@dataclass(frozen=True, slots=True)
class SearchIndexes:
    """The structures a search reads, over every segment: vectors, BM25 and metadata."""

    dense: DenseSearch  # DenseSegments here, the shards' merged search on a cluster
    sentence_vectors: VectorSegments
    passage_vectors: VectorSegments
    sentence_lexical: LexicalSearch  # LexicalSegments here, corpus-wide BM25 over shards on a cluster
    passage_lexical: LexicalSearch
    store: MetadataSegments


def prepare_query(text: str, vector: np.ndarray, lexical: LexicalSearch) -> Query:
    tokens = tuple(tokenize(text))
    idf = lexical.idf(tokens)
    return Query(
        text=text,
        vector=np.asarray(vector, dtype=np.float32).reshape(-1),
        tokens=tokens,
        idf=idf,
        names=tuple(name_groups(text)),
        bigrams=bigrams(tokens),
        wants_number=bool(_WANTS_NUMBER.search(text)),
        focus=question_focus(text, idf),
    )


def bigrams(tokens: Sequence[str]) -> frozenset[tuple[str, str]]:
    return frozenset(zip(tokens, tokens[1:], strict=False))


def phrase_overlap(query_bigrams: frozenset[tuple[str, str]], tokens: Sequence[str]) -> float:
    """The share of the question's adjacent term pairs that are adjacent in the sentence too."""
    if not query_bigrams:
        return 0.0
    # The sentence's pairs are only looked up, never collected into a set of their own.
    return len(query_bigrams.intersection(zip(tokens, tokens[1:], strict=False))) / len(query_bigrams)


def candidate_rows(query: Query, indexes: SearchIndexes, config: RetrievalConfig) -> list[int]:
    """Sentence rows worth scoring: dense and BM25 neighbours, and sentences of BM25-best passages."""
    # With their ties: which of tied rows make the cut must not depend on row numbers.
    rows, _ = indexes.dense.search(query.vector, config.candidates, ties=True)
    lexical_rows, _ = indexes.sentence_lexical.search(query.tokens, config.candidates, ties=True)
    passage_rows, _ = indexes.passage_lexical.search(query.tokens, max(1, config.candidates // 3), ties=True)
    found = dict.fromkeys(int(r) for r in np.concatenate([rows, lexical_rows]))
    found.update(dict.fromkeys(indexes.store.rows_of_passages(passage_rows.tolist())))
    return list(found)


def _number_bonus(query: Query, record: SentenceRecord) -> float:
    if not query.wants_number:
        return 0.0
    return NUMBER_BONUS if _numbers_in(record.sentence.text) - _numbers_in(query.text) else 0.0


@lru_cache(maxsize=1 << 15)  # by text: the same sentences come back for many questions
def _numbers_in(text: str) -> frozenset[str]:
    return frozenset(m.group(0).lower() for m in NUMBER.finditer(text))


def antecedents(records: Sequence[SentenceRecord], indexes: SearchIndexes) -> dict[int, SentenceRecord]:
    """For each sentence that opens by referring back, the sentence before it in its paragraph."""
    referring = {r.row: r for r in records if _REFERS_BACK.match(r.sentence.text)}
    before = indexes.store.sentences(row - 1 for row in referring)
    return {
        row: before[row - 1]
        for row, record in referring.items()
        if row - 1 in before
        and before[row - 1].sentence.doc_id == record.sentence.doc_id
        and before[row - 1].sentence.position == record.sentence.position - 1  # not a removed older version
        and before[row - 1].sentence.paragraph == record.sentence.paragraph
    }


_NO_MENTIONS: frozenset[str] = frozenset()


def _lexical(weighing: Weighing, record: SentenceRecord, antecedent: SentenceRecord | None) -> tuple[float, float]:
    """Term coverage of the sentence on its own, and read with its antecedent when it refers back."""
    # The capitalised words are read only when the question names someone (a multi-word name).
    mentions = capitalised_tokens(record.sentence.text) if weighing.groups else _NO_MENTIONS
    own = weighing.share(record.tokens, mentions)
    if antecedent is None:
        return own, own
    tokens = (*antecedent.tokens, *record.tokens)
    if weighing.groups:
        mentions = capitalised_tokens(f"{antecedent.sentence.text} {record.sentence.text}")
    return own, max(own, weighing.share(tokens, mentions))


def score_sentences(
    query: Query,
    records: Sequence[SentenceRecord],
    indexes: SearchIndexes,
    before: dict[int, SentenceRecord] | None = None,
) -> list[Hit]:
    """Score each record on the five signals (``WEIGHTS``) and the number bonus; best first.

    ``before`` maps a referring sentence's row to its antecedent (see ``antecedents``);
    it is looked up when not given.
    """
    if not records:
        return []
    rows = np.fromiter((r.row for r in records), dtype=np.int64, count=len(records))
    passages = np.fromiter((r.passage for r in records), dtype=np.int64, count=len(records))
    # In float64: a matrix product may round two identical rows differently (by where they
    # fall in the kernel's blocks), and a syndicated copy must score exactly as its original.
    query_vector = query.vector.astype(np.float64)
    dense = (indexes.sentence_vectors[rows].astype(np.float64) @ query_vector).tolist()
    dense_passage = (indexes.passage_vectors[passages].astype(np.float64) @ query_vector).tolist()
    passage_tokens = indexes.store.passage_tokens(passages.tolist())
    before = antecedents(records, indexes) if before is None else before
    # The question's terms are weighed once, and each passage measured once however many of
    # its sentences are candidates: the same sums as per sentence, so the same scores.
    weighing = Weighing.of(query.idf, query.names)
    passage_weighing = Weighing.of(query.idf)
    passage_shares = {p: passage_weighing.share(_vocabulary(tokens).tokens) for p, tokens in passage_tokens.items()}
    total_weight = sum(WEIGHTS.values())
    hits = []
    for i, record in enumerate(records):
        own_lexical, lexical = _lexical(weighing, record, before.get(record.row))
        scores = {
            "dense": dense[i],
            "dense_passage": dense_passage[i],
            "lexical": lexical,
            "lexical_passage": passage_shares[record.passage],
            "phrase": phrase_overlap(query.bigrams, record.tokens),
        }
        bonus = _number_bonus(query, record)
        score = sum([WEIGHTS[name] * max(value, 0.0) for name, value in scores.items()]) / total_weight + bonus
        scores["number_bonus"] = bonus
        scores["score"] = score
        if lexical > own_lexical:
            # What the sentence scores without the words it borrows from the one before it,
            # for judging it as a second quote beside that one.
            scores["score_alone"] = score - WEIGHTS["lexical"] * (lexical - own_lexical) / total_weight
            scores["lexical_own"] = own_lexical
        hits.append(Hit(row=record.row, score=score, scores=scores))
    return _ranked(hits, records)


def _ranked(hits: list[Hit], records: Sequence[SentenceRecord]) -> list[Hit]:
    # Ties go by document and position, not by row: rows depend on the order documents
    # were added in, and an updated index must rank as a fresh build of its corpus does.
    # Scores are compared to 9 decimals, so that rounding noise never outranks that order.
    where = {r.row: (r.sentence.doc_id, r.sentence.position) for r in records}
    return sorted(hits, key=lambda h: (-round(h.score, 9), where[h.row]))


def search(
    query: Query, indexes: SearchIndexes, config: RetrievalConfig
) -> tuple[list[Hit], dict[int, SentenceRecord], dict[int, SentenceRecord]]:
    """Ranked sentence hits for a prepared query, the records they refer to, and the antecedents
    of those that refer back (by row; a quote of such a sentence includes its antecedent)."""
    records = indexes.store.sentences(candidate_rows(query, indexes, config))
    before = antecedents(list(records.values()), indexes)
    hits = score_sentences(query, list(records.values()), indexes, before)
    return hits, records, before


def _quoted(record: SentenceRecord, antecedent: SentenceRecord | None) -> tuple[str, tuple[str, ...]]:
    """The text and tokens a quote of ``record`` holds: with its antecedent when it refers back."""
    if antecedent is None:
        return record.sentence.text, record.tokens
    return f"{antecedent.sentence.text} {record.sentence.text}", (*antecedent.tokens, *record.tokens)


class _LazyVocabularies:
    """Each passage's vocabulary, made the first time a sentence of the passage is weighed."""

    def __init__(self, tokens: dict[int, tuple[str, ...]]) -> None:
        self._tokens = tokens
        self._made: dict[int, Vocabulary] = {}

    def get(self, passage: int) -> Vocabulary:
        if passage not in self._made:
            self._made[passage] = _vocabulary(self._tokens.get(passage, ()))
        return self._made[passage]


# By the tokens (the store hands out the same tuple for a passage or sentence it has read before):
# sorting a passage's words was half of weighing a candidate's focus (benchmarks/latency.py).
# A passage's vocabulary takes about 6 kB: at most about 12 MB.
_vocabulary = lru_cache(maxsize=1 << 11)(vocabulary)


@lru_cache(maxsize=1 << 12)
def _title_tokens(title: str) -> tuple[str, ...]:
    return tuple(tokenize(title))


# Sentence length enters the answer model as tokens over this many (capped at 1). Chosen by
# `python benchmarks/fit_ask.py` from 10-80 by mean out-of-fold Hit@1 (SQuAD, WikiQA, INSCIT first
# turns): 40 ranked best (0.728; 30 and 60 0.725, 10 0.714).
LENGTH_SCALE = 40
# Only this many of the best candidates by the retrieval score are scored by the answer model, and
# reading each costs: `python benchmarks/fit_ask.py` chooses the fewest whose out-of-fold Hit@1 equals
# re-scoring all 30 (8, 12, 20 and 30 ranked the same on the public halves; 5 lost INSCIT first turns).
RERANKED = 8

# What the conversation's earlier answers cited, by document: (start, end, answers ago) of each
# citation, 1 for the latest answer (``rank_question`` ranks those sentences by FITTED["cited"]).
CitedSpans = Mapping[str, Sequence[tuple[int, int, int]]]


def rank_question(
    query: Query,
    hits: Sequence[Hit],
    records: dict[int, SentenceRecord],
    before: dict[int, SentenceRecord],
    indexes: SearchIndexes,
    previous_documents: Collection[str] = (),
    limit: int | None = None,
    cited: CitedSpans | None = None,
    conflicts: Callable[[str, str], Sequence[object]] | None = None,
) -> list[Hit]:
    """Each hit scored by the fitted answer model (``rag.answer_model``); best first.

    The model reads the retrieval signals beside what the sentence holds of the question's focus
    (``focus_coverage``: the share of its terms, the kind of answer asked), whether its
    document is one the conversation cited (``previous_documents``) and whether an earlier answer
    cited the sentence itself (``cited``: the order counts it down). Each hit records the
    terms it covers and misses; ``scores["score"]`` is the probability without the conversation
    (the hit's score, its confidence; the order counts the conversation), ``scores["combined"]``
    the retrieval score it was found with. ``conflicts`` lists where a quoted text states otherwise
    what the question takes for granted (``rag.answer.claims.question_conflicts``; the answer stage
    supplies it, this one cannot import it); the best hit that does scores ``conflict`` (the share of
    the question's terms it holds) and is confident the less (``rag.answer_model``),
    ``scores["score_agreeing"]`` keeping what it scored without it.
    """
    if not hits:
        return []
    hits = list(hits)[: max(limit or 0, RERANKED)]  # best first by the retrieval score
    passages = _LazyVocabularies(indexes.store.passage_tokens(sorted({records[h.row].passage for h in hits})))
    previous = frozenset(previous_documents)
    titles = {
        doc_id: coverage(query.idf, _title_tokens(header.title))
        for doc_id, header in indexes.store.headers_for({records[h.row].sentence.doc_id for h in hits}).items()
    }
    scored = []
    quoted: dict[int, str] = {}
    for hit in hits:
        record = records[hit.row]
        text, tokens = _quoted(record, before.get(hit.row))
        quoted[hit.row] = text
        found = focus_coverage(query.focus, query.text, text, _vocabulary(tokens), passages.get(record.passage))
        signals = {
            **hit.scores,
            "number": 1.0 if hit.scores.get("number_bonus", 0.0) > 0 else 0.0,
            "coverage": found.share,
            "type_met": 1.0 if found.type_found is True else 0.0,
            "type_missed": 1.0 if found.type_found is False else 0.0,
            "title": titles.get(record.sentence.doc_id, 0.0),
            "lead": 1.0 if record.sentence.position == 0 else 0.0,
            "length": min(1.0, len(record.tokens) / LENGTH_SCALE),
            "combined": hit.score,
        }
        signals["score"] = probability(signals)
        if "lexical_own" in signals:  # judged on its own words beside the sentence it refers back to
            signals["score_alone"] = probability({**signals, "lexical": signals["lexical_own"]})
        rank = ranking(signals, record.sentence.doc_id in previous, cited_ago=cited_ago(record.sentence, cited))
        scored.append(Hit(hit.row, rank, signals, covered=found.covered, missing=found.missing))
    ranked = _ranked(scored, list(records.values()))[:limit]
    if ranked and conflicts is not None and conflicts(query.text, quoted[ranked[0].row]):
        # Only the best is read (the others' confidence decides nothing, and reading costs): what it
        # contradicts lowers its confidence, not its place. By the share of the question's terms it
        # holds: an edited question restates the sentence it was made from, and against one that
        # shares few of its words a contradiction says less (benchmarks/fit_ask.py, out of fold:
        # in-topic AUROC 0.669 against 0.636 unweighted, off-topic the same).
        best = ranked[0].scores
        best["conflict"], best["score_agreeing"] = best["lexical"], best["score"]
        best["score"] = probability(best)
    return [Hit(h.row, h.scores["score"], h.scores, h.covered, h.missing) for h in ranked]


def cited_ago(sentence: Sentence, cited: CitedSpans | None) -> int | None:
    """How many answers back the conversation last cited ``sentence`` (1: the latest), or None.

    The sentence's own span is compared, not its quote: a sentence quoted with the cited one
    before it ("It ...") was not itself cited.
    """
    spans = cited.get(sentence.doc_id, ()) if cited else ()
    agos = [ago for start, end, ago in spans if start < sentence.end and sentence.start < end]
    return min(agos) if agos else None
