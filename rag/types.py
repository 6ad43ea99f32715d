"""The small frozen records that pass between pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

MatchKind = Literal["exact", "near-exact", "paraphrase", "altered", "unsupported"]
MATCH_KINDS: tuple[str, ...] = ("exact", "near-exact", "paraphrase", "altered", "unsupported")
DifferenceKind = Literal["number", "date", "name", "negation", "opposite", "rank", "hedge", "quantifier", "context"]
DIFFERENCE_KINDS: tuple[str, ...] = (
    "number", "date", "name", "negation", "opposite", "rank", "hedge", "quantifier", "context",
)  # fmt: skip
# What the claim did to the source's words: put others in their place, said words the source
# does not say, or left out words the source says (a negation, a hedge).
ChangeKind = Literal["replaced", "added", "dropped"]
CHANGE_KINDS: tuple[str, ...] = ("replaced", "added", "dropped")
# An altered claim either says something else than its source, or only adds a detail (a name,
# a number, a date) the source does not state.
Verdict = Literal["", "says something else", "adds a detail"]
VERDICTS: tuple[str, ...] = ("", "says something else", "adds a detail")


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
    encoding: str = ""  # the encoding a text file was read in ("utf-8", "gb18030"...); "" for PDF and DOCX
    author: str = ""  # who wrote it, when the file says (a DOCX's author property)

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


# A file time that is not known. Not -1: a file may be dated before 1970 (negative times).
NO_TIME = -(2**63)


@dataclass(frozen=True, slots=True)
class FileVersion:
    """A corpus file as it was read: the sha256 of its bytes, and its stat to tell later whether it changed."""

    sha256: str
    size: int = -1
    mtime_ns: int = NO_TIME
    ctime_ns: int = NO_TIME
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
    covered: tuple[str, ...] = ()  # the question's terms the sentence holds (see Citation)
    missing: tuple[str, ...] = ()


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
    ``also_in`` lists other documents that hold the same text. ``covered`` and ``missing``
    say which of the question's terms (its names, rare words and the kind of answer it asks
    for, such as "a date for “when”") the quote, or the passage around it, holds and which
    it lacks; both are empty for a lookup.
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
    covered: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()

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
class Difference:
    """One way a looked-up claim departs from its source sentence.

    ``claim_text`` is ``input[claim_start:claim_end]`` of the looked-up text and
    ``source_text`` is ``document.text[source_start:source_end]`` of the cited document;
    either side is empty (a zero-width span where the words would go) when the words are
    only on the other side, such as an inserted "not". ``change`` says whether the claim
    replaced the source's words, added words of its own or dropped the source's; left
    empty, it is read from which sides hold words.
    """

    kind: DifferenceKind
    claim_text: str
    claim_start: int
    claim_end: int
    source_text: str
    source_start: int
    source_end: int
    change: ChangeKind | Literal[""] = ""

    def __post_init__(self) -> None:
        if self.kind not in DIFFERENCE_KINDS:
            raise ValueError(f"Difference: kind must be one of {DIFFERENCE_KINDS}, got {self.kind!r}")
        if not self.change:
            change = "replaced" if self.claim_text and self.source_text else "added" if self.claim_text else "dropped"
            object.__setattr__(self, "change", change)
        if self.change not in CHANGE_KINDS:
            raise ValueError(f"Difference: change must be one of {CHANGE_KINDS}, got {self.change!r}")
        _check_span("Difference claim", self.claim_start, self.claim_end)
        _check_span("Difference source", self.source_start, self.source_end)
        if len(self.claim_text) != self.claim_end - self.claim_start:
            raise ValueError("Difference: claim_text length does not match its span")
        if len(self.source_text) != self.source_end - self.source_start:
            raise ValueError("Difference: source_text length does not match its span")

    def describe(self) -> str:
        """One line: what the claim says against what the source says."""
        claim = f"\u201c{self.claim_text}\u201d" if self.claim_text else "nothing"
        source = f"\u201c{self.source_text}\u201d" if self.source_text else "nothing"
        return f"{self.kind} {self.change}: the claim says {claim}, the source says {source}"


@dataclass(frozen=True, slots=True)
class Match:
    """Where one sentence of a looked-up text comes from.

    ``query`` is the input sentence, found at ``query_start:query_end`` of the input text.
    ``citation`` is the best source sentence, None when ``kind`` is ``unsupported``.
    An ``altered`` match cites the source sentence the claim is close to and lists in
    ``differences`` the words where it departs from it, and ``verdict`` says whether it
    says something else than the source or only adds a detail the source does not state
    (a name, number or date the claim adds, with nothing in the source it replaces); left
    empty, it is read from the differences. ``reason`` says in one line why the match got its kind.
    """

    query: str
    query_start: int
    query_end: int
    kind: MatchKind
    score: float
    citation: Citation | None
    nearest: Citation | None = None
    differences: tuple[Difference, ...] = ()
    reason: str = ""
    verdict: Verdict = ""

    def __post_init__(self) -> None:
        if self.kind not in MATCH_KINDS:
            raise ValueError(f"Match: kind must be one of {MATCH_KINDS}, got {self.kind!r}")
        if (self.kind == "unsupported") != (self.citation is None):
            raise ValueError("Match: citation must be None exactly when the kind is 'unsupported'")
        if (self.kind == "altered") != bool(self.differences):
            raise ValueError("Match: an 'altered' match lists its differences, and only it does")
        if self.kind == "altered" and not self.verdict:
            adds = all(d.change == "added" and d.kind in ("name", "number", "date") for d in self.differences)
            object.__setattr__(self, "verdict", "adds a detail" if adds else "says something else")
        if self.verdict not in VERDICTS or (self.kind == "altered") != bool(self.verdict):
            raise ValueError(f"Match: an 'altered' match, and only it, has a verdict in {VERDICTS[1:]}")
