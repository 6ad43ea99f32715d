"""A DOCX's title and author as a reader means them: the title property, else the first heading; the
author as the author (never the source), and python-docx's template value as no author at all."""

from __future__ import annotations

import io
from pathlib import Path

from rag import build_index
from rag.app.render import document_header_html
from rag.ingest import read_document
from tests.fakes import FakeEmbedder


def _docx(heading: str = "", title: str = "", author: str | None = None) -> bytes:
    import docx

    document = docx.Document()  # python-docx's template: its author property says "python-docx"
    if heading:
        document.add_heading(heading, level=1)
    document.add_paragraph("The port reopened after the storm.")
    document.core_properties.title = title
    if author is not None:
        document.core_properties.author = author
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _read(folder: Path, name: str, data: bytes):
    (folder / name).write_bytes(data)
    return read_document(folder / name, name)


def test_the_first_heading_is_the_title_when_the_property_is_empty(tmp_path: Path) -> None:
    document = _read(tmp_path, "memo_2024.docx", _docx(heading="Harbour report"))
    assert document.title == "Harbour report"
    assert document.text == "Harbour report\n\nThe port reopened after the storm."


def test_the_title_property_wins_over_the_heading_and_the_file_name(tmp_path: Path) -> None:
    assert _read(tmp_path, "a.docx", _docx(heading="Harbour report", title="Storm memo")).title == "Storm memo"
    assert _read(tmp_path, "storm_notes.docx", _docx()).title == "Storm notes"


def test_the_author_is_the_author_and_the_template_value_is_none(tmp_path: Path) -> None:
    template = _read(tmp_path, "a.docx", _docx())
    assert (template.author, template.source) == ("", "")
    written = _read(tmp_path, "b.docx", _docx(author="Jane Doe"))
    assert (written.author, written.source) == ("Jane Doe", "")


def test_the_index_keeps_the_author_and_the_viewer_shows_it(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "memo.docx").write_bytes(_docx(heading="Harbour report", author="Jane Doe"))
    index = build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    (header,) = index.documents()
    assert (header["title"], header["author"], header["source"]) == ("Harbour report", "Jane Doe", "")
    document = index.document("memo.docx")
    assert document is not None and "by Jane Doe" in document_header_html(document)
