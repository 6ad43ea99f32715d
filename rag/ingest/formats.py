"""The formats rag reads: one registry of suffix -> name, reader, and where the file is parsed.

Every other module asks this one: which suffixes the corpus scan keeps (``SUPPORTED_SUFFIXES``),
what an error calls a format, which reader reads it, and whether it is parsed in the sandboxed
worker. A reader is named, not imported, so that this module stays light (the scan imports it)
and the readers, which import their parsers and the worker, are imported on first use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from rag.ingest.metadata import Extracted

Reader = Callable[[bytes, Path], "Extracted"]


@dataclass(frozen=True, slots=True)
class Format:
    name: str  # what a message calls it: "no text after extracting PDF"
    module: str  # the reader's module in rag.ingest
    reader: str  # its function: (bytes, path) -> Extracted
    # Where it is parsed: "container" (PDF, DOCX) is checked (header, ZIP directory, zip bombs) and
    # then parsed in the worker; "worker" always goes to the worker (HTML: trafilatura and lxml);
    # "large" goes there above IN_PROCESS_MAX_BYTES (plain text and Markdown are linear readers).
    parsed: Literal["container", "worker", "large"]


_TEXT = Format("plain text", "text", "read_plain", "large")
_MARKDOWN = Format("Markdown", "markdown", "read_markdown", "large")
_HTML = Format("HTML", "html", "read_html", "worker")
FORMATS: dict[str, Format] = {
    ".txt": _TEXT,
    ".md": _MARKDOWN,
    ".markdown": _MARKDOWN,
    ".html": _HTML,
    ".htm": _HTML,
    ".pdf": Format("PDF", "office", "read_pdf", "container"),
    ".docx": Format("DOCX", "office", "read_docx", "container"),
}
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(FORMATS)


def format_name(suffix: str) -> str:
    """What messages call the format of ``suffix`` (the suffix itself when rag does not read it)."""
    known = FORMATS.get(suffix)
    return known.name if known else suffix


def reader_for(suffix: str) -> Reader:
    """The reader of ``suffix``'s format (KeyError when rag does not read it)."""
    known = FORMATS[suffix]
    reader: Reader = getattr(import_module(f"rag.ingest.{known.module}"), known.reader)
    return reader
