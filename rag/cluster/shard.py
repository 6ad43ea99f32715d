"""A shard of a sharded index: a Ray actor holding whole segments, searched with corpus-wide BM25.

Each shard answers the dense and BM25 searches of the segments it holds, with the corpus-wide
row counts, lengths and term frequencies the driver summed (``Totals``), so its numbers are the
ones a single process would compute; ``merge_ranked`` merges the shards' answers as
``DenseSegments`` and ``LexicalSegments`` merge segments. The driver side is ``serve.py``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.index.dense import DensePart, DenseSegments
from rag.index.lexical import LexicalPart, LexicalSegments
from rag.index.manifest import SegmentEntry
from rag.index.segment import open_metadata, open_search_files

SELECTIONS_KEPT = 8  # filters whose masked structures a shard keeps (as the single-process index does)


@dataclass(frozen=True, slots=True)
class Totals:
    """Live rows and their summed token lengths, over one shard or over all of them."""

    sentences: int = 0
    sentence_length: int = 0
    passages: int = 0
    passage_length: int = 0

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            self.sentences + other.sentences,
            self.sentence_length + other.sentence_length,
            self.passages + other.passages,
            self.passage_length + other.passage_length,
        )


class CorpusWideBM25(LexicalSegments):
    """BM25 over one shard's segments, scored with the statistics of the whole corpus.

    The live row count and average length come from every shard (``count``, ``total_length``)
    and each term's document frequency is given per query, so a row scores exactly as in
    one ``LexicalSegments`` over all segments.
    """

    __slots__ = ("_frequencies",)

    def __init__(self, parts: Sequence[LexicalPart], *, k1: float, b: float, count: int, total_length: int) -> None:
        super().__init__(parts, k1=k1, b=b)
        self._frequencies: dict[str, int] = {}
        self.count = count
        # The same expressions as LexicalSegments's, so the floating-point results are the same.
        self._average_length = total_length / self.count if self.count else 0.0
        self._norms = tuple(
            self.k1 * (1 - self.b + self.b * part.index._lengths.astype(np.float64) / self._average_length)
            if self._average_length
            else np.zeros(part.index.count)
            for part in self.parts
        )

    def search_with(
        self, tokens: Sequence[str], k: int, ties: bool, frequencies: dict[str, int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """``LexicalSegments.search`` with each term's corpus-wide document frequency."""
        self._frequencies = frequencies
        return self.search(tokens, k, ties=ties)

    def _document_frequency(
        self, term: str, postings: Sequence[tuple[LexicalPart, np.ndarray, np.ndarray, np.ndarray]]
    ) -> int:
        return self._frequencies[term]  # counted over every shard, not only this one's postings


def live_totals(parts: Sequence[LexicalPart]) -> tuple[int, int]:
    count = length = 0
    for part in parts:
        live = part.live
        count += part.index.count if live is None else int(np.count_nonzero(live))
        length += part.index._total_length if live is None else int(part.index._lengths[live].sum(dtype=np.int64))
    return count, length


def live_frequencies(part: LexicalPart) -> np.ndarray:
    """How many live rows of the part hold each term of its vocabulary, in vocabulary order."""
    index = part.index
    if part.live is None:
        return np.diff(index._indptr)
    held = np.concatenate([[0], np.cumsum(part.live[index._rows], dtype=np.int64)])
    return held[index._indptr[1:]] - held[index._indptr[:-1]]


def frequency(view: LexicalSegments, term: str) -> int:
    return sum(len(rows) for _, rows, _, _ in view._live_postings(term))


class UnknownSelection(LookupError):
    """A shard was asked to search a selection of documents it does not hold (it was restarted)."""


@dataclass(slots=True)
class _Structures:
    """One selection of a shard's rows (all live rows, or a filter's): its dense view and BM25 parts."""

    dense: DenseSegments
    parts: dict[str, list[LexicalPart]]
    plain: dict[str, LexicalSegments]
    scored: dict[tuple[str, Totals], CorpusWideBM25]


class Shard:
    """One Ray actor's share of the index: the dense and BM25 structures of some whole segments.

    Its methods take a ``selection``: None for every live row, or the key of a filter set up
    with ``select`` (a filter's rows masked as ``rag.search.filters.restrict`` masks them).
    """

    def __init__(self, index_dir: str, generation: str, segments: Sequence[SegmentEntry], k1: float, b: float) -> None:
        metadata, vectors = open_metadata(Path(index_dir), Path(generation), segments)
        try:
            self._indexes, masks = [], []
            for number, segment in enumerate(segments):
                files = open_search_files(Path(generation), number, segment, metadata, vectors[number])
                self._indexes.append(
                    (
                        files.dense,
                        files.sentence_lexical,
                        files.passage_lexical,
                        segment.first_row,
                        segment.first_passage,
                    )
                )
                masks.append((files.live_sentences, files.live_passages))
        finally:
            metadata.close()  # the masks of removed rows are read; the driver reads the metadata
        self._k1, self._b = k1, b
        self._selections: OrderedDict[str | None, _Structures] = OrderedDict()
        self._selections[None] = self._structures(masks)

    def _structures(self, masks: Sequence[tuple[np.ndarray | None, np.ndarray | None]]) -> _Structures:
        dense, sentences, passages = [], [], []
        for (index, sentence_index, passage_index, first_row, first_passage), (live, live_passages) in zip(
            self._indexes, masks, strict=True
        ):
            dense.append(DensePart(index, first_row, live))
            sentences.append(LexicalPart(sentence_index, first_row, live))
            passages.append(LexicalPart(passage_index, first_passage, live_passages))
        parts = {"sentences": sentences, "passages": passages}
        plain = {kind: LexicalSegments(p, k1=self._k1, b=self._b) for kind, p in parts.items()}
        return _Structures(DenseSegments(dense), parts, plain, {})

    def _selection(self, key: str | None) -> _Structures:
        found = self._selections.get(key)
        if found is None:
            raise UnknownSelection(f"no selection {key!r} on this shard")
        return found

    def select(self, key: str, masks: Sequence[tuple[np.ndarray, np.ndarray]]) -> Totals:
        """Set up the selection ``key`` (a filter's rows of each segment); its totals."""
        if key not in self._selections:
            while len(self._selections) > SELECTIONS_KEPT:
                oldest = next(k for k in self._selections if k is not None)
                del self._selections[oldest]
            self._selections[key] = self._structures(masks)
        return self.totals(key)

    def totals(self, selection: str | None = None) -> Totals:
        """This shard's live rows and token lengths (of the selection)."""
        parts = self._selection(selection).parts
        sentences, sentence_length = live_totals(parts["sentences"])
        passages, passage_length = live_totals(parts["passages"])
        return Totals(sentences, sentence_length, passages, passage_length)

    def frequencies(self, selection: str | None, terms: Sequence[str]) -> tuple[list[int], list[int]]:
        """How many live sentences and passages of this shard (in the selection) hold each term."""
        plain = self._selection(selection).plain
        return [frequency(plain["sentences"], t) for t in terms], [frequency(plain["passages"], t) for t in terms]

    def vocabulary(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Every term of this shard with its live sentence and passage document frequencies."""
        found: dict[str, list[int]] = {}
        for column, kind in enumerate(("sentences", "passages")):
            for part in self._selection(None).parts[kind]:
                for term, count in zip(part.index._columns, live_frequencies(part).tolist(), strict=True):
                    found.setdefault(term, [0, 0])[column] += count
        counts = np.array(list(found.values()), dtype=np.int64).reshape(-1, 2)
        return list(found), counts[:, 0], counts[:, 1]

    def search(
        self,
        selection: str | None,
        vector: np.ndarray,
        k: int,
        ties: bool,
        lexical: Sequence[tuple[str, tuple[str, ...], int, bool]],
        totals: Totals,
        frequencies: dict[str, tuple[int, int]],
    ) -> tuple[tuple[np.ndarray, np.ndarray], list[tuple[np.ndarray, np.ndarray]]]:
        """The dense search and the BM25 searches ``lexical`` (kind, tokens, k, ties) of one query, in one call."""
        found = []
        for kind, tokens, count, with_ties in lexical:
            column = 0 if kind == "sentences" else 1
            by_term = {t: f[column] for t, f in frequencies.items()}
            found.append(self.lexical(selection, kind, tokens, count, with_ties, totals, by_term))
        return self._selection(selection).dense.search(vector, k, ties=ties), found

    def lexical(
        self,
        selection: str | None,
        kind: str,
        tokens: Sequence[str],
        k: int,
        ties: bool,
        totals: Totals,
        frequencies: dict[str, int],
    ) -> tuple[np.ndarray, np.ndarray]:
        chosen = self._selection(selection)
        view = chosen.scored.get((kind, totals))
        if view is None:
            count, length = (
                (totals.sentences, totals.sentence_length)
                if kind == "sentences"
                else (totals.passages, totals.passage_length)
            )
            view = CorpusWideBM25(chosen.parts[kind], k1=self._k1, b=self._b, count=count, total_length=length)
            chosen.scored[(kind, totals)] = view
        return view.search_with(tokens, k, ties, frequencies)

    def node(self) -> str:
        """The id of the Ray node this shard runs on."""
        import ray

        return ray.get_runtime_context().get_node_id()

    def memory(self) -> int:
        """This actor's resident memory in bytes (Linux)."""
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0


def merge_ranked(found: Sequence[tuple[np.ndarray, np.ndarray]], k: int, ties: bool) -> tuple[np.ndarray, np.ndarray]:
    """The best ``k`` of several shards' ranked rows, ties by row, with the k-th's ties when asked.

    Each shard returned its own best ``k`` (with ties), which hold every row of the best ``k``
    overall, so this is what one search over all the shards' segments returns.
    """
    rows = np.concatenate([r for r, _ in found] or [np.empty(0, dtype=np.int64)]).astype(np.int64)
    scores = np.concatenate([s for _, s in found] or [np.empty(0, dtype=np.float32)]).astype(np.float32)
    order = np.lexsort((rows, -scores))
    rows, scores = rows[order], scores[order]
    if k <= 0 or len(rows) <= k:
        return rows[: max(k, 0)], scores[: max(k, 0)]
    end = k if not ties else int(np.searchsorted(-scores, -scores[k - 1], side="right"))
    return rows[:end], scores[:end]
