"""rag: answers made only of sentences quoted from your documents, each with its citation.

The public names below load on first use, so that importing one stage (``rag.text.sentences``)
or running a light command does not pay for the whole pipeline's imports.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Answer": "rag.types",
    "BuildReport": "rag.pipeline",
    "Citation": "rag.types",
    "Config": "rag.config",
    "Difference": "rag.types",
    "Document": "rag.types",
    "Index": "rag.pipeline",
    "Match": "rag.types",
    "RagError": "rag.errors",
    "SUPPORTED_SUFFIXES": "rag.ingest",
    "Where": "rag.search.filters",
    "build_index": "rag.pipeline",
    "load_index": "rag.pipeline",
}

__all__ = [
    "SUPPORTED_SUFFIXES",
    "Answer",
    "BuildReport",
    "Citation",
    "Config",
    "Difference",
    "Document",
    "Index",
    "Match",
    "RagError",
    "Where",
    "__version__",
    "build_index",
    "load_index",
]

if TYPE_CHECKING:
    from rag.config import Config
    from rag.errors import RagError
    from rag.ingest import SUPPORTED_SUFFIXES
    from rag.pipeline import BuildReport, Index, build_index, load_index
    from rag.search.filters import Where
    from rag.types import Answer, Citation, Difference, Document, Match


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
