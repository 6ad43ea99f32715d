"""Sharded serving: Ray actors hold groups of whole segments; the driver merges their candidates.

A question is encoded once, on the driver. Its searches of the single-process index (dense
neighbours, BM25 over sentences, BM25 over passages) go to every shard in one call, and the
shards' answers are merged exactly as ``DenseSegments`` and ``LexicalSegments`` merge their
segments: rows sorted by score then row, with the ties at the cut. BM25 is scored with
corpus-wide statistics, as Elasticsearch's dfs_query_then_fetch does: the live row count
and total length of every shard are summed once at load, and so is each term's document
frequency (held on the driver, or asked for per question past VOCABULARY_KEPT terms). So
every shard computes the very numbers one process would, and the driver runs the
single-process retrieval, answer and lookup code (``Index``) on them, with the metadata
(SQLite) and stored vectors read from the shared index folder. A filter (``where``) masks
its documents' rows on every shard once, with its own statistics.

A shard that dies is restarted by Ray and the call retried; when it cannot be, the
question fails with an error naming the shard, never with an answer from the other shards.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from rag.cluster.connect import connect
from rag.config import Config
from rag.dense import DensePart, DenseSegments, VectorSegments
from rag.errors import IndexMismatchError, RagError
from rag.filters import document_masks
from rag.index.manifest import Manifest, SegmentEntry
from rag.index.metadata import MetadataSegments
from rag.index.open import Generation, open_index
from rag.index.segment import PASSAGE_VECTORS, open_metadata, open_search_files
from rag.lexical import LexicalPart, LexicalSegments, idf
from rag.pipeline import Index
from rag.queries import Queries
from rag.retrieval import SearchIndexes

logger = logging.getLogger(__name__)

SHARD_RESTARTS = 3  # how often Ray restarts a dead shard before its questions fail
CALL_RETRIES = 3  # how often a call to a restarted shard is tried again
CALL_TIMEOUT = 120.0  # seconds a shard may take to answer (a restart reloads its segments)
# The driver holds every term's corpus-wide document frequencies when the vocabulary has at
# most this many terms (about 100 MB of Python objects); above, it asks the shards for each
# question's new terms and caches FREQUENCIES_KEPT of them.
VOCABULARY_KEPT = 1_000_000
FREQUENCIES_KEPT = 100_000
SELECTIONS_KEPT = 8  # filters whose masked structures a shard keeps (as the single-process index does)
# A shard's work per question is a few milliseconds: it reserves no CPU, so that a small
# cluster can serve and build at once. Its memory is what it holds (see benchmarks/scale.py).
SHARD_CPUS = 0


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
    with ``select`` (a filter's rows masked as ``rag.filters.restrict`` masks them).
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


class Shards:
    """The driver's handle on the shard actors: one call to all of them at once."""

    def __init__(self, ray: Any, actors: Sequence[Any], segments: Sequence[Sequence[str]]) -> None:
        self._ray = ray
        self.actors = list(actors)
        self.segments = [list(names) for names in segments]  # each shard's segment names

    def call(self, method: str, *args: Any) -> list[Any]:
        """``method(*args)`` on every shard at once; their results in shard order.

        Raises:
            UnknownSelection: A shard lost a filter's selection (it was restarted).
            RagError: A shard could not answer.
        """
        ray = self._ray
        refs = [getattr(actor, method).remote(*args) for actor in self.actors]
        try:
            return ray.get(refs, timeout=CALL_TIMEOUT)
        except ray.exceptions.GetTimeoutError:
            raise RagError(f"a shard of the index took over {CALL_TIMEOUT:.0f} s to answer; try again") from None
        except (ray.exceptions.RayActorError, ray.exceptions.RayTaskError) as error:
            if isinstance(error, UnknownSelection) or isinstance(getattr(error, "cause", None), UnknownSelection):
                raise UnknownSelection(str(error)) from None
            raise RagError(self._failure(refs, error)) from None

    def _failure(self, refs: Sequence[Any], error: Exception) -> str:
        """Which shard failed and why, in one line."""
        number = next((n for n, ref in enumerate(refs) if _failed(self._ray, ref)), None)
        which = f"shard {number + 1} of {len(refs)}" if number is not None else "a shard"
        cause = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
        return f"{which} of the index could not answer ({cause[:200]}); no answer was given: load the index again"

    def memory(self) -> list[int]:
        """Each shard actor's resident memory in bytes."""
        return self.call("memory")

    def close(self) -> None:
        for actor in self.actors:
            self._ray.kill(actor, no_restart=True)
        self.actors = []


def _failed(ray: Any, ref: Any) -> bool:
    try:
        ray.get(ref, timeout=0)
    except ray.exceptions.GetTimeoutError:
        return False
    except Exception:  # noqa: BLE001 - any error of this shard's call marks it as the one that failed
        return True
    return False


class Selection:
    """The rows one search structure covers on every shard (all live rows, or a filter's), and their statistics.

    One question's searches (dense, then BM25 over sentences and passages with the same
    terms) go to the shards in one round trip: the dense search also runs the BM25 searches
    ``lexical`` names for the terms the question was last prepared with, and a BM25 search
    asked for with exactly those arguments takes its result. Any other search makes its own
    round trip, so the results never depend on this.
    """

    def __init__(
        self,
        shards: Shards,
        key: str | None,
        masks: Sequence[Sequence[tuple[np.ndarray, np.ndarray]]] | None,
        lexical: Sequence[tuple[str, int, bool]],
    ) -> None:
        self.shards = shards
        self.key = key
        self._masks = masks  # per shard, per segment: what a restarted shard is sent again
        self.lexical = tuple(lexical)  # the BM25 searches (kind, k, ties) run with each dense search
        self._frequencies: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self._complete = False  # True: every term of the index is in _frequencies
        self._local = threading.local()  # the question being searched, per thread
        if key is None:
            self.totals = sum(shards.call("totals", None), Totals())
            self._load_vocabulary()
        else:
            self.totals = self._select()

    def _select(self) -> Totals:
        """Set the selection up on every shard; the summed totals."""
        ray, shards = self.shards._ray, self.shards
        refs = [a.select.remote(self.key, m) for a, m in zip(shards.actors, self._masks or [], strict=True)]
        try:
            return sum(ray.get(refs, timeout=CALL_TIMEOUT), Totals())
        except (ray.exceptions.RayActorError, ray.exceptions.RayTaskError, ray.exceptions.GetTimeoutError) as error:
            raise RagError(shards._failure(refs, error)) from None

    def _call(self, method: str, *args: Any) -> list[Any]:
        """A call about this selection; a shard restarted since it was set up gets it again, once."""
        try:
            return self.shards.call(method, self.key, *args)
        except UnknownSelection:
            if self.key is None:
                raise RagError(
                    "a shard of the index lost its segments; no answer was given: load the index again"
                ) from None
            self._select()
            return self.shards.call(method, self.key, *args)

    def _load_vocabulary(self) -> None:
        """Every term's corpus-wide frequencies, when the vocabulary is small enough to hold on the driver."""
        found: dict[str, tuple[int, int]] = {}
        for terms, sentences, passages in self.shards.call("vocabulary"):
            if len(found) + len(terms) > VOCABULARY_KEPT * len(self.shards.actors):
                return  # too many to hold: frequencies are asked per question (and cached)
            for term, in_sentences, in_passages in zip(terms, sentences.tolist(), passages.tolist(), strict=True):
                before = found.get(term, (0, 0))
                found[term] = (before[0] + in_sentences, before[1] + in_passages)
        if len(found) <= VOCABULARY_KEPT:
            self._frequencies, self._complete = OrderedDict(found), True

    def frequencies(self, tokens: Sequence[str]) -> dict[str, tuple[int, int]]:
        """Each token's live sentence and passage document frequencies, summed over the shards."""
        if self._complete:
            return {t: self._frequencies.get(t, (0, 0)) for t in tokens}
        missing = [t for t in dict.fromkeys(tokens) if t not in self._frequencies]
        if missing:
            found = self._call("frequencies", missing)
            for number, term in enumerate(missing):
                self._frequencies[term] = (sum(f[0][number] for f in found), sum(f[1][number] for f in found))
            while len(self._frequencies) > FREQUENCIES_KEPT:
                self._frequencies.popitem(last=False)
        return {t: self._frequencies[t] for t in tokens}

    def prepared(self, tokens: Sequence[str]) -> None:
        """Note the terms of the question being prepared: its BM25 searches go with its dense search."""
        self._local.tokens = tuple(tokens)

    def search_dense(self, vector: np.ndarray, k: int, ties: bool) -> tuple[np.ndarray, np.ndarray]:
        tokens: tuple[str, ...] = getattr(self._local, "tokens", ())  # set by prepared(), per thread
        requests = [(kind, tokens, count, with_ties) for kind, count, with_ties in self.lexical] if tokens else []
        frequencies = self.frequencies(tokens) if requests else {}
        found = self._call("search", vector, k, ties, requests, self.totals, frequencies)
        self._local.prefetched = {
            request: merge_ranked([f[1][number] for f in found], request[2], request[3])
            for number, request in enumerate(requests)
        }
        return merge_ranked([f[0] for f in found], k, ties)

    def search_lexical(self, kind: str, tokens: Sequence[str], k: int, ties: bool) -> tuple[np.ndarray, np.ndarray]:
        request = (kind, tuple(tokens), k, ties)
        prefetched = getattr(self._local, "prefetched", {})
        if request in prefetched:
            return prefetched.pop(request)
        column = 0 if kind == "sentences" else 1
        frequencies = {t: f[column] for t, f in self.frequencies(tokens).items()}
        found = self._call("lexical", kind, tuple(tokens), k, ties, self.totals, frequencies)
        return merge_ranked(found, k, ties)


class ShardedDense:
    """The shards' dense indexes searched as one (``DenseSegments.search``)."""

    def __init__(self, selection: Selection, dim: int) -> None:
        self._selection = selection
        self.dim = dim

    @property
    def count(self) -> int:
        return self._selection.totals.sentences

    def search(self, query: np.ndarray, k: int, *, ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
        return self._selection.search_dense(np.asarray(query, dtype=np.float32).reshape(-1), k, ties)


class ShardedBM25:
    """The shards' BM25 over sentences or passages searched as one (``LexicalSegments``'s idf and search)."""

    def __init__(self, selection: Selection, kind: str, k1: float, b: float) -> None:
        self._selection = selection
        self.kind = kind
        self.k1, self.b = k1, b
        self._column = 0 if kind == "sentences" else 1

    @property
    def count(self) -> int:
        totals = self._selection.totals
        return totals.sentences if self.kind == "sentences" else totals.passages

    def idf(self, tokens: Sequence[str]) -> dict[str, float]:
        if self.kind == "sentences":  # how a question is prepared (retrieval.prepare_query)
            self._selection.prepared(tokens)
        frequencies = self._selection.frequencies(tokens)
        return {t: float(idf(frequencies[t][self._column], self.count)) for t in dict.fromkeys(tokens)}

    def search(self, tokens: Sequence[str], k: int, *, ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
        if k <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        return self._selection.search_lexical(self.kind, tokens, k, ties)


def _search_indexes(base: SearchIndexes, selection: Selection, dim: int, k1: float, b: float) -> SearchIndexes:
    """``base`` with its searches done by the shards over ``selection``'s rows."""
    return replace(
        base,
        dense=ShardedDense(selection, dim),
        sentence_lexical=ShardedBM25(selection, "sentences", k1, b),
        passage_lexical=ShardedBM25(selection, "passages", k1, b),
    )


class ShardedQueries(Queries):
    """``Queries`` whose filters mask the shards' rows instead of local structures."""

    def __init__(self, indexes: SearchIndexes, index: ShardedIndex, selection: Selection) -> None:
        super().__init__(indexes, index.config, lambda: index.embedder, index._lock)
        self._selection = selection
        self._entries = index._manifest.segments
        self._dimension = index._manifest.dimension

    def _restrict(self, doc_ids: tuple[str, ...]) -> SearchIndexes:
        """The search structures over ``doc_ids``: their rows masked on every shard (once per filter)."""
        shards = self._selection.shards
        key = hashlib.sha256("\0".join(doc_ids).encode()).hexdigest()[:16]
        masks = _filter_masks(self._indexes.store, doc_ids, shards.segments, self._entries)
        selection = Selection(shards, key, masks, self._selection.lexical)
        retrieval = self.config.retrieval
        return _search_indexes(self._indexes, selection, self._dimension, retrieval.bm25_k1, retrieval.bm25_b)


class ShardedIndex(Index):
    """An ``Index`` whose search structures live in Ray actors; answers as the single-process index does."""

    def __init__(
        self, path: Path, manifest: Manifest, indexes: SearchIndexes, embedder: Any, selection: Selection
    ) -> None:
        super().__init__(path, manifest, indexes, embedder)
        self.shards = selection.shards
        self._selection = selection
        self._queries = ShardedQueries(indexes, self, selection)

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]} shards={len(self.shards.actors)}>"

    def close(self) -> None:
        """Stop the shard actors and close the metadata."""
        self.shards.close()
        self._indexes.store.close()

    def add_files(self, files: Sequence[str | Path], *, folder: str = "", names: Sequence[str] | None = None) -> Index:
        """``Index.add_files``, and the updated index served on as many shards (at most one per segment)."""
        return self._sharded(super().add_files(files, folder=folder, names=names))

    def remove(self, doc_ids: Sequence[str]) -> Index:
        """``Index.remove``, and the updated index served on as many shards (at most one per segment)."""
        return self._sharded(super().remove(doc_ids))

    def rebuild(self) -> Index:
        """``Index.rebuild``, and the rebuilt index served on as many shards (at most one per segment)."""
        return self._sharded(super().rebuild())

    def _sharded(self, updated: Index) -> ShardedIndex:
        """The index ``updated`` (loaded in this process by the update) served on shards like this one's."""
        shards = min(len(self.shards.actors), len(updated._manifest.segments))
        index = load_sharded(self.path, self.shards._ray, shards, embedder=self._embedder)
        index.build_report = updated.build_report
        updated._indexes.store.close()
        return index


def _filter_masks(
    store: MetadataSegments,
    doc_ids: Sequence[str],
    shard_segments: Sequence[Sequence[str]],
    segments: Sequence[SegmentEntry],
) -> list[list[tuple[np.ndarray, np.ndarray]]]:
    """Per shard, per segment: the sentence and passage rows of ``doc_ids`` (as ``rag.filters.restrict`` masks)."""
    masks = {segment.name: mask for segment, mask in zip(segments, document_masks(store, doc_ids), strict=True)}
    return [[masks[name] for name in names] for names in shard_segments]


def _check_shards(shards: object) -> None:
    if not isinstance(shards, int) or isinstance(shards, bool) or shards < 1:
        raise RagError(f"shards must be a whole number of at least 1, got {shards!r}")


def group_segments(segments: Sequence[SegmentEntry], shards: int) -> list[list[int]]:
    """Segment numbers per shard, whole segments only, the live rows balanced (largest first)."""
    _check_shards(shards)
    if shards > len(segments):
        raise RagError(
            f"the index has {len(segments)} segment{'s' * (len(segments) != 1)}, so at most that many shards, "
            f"not {shards}: a shard holds whole segments (build with --ray to write one segment per batch)"
        )
    groups: list[list[int]] = [[] for _ in range(shards)]
    load = [0] * shards
    for number in sorted(range(len(segments)), key=lambda n: -segments[n].sentences):
        smallest = min(range(shards), key=lambda s: (load[s], s))
        groups[smallest].append(number)
        load[smallest] += segments[number].sentences
    return [sorted(group) for group in groups]


def load_on_cluster(index_dir: str | Path, ray: str | bool | None, shards: int | None, embedder: Any) -> ShardedIndex:
    """``load_index(..., ray=..., shards=...)``: join the cluster at ``ray`` and start the shards."""
    if shards is not None:
        _check_shards(shards)
    if ray is None or ray is False:
        raise RagError("shards are served by Ray actors: give the cluster too (ray=ADDRESS, or True for a local one)")
    return load_sharded(index_dir, connect(ray), 1 if shards is None else shards, embedder=embedder)


def load_sharded(index_dir: str | Path, ray: Any, shards: int, *, embedder: Any = None) -> ShardedIndex:
    """Open the index at ``index_dir`` with its search structures in ``shards`` Ray actors.

    Args:
        index_dir: A folder written by ``build_index``, on storage every node of the cluster sees.
        ray: The ``ray`` module, connected to the cluster (see ``rag.cluster.connect``).
        shards: How many actors; each holds a group of whole segments.
        embedder: Use this embedder instead of loading the index's own.
    """
    index_dir = Path(index_dir).resolve()

    def read(opened: Generation) -> ShardedIndex:
        return _serve_sharded(opened, ray, shards, embedder)

    return open_index(index_dir, read, encoder=None if embedder is None else embedder.name, verify=False)


def _serve_sharded(opened: Generation, ray: Any, shards: int, embedder: Any) -> ShardedIndex:
    """The opened generation served from ``shards`` actors, the driver holding its metadata and vectors."""
    index_dir, manifest, generation = opened.index_dir, opened.manifest, opened.path
    segments = manifest.segments
    config = Config.from_dict(manifest.settings)
    groups = group_segments(segments, shards)
    selection = _start_shards(ray, index_dir, generation, segments, groups, config)
    passage_arrays = [
        np.load(generation / s.name / PASSAGE_VECTORS, mmap_mode="r", allow_pickle=False) for s in segments
    ]
    retrieval = config.retrieval
    plain = SearchIndexes(
        dense=None,  # type: ignore[arg-type]  # set below, with the shards
        sentence_vectors=VectorSegments(opened.sentence_vectors, [s.first_row for s in segments]),
        passage_vectors=VectorSegments(passage_arrays, [s.first_passage for s in segments]),
        sentence_lexical=None,  # type: ignore[arg-type]
        passage_lexical=None,  # type: ignore[arg-type]
        store=opened.metadata,
    )
    dim = manifest.dimension
    indexes = _search_indexes(plain, selection, dim, retrieval.bm25_k1, retrieval.bm25_b)
    return ShardedIndex(index_dir, manifest, indexes, embedder, selection)


def _start_shards(
    ray: Any,
    index_dir: Path,
    generation: Path,
    segments: Sequence[SegmentEntry],
    groups: Sequence[Sequence[int]],
    config: Config,
) -> Selection:
    """One actor per group of segments, spread over the cluster's nodes, loaded and ready."""
    actor_class = ray.remote(Shard)
    options = {"num_cpus": SHARD_CPUS, "max_restarts": SHARD_RESTARTS, "max_task_retries": CALL_RETRIES}
    # Shard i goes to node i (round robin): Ray's SPREAD, and a soft affinity, are best effort
    # and put two of three shards on one node of three here. A shard whose process dies restarts
    # on its node; when the node itself is lost, its questions fail until the index is loaded again.
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = sorted(n["NodeID"] for n in ray.nodes() if n.get("Alive"))
    retrieval = config.retrieval
    actors: list[Any] = []  # Ray actor handles
    for group in groups:
        chosen = [segments[n] for n in group]
        place = NodeAffinitySchedulingStrategy(nodes[len(actors) % len(nodes)], soft=False) if nodes else "SPREAD"
        actors.append(
            actor_class.options(scheduling_strategy=place, **options).remote(
                str(index_dir), str(generation), chosen, retrieval.bm25_k1, retrieval.bm25_b
            )
        )
    names = [[segments[n].name for n in group] for group in groups]
    # The BM25 searches retrieval.candidate_rows runs after each dense search.
    lexical = [("sentences", retrieval.candidates, True), ("passages", max(1, retrieval.candidates // 3), True)]
    try:
        return Selection(Shards(ray, actors, names), None, None, lexical)
    except RagError as error:
        for actor in actors:
            ray.kill(actor, no_restart=True)
        raise IndexMismatchError(f"the index at {generation.parent} cannot be served: {error}") from None
