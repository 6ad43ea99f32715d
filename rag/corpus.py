"""Changes to the corpus folder made through an index (add files, remove documents), undone when they fail.

A file taken out of the corpus is moved to ``CORPUS/.rag-removed/<time>-<random>/`` (hidden, so
not indexed), never deleted and never over another file; a file added is never copied over an
existing one. ``CorpusMoves`` records every move so that a failed update puts the corpus back.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import stat
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from rag.errors import RagError
from rag.ingest import doc_id_for, document_reason


def corpus_targets(corpus: Path, files: Sequence[str | Path], folder: str, names: Sequence[str] | None) -> list[Path]:
    """Where each of ``files`` goes in the corpus (under ``folder``, named ``names``); RagError when not allowed."""
    names = list(names) if names is not None else [Path(f).name for f in files]
    if len(names) != len(files):
        raise RagError(f"{len(files)} files but {len(names)} names")
    base = _corpus_folder(corpus, folder)
    targets: list[Path] = []
    for file, name in zip(files, names, strict=True):
        if Path(file).is_dir():
            raise RagError(f"cannot add {file}: it is a folder (add its files, or copy it into the corpus and index)")
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
    # Only once every name is allowed: reading a file is the costly check. What indexing would
    # skip is refused before the corpus is touched, not copied in and left unindexed.
    for file, target in zip(files, targets, strict=True):
        if reason := document_reason(Path(file), name=target.name):
            raise RagError(f"cannot add {file}: {reason}")
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


# Opening a folder of the corpus one name at a time from the corpus down, none of them a link:
# a folder swapped for a link to another place is refused (ELOOP, ENOTDIR), never entered.
_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
ADDING_PREFIX = ".rag-adding-"  # a file being copied in: hidden, so never indexed half-written
_UNFINISHED_COPY = re.compile(re.escape(ADDING_PREFIX) + r"[0-9a-f]{32}\.tmp")


class CorpusMoves:
    """Files put into or moved out of the corpus by one change, so that a failed change can undo them.

    A file taken out goes to a folder of ``.rag-removed`` made for this change alone (its name
    has the time and a random part), so no earlier removed file is ever overwritten. Every
    move, copy and new folder goes through folders opened from the corpus down without
    following a link, so a folder swapped for a link meanwhile stops the change (an OSError,
    which undoes it) rather than leading out of the corpus.
    """

    def __init__(self, corpus: Path) -> None:
        self.corpus = corpus
        self._removed_folder: Path | None = None
        self._set_aside: list[tuple[Path, Path]] = []  # (corpus path, where it went)
        self._copied: list[Path] = []
        self._made_folders: list[Path] = []
        self._swept: set[Path] = set()

    def _removed(self) -> Path:
        if self._removed_folder is None:
            stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
            folder = self.corpus / ".rag-removed" / f"{stamp}-{uuid.uuid4().hex[:8]}"
            descriptor = self._folder(folder.parent, make=True)
            try:
                os.mkdir(folder.name, dir_fd=descriptor)  # never an existing folder: two changes never share one
            finally:
                os.close(descriptor)
            self._made_folders.append(folder)
            self._removed_folder = folder
        return self._removed_folder

    def set_aside(self, path: Path) -> None:
        """Move the corpus file ``path`` into this change's removed folder."""
        target = self._removed() / path.relative_to(self.corpus)
        with self._two_folders(path.parent, target.parent, make=True) as (source, destination):
            # The target's folder is new and ours: nothing there to overwrite.
            os.rename(path.name, target.name, src_dir_fd=source, dst_dir_fd=destination)
            self._set_aside.append((path, target))

    def copy_in(self, source: Path, target: Path) -> None:
        """Copy ``source`` to ``target`` in the corpus; never over an existing file, never out of the corpus.

        The copy is written under a hidden temporary name beside the target, flushed, and then
        linked to its name (which fails rather than replace a file): a crash mid-copy leaves no
        half file for the next build to index. Times and mode are set through the open file.
        """
        folder = self._folder(target.parent, make=True)
        if target.parent not in self._swept:
            self._swept.add(target.parent)
            _remove_unfinished_copies(folder)
        temporary = f"{ADDING_PREFIX}{uuid.uuid4().hex}.tmp"
        try:
            with open(source, "rb") as reader:
                _write_copy(reader, os.open(temporary, _NEW_FILE_FLAGS, 0o600, dir_fd=folder))
            try:
                with _signals_held():  # the new name and its record come together, or neither
                    _link_without_replacing(folder, temporary, target.name)
                    self._copied.append(target)
            finally:
                os.unlink(temporary, dir_fd=folder)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=folder)
            raise
        finally:
            os.close(folder)

    def _folder(self, folder: Path, *, make: bool = False) -> int:
        """A descriptor of the corpus folder ``folder``, reached from the corpus through no link;
        with ``make``, the folders missing on the way are made (and recorded, to be undone)."""
        descriptor = os.open(self.corpus, _FOLDER_FLAGS & ~getattr(os, "O_NOFOLLOW", 0))  # the corpus: as given
        reached = self.corpus
        try:
            for name in folder.relative_to(self.corpus).parts:
                reached = reached / name
                if make:
                    try:
                        os.mkdir(name, dir_fd=descriptor)
                        self._made_folders.append(reached)
                    except FileExistsError:
                        pass
                inner = os.open(name, _FOLDER_FLAGS, dir_fd=descriptor)
                os.close(descriptor)
                descriptor = inner
        except BaseException:
            os.close(descriptor)
            raise
        return descriptor

    @contextlib.contextmanager
    def _two_folders(self, one: Path, other: Path, *, make: bool = False) -> Iterator[tuple[int, int]]:
        """Descriptors of two corpus folders (see ``_folder``); ``make`` makes what the second lacks."""
        first = self._folder(one)
        try:
            second = self._folder(other, make=make)
            try:
                yield first, second
            finally:
                os.close(second)
        finally:
            os.close(first)

    def undo(self) -> None:
        """Put the corpus back as it was: remove what was copied in, move back what was set aside.

        Through the same link-free folders: whatever was swapped for a link meanwhile is left alone.
        """
        for path in reversed(self._copied):
            with contextlib.suppress(OSError), self._two_folders(path.parent, path.parent) as (folder, _):
                os.unlink(path.name, dir_fd=folder)
        for path, moved in reversed(self._set_aside):
            with contextlib.suppress(OSError), self._two_folders(moved.parent, path.parent) as (source, destination):
                _link_without_replacing(destination, moved.name, path.name, source)
                os.unlink(moved.name, dir_fd=source)
        folders = [*self._made_folders, *([self._removed_folder] if self._removed_folder else [])]
        for made in sorted(set(folders), key=lambda f: len(f.parts), reverse=True):
            with contextlib.suppress(OSError), self._two_folders(made.parent, made.parent) as (parent, _):
                os.rmdir(made.name, dir_fd=parent)  # only when empty again


def _remove_unfinished_copies(folder: int) -> None:
    """Remove what a copy killed mid-way (SIGKILL, power cut) left in ``folder``: only names of
    ``copy_in``'s exact making. The caller holds the index's write lock, so no copy is under way."""
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            if _UNFINISHED_COPY.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(OSError):
                    os.unlink(entry.name, dir_fd=folder)


def _write_copy(reader: BinaryIO, descriptor: int) -> None:
    """Copy ``reader`` into the new file ``descriptor`` with its mode and times, flushed to disk."""
    with os.fdopen(descriptor, "wb") as writer:
        shutil.copyfileobj(reader, writer, 1 << 20)
        given = os.fstat(reader.fileno())
        os.fchmod(descriptor, stat.S_IMODE(given.st_mode))
        writer.flush()
        os.fsync(descriptor)
        os.utime(descriptor, ns=(given.st_atime_ns, given.st_mtime_ns))


def _link_without_replacing(folder: int, name: str, new_name: str, source_folder: int | None = None) -> None:
    """Give the file ``name`` (in ``source_folder``, default ``folder``) the name ``new_name`` in
    ``folder``; FileExistsError when that name is taken. ``name`` stays; the caller removes it."""
    source = folder if source_folder is None else source_folder
    try:
        os.link(name, new_name, src_dir_fd=source, dst_dir_fd=folder, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError:  # no hard links here (FAT, some network filesystems): copy, never replacing
        with open(os.open(name, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0), dir_fd=source), "rb") as reader:
            _write_copy(reader, os.open(new_name, _NEW_FILE_FLAGS, 0o600, dir_fd=folder))


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back (main thread, Unix) until the block is done."""
    held = {signal.SIGINT, signal.SIGTERM}
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
