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
