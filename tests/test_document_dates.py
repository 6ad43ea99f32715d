"""A document's own date as --since/--until read it: year-first with slashes or dots, RFC 2822, named months."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag import build_index
from rag.search.filters import document_date
from rag.types import NO_TIME
from tests.fakes import FakeEmbedder


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2024/03/05", "2024-03-05"),
        ("2024.03.05", "2024-03-05"),
        ("Tue, 05 Mar 2024 10:00:00 GMT", "2024-03-05"),
        ("Tue, 05 Mar 2024 23:30:00 -0500", "2024-03-05"),  # the day where it was written
        ("5th March 2024", "2024-03-05"),
        ("Mar. 5, 2024", "2024-03-05"),
        ("March 5, 2024", "2024-03-05"),
        ("2024-03-05T10:00:00Z", "2024-03-05"),
        ("2024/3", "2024-03-01"),
        ("May 2024", "2024-05-01"),
        ("2024", "2024-01-01"),
    ],
)
def test_document_dates_are_read_as_the_day_they_name(text: str, day: str) -> None:
    assert str(document_date(text, NO_TIME)) == day


@pytest.mark.parametrize("text", ["Tuesday", "20240305", "2024-13-45", "March 5"])
def test_what_names_no_day_of_a_year_falls_back_to_the_file_date(text: str) -> None:
    assert document_date(text, NO_TIME) is None


def test_since_and_until_choose_by_an_rfc_2822_or_slashed_date(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    page = '<html><head><meta name="date" content="{date}"></head><body><p>The {what} port reopened.</p></body></html>'
    (corpus / "a.html").write_text(page.format(date="Tue, 05 Mar 2024 10:00:00 GMT", what="northern"))
    (corpus / "b.html").write_text(page.format(date="2023/11/20", what="southern"))
    index = build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    march = index.ask("Which port reopened?", where={"since": "2024-03", "until": "2024-03"})
    assert {c.doc_id for c in march.citations} | {c.doc_id for c in march.candidates} == {"a.html"}
    autumn = index.ask("Which port reopened?", where={"until": "2023-12"})
    assert {c.doc_id for c in autumn.citations} | {c.doc_id for c in autumn.candidates} == {"b.html"}
