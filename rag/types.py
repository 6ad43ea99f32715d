"""The small frozen records that pass between pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

MatchKind = Literal["exact", "near-exact", "paraphrase", "unsupported"]
MATCH_KINDS: tuple[str, ...] = ("exact", "near-exact", "paraphrase", "unsupported")


def _check_span(owner: str, start: int, end: int) -> None:
    if not (isinstance(start, int) and isinstance(end, int)):
        raise TypeError(f"{owner}: start and end must be int, got {start!r}, {end!r}")
    if start < 0 or end < start:
        raise ValueError(f"{owner}: expected 0 <= start <= end, got start={start}, end={end}")


@dataclass(frozen=True, slots=True)
class Document:
    """One source document: its plain text and what is known about it.

    ``doc_id`` is the file path relative to the corpus folder, with forward slashes.
    ``pages`` holds the character offset where each page starts (PDFs), else is empty.
    """

    doc_id: str
    text: str
    title: str
    source: str = ""
    url: str = ""
    date: str = ""
    content_hash: str = ""
    pages: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not self.doc_id:
            raise ValueError("Document: doc_id must be a non-empty relative path")
        if not isinstance(self.text, str):
            raise TypeError(f"Document {self.doc_id}: text must be str, got {type(self.text).__name__}")
        if any(not 0 <= p <= len(self.text) for p in self.pages):
            raise ValueError(f"Document {self.doc_id}: page offsets must lie within the text")

    def page_of(self, offset: int) -> int | None:
        """The 1-based page holding character ``offset``, or None when the document has no pages."""
        return page_number(self.pages, offset)


def page_number(pages: tuple[int, ...] | list[int], offset: int) -> int | None:
    """The 1-based page holding ``offset`` given each page's start offset; None without pages."""
    if not pages:
        return None
    return sum(1 for start in pages if start <= offset) or 1


@dataclass(frozen=True, slots=True)
class FileVersion:
    """A corpus file as it was read: the sha256 of its bytes, and its stat to tell later whether it changed."""

    sha256: str
    size: int = -1
    mtime_ns: int = -1
    ctime_ns: int = -1
    inode: int = -1
    read_at_ns: int = -1


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence of a document: ``document.text[start:end] == text``."""

    doc_id: str
    position: int  # 0-based order of the sentence within its document
    paragraph: int  # 0-based paragraph number within its document
    start: int
    end: int
    text: str

    def __post_init__(self) -> None:
        _check_span(f"Sentence {self.doc_id}#{self.position}", self.start, self.end)
        if len(self.text) != self.end - self.start:
            raise ValueError(
                f"Sentence {self.doc_id}#{self.position}: text has {len(self.text)} characters "
                f"but the span {self.start}:{self.end} covers {self.end - self.start}"
            )
        if not self.text.strip():
            raise ValueError(f"Sentence {self.doc_id}#{self.position}: text must not be blank")


@dataclass(frozen=True, slots=True)
class Passage:
    """A window of consecutive sentences of one paragraph, sentence positions ``first..last``."""

    doc_id: str
    position: int
    first: int
    last: int
    start: int
    end: int
    text: str

    def __post_init__(self) -> None:
        _check_span(f"Passage {self.doc_id}#{self.position}", self.start, self.end)
        if self.last < self.first:
            raise ValueError(f"Passage {self.doc_id}#{self.position}: last sentence before first")
        if len(self.text) != self.end - self.start:
            raise ValueError(f"Passage {self.doc_id}#{self.position}: text length does not match span")


@dataclass(frozen=True, slots=True)
class Hit:
    """A retrieved sentence (by its row in the index) with the scores that ranked it."""

    row: int
    score: float
    scores: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Source:
    """Another document holding the same sentence (syndicated news)."""

    doc_id: str
    title: str
    source: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Citation:
    """A quoted span of a source document: ``document.text[start:end] == text``.

    ``context`` is the passage around the quote, and ``context_start`` its offset in the
    document. ``scores`` holds every component score so thresholds can be tuned from output.
    ``also_in`` lists other documents that hold the same text.
    """

    text: str
    doc_id: str
    title: str
    source: str
    start: int
    end: int
    score: float
    context: str = ""
    context_start: int = 0
    url: str = ""
    date: str = ""
    page: int | None = None
    content_hash: str = ""
    scores: dict[str, float] = field(default_factory=dict)
    also_in: tuple[Source, ...] = ()

    def __post_init__(self) -> None:
        _check_span(f"Citation {self.doc_id}", self.start, self.end)
        if len(self.text) != self.end - self.start:
            raise ValueError(f"Citation {self.doc_id}: text length does not match span")
        inner = self.start - self.context_start
        if self.context and self.context[inner : inner + len(self.text)] != self.text:
            raise ValueError(f"Citation {self.doc_id}: context does not contain the quote at its offset")

    @property
    def context_end(self) -> int:
        return self.context_start + len(self.context)


@dataclass(frozen=True, slots=True)
class Answer:
    """The outcome of a question: cited sentences, or an abstention with its reason.

    ``candidates`` always holds the ranked sentences considered, even when abstaining.
    ``searched_for`` is the question as it was searched: a follow-up's referring words
    resolved from the conversation (the question itself when it needed no resolving).
    ``parts`` holds the answer to each part of a question that asked several things.
    """

    question: str
    abstained: bool
    reason: str
    confidence: float
    threshold: float
    citations: tuple[Citation, ...] = ()
    candidates: tuple[Citation, ...] = ()
    searched_for: str = ""
    parts: tuple[Answer, ...] = ()

    def __post_init__(self) -> None:
        if not self.searched_for:
            object.__setattr__(self, "searched_for", self.question)
        if self.abstained and self.citations:
            raise ValueError("Answer: an abstained answer carries no citations")
        if self.abstained and not self.reason:
            raise ValueError("Answer: an abstention must say why")
        if not self.abstained and not self.citations:
            raise ValueError("Answer: an answer that does not abstain needs at least one citation")


@dataclass(frozen=True, slots=True)
class Match:
    """Where one sentence of a looked-up text comes from.

    ``query`` is the input sentence, found at ``query_start:query_end`` of the input text.
    ``citation`` is the best source sentence, None when ``kind`` is ``unsupported``.
    """

    query: str
    query_start: int
    query_end: int
    kind: MatchKind
    score: float
    citation: Citation | None
    nearest: Citation | None = None

    def __post_init__(self) -> None:
        if self.kind not in MATCH_KINDS:
            raise ValueError(f"Match: kind must be one of {MATCH_KINDS}, got {self.kind!r}")
        if (self.kind == "unsupported") != (self.citation is None):
            raise ValueError("Match: citation must be None exactly when the kind is 'unsupported'")
