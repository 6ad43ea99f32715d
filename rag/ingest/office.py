"""PDF and DOCX files: checked here, parsed in the sandboxed worker (pypdf, python-docx), pages joined."""

from __future__ import annotations

import io
import logging
import warnings
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import IngestError
from rag.ingest.decode import normalise_newlines
from rag.ingest.metadata import Extracted, as_one_line, clean_field
from rag.ingest.worker import ParseProblem, extract_in_child

if TYPE_CHECKING:
    from docx.table import Table
    from pypdf import PdfReader


# Zip-bomb guards, checked on a DOCX's ZIP directory before python-docx sees the file.
DOCX_MAX_UNCOMPRESSED_BYTES = 100_000_000
DOCX_MAX_MEMBERS = 10_000
DOCX_MAX_RATIO = 100
DOCX_RATIO_MIN_BYTES = 1_000_000
_PAGE_BREAK = "\n\n"


def container_reason(data: bytes, suffix: str) -> str:
    """Why ``data`` is not a ``suffix`` (".pdf", ".docx") file worth parsing; "" when it may be one.

    The checks indexing makes before it starts the parser process, cheap enough for an upload:
    a PDF header in the first KB; for a DOCX, a ZIP directory within the zip-bomb limits.
    """
    try:
        if suffix == ".pdf":
            _check_pdf_header(data)
        elif suffix == ".docx":
            _check_docx_archive(data)
    except IngestError as error:
        return str(error)
    return ""


# --- PDF ---------------------------------------------------------------------------------


def _check_pdf_header(data: bytes) -> None:
    if b"%PDF-" not in data[:1024]:
        raise IngestError("not a PDF file (no %PDF- header)")


def read_pdf(data: bytes, path: Path) -> Extracted:
    _check_pdf_header(data)
    raw_pages, title, _ = extract_in_child("pdf", data)
    pages = [normalise_newlines(page).strip() for page in raw_pages]
    if not any(pages):
        raise IngestError("PDF has no text layer (scanned?)")
    starts = []
    offset = 0
    for page in pages:
        starts.append(offset)
        offset += len(page) + len(_PAGE_BREAK)
    return Extracted(text=_PAGE_BREAK.join(pages), title=clean_field(title), pages=tuple(starts))


def _extract_pdf(data: bytes) -> tuple[list[str], str, str]:
    try:
        import pypdf  # imported here: only the worker process parses PDFs
    except ImportError as err:
        raise ParseProblem("reading PDFs needs the pypdf package (pip install pypdf)") from err

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    warnings.simplefilter("ignore")
    reader = pypdf.PdfReader(io.BytesIO(data))
    if reader.is_encrypted and not _decrypt(reader):
        raise ParseProblem("PDF is encrypted (password required)")
    if len(reader.pages) == 0:
        raise ParseProblem("PDF has no pages")
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
        raise ParseProblem(f"PDF is encrypted and cannot be decrypted ({as_one_line(str(err))})") from err


def _pdf_title(reader: PdfReader) -> str:
    try:
        return str(reader.metadata.title or "") if reader.metadata else ""
    except Exception:  # a damaged info dictionary only costs the title
        return ""


def _pdf_error_reason(err: Exception) -> str:
    from pypdf.errors import PyPdfError

    detail = as_one_line(str(err))[:200]
    if isinstance(err, PyPdfError):
        return f"PDF is damaged or truncated ({detail})"
    return f"PDF could not be parsed ({type(err).__name__}: {detail})"


# --- DOCX --------------------------------------------------------------------------------


def read_docx(data: bytes, path: Path) -> Extracted:
    _check_docx_archive(data)
    blocks, title, author = extract_in_child("docx", data)
    text = _PAGE_BREAK.join(filter(None, (normalise_newlines(block).strip() for block in blocks)))
    return Extracted(text=text, title=clean_field(title), author=clean_field(author))


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
    """Paragraphs and tables (a row per line) in document order; the title (the core property, else the
    first heading) and the author (the core property, unless it is python-docx's template value)."""
    try:
        import docx  # imported here: only the worker process parses DOCX files
    except ImportError as err:
        raise ParseProblem("reading DOCX files needs the python-docx package (pip install python-docx)") from err
    from docx.table import Table as DocxTable

    warnings.simplefilter("ignore")
    document = docx.Document(io.BytesIO(data))
    blocks: list[str] = []
    heading = ""
    for item in document.iter_inner_content():
        blocks.append(_docx_table_text(item) if isinstance(item, DocxTable) else item.text)
        if not heading and not isinstance(item, DocxTable) and _is_heading(item) and item.text.strip():
            heading = item.text
    properties = document.core_properties
    author = properties.author or ""
    # python-docx's own template says "python-docx": the library that wrote the file, not a person.
    return blocks, properties.title or heading, "" if author == "python-docx" else author


def _is_heading(paragraph: object) -> bool:
    style = getattr(getattr(paragraph, "style", None), "name", "") or ""
    return style == "Title" or style.startswith("Heading")


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
    detail = as_one_line(str(err))[:200]
    return f"DOCX could not be parsed ({type(err).__name__}: {detail})"
