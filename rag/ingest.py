"""Files -> Document: corpus scanning, formats, encodings and metadata (title, source, url, date)."""

from __future__ import annotations

import codecs
import hashlib
import html
import io
import json
import logging
import os
import re
import stat
import subprocess
import sys
import time
import warnings
import zipfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from rag.errors import CorpusError, IngestError
from rag.types import Document, FileVersion

if TYPE_CHECKING:
    from docx.table import Table
    from pypdf import PdfReader

logger = logging.getLogger(__name__)

SUPPORTED_SUFFIXES: tuple[str, ...] = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")
MAX_FILE_BYTES = 50_000_000
# Limits of the child process that parses PDF and DOCX files.
PARSER_TIMEOUT_SECONDS = 20.0
PARSER_MEMORY_BYTES = 1_500_000_000
# Text, Markdown and HTML files larger than this are read in that child process too, under
# the same memory limit and a time limit that grows with their size; smaller ones are read in
# process (the readers are linear, and a process per small file would dominate indexing).
IN_PROCESS_MAX_BYTES = 256 * 1024
MARKUP_SECONDS_PER_MB = 3.0
# Zip-bomb guards, checked on a DOCX's ZIP directory before python-docx sees the file.
DOCX_MAX_UNCOMPRESSED_BYTES = 100_000_000
DOCX_MAX_MEMBERS = 10_000
DOCX_MAX_RATIO = 100
DOCX_RATIO_MIN_BYTES = 1_000_000

_HTML_SUFFIXES = (".html", ".htm")
_MARKUP_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")
_PAGE_BREAK = "\n\n"
_MAX_FIELD_CHARS = 300
_MAX_CONTROL_SHARE = 0.01
_MAX_FRONT_MATTER_LINES = 60
_WORKER_COMMAND = "from rag.ingest import _worker_main; _worker_main()"


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


@dataclass(frozen=True, slots=True)
class _Extracted:
    """What a format reader found in one file, before it becomes a Document."""

    text: str
    title: str = ""
    source: str = ""
    url: str = ""
    date: str = ""
    pages: tuple[int, ...] = ()


# --- public API --------------------------------------------------------------------------


def content_hash(text: str) -> str:
    """The SHA-256 hex digest of ``text`` encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


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
    if not _SURROGATES.search(doc_id):
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
            if kind != "skip" and _SURROGATES.search(doc_id):  # os.fsdecode's stand-ins for undecodable bytes
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


def load_corpus(root: Path) -> tuple[list[Document], list[Skipped]]:
    """Read every candidate file under ``root``; a file that cannot be read is skipped, never raised.

    Args:
        root: The corpus folder.

    Returns:
        The documents, sorted by doc_id, and every skipped file with its reason, sorted by path.

    Raises:
        CorpusError: ``root`` does not exist, is not a folder or cannot be listed.
    """
    paths, skipped = scan_corpus(root)
    loaded, failed = load_documents(root, paths)
    skipped = sorted(skipped + failed, key=lambda item: item.path)
    return [document for document, _ in loaded], skipped


def load_documents(root: Path, paths: Sequence[Path]) -> tuple[list[tuple[Document, FileVersion]], list[Skipped]]:
    """Read the given files of the corpus at ``root``; a file that cannot be read is skipped, never raised.

    Returns:
        Each document read, with the version of the file it was read from (sha256 of its
        bytes and its stat; in the order given), and every file skipped with its reason.
    """
    documents: list[tuple[Document, FileVersion]] = []
    skipped: list[Skipped] = []
    for path in paths:
        doc_id = doc_id_for(root, path)
        try:
            data, version = _read_file(path)
            documents.append((read_document(path, doc_id, data), version))
        except IngestError as err:
            skipped.append(Skipped(doc_id, _one_line(str(err))))
        except Exception as err:  # one bad file must not stop the whole corpus
            logger.exception("unexpected error while reading %s", doc_id)
            skipped.append(Skipped(doc_id, f"unexpected error while reading ({type(err).__name__})"))
    for item in skipped:
        logger.info("skipped %s: %s", item.path, item.reason)
    return documents, skipped


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes as indexing reads them; "" when it cannot be read (reading it says why)."""
    try:
        return _read_file(path)[1].sha256
    except IngestError:
        return ""


# A file whose last change came at least this long before it was read, and whose stat is the
# same now, has not changed since: any later write sets its mtime after the read, and its
# ctime in any case. Closer to the read, a write in the same clock tick could keep both
# (git's "racy clean" problem), so such a file is hashed again.
RACY_SECONDS = 2.0


def unchanged_since(path: Path, version: FileVersion) -> bool:
    """Whether the file at ``path`` still holds the bytes ``version`` was read from.

    Trusted from its stat (size, mtime, ctime and inode all equal, none of them racy),
    otherwise decided by hashing its bytes again; a file that cannot be read has changed.
    """
    try:
        info = os.stat(path)
    except OSError:
        return False
    same_stat = (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino) == (
        version.size, version.mtime_ns, version.ctime_ns, version.inode,
    )  # fmt: skip
    settled = max(version.mtime_ns, version.ctime_ns) + RACY_SECONDS * 1e9 < version.read_at_ns
    if same_stat and settled:
        return True
    return bool(version.sha256) and file_sha256(path) == version.sha256


def read_document(path: Path, doc_id: str, data: bytes | None = None) -> Document:
    """Read one file as a Document.

    Args:
        path: The file; its suffix chooses the format.
        doc_id: The id to give the document (see ``doc_id_for``).
        data: The file's bytes, when already read (otherwise they are read from ``path``).

    Returns:
        The document, with ``content_hash`` set and, for PDFs, the page start offsets.

    Raises:
        IngestError: The file cannot be read as a document; the message says why.
    """
    suffix = path.suffix.lower()
    reader = _READERS.get(suffix)
    if reader is None:
        raise IngestError(_unsupported(suffix))
    data = _read_bytes(path) if data is None else data
    if suffix in _MARKUP_SUFFIXES and len(data) > IN_PROCESS_MAX_BYTES:
        extracted = _read_markup_in_child(data, path)
    else:
        extracted = reader(data, path)
    if not extracted.text.strip():
        raise IngestError(f"no text after extracting {_FORMAT_NAMES[suffix]}")
    return Document(
        doc_id=doc_id,
        text=extracted.text,
        title=extracted.title or _title_from_name(path),
        source=extracted.source,
        url=_safe_url(extracted.url),
        date=extracted.date,
        content_hash=content_hash(extracted.text),
        pages=extracted.pages,
    )


# --- scanning ----------------------------------------------------------------------------


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
        return "skip", _unsupported(suffix)
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


def _unsupported(suffix: str) -> str:
    if not suffix:
        return "unsupported file type (no extension)"
    if not suffix.isprintable():  # a reason is one printable line, whatever the file is named
        suffix = suffix.encode("unicode_escape").decode("ascii")
    return f"unsupported file type {suffix}"


# --- reading bytes -----------------------------------------------------------------------


def _read_bytes(path: Path) -> bytes:
    """The bytes of a regular file, refusing FIFOs, devices, empty and oversized files."""
    return _read_file(path)[0]


def _read_file(path: Path) -> tuple[bytes, FileVersion]:
    """The bytes of a regular file and what it was when read (refusing what ``_read_bytes`` refuses)."""
    read_at = time.time_ns()
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        raise IngestError(f"cannot open file ({err.strerror})") from err
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
        mtime_ns=info.st_mtime_ns,
        ctime_ns=info.st_ctime_ns,
        inode=info.st_ino,
        read_at_ns=read_at,
    )
    return data, version


def _check_size(size: int) -> None:
    if size > MAX_FILE_BYTES:
        raise IngestError(f"file too large ({size / 1e6:.1f} MB, limit {MAX_FILE_BYTES / 1e6:g} MB)")


# --- decoding text -----------------------------------------------------------------------

_BOMS: tuple[tuple[bytes, str, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32 LE"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32 BE"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16 LE"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16 BE"),
)
_MAGIC_NUMBERS: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"%PDF-", "PDF document"),
    (b"\x7fELF", "ELF executable"),
    (b"\x1f\x8b", "gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "legacy Office document"),
)
# C0 controls other than tab, newline, carriage return and form feed; DEL; C1 controls.
_CONTROL_RUNS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]+")
_SURROGATES = re.compile(r"[\ud800-\udfff]")
_META_CHARSET = re.compile(rb"""<meta[^>]{0,512}?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]{1,40})""", re.I)
# Declared charsets left to the cp1252 fallback (as browsers do for latin-1), or not real charsets.
_UNDECLARABLE = {"utf-8", "iso8859-1", "ascii", "cp1252", "idna", "punycode", "undefined"}
_UNDECLARABLE |= {"raw-unicode-escape", "unicode-escape", "utf-7", "utf-16", "utf-16-le", "utf-16-be", "utf-32"}
_LEGACY_ERRORS = "rag.ingest.legacy"


def _legacy_byte_table() -> tuple[str, ...]:
    """How each byte reads in cp1252, or in latin-1 for the five bytes cp1252 leaves undefined."""
    table = []
    for value in range(256):
        try:
            table.append(bytes([value]).decode("cp1252"))
        except UnicodeDecodeError:
            table.append(bytes([value]).decode("latin-1"))
    return tuple(table)


_LEGACY_BYTES = _legacy_byte_table()


def _decode_invalid_as_legacy(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    chunk = error.object[error.start : error.end]
    return "".join(_LEGACY_BYTES[value] for value in chunk), error.end


codecs.register_error(_LEGACY_ERRORS, _decode_invalid_as_legacy)


def _decode_text(data: bytes, path: Path) -> str:
    """The text of a text-format file, line endings normalised to "\\n"; refuses binary and empty files."""
    text = _normalise_newlines(_decode_bytes(data, path))
    if not text.strip():
        raise IngestError("empty file")
    return text


def _decode_bytes(data: bytes, path: Path) -> str:
    suffix = path.suffix.lower()
    binary = f"binary content (control characters) in a {suffix} file"
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            return _require_text(_decode_strict(data[len(bom) :], codec, label), binary)
    _reject_binary(data, suffix)
    try:
        return _require_text(data.decode("utf-8"), binary)
    except UnicodeDecodeError:
        pass
    declared = _declared_charset(data) if suffix in _HTML_SUFFIXES else None
    if declared:
        try:
            return _require_text(data.decode(declared), binary)
        except (UnicodeDecodeError, LookupError):  # LookupError: a codec that is not a charset
            logger.info("%s: not valid in its declared charset %s", path, declared)
    # Mostly-UTF-8 files with stray Windows bytes read correctly; pure cp1252 files too.
    text = data.decode("utf-8", errors=_LEGACY_ERRORS)
    text = _require_text(text, "not valid UTF-8 and not a recognised legacy encoding")
    logger.warning("%s: not valid UTF-8; read its invalid bytes as cp1252 (latin-1 where undefined)", path)
    return text


def _decode_strict(data: bytes, codec: str, label: str) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError as err:
        raise IngestError(f"not valid {label} despite its byte-order mark (byte {err.start})") from err


def _reject_binary(data: bytes, suffix: str) -> None:
    for magic, kind in _MAGIC_NUMBERS:
        if data.startswith(magic):
            raise IngestError(f"binary content ({kind}) in a {suffix} file")
    if b"\x00" in data:
        raise IngestError(f"binary content (NUL bytes) in a {suffix} file")


def _require_text(text: str, reason: str) -> str:
    controls = sum(match.end() - match.start() for match in _CONTROL_RUNS.finditer(text))
    if controls > _MAX_CONTROL_SHARE * len(text):
        raise IngestError(reason)
    return text


def _declared_charset(data: bytes) -> str | None:
    """The charset an HTML file declares in a <meta> tag, when it is one worth trying."""
    match = _META_CHARSET.search(data[:8192])
    if match is None:
        return None
    try:
        name = codecs.lookup(match[1].decode("ascii")).name
    except LookupError:
        return None
    return None if name in _UNDECLARABLE else name


def _normalise_newlines(text: str) -> str:
    return _SURROGATES.sub("\ufffd", text.replace("\r\n", "\n").replace("\r", "\n"))


# --- metadata ----------------------------------------------------------------------------

_FRONT_MATTER_FIELD = re.compile(r"([A-Za-z_][\w-]*)\s*:\s*(.*)")
_DOMAIN = r"(?:www\.)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}"
_SOURCE_LABEL = r"(?:sources?|references?|reference\(s\))\s*:"
_SOURCE_DOMAIN = re.compile(_DOMAIN, re.I)
_SOURCE_LABEL_LINE = re.compile(_SOURCE_LABEL, re.I)
_SOURCE_ONE_LINE = re.compile(rf"{_SOURCE_LABEL}\s*({_DOMAIN})", re.I)


def _split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """The ``key: value`` fields of a leading ``---`` block, and the text after it.

    Text without a well-formed block (closing line, only ``key: value`` lines) comes back whole.
    """
    if not text.startswith("---\n"):
        return {}, text
    lines = text.split("\n", _MAX_FRONT_MATTER_LINES + 1)
    for index in range(1, min(len(lines), _MAX_FRONT_MATTER_LINES + 1)):
        if lines[index].rstrip() in ("---", "..."):
            fields = _parse_front_matter(lines[1:index])
            if fields is None:
                break
            return fields, "\n".join(lines[index + 1 :]).lstrip("\n")
    return {}, text


def _parse_front_matter(lines: list[str]) -> dict[str, str] | None:
    fields: dict[str, str] = {}
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#") or line[0] in " \t-":
            continue  # blank, comment, or a nested YAML value we have no use for
        match = _FRONT_MATTER_FIELD.fullmatch(line.strip())
        if match is None:
            return None
        fields.setdefault(match[1].lower(), _unquote(match[2].strip()))
    return fields


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _trailing_source(text: str) -> str:
    """A bare domain on the last line, after a "Reference(s):" or "Source:" label, else ""."""
    lines = [line.strip() for line in text[-2000:].split("\n") if line.strip()]
    if not lines:
        return ""
    one_line = _SOURCE_ONE_LINE.fullmatch(lines[-1])
    if one_line:
        return one_line[1]
    if len(lines) >= 2 and _SOURCE_DOMAIN.fullmatch(lines[-1]) and _SOURCE_LABEL_LINE.fullmatch(lines[-2]):
        return lines[-1]
    return ""


def _with_fields(text: str, fields: dict[str, str], title: str = "") -> _Extracted:
    """An extraction whose metadata comes from front matter, falling back to ``title`` and the text."""
    return _Extracted(
        text=text,
        title=_clean_field(fields.get("title", "")) or title,
        source=_clean_field(fields.get("source", "")) or _trailing_source(text),
        url=_clean_field(fields.get("url", "")),
        date=_clean_field(fields.get("date", "")),
    )


def _clean_field(value: str) -> str:
    return " ".join(value.split())[:_MAX_FIELD_CHARS]


def _safe_url(url: str) -> str:
    """``url`` when it is an http(s) address; anything else (javascript:, file:) is dropped."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else ""


def _title_from_name(path: Path) -> str:
    """A title made from the file name: "seed-article.txt" -> "Seed article"."""
    words = " ".join(re.split(r"[-_\s]+", path.stem)).strip()
    return words[:1].upper() + words[1:] if words else path.name


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "unknown error"


# --- plain text and Markdown -------------------------------------------------------------


def _read_plain(data: bytes, path: Path) -> _Extracted:
    fields, body = _split_front_matter(_decode_text(data, path))
    return _with_fields(body, fields, title=plain_headline(body))


_HEADLINE_MAX_CHARS = 120


def plain_headline(text: str) -> str:
    """The first line of a plain text when it reads as a headline: short, not ending like a
    sentence (no final period), followed by a blank line and more text; else ""."""
    lines = text.lstrip("\ufeff").lstrip("\n").split("\n", 2)
    if len(lines) < 3 or lines[1].strip() or not lines[2].strip():
        return ""
    first = " ".join(lines[0].split())
    if not first or len(first) > _HEADLINE_MAX_CHARS or first[-1] in ".,;:!?" or not any(c.isalpha() for c in first):
        return ""
    return _clean_field(first)


def _read_markdown(data: bytes, path: Path) -> _Extracted:
    fields, body = _split_front_matter(_decode_text(data, path))
    markdown = _drop_html_blocks(body)
    return _with_fields(_markdown_to_text(markdown), fields, title=_markdown_title(markdown))


_MD_HTML_BLOCK = re.compile(r"<!--|<(script|style|noscript|template)\b[^<>]*>", re.I)
_MD_HTML_BLOCK_END = {name: re.compile(rf"</{name}\s*>", re.I) for name in ("script", "style", "noscript", "template")}
_MD_REFERENCE = re.compile(r" {0,3}\[(?!\^)[^\]\n]+\]:[ \t]*\S.*")
_MD_TABLE_RULE_CHARS = frozenset("|-: \t")
_MD_FENCE = re.compile(r" {0,3}(?:```|~~~)")
_MD_RULE = re.compile(r" {0,3}([-*_=])(?:[ \t]*\1){2,}[ \t]*")
_MD_QUOTE = re.compile(r" {0,3}(?:>[ \t]?)+")
_MD_HEADING_MARK = re.compile(r" {0,3}(#{1,6})(?=[ \t]|$)")
_MD_BRACKETS = r"\[((?:[^\[\]\n]|\[[^\[\]\n]*\])*)\]"
_MD_TARGET = r"(?:\([^()\n]*(?:\([^()\n]*\)[^()\n]*)*\)|\[[^\]\n]*\])"
_MD_INLINE: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"!" + _MD_BRACKETS + _MD_TARGET), ""),  # images go entirely, alt text too
    (re.compile(_MD_BRACKETS + _MD_TARGET), r"\1"),
    (re.compile(r"<((?:https?|mailto):[^<>\s]+)>"), r"\1"),
    (re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>"), ""),
    (re.compile(r"`+([^`\n]+)`+"), r"\1"),
    (re.compile(r"\*\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*\*"), r"\1"),
    (re.compile(r"(?<!\w)__(?=[^\s_])([^_\n]+?)(?<=[^\s_])__(?!\w)"), r"\1"),
    (re.compile(r"(?<!\*)\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*(?!\*)"), r"\1"),
    (re.compile(r"(?<![\w_])_(?=[^\s_])([^_\n]+?)(?<=[^\s_])_(?![\w_])"), r"\1"),
    (re.compile(r"~~(?=\S)([^~\n]+?)(?<=\S)~~"), r"\1"),
)
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>~&])")
_ESCAPE_PLANE = 0xF0000
_MD_ESCAPED = re.compile("[\U000f0000-\U000f007f]")
_MD_INNER_SPACES = re.compile(r"(?<=\S)[ \t]{2,}(?=\S)")
_BLANK_RUNS = re.compile(r"\n{3,}")


def _markdown_to_text(markdown: str) -> str:
    """Plain text of light Markdown (without HTML comments and scripts): link text kept, images dropped."""
    lines = (_markdown_line(line) for line in markdown.split("\n"))
    text = _markdown_inline("\n".join(line for line in lines if line is not None))
    # Also what removed markup leaves at line starts. Stripped line by line: a regular expression
    # for trailing spaces ("[ \t]+$") backtracks over every long run of spaces inside a line.
    text = "\n".join(line.strip(" \t") for line in text.split("\n"))
    return _BLANK_RUNS.sub("\n\n", text).strip("\n")


def _markdown_line(line: str) -> str | None:
    """One line without its block markup; None drops the line, "" leaves a paragraph break."""
    if _MD_REFERENCE.fullmatch(line) or _is_table_rule(line):
        return None
    if _MD_FENCE.match(line) or _MD_RULE.fullmatch(line):
        return ""
    quote = _MD_QUOTE.match(line)
    if quote:
        line = line[quote.end() :]
    heading = _heading(line)
    return heading[1] if heading else line


def _is_table_rule(line: str) -> bool:
    """A table's header separator, such as ``|---|:--:|``."""
    return "|" in line and "-" in line and set(line) <= _MD_TABLE_RULE_CHARS


def _heading(line: str) -> tuple[int, str] | None:
    """The level and text of an ATX heading line such as ``## Text ##``, else None.

    Written out rather than as one regular expression, which takes quadratic time on long runs of spaces.
    """
    mark = _MD_HEADING_MARK.match(line)
    if mark is None:
        return None
    text = line[mark.end() :].strip(" \t")
    unclosed = text.rstrip("#")
    if unclosed != text and (not unclosed or unclosed[-1] in " \t"):
        text = unclosed.rstrip(" \t")
    return len(mark[1]), text


def _markdown_inline(text: str) -> str:
    # Escaped characters are parked in a private-use plane so no pattern mistakes them for markup.
    text = _MD_ESCAPE.sub(lambda match: chr(_ESCAPE_PLANE + ord(match[1])), text)
    for _ in range(2):  # a second pass reaches markup nested in markup, e.g. **bold *italic***
        for pattern, replacement in _MD_INLINE:
            text = pattern.sub(replacement, text)
    text = _MD_ESCAPED.sub(lambda match: chr(ord(match[0]) - _ESCAPE_PLANE), html.unescape(text))
    # Escapes and entities can spell an image or link anew; drop those too, so none reaches a renderer.
    for pattern, replacement in _MD_INLINE[:2]:
        text = pattern.sub(replacement, text)
    return _MD_INNER_SPACES.sub(" ", text)


def _drop_html_blocks(text: str) -> str:
    """Remove HTML comments and script-like elements with their content; unclosed ones run to the end."""
    kept: list[str] = []
    position = 0
    while match := _MD_HTML_BLOCK.search(text, position):
        kept.append(text[position : match.start()])
        if match[1] is None:
            close = text.find("-->", match.end())
            position = len(text) if close < 0 else close + 3
        else:
            end = _MD_HTML_BLOCK_END[match[1].lower()].search(text, match.end())
            position = len(text) if end is None else end.end()
    kept.append(text[position:])
    return "".join(kept)


def _markdown_title(markdown: str) -> str:
    """The text of the first level-1 heading, else ""."""
    for line in markdown.split("\n"):
        heading = _heading(line)
        if heading and heading[0] == 1 and heading[1]:
            return _clean_field(_markdown_inline(heading[1]))
    return ""


# --- HTML --------------------------------------------------------------------------------

_HIDDEN_TAGS = {"head", "script", "style", "noscript", "template", "svg", "math", "iframe", "object", "canvas"}
_VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source"}
_VOID_TAGS |= {"track", "wbr"}
_BLOCK_TAGS = {"address", "article", "aside", "blockquote", "caption", "dd", "details", "dialog", "div", "dl"}
_BLOCK_TAGS |= {"dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6"}
_BLOCK_TAGS |= {"header", "hgroup", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table"}
_BLOCK_TAGS |= {"tr", "ul", "body", "html"}
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")
_COMMENT_CLOSE = re.compile(r"--\s*>")  # what html.parser accepts as the end of a comment
_META_FIELDS = {
    "source": ("og:site_name", "author"),
    "date": ("article:published_time", "date"),
    "url": ("og:url",),
}


class _VisibleText(HTMLParser):
    """Collects the text a browser would show, in blocks, plus the title and <meta> fields."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self.meta: dict[str, str] = {}
        self.canonical = ""
        self.title = ""
        self.first_h1 = ""
        self._parts: list[str] = []
        self._hidden: list[str] = []  # open elements since entering a hidden one
        self._hidden_open: Counter[str] = Counter()  # how many of each tag ``_hidden`` holds
        self._title_parts: list[str] | None = None
        self._h1_parts: list[str] | None = None

    def text(self) -> str:
        self._flush()
        return "\n\n".join(self.blocks)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self._read_metadata(tag, values)
        if self._hidden and not (self._hidden[0] == "head" and tag in _BLOCK_TAGS):
            if tag not in _VOID_TAGS:
                self._push_hidden(tag)
            return
        self._hidden.clear()  # a body element closes an unclosed <head>
        self._hidden_open.clear()
        if tag not in _VOID_TAGS and (tag in _HIDDEN_TAGS or _hides(values)):
            self._push_hidden(tag)
            return
        self._open_visible(tag)

    def _push_hidden(self, tag: str) -> None:
        self._hidden.append(tag)
        self._hidden_open[tag] += 1

    def _close_hidden(self, tag: str) -> None:
        """Close the innermost open ``tag`` and what it holds; a stray end tag changes nothing.

        The count of open tags answers "is it open?" at once and each element is popped once,
        so deeply nested or stray tags cost linear time, not a search of the stack per end tag.
        """
        if not self._hidden_open[tag]:
            return
        while True:
            popped = self._hidden.pop()
            self._hidden_open[popped] -= 1
            if popped == tag:
                return

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self._title_parts is not None:
            self.title = _clean_field("".join(self._title_parts))
            self._title_parts = None
        if self._hidden:
            self._close_hidden(tag)
            return
        if tag in _BLOCK_TAGS:
            self._flush()
        if tag == "h1" and self._h1_parts is not None:
            self.first_h1 = _clean_field("".join(self._h1_parts))
            self._h1_parts = None

    def handle_data(self, data: str) -> None:
        if self._title_parts is not None:
            self._title_parts.append(data)
        elif not self._hidden:
            self._parts.append(_HTML_SPACE.sub(" ", data))
            if self._h1_parts is not None:
                self._h1_parts.append(data)

    def _read_metadata(self, tag: str, values: dict[str, str]) -> None:
        if tag == "title" and not self.title and self._title_parts is None:
            self._title_parts = []
        elif tag == "meta":
            key = (values.get("property") or values.get("name") or "").lower()
            if key and values.get("content"):
                self.meta.setdefault(key, values["content"])
        elif tag == "link" and "canonical" in values.get("rel", "").lower().split():
            self.canonical = self.canonical or values.get("href", "")

    def _open_visible(self, tag: str) -> None:
        if tag in _BLOCK_TAGS:
            self._flush()
        elif tag == "br":
            self._parts.append("\n")
        elif tag in ("td", "th"):
            self._parts.append(" ")
        if tag == "h1" and not self.first_h1 and self._h1_parts is None:
            self._h1_parts = []

    def _flush(self) -> None:
        lines = (line.strip(" ") for line in "".join(self._parts).split("\n"))
        block = "\n".join(lines).strip("\n")
        if block.strip():
            self.blocks.append(block)
        self._parts = []


def _hides(values: dict[str, str]) -> bool:
    return "hidden" in values or bool(_HIDDEN_STYLE.search(values.get("style", "")))


def _read_html(data: bytes, path: Path) -> _Extracted:
    parser = _VisibleText()
    try:
        parser.feed(_defuse_unclosed_markup(_decode_text(data, path)))
        parser.close()
    except (AssertionError, ValueError) as err:  # html.parser's reaction to some broken markup
        raise IngestError(f"HTML could not be parsed ({_one_line(str(err))})") from err
    text = parser.text()
    return _Extracted(
        text=text,
        title=parser.title or parser.first_h1,
        source=_meta_field(parser, "source") or _trailing_source(text),
        url=next(filter(_safe_url, (_clean_field(parser.canonical), _meta_field(parser, "url"))), ""),
        date=_meta_field(parser, "date"),
    )


def _defuse_unclosed_markup(text: str) -> str:
    """Rewrite markup that never closes, on which html.parser spends quadratic time.

    As in a browser: ``<![`` opens a bogus comment, an unclosed ``<!--`` hides the rest of the
    page, and a ``<`` after the last ``>`` can open no tag, so it is text.
    """
    last_close = 0
    for match in _COMMENT_CLOSE.finditer(text):
        last_close = match.end()
    unclosed = text.find("<!--", last_close)
    if unclosed >= 0:
        text = text[:unclosed]
    last_gt = text.rfind(">") + 1
    return text[:last_gt].replace("<![", "<! [") + text[last_gt:].replace("<", "&lt;")


def _meta_field(parser: _VisibleText, field: str) -> str:
    for key in _META_FIELDS[field]:
        if parser.meta.get(key, "").strip():
            return _clean_field(parser.meta[key])
    return ""


# --- PDF ---------------------------------------------------------------------------------


class _ParseProblem(Exception):
    """A file that cannot be used, raised inside the worker process with the reason to report."""


def _read_pdf(data: bytes, path: Path) -> _Extracted:
    if b"%PDF-" not in data[:1024]:
        raise IngestError("not a PDF file (no %PDF- header)")
    raw_pages, title, _ = _extract_in_child("pdf", data)
    pages = [_normalise_newlines(page).strip() for page in raw_pages]
    if not any(pages):
        raise IngestError("PDF has no text layer (scanned?)")
    starts = []
    offset = 0
    for page in pages:
        starts.append(offset)
        offset += len(page) + len(_PAGE_BREAK)
    return _Extracted(text=_PAGE_BREAK.join(pages), title=_clean_field(title), pages=tuple(starts))


def _extract_in_child(kind: str, data: bytes) -> tuple[list[str], str, str]:
    """Text parts, title and source of a ``kind`` file ("pdf", "docx"), parsed in a child process
    under time and memory limits, so that a hostile file can neither hang nor exhaust the caller.

    A subprocess rather than multiprocessing: spawn and forkserver re-run the caller's
    ``__main__`` script in the child, which breaks scripts without a ``__main__`` guard.
    """
    label = _WORKER_LABELS[kind]
    output, exit_code = _run_worker([kind], data, label, PARSER_TIMEOUT_SECONDS)
    return _parse_worker_outcome(label, output, exit_code)


def _run_worker(arguments: list[str], data: bytes, label: str, timeout: float) -> tuple[bytes, int]:
    """Run the parser process on ``data``; its standard output and exit code."""
    try:
        completed = subprocess.run(
            [sys.executable, "-c", _WORKER_COMMAND, *arguments],
            input=data,
            capture_output=True,
            timeout=timeout,
            env=_worker_environment(),
            check=False,
        )
    except subprocess.TimeoutExpired as err:  # run() has killed the child
        raise IngestError(f"{label} parsing timed out after {timeout:g} s") from err
    except OSError as err:
        raise IngestError(f"cannot start the {label} parser ({err.strerror})") from err
    if completed.stderr:
        logger.debug("%s worker stderr: %s", label, completed.stderr.decode("utf-8", "replace")[-2000:])
    return completed.stdout, completed.returncode


def _read_markup_in_child(data: bytes, path: Path) -> _Extracted:
    """A large text, Markdown or HTML file read by its reader in the parser process, under its limits.

    The time limit grows with the file, since these readers are linear and a big legitimate file
    takes a while; what cannot pass is a parser that goes quadratic or swells in memory.
    """
    suffix = path.suffix.lower()
    label = _FORMAT_NAMES[suffix]
    timeout = PARSER_TIMEOUT_SECONDS + MARKUP_SECONDS_PER_MB * len(data) / 1e6
    output, exit_code = _run_worker(["markup", suffix], data, label, round(timeout, 1))
    outcome = _worker_outcome(output)
    fields = outcome.get("extracted") if isinstance(outcome, dict) else None
    names = ("text", "title", "source", "url", "date")
    if not isinstance(fields, dict) or not all(isinstance(fields.get(n), str) for n in names):
        raise IngestError(f"{label} parser crashed (exit code {exit_code})")
    return _Extracted(**{n: fields[n] for n in names})


def _worker_environment() -> dict[str, str]:
    """The caller's environment, with this package importable even when it is not installed."""
    package_parent = str(Path(__file__).resolve().parents[1])
    paths = [package_parent, *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def _worker_outcome(output: bytes) -> object:
    """The parser process's JSON outcome (None when it is not JSON); its own error message is raised."""
    try:
        outcome = json.loads(output)
    except ValueError:
        return None
    if isinstance(outcome, dict) and isinstance(outcome.get("error"), str):
        raise IngestError(outcome["error"])
    return outcome


def _parse_worker_outcome(label: str, output: bytes, exit_code: int) -> tuple[list[str], str, str]:
    outcome = _worker_outcome(output)
    if not (
        isinstance(outcome, dict)
        and _is_str_list(outcome.get("parts"))
        and isinstance(outcome.get("title"), str)
        and isinstance(outcome.get("source"), str)
    ):
        raise IngestError(f"{label} parser crashed (exit code {exit_code})")
    return outcome["parts"], outcome["title"], outcome["source"]


def _is_str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _worker_main() -> None:
    """Entry point of the parser process: the kind in argv, file bytes on stdin, a JSON outcome on stdout."""
    kind = sys.argv[1] if len(sys.argv) > 1 else ""
    data = sys.stdin.buffer.read()
    if kind == "markup":
        sys.stdout.write(_markup_worker(data, sys.argv[2] if len(sys.argv) > 2 else ""))
        return
    label = _WORKER_LABELS.get(kind, kind)
    try:
        # Looked up at call time (not in a table) so that tests can replace an extractor.
        extract = {"pdf": _extract_pdf, "docx": _extract_docx}[kind]
        _limit_memory(PARSER_MEMORY_BYTES)
        parts, title, source = extract(data)
        output = json.dumps({"parts": parts, "title": title, "source": source})
    except MemoryError:
        output = json.dumps({"error": f"{label} parsing ran out of memory (limit {PARSER_MEMORY_BYTES / 1e9:g} GB)"})
    except _ParseProblem as err:
        output = json.dumps({"error": str(err)})
    except Exception as err:  # parsers raise many kinds on malformed input; report, never crash
        reason = _pdf_error_reason(err) if kind == "pdf" else _docx_error_reason(err)
        output = json.dumps({"error": reason})
    sys.stdout.write(output)


def _markup_worker(data: bytes, suffix: str) -> str:
    """The JSON outcome of reading a text, Markdown or HTML file in the parser process."""
    label = _FORMAT_NAMES.get(suffix, suffix)
    try:
        _limit_memory(PARSER_MEMORY_BYTES)
        extracted = _READERS[suffix](data, Path(f"document{suffix}"))
        fields = {n: getattr(extracted, n) for n in ("text", "title", "source", "url", "date")}
        # Lone surrogates cannot cross as UTF-8 JSON; the readers already replace them.
        return json.dumps({"extracted": fields})
    except MemoryError:
        return json.dumps({"error": f"{label} parsing ran out of memory (limit {PARSER_MEMORY_BYTES / 1e9:g} GB)"})
    except IngestError as err:
        return json.dumps({"error": _one_line(str(err))})


def _limit_memory(budget: int) -> None:
    """Cap this process's address space at what it maps now plus ``budget`` bytes.

    Relative to the current size, because a child may inherit large mappings it does not use.
    """
    try:
        import resource
    except ImportError:  # not Unix: no address-space limit to set
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _address_space_in_use() + budget
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ValueError, OSError):  # the timeout still bounds the worker
        logger.warning("could not limit the parser worker's memory")


def _address_space_in_use() -> int:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[0])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _extract_pdf(data: bytes) -> tuple[list[str], str, str]:
    try:
        import pypdf  # imported here: only the worker process parses PDFs
    except ImportError as err:
        raise _ParseProblem("reading PDFs needs the pypdf package (pip install pypdf)") from err

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    warnings.simplefilter("ignore")
    reader = pypdf.PdfReader(io.BytesIO(data))
    if reader.is_encrypted and not _decrypt(reader):
        raise _ParseProblem("PDF is encrypted (password required)")
    if len(reader.pages) == 0:
        raise _ParseProblem("PDF has no pages")
    return _page_texts(reader), _pdf_title(reader), ""


def _page_texts(reader: PdfReader) -> list[str]:
    """The text of every page; a damaged page costs only its own text, unless no page has any."""
    texts: list[str] = []
    failures: list[Exception] = []
    for page in reader.pages:
        try:
            texts.append(page.extract_text() or "")
        except MemoryError:
            raise
        except Exception as err:
            failures.append(err)
            texts.append("")
    if failures and not any(text.strip() for text in texts):
        raise failures[0]
    return texts


def _decrypt(reader: PdfReader) -> bool:
    try:
        return bool(reader.decrypt(""))
    except Exception as err:  # e.g. AES without the cryptography package
        raise _ParseProblem(f"PDF is encrypted and cannot be decrypted ({_one_line(str(err))})") from err


def _pdf_title(reader: PdfReader) -> str:
    try:
        return str(reader.metadata.title or "") if reader.metadata else ""
    except Exception:  # a damaged info dictionary only costs the title
        return ""


def _pdf_error_reason(err: Exception) -> str:
    from pypdf.errors import PyPdfError

    detail = _one_line(str(err))[:200]
    if isinstance(err, PyPdfError):
        return f"PDF is damaged or truncated ({detail})"
    return f"PDF could not be parsed ({type(err).__name__}: {detail})"


# --- DOCX --------------------------------------------------------------------------------


def _read_docx(data: bytes, path: Path) -> _Extracted:
    _check_docx_archive(data)
    blocks, title, source = _extract_in_child("docx", data)
    text = _PAGE_BREAK.join(filter(None, (_normalise_newlines(block).strip() for block in blocks)))
    return _Extracted(text=text, title=_clean_field(title), source=_clean_field(source))


def _check_docx_archive(data: bytes) -> None:
    """Refuse a DOCX that is not a ZIP archive or looks like a zip bomb, from its ZIP directory alone.

    The declared sizes can be trusted: zipfile never inflates a member beyond its declared size.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as err:
        raise IngestError("not a DOCX file (not a ZIP archive)") from err
    if len(members) > DOCX_MAX_MEMBERS:
        raise IngestError(f"DOCX has too many ZIP members ({len(members)}, limit {DOCX_MAX_MEMBERS})")
    total = sum(member.file_size for member in members)
    if total > DOCX_MAX_UNCOMPRESSED_BYTES:
        raise IngestError(
            f"possible zip bomb: DOCX expands to {total / 1e6:.1f} MB (limit {DOCX_MAX_UNCOMPRESSED_BYTES / 1e6:g} MB)"
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > DOCX_RATIO_MIN_BYTES and ratio > DOCX_MAX_RATIO:
            raise IngestError(f"possible zip bomb: a DOCX member expands {ratio:.0f}:1 (limit {DOCX_MAX_RATIO}:1)")


def _extract_docx(data: bytes) -> tuple[list[str], str, str]:
    """Paragraphs and tables (a row per line) in document order, the core title and author."""
    try:
        import docx  # imported here: only the worker process parses DOCX files
    except ImportError as err:
        raise _ParseProblem("reading DOCX files needs the python-docx package (pip install python-docx)") from err
    from docx.table import Table as DocxTable

    warnings.simplefilter("ignore")
    document = docx.Document(io.BytesIO(data))
    blocks: list[str] = []
    for item in document.iter_inner_content():
        blocks.append(_docx_table_text(item) if isinstance(item, DocxTable) else item.text)
    properties = document.core_properties
    return blocks, properties.title or "", properties.author or ""


def _docx_table_text(table: Table) -> str:
    rows = []
    for row in table.rows:
        cells: list[str] = []
        seen: list[object] = []
        for cell in row.cells:
            if any(cell._tc is element for element in seen):  # a merged cell is listed once per column
                continue
            seen.append(cell._tc)
            if cell.text.strip():
                cells.append(" ".join(cell.text.split()))
        if cells:
            rows.append(" | ".join(cells))
    return "\n".join(rows)


def _docx_error_reason(err: Exception) -> str:
    detail = _one_line(str(err))[:200]
    return f"DOCX could not be parsed ({type(err).__name__}: {detail})"


# --- dispatch ----------------------------------------------------------------------------

_WORKER_LABELS = {"pdf": "PDF", "docx": "DOCX"}

_READERS: dict[str, Callable[[bytes, Path], _Extracted]] = {
    ".txt": _read_plain,
    ".md": _read_markdown,
    ".markdown": _read_markdown,
    ".html": _read_html,
    ".htm": _read_html,
    ".pdf": _read_pdf,
    ".docx": _read_docx,
}
_FORMAT_NAMES = {
    ".txt": "plain text",
    ".md": "Markdown",
    ".markdown": "Markdown",
    ".html": "HTML",
    ".htm": "HTML",
    ".pdf": "PDF",
    ".docx": "DOCX",
}
