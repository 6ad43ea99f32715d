"""Answers as text to paste elsewhere: quotes with their citation, Markdown footnotes, whole conversations.

Quotes are shown on one line (a PDF's hard line breaks become spaces); every citation keeps its
exact span and the content hash of the document version it quotes, so a reader can check it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from rag.types import Answer, Citation, Source

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]()<>!|~&$#])")


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (line breaks included) as one space."""
    return " ".join(text.split())


def markdown_escaped(text: str) -> str:
    """``text`` on one line with Markdown's special characters backslash-escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", one_line(text))


def where(citation: Citation) -> str:
    """Document, page and span: "uploads/survey.pdf, p. 2, characters 299–393"."""
    page = f", p. {citation.page}" if citation.page else ""
    return f"{citation.doc_id}{page}, characters {citation.start}\u2013{citation.end}"


def coverage_text(citation: Citation, separator: str = " / ") -> str:
    """Which of the question's terms a cited quote covers and which it misses; empty for a lookup."""
    parts = []
    if citation.covered:
        parts.append(f"covers: {', '.join(citation.covered)}")
    if citation.missing:
        parts.append(f"missing: {', '.join(citation.missing)}")
    return separator.join(parts)


def reference(citation: Citation) -> str:
    """The plain-text reference of a citation: title, source, place."""
    source = f", {one_line(citation.source)}" if citation.source else ""
    return f"{one_line(citation.title)}{source}, {where(citation)}"


def quote_with_citation(citation: Citation) -> str:
    """One citation as a quote followed by its reference, in plain text."""
    return f"\u201c{one_line(citation.text)}\u201d \u2014 {reference(citation)}"


def footnote_text(citation: Citation) -> str:
    """The text of a Markdown footnote for ``citation`` (after "[^n]: ")."""
    source = f", {markdown_escaped(citation.source)}" if citation.source else ""
    digest = f" (sha256 {citation.content_hash[:12]})" if citation.content_hash else ""
    return f"*{markdown_escaped(citation.title)}*{source}, {markdown_escaped(where(citation))}{digest}."


def citation_footnote(citation: Citation, number: int = 1) -> str:
    """One citation as a Markdown quote with its footnote."""
    return f"\u201c{markdown_escaped(citation.text)}\u201d[^{number}]\n\n[^{number}]: {footnote_text(citation)}\n"


def answer_quotes(answer: Answer) -> str:
    """An answer's quotes, numbered, each with its reference (plain text); an abstention says why."""
    if answer.abstained:
        return f"The documents do not answer this question ({one_line(answer.reason)})."
    return "\n".join(f"[{n}] {quote_with_citation(c)}" for n, c in enumerate(answer.citations, start=1))


def answer_footnotes(answer: Answer, first: int = 1) -> str:
    """An answer's quotes as Markdown, each followed by a footnote marker, and the footnotes."""
    if answer.abstained:
        return f"The documents do not answer this question ({markdown_escaped(answer.reason)}).\n"
    numbers = range(first, first + len(answer.citations))
    body = " ".join(
        f"\u201c{markdown_escaped(c.text)}\u201d[^{n}]" for n, c in zip(numbers, answer.citations, strict=True)
    )
    notes = "\n".join(f"[^{n}]: {footnote_text(c)}" for n, c in zip(numbers, answer.citations, strict=True))
    return f"{body}\n\n{notes}\n"


def conversation_markdown(turns: Sequence[Answer]) -> str:
    """Every question and its answer, quotes footnoted (numbered through the whole conversation)."""
    parts, first = ["# Questions and cited answers\n"], 1
    for number, answer in enumerate(turns, start=1):
        parts.append(f"## {number}. {markdown_escaped(answer.question)}\n")
        parts.append(answer_footnotes(answer, first))
        first += len(answer.citations)
    return "\n".join(parts)


def conversation_json(turns: Sequence[Answer]) -> str:
    """Every answer in full (citations with spans, scores and content hashes), as JSON."""
    return json.dumps([asdict(answer) for answer in turns], indent=2, ensure_ascii=False)


def citation_from_dict(data: dict[str, Any]) -> Citation:
    """A Citation back from ``dataclasses.asdict`` (as kept in the browser session)."""
    fields = dict(data)
    fields["also_in"] = tuple(Source(**s) for s in fields.get("also_in", ()))
    for name in ("covered", "missing"):
        fields[name] = tuple(fields.get(name, ()))
    return Citation(**fields)


def answer_from_dict(data: dict[str, Any]) -> Answer:
    """An Answer back from ``dataclasses.asdict``."""
    fields = dict(data)
    for name in ("citations", "candidates"):
        fields[name] = tuple(citation_from_dict(c) for c in fields.get(name, ()))
    fields["parts"] = tuple(answer_from_dict(part) for part in fields.get("parts", ()))
    return Answer(**fields)
