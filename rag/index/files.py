"""The index folder's files: the write lock, generation folders, commit, fsync, and what crashes leave.

Layout::

    INDEX/.rag-index         marks the folder as a rag index: rag writes only into a new or empty
                             folder or one holding this marker (or, for indexes made before the
                             marker, a manifest in rag's format)
    INDEX/manifest.json      names the live generation, its settings, counts and file checksums,
                             and carries the sha256 of its own content (rag.index.manifest)
    INDEX/.lock              held by the one process writing this index
    INDEX/gen-<id>/          the files of one committed state of the index:
        seg-<id>/            one segment: meta.sqlite, vector and BM25 files of the documents
                             it was written with (never changed once written; rag.index.segment)

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
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from rag.errors import IndexLocationError, IndexLockedError, IndexWriteError
from rag.index.manifest import (
    MANIFEST,
    MARKER,
    SEGMENT_NAME,
    FileChecksum,
    Manifest,
    file_checksums,
    is_rag_index,
    live_generation,
)

# The exact names rag gives what it writes: the only names it ever deletes.
_OWN_GENERATION = re.compile(r"gen-\d{14}-[0-9a-f]{8}(?:\.tmp)?")
_OWN_TEMPORARY_MANIFEST = re.compile(r"\.manifest\.json\.[0-9a-f]{32}\.tmp")
_MARKER_TEXT = "This folder holds an index written by rag; rag deletes only the files it wrote here.\n"
LOCK = ".lock"
# What rag may find in a folder it is about to make an index of (left by a first build that failed).
_OWN_NAMES = {MARKER, LOCK}


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
        handle = open(index_dir / LOCK, "a+")
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
    index_dir: Path, folder: Path, manifest: Manifest, known: Mapping[str, FileChecksum] | None = None
) -> Manifest:
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

    Returns:
        The manifest as committed.
    """
    final = folder.with_name(folder.name.removesuffix(".tmp"))
    files = file_checksums(folder, known or {})
    _fsync_tree(folder)
    os.replace(folder, final)
    manifest = manifest.committed(final.name, files)
    try:
        _fsync_path(index_dir)
        write_json_atomic(index_dir / MANIFEST, manifest.to_json())
    except BaseException:
        if live_generation(index_dir) != final.name:
            shutil.rmtree(final, ignore_errors=True)
        raise
    remove_stale_generations(index_dir, keep=final.name)
    return manifest


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
        return all(SEGMENT_NAME.fullmatch(p.name) and p.is_dir() and not p.is_symlink() for p in folder.iterdir())
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
