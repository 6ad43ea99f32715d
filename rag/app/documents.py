"""The documents the app serves and changes: the current index (swapped whole after a change), checking and
staging uploaded files, adding them to the corpus and deleting documents."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
import tempfile
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag import SUPPORTED_SUFFIXES, Index, RagError
from rag.app.render import counted, html_text, placeholder_html
from rag.ingest import document_reason

UPLOAD_FOLDER = "uploads"
MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # Gradio counts a megabyte as 1024 * 1024 bytes: one limit, "5 MB" everywhere
MAX_UPLOAD_LABEL = "5 MB"
MAX_UPLOAD_FILES = 20

# --- the current index, swapped whole when documents change ------------------------------


class IndexHolder:
    """The app's current Index: read by every request, replaced when documents change."""

    def __init__(self, index: Index | None = None) -> None:
        self._index = index
        self._changing = threading.Lock()  # one change of the corpus at a time
        self._stopping = False
        self._swap = threading.Lock()
        self._folders: dict[str, Path] = {}

    def folder(self, purpose: str) -> Path:
        """A private temporary folder of this app, made on first use: "staging" (uploads waiting to join
        the corpus, under content-hash names) or "exports" (lookup downloads)."""
        with self._swap:
            if purpose not in self._folders:
                self._folders[purpose] = Path(tempfile.mkdtemp(prefix=f"rag-{purpose}-"))
            return self._folders[purpose]

    @property
    def index(self) -> Index:
        with self._swap:
            if self._index is None:
                raise RagError("the index is not loaded yet; start the app with `python ui.py`")
            return self._index

    def set(self, index: Index) -> None:
        with self._swap:
            self._index = index

    def change(self, update: Callable[[Index], Index]) -> Index:
        """Apply ``update`` (e.g. ``lambda i: i.remove([...])``) and make its result current.

        Raises:
            RagError: The app is stopping (nothing was changed).
        """
        with self._changing:
            if self._stopping:
                raise RagError("the app is stopping; nothing was changed (try again once it is back)")
            updated = update(self.index)
            self.set(updated)
            return updated

    def stop(self) -> None:
        """Refuse every later change, and return once the change under way (if any) has finished."""
        self._stopping = True
        with self._changing:
            pass


# The index the app serves: every handler reads it at each request (tests put their own in its place).
STATE = IndexHolder()


# --- uploads ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Staged:
    """An uploaded file accepted for indexing: its staged copy and the name it gets in the corpus."""

    original: str
    path: Path
    name: str


_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


def safe_file_name(original: str, digest: str) -> str:
    """A plain, visible file name made from an uploaded file's name (any path and odd characters dropped)."""
    base = re.split(r"[\\/]", original)[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = _UNSAFE_NAME.sub("-", stem).strip(" .-_")[:80] or f"upload-{digest[:12]}"
    suffix = _UNSAFE_NAME.sub("", suffix).lower()
    return f"{stem}.{suffix}" if suffix else stem


def check_upload(name: str, data: bytes) -> str:
    """Why an upload is refused ("" when it is acceptable): its size, type and content are checked."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        allowed = " ".join(SUPPORTED_SUFFIXES)
        return f"unsupported file type {suffix or '(no extension)'}; accepted: {allowed}"
    if len(data) > MAX_UPLOAD_BYTES:
        return f"too large ({len(data) / 2**20:.1f} MB; the limit is {MAX_UPLOAD_LABEL})"
    if not data.strip():
        return "empty file"
    # Refused now for the reason indexing would give: a text format is read as indexing reads it;
    # PDF and DOCX get the checks made before parsing (they are parsed once, when indexed).
    return document_reason(Path(name), data=data)


def read_upload(path: Path) -> bytes | None:
    """The bytes of an uploaded file; None when it is over the upload limit.

    Read through one descriptor opened without following a link: a link put in place of the
    upload (in Gradio's cache, or a path an API client names) is refused, never read, and the
    size is that of the file read, not of whatever the name pointed at a moment before.

    Raises:
        OSError: It cannot be opened or read, is a link, or is not a regular file.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    descriptor = os.open(path, flags)
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        if info.st_size > MAX_UPLOAD_BYTES:
            return None
        data = handle.read(MAX_UPLOAD_BYTES + 1)
    return None if len(data) > MAX_UPLOAD_BYTES else data


def stage_uploads(files: Sequence[str | Path], staging: Path) -> tuple[list[Staged], list[tuple[str, str]]]:
    """Check uploaded files and copy the acceptable ones to ``staging`` under content-hash names.

    Returns:
        The staged files, and (original name, reason) for every file refused.
    """
    staged: list[Staged] = []
    refused: list[tuple[str, str]] = []
    staging.mkdir(parents=True, exist_ok=True, mode=0o700)
    names: set[str] = set()
    for file in files:
        path = Path(file)
        original = path.name
        try:
            data = read_upload(path)
        except OSError as error:
            refused.append((original, f"cannot be read ({error.strerror})"))
            continue
        if data is None:  # refused before reading a huge file into memory
            refused.append((original, f"too large (the limit is {MAX_UPLOAD_LABEL})"))
            continue
        reason = check_upload(original, data)
        if reason:
            refused.append((original, reason))
            continue
        digest = hashlib.sha256(data).hexdigest()
        name = safe_file_name(original, digest)
        if name.lower() in names:
            refused.append((original, f"another file in this upload is also named {name}"))
            continue
        names.add(name.lower())
        target = staging / f"{digest}{Path(name).suffix}"
        target.write_bytes(data)
        staged.append(Staged(original, target, name))
    return staged, refused


def upload_summary(
    staged: Sequence[Staged], refused: Sequence[tuple[str, str]], index: Index | None, existed: set[str]
) -> str:
    """HTML saying what was added (with sentence counts), replaced or skipped, and why."""
    items = [f"<li>\u2717 <b>{html_text(name)}</b> skipped: {html_text(reason)}</li>" for name, reason in refused]
    if index is not None:
        skipped = {s.path: s.reason for s in (index.build_report.skipped if index.build_report else ())}
        counts = {d["doc_id"]: d["sentences"] for d in index.documents()}
        for item in staged:
            doc_id = f"{UPLOAD_FOLDER}/{item.name}"
            label = html_text(item.original) + (f" (as {html_text(item.name)})" if item.name != item.original else "")
            if doc_id in counts:
                verb = "replaced" if doc_id in existed else "added"
                items.append(f"<li>\u2714 <b>{label}</b> {verb}: {counted(counts[doc_id], 'sentence')}</li>")
            else:
                reason = skipped.get(doc_id, "no text could be read from it")
                items.append(f"<li>\u2717 <b>{label}</b> skipped: {html_text(reason)}</li>")
    if not items:
        return placeholder_html("No files were chosen.")
    return f'<ul class="rag-summary">{"".join(items)}</ul>'


def add_uploads(holder: IndexHolder, files: Sequence[str | Path], staging: Path, progress: Any = None) -> str:
    """Check, stage and index uploaded files; the holder's index is replaced by the updated one."""
    report = progress or (lambda *args, **kwargs: None)
    files, beyond = list(files)[:MAX_UPLOAD_FILES], list(files)[MAX_UPLOAD_FILES:]
    report(0.1, desc=f"Checking {len(files)} file(s)")
    staged, refused = stage_uploads(files, staging)
    # Every file chosen is accounted for: those past the limit are listed, not silently dropped.
    limit = f"not added: {MAX_UPLOAD_FILES} files are indexed per upload; add it again in another upload"
    refused += [(Path(file).name, limit) for file in beyond]
    if not staged:
        return upload_summary(staged, refused, None, set())
    existed = {d["doc_id"] for d in holder.index.documents()}
    report(0.4, desc=f"Indexing {len(staged)} new file(s) with the corpus")
    try:
        index = holder.change(
            lambda current: current.add_files(
                [s.path for s in staged], folder=UPLOAD_FOLDER, names=[s.name for s in staged]
            )
        )
    finally:
        for item in staged:
            item.path.unlink(missing_ok=True)
    report(1.0, desc="Done")
    return upload_summary(staged, refused, index, existed)


def remove_document(holder: IndexHolder, doc_id: str) -> str:
    """Take one document out of the corpus and the index; returns a one-line message."""
    index = holder.index
    document = index.document(doc_id)
    if len(index.documents()) <= 1:
        raise RagError("this is the last document; the index needs at least one")
    holder.change(lambda current: current.remove([doc_id]))
    return f"Deleted {document.title} ({doc_id}); its file was moved to the corpus's .rag-removed folder."
