"""Lexical matching: text normalisation, tokens, and the BM25 index (the only bm25s import)."""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

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
def _stemmer():  # noqa: ANN202 - PyStemmer has no type stubs
    import Stemmer

    return Stemmer.Stemmer("english")


def _normalise_token(token: str) -> str:
    return token.replace(".", "") if "." in token else token


def tokenize(text: str) -> list[str]:
    """The content words of ``text``: folded, stopwords removed, stemmed (Snowball English)."""
    # Stopwords are dropped before acronym dots are, so "U.S." stays while the pronoun "us" goes.
    words = [_normalise_token(w) for w in _TOKEN.findall(fold(text)) if w not in STOPWORDS]
    return _stemmer().stemWords(words) if words else []


def idf(document_frequency: np.ndarray | int, count: int) -> np.ndarray | float:
    """BM25 (Lucene) inverse document frequency, never negative."""
    return np.log1p((count - document_frequency + 0.5) / (document_frequency + 0.5))


class LexicalIndex:
    """BM25 over tokenised texts, with the document frequencies needed for term coverage."""

    def __init__(self, retriever, count: int) -> None:  # noqa: ANN001 - a bm25s.BM25
        self._retriever = retriever
        self.count = count
        vocab: dict[str, int] = retriever.vocab_dict
        self._vocab = vocab
        indptr = np.asarray(retriever.scores["indptr"])
        self._df = np.diff(indptr).astype(np.float64)

    @classmethod
    def build(cls, token_lists: Sequence[Sequence[str]], *, k1: float = 1.2, b: float = 0.75) -> LexicalIndex:
        """Index ``token_lists`` (one list per text, row order kept)."""
        import bm25s

        retriever = bm25s.BM25(k1=k1, b=b, method="lucene")
        retriever.index([list(t) for t in token_lists], show_progress=False)
        return cls(retriever, len(token_lists))

    def save(self, folder: Path) -> None:
        self._retriever.save(str(folder), show_progress=False, allow_pickle=False)
        (folder / "count.json").write_text(json.dumps({"count": self.count}))

    @classmethod
    def load(cls, folder: Path, *, mmap: bool = False) -> LexicalIndex:
        import bm25s

        count = json.loads((folder / "count.json").read_text())["count"]
        retriever = bm25s.BM25.load(str(folder), mmap=mmap, allow_pickle=False, show_progress=False)
        return cls(retriever, count)

    def idf(self, tokens: Sequence[str]) -> dict[str, float]:
        """IDF of each distinct token; a token the index has never seen gets the maximum IDF."""
        result = {}
        for token in dict.fromkeys(tokens):
            column = self._vocab.get(token)
            frequency = self._df[column] if column is not None and column < len(self._df) else 0.0
            result[token] = float(idf(frequency, self.count))
        return result

    def scores(self, tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of every indexed text for the query ``tokens`` (zeros when none is known)."""
        known = [t for t in tokens if t in self._vocab]
        if not known or self.count == 0:
            return np.zeros(self.count, dtype=np.float32)
        return np.asarray(self._retriever.get_scores(known), dtype=np.float32)

    def search(self, tokens: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """The top ``k`` rows by BM25 with a positive score, best first: (rows, scores)."""
        if k <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        scores = self.scores(tokens)
        # Only rows holding a query term score above zero: select among those, not among all
        # rows (an argpartition over 1M rows cost 10 ms a question; over the matches, ~1 ms).
        top = np.flatnonzero(scores > 0)
        if len(top) > k:
            top = top[np.argpartition(scores[top], len(top) - k)[len(top) - k :]]
        top = top[np.lexsort((top, -scores[top]))]  # best first; ties by row, so results are repeatable
        return top.astype(np.int64), scores[top]


# A run of two or more capitalised words: a name such as "Li Qiang" or "Henry Cavendish".
_NAME = re.compile(r"\b[A-Z][\w'\u2019-]*(?:\s+[A-Z][\w'\u2019-]*)+")
_CAPITALISED = re.compile(r"\b[A-Z][\w'\u2019-]*")


def name_groups(text: str) -> list[tuple[str, ...]]:
    """The tokens of each multi-word name in ``text``, one tuple per name."""
    groups = [tuple(tokenize(m.group(0))) for m in _NAME.finditer(text)]
    return [g for g in groups if len(g) > 1]


def capitalised_tokens(text: str) -> frozenset[str]:
    """Tokens of the capitalised words of ``text``: where a part of a name can be mentioned."""
    return frozenset(tokenize(" ".join(_CAPITALISED.findall(text))))


def coverage(
    query_idf: dict[str, float],
    tokens: Sequence[str],
    names: Sequence[tuple[str, ...]] = (),
    name_mentions: frozenset[str] = frozenset(),
) -> float:
    """The IDF-weighted share of the query's distinct terms present in ``tokens`` (0..1).

    A multi-word name of the query counts once, at the weight of its rarest part, and is
    present when any part appears capitalised in the text (``name_mentions``): news names
    a person in full once ("Premier Li Qiang") and then in part ("Li"), while "united" in
    lower case is no mention of the "United Methodist Church".
    """
    present = set(tokens)
    total = found = 0.0
    named: set[str] = set()
    for group in names:
        parts = [t for t in group if t in query_idf]
        if parts:
            weight = max(query_idf[t] for t in parts)
            total += weight
            found += weight if any(t in name_mentions for t in parts) else 0.0
            named.update(parts)
    for term, weight in query_idf.items():
        if term not in named:
            total += weight
            found += weight if term in present else 0.0
    return found / total if total > 0 else 0.0
