"""The sharded searches against one process's, without Ray: BM25 with corpus-wide statistics, the merge, the batching.

Shards are simulated by splitting a collection's segments into groups: each group's
``CorpusWideBM25`` (given the totals and document frequencies summed over all groups) and
dense view must rank exactly as one ``LexicalView`` / ``DenseView`` over every segment,
deletions included, with batch sizes that cross shard boundaries.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from rag.cluster.build import group_batches, join_parsed, split_batches
from rag.cluster.shard import CorpusWideBM25, Totals, frequency, live_frequencies, live_totals, merge_ranked
from rag.index.dense import DenseIndex, DensePart, DenseSegments
from rag.index.lexical import LexicalIndex, LexicalPart, LexicalSegments

WORDS = [f"w{n}" for n in range(40)]


def _segments(rng: np.random.Generator, sizes: Sequence[int]) -> list[list[list[str]]]:
    # Few distinct words and short rows: many ties, which the merge must order as one process does.
    return [[list(rng.choice(WORDS[: 5 + n % 30], size=rng.integers(1, 9))) for n in range(size)] for size in sizes]


def _parts(segments: list[list[list[str]]], rng: np.random.Generator) -> list[LexicalPart]:
    parts, first = [], 0
    for rows in segments:
        live = rng.random(len(rows)) > 0.2 if rng.random() > 0.5 else None  # some segments lost documents
        parts.append(LexicalPart(LexicalIndex.build(rows), first, live))
        first += len(rows)
    return parts


@pytest.mark.parametrize("seed", range(6))
def test_shards_score_bm25_exactly_as_one_view(seed: int) -> None:
    rng = np.random.default_rng(seed)
    parts = _parts(_segments(rng, rng.integers(1, 60, size=5)), rng)
    whole = LexicalSegments(parts, k1=1.2, b=0.75)
    groups = [parts[:2], parts[2:3], parts[3:]]
    count = sum(live_totals(g)[0] for g in groups)
    length = sum(live_totals(g)[1] for g in groups)
    views = [CorpusWideBM25(g, k1=1.2, b=0.75, count=count, total_length=length) for g in groups]
    plain = [LexicalSegments(g, k1=1.2, b=0.75) for g in groups]
    for _ in range(20):
        tokens = list(rng.choice(WORDS, size=rng.integers(1, 5)))
        frequencies = {t: sum(frequency(p, t) for p in plain) for t in tokens}
        assert frequencies == {t: frequency(whole, t) for t in tokens}
        for k in (1, 3, 20, 500):
            for ties in (False, True):
                expected = whole.search(tokens, k, ties=ties)
                merged = merge_ranked([v.search_with(tokens, k, ties, frequencies) for v in views], k, ties)
                assert np.array_equal(merged[0], expected[0]) and np.array_equal(merged[1], expected[1])


def test_live_frequencies_count_only_live_rows() -> None:
    rows = [["a", "b"], ["a"], ["b", "c"], ["a", "c"]]
    part = LexicalPart(LexicalIndex.build(rows), 0, np.array([True, False, True, True]))
    by_term = dict(zip(part.index._columns, live_frequencies(part).tolist(), strict=True))
    assert by_term == {"a": 2, "b": 2, "c": 2}


@pytest.mark.parametrize("seed", range(4))
def test_shards_search_vectors_exactly_as_one_view(seed: int) -> None:
    rng = np.random.default_rng(seed)
    # Rounded vectors, so that many rows tie.
    sizes = rng.integers(1, 40, size=4)
    parts, first = [], 0
    for size in sizes:
        vectors = np.round(rng.normal(size=(size, 8)), 0).astype(np.float32) + 0.01
        live = rng.random(size) > 0.3 if rng.random() > 0.5 else None
        parts.append(DensePart(DenseIndex.build(vectors), first, live))
        first += size
    whole = DenseSegments(parts)
    groups = [DenseSegments(parts[:1]), DenseSegments(parts[1:3]), DenseSegments(parts[3:])]
    for _ in range(10):
        query = rng.normal(size=8).astype(np.float32)
        for k in (1, 5, 25, 200):
            for ties in (False, True):
                expected = whole.search(query, k, ties=ties)
                merged = merge_ranked([g.search(query, k, ties=ties) for g in groups], k, ties)
                assert np.array_equal(merged[0], expected[0]) and np.array_equal(merged[1], expected[1])


def test_totals_add_up() -> None:
    assert Totals(1, 2, 3, 4) + Totals(10, 20, 30, 40) == Totals(11, 22, 33, 44)


@pytest.mark.parametrize(
    ("sentences", "count", "groups"),
    [
        ([10, 10, 10, 10], 2, [[0, 1], [2, 3]]),
        ([100, 1, 1, 1], 2, [[0], [1, 2, 3]]),
        ([0, 5, 0, 5, 0], 2, [[1], [3]]),  # batches without sentences are left out
        ([3, 3, 3], 5, [[0], [1], [2]]),  # never more groups than batches holding sentences
        ([7], 3, [[0]]),
        ([], 2, []),
    ],
)
def test_batches_are_grouped_in_order_by_sentences(sentences: list[int], count: int, groups: list[list[int]]) -> None:
    assert group_batches(sentences, count) == groups


def test_split_batches_keeps_the_order_and_leaves_none_empty(tmp_path) -> None:
    paths = []
    for number, size in enumerate([10, 1000, 10, 10, 500, 10]):
        path = tmp_path / f"{number}.txt"
        path.write_bytes(b"x" * size)
        paths.append(path)
    for count in range(1, 9):
        batches = split_batches(paths, count)
        assert [p for batch in batches for p in batch] == paths
        assert all(batches) and len(batches) <= min(count, len(paths))
    assert split_batches([], 3) == []


def test_joined_batches_number_passages_on() -> None:
    from rag.config import Config
    from rag.index.segment import split_documents
    from rag.types import Document, FileVersion

    def parsed(doc_id: str, text: str):
        document = Document(doc_id=doc_id, text=text, title=doc_id)
        file = FileVersion(sha256="0" * 64, size=len(text), mtime_ns=0)
        return split_documents([(document, file)], Config())

    one = parsed("a.md", "First sentence here. Second one here.\n\nA new paragraph starts. It ends.")
    two = parsed("b.md", "Another document. With two sentences.")
    both = split_documents([(d, f) for p in (one, two) for d, f in zip(p.documents, p.files, strict=True)], Config())
    joined = join_parsed([one, two])
    assert joined.sentence_passage == both.sentence_passage
    assert joined.passages == both.passages and joined.sentences == both.sentences
