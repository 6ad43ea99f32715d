"""Assertions shared by the test suite: the offsets contract of every span rag produces."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def assert_offsets(document_text: str, items: Iterable[Any]) -> None:
    """Assert ``document_text[item.start:item.end] == item.text`` for every item.

    Works for anything with ``start``, ``end`` and ``text`` attributes: sentences,
    passages, citations.

    Args:
        document_text: The full text the offsets point into.
        items: The spans to check.

    Raises:
        AssertionError: Naming the first item whose text differs from its span.
    """
    for index, item in enumerate(items):
        start, end, text = item.start, item.end, item.text
        label = _describe(index, item)
        assert 0 <= start <= end <= len(document_text), (
            f"{label}: span {start}:{end} lies outside the document of {len(document_text)} characters"
        )
        found = document_text[start:end]
        assert found == text, (
            f"{label}: document_text[{start}:{end}] is {_clip(found)} but the item's text is {_clip(text)}"
        )


def assert_citations(index: Any, citations: Iterable[Any]) -> None:
    """Assert the offsets contract for each citation in the text of the document it names:
    its span (see :func:`assert_offsets`) and the passage around it (``context_start:context_end``).

    Args:
        index: The :class:`rag.Index` the citations come from.
        citations: The citations to check.

    Raises:
        AssertionError: Naming the first citation whose span or passage differs from its text.
    """
    for citation in citations:
        text = index.document(citation.doc_id).text
        assert_offsets(text, [citation])
        context = text[citation.context_start : citation.context_end]
        assert context == citation.context, (
            f"{citation.doc_id}: passage {citation.context_start}:{citation.context_end} is {_clip(context)} "
            f"but the citation's context is {_clip(citation.context)}"
        )


def _describe(index: int, item: Any) -> str:
    kind = type(item).__name__
    doc_id = getattr(item, "doc_id", None)
    position = getattr(item, "position", None)
    where = f" {doc_id}" if doc_id else ""
    where += f"#{position}" if position is not None else ""
    return f"item {index} ({kind}{where})"


def _clip(text: str, limit: int = 80) -> str:
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"
