"""Sentences -> Passages: windows of consecutive sentences inside one paragraph."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from itertools import groupby

from rag.types import Passage, Sentence

TokenCounter = Callable[[str], int]


def estimate_tokens(text: str) -> int:
    """A cautious word-piece count for English: about 1.4 pieces per word, plus [CLS]/[SEP]."""
    return math.ceil(len(text.split()) * 1.4) + 2


def _balanced_groups(sentences: Sequence[Sentence], size: int) -> list[list[Sentence]]:
    """Split into ceil(n/size) runs of nearly equal length (4+1 becomes 3+2)."""
    count = math.ceil(len(sentences) / size)
    base, extra = divmod(len(sentences), count)
    groups, start = [], 0
    for i in range(count):
        length = base + (1 if i < extra else 0)
        groups.append(list(sentences[start : start + length]))
        start += length
    return groups


def _within_budget(group: list[Sentence], text: str, budget: int, count_tokens: TokenCounter) -> list[list[Sentence]]:
    """Split a run further, greedily, until each window fits ``budget`` word pieces."""
    windows: list[list[Sentence]] = []
    for sentence in group:
        if windows:
            candidate = text[windows[-1][0].start : sentence.end]
            if count_tokens(candidate) <= budget:
                windows[-1].append(sentence)
                continue
        windows.append([sentence])
    return windows


def chunk_passages(
    text: str,
    sentences: Sequence[Sentence],
    *,
    max_sentences: int = 4,
    max_tokens: int = 256,
    count_tokens: TokenCounter = estimate_tokens,
) -> list[Passage]:
    """Group one document's sentences into passages.

    Each passage is a run of at most ``max_sentences`` consecutive sentences of one
    paragraph whose text fits ``max_tokens`` word pieces (a single longer sentence is a
    passage of its own). Every sentence lies in exactly one passage.

    Args:
        text: The document text the sentences index into.
        sentences: The document's sentences, in order.
        max_sentences: The most sentences in one passage.
        max_tokens: The model's window, in word pieces.
        count_tokens: Counts the word pieces of a text.

    Returns:
        The passages, in document order, numbered from 0.
    """
    passages: list[Passage] = []
    for _, paragraph in groupby(sentences, key=lambda s: s.paragraph):
        for group in _balanced_groups(list(paragraph), max_sentences):
            for window in _within_budget(group, text, max_tokens, count_tokens):
                start, end = window[0].start, window[-1].end
                passages.append(
                    Passage(
                        doc_id=window[0].doc_id,
                        position=len(passages),
                        first=window[0].position,
                        last=window[-1].position,
                        start=start,
                        end=end,
                        text=text[start:end],
                    )
                )
    return passages
