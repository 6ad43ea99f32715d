"""What makes an ask cheaper without changing it (issue 19, item 5): a read-only segment store reads
each row once, and scoring gives exactly the scores of the formula it computes faster.

The cost itself is measured by benchmarks (``benchmarks/latency.py``, ``benchmarks/real.py``), never
timed here: these tests check what the speed rests on, the number of database reads and the
equality of every score with the plain formula.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from rag import build_index
from rag.config import RetrievalConfig
from rag.index.dense import VectorSegments
from rag.index.lexical import coverage
from rag.index.metadata import MetadataStore
from rag.search.retrieval import (
    NUMBER_BONUS,
    WEIGHTS,
    _numbers_in,
    antecedents,
    bigrams,
    phrase_overlap,
    prepare_query,
    rank_question,
    search,
)
from rag.text.words import capitalised_tokens
from rag.types import Document, FileVersion, Sentence
from tests.fakes import FakeEmbedder

NEWS = (
    "Premier Li Qiang visited the Shenzhen chip fund in March. It has raised over $40 billion since 2014.\n\n"
    "The fund's managers met Li Qiang and the board of Huawei. They discussed exports of chips.\n\n"
    "Farmers in Yunnan picked tea leaves early this year. The harvest was large.\n"
)
QUESTIONS = [
    "How big is the chip fund that Li Qiang visited?",
    "When did the fund start raising money?",
    "Who met the board of Huawei?",
    "What did farmers in Yunnan pick?",
    "How many billion has the fund raised?",
    "What about the weather?",
]


@pytest.fixture()
def news_index(tmp_path: Path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "news.txt").write_text(NEWS, encoding="utf-8")
    (folder / "tea.txt").write_text(
        "The tea harvest in Yunnan began early. Li Qiang did not visit.\n", encoding="utf-8"
    )
    return build_index(folder, tmp_path / "index", embedder=FakeEmbedder())


def _only_store(index) -> MetadataStore:
    (part,) = index._indexes.store.parts
    return part.store


def _statements(store: MetadataStore) -> list[str]:
    """The SQL statements the store runs from now on (SQLite reports each one)."""
    seen: list[str] = []
    store._db.set_trace_callback(seen.append)
    return seen


def test_a_read_only_store_reads_each_row_once(news_index) -> None:
    store = _only_store(news_index)
    first = (store.sentences([0, 1, 2]), store.passage_tokens([0, 1]), store.rows_of_passages([0, 1]))
    first += (store.passages([0, 1]), store.headers_for(["news.txt"]), store.document("news.txt"))
    statements = _statements(store)
    again = (store.sentences([2, 1, 0]), store.passage_tokens([1, 0]), store.rows_of_passages([1, 0]))
    again += (store.passages([1, 0]), store.headers_for(["news.txt"]), store.document("news.txt"))
    assert again == first
    assert statements == []  # the old code read the database again for every one of them
    store.sentences([0, 3])
    assert len(statements) == 1 and statements[0].replace(" ", "").endswith("IN(3)")  # row 3 alone is read
    news_index._indexes.store.forget()  # what latency.py calls to measure an ask with nothing kept
    assert store.sentences([0, 1, 2]) == first[0] and len(statements) == 2


def test_kept_reads_equal_fresh_reads_in_the_same_order(news_index, tmp_path: Path) -> None:
    store = _only_store(news_index)
    fresh = MetadataStore.open(Path(store._path))
    try:
        rows = list(range(12))
        store.sentences([5, 2, 9])  # some held, some not
        store.passage_tokens([3])
        assert list(store.sentences(reversed(rows)).items()) == list(fresh.sentences(rows).items())
        assert list(store.passage_tokens([4, 3, 0]).items()) == list(fresh.passage_tokens([0, 3, 4]).items())
        assert store.rows_of_passages([2, 0]) == fresh.rows_of_passages([0, 2])
        assert store.sentences([10_000]) == {} and store.document("nothing.txt") is None
        for record in store.sentences(rows).values():
            document = news_index.document(record.sentence.doc_id)
            assert document.text[record.sentence.start : record.sentence.end] == record.sentence.text
    finally:
        fresh.close()


def test_a_store_being_written_keeps_nothing(tmp_path: Path) -> None:
    store = MetadataStore.create(tmp_path / "meta.sqlite")
    try:
        text = "One. Two."
        store.add_document(Document("a.txt", text, "a"), 2, "now", FileVersion("0"))
        store.add_sentences(0, [Sentence("a.txt", 0, 0, 0, 4, "One.")], [0], [["one"]])
        assert list(store.sentences([0, 1])) == [0]
        store.add_sentences(1, [Sentence("a.txt", 1, 0, 5, 9, "Two.")], [0], [["two"]])
        assert list(store.sentences([0, 1])) == [0, 1]  # what it has read is no answer while it changes
        assert tuple(store.passage_tokens([0])[0]) == ("one", "two")
    finally:
        store._db.rollback()
        store._db.close()


def test_kept_values_are_bounded_the_oldest_out_first() -> None:
    from rag.index.metadata import _Kept

    kept: _Kept[int, str] = _Kept(2)
    kept.keep({1: "a", 2: "b"})
    kept.keep({3: "c"})
    assert kept.found([1, 2, 3]) == ({2: "b", 3: "c"}, [1])


def _coverage_as_written(query_idf, tokens, names=(), name_mentions=frozenset()) -> float:
    """``coverage`` as the module states it, term by term (the code before Weighing)."""
    present = set(tokens)
    total = found = 0.0
    named: set[str] = set()
    for group in names:
        parts = [t for t in group if t in query_idf]
        if parts:
            weight = max(query_idf[t] for t in parts)
            total += weight
            found += weight if any(t in name_mentions for t in parts) else 0.0
            named.update(parts)
    for term, weight in query_idf.items():
        if term not in named:
            total += weight
            found += weight if term in present else 0.0
    return found / total if total > 0 else 0.0


def test_a_weighing_gives_the_very_share_of_the_formula() -> None:
    from rag.index.lexical import Weighing

    rng = random.Random(7)
    words = [f"w{i}" for i in range(12)]
    for _ in range(500):
        idf = {w: rng.uniform(0.01, 9.0) for w in rng.sample(words, rng.randint(0, 7))}
        names = [tuple(rng.sample(words, rng.randint(2, 3))) for _ in range(rng.randint(0, 2))]
        tokens = [rng.choice(words) for _ in range(rng.randint(0, 15))]
        mentions = frozenset(rng.sample(words, rng.randint(0, 4)))
        expected = _coverage_as_written(idf, tokens, names, mentions)
        assert Weighing.of(idf, names).share(tokens, mentions) == expected  # equal, not approximately
        assert Weighing.of(idf, names).share(frozenset(tokens), mentions) == expected
        assert coverage(idf, tokens, names, mentions) == expected


def test_phrase_overlap_is_the_share_of_shared_pairs() -> None:
    rng = random.Random(3)
    for _ in range(300):
        question = tuple(rng.choice("abcde") for _ in range(rng.randint(0, 6)))
        sentence = [rng.choice("abcdef") for _ in range(rng.randint(0, 12))]
        pairs = bigrams(question)
        expected = len(pairs & bigrams(sentence)) / len(pairs) if pairs else 0.0
        assert phrase_overlap(pairs, sentence) == expected


def test_every_score_is_the_formula_computed_sentence_by_sentence(news_index) -> None:
    indexes = news_index._indexes
    embedder = FakeEmbedder()
    total_weight = sum(WEIGHTS.values())
    for question in QUESTIONS:
        query = prepare_query(question, embedder.encode([question])[0], indexes.sentence_lexical)
        hits, records, before = search(query, indexes, RetrievalConfig())
        assert hits and before == antecedents(list(records.values()), indexes)
        passage_tokens = indexes.store.passage_tokens(r.passage for r in records.values())
        vector = query.vector.astype(np.float64)
        for hit in hits:
            record = records[hit.row]
            own = _coverage_as_written(query.idf, record.tokens, query.names, capitalised_tokens(record.sentence.text))
            lexical = own
            if hit.row in before:
                earlier = before[hit.row]
                mentions = capitalised_tokens(f"{earlier.sentence.text} {record.sentence.text}")
                joined = (*earlier.tokens, *record.tokens)
                lexical = max(own, _coverage_as_written(query.idf, joined, query.names, mentions))
            expected = {
                "dense": float((indexes.sentence_vectors[np.array([hit.row])].astype(np.float64) @ vector)[0]),
                "dense_passage": float(
                    (indexes.passage_vectors[np.array([record.passage])].astype(np.float64) @ vector)[0]
                ),
                "lexical": lexical,
                "lexical_passage": _coverage_as_written(query.idf, passage_tokens[record.passage]),
                "phrase": phrase_overlap(query.bigrams, record.tokens),
            }
            for name, value in expected.items():
                assert hit.scores[name] == pytest.approx(value, abs=1e-12), (question, name)
            wanted = query.wants_number and bool(_numbers_in(record.sentence.text) - _numbers_in(question))
            assert hit.scores["number_bonus"] == (NUMBER_BONUS if wanted else 0.0)
            signals = [hit.scores[name] for name in WEIGHTS]
            score = sum(WEIGHTS[n] * max(v, 0.0) for n, v in zip(WEIGHTS, signals, strict=True)) / total_weight
            assert hit.score == score + hit.scores["number_bonus"]
        ranked = rank_question(query, hits, records, before, indexes)
        assert sorted(h.row for h in ranked) == sorted(h.row for h in hits[: len(ranked)])


def test_vectors_of_one_segment_read_as_of_several() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((6, 4)).astype(np.float32)
    one = VectorSegments([vectors], [10])
    two = VectorSegments([vectors[:2], vectors[2:]], [10, 12])
    rows = np.array([15, 10, 12, 12, 11])
    assert np.array_equal(one[rows], two[rows]) and one[rows].dtype == np.float32
    assert np.array_equal(one[rows], vectors[rows - 10])
    assert one[np.array([], dtype=np.int64)].shape == (0, 4)
    for outside in (9, 16):
        with pytest.raises(IndexError):
            one[np.array([11, outside])]
