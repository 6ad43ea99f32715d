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
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from rag.answer.queries import Queries
from rag.cluster.connect import connect
from rag.cluster.shard import (
    Shard,
    Totals,
    UnknownSelection,
    merge_ranked,
)
from rag.config import Config
from rag.errors import IndexMismatchError, RagError
from rag.index.dense import VectorSegments
from rag.index.lexical import idf
from rag.index.manifest import Manifest, SegmentEntry
from rag.index.metadata import MetadataSegments
from rag.index.open import Generation, open_index
from rag.index.segment import PASSAGE_VECTORS
from rag.pipeline import Index
from rag.search.filters import document_masks
from rag.search.retrieval import SearchIndexes

logger = logging.getLogger(__name__)

SHARD_RESTARTS = 3  # how often Ray restarts a dead shard before its questions fail
CALL_RETRIES = 3  # how often a call to a restarted shard is tried again
CALL_TIMEOUT = 120.0  # seconds a shard may take to answer (a restart reloads its segments)
# The driver holds every term's corpus-wide document frequencies when the vocabulary has at
# most this many terms (about 100 MB of Python objects); above, it asks the shards for each
# question's new terms and caches FREQUENCIES_KEPT of them.
VOCABULARY_KEPT = 1_000_000
FREQUENCIES_KEPT = 100_000
# A shard's work per question is a few milliseconds: it reserves no CPU, so that a small
# cluster can serve and build at once. Its memory is what it holds (see benchmarks/scale.py).
SHARD_CPUS = 0


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
    """Per shard, per segment: the sentence and passage rows of ``doc_ids`` (as ``filters.restrict`` masks)."""
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
