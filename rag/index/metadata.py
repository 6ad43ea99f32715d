"""Each segment's metadata in SQLite (documents, sentences, passages), and every segment's read as one.

``MetadataStore`` is one segment's database; ``MetadataPart`` places it among all rows and
names the documents taken out of it; ``MetadataSegments`` reads the parts as one corpus, in
which removed documents are invisible. Answer code receives typed records
(``SentenceRecord``, ``DocumentHeader``), never rows or JSON columns.
"""

from __future__ import annotations

import bisect
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np

from rag.errors import IndexMismatchError
from rag.index.manifest import rebuild_hint
from rag.types import Document, FileVersion, Passage, Sentence

# Each segment's metadata database is written once, by the build that owns its (private)
# generation folder, and is never written again: the generation/manifest protocol, not
# SQLite's journal, makes a build atomic. It is written in WAL mode with synchronous=FULL
# (each commit reaches the disk before it returns) and a busy timeout, then checkpointed and
# closed, which folds the -wal file back and deletes the sidecars: one self-contained file
# is what the manifest checksums. Readers open it read-only and immutable: no locks, no
# sidecar files, and an open connection keeps working after a later build deletes the
# generation. The busy timeout matters should anyone open the file without immutable.
SQLITE_BUSY_TIMEOUT_SECONDS = 5.0

# A committed segment never changes (above), so what a read-only store has read once it keeps,
# by row, passage or document: the sentences of a question's candidates come back for the
# questions after it, and reading them again was a third of an ask's time besides encoding the
# question (`python benchmarks/latency.py --sizes squad`). An update opens new stores; an old
# store's records stay true of the segment it reads. Bounded, oldest out first: a sentence
# record takes about 1.6 kB, a passage's tokens 3 kB (SQuAD), so at most about 12 MB in all.
CACHED_SENTENCES = 4_096
CACHED_PASSAGES = 1_024
CACHED_DOCUMENTS = 4  # whole texts: a quote reaching past its sentence reads its document
CACHED_DOCUMENT_CHARS = 500_000  # a longer one is read each time rather than held

_SCHEMA = """
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY, title TEXT NOT NULL, source TEXT NOT NULL, url TEXT NOT NULL,
    date TEXT NOT NULL, content_hash TEXT NOT NULL, text TEXT NOT NULL, pages TEXT NOT NULL,
    added_at TEXT NOT NULL, sentence_count INTEGER NOT NULL, file_sha256 TEXT NOT NULL,
    file_size INTEGER NOT NULL, file_mtime_ns INTEGER NOT NULL, file_ctime_ns INTEGER NOT NULL,
    file_inode INTEGER NOT NULL, read_at_ns INTEGER NOT NULL, encoding TEXT NOT NULL DEFAULT '',
    author TEXT NOT NULL DEFAULT ''
);
CREATE TABLE sentences (
    row INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, position INTEGER NOT NULL,
    paragraph INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    text TEXT NOT NULL, passage INTEGER NOT NULL, tokens TEXT NOT NULL
);
CREATE TABLE passages (
    row INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, position INTEGER NOT NULL,
    first INTEGER NOT NULL, last INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX sentences_by_position ON sentences (doc_id, position);
CREATE INDEX sentences_by_passage ON sentences (passage);
"""

_SENTENCE_COLUMNS = 'row, doc_id, position, paragraph, start, "end", text, passage, tokens'


_Key = TypeVar("_Key")
_Value = TypeVar("_Value")


class _Kept(Generic[_Key, _Value]):
    """At most ``size`` values by key, the oldest dropped first; safe to share between threads."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._values: dict[_Key, _Value] = {}
        self._lock = threading.Lock()

    def found(self, keys: Iterable[_Key]) -> tuple[dict[_Key, _Value], list[_Key]]:
        """The values held of ``keys``, and the keys not held (in the order given)."""
        found: dict[_Key, _Value] = {}
        missing: list[_Key] = []
        with self._lock:
            for key in keys:
                value = self._values.get(key, _ABSENT)
                if value is _ABSENT:
                    missing.append(key)
                else:
                    found[key] = value
        return found, missing

    def keep(self, values: dict[_Key, _Value]) -> None:
        with self._lock:
            self._values.update(values)
            while len(self._values) > self._size:
                del self._values[next(iter(self._values))]

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


_ABSENT: Any = object()


@dataclass(frozen=True, slots=True)
class SentenceRecord:
    """A stored sentence with what scoring and citing need (row is its vector's id)."""

    row: int
    sentence: Sentence
    passage: int
    tokens: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DocumentHeader:
    """A stored document without its text: what a citation names and what filters choose by."""

    doc_id: str
    title: str
    source: str
    url: str
    date: str
    content_hash: str
    sentences: int
    added_at: str
    pages: tuple[int, ...] = ()  # each page's start offset in the text (PDF); () for other formats
    encoding: str = ""  # the codec a text file was read in; "" for PDF, DOCX and indexes built before it was kept
    author: str = ""  # a DOCX's author property; "" when none, and in indexes built before it was kept

    def to_dict(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "title": self.title,
            "source": self.source,
            "url": self.url,
            "date": self.date,
            "content_hash": self.content_hash,
            "sentences": self.sentences,
            "added_at": self.added_at,
            "pages": list(self.pages),
            "encoding": self.encoding,
            "author": self.author,
        }


class MetadataStore:
    """Documents, sentences and passages in SQLite; sentence ``row`` is the vector id.

    Reads of a damaged database raise IndexMismatchError (saying how to rebuild), never
    sqlite3's own errors.
    """

    def __init__(self, connection: sqlite3.Connection, path: Path | None = None) -> None:
        self._db = connection
        self._path = path
        self._index_dir: Path | None = None
        self._writable = False
        self._added_columns: str | None = None
        # Filled only by a store opened read-only (``open``): one being written may still change.
        self._sentences: _Kept[int, SentenceRecord] = _Kept(CACHED_SENTENCES)
        self._passage_tokens: _Kept[int, tuple[str, ...]] = _Kept(CACHED_PASSAGES)
        self._passage_rows: _Kept[int, tuple[int, ...]] = _Kept(CACHED_PASSAGES)
        self._passages: _Kept[int, Passage] = _Kept(CACHED_PASSAGES)
        self._headers_kept: _Kept[str, DocumentHeader] = _Kept(CACHED_PASSAGES)
        self._documents: _Kept[str, Document | None] = _Kept(CACHED_DOCUMENTS)
        self._immutable = False

    @classmethod
    def create(cls, path: Path) -> MetadataStore:
        """A new database at ``path``, to be filled and committed once (see SQLITE_BUSY_TIMEOUT_SECONDS)."""
        connection = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_SECONDS, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.executescript(_SCHEMA)
        store = cls(connection, path)
        store._writable = True
        return store

    @classmethod
    def open(cls, path: Path, index_dir: Path | None = None) -> MetadataStore:
        """The committed database at ``path``, read-only and immutable (a segment never changes)."""
        # A URI built from the absolute path, percent-encoded: "#", "?" and "%" in a folder
        # name would otherwise be read as URI syntax and open another file.
        uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
        try:
            connection = sqlite3.connect(uri, uri=True, timeout=SQLITE_BUSY_TIMEOUT_SECONDS, check_same_thread=False)
            connection.execute("SELECT count(*) FROM documents").fetchone()
        except sqlite3.DatabaseError as error:
            raise IndexMismatchError(
                f"the index database {path} is unreadable ({error}); {rebuild_hint(index_dir or path.parent)}"
            ) from None
        store = cls(connection, path)
        store._index_dir = index_dir
        store._immutable = True
        return store

    def forget(self) -> None:
        """Drop what was kept of earlier reads (``benchmarks/latency.py`` measures an ask without them)."""
        for kept in (self._sentences, self._passage_tokens, self._passage_rows, self._passages):
            kept.clear()
        self._headers_kept.clear()
        self._documents.clear()

    def _rows(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple]:
        """Every row of a query (read at once, so that damage shows here, as IndexMismatchError)."""
        try:
            return self._db.execute(sql, parameters).fetchall()
        except sqlite3.DatabaseError as error:
            hint = f"; {rebuild_hint(self._index_dir or self._path.parent)}" if self._path else ""
            raise IndexMismatchError(f"the index database {self._path or ''} is damaged ({error}){hint}") from None

    def close(self) -> None:
        """Close the database; a written one is first checkpointed into its one file (no -wal, no -shm)."""
        # A failed write leaves a transaction open: that database is discarded, so just close it
        # (a checkpoint would fail too, and hide the first error).
        finished = self._writable and not self._db.in_transaction
        try:
            if finished:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            self._db.close()
        if finished and self._path is not None:
            left = [p for p in (Path(f"{self._path}-wal"), Path(f"{self._path}-shm")) if p.exists()]
            if left:
                raise OSError(f"SQLite left {', '.join(p.name for p in left)} beside {self._path}")

    def add_document(self, document: Document, sentence_count: int, added_at: str, file: FileVersion) -> None:
        self._db.execute(
            "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                document.doc_id, document.title, document.source, document.url, document.date,
                document.content_hash, document.text, json.dumps(list(document.pages)), added_at, sentence_count,
                file.sha256, file.size, file.mtime_ns, file.ctime_ns, file.inode, file.read_at_ns,
                document.encoding, document.author,
            ),
        )  # fmt: skip

    def add_sentences(
        self, first_row: int, sentences: Sequence[Sentence], passages: Sequence[int], tokens: Iterable[Sequence[str]]
    ) -> None:
        rows = (
            (first_row + i, s.doc_id, s.position, s.paragraph, s.start, s.end, s.text, passages[i], " ".join(t))
            for i, (s, t) in enumerate(zip(sentences, tokens, strict=True))
        )
        self._db.executemany("INSERT INTO sentences VALUES (?,?,?,?,?,?,?,?,?)", rows)

    def add_passages(self, first_row: int, passages: Sequence[Passage]) -> None:
        rows = (
            (first_row + i, p.doc_id, p.position, p.first, p.last, p.start, p.end, p.text)
            for i, p in enumerate(passages)
        )
        self._db.executemany("INSERT INTO passages VALUES (?,?,?,?,?,?,?,?)", rows)

    def commit(self) -> None:
        self._db.commit()

    def sentences(self, rows: Iterable[int]) -> dict[int, SentenceRecord]:
        """The stored sentences with the given rows, by row in ascending order (missing rows are left out)."""
        return self._kept(self._sentences, sorted({int(r) for r in rows}), self._read_sentences)

    def _read_sentences(self, wanted: list[int]) -> dict[int, SentenceRecord]:
        marks = _marks(wanted)
        found = self._rows(f"SELECT {_SENTENCE_COLUMNS} FROM sentences WHERE row IN ({marks})", wanted)
        return {r[0]: _sentence_record(r) for r in found}

    def _kept(
        self, kept: _Kept[_Key, _Value], keys: list[_Key], read: Callable[[list[_Key]], dict[_Key, _Value]]
    ) -> dict[_Key, _Value]:
        """``read(keys)`` in the order of ``keys``; read-only, only the keys not read before are read."""
        if not keys:
            return {}
        if not self._immutable:
            return read(keys)
        found, missing = kept.found(keys)
        if missing:
            fresh = read(missing)
            kept.keep(fresh)
            found.update(fresh)
        return {key: found[key] for key in keys if key in found}

    def rows_for_contents(self, content_hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """Content hash -> the sentence rows, in order, of a document with that text (those held here)."""
        wanted = sorted(set(content_hashes))
        rows: dict[str, np.ndarray] = {}
        for chunk in _chunks(wanted):
            found = self._rows(
                "SELECT d.content_hash, s.doc_id, s.row FROM documents d JOIN sentences s ON s.doc_id = d.doc_id "
                f"WHERE d.content_hash IN ({_marks(chunk)}) ORDER BY s.doc_id, s.position",
                chunk,
            )
            by_document: dict[tuple[str, str], list[int]] = {}
            for content, doc_id, row in found:
                by_document.setdefault((content, doc_id), []).append(row)
            for (content, _), document_rows in by_document.items():
                rows.setdefault(content, np.asarray(document_rows, dtype=np.int64))  # copies share vectors
        return rows

    def rows_by_text(self, doc_id: str) -> dict[str, int]:
        """Sentence text -> its row, for the sentences of one document."""
        return dict(self._rows("SELECT text, row FROM sentences WHERE doc_id = ? ORDER BY position DESC", (doc_id,)))

    def document_index(self) -> list[tuple[str, str, str, int, FileVersion]]:
        """(doc_id, content_hash, added_at, sentence count, file version) of every document held here."""
        rows = self._rows(
            "SELECT doc_id, content_hash, added_at, sentence_count, file_sha256, file_size, file_mtime_ns, "
            "file_ctime_ns, file_inode, read_at_ns FROM documents ORDER BY doc_id"
        )
        return [(*r[:4], FileVersion(*r[4:])) for r in rows]

    def rows_of_documents(self, doc_ids: Iterable[str]) -> tuple[list[int], list[int]]:
        """The sentence rows and the passage rows of the given documents."""
        sentences: list[int] = []
        passages: list[int] = []
        for chunk in _chunks(sorted(set(doc_ids))):
            sentences += [
                r[0] for r in self._rows(f"SELECT row FROM sentences WHERE doc_id IN ({_marks(chunk)})", chunk)
            ]
            passages += [r[0] for r in self._rows(f"SELECT row FROM passages WHERE doc_id IN ({_marks(chunk)})", chunk)]
        return sentences, passages

    def sentences_of(self, doc_id: str) -> list[Sentence]:
        """Every sentence of one document, in order."""
        found = self._rows(
            'SELECT doc_id, position, paragraph, start, "end", text FROM sentences WHERE doc_id = ? ORDER BY position',
            (doc_id,),
        )
        return [Sentence(*r) for r in found]

    def passages_of(self, doc_id: str) -> list[Passage]:
        """Every passage of one document, in order."""
        found = self._rows(
            'SELECT doc_id, position, first, last, start, "end", text FROM passages WHERE doc_id = ? ORDER BY position',
            (doc_id,),
        )
        return [Passage(*r) for r in found]

    def passage_tokens(self, passages: Iterable[int]) -> dict[int, tuple[str, ...]]:
        """All tokens of each passage (the union of its sentences' tokens), by passage in ascending order."""
        return self._kept(self._passage_tokens, sorted({int(p) for p in passages}), self._read_passage_tokens)

    def _read_passage_tokens(self, wanted: list[int]) -> dict[int, tuple[str, ...]]:
        marks = _marks(wanted)
        result: dict[int, list[str]] = {p: [] for p in wanted}
        for passage, tokens in self._rows(f"SELECT passage, tokens FROM sentences WHERE passage IN ({marks})", wanted):
            result[passage].extend(tokens.split())
        return {passage: tuple(tokens) for passage, tokens in result.items()}

    def rows_of_passages(self, passages: Iterable[int]) -> list[int]:
        """The sentence rows of the given passages, in row order."""
        found = self._kept(self._passage_rows, sorted({int(p) for p in passages}), self._read_passage_rows)
        return sorted(row for rows in found.values() for row in rows)

    def _read_passage_rows(self, wanted: list[int]) -> dict[int, tuple[int, ...]]:
        marks = _marks(wanted)
        result: dict[int, list[int]] = {p: [] for p in wanted}
        for passage, row in self._rows(f"SELECT passage, row FROM sentences WHERE passage IN ({marks})", wanted):
            result[passage].append(row)
        return {passage: tuple(rows) for passage, rows in result.items()}

    def passages(self, rows: Iterable[int]) -> dict[int, Passage]:
        """The stored passages with the given rows, by row in ascending order (missing rows are left out)."""
        return self._kept(self._passages, sorted({int(r) for r in rows}), self._read_passages)

    def _read_passages(self, wanted: list[int]) -> dict[int, Passage]:
        marks = _marks(wanted)
        found = self._rows(
            f'SELECT row, doc_id, position, first, last, start, "end", text FROM passages WHERE row IN ({marks})',
            wanted,
        )
        return {r[0]: Passage(*r[1:]) for r in found}

    def document(self, doc_id: str) -> Document | None:
        """The document ``doc_id`` with its text; None when this store does not hold it."""
        if self._immutable:
            kept, _ = self._documents.found([doc_id])
            if doc_id in kept:
                return kept[doc_id]
        document = self._read_document(doc_id)
        if self._immutable and (document is None or len(document.text) <= CACHED_DOCUMENT_CHARS):
            self._documents.keep({doc_id: document})
        return document

    def _read_document(self, doc_id: str) -> Document | None:
        rows = self._rows(
            f"SELECT doc_id, text, title, source, url, date, content_hash, pages, {self._added()} "
            "FROM documents WHERE doc_id = ?",
            (doc_id,),
        )
        if not rows:
            return None
        doc_id, text, title, source, url, date, content_hash, pages, encoding, author = rows[0]
        return Document(
            doc_id, text, title, source, url, date, content_hash, tuple(json.loads(pages)), encoding, author
        )

    def document_headers(self) -> list[DocumentHeader]:
        """Every document held here, without its text."""
        return self._headers("ORDER BY doc_id")

    def headers_for(self, doc_ids: Iterable[str]) -> dict[str, DocumentHeader]:
        """The headers of the given documents, by id in sorted order (missing ones are left out)."""
        return self._kept(self._headers_kept, sorted(set(doc_ids)), self._read_headers)

    def _read_headers(self, wanted: list[str]) -> dict[str, DocumentHeader]:
        return {h.doc_id: h for h in self._headers(f"WHERE doc_id IN ({_marks(wanted)})", wanted)}

    def _headers(self, clause: str, parameters: Sequence[Any] = ()) -> list[DocumentHeader]:
        columns = f"doc_id, title, source, url, date, content_hash, sentence_count, added_at, pages, {self._added()}"
        return [_header(*row) for row in self._rows(f"SELECT {columns} FROM documents {clause}", parameters)]

    def _added(self) -> str:
        """The columns added after format 3 was defined (encoding, author), or '' for each in a segment
        written before them: they have defaults, so the format and the manifest stay as they were."""
        if self._added_columns is None:
            names = {row[1] for row in self._rows("PRAGMA table_info(documents)")}
            self._added_columns = ", ".join(c if c in names else "''" for c in ("encoding", "author"))
        return self._added_columns


def _chunks(values: list[Any], size: int = 500) -> Iterator[list[Any]]:
    """``values`` in slices small enough for one statement (SQLite caps its parameters)."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


def _sentence_record(row: tuple) -> SentenceRecord:
    sentence = Sentence(doc_id=row[1], position=row[2], paragraph=row[3], start=row[4], end=row[5], text=row[6])
    return SentenceRecord(row=row[0], sentence=sentence, passage=row[7], tokens=tuple(row[8].split()))


def _header(
    doc_id: str, title: str, source: str, url: str, date: str, content_hash: str, sentences: int, added_at: str,
    pages: str, encoding: str, author: str,
) -> DocumentHeader:  # fmt: skip
    """A DocumentHeader from its row in ``documents`` (``pages`` is a JSON list)."""
    return DocumentHeader(
        doc_id, title, source, url, date, content_hash, sentences, added_at, tuple(json.loads(pages)), encoding, author
    )


@dataclass(frozen=True, slots=True)
class LiveDocument:
    """Where a live document is stored and what it was made from."""

    segment: int  # its segment's number, in manifest order
    content_hash: str
    added_at: str
    sentences: int
    file: FileVersion  # the file it was read from


@dataclass(frozen=True, slots=True)
class MetadataPart:
    """One segment's database, where its rows sit among all rows, and its removed documents."""

    store: MetadataStore
    first_row: int
    sentences: int
    first_passage: int
    passages: int
    removed: frozenset[str] = frozenset()


class MetadataSegments:
    """The metadata of every segment read as one corpus, in which removed documents are invisible.

    Rows (sentences) and passages are numbered across segments, so reads by row go to the
    segment holding that range; reads by document go to the one segment where it is live.
    """

    def __init__(self, parts: Sequence[MetadataPart]) -> None:
        self.parts = tuple(sorted(parts, key=lambda p: p.first_row))
        self._first_rows = [p.first_row for p in self.parts]
        self._first_passages = [p.first_passage for p in self.parts]
        self._live: dict[str, LiveDocument] = {}
        for number, part in enumerate(self.parts):
            for doc_id, content_hash, added_at, sentences, file in part.store.document_index():
                if doc_id in part.removed:
                    continue
                if doc_id in self._live:
                    raise IndexMismatchError(f"the index lists document {doc_id!r} twice (damaged?)")
                self._live[doc_id] = LiveDocument(number, content_hash, added_at, sentences, file)

    def close(self) -> None:
        for part in self.parts:
            part.store.close()

    def forget(self) -> None:
        """Drop what every segment's store kept of earlier reads (see ``MetadataStore.forget``)."""
        for part in self.parts:
            part.store.forget()

    def live_documents(self) -> dict[str, LiveDocument]:
        """Every live document by doc_id."""
        return dict(self._live)

    def live_document(self, doc_id: str) -> LiveDocument | None:
        """The live document ``doc_id`` (None when it is not live), without copying them all."""
        return self._live.get(doc_id)

    def dead_rows(self, number: int) -> tuple[list[int], list[int]]:
        """The sentence and passage rows of segment ``number`` that belong to removed documents."""
        part = self.parts[number]
        return part.store.rows_of_documents(part.removed) if part.removed else ([], [])

    def rows_for_contents(self, content_hashes: Iterable[str]) -> dict[str, tuple[int, np.ndarray]]:
        """Content hash -> (segment number, sentence rows) of a document with that text, live or removed."""
        wanted = set(content_hashes)
        found: dict[str, tuple[int, np.ndarray]] = {}
        for number in reversed(range(len(self.parts))):  # the newest segment first
            for content, rows in self.parts[number].store.rows_for_contents(wanted - set(found)).items():
                found[content] = (number, rows)
        return found

    def rows_by_text(self, doc_id: str) -> tuple[int, dict[str, int]]:
        """The segment number of a live document and its sentences' rows by text (({}) when not live)."""
        live = self._live.get(doc_id)
        return (-1, {}) if live is None else (live.segment, self.parts[live.segment].store.rows_by_text(doc_id))

    def _by_part(self, values: Iterable[int], firsts: list[int]) -> dict[int, list[int]]:
        # bisect, not numpy: a question reads a few dozen rows, too few for an array to pay.
        grouped: dict[int, list[int]] = {}
        for value in sorted({int(v) for v in values}):
            number = bisect.bisect_right(firsts, value) - 1
            if number >= 0:
                grouped.setdefault(number, []).append(value)
        return grouped

    def sentences(self, rows: Iterable[int]) -> dict[int, SentenceRecord]:
        """The stored sentences with the given rows (missing rows are left out)."""
        found: dict[int, SentenceRecord] = {}
        for number, wanted in self._by_part(rows, self._first_rows).items():
            found.update(self.parts[number].store.sentences(wanted))
        return found

    def passages(self, rows: Iterable[int]) -> dict[int, Passage]:
        found: dict[int, Passage] = {}
        for number, wanted in self._by_part(rows, self._first_passages).items():
            found.update(self.parts[number].store.passages(wanted))
        return found

    def passage_tokens(self, passages: Iterable[int]) -> dict[int, tuple[str, ...]]:
        """All tokens of each passage (the union of its sentences' tokens)."""
        found: dict[int, tuple[str, ...]] = {}
        for number, wanted in self._by_part(passages, self._first_passages).items():
            found.update(self.parts[number].store.passage_tokens(wanted))
        return found

    def rows_of_passages(self, passages: Iterable[int]) -> list[int]:
        """The sentence rows of the given passages, in row order."""
        rows: list[int] = []
        for number, wanted in sorted(self._by_part(passages, self._first_passages).items()):
            rows += self.parts[number].store.rows_of_passages(wanted)
        return rows

    def _live_store(self, doc_id: str) -> MetadataStore | None:
        live = self._live.get(doc_id)
        return None if live is None else self.parts[live.segment].store

    def document(self, doc_id: str) -> Document | None:
        store = self._live_store(doc_id)
        return None if store is None else store.document(doc_id)

    def sentences_of(self, doc_id: str) -> list[Sentence]:
        """Every sentence of one document, in order."""
        store = self._live_store(doc_id)
        return [] if store is None else store.sentences_of(doc_id)

    def passages_of(self, doc_id: str) -> list[Passage]:
        """Every passage of one document, in order."""
        store = self._live_store(doc_id)
        return [] if store is None else store.passages_of(doc_id)

    def document_headers(self) -> list[DocumentHeader]:
        """Every live document, without its text, by doc_id."""
        return sorted(self.headers_for(self._live).values(), key=lambda h: h.doc_id)

    def headers_for(self, doc_ids: Iterable[str]) -> dict[str, DocumentHeader]:
        """The headers of the given live documents, by id (others are left out)."""
        grouped: dict[int, list[str]] = {}
        for doc_id in set(doc_ids):
            if doc_id in self._live:
                grouped.setdefault(self._live[doc_id].segment, []).append(doc_id)
        found: dict[str, DocumentHeader] = {}
        for number, wanted in grouped.items():
            for chunk in _chunks(sorted(wanted)):
                found.update(self.parts[number].store.headers_for(chunk))
        return found
