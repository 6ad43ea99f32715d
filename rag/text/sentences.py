"""Document text -> paragraph and sentence spans with exact character offsets."""

from __future__ import annotations

import re
from itertools import pairwise

from rag.types import Sentence

# Characters that may open a quotation or bracket before the first word of a sentence.
_OPENERS = "\"'“‘«([{"

# A possible sentence end: a terminator run, the closers glued to it and footnote marks
# ("[12]", Wikipedia page references ":2–10:79"); inside a line, followed by the
# whitespace a boundary would cut or, for text glued together by HTML extraction, by
# a capitalised word. A run starts only where no terminator precedes it, and the
# quantifiers are possessive, so the search stays linear on runs such as "......".
_CLOSERS_AND_FOOTNOTES = r"([\"'”’»)\]}]*+)((?:\[[^\]\s][^\]\n]{0,19}\]|:\d[\d–\-]*+)*+)"
_CANDIDATE = re.compile(r"([.!?…](?<![.!?…]{2})[.!?…]*+)" + _CLOSERS_AND_FOOTNOTES + r"(?:\s+|(?=[A-Z][a-z]))")
# The same at the end of a line, where a colon ends a line too ("Reference(s):").
_LINE_END = re.compile(r"([.!?…:](?<![.!?…:]{2})(?:[.!?…]*+:|[.!?…]*+))" + _CLOSERS_AND_FOOTNOTES + "$")
# A word that may end a sentence glued to the next one ("as well).Cisco").
_GLUED_WORD = re.compile(r"[a-z]{2,}[)\]\"”’]?")
_LINE = re.compile(r"[^\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]+")
_LINE_BREAK = re.compile(r"\r\n|[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_LIST_OR_HEADING = re.compile(r"(?:[-*+•▪◦‣]|\d{1,3}[.)]|[a-z][.)]|[A-Z]\)|#{1,6})\s")
_HEADING = re.compile(r"#{1,6}\s")
_NEXT_WORD = re.compile(r"[\"'“‘«(\[{]*(\S)(\w*)")
_TOKEN = re.compile(r"\S+")
_DOTTED = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")
_RULE_CHARS = "-=*_~#+ \t"
# A "sentence" longer than this (a file of one endless line, a table flattened to text) is cut
# into pieces of at most this many characters, at the last space before the limit: each piece
# is embedded and stored on its own, so memory and encoding time stay proportional to the text.
MAX_SENTENCE_CHARS = 2_000
_SPACE_CHARS = " \t\n\r\x0b\x0c\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u3000"
# Blocks whose longest line is shorter than this are lists, addresses or verse, not
# text a wrapper filled: every line of them ends on purpose.
_MIN_WRAP_WIDTH = 30

# Words before a period that never end a sentence: titles always precede a name.
_TITLES = frozenset(
    "Mr Mrs Ms Mx Dr Drs Prof Profs Sen Sens Rep Reps Gov Gen Lt Col Capt Cmdr Sgt "
    "Maj Adm Rev Hon Pres Supt Det Insp Fr Mt Ft Messrs Mme Mlle".split()
)
_ALWAYS_INSIDE = frozenset("e.g i.e E.g I.e vs Vs v cf viz".split())
# These end a sentence only when no number follows ("No. 3", "Jan. 5", "Fig. 2").
_NUMBER_ABBREVIATIONS = frozenset("No Nos no nos Vol vol pp Fig fig Art Sec Ch Para".split())
_MONTHS = frozenset("Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec".split())
# Abbreviations that often end a sentence too ("Apple Inc. The ...", "and so on, etc. It").
_AMBIGUOUS = _MONTHS | frozenset(
    "Inc Ltd Corp Co Cos Jr Sr St Ave Blvd Rd Bros Dept Univ Assn Intl Govt etc al approx est".split()
)
# After an ambiguous abbreviation, only these capitalised words start a new sentence.
_STARTERS = frozenset(
    "The This That These Those It Its He She They We You I A An His Her Their Our My "
    "In On At By For From With Without Within After Before During Since Until Under "
    "Over Through Despite Among When While Where Why What How Who If Although Though "
    "But And Or So Yet Also Still However Meanwhile Moreover Furthermore Nevertheless "
    "Instead Then Now Today Yesterday Tomorrow Last Next There Here As Some Many Most "
    "Each Both All Such Several Other Others Another One Not No Later Earlier "
    "According".split()
)
# A single capital is a name initial ("George W. Bush") unless a starter follows;
# "A" and "I" are left out so "J. A. Smith" stays whole.
_INITIAL_STARTERS = _STARTERS - {"A", "I"}

_ORDINARY, _TITLE, _INSIDE, _AMBIGUOUS_KIND, _INITIAL = range(5)


def split_sentences(text: str, doc_id: str = "") -> list[Sentence]:
    """Split a document into sentences with exact character offsets.

    Paragraphs come from :func:`split_paragraphs`, and a paragraph break always ends a
    sentence. Inside a paragraph a sentence ends at ``.``, ``!``, ``?`` or an ellipsis
    (with any closing quotes or brackets that follow it) when whitespace and a new
    sentence follow. A period does not end a sentence after a title (``Dr.``), a name
    initial (``W.``), ``e.g.``/``i.e.``/``vs.``, before a number after ``No.``/``Jan.``,
    or before a lowercase word. After an abbreviation that can also end a sentence
    (``U.S.``, ``Inc.``, ``etc.``) it does so only when a common sentence starter
    follows (``The``, ``It``, ``But``...). An ellipsis ends a sentence only before a
    capital; ``?`` and ``!`` always do, except inside a quotation that continues in
    lowercase (``“Why?” he asked``). Footnote marks after the terminator (``[12]``,
    ``:2–10``) stay with the sentence, and a lowercase word glued to a capitalised one
    by HTML extraction (``as well).Cisco``) is split there.

    Args:
        text: The document text; any line endings, any whitespace.
        doc_id: The document the sentences belong to, copied into each one.

    Returns:
        The sentences in order, each with ``text[start:end] == sentence.text``, trimmed
        of surrounding whitespace, numbered by ``position`` over the document and by
        ``paragraph``. Together they cover every non-whitespace character of ``text``.
    """
    sentences: list[Sentence] = []
    for paragraph, (start, end) in enumerate(split_paragraphs(text)):
        for span_start, span_end in _spans_in_paragraph(text, start, end):
            sentences.append(
                Sentence(
                    doc_id=doc_id,
                    position=len(sentences),
                    paragraph=paragraph,
                    start=span_start,
                    end=span_end,
                    text=text[span_start:span_end],
                )
            )
    return sentences


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """The ``(start, end)`` spans of the sentences of ``text``, as :func:`split_sentences`.

    Args:
        text: Any text, such as a passage a user pasted to look up.

    Returns:
        Trimmed, ordered, non-overlapping spans; ``[]`` for blank text.
    """
    spans: list[tuple[int, int]] = []
    for start, end in split_paragraphs(text):
        spans.extend(_spans_in_paragraph(text, start, end))
    return spans


def split_paragraphs(text: str) -> list[tuple[int, int]]:
    """The ``(start, end)`` spans of the paragraphs of ``text``, trimmed and non-blank.

    Blank lines always separate paragraphs. A single line break separates them too when:

    * the line before it ends a sentence: it ends with ``.``, ``!``, ``?``, ``…`` or
      ``:`` (closing quotes or brackets may follow), except after a title or initial
      (``Dr.``, ``W.``) or an abbreviation followed by a lowercase word (``U.S.`` /
      ``sanctions``), which are hard wraps inside a sentence;
    * the line before or after it is a heading (``# Title``), a horizontal rule, or the
      line after it starts a list item (``- item``, ``* item``, ``1. item``, ``a) item``);
    * the line before it has no final punctuation, the next line does not start in
      lowercase, and the next line's first word would have fit on the line before it
      (judged against the longest line of the block, and always in blocks of lines
      under 30 characters). A text wrapper only breaks a line when the next word does
      not fit, so such a line is a heading or title.

    Otherwise the line break is a hard wrap, typically a line that ends mid-sentence
    followed by one that starts in lowercase, and the lines join into one paragraph.

    Args:
        text: The document text; ``\\n``, ``\\r\\n`` and ``\\r`` line endings all work.

    Returns:
        The paragraph spans in order.
    """
    paragraphs: list[tuple[int, int]] = []
    for block in _blocks(text):
        width = max(end - line_start for line_start, _, end in block)
        paragraph_start = block[0][1]
        for line_a, line_b in pairwise(block):
            if _line_ends_paragraph(text, line_a, line_b, width):
                paragraphs.append((paragraph_start, line_a[2]))
                paragraph_start = line_b[1]
        paragraphs.append((paragraph_start, block[-1][2]))
    return paragraphs


def _blocks(text: str) -> list[list[tuple[int, int, int]]]:
    """Runs of non-blank lines between blank lines, as (line start, start, end) trimmed."""
    blocks: list[list[tuple[int, int, int]]] = []
    block: list[tuple[int, int, int]] = []
    previous_end = 0
    for match in _LINE.finditer(text):
        line = match.group()
        stripped = line.strip()
        if not stripped:
            continue
        line_start = match.start()
        start = line_start + line.index(stripped[0])
        end = start + len(stripped)
        if block and len(_LINE_BREAK.findall(text, previous_end, line_start)) > 1:
            blocks.append(block)
            block = []
        block.append((line_start, start, end))
        previous_end = end
    if block:
        blocks.append(block)
    return blocks


def _line_ends_paragraph(text: str, line_a: tuple[int, int, int], line_b: tuple[int, int, int], width: int) -> bool:
    """Whether the line break between consecutive lines A and B ends a paragraph."""
    a_line, a_start, a_end = line_a
    _, b_start, b_end = line_b
    if (
        _LIST_OR_HEADING.match(text, b_start)
        or _HEADING.match(text, a_start, a_end)
        or _is_rule(text[a_start:a_end])
        or _is_rule(text[b_start:b_end])
    ):
        return True
    line_end = _LINE_END.search(text, a_start, a_end)
    if line_end is None:
        return _is_unwrapped_line(text, a_line, a_end, b_start, width)
    terminators, closers = line_end.group(1), line_end.group(2)
    if ":" in terminators:
        return True
    return _ends_sentence(text, a_start, line_end.start(), terminators, closers, b_start, True)


def _is_unwrapped_line(text: str, a_line: int, a_end: int, b_start: int, width: int) -> bool:
    """Whether a line without final punctuation ends on purpose rather than by wrapping."""
    following = _NEXT_WORD.match(text, b_start)
    if following is not None and following.group(1).islower():
        return False
    token = _TOKEN.match(text, b_start)
    next_word_length = len(token.group()) if token is not None else 0
    return width < _MIN_WRAP_WIDTH or (a_end - a_line) + 1 + next_word_length <= width


def _is_rule(line: str) -> bool:
    """Whether a line is a horizontal rule or underline such as ``---`` or ``===``."""
    return len(line) >= 3 and not line.strip(_RULE_CHARS)


def _spans_in_paragraph(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The sentence spans of the trimmed paragraph ``text[start:end]``."""
    spans: list[tuple[int, int]] = []
    sentence_start = start
    marker = _LIST_OR_HEADING.match(text, start, end)
    search_from = marker.end() if marker is not None else start
    for candidate in _CANDIDATE.finditer(text, search_from, end):
        next_start = candidate.end()
        if next_start >= end:
            break
        terminators, closers = candidate.group(1), candidate.group(2)
        term_start = candidate.start()
        if next_start == candidate.end(3) and not _GLUED_WORD.fullmatch(_word_before(text, sentence_start, term_start)):
            continue
        if _ends_sentence(text, sentence_start, term_start, terminators, closers, next_start, False):
            spans.extend(_cut_long(text, sentence_start, candidate.end(3)))
            sentence_start = next_start
    spans.extend(_cut_long(text, sentence_start, end))
    return spans


def _cut_long(text: str, start: int, end: int, limit: int = MAX_SENTENCE_CHARS) -> list[tuple[int, int]]:
    """The trimmed span ``text[start:end]`` cut into spans of at most ``limit`` characters, at spaces.

    Each cut falls after the last whitespace within the limit (inside a word only when a
    word is longer than the limit); the pieces are trimmed, so together they cover every
    non-space character of the span.
    """
    if end - start <= limit:
        return [(start, end)]
    pieces: list[tuple[int, int]] = []
    while end - start > limit:
        window = text[start : start + limit + 1]
        cut = max(window.rfind(c) for c in _SPACE_CHARS)  # each rfind runs in C: linear overall
        if cut <= 0:
            cut = limit  # one word longer than the limit: cut inside it
        piece_end = start + cut
        while piece_end > start and text[piece_end - 1] in _SPACE_CHARS:
            piece_end -= 1
        pieces.append((start, piece_end))
        start += cut
        while start < end and text[start] in _SPACE_CHARS:
            start += 1
    if start < end:
        pieces.append((start, end))
    return pieces


def _ends_sentence(
    text: str,
    sentence_start: int,
    term_start: int,
    terminators: str,
    closers: str,
    next_start: int,
    at_line_end: bool,
) -> bool:
    """Whether the terminators at ``term_start`` end the sentence before ``next_start``.

    ``at_line_end`` says a line break follows: the line break is more evidence of a
    boundary, so an ordinary word or an ambiguous abbreviation ending the line ends
    the sentence before any word that does not start in lowercase.
    """
    following = _NEXT_WORD.match(text, next_start)
    if following is None:
        return True
    first = following.group(1)
    if first in ".…":
        return False  # a spaced ellipsis ". . ." continues
    if closers or "?" in terminators or "!" in terminators:
        return not (closers and first.islower())
    if len(terminators) > 1 or "…" in terminators:
        return first.isupper() or (at_line_end and not first.islower())
    return _period_ends_sentence(
        _word_before(text, sentence_start, term_start),
        first,
        first + following.group(2),
        at_line_end,
    )


def _period_ends_sentence(word: str, first: str, next_word: str, at_line_end: bool) -> bool:
    """Whether a single period after ``word`` ends a sentence before ``next_word``."""
    kind = _kind_of(word)
    if kind in (_TITLE, _INSIDE):
        return False
    if first.islower():
        return at_line_end and kind == _ORDINARY
    if first.isdigit():
        return kind == _ORDINARY and word not in _NUMBER_ABBREVIATIONS
    if kind == _ORDINARY:
        return True
    if kind == _INITIAL:
        return next_word in _INITIAL_STARTERS
    return at_line_end or next_word in _STARTERS


def _word_before(text: str, lower_bound: int, position: int) -> str:
    """The token ending at ``position`` (not before ``lower_bound``), openers removed."""
    chunk = text[max(lower_bound, position - 32) : position]
    if not chunk or chunk[-1].isspace():
        return ""
    return chunk.rsplit(None, 1)[-1].lstrip(_OPENERS)


def _kind_of(word: str) -> int:
    """How a word before a period bears on a sentence boundary."""
    if word in _TITLES:
        return _TITLE
    if word in _ALWAYS_INSIDE:
        return _INSIDE
    if word in _AMBIGUOUS:
        return _AMBIGUOUS_KIND
    if len(word) == 1 and word.isupper():
        return _INITIAL
    if len(word) > 2 and word[1] == "." and _DOTTED.fullmatch(word):
        return _AMBIGUOUS_KIND
    return _ORDINARY
