"""Passages: windows of sentences inside one paragraph, within the model's window."""

from rag.text.chunking import chunk_passages, estimate_tokens
from rag.text.sentences import split_sentences
from tests.helpers import assert_offsets

TEXT = (
    "One is first. Two is second. Three is third. Four is fourth. Five is fifth.\n\n"
    "A new paragraph starts. It has two sentences."
)


def test_passages_stay_inside_paragraphs_and_cover_every_sentence() -> None:
    sentences = split_sentences(TEXT, "t.txt")
    passages = chunk_passages(TEXT, sentences, max_sentences=4)
    assert_offsets(TEXT, sentences)
    assert_offsets(TEXT, passages)
    covered = [p for passage in passages for p in range(passage.first, passage.last + 1)]
    assert covered == [s.position for s in sentences]
    for passage in passages:
        paragraphs = {s.paragraph for s in sentences if passage.first <= s.position <= passage.last}
        assert len(paragraphs) == 1


def test_windows_are_balanced() -> None:
    sentences = split_sentences(TEXT, "t.txt")
    passages = chunk_passages(TEXT, sentences, max_sentences=4)
    assert [p.last - p.first + 1 for p in passages] == [3, 2, 2]


def test_token_budget_splits_long_windows() -> None:
    sentences = split_sentences(TEXT, "t.txt")
    passages = chunk_passages(TEXT, sentences, max_sentences=4, max_tokens=16)
    assert_offsets(TEXT, passages)
    for passage in passages:
        assert passage.first == passage.last or estimate_tokens(passage.text) <= 16


def test_a_single_long_sentence_is_its_own_passage() -> None:
    text = " ".join(["word"] * 400) + "."
    sentences = split_sentences(text, "long.txt")
    passages = chunk_passages(text, sentences, max_tokens=256)
    assert len(passages) == 1 and passages[0].text == text
