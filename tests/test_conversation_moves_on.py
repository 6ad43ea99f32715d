"""A conversation moves on: a sentence an earlier answer cited ranks down in the questions after it.

On INSCIT's real conversations (benchmarks/fit_ask.py), a follow-up seldom asks for a sentence the
conversation already gave; the fitted weight ``FITTED["cited"]`` (decayed by ``FITTED["cited_decay"]``
for each answer further back) counts such a sentence down, for ranking only.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag import build_index
from rag.answer_model import FITTED, probability, ranking
from tests.fakes import FakeEmbedder
from tests.helpers import assert_citations

ROOT = Path(__file__).resolve().parent.parent
CHIP = "How much money does the new chip fund aim to raise?"
VISITS = "Which companies did Premier Li Qiang visit?"
# Asked alone, its best sentence is the one the chip-fund question cites.
FUND = "What does the state-backed fund invest in?"


def _span(citation) -> tuple[str, int, int]:
    return citation.doc_id, citation.start, citation.end


@pytest.fixture(scope="module")
def fake_index(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("moves-on") / "corpus"
    folder.mkdir()
    shutil.copy(ROOT / "corpus" / "seed-article.md", folder / "seed-article.md")
    return build_index(folder, folder.parent / "index", embedder=FakeEmbedder())


@pytest.fixture
def moves_on(monkeypatch):
    from rag import answer_model

    def fitted(cited: float, decay: float) -> None:
        monkeypatch.setitem(answer_model.FITTED, "cited", cited)
        monkeypatch.setitem(answer_model.FITTED, "cited_decay", decay)

    return fitted


def test_ranking_counts_a_sentence_cited_before_down_by_the_weight_and_its_decay() -> None:
    fitted = {**FITTED, "conversation": 0.5, "cited": -2.0, "cited_decay": 0.5}
    signals = {"dense": 0.6, "dense_passage": 0.5, "lexical": 0.5}
    plain = ranking(signals, False, fitted)
    latest, older = ranking(signals, False, fitted, cited_ago=1), ranking(signals, False, fitted, cited_ago=2)
    assert latest < older < plain
    assert ranking(signals, False, {**fitted, "cited_decay": 0.0}, cited_ago=2) == plain  # the latest answer only
    assert ranking(signals, False, {**fitted, "cited": 0.0}, cited_ago=1) == plain
    assert ranking(signals, True, fitted, cited_ago=1) > latest  # the document weight still counts
    assert probability(signals, fitted) == probability(signals, {**fitted, "cited": 0.0})  # ranking only


def test_a_sentence_an_earlier_answer_cited_ranks_down_but_stays_a_candidate(fake_index, moves_on) -> None:
    first = fake_index.ask(CHIP)
    cited = {_span(c) for c in first.citations}
    alone = fake_index.ask(FUND, k=10)
    assert _span(alone.candidates[0]) in cited  # asked alone, the sentence already given comes first
    moves_on(-4.0, 1.0)
    followed = fake_index.ask(FUND, k=10, history=[first])
    top = followed.candidates[0]
    assert not followed.abstained and _span(top) not in cited
    # A weight, not a filter: the sentence is still a candidate, and every confidence is the sentence's own.
    again = [c for c in followed.candidates if _span(c) in cited]
    scored_alone = {_span(c): c.score for c in alone.candidates}
    assert again and all(c.score == scored_alone[_span(c)] for c in again)
    assert followed.confidence == top.score == scored_alone[_span(top)]
    assert_citations(fake_index, (*followed.citations, *followed.candidates))
    moves_on(0.0, 1.0)  # the fit may choose no weight: then history changes nothing here
    assert fake_index.ask(FUND, k=10, history=[first]) == alone


def test_the_weight_decays_for_each_answer_further_back(fake_index, moves_on) -> None:
    first = fake_index.ask(CHIP)
    cited = {_span(c) for c in first.citations}
    history = [first, fake_index.ask(VISITS, history=[first])]
    assert not cited & {_span(c) for c in history[1].citations}
    moves_on(-4.0, 0.0)  # only the latest answer counts: the chip fund was two answers ago
    kept = fake_index.ask(FUND, history=history)
    assert _span(kept.candidates[0]) in cited
    moves_on(-4.0, 1.0)
    moved = fake_index.ask(FUND, history=history)
    assert _span(moved.candidates[0]) not in cited
    assert_citations(fake_index, (*kept.citations, *kept.candidates, *moved.citations, *moved.candidates))


def test_a_question_asked_again_gets_what_it_got(fake_index, moves_on) -> None:
    moves_on(-4.0, 1.0)
    first = fake_index.ask(CHIP)
    assert fake_index.ask(CHIP, history=[first]) == first
    assert fake_index.ask(f"  {CHIP.lower()} ", history=[first]).citations == first.citations


def test_the_only_evidence_is_cited_again(tmp_path: Path, moves_on) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "salt.md").write_text("The harbour tax on salt was raised in 1820.\n", encoding="utf-8")
    index = build_index(folder, tmp_path / "index", embedder=FakeEmbedder())
    moves_on(-8.0, 1.0)
    first = index.ask("When was the harbour tax on salt raised?", threshold=0.0)
    again = index.ask("Which tax was raised in 1820?", threshold=0.0, history=[first])
    assert not again.abstained and _span(again.candidates[0]) == _span(first.candidates[0])
    assert again.confidence == index.ask("Which tax was raised in 1820?", threshold=0.0).confidence
    assert_citations(index, (*first.citations, *again.citations, *again.candidates))


def test_history_never_turns_an_answer_into_an_abstention(tmp_path: Path, monkeypatch) -> None:
    from rag import answer_model

    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "harbour.md").write_text("The harbour tax on salt was raised in 1820.\n", encoding="utf-8")
    (folder / "ledger.md").write_text(
        "The ledger of the old mill lists every sack of flour.\n\nThe miller kept the ledger until his death.\n",
        encoding="utf-8",
    )
    index = build_index(folder, tmp_path / "index", embedder=FakeEmbedder())
    first = index.ask("Who kept the ledger of the mill?", threshold=0.0)
    assert {c.doc_id for c in first.citations} == {"ledger.md"}
    question = "When was the harbour tax on salt raised?"
    alone = index.ask(question, k=5)
    assert not alone.abstained and alone.candidates[0].doc_id == "harbour.md"
    # A conversation weight large enough to put the ledger's weak sentences above the answer.
    monkeypatch.setitem(answer_model.FITTED, "conversation", 20.0)
    followed = index.ask(question, k=5, history=[first])
    assert not followed.abstained and followed.candidates[0].doc_id == "harbour.md"
    assert followed.confidence == alone.confidence
    assert followed.candidates[1].doc_id == "ledger.md"  # the rest keep the conversation's order
    assert_citations(index, (*followed.citations, *followed.candidates))
