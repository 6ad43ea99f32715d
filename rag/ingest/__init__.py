"""Files -> Document: corpus scanning, formats, encodings and metadata (title, source, url, date).

One module per job, in the order a file moves through them:

- ``formats``: the registry of the formats rag reads (suffix, name, reader, where it is parsed);
- ``files``: which files of the corpus are read, their bytes and version, and why one is skipped;
- ``decode``: bytes -> text (byte-order marks, UTF-8, declared and detected legacy encodings, binary sniffing);
- ``legacy``: which legacy codepage reads a non-Western text most plausibly (short texts included);
- ``metadata``: title, source, url and date (front matter, trailing "Source:" lines, clean-up);
- ``text``, ``markdown``, ``html``: the readers of text formats (Markdown's blocks parsed by markdown-it-py);
- ``main_content``: which blocks of an HTML page are its main content, as trafilatura decides;
- ``worker``: the pool of sandboxed, long-lived child processes (one per core) that parse PDF,
  DOCX and large markup files under time and memory limits;
- ``office``: PDF and DOCX;
- ``documents``: the reader of each format, reading one file and loading many.

The names below are the package's API. The limits are re-exported to be read; to change one
(in a test), patch the module that uses it, e.g. ``rag.ingest.worker.PARSER_TIMEOUT_SECONDS``.
"""

from rag.ingest.decode import binary_reason
from rag.ingest.documents import content_hash, document_reason, load_corpus, load_documents, read_document
from rag.ingest.files import (
    MAX_FILE_BYTES,
    RACY_SECONDS,
    Skipped,
    doc_id_for,
    file_sha256,
    scan_corpus,
    shown_path,
    unchanged_since,
)
from rag.ingest.formats import FORMATS, SUPPORTED_SUFFIXES, Format
from rag.ingest.office import (
    DOCX_MAX_MEMBERS,
    DOCX_MAX_RATIO,
    DOCX_MAX_UNCOMPRESSED_BYTES,
    DOCX_RATIO_MIN_BYTES,
    container_reason,
)
from rag.ingest.text import plain_headline
from rag.ingest.worker import IN_PROCESS_MAX_BYTES, MARKUP_SECONDS_PER_MB, PARSER_MEMORY_BYTES, PARSER_TIMEOUT_SECONDS

__all__ = [
    "DOCX_MAX_MEMBERS",
    "FORMATS",
    "Format",
    "DOCX_MAX_RATIO",
    "DOCX_MAX_UNCOMPRESSED_BYTES",
    "DOCX_RATIO_MIN_BYTES",
    "IN_PROCESS_MAX_BYTES",
    "MARKUP_SECONDS_PER_MB",
    "MAX_FILE_BYTES",
    "PARSER_MEMORY_BYTES",
    "PARSER_TIMEOUT_SECONDS",
    "RACY_SECONDS",
    "SUPPORTED_SUFFIXES",
    "Skipped",
    "binary_reason",
    "container_reason",
    "content_hash",
    "document_reason",
    "doc_id_for",
    "file_sha256",
    "load_corpus",
    "load_documents",
    "plain_headline",
    "read_document",
    "scan_corpus",
    "shown_path",
    "unchanged_since",
]
