"""Page furniture that is not content: labels, bylines, share buttons, image credits, lone headings.

Such lines reach the text of scraped news pages and PDFs ("Reference(s):", "Share",
"By Jane Doe", "Photo: Reuters", "1 Introduction"). They say nothing a question can be
answered with, yet a question with few content words can land nearest to them. The rule
is about the form of a line, not a list of one site's lines: a sentence is furniture when

- it stands alone on its line, is short (at most ``MAX_LABEL_WORDS`` words) and does not
  end as a sentence does (a full stop, question or exclamation mark, or a closing quote or
  bracket after one), which covers headings, labels ending in a colon, lone words and bare
  domain names (a short unpunctuated piece inside a paragraph, such as "Step 4 Click Save"
  in a run-together list, is content); or
- it opens as a byline or credit does ("By <Name>", "Photo:", "Image credit", "Source:",
  "Share", "Read more") and is short enough to be nothing else (``MAX_CREDIT_WORDS``).
"""

from __future__ import annotations

import re
from functools import lru_cache

MAX_LABEL_WORDS = 5
MAX_CREDIT_WORDS = 12

_WORD = re.compile(r"[^\W_]+(?:['\u2019.-][^\W_]+)*")
# How a sentence ends: terminal punctuation, possibly followed by closing quotes or brackets.
_ENDS_AS_SENTENCE = re.compile(r"[.!?\u2026][\"'\u201d\u2019)\]]*\s*$")
# A name is capitalised whatever the case of "By": (?-i:...) keeps [A-Z] case-sensitive.
_BYLINE = r"by\s+(?-i:[A-Z])[\w'\u2019.-]*(?:\s+(?-i:[A-Z])[\w'\u2019.-]*){0,3}\s*(?:[,|/\u2014-]|$)"
_IMAGE_CREDIT = (
    r"(?:photo|image|picture|video|graphic|illustration|file photo|caption)s?"
    r"(?:\s+(?:credit|courtesy|by|source))?\s*[:/(\u2014-]"
)
_LABEL = r"(?:credit|courtesy|source|reference)s?(?:\(s\))?\s*[:\u2014-]"
_BUTTON = r"share\b|read more\b|related\b|advertisement\b|subscribe\b|editor:|written by\b|reporter:"
_CREDIT = re.compile(rf"^\W*(?:{_BYLINE}|{_IMAGE_CREDIT}|{_LABEL}|{_BUTTON})", re.IGNORECASE)


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


@lru_cache(maxsize=1 << 15)  # by text, as is_boilerplate: every question checks each of its candidates
def looks_like_label(text: str) -> bool:
    """Short and unpunctuated: furniture when it also stands alone on its line."""
    return word_count(text) <= MAX_LABEL_WORDS and not _ENDS_AS_SENTENCE.search(text)


@lru_cache(maxsize=1 << 15)  # by text: every question checks its candidates, mostly the same sentences
def is_boilerplate(text: str, *, alone_on_line: bool = True) -> bool:
    """Whether a sentence is page furniture rather than content (see the module docstring).

    Args:
        text: The sentence.
        alone_on_line: Whether nothing but white space shares its line in the document.
    """
    words = word_count(text)
    if words == 0 or (alone_on_line and looks_like_label(text)):
        return True
    return words <= MAX_CREDIT_WORDS and bool(_CREDIT.match(text))


def alone_on_line(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` has only white space beside it up to the line breaks."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    return not text[line_start:start].strip() and not text[end : len(text) if line_end < 0 else line_end].strip()
