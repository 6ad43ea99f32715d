"""Questions and lookups over a loaded index: from the question's words to a cited answer or an abstention.

``Queries`` holds one loaded index's search structures and settings; ``rag.pipeline.Index``
hands every ``ask`` and ``lookup`` to it. Input checks (lengths, k, thresholds) live here too.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from rag.answer.claims import question_conflicts
from rag.answer.compose import demote_cited, merge_parts, prefer_reasons
from rag.answer.lookup import match_sentence
from rag.answer.select import Candidate, below, decide, fold_syndicated, make_candidate, merge_adjacent
from rag.answer_model import FITTED
from rag.config import Config
from rag.errors import DocumentNotFoundError, QueryError
from rag.index.lexical import LexicalSearch, coverage, idf
from rag.index.metadata import DocumentHeader
from rag.question.followups import CONTINUES, Turn, asks_for_more, asks_what_next, resolve_followup, turns_from
from rag.question.kinds import asks_reason, overview_topic, split_parts
from rag.search.filters import Where, restrict, select_documents
from rag.search.retrieval import (
    CitedSpans,
    SearchIndexes,
    prepare_query,
    rank_question,
    search,
)
from rag.text.boilerplate import alone_on_line, is_boilerplate, looks_like_label
from rag.text.sentences import sentence_spans
from rag.text.words import tokenize
from rag.types import Answer, Hit, Match, Sentence

if TYPE_CHECKING:
    from rag.encoder.embedding import Embedder

MAX_QUESTION_CHARS = 2_000
MAX_LOOKUP_CHARS = 500_000
LOOKUP_CANDIDATES = 5
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# A follow-up refers to the last few turns; older ones are not read (a client may send many).
MAX_HISTORY_TURNS = 20
FILTERS_KEPT = 8  # the masked search structures of this many recent filters are kept for reuse


class Queries:
    """Answers questions and looks up quotes over one index's search structures (see ``Index.ask``)."""

    def __init__(
        self, indexes: SearchIndexes, config: Config, embedder: Callable[[], Embedder], lock: threading.RLock
    ) -> None:
        self._indexes = indexes
        self._filtered: dict[tuple[str, ...], SearchIndexes] = {}  # recent filters' masked structures
        self.config = config
        self._embedder = embedder  # loads the model on first use
        self._lock = lock

    @property
    def embedder(self) -> Embedder:
        return self._embedder()

    def ask(
        self,
        question: str,
        k: int | None = None,
        *,
        threshold: float | None = None,
        history: Sequence[Answer | Mapping[str, Any]] = (),
        where: Where | dict[str, Any] | None = None,
    ) -> Answer:
        """See ``rag.pipeline.Index.ask``."""
        question = _check_text(question, "question", MAX_QUESTION_CHARS)
        k = self.config.answer.k if k is None else _check_k(k)
        threshold = self.config.answer.threshold if threshold is None else _check_threshold(threshold)
        try:
            turns = turns_from(list(history or ())[-MAX_HISTORY_TURNS:])
        except TypeError as error:
            raise QueryError(f"history must be the earlier answers of the conversation: {error}") from None
        chosen = Where.of(where)
        with self._lock:
            self._indexes_for(chosen)  # a filter that matches no document is refused before any search
        parts = [question] if overview_topic(question) is not None else split_parts(question)
        if len(parts) == 1:
            return self._answer_part(question, turns, k, threshold, chosen)
        answers: list[Answer] = []
        for part in parts:  # a later part may refer to an earlier one: "..., and what did he say?"
            answers.append(self._answer_part(part, [*turns, *turns_from(answers)], k, threshold, chosen))
        return merge_parts(question, answers, k, threshold)

    def _answer_part(
        self, question: str, turns: Sequence[Turn], k: int, threshold: float, chosen: Where | None
    ) -> Answer:
        topic = overview_topic(question)
        if topic is not None:
            return self._overview(question, topic, turns, k, threshold, chosen)
        return self._ask_one(question, turns, k, threshold, chosen)

    def _overview(
        self, question: str, topic: str, turns: Sequence[Turn], k: int, threshold: float, chosen: Where | None
    ) -> Answer:
        """What a document is about: its lead sentences (news puts the gist first), cited."""
        with self._lock:
            headers = self._indexes.store.document_headers()
            if chosen is not None:  # only the documents searched in
                allowed = set(select_documents(chosen, self._indexes.store))
                headers = [h for h in headers if h.doc_id in allowed]
                turns = [t for t in turns if all(d in allowed for d in t.documents)]
            doc_id: str | None
            if topic:
                doc_id, confidence = self._best_document(topic, headers, self._indexes_for(chosen))
                why = f"the document best matching {topic!r} ({{title}}) scored {confidence:.2f}"
            else:
                recent = [d for t in reversed(turns) for d in t.documents]
                doc_id = recent[0] if recent else headers[0].doc_id if len(headers) == 1 else None
                confidence = 1.0
                why = "the question asks what {title} is about" + (", cited in this conversation" if recent else "")
            if doc_id is None:  # several documents and nothing to choose one by: the lead of each
                leads = [c for h in headers[:k] for c in self._lead(h.doc_id, 1, confidence)]
                reason = f"an overview of the {len(headers)} documents: the first sentence of each"
                if len(headers) > k:
                    reason += f" (the first {k}; name one to summarise it)"
                citations = tuple(c.citation for c in leads)
                return Answer(question, False, reason, confidence, threshold, citations, citations)
            leads = self._lead(doc_id, k, confidence)
        title = next((h.title for h in headers if h.doc_id == doc_id), doc_id)
        reason = "overview: " + why.format(title=repr(title)) + "; its lead sentences are quoted"
        shown = tuple(c.citation for c in leads)
        if confidence < threshold or not leads:
            reason = (
                f"no document matches {topic!r}: the best, {title!r}, scored {below(confidence, threshold)}, "
                f"below the threshold {threshold:.2f}"
            )
            return Answer(question, True, reason, confidence, threshold, (), shown)
        merged = merge_adjacent(leads, self._read)
        return Answer(question, False, reason, confidence, threshold, tuple(c.citation for c in merged), shown)

    def _what_next(self, question: str, previous: Turn, k: int, threshold: float) -> Answer | None:
        """ "What happened next?": the sentences after the previous answer's first quote, in its document.

        Their confidence is the previous answer's: they are cited for where they stand, not for
        their words (which share none with the question). None when nothing follows.
        """
        doc_id, _, end = previous.spans[0]
        with self._lock:
            following = [s for s in self._indexes.store.sentences_of(doc_id) if s.start >= end]
            following = [s for s in following if not self._is_furniture(s)][:k]
            if not following:
                return None
            leads = self._sentences_as_candidates(doc_id, following, previous.confidence, CONTINUES)
        title = leads[0].citation.title if leads else doc_id
        if not leads or previous.confidence < threshold:
            return None
        reason = f"continues the previous answer: what follows it in {title!r}"
        citations = tuple(c.citation for c in merge_adjacent(leads[:1], self._read))
        shown = tuple(c.citation for c in leads)
        quoted = " ".join(previous.cited[0].split()) if previous.cited else doc_id
        quoted = quoted if len(quoted) <= 80 else quoted[:79] + "\u2026"
        searched = f"what follows \u201c{quoted}\u201d"
        return Answer(question, False, reason, previous.confidence, threshold, citations, shown, searched)

    def _best_document(
        self, topic: str, headers: Sequence[DocumentHeader], indexes: SearchIndexes
    ) -> tuple[str, float]:
        """The document whose title, or failing that whose sentences, best match ``topic``."""
        tokens = tokenize(topic)
        weights = indexes.sentence_lexical.idf(tokens)
        by_title = {h.doc_id: coverage(weights, tokenize(h.title)) for h in headers}
        vector = self.embedder.encode([topic])[0]
        for candidate in self._candidates(topic, vector, limit=10, content_only=True, indexes=indexes):
            doc_id = candidate.citation.doc_id
            by_title[doc_id] = max(by_title.get(doc_id, 0.0), candidate.citation.score)
        doc_id = min(by_title, key=lambda d: (-by_title[d], d))
        return doc_id, round(by_title[doc_id], 4)

    def _lead(self, doc_id: str, count: int, score: float) -> list[Candidate]:
        """The first ``count`` content sentences of a document as candidates scored ``score``."""
        store = self._indexes.store
        sentences = [s for s in store.sentences_of(doc_id) if not self._is_furniture(s)][:count]
        return self._sentences_as_candidates(doc_id, sentences, score, "overview")

    def _sentences_as_candidates(
        self, doc_id: str, sentences: Sequence[Sentence], score: float, why: str
    ) -> list[Candidate]:
        """Sentences of one document as candidates, each scored ``score`` and marked ``why``."""
        store = self._indexes.store
        _, rows = store.rows_by_text(doc_id)
        records = store.sentences(rows[s.text] for s in sentences if s.text in rows)
        chosen = sorted(records.values(), key=lambda r: r.sentence.position)
        passages = store.passages(r.passage for r in chosen)
        header = store.headers_for([doc_id])[doc_id]
        return [
            make_candidate(Hit(r.row, score, {why: 1.0, "position": float(n)}), r, passages[r.passage], header)
            for n, r in enumerate(chosen, start=1)
        ]

    def _ask_one(self, question: str, turns: Sequence[Turn], k: int, threshold: float, chosen: Where | None) -> Answer:
        """One question, its referring words resolved from ``turns``."""
        if chosen is None and turns and turns[-1].spans and asks_what_next(question):
            answer = self._what_next(question, turns[-1], k, threshold)
            if answer is not None:
                return answer
        previous = _conversation_documents(turns, self._allowed(chosen))
        cited = _cited_spans(turns, question)
        searched = question
        candidates = _answering_first(self._question_candidates(question, k, previous, chosen, cited), turns, threshold)
        rewritten = resolve_followup(question, turns)
        if rewritten != question:
            # A follow-up's rewrite ("Who leads it?" -> "Who leads the new chip fund?") is searched
            # too, and used only when its evidence beats the question's own by the fitted margin
            # (benchmarks/fit_ask.py, on real conversations: most follow-ups name their topic).
            alternative = _answering_first(
                self._question_candidates(rewritten, k, previous, chosen, cited), turns, threshold
            )
            if _evidence(alternative) > _evidence(candidates) + cast(float, FITTED["rewrite_margin"]):
                candidates, searched = alternative, rewritten
        with self._lock:
            if searched != question and asks_for_more(question):
                candidates = demote_cited(candidates, turns)
            shown = citable = candidates
            reason = asks_reason(searched)
            if reason is not None:
                shown, citable = prefer_reasons(
                    searched, reason, candidates, threshold, self._next_sentence, self._read
                )
            unknown = _unknown_terms(self._indexes_for(chosen).sentence_lexical)
            answer = decide(
                question, citable, threshold=threshold, k=k, config=self.config.answer, read=self._read,
                unknown=unknown, conflicts=question_conflicts,
            )  # fmt: skip
            if citable is not shown:
                answer = replace(answer, candidates=tuple(c.citation for c in fold_syndicated(shown)[:k]))
        if answer.abstained and not tokenize(searched):  # "Why?" with nothing it could be tied to
            empty = f"“{question.strip()}” names nothing to look for"
            if turns:
                empty += ", and the previous question does not make it one that reads: ask it in full"
            answer = replace(answer, reason=f"{empty}; {answer.reason}")
        return answer if searched == question else replace(answer, searched_for=searched)

    def _question_candidates(
        self, text: str, k: int, previous: Sequence[str], chosen: Where | None, cited: CitedSpans | None = None
    ) -> list[Candidate]:
        """The candidate sentences for a question, ranked by the answer model; in a conversation, those
        of the documents it cited (``previous``) ranked up and those its earlier answers cited
        (``cited``) ranked down."""
        vector = self.embedder.encode([text])[0]
        with self._lock:
            return self._candidates(
                text,
                vector,
                limit=max(k, 10),
                with_antecedents=True,
                question=True,
                previous_documents=previous,
                cited=cited,
                content_only=True,
                indexes=self._indexes_for(chosen),
            )

    def _allowed(self, chosen: Where | None) -> frozenset[str] | None:
        """The documents a filter lets a question be answered from (None: every one)."""
        if chosen is None:
            return None
        with self._lock:
            return frozenset(select_documents(chosen, self._indexes.store))

    def lookup(
        self, text: str, *, threshold: float | None = None, where: Where | dict[str, Any] | None = None
    ) -> list[Match]:
        """See ``rag.pipeline.Index.lookup``."""
        text = _check_text(text, "lookup text", MAX_LOOKUP_CHARS, strip=False)
        threshold = self.config.lookup.paraphrase_threshold if threshold is None else _check_threshold(threshold)
        chosen = Where.of(where)
        spans = sentence_spans(text)
        vectors = self.embedder.encode([text[a:b] for a, b in spans])
        matches = []
        with self._lock:
            indexes = self._indexes_for(chosen)
            lexical = indexes.sentence_lexical
            for (start, end), vector in zip(spans, vectors, strict=True):
                candidates = self._candidates(text[start:end], vector, limit=LOOKUP_CANDIDATES, indexes=indexes)
                # The sentence's words found anywhere in the corpus (a term in no row has the maximum IDF).
                seen = frozenset(
                    t for t, v in lexical.idf(tokenize(text[start:end])).items() if v < idf(0, lexical.count)
                )
                matches.append(
                    match_sentence(
                        text[start:end],
                        start,
                        candidates,
                        paraphrase_threshold=threshold,
                        corpus_terms=seen,
                        read=self._read,
                    )
                )
        return matches

    def _indexes_for(self, where: Where | None) -> SearchIndexes:
        """The search structures over the documents ``where`` chooses (all of them when None)."""
        if where is None:
            return self._indexes
        doc_ids = tuple(select_documents(where, self._indexes.store))
        if doc_ids not in self._filtered:
            if len(self._filtered) >= FILTERS_KEPT:
                self._filtered.pop(next(iter(self._filtered)))
            self._filtered[doc_ids] = self._restrict(doc_ids)
        return self._filtered[doc_ids]

    def _restrict(self, doc_ids: tuple[str, ...]) -> SearchIndexes:
        """The search structures with every row outside ``doc_ids`` masked out (a sharded index masks its shards)."""
        return restrict(self._indexes, doc_ids)

    def _candidates(
        self,
        text: str,
        vector: np.ndarray,
        *,
        limit: int,
        with_antecedents: bool = False,
        question: bool = False,
        previous_documents: Sequence[str] = (),
        cited: CitedSpans | None = None,
        content_only: bool = False,
        indexes: SearchIndexes | None = None,
    ) -> list[Candidate]:
        """The candidates for ``text``; a question's are ranked by the answer model, the sentences of
        ``previous_documents`` (those the conversation cited) counted up and the sentences an earlier
        answer cited (``cited``) counted down."""
        indexes = indexes or self._indexes
        query = prepare_query(text, vector, indexes.sentence_lexical)
        hits, records, antecedents = search(query, indexes, self.config.retrieval)
        if content_only:  # page furniture ("Reference(s):", "Share") is never cited or shown
            hits = [h for h in hits if not self._is_furniture(records[h.row].sentence)]
        if question:  # a question is answered only as far as a sentence holds what it asks
            hits = rank_question(
                query,
                hits,
                records,
                antecedents,
                indexes,
                previous_documents,
                limit,
                cited,
                conflicts=question_conflicts,
            )
        hits = hits[:limit]
        chosen = [records[h.row] for h in hits]
        passages = indexes.store.passages(r.passage for r in chosen)
        headers = indexes.store.headers_for(r.sentence.doc_id for r in chosen)
        before = antecedents if with_antecedents else {}
        return [
            make_candidate(
                hit,
                record,
                passages[record.passage],
                headers[record.sentence.doc_id],
                before.get(record.row),
                self._read,
            )
            for hit, record in zip(hits, chosen, strict=True)
        ]

    def _is_furniture(self, sentence: Sentence) -> bool:
        text = sentence.text
        if looks_like_label(text):
            document = self._indexes.store.document(sentence.doc_id)
            return document is None or is_boilerplate(
                text, alone_on_line=alone_on_line(document.text, sentence.start, sentence.end)
            )
        return is_boilerplate(text, alone_on_line=False)

    def _next_sentence(self, candidate: Candidate) -> tuple[str, int, int] | None:
        """The sentence after a candidate's last one, when it is in the same paragraph."""
        doc_id = candidate.citation.doc_id
        sentences = self._indexes.store.sentences_of(doc_id)
        position = candidate.last + 1
        if position >= len(sentences) or sentences[position].position != position:
            return None
        following = sentences[position]
        if following.paragraph != candidate.paragraph or self._is_furniture(following):
            return None
        return following.text, following.start, following.end

    def _read(self, doc_id: str, start: int, end: int) -> str:
        with self._lock:
            document = self._indexes.store.document(doc_id)
        if document is None:
            raise DocumentNotFoundError(f"no document {doc_id!r} in the index")
        return document.text[start:end]


def _unknown_terms(lexical: LexicalSearch) -> Callable[[str], bool]:
    """Whether no searched sentence holds any word of a question's term (its IDF is the largest there is)."""
    rarest = float(idf(0, lexical.count))

    def unknown(label: str) -> bool:
        stems = tokenize(label)
        return bool(stems) and all(value >= rarest - 1e-9 for value in lexical.idf(stems).values())

    return unknown


def _conversation_documents(turns: Sequence[Turn], allowed: frozenset[str] | None) -> tuple[str, ...]:
    """The documents the conversation is about: those the most recent answer that cited any cited (an
    abstention cites none, and does not change the topic), within the filter's documents."""
    for turn in reversed(turns):
        documents = tuple(d for d in dict.fromkeys(turn.documents) if allowed is None or d in allowed)
        if documents:
            return documents
    return ()


def _answering_first(candidates: list[Candidate], turns: Sequence[Turn], threshold: float) -> list[Candidate]:
    """The best candidate that reaches the threshold first, when the conversation's ranking weights put
    one that does not above it: history chooses among the sentences that answer, it never turns an
    answer into an abstention (as it never lifts an unanswerable question over the threshold).

    Without history the order is the confidence's, and this changes nothing. On INSCIT's public half
    (benchmarks/real.py) the weight on sentences cited before had raised answerable turns abstained
    on from 8.2% to 9.8%.
    """
    if not turns or not candidates or candidates[0].citation.score >= threshold:
        return candidates
    answering = next((c for c in candidates if c.citation.score >= threshold), None)
    return candidates if answering is None else [answering, *(c for c in candidates if c is not answering)]


def _cited_spans(turns: Sequence[Turn], question: str) -> dict[str, list[tuple[int, int, int]]]:
    """What the conversation's answers cited, by document: (start, end, answers ago), 1 for the
    latest turn (an abstention cites nothing but is a turn: the conversation moved on past it).

    A turn that asked ``question`` itself is left out: a question asked again gets what it got.
    """
    asked = _same_words(question)
    cited: dict[str, list[tuple[int, int, int]]] = {}
    for ago, turn in enumerate(reversed(turns), start=1):
        if asked in (_same_words(turn.question), _same_words(turn.asked)):
            continue
        for doc_id, start, end in turn.spans:
            cited.setdefault(doc_id, []).append((start, end, ago))
    return cited


def _same_words(text: str) -> str:
    return " ".join(text.split()).casefold()


def _evidence(candidates: Sequence[Candidate]) -> float:
    """How strongly the best candidate answers: its probability under the answer model."""
    return candidates[0].citation.score if candidates else 0.0


def _check_text(text: str, what: str, limit: int, *, strip: bool = True) -> str:
    if not isinstance(text, str):
        raise QueryError(f"the {what} must be text, got {type(text).__name__}")
    invalid = _SURROGATE.search(text)
    if invalid:  # how Python passes on bytes that are not UTF-8 (argv, surrogateescape); no encoder takes them
        raise QueryError(
            f"the {what} is not valid text: character {invalid.start()} is a byte that is not UTF-8 "
            "or a lone surrogate; convert it to UTF-8 first"
        )
    if not text.strip():
        raise QueryError(f"the {what} is empty: type some words")
    if len(text) > limit:
        raise QueryError(f"the {what} is {len(text):,} characters long; the limit is {limit:,}")
    return text.strip() if strip else text


def _check_k(k: int) -> int:
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise QueryError(f"k must be a whole number of at least 1, got {k!r}")
    return k


def _check_threshold(threshold: float) -> float:
    if not isinstance(threshold, int | float) or not 0.0 <= threshold <= 1.0:
        raise QueryError(f"the threshold must be a number between 0 and 1, got {threshold!r}")
    return float(threshold)
