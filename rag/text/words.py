"""Words for matching: folding (case, accents, quotes, dashes), stopwords, stemmed tokens, names."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Quotes, apostrophes and dashes of every kind fold to their ASCII forms, so that
# “dual-use” in a question matches "dual-use" in a document.
_FOLD_TABLE = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
        "\u00ab": '"', "\u00bb": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
        "\u2212": "-", "\u00a0": " ", "\u2026": "...",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Word:
    """A word of a text with its span: what follow-ups and the claim comparison both read.

    The claim comparison also fills ``key`` (folded, without a possessive "'s" or acronym dots)
    and ``weak`` (capitalised only because it opens a sentence or a quotation).
    """

    text: str
    start: int
    end: int
    key: str = ""
    weak: bool = False

    @property
    def lower(self) -> str:
        return self.text.lower().replace("\u2019", "'")

    @property
    def capitalised(self) -> bool:
        return self.text[:1].isupper()

    @property
    def is_word(self) -> bool:
        return self.text[:1].isalnum()


# Dotted acronyms ("U.S.") are one token; otherwise runs of letters and digits.
_TOKEN = re.compile(r"(?:[a-z0-9]\.){2,}|[a-z0-9]+")

STOPWORDS: frozenset[str] = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    us s t d ll m re ve also according""".split()
)


def fold_char(char: str) -> str:
    """One character folded for matching: ASCII quotes and dashes, no accents, case folded."""
    char = char.translate(_FOLD_TABLE)
    decomposed = unicodedata.normalize("NFKD", char)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def fold(text: str) -> str:
    """Text folded for matching: case, accents ("Möngke" -> "mongke"), quotes and dashes."""
    if text.isascii():
        return text.lower()
    return "".join(fold_char(c) for c in text)


@lru_cache(maxsize=1)
def _stemmer():  # untyped: PyStemmer has no type stubs
    import Stemmer

    return Stemmer.Stemmer("english")


def _normalise_token(token: str) -> str:
    return token.replace(".", "") if "." in token else token


def tokenize(text: str) -> list[str]:
    """The content words of ``text``: folded, stopwords removed, stemmed (Snowball English)."""
    # Stopwords are dropped before acronym dots are, so "U.S." stays while the pronoun "us" goes.
    words = [_normalise_token(w) for w in _TOKEN.findall(fold(text)) if w not in STOPWORDS]
    return _stemmer().stemWords(words) if words else []


# A run of two or more capitalised words: a name such as "Li Qiang" or "Henry Cavendish".
_NAME = re.compile(r"\b[A-Z][\w'\u2019-]*(?:\s+[A-Z][\w'\u2019-]*)+")
_CAPITALISED = re.compile(r"\b[A-Z][\w'\u2019-]*")


def name_groups(text: str) -> list[tuple[str, ...]]:
    """The tokens of each multi-word name in ``text``, one tuple per name."""
    groups = [tuple(tokenize(m.group(0))) for m in _NAME.finditer(text)]
    return [g for g in groups if len(g) > 1]


@lru_cache(maxsize=1 << 15)
def capitalised_tokens(text: str) -> frozenset[str]:
    """Tokens of the capitalised words of ``text``: where a part of a name can be mentioned.

    Cached by text: a question's candidate sentences are read again for every question that
    finds them, and tokenizing them was a third of a question's time (benchmarks/latency.py).
    """
    return frozenset(tokenize(" ".join(_CAPITALISED.findall(text))))
