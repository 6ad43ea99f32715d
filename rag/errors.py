"""The errors rag raises: one base class and a few specific kinds a caller may catch."""

from __future__ import annotations


class RagError(Exception):
    """Base of every error rag raises on purpose; its message is meant for the user."""


class CorpusError(RagError):
    """The corpus cannot be indexed: missing folder, no readable documents."""


class IngestError(RagError):
    """One file cannot be read as a document; the message says why."""


class IndexNotFoundError(RagError):
    """There is no index where one was expected."""


class IndexMismatchError(RagError):
    """The index on disk was built by another version or model, or is damaged."""


class QueryError(RagError):
    """A question or lookup text that cannot be answered as given (empty, too long)."""


class ModelError(RagError):
    """The embedding model cannot be loaded."""


class IndexLockedError(RagError):
    """Another process is writing this index."""


class DocumentNotFoundError(RagError):
    """No document with that id is in the index."""


class IndexLocationError(RagError):
    """The index folder is not one rag may write into (a file, or a folder holding other data)."""


class IndexWriteError(RagError):
    """The index cannot be written (read-only folder, full disk); the previous index is unchanged."""
