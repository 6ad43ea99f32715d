"""The index directory on disk: generations of files, manifest.json as the commit point, SQLite metadata.

Layout::

    INDEX/.rag-index         marks the folder as a rag index: rag writes only into a new or empty
                             folder or one holding this marker (or, for indexes made before the
                             marker, a manifest in rag's format)
    INDEX/manifest.json      names the live generation, its settings, counts and file checksums,
                             and carries the sha256 of its own content
    INDEX/.lock              held by the one process writing this index
    INDEX/gen-<id>/          the files of one committed state of the index:
        seg-<id>/            one segment: meta.sqlite, vector and BM25 files of the documents
                             it was written with (never changed once written)

An update writes only a segment for the documents that are new or changed; the segments it
keeps are hard-linked (copied where links are unsupported) into the new generation, and the
documents it takes out are listed as removed from their segment in the manifest. A build
writes a new generation (``gen-<id>.tmp``), fsyncs it, renames it into place and
then replaces manifest.json atomically, so a crash at any point leaves the previous index
loadable. What an interrupted build leaves behind (an unfinished or never-committed
generation, a temporary manifest) is removed by the next build, under the write lock; only
names rag itself makes are ever removed (``gen-<14 digits>-<8 hex>``, ``.manifest.json.<32 hex>.tmp``),
so a user's ``gen-reports/`` beside an index is never touched.
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

from rag.errors import IndexLocationError, IndexLockedError, IndexMismatchError, IndexNotFoundError, IndexWriteError
from rag.types import Document, FileVersion, Passage, Sentence

logger = logging.getLogger(__name__)

# Format 3 stores the index as segments with term frequencies for BM25 (formats 1 and 2
# held one bm25s index with scores baked in, which cannot be updated in place): older
# indexes are refused with the rebuild command, and a build over one starts afresh.
FORMAT_VERSION = 3
READABLE_FORMATS = (3,)
MANIFEST = "manifest.json"
MANIFEST_CHECKSUM = "manifest_sha256"
DATABASE = "meta.sqlite"
# Checksums of every file are verified at load below this size; larger indexes check sizes
# only (hashing gigabytes would dominate start-up) unless a full check is asked for.
VERIFY_LIMIT_BYTES = 256 * 1024 * 1024
# Each segment's metadata database is written once, by the build that owns its (private)
# generation folder, and is never written again: the generation/manifest protocol, not
# SQLite's journal, makes a build atomic. It is written in WAL mode with synchronous=FULL
# (each commit reaches the disk before it returns) and a busy timeout, then checkpointed and
# closed, which folds the -wal file back and deletes the sidecars: one self-contained file
# is what the manifest checksums. Readers open it read-only and immutable: no locks, no
# sidecar files, and an open connection keeps working after a later build deletes the
# generation. The busy timeout matters should anyone open the file without immutable.
SQLITE_BUSY_TIMEOUT_SECONDS = 5.0
_GENERATION_NAME = re.compile(r"gen-[A-Za-z0-9-]+")
# The exact names rag gives what it writes: the only names it ever deletes.
_OWN_GENERATION = re.compile(r"gen-\d{14}-[0-9a-f]{8}(?:\.tmp)?")
_OWN_TEMPORARY_MANIFEST = re.compile(r"\.manifest\.json\.[0-9a-f]{32}\.tmp")
MARKER = ".rag-index"
_MARKER_TEXT = "This folder holds an index written by rag; rag deletes only the files it wrote here.\n"
# What rag may find in a folder it is about to make an index of (left by a first build that failed).
_OWN_NAMES = {MARKER, ".lock"}
_SEGMENT_NAME = re.compile(r"seg-[a-z0-9]+")

_SCHEMA = """
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY, title TEXT NOT NULL, source TEXT NOT NULL, url TEXT NOT NULL,
    date TEXT NOT NULL, content_hash TEXT NOT NULL, text TEXT NOT NULL, pages TEXT NOT NULL,
    added_at TEXT NOT NULL, sentence_count INTEGER NOT NULL, file_sha256 TEXT NOT NULL,
    file_size INTEGER NOT NULL, file_mtime_ns INTEGER NOT NULL, file_ctime_ns INTEGER NOT NULL,
    file_inode INTEGER NOT NULL, read_at_ns INTEGER NOT NULL
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


def file_checksums(folder: Path, known: dict[str, dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """Size and sha256 of every file under ``folder``, keyed by relative path.

    A file listed in ``known`` with the same size keeps its known checksum (not hashed again).
    """
    known = known or {}
    checksums: dict[str, dict[str, Any]] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name, size = path.relative_to(folder).as_posix(), path.stat().st_size
        before = known.get(name)
        if before is not None and before.get("size") == size:
            checksums[name] = {"size": size, "sha256": before["sha256"]}
        else:
            checksums[name] = {"size": size, "sha256": _file_digest(path)}
    return checksums


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
    if version is None and not (index_dir / MARKER).is_file():  # someone else's manifest.json
        raise IndexNotFoundError(
            f"no rag index at {index_dir} (its manifest.json is not rag's): give a new or empty folder"
        )
    if version not in READABLE_FORMATS or isinstance(version, bool):
        raise IndexMismatchError(
            f"the index at {index_dir} has format version {version}, this rag reads {FORMAT_VERSION}; "
            f"{rebuild_hint(index_dir)}"
        )
    checksum = manifest.get(MANIFEST_CHECKSUM)
    if checksum != manifest_checksum(manifest):
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
    return _segments_problem(manifest.get("segments"), files)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _segments_problem(segments: Any, files: dict[str, Any]) -> str:
    """What is wrong with the manifest's list of segments, or ""."""
    if not isinstance(segments, list) or not segments:
        return "lists no segments"
    end_row = end_passage = 0
    for entry in segments:
        if not isinstance(entry, dict) or not _SEGMENT_NAME.fullmatch(str(entry.get("name"))):
            return f"lists an invalid segment {entry!r:.80}"
        name = entry["name"]
        if not all(_count(entry.get(key)) for key in ("first_row", "sentences", "first_passage", "passages")):
            return f"has no valid row counts for segment {name}"
        removed = entry.get("removed")
        if not isinstance(removed, list) or not all(isinstance(d, str) for d in removed):
            return f"has no valid list of removed documents for segment {name}"
        if entry["first_row"] < end_row or entry["first_passage"] < end_passage:
            return f"has overlapping segments at {name}"
        end_row, end_passage = entry["first_row"] + entry["sentences"], entry["first_passage"] + entry["passages"]
        if f"{name}/{DATABASE}" not in files:
            return f"lists no files for segment {name}"
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


def is_rag_index(index_dir: Path) -> bool:
    """Whether ``index_dir`` holds a rag index: its marker, or a manifest in rag's format (older indexes)."""
    if (index_dir / MARKER).is_file():
        return True
    try:
        manifest = json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and isinstance(manifest.get("format_version"), int) and "encoder" in manifest


def check_index_folder(index_dir: Path) -> None:
    """Refuse to write an index anywhere but a new or empty folder or one that holds a rag index.

    Raises:
        IndexLocationError: ``index_dir`` is a file, or a folder holding something else.
    """
    if index_dir.is_symlink() and not index_dir.exists():
        raise IndexLocationError(f"the index folder {index_dir} is a broken symlink")
    if index_dir.exists() and not index_dir.is_dir():
        raise IndexLocationError(f"--index {index_dir} is a file, not a folder: give a new or empty folder")
    if not index_dir.exists() or is_rag_index(index_dir):
        return
    try:
        names = {p.name for p in index_dir.iterdir()}
    except OSError as error:
        raise IndexLocationError(f"cannot read the index folder {index_dir} ({error.strerror})") from None
    if names - _OWN_NAMES:
        raise IndexLocationError(
            f"refusing to write an index into {index_dir}: it holds other files and no rag index "
            "(give a new or empty folder)"
        )


@contextlib.contextmanager
def write_lock(index_dir: Path) -> Iterator[None]:
    """Hold the index's write lock; a second writer is refused at once with a clear message.

    The lock is an flock on ``INDEX/.lock``: the kernel drops it when its holder dies, even by
    SIGKILL, so a crashed build never blocks the next one. The file itself is never deleted
    (deleting a lock file lets two writers lock two different files). Only a new or empty
    folder or a rag index is locked (``check_index_folder``); the folder is marked as a rag index.

    Raises:
        IndexLocationError: The folder is not one rag may write into.
        IndexWriteError: The folder cannot be written (read-only, no space).
        IndexLockedError: Another process holds the lock.
    """
    check_index_folder(index_dir)
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        handle = open(index_dir / ".lock", "a+")
    except OSError as error:
        raise IndexWriteError(f"cannot write the index at {index_dir} ({error.strerror or error})") from None
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexLockedError(
                f"another process is writing the index at {index_dir}; try again when it is done"
            ) from None
        check_index_folder(index_dir)  # again under the lock: another process may have filled it meanwhile
        _write_marker(index_dir)
        yield
    finally:
        handle.close()


def _write_marker(index_dir: Path) -> None:
    marker = index_dir / MARKER
    if marker.is_file():
        return
    try:
        with open(marker, "x", encoding="utf-8") as handle:
            handle.write(_MARKER_TEXT)
    except FileExistsError:
        pass
    except OSError as error:
        marker.unlink(missing_ok=True)
        raise IndexWriteError(f"cannot write the index at {index_dir} ({error.strerror or error})") from None


def new_generation(index_dir: Path) -> Path:
    """A fresh, empty generation folder (not yet live). Call it holding the write lock.

    First removes what interrupted builds left behind, so crashes never pile up folders.
    """
    remove_leftovers(index_dir)
    name = f"gen-{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:8]}"
    folder = index_dir / f"{name}.tmp"
    folder.mkdir(parents=True)
    return folder


def link_segment(source: Path, target: Path) -> None:
    """Give the generation being written (``target``'s parent) a segment of an earlier one.

    Segment files are never changed after they are written, so a hard link shares them
    safely: deleting the earlier generation leaves the linked names. Where the filesystem
    has no hard links, the files are copied.
    """
    for path in sorted(source.rglob("*")):
        destination = target / path.relative_to(source)
        if path.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, destination)
        except OSError:
            shutil.copy2(path, destination)


def commit_generation(
    index_dir: Path, folder: Path, manifest: dict[str, Any], known: dict[str, dict[str, Any]] | None = None
) -> None:
    """Make ``folder`` the live generation: rename it into place, then replace the manifest.

    Every file and folder of the generation is fsynced before the rename, and the index
    folder after it, so the manifest can never name a generation that a power cut loses.
    Replacing manifest.json is the single commit point: a failure before it removes the
    renamed generation and leaves the previous index live; a failure after it (flushing
    the folder) leaves the new index live and is raised.

    Args:
        index_dir: The index directory.
        folder: The finished generation folder (``gen-<id>.tmp``).
        manifest: What to record; format version, generation and file checksums are added.
        known: Checksums of files linked from the previous generation (already verified):
            they are taken as they are when the size still matches, not hashed again.
    """
    final = folder.with_name(folder.name.removesuffix(".tmp"))
    files = file_checksums(folder, known or {})
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
    """Delete generations that are not live and temporary manifests (left by earlier builds or crashes).

    Only what rag wrote goes: names of exactly rag's making, and generation folders that hold
    nothing but segment folders; anything else, even named ``gen-*``, is left alone.
    """
    for path in index_dir.glob("gen-*"):
        if path.name != keep and _OWN_GENERATION.fullmatch(path.name) and _holds_only_segments(path):
            shutil.rmtree(path, ignore_errors=True)
    for path in index_dir.glob(f".{MANIFEST}.*.tmp"):
        if _OWN_TEMPORARY_MANIFEST.fullmatch(path.name) and path.is_file() and not path.is_symlink():
            path.unlink(missing_ok=True)


def _holds_only_segments(folder: Path) -> bool:
    """Whether ``folder`` is a real folder holding only segment folders (what a generation holds)."""
    if folder.is_symlink() or not folder.is_dir():
        return False
    try:
        return all(_SEGMENT_NAME.fullmatch(p.name) and p.is_dir() and not p.is_symlink() for p in folder.iterdir())
    except OSError:
        return False


def remove_leftovers(index_dir: Path) -> None:
    """Delete what interrupted builds left: unfinished generations, ones never made live, temp manifests.

    When a manifest exists but cannot be read, only unfinished (``.tmp``) generations go:
    which finished one was live is unknown, and the next successful build clears the rest.
    """
    live = live_generation(index_dir)
    if live is None and (index_dir / MANIFEST).exists():
        for path in index_dir.glob("gen-*.tmp"):
            if _OWN_GENERATION.fullmatch(path.name) and _holds_only_segments(path):
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
        self._index_dir: Path | None = None
        self._writable = False

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
        return store

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
            "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                document.doc_id, document.title, document.source, document.url, document.date,
                document.content_hash, document.text, json.dumps(list(document.pages)), added_at, sentence_count,
                file.sha256, file.size, file.mtime_ns, file.ctime_ns, file.inode, file.read_at_ns,
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
        marks = _marks(wanted)
        found = self._rows(f"SELECT {_SENTENCE_COLUMNS} FROM sentences WHERE row IN ({marks})", wanted)
        return {r[0]: _sentence_record(r) for r in found}

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

    def passage_tokens(self, passages: Iterable[int]) -> dict[int, list[str]]:
        """All tokens of each passage (the union of its sentences' tokens)."""
        wanted = sorted({int(p) for p in passages})
        if not wanted:
            return {}
        marks = _marks(wanted)
        result: dict[int, list[str]] = {p: [] for p in wanted}
        for passage, tokens in self._rows(f"SELECT passage, tokens FROM sentences WHERE passage IN ({marks})", wanted):
            result[passage].extend(tokens.split())
        return result

    def rows_of_passages(self, passages: Iterable[int]) -> list[int]:
        """The sentence rows of the given passages, in row order."""
        wanted = sorted({int(p) for p in passages})
        if not wanted:
            return []
        marks = _marks(wanted)
        return [r[0] for r in self._rows(f"SELECT row FROM sentences WHERE passage IN ({marks}) ORDER BY row", wanted)]

    def passages(self, rows: Iterable[int]) -> dict[int, Passage]:
        wanted = sorted({int(r) for r in rows})
        if not wanted:
            return {}
        marks = _marks(wanted)
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
        marks = _marks(wanted)
        return {h["doc_id"]: h for h in self._headers(f"WHERE doc_id IN ({marks})", wanted)}

    def _headers(self, clause: str, parameters: Sequence[Any] = ()) -> list[dict[str, Any]]:
        columns = "doc_id, title, source, url, date, content_hash, sentence_count, added_at, pages"
        names = ("doc_id", "title", "source", "url", "date", "content_hash", "sentences", "added_at", "pages")
        return [
            dict(zip(names, r, strict=True))
            for r in self._rows(f"SELECT {columns} FROM documents {clause}", parameters)
        ]


def _chunks(values: list[Any], size: int = 500) -> Iterator[list[Any]]:
    """``values`` in slices small enough for one statement (SQLite caps its parameters)."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


def _sentence_record(row: tuple) -> SentenceRecord:
    sentence = Sentence(doc_id=row[1], position=row[2], paragraph=row[3], start=row[4], end=row[5], text=row[6])
    return SentenceRecord(row=row[0], sentence=sentence, passage=row[7], tokens=tuple(row[8].split()))


@dataclass(frozen=True, slots=True)
class LiveDocument:
    """Where a live document is stored and what it was made from."""

    segment: int  # its segment's number, in manifest order
    content_hash: str
    added_at: str
    sentences: int
    file: FileVersion  # the file it was read from


@dataclass(frozen=True, slots=True)
class StorePart:
    """One segment's database, where its rows sit among all rows, and its removed documents."""

    store: MetadataStore
    first_row: int
    sentences: int
    first_passage: int
    passages: int
    removed: frozenset[str] = frozenset()


class CorpusStore:
    """The metadata of every segment read as one corpus: removed documents are invisible.

    Rows (sentences) and passages are numbered across segments, so reads by row go to the
    segment holding that range; reads by document go to the one segment where it is live.
    """

    def __init__(self, parts: Sequence[StorePart]) -> None:
        self.parts = tuple(sorted(parts, key=lambda p: p.first_row))
        self._first_rows = np.asarray([p.first_row for p in self.parts], dtype=np.int64)
        self._first_passages = np.asarray([p.first_passage for p in self.parts], dtype=np.int64)
        self._live: dict[str, LiveDocument] = {}
        for number, part in enumerate(self.parts):
            for doc_id, *about in part.store.document_index():
                if doc_id in part.removed:
                    continue
                if doc_id in self._live:
                    raise IndexMismatchError(f"the index lists document {doc_id!r} twice (damaged?)")
                self._live[doc_id] = LiveDocument(number, *about)

    def close(self) -> None:
        for part in self.parts:
            part.store.close()

    def live_documents(self) -> dict[str, LiveDocument]:
        """Every live document by doc_id."""
        return dict(self._live)

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

    def _by_part(self, values: Iterable[int], firsts: np.ndarray) -> dict[int, list[int]]:
        values = sorted({int(v) for v in values})
        parts = np.searchsorted(firsts, np.asarray(values, dtype=np.int64), side="right") - 1
        grouped: dict[int, list[int]] = {}
        for value, number in zip(values, parts.tolist(), strict=True):
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

    def passage_tokens(self, passages: Iterable[int]) -> dict[int, list[str]]:
        """All tokens of each passage (the union of its sentences' tokens)."""
        found: dict[int, list[str]] = {}
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

    def document_headers(self) -> list[dict[str, Any]]:
        """One row per live document without its text: id, title, source, url, date, sentences, added."""
        return sorted(self.headers_for(self._live).values(), key=lambda h: h["doc_id"])

    def headers_for(self, doc_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The headers of the given live documents, by id (others are left out)."""
        grouped: dict[int, list[str]] = {}
        for doc_id in set(doc_ids):
            if doc_id in self._live:
                grouped.setdefault(self._live[doc_id].segment, []).append(doc_id)
        found: dict[str, dict[str, Any]] = {}
        for number, wanted in grouped.items():
            for chunk in _chunks(sorted(wanted)):
                found.update(self.parts[number].store.headers_for(chunk))
        return found
