"""Choosing which documents a search reads: by document, folder, source and date.

A filtered search is the same search over an index of the chosen documents alone: the rows
of every other document are masked out of the vector search, of BM25 (whose statistics, IDF
and average length, are then computed over the chosen rows only) and of the passage search,
exactly as the rows of removed documents are.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from rag.errors import QueryError
from rag.index.dense import DensePart, DenseSegments
from rag.index.lexical import LexicalPart, LexicalSegments
from rag.index.metadata import MetadataSegments
from rag.search.retrieval import SearchIndexes
from rag.types import NO_TIME

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# A year first, then month and day after "-", "/" or "." ("2024-03-05", "2024/03/05", "2024.03").
_DAY = re.compile(r"^(\d{4})(?:([-/.])(\d{1,2})(?:\2(\d{1,2}))?)?(?!\d)")
_MONTH_NAME = re.compile(r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?(?![a-z])", re.I)
_NAMED_DATE_FORMATS = ("%B %d, %Y", "%b %d, %Y", "%d %B %Y", "%d %b %Y", "%B %Y", "%b %Y")


@dataclass(frozen=True, slots=True)
class Where:
    """Which documents to search. Values within a field are alternatives; fields must all hold.

    ``doc``: document ids (paths relative to the corpus); ``folder``: corpus sub-folders
    (with everything under them); ``source``: sources, compared without case; ``since`` and
    ``until``: dates, ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``, both ends included, compared
    with the document's own date (front matter, HTML meta) or else its file's date.
    """

    doc: tuple[str, ...] = ()
    folder: tuple[str, ...] = ()
    source: tuple[str, ...] = ()
    since: str = ""
    until: str = ""

    def __post_init__(self) -> None:
        for name in ("doc", "folder", "source"):
            values = getattr(self, name)
            if isinstance(values, str) or not all(isinstance(v, str) and v.strip() for v in values):
                raise QueryError(f"where: {name} must be a list of non-empty names, got {values!r}")
        for name in ("since", "until"):
            if getattr(self, name):
                date_range(getattr(self, name), name)
        if self.since and self.until and date_range(self.since, "since")[0] > date_range(self.until, "until")[1]:
            raise QueryError(f"where: since {self.since} is after until {self.until}")

    @classmethod
    def of(cls, value: Where | Mapping[str, Any] | None) -> Where | None:
        """A Where from itself, from a dict of its fields (a single name may stand for a list), or None."""
        if value is None or isinstance(value, Where):
            return value if value is None or not value.is_empty() else None
        if not isinstance(value, Mapping):
            raise QueryError(f"where must be a dict such as {{'folder': ['news']}}, got {type(value).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise QueryError(f"where: unknown field {unknown[0]!r}; use {', '.join(sorted(known))}")
        given: dict[str, Any] = {}
        for name, item in value.items():
            if name in ("since", "until"):
                given[name] = "" if item is None else str(item)
            else:
                given[name] = (item,) if isinstance(item, str) else tuple(item or ())
        where = cls(**given)
        return None if where.is_empty() else where

    def is_empty(self) -> bool:
        return not (self.doc or self.folder or self.source or self.since or self.until)

    def describe(self) -> str:
        """The filter in words, for messages: "folder news, since 2024-01"."""
        parts = [
            f"{name} {', '.join(getattr(self, name))}" for name in ("doc", "folder", "source") if getattr(self, name)
        ]
        parts += [f"{name} {getattr(self, name)}" for name in ("since", "until") if getattr(self, name)]
        return "; ".join(parts)


def date_range(text: str, what: str = "date") -> tuple[dt.date, dt.date]:
    """The first and last day that ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` covers.

    Raises:
        QueryError: ``text`` is no such date.
    """
    found = re.fullmatch(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?", text.strip())
    try:
        if not found:
            raise ValueError
        year = int(found.group(1))
        month, day = (int(g) if g else None for g in found.groups()[1:])
        if month is not None and day is not None:
            first = last = dt.date(year, month, day)
        elif month is not None:
            first = dt.date(year, month, 1)
            last = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
        else:
            first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    except ValueError:
        raise QueryError(f"where: {what} must be a date as YYYY, YYYY-MM or YYYY-MM-DD, got {text!r}") from None
    return first, last


def document_date(date: str, file_mtime_ns: int) -> dt.date | None:
    """A document's date: its own (ISO, or such as "March 5, 2024") when it has one, else its file's (UTC)."""
    text = (date or "").strip()
    found = _DAY.match(text)
    if found and found.group(4):
        try:
            return dt.date(int(found.group(1)), int(found.group(3)), int(found.group(4)))
        except ValueError:
            pass
    for pattern in _NAMED_DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    named = _named_date(text)
    if named is not None:
        return named
    if found:  # a year, or a year and month: its first day
        try:
            return dt.date(int(found.group(1)), int(found.group(3) or 1), 1)
        except ValueError:
            pass
    if file_mtime_ns != NO_TIME:  # before 1970 too (negative), as late as the index stores (2262)
        return (_EPOCH + dt.timedelta(microseconds=file_mtime_ns // 1000)).date()
    return None


def _named_date(text: str) -> dt.date | None:
    """An RFC 2822 date ("Tue, 05 Mar 2024 10:00:00 GMT"), or another that names its month (dateutil).

    A date without a year is none; one without a day is its month's first day.
    """
    try:
        return email.utils.parsedate_to_datetime(text).date()
    except (TypeError, ValueError, IndexError):
        pass
    if not _MONTH_NAME.search(text):
        return None
    from dateutil import parser  # imported here: most dates are ISO

    try:  # parsed against two defaults: a field that differs between them was not in the text
        first = parser.parse(text, default=dt.datetime(2000, 1, 1))
        second = parser.parse(text, default=dt.datetime(2001, 2, 2))
    except (ValueError, OverflowError):
        return None
    if first.year != second.year or first.month != second.month:
        return None
    return first.date() if first.day == second.day else first.date().replace(day=1)


def _in_folder(doc_id: str, folders: Iterable[str]) -> bool:
    return any(doc_id.startswith(folder.strip("/") + "/") for folder in folders)


def select_documents(where: Where, store: MetadataSegments) -> list[str]:
    """The live documents ``where`` chooses, sorted.

    Raises:
        QueryError: A named document is not in the index, or no document matches.
    """
    live = store.live_documents()
    missing = sorted(set(where.doc) - set(live))
    if missing:
        raise QueryError(f"where: no document {missing[0]!r} in the index")
    headers = store.headers_for(live)
    sources = {s.casefold() for s in where.source}
    since = date_range(where.since)[0] if where.since else None
    until = date_range(where.until)[1] if where.until else None
    chosen = []
    for doc_id in sorted(live):
        header = headers[doc_id]
        if where.doc and doc_id not in where.doc:
            continue
        if where.folder and not _in_folder(doc_id, where.folder):
            continue
        if sources and (header.source or "").casefold() not in sources:
            continue
        if since or until:
            day = document_date(header.date, live[doc_id].file.mtime_ns)
            if day is None or (since and day < since) or (until and day > until):
                continue
        chosen.append(doc_id)
    if not chosen:
        raise QueryError(f"no indexed document matches the filter ({where.describe()})")
    return chosen


def document_masks(store: MetadataSegments, doc_ids: Iterable[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each segment of ``store``, in order: which of its sentence rows and passages belong to ``doc_ids``."""
    live = store.live_documents()
    by_segment: dict[int, list[str]] = {}
    for doc_id in doc_ids:
        by_segment.setdefault(live[doc_id].segment, []).append(doc_id)
    masks = []
    for number, part in enumerate(store.parts):
        sentences = np.zeros(part.sentences, dtype=bool)
        passages = np.zeros(part.passages, dtype=bool)
        if number in by_segment:
            rows, passage_rows = part.store.rows_of_documents(by_segment[number])
            sentences[np.asarray(rows, dtype=np.int64) - part.first_row] = True
            passages[np.asarray(passage_rows, dtype=np.int64) - part.first_passage] = True
        masks.append((sentences, passages))
    return masks


def restrict(indexes: SearchIndexes, doc_ids: Iterable[str]) -> SearchIndexes:
    """The search structures of ``indexes`` with every row outside ``doc_ids`` masked out."""
    store = indexes.store
    sentence_masks: dict[int, np.ndarray] = {}
    passage_masks: dict[int, np.ndarray] = {}
    for part, (sentences, passages) in zip(store.parts, document_masks(store, doc_ids), strict=True):
        sentence_masks[part.first_row] = sentences
        passage_masks[part.first_passage] = passages
    dense, sentence_lexical, passage_lexical = indexes.dense, indexes.sentence_lexical, indexes.passage_lexical
    # Segments held in this process; a cluster masks its shards' rows itself (rag.cluster.serve).
    if not (
        isinstance(dense, DenseSegments)
        and isinstance(sentence_lexical, LexicalSegments)
        and isinstance(passage_lexical, LexicalSegments)
    ):
        raise TypeError("restrict() masks the segments of an index held in this process")
    return replace(
        indexes,
        dense=DenseSegments([DensePart(p.index, p.first_row, sentence_masks[p.first_row]) for p in dense.parts]),
        sentence_lexical=LexicalSegments(
            [LexicalPart(p.index, p.first_row, sentence_masks[p.first_row]) for p in sentence_lexical.parts],
            k1=sentence_lexical.k1,
            b=sentence_lexical.b,
        ),
        passage_lexical=LexicalSegments(
            [LexicalPart(p.index, p.first_row, passage_masks[p.first_row]) for p in passage_lexical.parts],
            k1=passage_lexical.k1,
            b=passage_lexical.b,
        ),
    )
