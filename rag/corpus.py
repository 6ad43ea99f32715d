"""Changes to the corpus folder made through an index (add files, remove documents), undone when they fail.

A file taken out of the corpus is moved to ``CORPUS/.rag-removed/<time>-<random>/`` (hidden, so
not indexed), never deleted and never over another file; a file added is never copied over an
existing one. ``CorpusMoves`` records every move so that a failed update puts the corpus back.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from rag.errors import RagError
from rag.ingest import descriptor_inside, doc_id_for, document_reason


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


def _remove_made_outside(descriptor: int, target: Path) -> None:
    """Remove the empty file just made through ``target`` where it really is (outside the corpus)."""
    made = os.fstat(descriptor)
    real = Path(os.path.realpath(target))
    with contextlib.suppress(OSError):
        now = os.lstat(real)
        if (now.st_dev, now.st_ino) == (made.st_dev, made.st_ino):
            real.unlink()


def _same_file(one: Path, other: Path) -> bool:
    try:
        return one.samefile(other)
    except OSError:
        return False


class CorpusMoves:
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
        """Copy ``source`` to ``target`` in the corpus; never over an existing file, never out of the corpus.

        The new file is made without following a link (O_EXCL, O_NOFOLLOW) and checked, once
        open, to lie inside the corpus: a folder on its way swapped for a link to another
        place is refused, and the file made there removed. Times and mode are copied through
        the open file, never through a name that could have become a link meanwhile.
        """
        self._make_parents(target)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        with open(source, "rb") as reader:
            descriptor = os.open(target, flags, 0o644)
            with os.fdopen(descriptor, "wb") as writer:
                if not descriptor_inside(descriptor, self.corpus, target):
                    _remove_made_outside(descriptor, target)
                    raise RagError(f"cannot add {source}: a folder on the way to {target} is a link out of the corpus")
                self._copied.append(target)
                shutil.copyfileobj(reader, writer, 1 << 20)
                given = os.fstat(reader.fileno())
                os.fchmod(descriptor, stat.S_IMODE(given.st_mode))
                writer.flush()
                os.utime(descriptor, ns=(given.st_atime_ns, given.st_mtime_ns))

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
