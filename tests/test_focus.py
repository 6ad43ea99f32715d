"""What a question asks, and how much of it a sentence holds: focus terms, answer types, coverage."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag import build_index
from rag.question.focus import (
    OTHERS_REACH,
    describe_missing,
    focus_coverage,
    holds_answer_type,
    question_focus,
)
from rag.text.words import tokenize
from tests.fakes import FakeEmbedder


def _focus(question: str, weights: dict[str, float] | None = None):
    return question_focus(question, weights or {t: 1.0 for t in tokenize(question)})


def _coverage(question: str, sentence: str, **kwargs):
    return focus_coverage(_focus(question), question, sentence, tokenize(sentence), **kwargs)


@pytest.mark.parametrize(
    ("question", "answer_type", "asked"),
    [
        ("When was Huawei founded?", "date", "when"),
        ("In what year did the church split?", "date", "what year"),
        ("How many bishops does the church have?", "number", "how many"),
        ("What percentage of members live in Texas?", "number", "what percentage"),
        ("Who runs the fund?", "person", "who"),
        ("Where is Huawei headquartered?", "place", "where"),
        ("What happens when ISE gets a vulnerability event?", None, ""),  # "when" as a conjunction
        ("Which companies did Li Qiang visit?", "organisation", "which companies"),
        ("Which agency reported the fund's target?", "organisation", "which agency"),
        ("Which technologies are described as dual-use?", None, ""),
    ],
)
def test_the_kind_of_answer_asked(question: str, answer_type: str | None, asked: str) -> None:
    focus = _focus(question)
    assert (focus.answer_type, focus.asked) == (answer_type, asked)


def test_terms_keep_the_questions_words_and_group_names() -> None:
    focus = _focus("Which companies did Li Qiang visit in Zhejiang?")
    assert [t.label for t in focus.terms] == ["Li Qiang", "companies", "visit", "Zhejiang"]
    assert focus.terms[0].stems == ("li", "qiang") and focus.terms[0].name


def test_words_that_name_the_answer_type_are_not_terms() -> None:
    assert [t.label for t in _focus("How many members does the church have?").terms] == ["members", "church"]
    assert [t.label for t in _focus("In what year was the UMC formed?").terms] == ["UMC", "formed"]


def test_terms_weigh_by_their_idf() -> None:
    focus = _focus("When was Huawei founded?", {"huawei": 3.0, "found": 1.0})
    assert {t.label: t.weight for t in focus.terms} == {"Huawei": 3.0, "founded": 1.0}


def test_a_sentence_that_only_repeats_the_name_misses_the_fact_and_the_date() -> None:
    found = _coverage("When was Huawei founded?", "Li visited leading tech companies such as Huawei and BYD.")
    assert found.covered == ("Huawei",)
    assert found.missing == ("founded", "a date for “when”")
    assert found.type_found is False
    assert found.share == pytest.approx(1 / 3)  # Huawei of Huawei, founded and the date, weighing 1 each


def test_a_sentence_holding_the_fact_and_a_date_covers_everything() -> None:
    found = _coverage("When was Huawei founded?", "Huawei was founded in 1987 by Ren Zhengfei.")
    assert found.missing == () and found.share == 1.0


def test_the_questions_own_numbers_do_not_answer_it() -> None:
    assert holds_answer_type("number", "The 2014 fund was large.", "How much did the 2014 fund raise?") is False
    assert holds_answer_type("number", "The 2014 fund raised $20 billion.", "How much did the 2014 fund raise?")
    assert holds_answer_type("date", "It was founded in the 19th century.", "When was it founded?")
    assert holds_answer_type("date", "It was founded by the Wesleys.", "When was it founded?") is False
    assert holds_answer_type(None, "Anything.", "What is it?") is None
    question = "Which agency reported the fund's target?"
    assert holds_answer_type("organisation", "The fund aims at $40 billion, according to Reuters.", question)
    assert holds_answer_type("organisation", "The fund aims at $40 billion.", question) is False
    assert [t.label for t in _focus(question).terms] == ["agency", "reported", "fund's", "target"]


def test_a_date_of_other_instances_is_not_an_answer_to_when() -> None:
    # Issue 22: "when was it set up?" was said to be answered by the dates of the earlier funds.
    sentence = (
        "This initiative, spearheaded by the China Integrated Circuit Industry Investment Fund, represents the "
        "largest of its kind, surpassing previous funds initiated in 2014 and 2019."
    )
    assert holds_answer_type("date", sentence, "When was the new fund set up?") is False
    found = _coverage("When was the new fund set up?", sentence)
    assert found.type_found is False and "a date for “when”" in found.missing
    # Asked about the earlier funds, those dates answer; a date of the thing itself still counts.
    assert holds_answer_type("date", sentence, "What year did the earlier semiconductor funds begin?")
    assert holds_answer_type("date", "The fund, unlike previous ones, was set up in 2024.", "When was it set up?")
    assert holds_answer_type("number", "Other funds raised $20 billion; this one raised $40 billion.", "How much?")


def test_how_far_a_value_belongs_to_other_instances_is_a_parameter() -> None:
    # benchmarks/fit_ask.py chooses OTHERS_REACH by trying each value through this parameter.
    sentence = "The new fund surpasses previous funds initiated in 2014 and 2019."
    assert holds_answer_type("date", sentence, "When was the new fund set up?", reach=OTHERS_REACH) is False
    # "initiated in" is all a reach of 2 reads before 2014: the marker is out of its sight.
    assert holds_answer_type("date", sentence, "When was the new fund set up?", reach=2) is True
    assert holds_answer_type("date", sentence, "When was the new fund set up?", reach=0) is True


def test_another_form_of_a_word_counts() -> None:
    found = _coverage("Which farmers get support?", "Support for farming grew.")
    assert "farmers" in found.covered  # farmer / farm share a prefix of four letters or more


def test_a_term_found_only_in_the_passage_counts_half() -> None:
    found = _coverage("What did Premier Li call for?", "He called for targeted policies.",
                      context_tokens=tokenize("Premier Li spoke. He called for targeted policies."))  # fmt: skip
    assert found.in_context == ("Premier Li",) and "Premier Li" in found.covered and not found.missing
    assert found.share == pytest.approx(1.5 / 2)


def test_describe_missing_names_what_is_there_and_what_is_not() -> None:
    assert (
        describe_missing(("Huawei",), ("founded", "a date for “when”"))
        == "the best sentence mentions “Huawei” but not “founded” or a date for “when”"
    )
    assert describe_missing((), ("World Cup", "won")) == "the best sentence does not mention “World Cup” or “won”"
    assert describe_missing(("fund",), ()) == ""


def test_a_reason_never_calls_missing_a_word_the_documents_hold() -> None:
    # Issue 19: "And what about Huawei?" abstained saying the sources don't mention Huawei; they do.
    # Only a term no document holds is said to be missing from the sources.
    in_corpus = {"huawei", "fund"}
    unknown = lambda label: not set(tokenize(label)) & in_corpus  # noqa: E731
    reason = describe_missing(("fund",), ("Huawei", "founded", "a date for “when”"), unknown)
    assert (
        reason
        == "no document mentions “founded”; the best sentence mentions “fund” but not “Huawei” or a date for “when”"
    )
    assert describe_missing((), ("World Cup",), unknown) == "no document mentions “World Cup”"


def test_ask_weighs_citations_and_reports_coverage(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(
        "Huawei and BYD were visited by the premier.\n\nThe fund aims to raise 40 billion dollars for chips.\n",
        encoding="utf-8",
    )
    index = build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    answer = index.ask("When was Huawei founded?", threshold=0.3)
    best = answer.candidates[0]
    assert best.text.startswith("Huawei and BYD")
    assert best.covered == ("Huawei",) and best.missing == ("founded", "a date for “when”")
    assert best.scores["coverage"] < 1 and best.score == pytest.approx(best.scores["score"], abs=1e-4)
    assert answer.abstained and answer.reason.startswith(
        "no document mentions “founded”; the best sentence mentions “Huawei” but not a date for “when”"
    )
    answered = index.ask("How much will the fund raise?", threshold=0.1)
    assert not answered.abstained and "a number for “how much”" in answered.citations[0].covered


def test_a_threshold_saved_on_the_old_score_scale_gives_way_to_the_calibrated_default() -> None:
    from rag.config import AnswerConfig, Config

    old = Config.from_dict({"answer": {"threshold": 0.4, "k": 5}})
    assert old.answer.threshold == AnswerConfig().threshold and old.answer.k == 5
    kept = Config.from_dict(Config().with_threshold(0.5).to_dict())
    assert kept.answer.threshold == 0.5
