"""Choosing which documents to search: a filtered search equals the same search over an index of
those documents alone (BM25 statistics included), by document, folder, source and date."""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict
from pathlib import Path

import pytest

from rag import Index, Where, build_index
from rag.errors import QueryError
from rag.search.filters import date_range, document_date
from tests.fakes import FakeEmbedder

ROOT = Path(__file__).resolve().parent.parent

DOCUMENTS = {
    "seed-article.md": None,  # copied from corpus/
    "news/harbour.md": (
        "---\ntitle: Harbour report\nsource: Port Gazette\ndate: 2024-03-05\n---\n"
        "The harbour fund will raise 12 million dollars for new cranes. The port authority announced the fund on "
        "Monday. Crane operators said the fund came late.\n\nShips waited three days at the outer harbour in March."
    ),
    "news/chips.md": (
        "---\ntitle: Chip makers expand\nsource: Tech Daily\ndate: 2023-11-20\n---\n"
        "Chip makers will raise 2 billion dollars for a new semiconductor plant. The chip fund is backed by the "
        "state. Analysts expect the plant to open in 2026.\n\nThe semiconductor sector grew in 2023."
    ),
    "archive/library.md": (
        "---\ntitle: Rivertown library\nsource: Port Gazette\ndate: 2019-06-01\n---\n"
        "The new library cost 4 million dollars to build. The fund for the library came from local taxes. "
        "It opened in June with a reading room for children."
    ),
}
QUESTIONS = (
    "How much money will the fund raise?",
    "How much did the library cost?",
    "Who backs the chip fund?",
    "When did ships wait at the harbour?",
    "Which companies did Li Qiang visit?",
)


def write_corpus(folder: Path, names: list[str]) -> Path:
    folder.mkdir(parents=True)
    for name in names:
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        text = DOCUMENTS[name]
        if text is None:
            shutil.copy(ROOT / "corpus" / "seed-article.md", target)
        else:
            target.write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> Index:
    root = tmp_path_factory.mktemp("filters-full")
    return build_index(write_corpus(root / "corpus", list(DOCUMENTS)), root / "index", embedder=FakeEmbedder())


def alone(tmp_path: Path, names: list[str]) -> Index:
    return build_index(write_corpus(tmp_path / "corpus", names), tmp_path / "index", embedder=FakeEmbedder())


def comparable(answer) -> dict:
    """An answer without what depends on the index it came from (nothing does but row numbers, not shown)."""
    return asdict(answer)


@pytest.mark.parametrize(
    ("where", "names"),
    [
        ({"doc": ["news/harbour.md", "archive/library.md"]}, ["news/harbour.md", "archive/library.md"]),
        ({"folder": "news"}, ["news/harbour.md", "news/chips.md"]),
        ({"source": ["port gazette"]}, ["news/harbour.md", "archive/library.md"]),
        ({"since": "2023-06", "until": "2024"}, ["news/harbour.md", "news/chips.md"]),
        (Where(folder=("news",), source=("Tech Daily",)), ["news/chips.md"]),
    ],
)
def test_filtered_search_equals_search_over_those_documents_alone(
    full: Index, tmp_path: Path, where, names: list[str]
) -> None:
    only = alone(tmp_path, names)
    for question in QUESTIONS:
        assert comparable(full.ask(question, where=where)) == comparable(only.ask(question)), question
    text = "The harbour fund will raise 12 million dollars for new cranes. Chip makers want a plant."
    assert [asdict(m) for m in full.lookup(text, where=where)] == [asdict(m) for m in only.lookup(text)]


def test_bm25_statistics_follow_the_filter(full: Index) -> None:
    everything = full._queries._indexes_for(None).sentence_lexical
    news = full._queries._indexes_for(Where(folder=("news",))).sentence_lexical
    assert news.count < everything.count
    assert news.idf(["fund"]) != everything.idf(["fund"])


def test_filter_is_applied_to_every_citation(full: Index) -> None:
    answer = full.ask("How much money will the fund raise?", where={"folder": ["news"]})
    assert answer.citations and all(c.doc_id.startswith("news/") for c in answer.citations)
    assert all(c.doc_id.startswith("news/") for c in answer.candidates)
    unfiltered = full.ask("How much money will the fund raise?")
    assert any(not c.doc_id.startswith("news/") for c in unfiltered.candidates)


def test_bad_filters_are_clear_errors(full: Index) -> None:
    with pytest.raises(QueryError, match="no document 'nope.md'"):
        full.ask("fund", where={"doc": ["nope.md"]})
    with pytest.raises(QueryError, match="matches the filter"):
        full.ask("fund", where={"source": ["Nobody"]})
    with pytest.raises(QueryError, match="unknown field 'color'"):
        full.lookup("fund", where={"color": "red"})
    with pytest.raises(QueryError, match="YYYY-MM-DD"):
        full.ask("fund", where={"since": "last week"})
    with pytest.raises(QueryError, match="after until"):
        full.ask("fund", where={"since": "2024", "until": "2023"})


def test_dates_cover_whole_periods_and_fall_back_to_the_file_date(tmp_path: Path) -> None:
    assert date_range("2024-02") == (date_range("2024-02-01")[0], date_range("2024-02-29")[0])
    assert str(document_date("March 5, 2024", -1)) == "2024-03-05"
    assert str(document_date("2024-03-05T10:00:00Z", -1)) == "2024-03-05"
    corpus = write_corpus(tmp_path / "corpus", ["seed-article.md"])  # no date in its front matter
    (corpus / "note.txt").write_text("The fund note is short. It has no date of its own.", encoding="utf-8")
    stamp = 1_600_000_000  # 2020-09-13 UTC
    os.utime(corpus / "note.txt", (stamp, stamp))
    index = build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    answer = index.ask("What is the fund note?", where={"since": "2020-09-13", "until": "2020-09-13"})
    assert {c.doc_id for c in (*answer.citations, *answer.candidates)} == {"note.txt"}
