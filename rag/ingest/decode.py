"""Bytes -> text: byte-order marks, UTF-8, declared and legacy encodings, and refusing binary content."""

from __future__ import annotations

import codecs
import logging
import re
import unicodedata
from pathlib import Path

from rag.errors import IngestError
from rag.ingest.formats import format_name
from rag.ingest.legacy import most_plausible, plausibility

logger = logging.getLogger(__name__)

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
SURROGATES = re.compile(r"[\ud800-\udfff]")
_META_CHARSET = re.compile(rb"""<meta[^>]{0,512}?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]{1,40})""", re.I)
# Declared charsets left to the cp1252 fallback (as browsers do for latin-1), or not real charsets.
_UNDECLARABLE = {"utf-8", "iso8859-1", "ascii", "cp1252", "idna", "punycode", "undefined"}
_UNDECLARABLE |= {"raw-unicode-escape", "unicode-escape", "utf-7", "utf-16", "utf-16-le", "utf-16-be", "utf-32"}
_LEGACY_ERRORS = "rag.ingest.legacy"
_HIGH_BYTE = re.compile(rb"[\x80-\xff]")
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
# Over half the high bytes in valid UTF-8 sequences: a UTF-8 file with stray Windows bytes. Legacy
# CJK text rarely forms such sequences (its trail bytes mostly fall outside 0x80-0xBF) and
# Cyrillic codepages never do (their letters lie at 0xC0 and above); tests/test_encodings.py.
_MOSTLY_UTF8 = 0.5
_HIGH_RUN = re.compile(rb"[\x80-\xff]{3,}")
# At least half the high bytes in runs of three: words of a non-Latin script (see _high_bytes_in_runs);
# tests/test_encodings.py holds the cases on both sides.
_LEGACY_RUN_SHARE = 0.5
# The detector reads at most this much: enough to decide, and bounded on a 50 MB file.
_DETECT_BYTES = 256 * 1024


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


def decode_text_and_encoding(data: bytes, path: Path) -> tuple[str, str]:
    """The text of a text-format file, line endings normalised to "\\n", and the codec it was read in.

    Refuses binary and empty files. The codec is Python's name for it ("utf-8", "gb18030",
    "koi8-r"), "cp1252", or "utf-8+cp1252" for UTF-8 with stray Windows bytes.
    """
    decoded, encoding = _decode_bytes(data, path)
    text = normalise_newlines(decoded)
    if not text.strip():
        raise IngestError("empty file")
    return text, encoding


def _decode_bytes(data: bytes, path: Path) -> tuple[str, str]:
    suffix = path.suffix.lower()
    binary = f"binary content (control characters) in a {suffix} file"
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            return _require_text(_decode_strict(data[len(bom) :], codec, label), binary), codec
    binary_kind = binary_reason(data, suffix)
    if binary_kind:
        raise IngestError(binary_kind)
    try:
        return _require_text(data.decode("utf-8"), binary), "utf-8"
    except UnicodeDecodeError:
        pass
    declared = _declared_charset(data) if format_name(suffix) == "HTML" else None
    if declared:
        try:
            return _require_text(data.decode(declared), binary), declared
        except (UnicodeDecodeError, LookupError):  # LookupError: a codec that is not a charset
            logger.info("%s: not valid in its declared charset %s", path, declared)
    detected = _detected_charset(data)
    if detected:
        try:
            return _require_text(data.decode(detected), binary), detected
        except (UnicodeDecodeError, IngestError):
            logger.info("%s: the detected charset %s does not read it", path, detected)
    # Mostly-UTF-8 files with stray Windows bytes read correctly; pure cp1252 files too.
    text = data.decode("utf-8", errors=_LEGACY_ERRORS)
    text = _require_text(text, "not valid UTF-8 and not a recognised legacy encoding")
    if _utf8_share(data) > 0:
        logger.warning("%s: not valid UTF-8; read its invalid bytes as cp1252 (latin-1 where undefined)", path)
        return text, "utf-8+cp1252"
    return text, "cp1252"


def _utf8_share(data: bytes) -> float:
    """The share of the bytes above ASCII that form valid UTF-8 sequences (a UTF-8 file with a few stray bytes)."""
    high = sum(1 for _ in _HIGH_BYTE.finditer(data))
    valid = sum(match.end() - match.start() for match in _UTF8_SEQUENCE.finditer(data))
    return valid / high if high else 0.0


def _detected_charset(data: bytes) -> str | None:
    """The legacy charset of a file that is not UTF-8, detected from its bytes; None for Western text.

    Western text (every letter beyond ASCII a Latin one) is left to the cp1252 reading, as browsers
    do: on short texts the detector cannot tell cp1252 from cp1250 or the Mac codepages, and
    cp1252 is by far the most common. A file that is mostly UTF-8 is left to that reading too.
    """
    if _high_bytes_in_runs(data) < _LEGACY_RUN_SHARE:
        return None
    # A mostly-UTF-8 file is read as UTF-8 with stray Windows bytes unless a legacy codepage reads
    # it more plausibly: short Shift-JIS text can be two-thirds valid UTF-8 sequences.
    to_beat = -1.0
    if _utf8_share(data) >= _MOSTLY_UTF8:
        to_beat = plausibility(data[:4096].decode("utf-8", errors=_LEGACY_ERRORS))
    from charset_normalizer import from_bytes  # imported here: only files that are not UTF-8 need it

    sample = _sample(data)
    best = from_bytes(sample).best()
    try:
        detected = codecs.lookup(best.encoding).name if best is not None else None
    except LookupError:
        detected = None
    name = most_plausible(sample, detected, to_beat=to_beat)  # the detector's pick, or a codepage that reads it better
    if name is None or name in _UNDECLARABLE or _is_western(sample.decode(name, errors="replace")):
        return None
    return name


def _high_bytes_in_runs(data: bytes) -> float:
    """The share of the bytes above ASCII that stand in runs of three or more.

    Western text has its accented letters and curly quotes one or two at a time between ASCII
    letters ("Smörgåsbord", "naïve"); CJK, Cyrillic, Greek or Arabic text in a legacy codepage is
    words of high bytes. On short Western text the detector guesses Big5 or cp1006 ("Über alles"),
    so it is asked only about the second kind.
    """
    high = sum(1 for _ in _HIGH_BYTE.finditer(data))
    in_runs = sum(match.end() - match.start() for match in _HIGH_RUN.finditer(data))
    return in_runs / high if high else 0.0


def _sample(data: bytes) -> bytes:
    """At most ``_DETECT_BYTES`` of ``data``, cut after a newline: a cut inside a multi-byte character
    would rule out the right encoding (no legacy CJK encoding uses byte 0x0A inside a character)."""
    if len(data) <= _DETECT_BYTES:
        return data
    cut = data.rfind(b"\n", 0, _DETECT_BYTES)
    return data[: cut + 1] if cut > _DETECT_BYTES // 2 else data[:_DETECT_BYTES]


def _is_western(text: str) -> bool:
    letters = [c for c in text if ord(c) > 0x7F and c.isalpha()]
    return all(unicodedata.name(c, "").startswith("LATIN") for c in letters)


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


def normalise_newlines(text: str) -> str:
    return SURROGATES.sub("\ufffd", text.replace("\r\n", "\n").replace("\r", "\n"))
