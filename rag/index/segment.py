"""One segment of an index: the one list of its file names, writing it, and opening it.

A segment holds the documents one build or update wrote: their metadata (SQLite), the
sentence and passage vectors, the sentence vector index (faiss) and BM25 term frequencies
of sentences and of passages. Its files are never changed once written; later updates only
list documents as removed from it in the manifest.
"""

from __future__ import annotations

import threading
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.config import Config
from rag.index.dense import DenseIndex, RowFile, RowWriter, save_mean_vectors
from rag.index.lexical import LexicalIndex, TokenRows
from rag.index.manifest import SEGMENT_DATABASE, SegmentEntry
from rag.index.metadata import MetadataPart, MetadataSegments, MetadataStore
from rag.ingest import Skipped
from rag.text.chunking import chunk_passages
from rag.text.sentences import split_sentences
from rag.types import Document, FileVersion, Passage, Sentence

DATABASE = SEGMENT_DATABASE  # documents, sentences and passages (rag.index.metadata)
SENTENCE_VECTORS = "sentence_vectors.npy"
PASSAGE_VECTORS = "passage_vectors.npy"
SENTENCE_DENSE = "sentences.faiss"
IVF_CENTROIDS = "ivf_centroids.npy"  # only when the segment's vector index is IVF
SENTENCE_BM25 = "bm25-sentences"  # a folder (rag.index.lexical names the files inside)
PASSAGE_BM25 = "bm25-passages"
SEGMENT_FILES = (
    DATABASE,
    SENTENCE_VECTORS,
    PASSAGE_VECTORS,
    SENTENCE_DENSE,
    IVF_CENTROIDS,
    SENTENCE_BM25,
    PASSAGE_BM25,
)
# numpy parses every .npy header with ast.literal_eval, and on CPython 3.11 building ASTs in
# two threads at once can fail with "SystemError: AST constructor recursion depth mismatch"
# (python/cpython#106905): index files are opened one load at a time.
_OPEN_LOCK = threading.RLock()


class SpanRows(Sequence[Any]):
    """The sentences (or passages) of a segment's documents, kept as integer columns and made on demand.

    As objects, each with its own copy of its text, they took about 360 bytes a sentence, more
    than the text itself (a 45 MB file of prose has 357,000 sentences); here a row costs its
    integers, and its text is sliced from its document's when the row is read. Reading row ``i``
    gives the ``Sentence`` (or ``Passage``) that was added as row ``i``, equal field for field.
    """

    __slots__ = ("_kind", "_fields", "_texts", "_ids", "_numbers", "_document", "_columns")

    def __init__(self, kind: type[Sentence] | type[Passage]) -> None:
        self._kind = kind
        self._fields = _INTEGER_FIELDS[kind]
        self._texts: list[str] = []  # each document's text, by number
        self._ids: list[str] = []
        self._numbers: dict[str, int] = {}
        self._document = array("i")
        self._columns = tuple(array("q") for _ in self._fields)

    def add(self, document: Document, rows: Iterable[Sentence] | Iterable[Passage]) -> None:
        """Append rows of ``document`` (their text must be the document's at their span)."""
        number = self._numbers.setdefault(document.doc_id, len(self._ids))
        if number == len(self._ids):
            self._ids.append(document.doc_id)
            self._texts.append(document.text)
        for row in rows:
            if row.doc_id != document.doc_id or self._texts[number][row.start : row.end] != row.text:
                raise ValueError(f"{row!r} is not a span of document {document.doc_id}")
            self._document.append(number)
            for column, name in zip(self._columns, self._fields, strict=True):
                column.append(getattr(row, name))

    def extend(self, other: SpanRows) -> None:
        """Append every row of ``other`` (rows of the same kind, of documents added there)."""
        renumber = []
        for doc_id, text in zip(other._ids, other._texts, strict=True):
            number = self._numbers.setdefault(doc_id, len(self._ids))
            if number == len(self._ids):
                self._ids.append(doc_id)
                self._texts.append(text)
            renumber.append(number)
        self._document.extend(renumber[n] for n in other._document)
        for mine, theirs in zip(self._columns, other._columns, strict=True):
            mine.extend(theirs)

    def __len__(self) -> int:
        return len(self._document)

    def __getitem__(self, index: int | slice) -> Any:  # Sentence | Passage, or a list of them
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        number = self._document[index]
        values = {name: column[index] for name, column in zip(self._fields, self._columns, strict=True)}
        text = self._texts[number][values["start"] : values["end"]]
        return self._kind(doc_id=self._ids[number], text=text, **values)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SpanRows | list | tuple):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # mutable, like a list

    def texts(self, start: int = 0, stop: int | None = None) -> Iterator[str]:
        """The texts of rows ``start`` to ``stop``, without making their objects."""
        return (self.text(row) for row in range(start, len(self) if stop is None else stop))

    def doc_ids(self) -> Iterator[str]:
        """Each row's doc_id."""
        return (self._ids[number] for number in self._document)

    def text(self, row: int) -> str:
        """The text of one row, without making its object."""
        start, end = self._columns[-2][row], self._columns[-1][row]  # every kind's fields end with start, end
        return self._texts[self._document[row]][start:end]

    def text_view(self, rows: np.ndarray | None = None) -> Sequence[str]:
        """The texts of ``rows`` (default: every row) as a sequence, each sliced when read: what
        the encoder is given, so that the texts of every sentence are never all held at once."""
        return _TextView(self, np.arange(len(self)) if rows is None else np.asarray(rows, dtype=np.int64))


class _TextView(Sequence[str]):
    __slots__ = ("_rows", "_numbers")

    def __init__(self, rows: SpanRows, numbers: np.ndarray) -> None:
        self._rows, self._numbers = rows, numbers

    def __len__(self) -> int:
        return len(self._numbers)

    def __getitem__(self, index: int | slice) -> Any:  # str, or a list of str for a slice
        if isinstance(index, slice):
            return [self._rows.text(row) for row in self._numbers[index].tolist()]
        return self._rows.text(int(self._numbers[index]))


# Each kind's integer fields, start and end last (SpanRows.text reads them there).
_INTEGER_FIELDS: dict[type, tuple[str, ...]] = {
    Sentence: ("position", "paragraph", "start", "end"),
    Passage: ("position", "first", "last", "start", "end"),
}


@dataclass(slots=True)
class SegmentContents:
    """Documents split into sentences and passages: what a new segment is written from."""

    documents: list[Document] = field(default_factory=list)
    files: list[FileVersion] = field(default_factory=list)
    sentences: SpanRows = field(default_factory=lambda: SpanRows(Sentence))
    passages: SpanRows = field(default_factory=lambda: SpanRows(Passage))
    sentence_passage: array = field(default_factory=lambda: array("q"))  # each sentence's passage, from 0
    skipped: list[Skipped] = field(default_factory=list)


def split_documents(documents: Sequence[tuple[Document, FileVersion]], config: Config) -> SegmentContents:
    """Split each document into sentences and passages; one without sentences is skipped."""
    contents = SegmentContents()
    for document, file in documents:
        sentences = split_sentences(document.text, document.doc_id)
        if not sentences:
            contents.skipped.append(Skipped(document.doc_id, "no sentences after splitting"))
            continue
        passages = chunk_passages(
            document.text,
            sentences,
            max_sentences=config.chunking.passage_sentences,
            max_tokens=config.chunking.passage_max_tokens,
        )
        # Each sentence's passage: the last passage that starts at or before its position.
        firsts = np.fromiter((p.first for p in passages), dtype=np.int64, count=len(passages))
        lasts = np.fromiter((p.last for p in passages), dtype=np.int64, count=len(passages))
        positions = np.fromiter((s.position for s in sentences), dtype=np.int64, count=len(sentences))
        owner = np.searchsorted(firsts, positions, side="right") - 1
        if np.any(owner < 0) or np.any(positions > lasts[owner]):
            raise ValueError(f"the passages of {document.doc_id} do not cover each of its sentences")
        contents.sentence_passage.extend((owner + len(contents.passages)).tolist())
        contents.documents.append(document)
        contents.files.append(file)
        contents.sentences.add(document, sentences)
        contents.passages.add(document, passages)
    return contents


# Writes every sentence's vector into the segment's vector file (rows in sentence order).
FillVectors = Callable[[RowWriter], None]


def write_segment(
    folder: Path,
    contents: SegmentContents,
    vectors: tuple[int, FillVectors],
    first: tuple[int, int],
    added_before: dict[str, str],
    centroids: np.ndarray | None,
) -> str:
    """Write one segment (metadata, BM25 and vector files) of the parsed documents; returns its index kind.

    Args:
        folder: The segment's folder (created here).
        contents: Its documents, sentences and passages.
        vectors: Their dimension, and what writes one vector per sentence into the vector file.
            The vectors go to the file as they are made and are read back from it a slice
            at a time: a build never holds them all (they are 14 times the size of prose).
        first: The global numbers of its first sentence row and first passage.
        added_before: When documents already indexed were first added (kept across updates).
        centroids: IVF cells to reuse, if the vector index is to be IVF.
    """
    folder.mkdir()
    dim, fill = vectors
    with RowWriter(folder / SENTENCE_VECTORS, len(contents.sentences), dim) as out:
        fill(out)
    with _OPEN_LOCK:
        written = RowFile(folder / SENTENCE_VECTORS)
    sentence_tokens = TokenRows.of_texts(contents.sentences.texts())
    _write_metadata(folder, contents, sentence_tokens, first, added_before)
    return _write_search_files(folder, contents, sentence_tokens, written, centroids)


def segment_vectors(generation: Path, segment: SegmentEntry) -> RowFile:
    """A segment's sentence vectors, to be read a slice at a time (an update reusing them)."""
    with _OPEN_LOCK:
        return RowFile(generation / segment.name / SENTENCE_VECTORS)


def _write_metadata(
    folder: Path,
    contents: SegmentContents,
    sentence_tokens: TokenRows,
    first: tuple[int, int],
    added_before: dict[str, str],
) -> None:
    first_row, first_passage = first
    store = MetadataStore.create(folder / DATABASE)
    try:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        counts = Counter(contents.sentences.doc_ids())
        for document, file in zip(contents.documents, contents.files, strict=True):
            added_at = added_before.get(document.doc_id, now)
            store.add_document(document, counts[document.doc_id], added_at, file)
        passages = array("q", (first_passage + p for p in contents.sentence_passage))
        store.add_sentences(first_row, contents.sentences, passages, sentence_tokens)
        store.add_passages(first_passage, contents.passages)
        store.commit()
    finally:
        store.close()


def _write_search_files(
    folder: Path,
    contents: SegmentContents,
    sentence_tokens: TokenRows,
    vectors: RowFile,
    centroids: np.ndarray | None,
) -> str:
    LexicalIndex.build(sentence_tokens).save(folder / SENTENCE_BM25)
    passage_tokens = sentence_tokens.grouped(contents.sentence_passage, len(contents.passages))
    LexicalIndex.build(passage_tokens).save(folder / PASSAGE_BM25)
    save_mean_vectors(folder / PASSAGE_VECTORS, vectors, contents.sentence_passage, len(contents.passages))
    kind, cells = DenseIndex.write(vectors, folder / SENTENCE_DENSE, centroids=centroids)
    if cells is not None:
        np.save(folder / IVF_CENTROIDS, cells, allow_pickle=False)
    return kind


def read_centroids(generation: Path, segment: SegmentEntry) -> np.ndarray | None:
    """The IVF cells of a segment, if its vector index has them."""
    cells = generation / segment.name / IVF_CENTROIDS
    return np.load(cells, allow_pickle=False) if cells.is_file() else None


def open_metadata(
    index_dir: Path, generation: Path, segments: Sequence[SegmentEntry]
) -> tuple[MetadataSegments, list[np.ndarray]]:
    """The segments' metadata read as one, and each segment's sentence vectors (memory-mapped)."""
    parts, vectors = [], []
    try:
        for segment in segments:
            folder = generation / segment.name
            with _OPEN_LOCK:
                vectors.append(np.load(folder / SENTENCE_VECTORS, mmap_mode="r", allow_pickle=False))
            store = MetadataStore.open(folder / DATABASE, index_dir)
            parts.append(
                MetadataPart(
                    store=store,
                    first_row=segment.first_row,
                    sentences=segment.sentences,
                    first_passage=segment.first_passage,
                    passages=segment.passages,
                    removed=frozenset(segment.removed),
                )
            )
        return MetadataSegments(parts), vectors
    except BaseException:
        for part in parts:
            part.store.close()
        raise


@dataclass(frozen=True, slots=True)
class SearchFiles:
    """One segment's search structures as opened from its files, and which of its rows are live."""

    dense: DenseIndex
    passage_vectors: np.ndarray
    sentence_lexical: LexicalIndex
    passage_lexical: LexicalIndex
    live_sentences: np.ndarray | None  # a bool per row; None: every row is live
    live_passages: np.ndarray | None


def open_search_files(
    generation: Path, number: int, segment: SegmentEntry, metadata: MetadataSegments, sentence_vectors: np.ndarray
) -> SearchFiles:
    """Open segment ``number``'s vector and BM25 files (ValueError when they disagree with its entry)."""
    folder = generation / segment.name
    live_sentences, live_passages = _live_masks(metadata, number, segment)
    with _OPEN_LOCK:
        dense = DenseIndex.load(folder / SENTENCE_DENSE)
        passages = np.load(folder / PASSAGE_VECTORS, mmap_mode="r", allow_pickle=False)
        sentence_lexical = LexicalIndex.load(folder / SENTENCE_BM25)
        passage_lexical = LexicalIndex.load(folder / PASSAGE_BM25)
    files = SearchFiles(dense, passages, sentence_lexical, passage_lexical, live_sentences, live_passages)
    _check_rows(segment, sentence_vectors, files)
    return files


def _live_masks(
    metadata: MetadataSegments, number: int, segment: SegmentEntry
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Which sentence and passage rows of a segment are live (None: all of them)."""
    if not segment.removed:
        return None, None
    dead_sentences, dead_passages = metadata.dead_rows(number)
    sentences = np.ones(segment.sentences, dtype=bool)
    sentences[np.asarray(dead_sentences, dtype=np.int64) - segment.first_row] = False
    passages = np.ones(segment.passages, dtype=bool)
    passages[np.asarray(dead_passages, dtype=np.int64) - segment.first_passage] = False
    return sentences, passages


def _check_rows(segment: SegmentEntry, vectors: np.ndarray, files: SearchFiles) -> None:
    """Every file of a segment must hold the rows its manifest entry says (a mismatch is damage)."""
    sentences, passages = segment.sentences, segment.passages
    held = (
        len(vectors),
        files.dense.count,
        files.sentence_lexical.count,
        len(files.passage_vectors),
        files.passage_lexical.count,
    )
    if held != (sentences, sentences, sentences, passages, passages):
        raise ValueError(f"segment {segment.name} holds {held} rows, its manifest says {sentences}/{passages}")
