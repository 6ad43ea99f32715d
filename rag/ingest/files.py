"""Which files of the corpus are read: scanning folders, a file's bytes and version, and why a file is skipped."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from rag.errors import CorpusError, IngestError
from rag.ingest.decode import SURROGATES
from rag.ingest.formats import SUPPORTED_SUFFIXES
from rag.types import NO_TIME, FileVersion

MAX_FILE_BYTES = 50_000_000


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file of the corpus that was not read, and why (one line, meant for the user)."""

    path: str
    reason: str

    def __post_init__(self) -> None:
        if not self.path:
            raise ValueError("Skipped: path must be a non-empty path relative to the corpus")
        if not self.reason.strip() or "\n" in self.reason:
            raise ValueError(f"Skipped {self.path}: reason must be one non-empty line, got {self.reason!r}")


def doc_id_for(root: Path, path: Path) -> str:
    """The document id of ``path``: its path relative to ``root``, with forward slashes.

    Raises:
        ValueError: ``path`` is not inside ``root``.
    """
    try:
        relative = path.relative_to(root)
    except ValueError:
        try:
            relative = path.absolute().relative_to(root.absolute())
        except ValueError as err:
            raise ValueError(f"{path} is not inside the corpus folder {root}") from err
    return relative.as_posix()


def shown_path(doc_id: str) -> str:
    """``doc_id`` as text that can be stored and printed: bytes of a name that are not UTF-8 as ``\\xNN``."""
    if not SURROGATES.search(doc_id):
        return doc_id
    return os.fsencode(doc_id).decode("utf-8", "backslashreplace")


def scan_corpus(root: Path) -> tuple[list[Path], list[Skipped]]:
    """Find the candidate files under ``root``, recursively.

    Hidden files and folders (name starting with ".") are ignored silently. Symlinks that
    leave ``root``, special files and unsupported file types are reported as skipped.

    Args:
        root: The corpus folder.

    Returns:
        The files to read, sorted by doc_id, and the skipped entries, sorted by path.

    Raises:
        CorpusError: ``root`` does not exist, is not a folder or cannot be listed.
    """
    _check_corpus_root(root)
    real_root = root.resolve()
    files: list[Path] = []
    skipped: list[Skipped] = []
    folders = [root]
    while folders:
        folder = folders.pop()
        entries = _list_folder(root, folder, skipped)
        for path in entries:
            kind, reason = _classify(path, real_root)
            doc_id = doc_id_for(root, path)
            if kind != "skip" and SURROGATES.search(doc_id):  # os.fsdecode's stand-ins for undecodable bytes
                kind, reason = "skip", "its name is not valid UTF-8 (rename it to index it)"
            if kind == "folder":
                folders.append(path)
            elif kind == "file":
                files.append(path)
            else:
                skipped.append(Skipped(shown_path(doc_id), reason))
    files.sort(key=lambda path: doc_id_for(root, path))
    skipped.sort(key=lambda item: item.path)
    return files, skipped


def file_sha256(path: Path, *, root: Path) -> str:
    """The sha256 of the corpus file's bytes as indexing reads them; "" when it cannot be read (reading it says why)."""
    try:
        return read_file(path, root=root)[1].sha256
    except IngestError:
        return ""


# A file whose last change came at least this long before it was read, and whose stat is the
# same now, has not changed since: any later write sets its mtime after the read, and its
# ctime in any case. Closer to the read, a write in the same clock tick could keep both
# (git's "racy clean" problem), so such a file is hashed again.
RACY_SECONDS = 2.0


def unchanged_since(path: Path, version: FileVersion, *, root: Path) -> bool:
    """Whether the corpus file at ``path`` (under ``root``) still holds the bytes ``version`` was read from.

    Trusted from its stat (size, mtime, ctime and inode all equal, none of them racy),
    otherwise decided by hashing its bytes again; a file that cannot be read has changed.
    """
    try:
        info = os.stat(path)
    except OSError:
        return False
    now = (info.st_size, stored_time(info.st_mtime_ns), stored_time(info.st_ctime_ns), stored_inode(info.st_ino))
    same_stat = now == (version.size, version.mtime_ns, version.ctime_ns, version.inode)
    settled = max(version.mtime_ns, version.ctime_ns) + RACY_SECONDS * 1e9 < version.read_at_ns
    if same_stat and settled:
        return True
    return bool(version.sha256) and file_sha256(path, root=root) == version.sha256


# SQLite holds 64-bit signed integers. A file time in nanoseconds leaves that range after
# 2262-04-11 (``touch -d 2300-01-01`` is allowed on ext4, XFS and Btrfs), and some filesystems
# number inodes past 2**63; such values are stored clamped (times) or wrapped (inodes), and a
# file is compared by the same mapping, so it indexes and is still recognised as unchanged.
# The smallest value is kept for "no time known" (``rag.types.NO_TIME``).
_INT64_MAX = 2**63 - 1


def stored_time(nanoseconds: int) -> int:
    """A file time in nanoseconds as the index stores it: clamped into SQLite's 64-bit integers."""
    return max(NO_TIME + 1, min(nanoseconds, _INT64_MAX))


def stored_inode(inode: int) -> int:
    """An inode number as the index stores it: an unsigned 64-bit number as its signed twin."""
    return inode - 2**64 if inode > _INT64_MAX else inode


def _check_corpus_root(root: Path) -> None:
    if not root.exists():
        raise CorpusError(f"corpus folder '{root}' does not exist")
    if not root.is_dir():
        raise CorpusError(f"corpus folder '{root}' is not a directory")


def _list_folder(root: Path, folder: Path, skipped: list[Skipped]) -> list[Path]:
    """The visible entries of ``folder``; an unreadable sub-folder is reported in ``skipped``."""
    try:
        with os.scandir(folder) as entries:
            names = [entry.name for entry in entries]
    except OSError as err:
        if folder == root:
            raise CorpusError(f"corpus folder '{root}' cannot be read ({err.strerror})") from err
        skipped.append(Skipped(shown_path(doc_id_for(root, folder)) + "/", f"folder cannot be read ({err.strerror})"))
        return []
    return [folder / name for name in names if not name.startswith(".")]


def _classify(path: Path, real_root: Path) -> tuple[Literal["file", "folder", "skip"], str]:
    """Whether ``path`` is a file to read, a folder to enter, or skipped (with the reason)."""
    try:
        mode = os.lstat(path).st_mode
        is_link = stat.S_ISLNK(mode)
        if is_link:
            problem = _symlink_problem(path, real_root)
            if problem:
                return "skip", problem
            mode = os.stat(path).st_mode
    except OSError as err:
        return "skip", f"cannot read file information ({err.strerror})"
    if stat.S_ISDIR(mode):
        return ("skip", "symlink to a folder (not followed)") if is_link else ("folder", "")
    if not stat.S_ISREG(mode):
        return "skip", f"not a regular file ({_file_kind(mode)})"
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        return "skip", unsupported_reason(suffix)
    return "file", ""


def _symlink_problem(path: Path, real_root: Path) -> str:
    try:
        target = path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop, before Python 3.13
        return "symlink loop or unreadable symlink target"
    if not target.is_relative_to(real_root):
        return "symlink points outside the corpus folder"
    if not target.exists():
        return "broken symlink (its target does not exist)"
    return ""


def _file_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device file"
    if stat.S_ISDIR(mode):
        return "folder"
    return "special file"


def unsupported_reason(suffix: str) -> str:
    if not suffix:
        return "unsupported file type (no extension)"
    if not suffix.isprintable():  # a reason is one printable line, whatever the file is named
        suffix = suffix.encode("unicode_escape").decode("ascii")
    return f"unsupported file type {suffix}"


# --- reading bytes -----------------------------------------------------------------------


def read_bytes(path: Path) -> bytes:
    """The bytes of a regular file, refusing FIFOs, devices, empty and oversized files."""
    return read_file(path)[0]


def read_file(path: Path, *, root: Path | None = None) -> tuple[bytes, FileVersion]:
    """The bytes of a regular file and what it was when read (refusing what ``read_bytes`` refuses).

    With ``root``, ``path`` is a file of the corpus at ``root`` and is read only if the file
    opened lies inside it (``open_in_corpus``): a link swapped in after the scan is refused.
    """
    read_at = time.time_ns()
    descriptor = open_in_corpus(root, path) if root is not None else _open_regular(path, follow=True)
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise IngestError(f"not a regular file ({_file_kind(info.st_mode)})")
        _check_size(info.st_size)
        with os.fdopen(descriptor, "rb", closefd=False) as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise IngestError(f"cannot read file ({err.strerror})") from err
    finally:
        os.close(descriptor)
    _check_size(len(data))
    if not data:
        raise IngestError("empty file")
    version = FileVersion(
        sha256=hashlib.sha256(data).hexdigest(),
        size=info.st_size,
        mtime_ns=stored_time(info.st_mtime_ns),
        ctime_ns=stored_time(info.st_ctime_ns),
        inode=stored_inode(info.st_ino),
        read_at_ns=read_at,
    )
    return data, version


def open_in_corpus(root: Path, path: Path) -> int:
    """A read-only descriptor of the corpus file ``path``, opened only if it lies inside ``root``.

    The scan refuses links that leave the corpus, but a file can be replaced by such a link (or
    a folder on its path by a link to another folder) between the scan and the read. So the
    name itself is opened without following a link (a link the scan allowed is resolved and
    checked first), and the file then opened is checked where it really is: the path of the
    descriptor must lie inside the corpus, whatever happened to the names on the way.

    Raises:
        IngestError: The file cannot be opened, or what was opened lies outside the corpus.
    """
    real_root = os.path.realpath(root)
    try:
        descriptor = _open_regular(path, follow=False)
    except _IsLink:
        target = os.path.realpath(path)
        if not _within(target, real_root):
            raise IngestError("symlink points outside the corpus folder (not read)") from None
        try:
            descriptor = _open_regular(Path(target), follow=False)
        except _IsLink:
            raise IngestError("the file was replaced by a link while being read (not read)") from None
    try:
        if not _within(_descriptor_path(descriptor, path), real_root):
            raise IngestError("the file opened lies outside the corpus folder (a link on its path; not read)")
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def _within(where: str | None, real_root: str) -> bool:
    """Whether the real path ``where`` lies inside the real folder ``real_root`` (strings: this runs per file)."""
    if where is None:
        return False
    return where == real_root or where.startswith(real_root.rstrip(os.sep) + os.sep)


class _IsLink(Exception):
    """The last name of a path opened without following links is a symbolic link."""


def _open_regular(path: Path, *, follow: bool) -> int:
    """A read-only descriptor of ``path``; ``follow=False`` raises ``_IsLink`` rather than follow a link."""
    # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused once opened.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    if not follow:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        return os.open(path, flags)
    except OSError as err:
        if not follow and err.errno in (errno.ELOOP, errno.EMLINK) and os.path.islink(path):
            raise _IsLink from None  # Linux says ELOOP, FreeBSD EMLINK
        raise IngestError(f"cannot open file ({err.strerror})") from err


def _descriptor_path(descriptor: int, path: Path) -> str | None:
    """Where the open file ``descriptor`` really is: the kernel's name for it (/proc on Linux,
    F_GETPATH on macOS), else the resolved ``path`` when it is still that same file."""
    try:
        return os.readlink(f"/proc/self/fd/{descriptor}")
    except OSError:
        pass
    if hasattr(fcntl, "F_GETPATH"):  # macOS
        try:
            name = fcntl.fcntl(descriptor, fcntl.F_GETPATH, bytes(4096))
            return os.fsdecode(name.split(b"\0", 1)[0])
        except OSError:
            pass
    resolved = os.path.realpath(path)
    try:
        opened, named = os.fstat(descriptor), os.stat(resolved)
    except OSError:
        return None
    return resolved if (opened.st_dev, opened.st_ino) == (named.st_dev, named.st_ino) else None


def _check_size(size: int) -> None:
    if size > MAX_FILE_BYTES:
        raise IngestError(f"file too large ({size / 1e6:.1f} MB, limit {MAX_FILE_BYTES / 1e6:g} MB)")
