"""Follow-ups search the documents the conversation cited, not only what the question alone retrieves."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag import build_index
from rag.answer.queries import _conversation_documents
from rag.config import Config, RetrievalConfig
from rag.question.followups import Turn
from rag.search.retrieval import CONVERSATION_SCAN, conversation_search, prepare_query
from tests.fakes import FakeEmbedder
from tests.helpers import assert_citations

# The article the conversation is about, and an almanac whose short sentences hold the follow-up's words
# too: with one candidate per retriever, the follow-up asked alone reaches only the almanac.
ARTICLE = (
    "Ada Lovelace was an English mathematician and writer.\n\n"
    "She worked on the Analytical Engine with Charles Babbage.\n\n"
    "Her early life was shaped by her mother, who steered her towards mathematics and away from poetry.\n"
)
ALMANAC = "Early life on farms.\n\nEarly life of seeds.\n\nEarly life in ponds.\n"
FIRST = "Who was Ada Lovelace?"
FOLLOW_UP = "What about early life?"


@pytest.fixture(scope="module")
def two_documents(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("conversation-candidates") / "corpus"
    folder.mkdir()
    (folder / "lovelace.md").write_text(ARTICLE, encoding="utf-8")
    (folder / "almanac.md").write_text(ALMANAC, encoding="utf-8")
    config = Config(retrieval=RetrievalConfig(candidates=1))  # a small pool, as a large corpus leaves the article
    return build_index(folder, folder.parent / "index", config, embedder=FakeEmbedder())


def _documents(answer) -> set[str]:
    return {c.doc_id for c in (*answer.citations, *answer.candidates)}


def test_a_follow_up_is_searched_in_the_documents_the_conversation_cited(two_documents, monkeypatch) -> None:
    from rag import answer_model

    first = two_documents.ask(FIRST)
    assert first.citations and first.citations[0].doc_id == "lovelace.md"
    alone = two_documents.ask(FOLLOW_UP, k=10)
    assert "lovelace.md" not in _documents(alone)  # the question alone does not reach the article
    monkeypatch.setitem(answer_model.FITTED, "conversation_candidates", 3)
    followed = two_documents.ask(FOLLOW_UP, k=10, history=[first])
    texts = [c.text for c in (*followed.citations, *followed.candidates)]
    assert any("early life" in t for t in texts), texts
    assert_citations(two_documents, (*followed.citations, *followed.candidates))
    # Confidence stays the sentence's own: the conversation only ranks.
    mine = next(c for c in followed.candidates if "early life" in c.text)
    assert mine.score == mine.scores["score"]
    monkeypatch.setitem(answer_model.FITTED, "conversation_candidates", 0)  # the fit may turn it off
    assert "lovelace.md" not in _documents(two_documents.ask(FOLLOW_UP, k=10, history=[first]))


def test_the_conversation_candidates_obey_the_filter(two_documents, monkeypatch) -> None:
    from rag import answer_model

    monkeypatch.setitem(answer_model.FITTED, "conversation_candidates", 3)
    first = two_documents.ask(FIRST)
    kept = two_documents.ask(FOLLOW_UP, k=10, history=[first], where={"doc": ["almanac.md"]})
    assert _documents(kept) == {"almanac.md"}


def test_the_documents_of_the_latest_answer_that_cited_any() -> None:
    cited = Turn("Who was Ada Lovelace?", ("Ada Lovelace was an English mathematician.",), ("lovelace.md",))
    abstained = Turn("What did she eat?")  # an abstention cites nothing and keeps the topic
    assert _conversation_documents([cited, abstained], None) == ("lovelace.md",)
    assert _conversation_documents([cited, abstained], frozenset({"almanac.md"})) == ()
    both = Turn("And the almanac?", ("x", "y", "z"), ("almanac.md", "lovelace.md", "almanac.md"))
    assert _conversation_documents([cited, both], None) == ("almanac.md", "lovelace.md")
    assert _conversation_documents([], None) == ()


def test_a_long_document_is_read_only_as_far_as_the_bound(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    lines = [f"Line {n} of the ledger records payment number {n}." for n in range(CONVERSATION_SCAN + 50)]
    lines[CONVERSATION_SCAN + 20] = "The ledger records the harbour tax on salt."
    (folder / "ledger.md").write_text("\n\n".join(lines) + "\n", encoding="utf-8")
    embedder = FakeEmbedder()
    index = build_index(folder, tmp_path / "index", embedder=embedder)
    indexes = index._queries._indexes
    query = prepare_query("harbour tax on salt", embedder.encode(["harbour tax on salt"])[0], indexes.sentence_lexical)
    hits, records, _ = conversation_search(query, indexes, ["ledger.md", "ledger.md", "gone.md"])
    assert len(records) == CONVERSATION_SCAN and len(hits) == CONVERSATION_SCAN
    assert records[hits[0].row].sentence.text == "The ledger records the harbour tax on salt."  # nearest first
    assert all(r.sentence.doc_id == "ledger.md" for r in records.values())
    assert conversation_search(query, indexes, ["gone.md"]) == ([], {}, {})
