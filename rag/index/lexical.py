"""Lexical matching: BM25 over segments with deletions, and term coverage (the words themselves: rag.text.words)."""

from __future__ import annotations

import itertools
import json
import logging
import math
from array import array as packed
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rag.text.words import tokenize

logger = logging.getLogger(__name__)


def idf(document_frequency: np.ndarray | int, count: int) -> np.ndarray | float:
    """BM25 (Lucene) inverse document frequency, never negative."""
    return np.log1p((count - document_frequency + 0.5) / (document_frequency + 0.5))


class TokenRows:
    """The tokens of many rows (sentences, passages), kept compactly: each distinct term once, term ids end to end.

    A list of str per sentence held a str object per token, about 60 bytes each; here a token
    costs 4 bytes. Iterating yields each row's tokens as a list, as :func:`tokenize` gives them.
    """

    __slots__ = ("terms", "ids", "lengths", "_starts")

    def __init__(self, terms: Sequence[str], ids: np.ndarray, lengths: np.ndarray) -> None:
        """Wrap term ids: row ``i`` holds the terms ``terms[ids[j]]`` for its ``lengths[i]`` consecutive ``j``."""
        if int(lengths.sum(dtype=np.int64)) != len(ids):
            raise ValueError(f"the row lengths add up to {int(lengths.sum())}, not to the {len(ids)} token ids")
        self.terms, self.ids, self.lengths = list(terms), ids, lengths
        self._starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)

    @classmethod
    def of_texts(cls, texts: Iterable[str]) -> TokenRows:
        """The tokens of each text (see :func:`tokenize`); term ids are numbered as first seen."""
        columns: defaultdict[str, int] = defaultdict(itertools.count().__next__)
        ids, lengths = packed("i"), packed("q")
        for text in texts:
            tokens = tokenize(text)
            ids.extend(map(columns.__getitem__, tokens))
            lengths.append(len(tokens))
        return cls(list(columns), np.frombuffer(ids, dtype=np.int32), np.frombuffer(lengths, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, row: int) -> list[str]:
        terms = self.terms
        return [terms[i] for i in self.ids[self._starts[row] : self._starts[row + 1]].tolist()]

    def __iter__(self) -> Iterator[list[str]]:
        return (self[row] for row in range(len(self)))

    def grouped(self, groups: Sequence[int] | np.ndarray, count: int) -> TokenRows:
        """``count`` rows, row ``g`` the tokens of every row whose group is ``g``, in row order.

        Passages are groups of consecutive sentences, so their tokens are the sentences' own ids
        (no copy) when the groups never decrease.
        """
        groups = np.asarray(groups, dtype=np.int64)
        if groups.shape != self.lengths.shape:
            raise ValueError(f"one group per row expected ({len(self)}), got {groups.shape}")
        lengths = np.bincount(groups, weights=self.lengths, minlength=count).astype(np.int64)
        if len(groups) and np.any(groups[1:] < groups[:-1]):
            order = np.argsort(np.repeat(groups, self.lengths), kind="stable")
            return TokenRows(self.terms, self.ids[order], lengths)
        return TokenRows(self.terms, self.ids, lengths)

    def term_ids(self) -> tuple[list[str], np.ndarray]:
        """The terms that occur, in the order first seen, and each token's int64 column among them."""
        present, first = np.unique(self.ids, return_index=True)
        seen = present[np.argsort(first, kind="stable")]
        column = np.zeros(len(self.terms), dtype=np.int64)
        column[seen] = np.arange(len(seen), dtype=np.int64)
        return [self.terms[i] for i in seen.tolist()], column[self.ids]


# Files of a saved segment, besides vocab.json and params.json; rows are local and stored as int32.
_ARRAYS = ("indptr", "rows", "tf", "lengths")
_MAX_ROWS = 2**31 - 1


# Scores are summed into an array over every row when the query's postings number more than
# one in this many rows; below that, the postings are sorted and summed (no work per row).
DENSE_ACCUMULATION_SHARE = 32


class LexicalIndex:
    """One segment's postings: term frequencies by term, and each row's length. Immutable.

    Nothing here depends on the rest of the collection: BM25 is computed at query time by a
    :class:`LexicalSegments`, with the statistics of the rows that are live then, so a segment is
    never rebuilt when another is added or some of its rows are deleted. Make one with
    :meth:`build` or :meth:`load`; the convenience methods score it alone, every row live.
    """

    __slots__ = ("count", "k1", "b", "_columns", "_indptr", "_rows", "_tf", "_lengths", "_total_length", "_alone")

    def __init__(
        self,
        terms: Sequence[str],
        indptr: np.ndarray,
        rows: np.ndarray,
        tf: np.ndarray,
        lengths: np.ndarray,
        *,
        k1: float = 1.2,
        b: float = 0.75,
    ) -> None:
        """Wrap postings in CSC form: term ``i`` occurs ``tf[j]`` times in row ``rows[j]``, ``j`` in its indptr range.

        Raises:
            ValueError: if the arrays do not describe one consistent segment.
        """
        _check_postings(terms, indptr, rows, tf, lengths)
        self._columns = {term: column for column, term in enumerate(terms)}  # ordered: also the vocabulary
        self._indptr, self._rows, self._tf, self._lengths = indptr, rows, tf, lengths
        self._total_length = int(lengths.sum(dtype=np.int64))
        self.count = len(lengths)
        self.k1, self.b = float(k1), float(b)
        self._alone = LexicalSegments([LexicalPart(self, 0)], k1=self.k1, b=self.b)

    @classmethod
    def build(
        cls, token_lists: Sequence[Sequence[str]] | TokenRows, *, k1: float = 1.2, b: float = 0.75
    ) -> LexicalIndex:
        """Index ``token_lists``, one list per row, in order.

        Args:
            token_lists: the tokens of each row (lists, or :class:`TokenRows`, the same index
                either way); a row's length counts repeated tokens.
            k1: BM25 term-frequency saturation, used by the convenience methods.
            b: BM25 length normalisation, used by the convenience methods.

        Returns:
            The segment, rows numbered 0..len(token_lists)-1.
        """
        count = len(token_lists)
        if count > _MAX_ROWS:
            raise ValueError(f"a segment holds at most {_MAX_ROWS} rows (stored as int32), not {count}")
        if isinstance(token_lists, TokenRows):
            terms, term_ids = token_lists.term_ids()
            indptr, rows, tf = _term_postings(term_ids, token_lists.lengths, len(terms))
            return cls(terms, indptr, rows, tf, token_lists.lengths.astype(np.int32), k1=k1, b=b)
        lengths = np.fromiter(map(len, token_lists), dtype=np.int64, count=count)
        # Each new term takes the next column as it is first seen: one pass over the tokens.
        columns: defaultdict[str, int] = defaultdict(itertools.count().__next__)
        term_ids = np.fromiter(
            map(columns.__getitem__, itertools.chain.from_iterable(token_lists)),
            dtype=np.int64,
            count=int(lengths.sum()),
        )
        indptr, rows, tf = _term_postings(term_ids, lengths, len(columns))
        return cls(list(columns), indptr, rows, tf, lengths.astype(np.int32), k1=k1, b=b)

    def save(self, folder: Path) -> None:
        """Write the segment into ``folder`` (created if needed) as JSON and ``.npy`` files, no pickle.

        Args:
            folder: where ``vocab.json``, ``params.json`` and the ``.npy`` postings go.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "vocab.json").write_text(json.dumps(list(self._columns)), encoding="utf-8")
        for name, array in zip(_ARRAYS, (self._indptr, self._rows, self._tf, self._lengths), strict=True):
            np.save(folder / f"{name}.npy", array, allow_pickle=False)
        params = {"count": self.count, "k1": self.k1, "b": self.b}
        (folder / "params.json").write_text(json.dumps(params), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, *, mmap: bool = False) -> LexicalIndex:
        """Read a segment written by :meth:`save`.

        Args:
            folder: the segment's folder.
            mmap: map the ``.npy`` arrays read-only instead of reading them into memory.

        Returns:
            The segment.

        Raises:
            OSError: if a file is missing or unreadable.
            ValueError: if a file is malformed or the files disagree with each other.
        """
        folder = Path(folder)
        params = _read_json(folder / "params.json")
        if not (
            isinstance(params, dict)
            and _is_count(params.get("count"))
            and all(_is_number(params.get(name)) for name in ("k1", "b"))
        ):
            raise ValueError(f"{folder / 'params.json'}: expected {{'count': int, 'k1': float, 'b': float}}")
        terms = _read_json(folder / "vocab.json")
        arrays = [_read_array(folder / f"{name}.npy", mmap=mmap) for name in _ARRAYS]
        if arrays[-1].shape != (params["count"],):
            raise ValueError(f"{folder}: params.json counts {params['count']} rows, lengths.npy {arrays[-1].shape}")
        return cls(terms, *arrays, k1=params["k1"], b=params["b"])

    def as_segments(self) -> LexicalSegments:
        """This segment alone as a collection, every row live, with the k1 and b it was built with."""
        return self._alone

    def idf(self, tokens: Sequence[str]) -> dict[str, float]:
        """IDF of each distinct token in this segment; see :meth:`LexicalSegments.idf`."""
        return self._alone.idf(tokens)

    def scores(self, tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of every row of this segment; see :meth:`LexicalSegments.scores`."""
        return self._alone.scores(tokens)

    def search(self, tokens: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """The top ``k`` rows of this segment; see :meth:`LexicalSegments.search`."""
        return self._alone.search(tokens, k)

    def _postings(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        """The local rows holding ``term`` (ascending) and its frequency in each, or None if never seen."""
        column = self._columns.get(term)
        if column is None:
            return None
        start, end = int(self._indptr[column]), int(self._indptr[column + 1])
        return self._rows[start:end], self._tf[start:end]


@dataclass(frozen=True, slots=True)
class LexicalPart:
    """A segment placed in a collection: its local row 0 is global row ``first_row``.

    ``live`` holds one bool per local row, False for a deleted row; None means every row is live.
    """

    index: LexicalIndex
    first_row: int
    live: np.ndarray | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.index, LexicalIndex):
            raise ValueError(f"a LexicalPart needs a LexicalIndex, not {type(self.index).__name__}")
        if not _is_count(self.first_row):
            raise ValueError(f"first_row must be an integer >= 0, not {self.first_row!r}")
        if self.live is not None:
            if not isinstance(self.live, np.ndarray) or self.live.dtype != np.bool_:
                raise ValueError(f"live must be a numpy bool array, not {getattr(self.live, 'dtype', type(self.live))}")
            if self.live.shape != (self.index.count,):
                raise ValueError(f"live must hold one bool per row ({self.index.count}), not shape {self.live.shape}")


class LexicalSearch(Protocol):
    """What a search asks of BM25: :class:`LexicalSegments`, or the cluster's shards."""

    @property
    def count(self) -> int: ...

    def idf(self, tokens: Sequence[str]) -> dict[str, float]: ...

    def search(self, tokens: Sequence[str], k: int, *, ties: bool = False) -> tuple[np.ndarray, np.ndarray]: ...


class LexicalSegments:
    """BM25 over several segments as one collection; rows not live are invisible, also to the statistics.

    Scores equal those of one index built over the live rows alone, in global-row order. The
    live counts and lengths are taken once, here; each query then costs in proportion to the
    postings of its terms, never to the number of rows.
    """

    __slots__ = ("parts", "count", "k1", "b", "_live", "_average_length", "_row_limit", "_norms")

    def __init__(self, parts: Sequence[LexicalPart], *, k1: float = 1.2, b: float = 0.75) -> None:
        """Join ``parts`` into one collection.

        Args:
            parts: the segments and where their rows go; their global row ranges must not overlap.
            k1: BM25 term-frequency saturation.
            b: BM25 length normalisation (0 none, 1 full).

        Raises:
            ValueError: if the parts overlap, or k1 or b is out of range.
        """
        if not (_is_number(k1) and k1 >= 0 and _is_number(b) and 0 <= b <= 1):
            raise ValueError(f"BM25 needs k1 >= 0 and 0 <= b <= 1, not k1={k1!r}, b={b!r}")
        self.parts = tuple(parts)
        _check_disjoint(self.parts)
        self.k1, self.b = float(k1), float(b)
        # Masks are copied: the statistics below are computed once and must not drift from them.
        self._live = tuple(_own_mask(part.live) for part in self.parts)
        self.count = sum(
            part.index.count if live is None else int(np.count_nonzero(live))
            for part, live in zip(self.parts, self._live, strict=True)
        )
        total_length = sum(
            part.index._total_length if live is None else int(part.index._lengths[live].sum(dtype=np.int64))
            for part, live in zip(self.parts, self._live, strict=True)
        )
        self._average_length = total_length / self.count if self.count else 0.0
        self._row_limit = max((part.first_row + part.index.count for part in self.parts), default=0)
        # Each row's length normalisation, k1 * (1 - b + b * length / average), computed once
        # per collection: a query then only gathers it for its postings.
        self._norms = tuple(
            self.k1 * (1 - self.b + self.b * part.index._lengths.astype(np.float64) / self._average_length)
            if self._average_length
            else np.zeros(part.index.count)
            for part in self.parts
        )

    def idf(self, tokens: Sequence[str]) -> dict[str, float]:
        """IDF of each distinct token over the live rows.

        Args:
            tokens: query tokens; repeats are looked up once.

        Returns:
            Token -> IDF; a token in no live row has document frequency 0, so the maximum IDF.
        """
        return {
            token: float(idf(sum(len(rows) for _, rows, _, _ in self._live_postings(token)), self.count))
            for token in dict.fromkeys(tokens)
        }

    def scores(self, tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of every global row, for tests and benchmarks (dense, so O(rows)).

        Args:
            tokens: query tokens; a repeated token counts once per occurrence.

        Returns:
            float32 scores over global rows 0..max(first_row + count) - 1; dead rows and gaps score 0.
        """
        dense = np.zeros(self._row_limit, dtype=np.float32)
        rows, scores = self._accumulate(tokens)
        dense[rows] = scores
        return dense

    def search(self, tokens: Sequence[str], k: int, *, ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The top ``k`` live rows by BM25 with a positive score.

        Args:
            tokens: query tokens; a repeated token counts once per occurrence, unknown ones are ignored.
            k: how many rows at most; 0 or less returns nothing.
            ties: also return every row tied with the k-th, so that the set depends on the scores
                alone, not on row numbers (which depend on the order documents were added in).

        Returns:
            (global rows as int64, float32 scores), best first, ties broken by ascending row.
        """
        if k <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        rows, totals = self._accumulate(tokens)
        scores = totals.astype(np.float32)
        # Ranked on the float32 scores returned, so equal scores as seen are always ordered by row.
        rows, scores = rows[scores > 0], scores[scores > 0]
        if len(scores) > k:
            # Keep every row scoring at least the k-th best, so ties at the cut go by row too.
            # The k-th smallest of the negated scores: numpy's introselect is slow (13 ms at 140k
            # scores of 36 distinct values) when asked for a k-th near the end among many ties.
            threshold = -np.partition(-scores, k - 1)[k - 1]
            rows, scores = rows[scores >= threshold], scores[scores >= threshold]
        order = np.lexsort((rows, -scores))
        return (rows[order], scores[order]) if ties else (rows[order[:k]], scores[order[:k]])

    def _live_postings(self, term: str) -> list[tuple[LexicalPart, np.ndarray, np.ndarray, np.ndarray]]:
        """For each part where ``term`` occurs in a live row: the part, those local rows, their tf, the part's norms."""
        found = []
        for part, live, norms in zip(self.parts, self._live, self._norms, strict=True):
            postings = part.index._postings(term)
            if postings is None:
                continue
            rows, tf = postings
            if live is not None:
                keep = live[rows]
                rows, tf = rows[keep], tf[keep]
            if len(rows):
                found.append((part, rows, tf, norms))
        return found

    def _document_frequency(
        self, term: str, postings: Sequence[tuple[LexicalPart, np.ndarray, np.ndarray, np.ndarray]]
    ) -> int:
        """How many live rows hold ``term``: those of its postings here (a shard overrides it with the corpus's)."""
        return sum(len(rows) for _, rows, _, _ in postings)

    def _accumulate(self, tokens: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The global rows with a query term (ascending, int64) and their BM25 scores (float64)."""
        if self.count == 0 or self._average_length == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
        found_rows, found_scores = [], []
        # A repeated query token adds its term score once per occurrence, as bm25s's get_scores does.
        for term, repeats in Counter(tokens).items():
            postings = self._live_postings(term)
            term_idf = idf(self._document_frequency(term, postings), self.count)
            for part, rows, tf, norms in postings:
                tf = tf.astype(np.float64)
                norm = norms[rows]
                found_rows.append(rows.astype(np.int64) + part.first_row)
                found_scores.append(repeats * term_idf * tf / (tf + norm))
        if not found_rows:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
        all_rows, all_scores = np.concatenate(found_rows), np.concatenate(found_scores)
        if len(all_rows) * DENSE_ACCUMULATION_SHARE > self._row_limit:
            # Many postings: summing into one slot per row and keeping the non-zero ones is
            # linear, where sorting the postings is not (3 ms of a 10 ms question at 100k rows).
            totals = np.bincount(all_rows, weights=all_scores, minlength=self._row_limit)
            rows = np.flatnonzero(totals > 0)  # every term score is positive (idf > 0, tf > 0)
            return rows, totals[rows]
        rows, inverse = np.unique(all_rows, return_inverse=True)
        return rows, np.bincount(inverse, weights=all_scores, minlength=len(rows))


def _term_postings(term_ids: np.ndarray, lengths: np.ndarray, terms: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSC postings (indptr, rows, tf) from each token's term id, tokens laid out row by row; reuses ``term_ids``."""
    count = max(len(lengths), 1)
    # Sorted (term, row) keys are the postings in CSC order, and a key's repeats are its tf. The
    # work is done in place where it can be: at 10M tokens, fresh memory costs more than arithmetic.
    keys = term_ids
    keys *= count
    keys += np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    keys.sort()
    first = np.ones(len(keys), dtype=bool)
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    tf = np.empty(len(starts), dtype=np.int32)
    np.subtract(starts[1:], starts[:-1], out=tf[:-1], casting="unsafe")
    tf[-1:] = len(keys) - starts[-1:]
    keys = keys[starts]
    indptr = np.searchsorted(keys, np.arange(terms + 1, dtype=np.int64) * count).astype(np.int64, copy=False)
    rows = np.empty(len(keys), dtype=np.int32)
    np.remainder(keys, count, out=rows, casting="unsafe")
    return indptr, rows, tf


def _is_count(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool) and bool(value >= 0)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | np.number) and not isinstance(value, bool) and math.isfinite(value)


def _own_mask(live: np.ndarray | None) -> np.ndarray | None:
    """A private, read-only copy of ``live``; None when every row is live, which skips the masking."""
    if live is None or live.all():
        return None
    mask = live.copy()
    mask.flags.writeable = False
    return mask


def _check_disjoint(parts: Sequence[LexicalPart]) -> None:
    for part in parts:
        if not isinstance(part, LexicalPart):
            raise ValueError(f"a LexicalSegments is made of LexicalPart, not {type(part).__name__}")
    spans = sorted((part.first_row, part.first_row + part.index.count) for part in parts if part.index.count)
    for (start, end), (next_start, next_end) in pairwise(spans):
        if next_start < end:
            raise ValueError(f"parts overlap: global rows {start}..{end - 1} and {next_start}..{next_end - 1}")


def _check_postings(
    terms: Sequence[str], indptr: np.ndarray, rows: np.ndarray, tf: np.ndarray, lengths: np.ndarray
) -> None:
    """Raise ValueError unless the arrays form one segment's postings (so queries cannot fail later)."""
    if not isinstance(terms, list | tuple) or not all(isinstance(term, str) for term in terms):
        raise ValueError("the vocabulary must be a list of strings")
    if len(set(terms)) != len(terms):
        raise ValueError("the vocabulary holds a term twice")
    # Term frequencies may be stored as floats; row numbers and lengths must be integers.
    for name, array, kinds in (
        ("indptr", indptr, "iu"),
        ("rows", rows, "iu"),
        ("tf", tf, "iuf"),
        ("lengths", lengths, "iu"),
    ):
        if not isinstance(array, np.ndarray) or array.ndim != 1 or array.dtype.kind not in kinds:
            raise ValueError(f"{name} must be a one-dimensional array of dtype kind {kinds!r}")
    if len(indptr) != len(terms) + 1 or indptr[0] != 0 or indptr[-1] != len(rows) or np.any(np.diff(indptr) < 0):
        raise ValueError(f"indptr ({len(indptr)} entries) does not fit {len(terms)} terms and {len(rows)} postings")
    if len(tf) != len(rows):
        raise ValueError(f"tf has {len(tf)} entries for {len(rows)} postings")
    if len(lengths) > _MAX_ROWS:
        raise ValueError(f"a segment holds at most {_MAX_ROWS} rows, not {len(lengths)}")
    if len(rows) and (rows.min() < 0 or rows.max() >= len(lengths)):
        raise ValueError(f"rows must lie in 0..{len(lengths) - 1}")


def _read_json(path: Path) -> Any:  # unchecked JSON: LexicalIndex() and load() check what it holds
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:  # also UnicodeDecodeError
        raise ValueError(f"{path}: not valid JSON ({error})") from error


def _read_array(path: Path, *, mmap: bool) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
    except EOFError as error:  # numpy's word for an empty file
        raise ValueError(f"{path}: empty or truncated") from error
    if not isinstance(array, np.ndarray):  # an .npz archive under the .npy name
        array.close()
        raise ValueError(f"{path}: not a single .npy array")
    return array


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
    return Weighing.of(query_idf, names).share(tokens, name_mentions)


@dataclass(frozen=True, slots=True)
class Weighing:
    """A query's terms weighed once for :func:`coverage`, then applied to each of many texts.

    A question's candidates are each measured against the same terms (``benchmarks/latency.py``:
    the names and weights were worked out again for every one). The sums run in the same order
    as ever, so a share is the same float whichever way it is computed.
    """

    groups: tuple[tuple[float, tuple[str, ...]], ...]  # each multi-word name: its weight and its parts
    terms: tuple[tuple[str, float], ...]  # the other terms and their weights, in the query's order
    total: float

    @classmethod
    def of(cls, query_idf: dict[str, float], names: Sequence[tuple[str, ...]] = ()) -> Weighing:
        total = 0.0
        groups = []
        named: set[str] = set()
        for group in names:
            parts = tuple(t for t in group if t in query_idf)
            if parts:
                weight = max(query_idf[t] for t in parts)
                total += weight
                groups.append((weight, parts))
                named.update(parts)
        terms = []
        for term, weight in query_idf.items():
            if term not in named:
                total += weight
                terms.append((term, weight))
        return cls(tuple(groups), tuple(terms), total)

    def share(self, tokens: Collection[str], name_mentions: Collection[str] = frozenset()) -> float:
        """The weighed share of the terms in ``tokens``, a name counted where ``name_mentions`` holds a part."""
        if not self.total > 0:
            return 0.0
        present = tokens if isinstance(tokens, set | frozenset) else set(tokens)
        found = 0.0
        for weight, parts in self.groups:
            if any(t in name_mentions for t in parts):
                found += weight
        for term, weight in self.terms:
            if term in present:
                found += weight
        return found / self.total
