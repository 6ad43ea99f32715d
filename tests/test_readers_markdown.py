"""Markdown blocks as markdown-it-py parses them: code is kept as written, setext headings and
tables without outer pipes are read, and no image or link in code reaches a renderer."""

from __future__ import annotations

from pathlib import Path

from rag.ingest import read_document
from rag.text.sentences import split_sentences
from tests.helpers import assert_offsets


def _read(folder: Path, markdown: str) -> str:
    (folder / "notes.md").write_text(markdown, encoding="utf-8")
    document = read_document(folder / "notes.md", "notes.md")
    assert_offsets(document.text, split_sentences(document.text, "notes.md"))
    return document.text


def test_code_is_kept_as_written(tmp_path: Path) -> None:
    markdown = (
        "Setting up\n==========\n\n"
        "```python\nvolume = width*height*depth\nhtml = '<b>bold</b> &amp; more'\n```\n\n"
        "    total = a*b*c\n\n"
        "Then *run* it.\n"
    )
    assert _read(tmp_path, markdown) == (
        "Setting up\n\nvolume = width*height*depth\nhtml = '<b>bold</b> &amp; more'\n\ntotal = a*b*c\n\nThen run it."
    )


def test_a_table_without_outer_pipes_is_read_as_rows(tmp_path: Path) -> None:
    markdown = "Requirement | Status\n------------|-------\nPython 3.11 | required\n\nAfter the table.\n"
    assert _read(tmp_path, markdown) == "Requirement; Status\nPython 3.11; required\n\nAfter the table."


def test_an_unclosed_fence_runs_to_the_end(tmp_path: Path) -> None:
    assert _read(tmp_path, "Before.\n\n```\nx = a*b*c\n") == "Before.\n\nx = a*b*c"


def test_no_image_or_link_in_code_reaches_a_renderer(tmp_path: Path) -> None:
    text = _read(tmp_path, "```\n![x](https://beacon.example/p.png) [docs](https://beacon.example)\n```\n")
    assert "beacon" not in text and text == "docs"
