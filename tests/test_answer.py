"""Choosing what to cite: threshold, relative cut-off, syndicated copies, merged neighbours."""

from dataclasses import replace

from rag.answer.select import Candidate, decide, fold_syndicated, merge_adjacent, text_key
from rag.config import AnswerConfig
from rag.types import Citation
from tests.helpers import assert_offsets

TEXT = "Alpha is first. Beta comes next. Gamma ends it.\n\nDelta is alone."
SPANS = [(0, 15), (16, 32), (33, 47), (49, 64)]


def _candidate(position: int, score: float, doc_id: str = "a.txt", text: str = TEXT) -> Candidate:
    start, end = SPANS[position]
    paragraph = 0 if position < 3 else 1
    context_start, context_end = (0, 47) if paragraph == 0 else (49, 64)
    citation = Citation(
        text=text[start:end], doc_id=doc_id, title=doc_id, source="", start=start, end=end, score=score,
        context=text[context_start:context_end], context_start=context_start,
    )  # fmt: skip
    return Candidate(citation, paragraph, position, position)


def _read(doc_id: str, start: int, end: int) -> str:
    return TEXT[start:end]


def test_abstains_below_threshold_with_a_reason_and_keeps_candidates() -> None:
    answer = decide("q?", [_candidate(0, 0.2)], threshold=0.3, k=3, config=AnswerConfig(), read=_read)
    assert answer.abstained and not answer.citations
    assert "0.20" in answer.reason and "0.30" in answer.reason
    assert [c.text for c in answer.candidates] == ["Alpha is first."]
    assert_offsets(TEXT, answer.candidates)
    assert answer.confidence == 0.2


def test_no_candidates_abstains() -> None:
    answer = decide("q?", [], threshold=0.3, k=3, config=AnswerConfig(), read=_read)
    assert answer.abstained and answer.candidates == ()


def test_further_citations_must_be_near_the_best() -> None:
    candidates = [_candidate(0, 0.9), _candidate(3, 0.8), _candidate(2, 0.5)]
    answer = decide("q?", candidates, threshold=0.3, k=3, config=AnswerConfig(relative_cutoff=0.85), read=_read)
    assert [c.text for c in answer.citations] == ["Alpha is first.", "Delta is alone."]
    assert_offsets(TEXT, answer.citations)


def test_adjacent_sentences_of_a_paragraph_merge_into_one_quote() -> None:
    merged = merge_adjacent([_candidate(0, 0.9), _candidate(2, 0.85), _candidate(1, 0.8)], _read)
    assert len(merged) == 1
    quote = merged[0].citation
    assert quote.text == TEXT[0:47] and quote.score == 0.9
    assert_offsets(TEXT, [quote])


def test_sentences_of_different_paragraphs_do_not_merge() -> None:
    merged = merge_adjacent([_candidate(2, 0.9), _candidate(3, 0.8)], _read)
    assert len(merged) == 2
    assert_offsets(TEXT, [m.citation for m in merged])


def test_syndicated_copies_are_cited_once_with_the_others_listed() -> None:
    copy_text = TEXT.replace("Alpha is first.", "ALPHA is first.")
    first = _candidate(0, 0.9)
    copy = _candidate(0, 0.9, doc_id="b.txt", text=copy_text)
    folded = fold_syndicated([first, copy, _candidate(1, 0.5)])
    assert [c.citation.doc_id for c in folded] == ["a.txt", "a.txt"]
    assert [s.doc_id for s in folded[0].citation.also_in] == ["b.txt"]
    assert_offsets(TEXT, [c.citation for c in folded])
    assert copy_text[folded[0].citation.also_in[0].start : folded[0].citation.also_in[0].end] == "ALPHA is first."
    assert text_key("Alpha  is “first”.") == text_key('alpha is "first".')


def test_a_sentence_that_borrows_words_from_a_cited_one_is_judged_on_its_own() -> None:
    first = _candidate(0, 0.9)
    borrowed = _candidate(1, 0.85)
    borrowed = Candidate(
        replace(borrowed.citation, scores={"score": 0.85, "score_alone": 0.5}), borrowed.paragraph, 1, 1
    )
    answer = decide("q?", [first, borrowed], threshold=0.3, k=3, config=AnswerConfig(), read=_read)
    assert [c.text for c in answer.citations] == ["Alpha is first."]
    alone = Candidate(replace(borrowed.citation, scores={"score": 0.85}), borrowed.paragraph, 1, 1)
    answer = decide("q?", [first, alone], threshold=0.3, k=3, config=AnswerConfig(), read=_read)
    assert [c.text for c in answer.citations] == [TEXT[0:32]], "without borrowing, the neighbours merge"
    assert_offsets(TEXT, answer.citations)


# --- a sentence that refers back is quoted with the sentence it refers to -----------------

REFERRING = "The council met on Monday. It voted to close the bridge. Traffic was diverted."
REFERRING_SPANS = [(0, 26), (27, 56), (57, 78)]


def _record(position: int):  # untyped: a SentenceRecord
    from rag.index.metadata import SentenceRecord
    from rag.types import Sentence

    start, end = REFERRING_SPANS[position]
    sentence = Sentence("b.txt", position, 0, start, end, REFERRING[start:end])
    return SentenceRecord(row=10 + position, sentence=sentence, passage=0, tokens=())


def _read_referring(doc_id: str, start: int, end: int) -> str:
    return REFERRING[start:end]


def _referring_candidate(position: int, score: float, *, with_antecedent: bool) -> Candidate:
    from rag.answer.select import make_candidate
    from rag.index.metadata import DocumentHeader
    from rag.types import Hit, Passage

    # The passage holds sentences 1-2: the antecedent of sentence 1 lies outside it.
    passage = Passage("b.txt", 0, 1, 2, 27, 78, REFERRING[27:78])
    header = DocumentHeader("b.txt", "B", "", "", "", "", 3, "")
    hit = Hit(row=10 + position, score=score, scores={"score": score})
    antecedent = _record(position - 1) if with_antecedent else None
    return make_candidate(hit, _record(position), passage, header, antecedent, _read_referring)


def test_a_sentence_referring_back_is_quoted_with_its_antecedent() -> None:
    candidate = _referring_candidate(1, 0.7, with_antecedent=True)
    assert candidate.citation.text == "The council met on Monday. It voted to close the bridge."
    assert (candidate.first, candidate.last) == (0, 1)
    assert_offsets(REFERRING, [candidate.citation])
    assert candidate.citation.context.startswith(candidate.citation.text), "the context widens to hold the quote"
    alone = _referring_candidate(1, 0.7, with_antecedent=False)
    assert alone.citation.text == "It voted to close the bridge." and (alone.first, alone.last) == (1, 1)


def test_quotes_that_overlap_or_follow_merge_without_repeating_text() -> None:
    extended = _referring_candidate(1, 0.7, with_antecedent=True)  # sentences 0-1
    following = _referring_candidate(2, 0.6, with_antecedent=False)  # sentence 2
    merged = merge_adjacent([extended, following], _read_referring)
    assert [q.citation.text for q in merged] == [REFERRING]
    again = merge_adjacent([extended, _referring_candidate(1, 0.5, with_antecedent=False)], _read_referring)
    assert [q.citation.text for q in again] == ["The council met on Monday. It voted to close the bridge."]
    assert_offsets(REFERRING, [q.citation for q in (*merged, *again)])
