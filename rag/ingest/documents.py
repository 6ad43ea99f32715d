"""Files -> Document: the reader of each format, reading one file and loading many (a bad file is skipped)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rag.errors import IngestError
from rag.ingest.files import Skipped, doc_id_for, read_bytes, read_file, scan_corpus, unsupported_reason
from rag.ingest.formats import FORMATS, reader_for
from rag.ingest.metadata import as_one_line, safe_url, title_from_name
from rag.ingest.office import container_reason
from rag.ingest.worker import IN_PROCESS_MAX_BYTES, parser_pool, read_markup_in_child
from rag.progress import progress as show_progress
from rag.types import Document, FileVersion

logger = logging.getLogger(__name__)


def content_hash(text: str) -> str:
    """The SHA-256 hex digest of ``text`` encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


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


def load_documents(
    root: Path, paths: Sequence[Path], *, progress: bool = False
) -> tuple[list[tuple[Document, FileVersion]], list[Skipped]]:
    """Read the given files of the corpus at ``root``; a file that cannot be read is skipped, never raised.

    Files are read by as many threads as the parser pool has processes, so that PDF and DOCX
    files are parsed side by side; each child parses many files (see ``rag.ingest.worker``).

    Args:
        root: The corpus folder.
        paths: The files to read.
        progress: Show a "Reading" bar (on a terminal; one line elsewhere).

    Returns:
        Each document read, with the version of the file it was read from (sha256 of its
        bytes and its stat; in the order given), and every file skipped with its reason.
    """
    documents: list[tuple[Document, FileVersion]] = []
    skipped: list[Skipped] = []
    with parser_pool() as pool, show_progress(len(paths), "Reading", "file", progress) as bar:
        with ThreadPoolExecutor(max_workers=pool.size, thread_name_prefix="rag-read") as threads:
            for outcome in threads.map(lambda path: _load_one(root, path), paths):
                bar.update(1)
                if isinstance(outcome, Skipped):
                    skipped.append(outcome)
                else:
                    documents.append(outcome)
    for item in skipped:
        logger.info("skipped %s: %s", item.path, item.reason)
    return documents, skipped


def _load_one(root: Path, path: Path) -> tuple[Document, FileVersion] | Skipped:
    doc_id = doc_id_for(root, path)
    try:
        data, version = read_file(path, root=root)  # opened inside the corpus, never through a link
        return read_document(path, doc_id, data), version
    except IngestError as err:
        return Skipped(doc_id, as_one_line(str(err)))
    except Exception as err:  # one bad file must not stop the whole corpus
        logger.exception("unexpected error while reading %s", doc_id)
        return Skipped(doc_id, f"unexpected error while reading ({type(err).__name__})")


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
    known = FORMATS.get(suffix)
    if known is None:
        raise IngestError(unsupported_reason(suffix))
    data = read_bytes(path) if data is None else data
    # HTML goes to a parser process whatever its size: trafilatura (lxml) runs there, under its limits.
    if known.parsed == "worker" or (known.parsed == "large" and len(data) > IN_PROCESS_MAX_BYTES):
        extracted = read_markup_in_child(data, path)
    else:
        extracted = reader_for(suffix)(data, path)  # PDF and DOCX readers hand their parsing to the worker
    if not extracted.text.strip():
        raise IngestError(f"no text after extracting {known.name}")
    return Document(
        doc_id=doc_id,
        text=extracted.text,
        title=extracted.title or title_from_name(path),
        source=extracted.source,
        url=safe_url(extracted.url),
        date=extracted.date,
        content_hash=content_hash(extracted.text),
        pages=extracted.pages,
        encoding=extracted.encoding,
        author=extracted.author,
    )


def document_reason(path: Path, *, name: str = "", data: bytes | None = None) -> str:
    """Why indexing would skip ``path`` as a file called ``name`` (default: its own name); "" when it would read it.

    ``data`` are its bytes when already read (otherwise they are read from ``path``).

    What adding a file checks before it touches the corpus, and an upload before it is staged:
    the type, the file itself (regular, not empty, under the size limit) and its content. A
    text format is read as indexing reads it; a PDF or DOCX gets the checks made before its
    parser starts (header, ZIP directory, zip-bomb limits), since parsing it is indexing's work.
    """
    named = Path(name or path.name)
    suffix = named.suffix.lower()
    known = FORMATS.get(suffix)
    if known is None:
        return unsupported_reason(suffix)
    try:
        data = read_bytes(path) if data is None else data
        if known.parsed == "container":
            return container_reason(data, suffix)
        read_document(named, named.name, data)
    except IngestError as error:
        return as_one_line(str(error))
    return ""
