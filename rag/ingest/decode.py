"""Bytes -> text: byte-order marks, UTF-8, declared and legacy encodings, and refusing binary content."""

from __future__ import annotations

import codecs
import logging
import re
from pathlib import Path

from rag.errors import IngestError

logger = logging.getLogger(__name__)

_HTML_SUFFIXES = (".html", ".htm")
_MAX_CONTROL_SHARE = 0.01

_BOMS: tuple[tuple[bytes, str, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32 LE"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32 BE"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16 LE"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16 BE"),
)
_BOM_PREFIXES = tuple(bom for bom, _, _ in _BOMS)
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
    binary_kind = binary_reason(data, suffix)
    if binary_kind:
        raise IngestError(binary_kind)
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


def binary_reason(data: bytes, suffix: str) -> str:
    """Why ``data``, the bytes of a ``suffix`` text file (".txt", ".md", ".html"), is binary; "" when it may be text.

    The check indexing makes before decoding: a known binary signature (image, archive, PDF,
    executable, legacy Office), or NUL bytes in a file without a byte-order mark (UTF-16 and
    UTF-32 text holds NULs). Text that passes can still be refused when it is decoded (no
    encoding fits, or too many control characters).

    Example:
        ``binary_reason(b"\\x89PNG\\r\\n\\x1a\\n...", ".txt")`` is "binary content (PNG image) in a .txt file".
    """
    if data.startswith(_BOM_PREFIXES):
        return ""
    for magic, kind in _MAGIC_NUMBERS:
        if data.startswith(magic):
            return f"binary content ({kind}) in a {suffix} file"
    if b"\x00" in data:
        return f"binary content (NUL bytes) in a {suffix} file"
    return ""


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
