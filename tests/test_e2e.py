"""End to end with the real packaged model on the seed corpus (cases from seed-questions.jsonl)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag import load_index
from tests.helpers import assert_citations

CASES = [
    json.loads(line) for line in (Path(__file__).parent / "data" / "seed-questions.jsonl").read_text().splitlines()
]
ANSWERABLE = [c for c in CASES if c["kind"] == "answerable"]
OFFTOPIC = [c for c in CASES if c["kind"] == "offtopic"]
LOOKUP = [c for c in CASES if c["kind"] == "lookup"]
GOLD_FUND = (
    "In response, China is launching a new state-backed investment fund aiming to raise over $40 billion "
    "for its semiconductor sector, according to Reuters."
)


@pytest.mark.parametrize("case", ANSWERABLE, ids=[c["question"] for c in ANSWERABLE])
def test_answerable_question_cites_its_gold_sentence_first(real_index, case) -> None:
    answer = real_index.ask(case["question"])
    assert not answer.abstained, answer.reason
    # "Which companies did Li Qiang visit?" has two sentences on his visits to companies, which the
    # fitted answer model scores within 1% of each other: the gold is cited, not always first.
    cited = answer.citations if case.get("ties") else answer.citations[:1]
    assert any(case["gold"] in c.text for c in cited)
    assert answer.citations[0].source == "cgtn.com"
    assert_citations(real_index, answer.citations)
    assert_citations(real_index, answer.candidates)


@pytest.mark.parametrize("case", OFFTOPIC, ids=[c["question"] for c in OFFTOPIC])
def test_offtopic_question_abstains_with_a_reason(real_index, case) -> None:
    answer = real_index.ask(case["question"])
    assert answer.abstained and answer.citations == ()
    assert "below the threshold" in answer.reason
    assert answer.confidence < answer.threshold
    assert_citations(real_index, answer.candidates)


@pytest.mark.parametrize("case", LOOKUP, ids=[c["question"] for c in LOOKUP])
def test_lookup_finds_the_paraphrased_sentence(real_index, case) -> None:
    (match,) = real_index.lookup(case["question"])
    assert match.kind == "paraphrase"
    assert case["gold"] in match.citation.text
    assert_citations(real_index, [match.citation])


def test_the_issue_examples(real_index) -> None:
    answer = real_index.ask("How much money will the new chip fund raise?")
    assert answer.citations[0].text == GOLD_FUND
    assert real_index.ask("Who won the 2022 World Cup?").abstained
    (match,) = real_index.lookup("innovation is the soul of these companies")
    assert match.kind in ("paraphrase", "near-exact")
    assert "innovation serves as the soul" in match.citation.text


def test_lookup_kinds_on_a_mixed_paragraph(real_index) -> None:
    text = (
        "Premier Li underscored that “innovation serves as the soul” of these enterprises. "
        "PREMIER LI underscored that innovation serves as the soul of these enterprises! "
        "The moon is made of green cheese."
    )
    matches = real_index.lookup(text)
    assert [m.kind for m in matches] == ["exact", "near-exact", "unsupported"]
    for match in matches:
        assert text[match.query_start : match.query_end] == match.query
    assert_citations(real_index, [m.citation for m in matches if m.citation])
    assert matches[2].nearest is not None


def test_a_whole_pasted_article_is_found_sentence_by_sentence(real_index) -> None:
    document = real_index.document("seed-article.md")
    matches = real_index.lookup(document.text)
    assert len(matches) == len(real_index.sentences("seed-article.md"))
    assert all(m.kind == "exact" for m in matches)
    assert_citations(real_index, [m.citation for m in matches])


def test_adjacent_sentences_merge_into_one_quote(real_index) -> None:
    # Both sentences of the sanctions paragraph are cited, each on its own merits (neither refers back).
    answer = real_index.ask("How are U.S. sanctions and restrictions on components hurting China's tech sector?", k=3)
    assert_citations(real_index, answer.citations)
    quote = answer.citations[0]
    inside = [s for s in real_index.sentences(quote.doc_id) if quote.start <= s.start and s.end <= quote.end]
    assert len(inside) == 2, f"one quote of the two sentences, got {[c.text for c in answer.citations]}"
    assert (inside[0].start, inside[-1].end) == (quote.start, quote.end)
    assert inside[0].text.startswith("U.S. sanctions have posed") and inside[1].text.startswith("Restrictions on")
    assert not any(c.start < quote.end and quote.start < c.end for c in answer.citations[1:]), "no part is repeated"


def test_reloaded_index_loads_the_same_encoder_and_answers_alike(real_index) -> None:
    loaded = load_index(real_index.path)
    question = "Which technologies are described as dual-use?"
    assert loaded.ask(question) == real_index.ask(question)
    assert loaded.embedder.name == real_index.manifest["encoder"]


def test_a_question_whose_fact_is_missing_abstains_naming_it(real_index) -> None:
    answer = real_index.ask("When was Huawei founded?")
    assert answer.abstained
    assert "“Huawei”" in answer.reason and "“founded”" in answer.reason and "a date" in answer.reason
    nearest = answer.candidates[0]
    assert "Huawei" in nearest.text and "founded" in nearest.missing


def test_a_quote_missing_the_asked_purpose_says_so(real_index) -> None:
    # Without a reading model this one is not always caught: "farming" is as absent from the
    # article as "chip" is from the true answer of "How big is China's new chip fund?" (the
    # article says "semiconductor"). What is certain is that the quote is scored down and
    # shows what it misses.
    answer = real_index.ask("How much will the fund raise for farming?")
    quote = (answer.citations or answer.candidates)[0]
    assert quote.text == GOLD_FUND
    assert "farming" in quote.missing and "fund" in quote.covered
    assert quote.scores["coverage"] < 1 and quote.score < quote.scores["dense"]


def test_answers_report_what_of_the_question_they_cover(real_index) -> None:
    answer = real_index.ask("How much money will the new chip fund raise?")
    first = answer.citations[0]
    assert "fund" in first.covered and "a number for “how much”" in first.covered
    assert set(first.covered).isdisjoint(first.missing)
