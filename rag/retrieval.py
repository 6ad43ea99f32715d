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

import bisect
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Literal

import numpy as np

from rag.answer_model import probability, ranking
from rag.config import RetrievalConfig
from rag.dense import DenseSegments, VectorSegments
from rag.index.metadata import MetadataSegments, SentenceRecord
from rag.lexical import LexicalSegments, coverage
from rag.types import Hit
from rag.words import capitalised_tokens, fold, name_groups, tokenize

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
_NUMBER = re.compile(
    r"\d|\b(january|february|march|april|may|june|july|august|september|october|november|december"
    r"|century|hundred|thousand|million|billion|trillion|dozen|one|two|three|four|five|six|seven|eight|nine|ten"
    r"|eleven|twelve|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)\b",
    re.IGNORECASE,
)


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

    dense: DenseSegments
    sentence_vectors: VectorSegments
    passage_vectors: VectorSegments
    sentence_lexical: LexicalSegments
    passage_lexical: LexicalSegments
    store: MetadataSegments


def prepare_query(text: str, vector: np.ndarray, lexical: LexicalSegments) -> Query:
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
    return len(query_bigrams & bigrams(tokens)) / len(query_bigrams)


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
    return frozenset(m.group(0).lower() for m in _NUMBER.finditer(text))


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


def _lexical(query: Query, record: SentenceRecord, antecedent: SentenceRecord | None) -> tuple[float, float]:
    """Term coverage of the sentence on its own, and read with its antecedent when it refers back."""
    own = coverage(query.idf, record.tokens, query.names, capitalised_tokens(record.sentence.text))
    if antecedent is None:
        return own, own
    tokens = (*antecedent.tokens, *record.tokens)
    mentions = capitalised_tokens(f"{antecedent.sentence.text} {record.sentence.text}")
    return own, max(own, coverage(query.idf, tokens, query.names, mentions))


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
    dense = indexes.sentence_vectors[rows].astype(np.float64) @ query_vector
    dense_passage = indexes.passage_vectors[passages].astype(np.float64) @ query_vector
    passage_tokens = indexes.store.passage_tokens(passages.tolist())
    before = antecedents(records, indexes) if before is None else before
    total_weight = sum(WEIGHTS.values())
    hits = []
    for i, record in enumerate(records):
        own_lexical, lexical = _lexical(query, record, before.get(record.row))
        signals = {
            "dense": float(dense[i]),
            "dense_passage": float(dense_passage[i]),
            "lexical": lexical,
            "lexical_passage": coverage(query.idf, passage_tokens[record.passage]),
            "phrase": phrase_overlap(query.bigrams, record.tokens),
        }
        bonus = _number_bonus(query, record)
        score = sum(WEIGHTS[name] * max(value, 0.0) for name, value in signals.items()) / total_weight + bonus
        scores = {**signals, "number_bonus": bonus, "score": score}
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


# What the question asks: the terms it is about and the kind of answer it expects. A sentence
# that repeats the question's names but lacks the asked fact ("When was Huawei founded?"
# against "Li visited Huawei and BYD") is the commonest way a quote answers nothing.

AnswerType = Literal["date", "number", "person", "organisation", "place"]

# Only where a question opens with them (or after a comma or a preposition): "when" inside a
# question ("What happens when ...") is a conjunction, "who" a relative pronoun.
_OPENING = r"(?:^|[,;:]\s*|\b(?:and|but|so|in|on|at|by|to|from|for|since|until|of|with)\s+)"
_ANSWER_TYPES: tuple[tuple[re.Pattern[str], AnswerType, str], ...] = (
    (re.compile(_OPENING + r"(when|(?:what|which) (?:year|date|decade|century|month|day))\b", re.I), "date", "a date"),
    (
        re.compile(
            r"\b(how (?:many|much|long|old|far|large|big|tall|often|fast|high|heavy|deep|wide|hot|cold)"
            r"|what (?:percentage|percent|proportion|share|number|amount|fraction|age|size))\b",
            re.I,
        ),
        "number",
        "a number",
    ),
    (re.compile(_OPENING + r"(who|whom|whose)\b", re.I), "person", "a name"),
    (
        re.compile(
            _OPENING + r"((?:which|what) (?:agency|agencies|company|companies|organi[sz]ations?|firms?|groups?|"
            r"part(?:y|ies)|universit(?:y|ies)|institutions?|newspapers?|banks?|teams?|band|ministry|department))\b",
            re.I,
        ),
        "organisation",
        "a name",
    ),
    (re.compile(_OPENING + r"(where)\b", re.I), "place", "a place"),
)
# Words that say what kind of answer is wanted rather than what it is about.
_FRAME_WORDS = frozenset(tokenize("name names kind type happen happened"))
_WORD = re.compile(r"[^\W_]+(?:[’'][^\W_]+)?")
_YEAR = r"\b(?:1[0-9]{3}|20[0-9]{2})s?\b"
_DATE = re.compile(
    _YEAR + r"|\b(?:january|february|march|april|may|june|july|august|september|october|november|december"
    r"|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|monday|tuesday|wednesday|thursday|friday|saturday|sunday"
    r"|centur(?:y|ies)|decades?|years? ago|ago|today|yesterday|tomorrow|spring|summer|autumn|winter"
    r"|\d+(?:st|nd|rd|th))\b",
    re.IGNORECASE,
)
_MIN_PREFIX = 4
_PUNCTUATION = "\"'“”‘’()[]{},;:!?"


@dataclass(frozen=True, slots=True)
class Term:
    """One thing the question names: its words as the question writes them, their stems, their weight.

    A multi-word name ("Li Qiang") is one term, present where any part of it is mentioned; a
    compound word ("dual-use") is one term, present where all its parts are.
    """

    label: str
    stems: tuple[str, ...]
    weight: float
    name: bool = False

    @property
    def is_multi_word_name(self) -> bool:
        return self.name and " " in self.label


@dataclass(frozen=True, slots=True)
class Focus:
    """What a question is about (``terms``) and the kind of answer it asks for (``answer_type``).

    ``asked`` is the question's own words for the answer type ("when", "how many"); ``expected``
    how a reason names it ("a date").
    """

    terms: tuple[Term, ...] = ()
    answer_type: AnswerType | None = None
    asked: str = ""
    expected: str = ""


@dataclass(frozen=True, slots=True)
class Coverage:
    """Which of the question's terms a sentence holds, and whether it holds the kind of answer asked.

    ``covered`` includes the terms found only in the passage around the sentence (also listed
    in ``in_context``): a quote is shown with its passage.

    ``share`` is the IDF-weighted share of the question's terms found (a term found only in the
    passage around the sentence counts half), with the answer type weighing as a term of mean
    weight; 1.0 when the question names nothing.
    """

    covered: tuple[str, ...]
    missing: tuple[str, ...]
    in_context: tuple[str, ...]
    type_found: bool | None
    share: float


def question_focus(text: str, idf: dict[str, float]) -> Focus:
    """The terms of a question and the kind of answer it expects.

    Args:
        text: The question as asked.
        idf: The IDF of each of its tokens (see :meth:`LexicalSegments.idf`); a term's weight.
    """
    answer_type, asked, expected, frame = None, "", "", frozenset[str]()
    for pattern, kind, description in _ANSWER_TYPES:
        match = pattern.search(text)
        if match:
            answer_type, asked, expected = kind, match.group(1).lower(), description
            # "which agency" asks for an organisation's name, and the agency is still what the
            # question is about; "what year" only asks for a date.
            frame = frozenset(tokenize(match.group(1).split()[0] if kind == "organisation" else match.group(1)))
            break
    excluded = frame | _FRAME_WORDS
    terms: list[Term] = []
    seen: set[str] = set()
    for group in name_groups(text):
        stems = tuple(t for t in group if t not in excluded)
        if stems and not seen.issuperset(stems):
            label = _label(text, stems)
            terms.append(Term(label, stems, max(idf.get(t, 0.0) for t in stems), name=True))
            seen.update(stems)
    for chunk in text.split():
        word = chunk.strip(_PUNCTUATION)  # "U.S." stays whole, "founded?" loses its mark
        stems = tuple(dict.fromkeys(s for s in tokenize(word) if s not in seen and s not in excluded and s in idf))
        if stems:  # a compound ("dual-use") is one term, held where all its parts are
            seen.update(stems)
            terms.append(Term(word, stems, max(idf[s] for s in stems), name=word[:1].isupper()))
    return Focus(tuple(terms), answer_type, asked, expected)


def _label(text: str, stems: tuple[str, ...]) -> str:
    """The question's own words for a name: from the first to the last word holding its stems."""
    words = [m for m in _WORD.finditer(text) if set(tokenize(m.group(0))) & set(stems)]
    return text[words[0].start() : words[-1].end()] if words else " ".join(stems)


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The tokens of a text, as a set and in sorted order (where a stem's longer forms follow it)."""

    tokens: frozenset[str]
    ordered: tuple[str, ...]


def vocabulary(tokens: Sequence[str]) -> Vocabulary:
    held = frozenset(tokens)
    return Vocabulary(held, tuple(sorted(held)))


def _holds(stem: str, words: Vocabulary) -> bool:
    """Whether ``words`` hold ``stem``, or a longer or shorter form of it ("farm" / "farmer")."""
    if stem in words.tokens:
        return True
    if len(stem) < _MIN_PREFIX:
        return False
    if any(stem[:end] in words.tokens for end in range(_MIN_PREFIX, len(stem))):
        return True
    at = bisect.bisect_left(words.ordered, stem)
    return at < len(words.ordered) and words.ordered[at].startswith(stem)


def holds_answer_type(answer_type: AnswerType | None, sentence: str, question: str) -> bool | None:
    """Whether ``sentence`` holds an answer of the kind asked, one the question does not state itself.

    None when the question asks for no particular kind. Dates and numbers are recognised by
    their form; a person, organisation or place by a capitalised word that is not the sentence's first and
    not in the question (a weak check: capitalised words are everywhere).
    """
    if answer_type is None:
        return None
    if answer_type in ("date", "number"):
        return bool(_values(answer_type, sentence) - _values(answer_type, question))
    return bool(_capitalised_after_first(sentence) - _stems(question))


# Cached by text, as ``capitalised_tokens`` is: the same sentences are read for many questions.
@lru_cache(maxsize=1 << 15)
def _values(kind: str, text: str) -> frozenset[str]:
    """The dates (``kind`` "date") or numbers of ``text``, folded."""
    return frozenset(fold(m.group(0)) for m in (_DATE if kind == "date" else _NUMBER).finditer(text))


@lru_cache(maxsize=1 << 15)
def _capitalised_after_first(text: str) -> frozenset[str]:
    """Tokens of the capitalised words of ``text`` but its first (a sentence opens with a capital)."""
    return frozenset(tokenize(" ".join(w for w in _WORD.findall(text)[1:] if w[:1].isupper())))


@lru_cache(maxsize=1 << 12)
def _stems(text: str) -> frozenset[str]:
    return frozenset(tokenize(text))


def focus_coverage(
    focus: Focus,
    question: str,
    text: str,
    tokens: Sequence[str] | Vocabulary,
    context_tokens: Sequence[str] | Vocabulary = (),
) -> Coverage:
    """Which of the question's terms the sentence ``text`` (with ``tokens``) covers.

    Args:
        focus: The question's focus (``question_focus``).
        question: The question as asked (its own numbers do not answer it).
        text: The sentence, read with the sentence before it when it refers back.
        tokens: Its tokens.
        context_tokens: Tokens of the passage around it: a term found only there counts half.
    """
    held = tokens if isinstance(tokens, Vocabulary) else vocabulary(tokens)
    around = context_tokens if isinstance(context_tokens, Vocabulary) else vocabulary(context_tokens)
    names = any(term.is_multi_word_name for term in focus.terms)
    mentions = capitalised_tokens(text) if names else frozenset()
    covered, missing, in_context = [], [], []
    total = found = 0.0
    for term in focus.terms:
        total += term.weight
        if term.is_multi_word_name:
            present = any(s in mentions or s in held.tokens for s in term.stems)
        else:
            present = all(_holds(s, held) for s in term.stems)
        in_passage = not present and all(_holds(s, around) for s in term.stems)
        found += term.weight * (1.0 if present else 0.5 if in_passage else 0.0)
        if present:
            covered.append(term.label)
        elif in_passage:  # covered, by the passage shown around the quote
            covered.append(term.label)
            in_context.append(term.label)
        else:
            missing.append(term.label)
    type_found = holds_answer_type(focus.answer_type, text, question)
    if type_found is not None:
        weight = total / len(focus.terms) if focus.terms else 1.0
        total += weight
        found += weight if type_found else 0.0
        (covered if type_found else missing).append(f"{focus.expected} for “{focus.asked}”")
    share = found / total if total > 0 else 1.0
    return Coverage(tuple(covered), tuple(missing), tuple(in_context), type_found, share)


def _quoted(record: SentenceRecord, antecedent: SentenceRecord | None) -> tuple[str, tuple[str, ...]]:
    """The text and tokens a quote of ``record`` holds: with its antecedent when it refers back."""
    if antecedent is None:
        return record.sentence.text, record.tokens
    return f"{antecedent.sentence.text} {record.sentence.text}", (*antecedent.tokens, *record.tokens)


class _LazyVocabularies:
    """Each passage's vocabulary, made the first time a sentence of the passage is weighed."""

    def __init__(self, tokens: dict[int, list[str]]) -> None:
        self._tokens, self._made = tokens, {}

    def get(self, passage: int) -> Vocabulary:
        if passage not in self._made:
            self._made[passage] = vocabulary(self._tokens.get(passage, ()))
        return self._made[passage]


# Sentence length enters the answer model as tokens over this many (capped at 1).
LENGTH_SCALE = 40
# Only this many of the best candidates by the retrieval score are scored by the answer model:
# on the real question sets the model's choice never came from further down at 8 or more
# (`python benchmarks/fit_ask.py` prints Hit@1 by this pool size), and reading each costs.
RERANKED = 12


def rank_question(
    query: Query,
    hits: Sequence[Hit],
    records: dict[int, SentenceRecord],
    before: dict[int, SentenceRecord],
    indexes: SearchIndexes,
    previous_documents: Collection[str] = (),
    limit: int | None = None,
) -> list[Hit]:
    """Each hit scored by the fitted answer model (``rag.answer_model``); best first.

    The model reads the retrieval signals beside what the sentence holds of the question's focus
    (``focus_coverage``: the share of its terms, the kind of answer asked) and whether its
    document is one the previous answer cited (``previous_documents``). Each hit records the
    terms it covers and misses; ``scores["score"]`` is the probability without the conversation
    (the hit's score, its confidence; the order counts the conversation), ``scores["combined"]``
    the retrieval score it was found with.
    """
    if not hits:
        return []
    hits = list(hits)[: max(limit or 0, RERANKED)]  # best first by the retrieval score
    passages = _LazyVocabularies(indexes.store.passage_tokens(sorted({records[h.row].passage for h in hits})))
    previous = frozenset(previous_documents)
    titles = {
        doc_id: coverage(query.idf, tokenize(header.title))
        for doc_id, header in indexes.store.headers_for({records[h.row].sentence.doc_id for h in hits}).items()
    }
    scored = []
    for hit in hits:
        record = records[hit.row]
        text, tokens = _quoted(record, before.get(hit.row))
        found = focus_coverage(query.focus, query.text, text, tokens, passages.get(record.passage))
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
        rank = ranking(signals, record.sentence.doc_id in previous)
        scored.append(Hit(hit.row, rank, signals, covered=found.covered, missing=found.missing))
    ranked = _ranked(scored, list(records.values()))[:limit]
    return [replace(h, score=h.scores["score"]) for h in ranked]


def _is_answer_type(label: str) -> bool:
    return label.split(" for “", 1)[0] in {expected for _, _, expected in _ANSWER_TYPES}


def _listing(labels: Sequence[str], conjunction: str) -> str:
    shown = [label if _is_answer_type(label) else f"“{label}”" for label in labels]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} {conjunction} {shown[-1]}"


def describe_missing(
    covered: Sequence[str], missing: Sequence[str], unknown: Callable[[str], bool] | None = None
) -> str:
    """What the best sentence lacks of the question, in words: 'the best sentence mentions “Huawei” but not
    “founded” or a date for “when”'. Empty when it lacks nothing.

    ``unknown`` tells a term no searched document holds: it is said so ('no document mentions “Apple”'),
    and a term some document holds is never called missing from the sources, only from the sentence.
    """
    if not missing:
        return ""
    absent = [m for m in missing if unknown is not None and not _is_answer_type(m) and unknown(m)]
    lacking = [m for m in missing if m not in absent]
    parts = [f"no document mentions {_listing(absent, 'or')}"] if absent else []
    if lacking:
        terms = [label for label in covered if not _is_answer_type(label)]
        if terms:
            parts.append(f"the best sentence mentions {_listing(terms, 'and')} but not {_listing(lacking, 'or')}")
        else:
            parts.append(f"the best sentence does not mention {_listing(lacking, 'or')}")
    return "; ".join(parts)
