"""Plain text files: optional front matter, and a first line that reads as a headline as the title."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from rag.ingest.decode import decode_text_and_encoding
from rag.ingest.metadata import Extracted, clean_field, split_front_matter, with_fields


def read_plain(data: bytes, path: Path) -> Extracted:
    text, encoding = decode_text_and_encoding(data, path)
    fields, body = split_front_matter(text)
    return replace(with_fields(body, fields, title=plain_headline(body)), encoding=encoding)


_HEADLINE_MAX_CHARS = 120


def plain_headline(text: str) -> str:
    """The first line of a plain text when it reads as a headline: short, not ending like a
    sentence (no final period), followed by a blank line and more text; else ""."""
    lines = text.lstrip("\ufeff").lstrip("\n").split("\n", 2)
    if len(lines) < 3 or lines[1].strip() or not lines[2].strip():
        return ""
    first = " ".join(lines[0].split())
    if not first or len(first) > _HEADLINE_MAX_CHARS or first[-1] in ".,;:!?" or not any(c.isalpha() for c in first):
        return ""
    return clean_field(first)
