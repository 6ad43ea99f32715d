"""The index directory on disk: generations of files, manifest.json as the commit point, SQLite metadata.

Layout::

    INDEX/manifest.json      names the live generation, its settings, counts and file checksums
    INDEX/.lock              held by the one process writing this index
    INDEX/gen-<id>/          meta.sqlite, vector and BM25 files of one build

A build writes a new generation beside the live one and then replaces manifest.json
atomically, so a crash at any point leaves the previous index loadable.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import IndexLockedError, IndexMismatchError, IndexNotFoundError
from rag.types import Document, Passage, Sentence

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DATABASE = "meta.sqlite"
# Checksums of every file are verified at load below this size; larger indexes check sizes
# only (hashing gigabytes would dominate start-up) unless a full check is asked for.
VERIFY_LIMIT_BYTES = 256 * 1024 * 1024

_SCHEMA = """
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY, title TEXT NOT NULL, source TEXT NOT NULL, url TEXT NOT NULL,
    date TEXT NOT NULL, content_hash TEXT NOT NULL, text TEXT NOT NULL, pages TEXT NOT NULL,
    added_at TEXT NOT NULL, sentence_count INTEGER NOT NULL
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


@dataclass(frozen=True, slots=True)
class SentenceRecord:
    """A stored sentence with what scoring and citing need (row is its vector's id)."""

    row: int
    sentence: Sentence
    passage: int
    tokens: tuple[str, ...]


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON to a temporary file, fsync it, and rename it over ``path``."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, ensure_ascii=False)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    _fsync_path(path.parent)


def file_checksums(folder: Path) -> dict[str, dict[str, int | str]]:
    """Size and sha256 of every file under ``folder``, keyed by relative path."""
    result: dict[str, dict[str, int | str]] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        result[path.relative_to(folder).as_posix()] = {"size": path.stat().st_size, "sha256": digest.hexdigest()}
    return result


def rebuild_hint(index_dir: Path) -> str:
    return f"rebuild it with: rag index CORPUS --index {index_dir}"


def read_manifest(index_dir: Path) -> dict[str, Any]:
    """The manifest of the index at ``index_dir``, checked for format version."""
    path = index_dir / MANIFEST
    if not path.is_file():
        raise IndexNotFoundError(f"no index at {index_dir}: build one with: rag index CORPUS --index {index_dir}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise IndexMismatchError(
            f"the index manifest {path} is unreadable ({error}); {rebuild_hint(index_dir)}"
        ) from None
    version = manifest.get("format_version") if isinstance(manifest, dict) else None
    if version != FORMAT_VERSION:
        raise IndexMismatchError(
            f"the index at {index_dir} has format version {version}, this rag reads {FORMAT_VERSION}; "
            f"{rebuild_hint(index_dir)}"
        )
    return manifest


def verify_files(index_dir: Path, manifest: dict[str, Any], *, full: bool | None = None) -> Path:
    """Check the live generation's files against the manifest; returns the generation folder.

    Args:
        index_dir: The index directory.
        manifest: Its manifest.
        full: Hash every file (True), check sizes only (False), or decide by size (None).
    """
    generation = index_dir / manifest["generation"]
    files: dict[str, dict[str, Any]] = manifest.get("files", {})
    total = sum(int(f["size"]) for f in files.values())
    hash_them = total <= VERIFY_LIMIT_BYTES if full is None else full
    for name, expected in files.items():
        path = generation / name
        if not path.is_file():
            raise IndexMismatchError(f"index file {path} is missing; {rebuild_hint(index_dir)}")
        if path.stat().st_size != expected["size"]:
            raise IndexMismatchError(f"index file {path} has the wrong size (damaged?); {rebuild_hint(index_dir)}")
    if hash_them:
        actual = file_checksums(generation)
        for name, expected in files.items():
            if actual.get(name, {}).get("sha256") != expected["sha256"]:
                raise IndexMismatchError(
                    f"index file {generation / name} fails its checksum (damaged?); {rebuild_hint(index_dir)}"
                )
    return generation


@contextlib.contextmanager
def write_lock(index_dir: Path) -> Iterator[None]:
    """Hold the index's write lock; a second writer is refused at once with a clear message."""
    index_dir.mkdir(parents=True, exist_ok=True)
    handle = open(index_dir / ".lock", "a+")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexLockedError(
                f"another process is writing the index at {index_dir}; try again when it is done"
            ) from None
        yield
    finally:
        handle.close()


def new_generation(index_dir: Path) -> Path:
    """A fresh, empty generation folder (not yet live)."""
    name = f"gen-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
    folder = index_dir / f"{name}.tmp"
    folder.mkdir(parents=True)
    return folder


def commit_generation(index_dir: Path, folder: Path, manifest: dict[str, Any]) -> None:
    """Make ``folder`` the live generation: rename it into place, then replace the manifest."""
    final = folder.with_name(folder.name.removesuffix(".tmp"))
    for path in folder.rglob("*"):
        if path.is_file():
            _fsync_path(path)
    os.replace(folder, final)
    manifest = {**manifest, "format_version": FORMAT_VERSION, "generation": final.name, "files": file_checksums(final)}
    write_json_atomic(index_dir / MANIFEST, manifest)
    remove_stale_generations(index_dir, keep=final.name)


def remove_stale_generations(index_dir: Path, keep: str) -> None:
    """Delete generations that are not live (left by earlier builds or crashes)."""
    for path in index_dir.glob("gen-*"):
        if path.is_dir() and path.name != keep:
            shutil.rmtree(path, ignore_errors=True)


class MetadataStore:
    """Documents, sentences and passages in SQLite; sentence ``row`` is the vector id."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    @classmethod
    def create(cls, path: Path) -> MetadataStore:
        connection = sqlite3.connect(path, check_same_thread=False)
        connection.executescript(_SCHEMA)
        return cls(connection)

    @classmethod
    def open(cls, path: Path) -> MetadataStore:
        uri = f"file:{path}?mode=ro"
        try:
            connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
            connection.execute("SELECT count(*) FROM documents").fetchone()
        except sqlite3.DatabaseError as error:
            raise IndexMismatchError(f"the index database {path} is unreadable ({error})") from None
        return cls(connection)

    def close(self) -> None:
        self._db.close()

    def add_document(self, document: Document, sentence_count: int, added_at: str) -> None:
        self._db.execute(
            "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                document.doc_id, document.title, document.source, document.url, document.date,
                document.content_hash, document.text, json.dumps(list(document.pages)), added_at, sentence_count,
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
        """The stored sentences with the given rows (missing rows are left out)."""
        wanted = sorted({int(r) for r in rows})
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        cursor = self._db.execute(f"SELECT {_SENTENCE_COLUMNS} FROM sentences WHERE row IN ({marks})", wanted)
        return {r[0]: _sentence_record(r) for r in cursor}

    def sentence_at(self, doc_id: str, position: int) -> SentenceRecord | None:
        row = self._db.execute(
            f"SELECT {_SENTENCE_COLUMNS} FROM sentences WHERE doc_id = ? AND position = ?",
            (doc_id, position),
        ).fetchone()
        return _sentence_record(row) if row else None

    def rows_by_content(self) -> tuple[dict[str, str], dict[str, np.ndarray]]:
        """Document id -> content hash, and content hash -> that document's sentence rows in order."""
        hashes = dict(self._db.execute("SELECT doc_id, content_hash FROM documents"))
        by_document: dict[str, list[int]] = {}
        for doc_id, row in self._db.execute("SELECT doc_id, row FROM sentences ORDER BY doc_id, position"):
            by_document.setdefault(doc_id, []).append(row)
        rows: dict[str, np.ndarray] = {}
        for doc_id, document_rows in by_document.items():
            rows.setdefault(hashes[doc_id], np.asarray(document_rows, dtype=np.int64))  # copies share vectors
        return hashes, rows

    def sentences_of(self, doc_id: str) -> list[Sentence]:
        """Every sentence of one document, in order."""
        cursor = self._db.execute(
            'SELECT doc_id, position, paragraph, start, "end", text FROM sentences WHERE doc_id = ? ORDER BY position',
            (doc_id,),
        )
        return [Sentence(*r) for r in cursor]

    def passages_of(self, doc_id: str) -> list[Passage]:
        """Every passage of one document, in order."""
        cursor = self._db.execute(
            'SELECT doc_id, position, first, last, start, "end", text FROM passages WHERE doc_id = ? ORDER BY position',
            (doc_id,),
        )
        return [Passage(*r) for r in cursor]

    def passage_tokens(self, passages: Iterable[int]) -> dict[int, list[str]]:
        """All tokens of each passage (the union of its sentences' tokens)."""
        wanted = sorted({int(p) for p in passages})
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        result: dict[int, list[str]] = {p: [] for p in wanted}
        for passage, tokens in self._db.execute(
            f"SELECT passage, tokens FROM sentences WHERE passage IN ({marks})", wanted
        ):
            result[passage].extend(tokens.split())
        return result

    def rows_of_passages(self, passages: Iterable[int]) -> list[int]:
        """The sentence rows of the given passages, in row order."""
        wanted = sorted({int(p) for p in passages})
        if not wanted:
            return []
        marks = ",".join("?" * len(wanted))
        return [
            r[0] for r in self._db.execute(f"SELECT row FROM sentences WHERE passage IN ({marks}) ORDER BY row", wanted)
        ]

    def passages(self, rows: Iterable[int]) -> dict[int, Passage]:
        wanted = sorted({int(r) for r in rows})
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        cursor = self._db.execute(
            f'SELECT row, doc_id, position, first, last, start, "end", text FROM passages WHERE row IN ({marks})',
            wanted,
        )
        return {r[0]: Passage(*r[1:]) for r in cursor}

    def document(self, doc_id: str) -> Document | None:
        row = self._db.execute(
            "SELECT doc_id, text, title, source, url, date, content_hash, pages FROM documents WHERE doc_id = ?",
            (doc_id,),
        ).fetchone()
        if row is None:
            return None
        return Document(*row[:7], pages=tuple(json.loads(row[7])))

    def document_headers(self) -> list[dict[str, Any]]:
        """One row per document without its text: id, title, source, url, date, sentences, added."""
        cursor = self._db.execute(
            "SELECT doc_id, title, source, url, date, content_hash, sentence_count, added_at, pages "
            "FROM documents ORDER BY doc_id"
        )
        names = ("doc_id", "title", "source", "url", "date", "content_hash", "sentences", "added_at", "pages")
        return [dict(zip(names, r, strict=True)) for r in cursor]

    def headers_for(self, doc_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = sorted(set(doc_ids))
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        cursor = self._db.execute(
            f"SELECT doc_id, title, source, url, date, content_hash, pages FROM documents WHERE doc_id IN ({marks})",
            wanted,
        )
        names = ("doc_id", "title", "source", "url", "date", "content_hash", "pages")
        return {r[0]: dict(zip(names, r, strict=True)) for r in cursor}


def _sentence_record(row: tuple) -> SentenceRecord:
    sentence = Sentence(doc_id=row[1], position=row[2], paragraph=row[3], start=row[4], end=row[5], text=row[6])
    return SentenceRecord(row=row[0], sentence=sentence, passage=row[7], tokens=tuple(row[8].split()))
