"""The index directory on disk: generations of files, manifest.json as the commit point, SQLite metadata.

Layout::

    INDEX/manifest.json      names the live generation, its settings, counts and file checksums,
                             and carries the sha256 of its own content
    INDEX/.lock              held by the one process writing this index
    INDEX/gen-<id>/          meta.sqlite, vector and BM25 files of one build

A build writes a new generation (``gen-<id>.tmp``), fsyncs it, renames it into place and
then replaces manifest.json atomically, so a crash at any point leaves the previous index
loadable. What an interrupted build leaves behind (an unfinished or never-committed
generation, a temporary manifest) is removed by the next build, under the write lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
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

# Format 2 seals manifest.json with its own sha256; format 1 indexes (without it) still load.
FORMAT_VERSION = 2
READABLE_FORMATS = (1, 2)
MANIFEST = "manifest.json"
MANIFEST_CHECKSUM = "manifest_sha256"
DATABASE = "meta.sqlite"
# Checksums of every file are verified at load below this size; larger indexes check sizes
# only (hashing gigabytes would dominate start-up) unless a full check is asked for.
VERIFY_LIMIT_BYTES = 256 * 1024 * 1024
# The metadata database is written once, by the build that owns its (private) generation
# folder, and is never written again: the generation/manifest protocol, not SQLite's journal,
# makes a build atomic. So: a rollback journal (DELETE) with synchronous=FULL while writing,
# which leaves one self-contained file after the single commit (WAL would make the file
# depend on -wal/-shm sidecars, created even by read-only readers, outside the manifest's
# checksums, for no gain: there is never a writer beside the readers). Readers open it
# read-only and immutable: no locks, no journal probing, no sidecar files, and an open
# connection keeps working after a later build deletes the generation. The busy timeout only
# matters should anyone open the file without immutable (e.g. by hand while a build commits).
SQLITE_BUSY_TIMEOUT_SECONDS = 5.0
_GENERATION_NAME = re.compile(r"gen-[A-Za-z0-9-]+")

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


def _fsync_tree(folder: Path) -> None:
    """Flush every file and every directory entry under ``folder``, and ``folder`` itself."""
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        _fsync_path(path)
    _fsync_path(folder)


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON to a temporary file, fsync it, and rename it over ``path``.

    A failure before the rename removes the temporary file and leaves ``path`` as it was;
    the rename is the commit point, and the folder is fsynced after it so the rename lasts.
    """
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, ensure_ascii=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_path(path.parent)


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_checksums(folder: Path) -> dict[str, dict[str, int | str]]:
    """Size and sha256 of every file under ``folder``, keyed by relative path."""
    return {
        path.relative_to(folder).as_posix(): {"size": path.stat().st_size, "sha256": _file_digest(path)}
        for path in sorted(p for p in folder.rglob("*") if p.is_file())
    }


def manifest_checksum(manifest: dict[str, Any]) -> str:
    """The sha256 of the manifest's content (every key but the checksum itself, canonical JSON)."""
    body = {k: v for k, v in manifest.items() if k != MANIFEST_CHECKSUM}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def rebuild_hint(index_dir: Path) -> str:
    return f"rebuild it with: rag index CORPUS --index {index_dir}"


def read_manifest(index_dir: Path) -> dict[str, Any]:
    """The manifest of the index at ``index_dir``, checked for format version, checksum and shape."""
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
    if version not in READABLE_FORMATS or isinstance(version, bool):
        raise IndexMismatchError(
            f"the index at {index_dir} has format version {version}, this rag reads {FORMAT_VERSION}; "
            f"{rebuild_hint(index_dir)}"
        )
    checksum = manifest.get(MANIFEST_CHECKSUM)
    if (checksum is not None or version >= 2) and checksum != manifest_checksum(manifest):
        raise IndexMismatchError(f"the index manifest {path} fails its checksum (damaged?); {rebuild_hint(index_dir)}")
    problem = _manifest_problem(manifest)
    if problem:
        raise IndexMismatchError(f"the index manifest {path} {problem} (damaged?); {rebuild_hint(index_dir)}")
    return manifest


def _manifest_problem(manifest: dict[str, Any]) -> str:
    """What is wrong with the manifest's shape, or "" (a damaged one must not crash the loader)."""
    generation, files = manifest.get("generation"), manifest.get("files")
    if not isinstance(generation, str) or not _GENERATION_NAME.fullmatch(generation):
        return f"names no valid generation folder ({generation!r})"
    if not isinstance(manifest.get("encoder"), str):
        return "names no encoder"
    if not isinstance(files, dict) or not files:
        return "lists no files"
    for name, entry in files.items():
        parts = name.split("/")
        if not name or any(p in ("", ".", "..") for p in parts) or not isinstance(entry, dict):
            return f"lists an invalid file {name!r}"
        size, digest = entry.get("size"), entry.get("sha256")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0 or not isinstance(digest, str):
            return f"has no valid size and sha256 for {name!r}"
    return ""


def live_generation(index_dir: Path) -> str | None:
    """The generation the manifest names, or None when there is no readable manifest."""
    try:
        generation = json.loads((index_dir / MANIFEST).read_text(encoding="utf-8")).get("generation")
    except (OSError, ValueError, AttributeError):
        return None
    return generation if isinstance(generation, str) else None


def verify_files(index_dir: Path, manifest: dict[str, Any], *, full: bool | None = None) -> Path:
    """Check the live generation's files against the manifest; returns the generation folder.

    Args:
        index_dir: The index directory.
        manifest: Its manifest (as returned by ``read_manifest``).
        full: Hash every file (True), check sizes only (False), or decide by size (None).

    Raises:
        IndexMismatchError: A file is missing, has the wrong size or fails its checksum.
    """
    generation = index_dir / manifest["generation"]
    files: dict[str, dict[str, Any]] = manifest["files"]
    total = sum(int(f["size"]) for f in files.values())
    hash_them = total <= VERIFY_LIMIT_BYTES if full is None else full
    try:
        for name, expected in files.items():
            path = generation / name
            if not path.is_file():
                raise IndexMismatchError(f"index file {path} is missing; {rebuild_hint(index_dir)}")
            if path.stat().st_size != expected["size"]:
                raise IndexMismatchError(f"index file {path} has the wrong size (damaged?); {rebuild_hint(index_dir)}")
        for name, expected in files.items() if hash_them else ():
            if _file_digest(generation / name) != expected["sha256"]:
                raise IndexMismatchError(
                    f"index file {generation / name} fails its checksum (damaged?); {rebuild_hint(index_dir)}"
                )
    except OSError as error:  # unreadable, or deleted meanwhile by a build that replaced this generation
        raise IndexMismatchError(
            f"index file of {generation} cannot be read ({error}); {rebuild_hint(index_dir)}"
        ) from None
    return generation


@contextlib.contextmanager
def write_lock(index_dir: Path) -> Iterator[None]:
    """Hold the index's write lock; a second writer is refused at once with a clear message.

    The lock is an flock on ``INDEX/.lock``: the kernel drops it when its holder dies, even by
    SIGKILL, so a crashed build never blocks the next one. The file itself is never deleted
    (deleting a lock file lets two writers lock two different files).
    """
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
    """A fresh, empty generation folder (not yet live). Call it holding the write lock.

    First removes what interrupted builds left behind, so crashes never pile up folders.
    """
    remove_leftovers(index_dir)
    name = f"gen-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
    folder = index_dir / f"{name}.tmp"
    folder.mkdir(parents=True)
    return folder


def commit_generation(index_dir: Path, folder: Path, manifest: dict[str, Any]) -> None:
    """Make ``folder`` the live generation: rename it into place, then replace the manifest.

    Every file and folder of the generation is fsynced before the rename, and the index
    folder after it, so the manifest can never name a generation that a power cut loses.
    Replacing manifest.json is the single commit point: a failure before it removes the
    renamed generation and leaves the previous index live; a failure after it (flushing
    the folder) leaves the new index live and is raised.
    """
    final = folder.with_name(folder.name.removesuffix(".tmp"))
    files = file_checksums(folder)
    _fsync_tree(folder)
    os.replace(folder, final)
    manifest = {**manifest, "format_version": FORMAT_VERSION, "generation": final.name, "files": files}
    manifest[MANIFEST_CHECKSUM] = manifest_checksum(manifest)
    try:
        _fsync_path(index_dir)
        write_json_atomic(index_dir / MANIFEST, manifest)
    except BaseException:
        if live_generation(index_dir) != final.name:
            shutil.rmtree(final, ignore_errors=True)
        raise
    remove_stale_generations(index_dir, keep=final.name)


def remove_stale_generations(index_dir: Path, keep: str) -> None:
    """Delete generations that are not live and temporary manifests (left by earlier builds or crashes)."""
    for path in index_dir.glob("gen-*"):
        if path.is_dir() and path.name != keep:
            shutil.rmtree(path, ignore_errors=True)
    for path in index_dir.glob(f".{MANIFEST}.*.tmp"):
        path.unlink(missing_ok=True)


def remove_leftovers(index_dir: Path) -> None:
    """Delete what interrupted builds left: unfinished generations, ones never made live, temp manifests.

    When a manifest exists but cannot be read, only unfinished (``.tmp``) generations go:
    which finished one was live is unknown, and the next successful build clears the rest.
    """
    live = live_generation(index_dir)
    if live is None and (index_dir / MANIFEST).exists():
        for path in index_dir.glob("gen-*.tmp"):
            shutil.rmtree(path, ignore_errors=True)
        return
    remove_stale_generations(index_dir, keep=live or "")


class MetadataStore:
    """Documents, sentences and passages in SQLite; sentence ``row`` is the vector id.

    Reads of a damaged database raise IndexMismatchError (saying how to rebuild), never
    sqlite3's own errors.
    """

    def __init__(self, connection: sqlite3.Connection, path: Path | None = None) -> None:
        self._db = connection
        self._path = path

    @classmethod
    def create(cls, path: Path) -> MetadataStore:
        """A new database at ``path``, to be filled and committed once (see SQLITE_BUSY_TIMEOUT_SECONDS)."""
        connection = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_SECONDS, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=DELETE")
        connection.execute("PRAGMA synchronous=FULL")
        connection.executescript(_SCHEMA)
        return cls(connection, path)

    @classmethod
    def open(cls, path: Path) -> MetadataStore:
        """The committed database at ``path``, read-only and immutable (a generation never changes)."""
        # A URI built from the absolute path, percent-encoded: "#", "?" and "%" in a folder
        # name would otherwise be read as URI syntax and open another file.
        uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
        try:
            connection = sqlite3.connect(uri, uri=True, timeout=SQLITE_BUSY_TIMEOUT_SECONDS, check_same_thread=False)
            connection.execute("SELECT count(*) FROM documents").fetchone()
        except sqlite3.DatabaseError as error:
            raise IndexMismatchError(
                f"the index database {path} is unreadable ({error}); {rebuild_hint(path.parent.parent)}"
            ) from None
        return cls(connection, path)

    def _rows(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple]:
        """Every row of a query (read at once, so that damage shows here, as IndexMismatchError)."""
        try:
            return self._db.execute(sql, parameters).fetchall()
        except sqlite3.DatabaseError as error:
            hint = f"; {rebuild_hint(self._path.parent.parent)}" if self._path else ""
            raise IndexMismatchError(f"the index database {self._path or ''} is damaged ({error}){hint}") from None

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
        found = self._rows(f"SELECT {_SENTENCE_COLUMNS} FROM sentences WHERE row IN ({marks})", wanted)
        return {r[0]: _sentence_record(r) for r in found}

    def rows_by_content(self) -> tuple[dict[str, str], dict[str, np.ndarray]]:
        """Document id -> content hash, and content hash -> that document's sentence rows in order.

        Raises:
            IndexMismatchError: The database is damaged (a build then embeds everything afresh).
        """
        hashes = dict(self._rows("SELECT doc_id, content_hash FROM documents"))
        by_document: dict[str, list[int]] = {}
        for doc_id, row in self._rows("SELECT doc_id, row FROM sentences ORDER BY doc_id, position"):
            by_document.setdefault(doc_id, []).append(row)
        if not set(by_document) <= set(hashes):
            raise IndexMismatchError(
                f"the index database {self._path or ''} is damaged (sentences of unknown documents)"
            )
        rows: dict[str, np.ndarray] = {}
        for doc_id, document_rows in by_document.items():
            rows.setdefault(hashes[doc_id], np.asarray(document_rows, dtype=np.int64))  # copies share vectors
        return hashes, rows

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

    def passage_tokens(self, passages: Iterable[int]) -> dict[int, list[str]]:
        """All tokens of each passage (the union of its sentences' tokens)."""
        wanted = sorted({int(p) for p in passages})
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        result: dict[int, list[str]] = {p: [] for p in wanted}
        for passage, tokens in self._rows(f"SELECT passage, tokens FROM sentences WHERE passage IN ({marks})", wanted):
            result[passage].extend(tokens.split())
        return result

    def rows_of_passages(self, passages: Iterable[int]) -> list[int]:
        """The sentence rows of the given passages, in row order."""
        wanted = sorted({int(p) for p in passages})
        if not wanted:
            return []
        marks = ",".join("?" * len(wanted))
        return [r[0] for r in self._rows(f"SELECT row FROM sentences WHERE passage IN ({marks}) ORDER BY row", wanted)]

    def passages(self, rows: Iterable[int]) -> dict[int, Passage]:
        wanted = sorted({int(r) for r in rows})
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        found = self._rows(
            f'SELECT row, doc_id, position, first, last, start, "end", text FROM passages WHERE row IN ({marks})',
            wanted,
        )
        return {r[0]: Passage(*r[1:]) for r in found}

    def document(self, doc_id: str) -> Document | None:
        rows = self._rows(
            "SELECT doc_id, text, title, source, url, date, content_hash, pages FROM documents WHERE doc_id = ?",
            (doc_id,),
        )
        if not rows:
            return None
        return Document(*rows[0][:7], pages=tuple(json.loads(rows[0][7])))

    def document_headers(self) -> list[dict[str, Any]]:
        """One row per document without its text: id, title, source, url, date, sentences, added."""
        return self._headers("ORDER BY doc_id")

    def headers_for(self, doc_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The headers of the given documents, by id (missing ones are left out)."""
        wanted = sorted(set(doc_ids))
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        return {h["doc_id"]: h for h in self._headers(f"WHERE doc_id IN ({marks})", wanted)}

    def _headers(self, clause: str, parameters: Sequence[Any] = ()) -> list[dict[str, Any]]:
        columns = "doc_id, title, source, url, date, content_hash, sentence_count, added_at, pages"
        names = ("doc_id", "title", "source", "url", "date", "content_hash", "sentences", "added_at", "pages")
        return [
            dict(zip(names, r, strict=True))
            for r in self._rows(f"SELECT {columns} FROM documents {clause}", parameters)
        ]


def _sentence_record(row: tuple) -> SentenceRecord:
    sentence = Sentence(doc_id=row[1], position=row[2], paragraph=row[3], start=row[4], end=row[5], text=row[6])
    return SentenceRecord(row=row[0], sentence=sentence, passage=row[7], tokens=tuple(row[8].split()))
