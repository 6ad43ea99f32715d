"""A best sentence that states otherwise what the question takes for granted (issue 19, in-topic
unanswerable questions): found by lookup's claim comparison, it lowers the answer's confidence and
the abstention names it."""

from pathlib import Path

import pytest

from rag import build_index
from rag.answer.claims import question_conflicts
from rag.answer.select import Candidate, below, decide
from rag.answer_model import FITTED, probability
from rag.config import AnswerConfig
from rag.types import Citation
from tests.fakes import FakeEmbedder
from tests.helpers import assert_offsets


def _said(question: str, sentence: str) -> list[tuple[str, str, str, str]]:
    found = question_conflicts(question, sentence)
    for d in found:  # spans are offsets into the two texts
        assert question[d.claim_start : d.claim_end] == d.claim_text
        assert sentence[d.source_start : d.source_end] == d.source_text
    return [(d.kind, d.change, d.claim_text, d.source_text) for d in found]


@pytest.mark.parametrize(
    ("question", "sentence", "said"),
    [
        # SQuAD 2.0's edits of answerable questions: an opposite, a negation, another year, number, rank.
        (
            "What force is weaker than gravity over short distances?",
            "Still, it is stronger than gravity over short distances.",
            ("opposite", "replaced", "weaker", "stronger"),
        ),
        (
            "What cell never reacts with self peptides?",
            "Under normal circumstances, many T cells and antibodies react with self peptides.",
            ("negation", "added", "never", ""),
        ),
        (
            "Which area of China did Japan conquer in 1935?",
            "In 1931 Japan conquered Manchuria from China.",
            ("date", "replaced", "1935", "1931"),
        ),
        (
            "What has a magnitude of about 8.81 meters per second squared?",
            "The acceleration due to gravity has a magnitude of about 9.81 meters per second squared.",
            ("number", "replaced", "8.81", "9.81"),
        ),
        (
            "Who won the second prize?",
            "Maria Lopez won the first prize in 2004.",
            ("rank", "replaced", "second", "first"),
        ),
    ],
)
def test_an_edited_question_conflicts_with_the_sentence_it_was_edited_from(
    question: str, sentence: str, said: tuple[str, str, str, str]
) -> None:
    assert _said(question, sentence) == [said]


@pytest.mark.parametrize(
    ("question", "sentence"),
    [
        ("When did Japan conquer Manchuria?", "In 1931 Japan conquered Manchuria from China."),
        # The same time at another grain: a year in its decade or century.
        ("What was invented in 1880 that revolutionized warfare?", "By the 1880s, the machine gun was a weapon."),
        ("When did France fight the Dutch in the 17th century?", "The Huguenots sailed to New Netherland in 1624."),
        ("How many Huguenots fled France by the 1700s?", "Some 500,000 had fled France by the early 18th century."),
        # Opposites inside names are names, not claims: "North American" against "South Carolina".
        ("Who led the North American expedition?", "Jean Ribault founded an outpost in South Carolina."),
        # A negation only the sentence holds, an amount only the question states: answerable questions
        # hold as many (benchmarks/conflict.py).
        ("Who did the council refuse?", "The council did not admit the envoy."),
        ("Who ruled Normandy in 1066?", "William ruled Normandy."),
        # A yes-no question is answered "no" by a sentence that says otherwise.
        ("Is the fund smaller than the previous ones?", "The fund is the largest of its kind."),
    ],
)
def test_no_conflict_where_the_sentence_may_answer(question: str, sentence: str) -> None:
    assert _said(question, sentence) == []


def test_a_conflict_lowers_the_confidence_by_the_fitted_log_odds() -> None:
    signals = {"dense": 0.6, "dense_passage": 0.6, "lexical": 0.8, "lexical_passage": 0.7, "coverage": 0.8}
    fitted = {**FITTED, "conflict": 2.0}
    agreeing = probability(signals, fitted)
    contradicting = probability({**signals, "conflict": 1.0}, fitted)
    assert contradicting < agreeing
    assert probability({**signals, "conflict": 1.0}, {**fitted, "conflict": 0.0}) == agreeing


TEXT = "Still, it is stronger than gravity over short distances."
QUESTION = "What force is weaker than gravity over short distances?"


def _best(score: float, agreeing: float, conflict: float = 1.0) -> Candidate:
    citation = Citation(
        text=TEXT, doc_id="a.txt", title="a", source="", start=0, end=len(TEXT), score=score, context=TEXT,
        context_start=0, scores={"score": score, "score_agreeing": agreeing, "conflict": conflict},
    )  # fmt: skip
    return Candidate(citation, 0, 0, 0)


def _decide(candidate: Candidate, threshold: float, conflicts=question_conflicts):  # type: ignore[no-untyped-def]
    return decide(
        QUESTION, [candidate], threshold=threshold, k=3, config=AnswerConfig(), read=lambda d, s, e: TEXT[s:e],
        conflicts=conflicts,
    )  # fmt: skip


def test_the_abstention_names_the_conflict_when_it_decides() -> None:
    answer = _decide(_best(0.12, 0.31), threshold=0.19)
    assert answer.abstained
    assert answer.reason.startswith(
        "the best sentence says “stronger”, the question “weaker” (it would score 0.31 agreeing with the question); "
    )
    assert "0.12" in answer.reason and "0.19" in answer.reason
    assert_offsets(TEXT, answer.candidates)


def test_the_conflict_is_not_named_where_the_sentence_would_fall_short_anyway() -> None:
    assert "stronger" not in _decide(_best(0.05, 0.15), threshold=0.19).reason
    assert "stronger" not in _decide(_best(0.12, 0.31, conflict=0.0), threshold=0.19).reason
    assert "stronger" not in _decide(_best(0.12, 0.31), threshold=0.19, conflicts=None).reason


def test_ask_lowers_a_contradicting_best_sentence_and_says_why(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(FITTED, "conflict", 3.0)  # the mechanism, whatever value the fit chose
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(
        "The weak force acts inside nuclei.\n\n"
        "Still, the nuclear force is stronger than gravity over short distances.\n",
        encoding="utf-8",
    )
    index = build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    seen = index.ask(QUESTION, threshold=0.0)
    best = seen.candidates[0]
    assert best.text.startswith("Still, the nuclear force")
    # Weighed by the share of the question's terms the sentence holds.
    assert best.scores["conflict"] == best.scores["lexical"] > 0.5 and best.score < best.scores["score_agreeing"]
    threshold = round((best.score + best.scores["score_agreeing"]) / 2, 4)
    answer = index.ask(QUESTION, threshold=threshold)
    assert answer.abstained and "the best sentence says “stronger”, the question “weaker”" in answer.reason
    for candidate in answer.candidates:
        document = (corpus / candidate.doc_id).read_text(encoding="utf-8")
        assert document[candidate.start : candidate.end] == candidate.text
    agreeing = index.ask("What force is stronger than gravity over short distances?", threshold=0.0)
    assert "conflict" not in agreeing.candidates[0].scores


@pytest.mark.parametrize(
    ("score", "threshold", "written"),
    [(0.12, 0.19, "0.12"), (0.1751, 0.18, "0.175"), (0.1799, 0.18, "0.1799"), (0.1849, 0.19, "0.18")],
)
def test_a_score_below_the_threshold_never_reads_as_the_threshold(score: float, threshold: float, written: str) -> None:
    assert below(score, threshold) == written


def test_the_abstention_writes_a_score_just_below_the_threshold_apart_from_it() -> None:
    answer = _decide(_best(0.1751, 0.1751, conflict=0.0), threshold=0.18)
    assert answer.abstained
    assert "scored 0.175, below the threshold 0.18" in answer.reason
    assert_offsets(TEXT, answer.candidates)
