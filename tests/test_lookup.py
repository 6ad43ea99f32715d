"""Lookup kinds: exact, near-exact, paraphrase and unsupported, with exact spans."""

from rag.answer import Candidate
from rag.lookup import find_exact, find_near_exact, match_sentence
from rag.types import Citation
from tests.helpers import assert_offsets

TEXT = "Intro line here. Premier Li underscored that “innovation serves as the soul” of these enterprises. End."


def _candidate(score: float = 0.8) -> Candidate:
    start, end = 17, 99
    citation = Citation(
        text=TEXT[start:end], doc_id="seed.md", title="Seed", source="cgtn.com", start=start, end=end,
        score=score, context=TEXT, context_start=0,
    )  # fmt: skip
    return Candidate(citation, 0, 1, 1)


def test_find_exact_and_near_exact_spans() -> None:
    assert find_exact("serves as the soul", TEXT) == (TEXT.index("serves"), TEXT.index("serves") + 18)
    assert find_exact("Serves as the soul", TEXT) is None
    span = find_near_exact('INNOVATION "serves" as the   soul', TEXT)
    assert TEXT[span[0] : span[1]] == "innovation serves as the soul"


def test_exact_match_cites_the_very_span() -> None:
    query = "innovation serves as the soul"
    match = match_sentence(query, 0, [_candidate()], paraphrase_threshold=0.5)
    assert match.kind == "exact" and match.score == 1.0
    assert match.citation.text == query
    assert_offsets(TEXT, [match.citation])


def test_near_exact_match_up_to_case_and_quotes() -> None:
    query = 'Premier Li underscored that "Innovation serves as the soul" of these enterprises.'
    match = match_sentence(query, 5, [_candidate()], paraphrase_threshold=0.5)
    assert match.kind == "near-exact"
    assert match.citation.text.startswith("Premier Li") and match.citation.text.endswith("enterprises")
    assert (match.query_start, match.query_end) == (5, 5 + len(query))
    assert_offsets(TEXT, [match.citation])


def test_paraphrase_above_threshold_and_unsupported_below() -> None:
    query = "Innovation is the soul of these companies."
    assert match_sentence(query, 0, [_candidate(0.7)], paraphrase_threshold=0.5).kind == "paraphrase"
    weak = match_sentence(query, 0, [_candidate(0.3)], paraphrase_threshold=0.5)
    assert weak.kind == "unsupported" and weak.citation is None
    assert weak.nearest is not None and weak.score == 0.3
    assert_offsets(TEXT, [weak.nearest, match_sentence(query, 0, [_candidate(0.7)], paraphrase_threshold=0.5).citation])
    assert match_sentence(query, 0, [], paraphrase_threshold=0.5).kind == "unsupported"


def test_a_changed_number_is_not_a_paraphrase() -> None:
    text = "The fund aims to raise over $40 billion for chips."
    citation = Citation(text=text, doc_id="d.md", title="D", source="", start=0, end=len(text), score=0.8)
    candidate = Candidate(citation, 0, 0, 0)
    changed = match_sentence("The fund will raise $90 billion.", 0, [candidate], paraphrase_threshold=0.5)
    assert changed.kind == "altered"
    assert [(d.kind, d.claim_text, d.source_text) for d in changed.differences] == [
        ("number", "$90 billion", "$40 billion")
    ]
    assert (
        match_sentence("The fund will raise 40 billion.", 0, [candidate], paraphrase_threshold=0.5).kind == "paraphrase"
    )
