"""The browser app: a Gradio shell over rag's public API (ask, look up, manage documents).

Every piece of document text is untrusted: it reaches the page only through ``html_text``
(HTML components) or ``markdown_text`` (the chat, which renders Markdown), so it shows as
the characters it is and never as markup, links or images.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import ipaddress
import itertools
import json
import logging
import os
import re
import string
import sys
import tempfile
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from rag import SUPPORTED_SUFFIXES, Answer, Citation, Document, Index, Match, RagError, build_index, load_index
from rag.errors import IndexNotFoundError
from rag.export import (
    answer_footnotes,
    answer_from_dict,
    answer_quotes,
    citation_footnote,
    conversation_json,
    conversation_markdown,
    quote_with_citation,
)
from rag.export import where as citation_place
from rag.feedback import feedback_path, record_feedback

logger = logging.getLogger("rag.ui")

DEFAULT_CORPUS = "corpus"
DEFAULT_INDEX = ".rag-index"
UPLOAD_FOLDER = "uploads"
MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # Gradio counts a megabyte as 1024 * 1024 bytes: one limit, "5 MB" everywhere
MAX_UPLOAD_LABEL = "5 MB"
MAX_UPLOAD_FILES = 20
EXAMPLE_QUESTIONS = (
    "How much money does the new chip fund aim to raise?",
    "Which companies did Li Qiang visit?",
    "Which technologies are described as dual-use?",
)
EXAMPLE_LOOKUPS = (
    "China wants to be a world leader in technology.",
    "In response, China is launching a new state-backed investment fund aiming to raise over $40 billion for "
    "its semiconductor sector, according to Reuters. The fund was announced on the moon.",
)
KIND_BADGES = {
    "exact": "\u2714 exact",
    "near-exact": "\u2248 near-exact",
    "paraphrase": "~ paraphrase",
    "altered": "\u26a0 altered",
    "unsupported": "\u2717 unsupported",
}
NEAREST_SHOWN = 2
MAX_CHAT_TURNS = 20  # earlier answers passed with a chat question
THUMBS = {"up": "\U0001f44d", "down": "\U0001f44e"}

# --- escaping: the only ways document text reaches the page ----------------------------

_SPACES = re.compile(r"\s+")
# Every ASCII punctuation mark as a numeric character reference: a Markdown renderer finds
# no emphasis, link, image, HTML tag, autolink or math in it, and the browser shows the mark.
_INERT = {ord(mark): f"&#{ord(mark)};" for mark in string.punctuation}
_MARKDOWN_EXPORT = re.compile(r"([\\`*_\[\]()<>!|~&$#])")


def html_text(text: str) -> str:
    """``text`` escaped for HTML: shown as written, never parsed as markup."""
    return html.escape(text, quote=True)


def markdown_text(text: str) -> str:
    """``text`` for a Markdown renderer, on one line, with no character able to act as markup."""
    return _SPACES.sub(" ", text).translate(_INERT)


def markdown_export_text(text: str) -> str:
    """``text`` on one line with Markdown's special characters backslash-escaped (for exported files)."""
    return _MARKDOWN_EXPORT.sub(r"\\\1", " ".join(text.split()))


def highlight_html(text: str, start: int, end: int, *, mark_id: str = "") -> str:
    """HTML of ``text`` with ``text[start:end]`` in a <mark>; every piece escaped.

    Raises:
        ValueError: The span does not lie within the text.
    """
    if not 0 <= start <= end <= len(text):
        raise ValueError(f"span {start}:{end} lies outside a text of {len(text)} characters")
    anchor = f' id="{html_text(mark_id)}"' if mark_id else ""
    return (
        f'{html_text(text[:start])}<mark class="rag-hl"{anchor}>{html_text(text[start:end])}</mark>'
        f"{html_text(text[end:])}"
    )


def highlight_markdown(text: str, start: int, end: int) -> str:
    """``highlight_html`` for the chat's Markdown: the same <mark>, the text made inert."""
    if not 0 <= start <= end <= len(text):
        raise ValueError(f"span {start}:{end} lies outside a text of {len(text)} characters")
    before, quote, after = (_SPACES.sub(" ", part) for part in (text[:start], text[start:end], text[end:]))
    return f"{before.translate(_INERT)}<mark>{quote.translate(_INERT)}</mark>{after.translate(_INERT)}".strip()


def _safe_link(url: str) -> str:
    """An http(s) address as a link that opens elsewhere, or the address as plain text."""
    if not re.match(r"https?://[^\s\"'<>]+$", url, re.I):
        return html_text(url)
    return f'<a href="{html_text(url)}" target="_blank" rel="noopener noreferrer nofollow">{html_text(url)}</a>'


# --- the current index, swapped whole when documents change ------------------------------


class IndexHolder:
    """The app's current Index: read by every request, replaced when documents change."""

    def __init__(self, index: Index | None = None) -> None:
        self._index = index
        self._changing = threading.Lock()  # one change of the corpus at a time
        self._swap = threading.Lock()
        self._folders: dict[str, Path] = {}

    def folder(self, purpose: str) -> Path:
        """A private temporary folder of this app, made on first use: "staging" (uploads waiting to join
        the corpus, under content-hash names) or "exports" (lookup downloads)."""
        with self._swap:
            if purpose not in self._folders:
                self._folders[purpose] = Path(tempfile.mkdtemp(prefix=f"rag-{purpose}-"))
            return self._folders[purpose]

    @property
    def index(self) -> Index:
        with self._swap:
            if self._index is None:
                raise RagError("the index is not loaded yet; start the app with `python ui.py`")
            return self._index

    def set(self, index: Index) -> None:
        with self._swap:
            self._index = index

    def change(self, update: Callable[[Index], Index]) -> Index:
        """Apply ``update`` (e.g. ``lambda i: i.remove([...])``) and make its result current."""
        with self._changing:
            updated = update(self.index)
            self.set(updated)
            return updated


STATE = IndexHolder()


# --- answers ---------------------------------------------------------------------------


def _title_line(citation: Citation) -> str:
    source = f" \u00b7 {markdown_text(citation.source)}" if citation.source else ""
    page = f" \u00b7 p. {citation.page}" if citation.page else ""
    return f"*{markdown_text(citation.title)}*{source}{page}"


def _coverage_markdown(citation: Citation) -> str:
    """A line under a quote saying which parts of the question it covers and which it misses."""
    parts = []  # the words are document-borne: each escaped, the labels kept as Markdown text
    if citation.covered:
        parts.append(f"covers: {markdown_text(', '.join(citation.covered))}")
    if citation.missing:
        parts.append(f"missing: {markdown_text(', '.join(citation.missing))}")
    separator = " \u00b7 "
    return f"  \n*{separator.join(parts)}*" if parts else ""


def cite_marker(answer_number: int | None, number: int) -> str:
    """The [n] of a quote: a button that opens the citation in its document (bold text without a number)."""
    if answer_number is None:
        return f"**[{number}]**"
    return f'<button type="button" class="rag-cite rag-q{answer_number}-c{number}">&#91;{number}&#93;</button>'


def copy_buttons(answer_number: int | None, number: int = 0) -> str:
    """Buttons copying a citation (``number``), or the whole answer (0), as a quote or a Markdown footnote."""
    if answer_number is None:
        return ""
    what = "answer" if number == 0 else f"&#91;{number}&#93;"
    return (
        f'<span class="rag-actions"><button type="button" class="rag-copy rag-q{answer_number}-c{number}-quote">'
        f"Copy {what} as quote</button> "
        f'<button type="button" class="rag-copy rag-q{answer_number}-c{number}-note">'
        f"Copy {what} as footnote</button></span>"
    )


def answer_markdown(answer: Answer, number: int | None = None) -> str:
    """The chat reply: the quoted sentences numbered [1]..[k], each with its document's title and source.

    With the answer's ``number`` in the conversation, each [n] is a button that opens its citation.
    """
    searched = (
        f"*searched for: {markdown_text(answer.searched_for)}*\n\n" if answer.searched_for != answer.question else ""
    )
    if answer.abstained:
        reason = markdown_text(answer.reason.rstrip("."))
        return f"{searched}**The documents do not answer this question.**\n\nReason: {reason}."
    lines = [searched.strip()] if searched else []
    lines += [
        f"{cite_marker(number, n)} \u201c{markdown_text(citation.text)}\u201d \u2014 {_title_line(citation)}"
        + _coverage_markdown(citation)
        for n, citation in enumerate(answer.citations, start=1)
    ]
    lines.append(f"*confidence {answer.confidence:.2f} (abstains below {answer.threshold:.2f})*")
    if answer.parts or answer.citations[0].scores.get("overview"):
        lines.append(f"*{markdown_text(answer.reason)}*")
    if number is not None:
        lines.append(copy_buttons(number))
    return "\n\n".join(lines)


def _source_markdown(label: str, citation: Citation, actions: str = "") -> str:
    inner = citation.start - citation.context_start
    passage = (
        highlight_markdown(citation.context, inner, inner + len(citation.text))
        if citation.context
        else f"<mark>{markdown_text(citation.text)}</mark>"
    )
    also = "".join(
        f"<br>also in: *{markdown_text(other.title)}* {markdown_text(other.source)}" for other in citation.also_in
    )
    return (
        f"{label} {_title_line(citation)} \u00b7 score {citation.score:.2f} \u00b7 "
        f"{markdown_text(citation_place(citation))}{also}\n\n{passage}" + (f"\n\n{actions}" if actions else "")
    )


def sources_markdown(answer: Answer, number: int | None = None) -> str:
    """The Sources area under a reply: each citation's passage with the cited sentence highlighted."""
    if answer.abstained:
        nearest = answer.candidates[:NEAREST_SHOWN]
        if not nearest:
            return "Nothing in the documents comes close."
        parts = [_source_markdown(f"**Nearest {n} (NOT an answer)**", c) for n, c in enumerate(nearest, start=1)]
        return "\n\n---\n\n".join(parts)
    return "\n\n---\n\n".join(
        _source_markdown(cite_marker(number, n), c, copy_buttons(number, n))
        for n, c in enumerate(answer.citations, start=1)
    )


def citation_key(citation: Citation) -> str:
    """A citation's place as the value of a choice: its document, span and the text's hash, as JSON."""
    return json.dumps([citation.doc_id, citation.start, citation.end, citation.content_hash])


def parse_citation_key(key: str) -> tuple[str, int, int, str]:
    """The (doc_id, start, end, content_hash) of ``citation_key``; ValueError when it is not one."""
    try:
        doc_id, start, end, content_hash = json.loads(key)
        return str(doc_id), int(start), int(end), str(content_hash)
    except (TypeError, ValueError) as error:
        raise ValueError(f"not a citation key: {key!r}") from error


def answer_messages(answer: Answer, number: int | None = None) -> list[dict[str, Any]]:
    """The assistant messages of one answer: the reply, then its Sources, collapsed under the reply.

    ``number`` is the answer's place in the conversation (1 for the first question): it makes
    each [n] a button that opens its citation, and adds the copy buttons.
    """
    title = "Nearest passages \u2014 NOT an answer" if answer.abstained else f"Sources ({len(answer.citations)})"
    sources = {
        "role": "assistant",
        "content": sources_markdown(answer, number),
        "metadata": {"title": title, "status": "done"},  # "done": shown collapsed
    }
    return [{"role": "assistant", "content": answer_markdown(answer, number)}, sources]


def citation_choices(answer: Answer, number: int) -> list[tuple[str, str]]:
    """The citations of answer ``number`` as (label, value) choices for the document viewer."""
    return [
        (f"Q{number} [{n}] \u201c{_clip(c.text, 70)}\u201d \u2014 {_clip(c.title, 50)}", citation_key(c))
        for n, c in enumerate(answer.citations, start=1)
    ]


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def api_filter(
    documents: list[str] | None, folders: list[str] | None, sources: list[str] | None, since: str, until: str
) -> dict[str, Any] | None:
    """The ``where`` of an API call from its optional arguments (None: every document)."""
    where = {"doc": documents, "folder": folders, "source": sources, "since": since, "until": until}
    where = {name: value for name, value in where.items() if value}
    return where or None


def ask_api(
    question: str,
    history: list[dict[str, Any]] | None = None,
    documents: list[str] | None = None,
    folders: list[str] | None = None,
    sources: list[str] | None = None,
    since: str = "",
    until: str = "",
) -> dict[str, Any]:
    """Answer a question with sentences quoted from the documents, or abstain with a reason.

    Args:
        question: A question in plain words.
        history: The earlier answers of the same conversation as this endpoint returned them,
            oldest first; a follow-up's "it", "he", "And in 2019?" are resolved from them.
        documents: Search only these documents (ids: paths relative to the corpus).
        folders: Search only documents under these corpus folders.
        sources: Search only documents from these sources.
        since: Search only documents dated on or after this day (YYYY, YYYY-MM or YYYY-MM-DD).
        until: Search only documents dated on or before this day.

    Returns:
        The Answer as JSON: question, searched_for, abstained, reason, confidence, threshold,
        citations, candidates, parts.
    """
    try:
        where = api_filter(documents, folders, sources, since, until)
        return asdict(STATE.index.ask(question, history=history or (), where=where))
    except RagError as error:
        raise gr.Error(str(error)) from None


def lookup_api(
    text: str,
    documents: list[str] | None = None,
    folders: list[str] | None = None,
    sources: list[str] | None = None,
    since: str = "",
    until: str = "",
) -> list[dict[str, Any]]:
    """Find where each sentence of a quote, claim or paragraph comes from.

    Args:
        text: A quote, a claim, or whole paragraphs.
        documents: Look only in these documents (ids: paths relative to the corpus).
        folders: Look only in documents under these corpus folders.
        sources: Look only in documents from these sources.
        since: Look only in documents dated on or after this day (YYYY, YYYY-MM or YYYY-MM-DD).
        until: Look only in documents dated on or before this day.

    Returns:
        One Match per sentence as JSON: query, kind (exact / near-exact / paraphrase / altered / unsupported),
        score, citation (None when unsupported), nearest, reason (one line) and differences (for altered:
        each with its kind and the claim's and the source's words and spans).
    """
    try:
        where = api_filter(documents, folders, sources, since, until)
        return [asdict(match) for match in STATE.index.lookup(text, where=where)]
    except RagError as error:
        raise gr.Error(str(error)) from None


# --- documents -------------------------------------------------------------------------


def document_header_html(document: Document, sentences: int | None = None) -> str:
    parts = [f'<div class="rag-doc-title">{html_text(document.title)}</div><div class="rag-meta">']
    details = [html_text(document.source)] if document.source else []
    details += [html_text(document.date)] if document.date else []
    details.append(f"<code>{html_text(document.doc_id)}</code>")
    details += [f"{sentences} sentences"] if sentences is not None else []
    details += [_safe_link(document.url)] if document.url else []
    parts.append(" \u00b7 ".join(details))
    parts.append("</div>")
    return "".join(parts)


def document_html(
    document: Document, start: int | None = None, end: int | None = None, *, sentences: int | None = None
) -> str:
    """The whole document as HTML; with a span, that span highlighted (the viewer scrolls to it)."""
    if document.pages:
        body = paged_html(document, start, end)
    elif start is None or end is None:
        body = html_text(document.text)
    else:
        body = highlight_html(document.text, start, end, mark_id="rag-focus")
    return f'<div class="rag-card">{document_header_html(document, sentences)}<div class="rag-doc">{body}</div></div>'


_LINE_BREAK = re.compile(r"(?<!\n)\n(?!\n)")


def paged_html(document: Document, start: int | None = None, end: int | None = None) -> str:
    """A paged document (PDF) as HTML: a marker where each page starts, the span ``start:end`` highlighted,
    and a page's hard line breaks inside paragraphs shown as spaces (the text itself is unchanged)."""
    span = (start, end) if start is not None and end is not None else (0, 0)
    if not 0 <= span[0] <= span[1] <= len(document.text):
        raise ValueError(f"span {span[0]}:{span[1]} lies outside a text of {len(document.text)} characters")
    cuts = sorted({0, len(document.text), *document.pages, *span})
    parts, focused = [], False
    for a, b in itertools.pairwise(cuts):
        if a in document.pages:
            parts.append(f'<span class="rag-page" role="separator">Page {document.pages.index(a) + 1}</span>')
        piece = html_text(_LINE_BREAK.sub(" ", document.text[a:b]))
        if span[0] <= a and b <= span[1] and a < b:
            anchor = "" if focused else ' id="rag-focus"'
            focused = True
            piece = f'<mark class="rag-hl"{anchor}>{piece}</mark>'
        parts.append(piece)
    return "".join(parts)


def placeholder_html(message: str) -> str:
    return f'<div class="rag-empty">{html_text(message)}</div>'


def view_citation(index: Index, key: str | None) -> str:
    """The document viewer for the citation ``key`` (see ``citation_key``)."""
    if not key:
        return placeholder_html("Open a citation to read it in its document.")
    try:
        doc_id, start, end, content_hash = parse_citation_key(key)
    except ValueError:
        return placeholder_html("That is not a citation of this conversation.")
    try:
        document = index.document(doc_id)
    except RagError:
        return placeholder_html(f"{doc_id} is no longer in the index.")
    if document.content_hash != content_hash or not 0 <= start <= end <= len(document.text):
        return placeholder_html(f"{doc_id} has changed since this answer; ask the question again.")
    return BACK_TO_ANSWER + document_html(document, start, end)


# Shown on narrow screens only, where the viewer sits under the chat (see CSS).
BACK_TO_ANSWER = '<button type="button" class="rag-back">\u2191 Back to the answer</button>'


def document_rows(index: Index) -> tuple[list[list[Any]], list[str]]:
    """The documents table (title, source, sentences, date added) and the id of each row."""
    headers = index.documents()
    rows = [
        [d["title"], d["source"], d["sentences"], (d.get("added_at") or "").replace("T", " ").rstrip("Z")]
        for d in headers
    ]
    return rows, [d["doc_id"] for d in headers]


def index_summary(index: Index) -> str:
    documents = index.documents()
    sentences = sum(int(d["sentences"]) for d in documents)
    plural = "" if len(documents) == 1 else "s"
    return f"{len(documents)} document{plural} \u00b7 {sentences} sentences indexed"


# --- lookup ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LookupView:
    """Everything the Lookup tab shows for one text."""

    rows: list[list[Any]]
    details: list[str]
    markdown: str
    json: str
    matches: list[Match] = field(default_factory=list)


def kind_badge(kind: str) -> str:
    return f'<span class="rag-kind rag-kind-{html_text(kind)}">{html_text(KIND_BADGES.get(kind, kind))}</span>'


def lookup_rows(matches: Sequence[Match]) -> list[list[Any]]:
    """One table row per input sentence: #, input, matched source sentence, kind badge, score, document, source."""
    rows = []
    for number, match in enumerate(matches, start=1):
        cited = match.citation
        rows.append(
            [
                number,
                match.query,
                cited.text if cited else "",
                kind_badge(match.kind),
                f"{match.score:.2f}",
                cited.title if cited else "",
                cited.source if cited else "",
            ]
        )
    return rows


def passage_html(citation: Citation, label: str) -> str:
    """A citation's passage with its sentence highlighted, under a line saying where it is."""
    if citation.context:
        inner = citation.start - citation.context_start
        passage = highlight_html(citation.context, inner, inner + len(citation.text))
    else:
        passage = highlight_html(citation.text, 0, len(citation.text))
    meta = (
        f"{html_text(label)} \u00b7 <b>{html_text(citation.title)}</b>"
        + (f" \u00b7 {html_text(citation.source)}" if citation.source else "")
        + f" \u00b7 <code>{html_text(citation_place(citation))}</code> \u00b7 score {citation.score:.2f}"
    )
    return f'<div class="rag-card"><div class="rag-meta">{meta}</div><div class="rag-passage">{passage}</div></div>'


def marks_html(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """HTML of ``text`` with each span of ``spans`` in a <mark class="rag-diff">; every piece escaped.

    Empty spans mark nothing; overlapping spans are joined.
    """
    pieces, at = [], 0
    for start, end in sorted((max(0, a), min(len(text), b)) for a, b in spans if b > a):
        if end <= at:
            continue
        start = max(start, at)
        pieces.append(html_text(text[at:start]))
        pieces.append(f'<mark class="rag-diff">{html_text(text[start:end])}</mark>')
        at = end
    pieces.append(html_text(text[at:]))
    return "".join(pieces)


def altered_html(match: Match) -> str:
    """An altered claim beside its source sentence, the words where they differ marked on both sides."""
    cited = match.citation
    claim = marks_html(match.query, [(d.claim_start - match.query_start, d.claim_end - match.query_start)
                                     for d in match.differences])  # fmt: skip
    source = marks_html(
        cited.text, [(d.source_start - cited.start, d.source_end - cited.start) for d in match.differences]
    )
    rows = "".join(
        f"<li><b>{html_text(d.kind)}</b>: the claim says "
        f"{'&ldquo;' + html_text(d.claim_text) + '&rdquo;' if d.claim_text else 'nothing'}, the source says "
        f"{'&ldquo;' + html_text(d.source_text) + '&rdquo;' if d.source_text else 'nothing'}</li>"
        for d in match.differences
    )
    meta = (
        f"<b>{html_text(cited.title)}</b>" + (f" \u00b7 {html_text(cited.source)}" if cited.source else "")
        + f" \u00b7 <code>{html_text(citation_place(cited))}</code> \u00b7 score {match.score:.2f}"
    )  # fmt: skip
    return (
        f'<div class="rag-card rag-reason"><b>Why:</b> {html_text(match.reason)}'
        f'<ul class="rag-summary">{rows}</ul></div>'
        f'<div class="rag-card"><div class="rag-meta">The claim</div><div class="rag-passage">{claim}</div></div>'
        f'<div class="rag-card"><div class="rag-meta">The source \u00b7 {meta}</div>'
        f'<div class="rag-passage">{source}</div></div>'
    )


def match_detail_html(match: Match) -> str:
    """What a selected lookup row shows: the source sentence highlighted in its passage; for an
    altered claim, the claim and the source side by side with their differing words marked."""
    heading = f'<div class="rag-query">{kind_badge(match.kind)} \u201c{html_text(match.query)}\u201d</div>'
    if match.kind == "altered" and match.citation is not None:
        return heading + altered_html(match) + passage_html(match.citation, "The source in its passage")
    if match.citation is not None:
        return heading + passage_html(match.citation, match.kind)  # the score is on the passage's line
    if match.nearest is not None:
        return heading + passage_html(match.nearest, "Nearest sentence \u2014 NOT a match")
    return heading + placeholder_html("No source sentence comes close.")


def matches_markdown(text: str, matches: Sequence[Match]) -> str:
    """The looked-up text with a Markdown footnote after each sentence saying where it comes from."""
    body, notes, position = [], [], 0
    for number, match in enumerate(matches, start=1):
        body.append(text[position : match.query_end])
        body.append(f"[^{number}]")
        position = match.query_end
        cited = match.citation
        if cited is None and match.nearest is not None:
            near = match.nearest
            notes.append(
                f"[^{number}]: Unsupported (score {match.score:.2f}): the nearest source sentence, "
                f"\u201c{markdown_export_text(near.text)}\u201d \u2014 *{markdown_export_text(near.title)}*, "
                f"{markdown_export_text(citation_place(near))}, does not support it."
            )
            continue
        if cited is None:
            notes.append(f"[^{number}]: Unsupported: no source sentence comes close (best score {match.score:.2f}).")
            continue
        source = f", {markdown_export_text(cited.source)}" if cited.source else ""
        said = (
            f"Altered: {_differences_markdown(match)}; source" if match.kind == "altered" else match.kind.capitalize()
        )
        notes.append(
            f"[^{number}]: {said} (score {match.score:.2f}): "
            f"\u201c{markdown_export_text(cited.text)}\u201d \u2014 *{markdown_export_text(cited.title)}*{source}, "
            f"{markdown_export_text(citation_place(cited))}."
        )
    body.append(text[position:])
    return "".join(body).strip() + "\n\n" + "\n".join(notes) + "\n"


def _differences_markdown(match: Match) -> str:
    """The differences of an altered match in words: "the source says $40 billion, not $90 billion"."""
    parts = []
    for d in match.differences:
        if d.kind == "context":
            parts.append(f"quoted out of context, the source says *{markdown_export_text(d.source_text)}* \u2026")
        elif d.claim_text and d.source_text:
            parts.append(
                f"the source says {markdown_export_text(d.source_text)}, not {markdown_export_text(d.claim_text)}"
            )
        elif d.claim_text:
            parts.append(f"the source does not say \u201c{markdown_export_text(d.claim_text)}\u201d ({d.kind})")
        else:
            parts.append(f"the source says \u201c{markdown_export_text(d.source_text)}\u201d ({d.kind})")
    return "; ".join(parts)


def matches_json(matches: Sequence[Match]) -> str:
    return json.dumps([asdict(m) for m in matches], indent=2, ensure_ascii=False)


def lookup_view(index: Index, text: str, where: dict[str, Any] | None = None) -> LookupView:
    """Look ``text`` up (in the documents ``where`` chooses) and build the table, the row details and both exports."""
    matches = index.lookup(text, where=where)
    return LookupView(
        rows=lookup_rows(matches),
        details=[match_detail_html(m) for m in matches],
        markdown=matches_markdown(text, matches),
        json=matches_json(matches),
        matches=list(matches),
    )


# --- uploads ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Staged:
    """An uploaded file accepted for indexing: its staged copy and the name it gets in the corpus."""

    original: str
    path: Path
    name: str


_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_BINARY_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"PK\x03\x04", b"%PDF-", b"\x7fELF", b"\x1f\x8b", b"MZ")


def safe_file_name(original: str, digest: str) -> str:
    """A plain, visible file name made from an uploaded file's name (any path and odd characters dropped)."""
    base = re.split(r"[\\/]", original)[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = _UNSAFE_NAME.sub("-", stem).strip(" .-_")[:80] or f"upload-{digest[:12]}"
    suffix = _UNSAFE_NAME.sub("", suffix).lower()
    return f"{stem}.{suffix}" if suffix else stem


def check_upload(name: str, data: bytes) -> str:
    """Why an upload is refused ("" when it is acceptable): its size, type and content are checked."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        allowed = " ".join(SUPPORTED_SUFFIXES)
        return f"unsupported file type {suffix or '(no extension)'}; accepted: {allowed}"
    if len(data) > MAX_UPLOAD_BYTES:
        return f"too large ({len(data) / 2**20:.1f} MB; the limit is {MAX_UPLOAD_LABEL})"
    if not data.strip():
        return "empty file"
    if suffix == ".pdf":
        return "" if data.startswith(b"%PDF-") else "not a PDF (it does not start with %PDF-)"
    if suffix == ".docx":  # a DOCX is a ZIP archive: binary by nature, checked when it is read
        return "" if data.startswith(b"PK\x03\x04") else "not a DOCX (it is not a ZIP archive)"
    if any(data.startswith(magic) for magic in _BINARY_MAGIC):
        return f"binary content in a {suffix} file"
    if b"\x00" in data[:65536] and not data.startswith(_BOMS):
        return f"binary content (NUL bytes) in a {suffix} file"
    return ""


def stage_uploads(files: Sequence[str | Path], staging: Path) -> tuple[list[Staged], list[tuple[str, str]]]:
    """Check uploaded files and copy the acceptable ones to ``staging`` under content-hash names.

    Returns:
        The staged files, and (original name, reason) for every file refused.
    """
    staged: list[Staged] = []
    refused: list[tuple[str, str]] = []
    staging.mkdir(parents=True, exist_ok=True, mode=0o700)
    names: set[str] = set()
    for file in files:
        path = Path(file)
        original = path.name
        try:
            if path.stat().st_size > MAX_UPLOAD_BYTES:  # refuse before reading a huge file into memory
                refused.append((original, f"too large (the limit is {MAX_UPLOAD_LABEL})"))
                continue
            data = path.read_bytes()
        except OSError as error:
            refused.append((original, f"cannot be read ({error.strerror})"))
            continue
        reason = check_upload(original, data)
        if reason:
            refused.append((original, reason))
            continue
        digest = hashlib.sha256(data).hexdigest()
        name = safe_file_name(original, digest)
        if name.lower() in names:
            refused.append((original, f"another file in this upload is also named {name}"))
            continue
        names.add(name.lower())
        target = staging / f"{digest}{Path(name).suffix}"
        target.write_bytes(data)
        staged.append(Staged(original, target, name))
    return staged, refused


def upload_summary(
    staged: Sequence[Staged], refused: Sequence[tuple[str, str]], index: Index | None, existed: set[str]
) -> str:
    """HTML saying what was added (with sentence counts), replaced or skipped, and why."""
    items = [f"<li>\u2717 <b>{html_text(name)}</b> skipped: {html_text(reason)}</li>" for name, reason in refused]
    if index is not None:
        skipped = {s.path: s.reason for s in (index.build_report.skipped if index.build_report else ())}
        counts = {d["doc_id"]: d["sentences"] for d in index.documents()}
        for item in staged:
            doc_id = f"{UPLOAD_FOLDER}/{item.name}"
            label = html_text(item.original) + (f" (as {html_text(item.name)})" if item.name != item.original else "")
            if doc_id in counts:
                verb = "replaced" if doc_id in existed else "added"
                items.append(f"<li>\u2714 <b>{label}</b> {verb}: {counts[doc_id]} sentences</li>")
            else:
                reason = skipped.get(doc_id, "no text could be read from it")
                items.append(f"<li>\u2717 <b>{label}</b> skipped: {html_text(reason)}</li>")
    if not items:
        return placeholder_html("No files were chosen.")
    return f'<ul class="rag-summary">{"".join(items)}</ul>'


def add_uploads(holder: IndexHolder, files: Sequence[str | Path], staging: Path, progress: Any = None) -> str:
    """Check, stage and index uploaded files; the holder's index is replaced by the updated one."""
    report = progress or (lambda *args, **kwargs: None)
    files, beyond = list(files)[:MAX_UPLOAD_FILES], list(files)[MAX_UPLOAD_FILES:]
    report(0.1, desc=f"Checking {len(files)} file(s)")
    staged, refused = stage_uploads(files, staging)
    # Every file chosen is accounted for: those past the limit are listed, not silently dropped.
    limit = f"not added: {MAX_UPLOAD_FILES} files are indexed per upload; add it again in another upload"
    refused += [(Path(file).name, limit) for file in beyond]
    if not staged:
        return upload_summary(staged, refused, None, set())
    existed = {d["doc_id"] for d in holder.index.documents()}
    report(0.4, desc=f"Indexing {len(staged)} new file(s) with the corpus")
    try:
        index = holder.change(
            lambda current: current.add_files(
                [s.path for s in staged], folder=UPLOAD_FOLDER, names=[s.name for s in staged]
            )
        )
    finally:
        for item in staged:
            item.path.unlink(missing_ok=True)
    report(1.0, desc="Done")
    return upload_summary(staged, refused, index, existed)


def remove_document(holder: IndexHolder, doc_id: str) -> str:
    """Take one document out of the corpus and the index; returns a one-line message."""
    index = holder.index
    document = index.document(doc_id)
    if len(index.documents()) <= 1:
        raise RagError("this is the last document; the index needs at least one")
    holder.change(lambda current: current.remove([doc_id]))
    return f"Deleted {document.title} ({doc_id}); its file was moved to the corpus's .rag-removed folder."


# --- event handlers: Gradio in, the functions above, Gradio out --------------------------


def _user_error(error: RagError) -> gr.Error:
    return gr.Error(str(error))


def on_ask(
    question: str,
    history: list[dict[str, Any]],
    answers: list[dict[str, Any]],
    documents: list[str] | None = None,
    sources: list[str] | None = None,
) -> tuple[Any, ...]:
    question = (question or "").strip()
    if not question:
        return gr.update(), history, answers, gr.update(), gr.update(), gr.update(), gr.update()
    index = STATE.index
    try:
        answer = index.ask(question, history=answers[-MAX_CHAT_TURNS:], where=search_filter(documents, sources))
    except RagError as error:
        raise _user_error(error) from None
    number = len(answers) + 1
    history = [*history, {"role": "user", "content": markdown_text(question)}, *answer_messages(answer, number)]
    answers = [*answers, asdict(answer)]
    viewer = (
        view_citation(index, citation_key(answer.citations[0]))
        if answer.citations
        else placeholder_html("No citation to open: the documents do not answer this question.")
    )
    markdown_file, json_file = write_conversation(answers)
    return (
        "",
        history,
        answers,
        gr.update(value=viewer, visible=True),
        gr.update(visible=True),
        markdown_file,
        json_file,
    )


def search_filter(documents: Sequence[str] | None, sources: Sequence[str] | None) -> dict[str, list[str]] | None:
    """The ``where`` of a search from the Ask tab's choices (None: every document)."""
    where = {name: list(values) for name, values in (("doc", documents), ("source", sources)) if values}
    return where or None


def _turns(answers: Sequence[dict[str, Any]]) -> list[Answer]:
    return [answer_from_dict(a) for a in answers]


def write_conversation(answers: Sequence[dict[str, Any]]) -> tuple[Any, Any]:
    """The conversation as Markdown and JSON files to download (one folder per content, never overwritten)."""
    turns = _turns(answers)
    as_json = conversation_json(turns)
    folder = STATE.folder("exports") / hashlib.sha256(as_json.encode()).hexdigest()[:24]
    folder.mkdir(exist_ok=True)
    markdown_file, json_file = folder / "rag-conversation.md", folder / "rag-conversation.json"
    markdown_file.write_text(conversation_markdown(turns), encoding="utf-8")
    json_file.write_text(as_json, encoding="utf-8")
    return gr.update(value=str(markdown_file), interactive=True), gr.update(value=str(json_file), interactive=True)


_REQUEST = re.compile(r"^(open|quote|note) (\d+) (\d+)\b")


def parse_request(request: str, answers: Sequence[dict[str, Any]]) -> tuple[str, Answer, int] | None:
    """(action, answer, citation number) of a request from the page ("open 2 1 <nonce>"); None if not one."""
    found = _REQUEST.match(request or "")
    if not found:
        return None
    action, answer_number, number = found.group(1), int(found.group(2)), int(found.group(3))
    if not 1 <= answer_number <= len(answers):
        return None
    answer = answer_from_dict(answers[answer_number - 1])
    if not 0 <= number <= len(answer.citations) or (number == 0 and action == "open"):
        return None
    return action, answer, number


def copy_text(action: str, answer: Answer, number: int) -> str:
    """What a copy button puts on the clipboard: a quote with its citation, or a Markdown footnote."""
    if number == 0:
        return answer_quotes(answer) if action == "quote" else answer_footnotes(answer)
    citation = answer.citations[number - 1]
    return quote_with_citation(citation) if action == "quote" else citation_footnote(citation, number)


def on_open_request(request: str, answers: list[dict[str, Any]]) -> Any:
    parsed = parse_request(request, answers)
    if parsed is None or parsed[0] != "open":
        return gr.update()
    _, answer, number = parsed
    return gr.update(value=view_citation(STATE.index, citation_key(answer.citations[number - 1])), visible=True)


def opened_key(request: str, answers: list[dict[str, Any]]) -> str | None:
    """The citation key an "open" request shows ("open 0 n": citation n of the newest answer)."""
    found = _REQUEST.match(request or "")
    if found and found.group(2) == "0" and answers:  # the newest answer's
        request = f"open {len(answers)} {found.group(3)}"
    parsed = parse_request(request, answers)
    if parsed is None or parsed[0] != "open":
        return None
    _, answer, number = parsed
    return citation_key(answer.citations[number - 1])


def on_reopen(key: str | None) -> Any:
    """The viewer again after the documents changed: a deleted or changed document now says so."""
    return gr.update() if key is None else view_citation(STATE.index, key)


def on_copy_request(request: str, answers: list[dict[str, Any]]) -> str:
    parsed = parse_request(request, answers)
    if parsed is None or parsed[0] == "open":
        return ""
    return copy_text(*parsed)


def on_feedback(history: list[dict[str, Any]], answers: list[dict[str, Any]], event: gr.LikeData) -> None:
    """Save a thumbs up or down on an answer to the feedback file beside the index."""
    position = event.index[0] if isinstance(event.index, list | tuple) else event.index
    if not isinstance(position, int):
        return
    number = sum(1 for message in history[: position + 1] if message.get("role") == "user")
    if not 1 <= number <= len(answers):
        return
    index = STATE.index
    rating = "up" if event.liked is True or event.liked == "Like" else "down"
    record_feedback(feedback_path(index.path), answer_from_dict(answers[number - 1]), rating)
    gr.Info(f"Thanks: your {THUMBS[rating]} on answer {number} was saved to {feedback_path(index.path).name}.")


def mark_stale(index: Index, history: list[dict[str, Any]], answers: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The history with a warning under each answer whose citations are no longer in the index (or changed)."""
    replies: dict[int, int] = {}
    number = 0
    for position, message in enumerate(history):
        if message.get("role") == "user":
            number += 1
        elif number and number not in replies and not (message.get("metadata") or {}).get("title"):
            replies[number] = position
    marked = list(history)
    for number, position in replies.items():
        if number > len(answers) or "rag-stale" in str(marked[position].get("content", "")):
            continue
        answer = answer_from_dict(answers[number - 1])
        reasons = [(n, index.stale_reason(c)) for n, c in enumerate(answer.citations, start=1)]
        notes = [f"[{n}] {markdown_text(reason)}" for n, reason in reasons if reason]
        if notes:
            warning = f'\n\n<span class="rag-stale">\u26a0 {"; ".join(notes)}.</span>'
            marked[position] = {**marked[position], "content": f"{marked[position]['content']}{warning}"}
    return marked


def on_mark_stale(history: list[dict[str, Any]], answers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return mark_stale(STATE.index, history or [], answers or [])


def filter_label(documents: Sequence[str] | None, sources: Sequence[str] | None) -> str:
    """The filter's heading: what the next question searches."""
    if not documents and not sources:
        return "Search in: all documents (choose some)"
    parts = [f"{len(documents)} document{'s' if len(documents) != 1 else ''}"] if documents else []
    parts += [f"source {', '.join(sources)}"] if sources else []
    return f"Search in: {' and '.join(parts)} only"


def on_filter_label(documents: list[str] | None, sources: list[str] | None) -> Any:
    return gr.update(label=filter_label(documents, sources))


def filter_choices(index: Index) -> tuple[list[tuple[str, str]], list[str]]:
    """The documents (title and id, by id) and the distinct sources one can restrict a search to."""
    headers = index.documents()
    documents = [(f"{_clip(d['title'], 60)} \u2014 {d['doc_id']}", d["doc_id"]) for d in headers]
    return documents, sorted({d["source"] for d in headers if d["source"]}, key=str.casefold)


def on_filter_choices(documents: list[str] | None, sources: list[str] | None) -> tuple[Any, Any]:
    """Refresh the filter's choices; choices that went away are dropped from the selection."""
    document_choices, source_choices = filter_choices(STATE.index)
    ids = {value for _, value in document_choices}
    return (
        gr.update(choices=document_choices, value=[d for d in documents or [] if d in ids]),
        gr.update(choices=source_choices, value=[s for s in sources or [] if s in source_choices]),
    )


def on_clear() -> tuple[Any, ...]:
    return [], [], gr.update(value=view_citation(STATE.index, None), visible=False), gr.update(visible=False)


def on_lookup(text: str, documents: list[str] | None = None, sources: list[str] | None = None) -> tuple[Any, ...]:
    if not (text or "").strip():  # a user's slip, not an error: a hint where the results go
        hint = placeholder_html("Paste or type some text to look up first (a quote, a claim or a paragraph).")
        return gr.update(), gr.update(), hint, gr.update(), gr.update(), gr.update(), gr.update()
    try:
        view = lookup_view(STATE.index, text or "", search_filter(documents, sources))
    except RagError as error:
        raise _user_error(error) from None
    # One folder per result (by its hash), so the same lookup twice writes nothing new.
    export_dir = STATE.folder("exports") / hashlib.sha256(view.json.encode()).hexdigest()[:24]
    export_dir.mkdir(exist_ok=True)
    markdown_file = export_dir / "rag-lookup.md"
    json_file = export_dir / "rag-lookup.json"
    markdown_file.write_text(view.markdown, encoding="utf-8")
    json_file.write_text(view.json, encoding="utf-8")
    first = view.details[0] if view.details else placeholder_html("No sentences found in the text.")
    return (
        view.rows,
        view.details,
        first,
        view.markdown,
        view.json,
        gr.update(value=str(markdown_file), interactive=True),
        gr.update(value=str(json_file), interactive=True),
    )


def lookup_cards_html(details: Sequence[str]) -> str:
    """Every looked-up sentence as a numbered card (its kind, source sentence and passage), stacked:
    what a phone shows instead of the table, whose columns a narrow screen cannot hold."""
    return "".join(
        f'<div class="rag-lookup-card"><div class="rag-meta">Sentence {n}</div>{detail}</div>'
        for n, detail in enumerate(details, start=1)
    )


def on_select_row(details: list[str], event: gr.SelectData) -> str:
    row = event.index[0] if isinstance(event.index, list | tuple) else event.index
    if not isinstance(row, int) or not 0 <= row < len(details):
        return gr.update()
    return details[row]


def on_refresh_documents() -> tuple[Any, ...]:
    index = STATE.index
    rows, doc_ids = document_rows(index)
    return rows, doc_ids, index_summary(index)


def on_select_document(doc_ids: list[str], event: gr.SelectData) -> tuple[Any, ...]:
    row = event.index[0] if isinstance(event.index, list | tuple) else event.index
    if not isinstance(row, int) or not 0 <= row < len(doc_ids):
        return gr.update(), None, gr.update(interactive=False)
    index = STATE.index
    doc_id = doc_ids[row]
    try:
        document = index.document(doc_id)
    except RagError as error:
        return placeholder_html(str(error)), None, gr.update(interactive=False)
    sentences = len(index.sentences(doc_id))
    return document_html(document, sentences=sentences), doc_id, gr.update(interactive=True)


def on_upload(files: list[str] | None, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
    try:
        summary = add_uploads(STATE, files or [], STATE.folder("staging"), progress)
    except RagError as error:
        summary = placeholder_html(f"Nothing was added: {error}")
    finally:
        cache = Path(gr.utils.get_upload_folder()).resolve()
        for file in files or []:  # Gradio's own copy of the upload: not kept, so never served back
            if Path(file).resolve().is_relative_to(cache):
                Path(file).unlink(missing_ok=True)
    return (None, summary, *on_refresh_documents())


def on_ask_delete(doc_id: str | None) -> tuple[Any, ...]:
    if not doc_id:
        return placeholder_html("Select a document in the table first."), gr.update(visible=False)
    try:
        title = STATE.index.document(doc_id).title
    except RagError as error:
        return placeholder_html(str(error)), gr.update(visible=False)
    question = (
        f"Delete \u201c{html_text(title)}\u201d (<code>{html_text(doc_id)}</code>) from the index? "
        "Its file moves to the corpus's .rag-removed folder; answers that quote it will be marked."
    )
    return f'<div class="rag-warning">{question}</div>', gr.update(visible=True)


def on_delete(doc_id: str | None) -> tuple[Any, ...]:
    if not doc_id:
        message = placeholder_html("Select a document in the table first.")
    else:
        try:
            message = placeholder_html(remove_document(STATE, doc_id))
        except RagError as error:
            message = placeholder_html(f"Not deleted: {error}")
    rows, doc_ids, summary = on_refresh_documents()
    hidden = gr.update(visible=False)
    return message, rows, doc_ids, summary, None, placeholder_html("Select a document to read it."), hidden


# --- layout ----------------------------------------------------------------------------

CSS = """
.rag-card { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 12px 14px; margin: 0 0 10px; }
.rag-doc-title { font-size: 1.15em; font-weight: 650; margin-bottom: 2px; overflow-wrap: anywhere; }
.rag-meta { color: var(--body-text-color-subdued); font-size: 0.88em; margin-bottom: 8px; overflow-wrap: anywhere; }
.rag-doc { white-space: pre-wrap; overflow-wrap: anywhere; max-height: 480px; overflow-y: auto; position: relative;
  line-height: 1.6; padding-right: 6px; }
.rag-passage { line-height: 1.6; overflow-wrap: anywhere; }
.rag-query { margin: 4px 0 10px; font-weight: 550; overflow-wrap: anywhere; }
mark, mark.rag-hl { background: #fde68a; color: #1f2937; padding: 1px 2px; border-radius: 3px; }
.rag-empty { color: var(--body-text-color-subdued); padding: 18px 6px; }
.rag-kind { display: inline-block; padding: 1px 9px; border-radius: 999px; font-size: 0.85em; font-weight: 650;
  white-space: nowrap; }
.rag-kind-exact { background: #dcfce7; color: #166534; }
.rag-kind-near-exact { background: #dbeafe; color: #1e40af; }
.rag-kind-paraphrase { background: #fef3c7; color: #92400e; }
.rag-kind-unsupported { background: #fee2e2; color: #991b1b; }
.rag-kind-altered { background: #ffedd5; color: #9a3412; }
mark.rag-diff { background: #fecaca; color: #7f1d1d; padding: 1px 2px; border-radius: 3px; font-weight: 600; }
.rag-reason { margin: 6px 0; }
.rag-summary { margin: 4px 0; padding-left: 18px; overflow-wrap: anywhere; }
#rag-examples button { font-weight: 450; }
#rag-documents .cell-wrap, #rag-documents .cell-wrap *, #rag-lookup-table .cell-wrap, #rag-lookup-table .cell-wrap * {
  font-family: var(--font) !important; }
.rag-small p { font-size: 0.9em; margin: 0; color: var(--body-text-color-subdued); }
/* [n] markers and copy buttons inside chat messages */
#rag-chat button.rag-cite { font-weight: 700; color: var(--link-text-color, #1d4ed8); background: none; border: 0;
  padding: 0 2px; cursor: pointer; text-decoration: underline; text-underline-offset: 2px; font-size: inherit; }
#rag-chat button.rag-cite:hover, #rag-chat button.rag-cite:focus-visible { background: #dbeafe; border-radius: 4px;
  outline: 2px solid #2563eb; }
.rag-actions { display: inline-flex; flex-wrap: wrap; gap: 6px; }
#rag-chat button.rag-copy { font-size: 0.8em; padding: 1px 8px; border-radius: 6px; cursor: pointer;
  border: 1px solid var(--border-color-primary); background: var(--background-fill-secondary);
  color: var(--body-text-color); }
#rag-chat button.rag-copy:focus-visible { outline: 2px solid #2563eb; }
.rag-stale { color: #991b1b; font-weight: 600; }
.dark .rag-stale { color: #fca5a5; }
.rag-page { display: block; margin: 10px 0 6px; padding: 2px 0; border-top: 1px dashed var(--border-color-primary);
  color: var(--body-text-color-subdued); font-size: 0.8em; letter-spacing: 0.04em; }
/* highlight readable in both themes (contrast above 4.5:1), also inside the chat's own prose styles */
#rag-chat mark, .dark mark, .dark mark.rag-hl, .dark #rag-chat mark { background: #fde047 !important;
  color: #111827 !important; }
/* Sources are shown at full strength: Gradio dims a collapsible message to 0.8, which halves the contrast */
#rag-chat .message-content, #rag-chat span.md { opacity: 1 !important; }
/* the question box: a visible focus ring */
#rag-question textarea:focus, #rag-question textarea:focus-visible { outline: 3px solid #2563eb !important;
  outline-offset: 1px; box-shadow: none; }
#rag-header { align-items: flex-start; }
#rag-intro h1 { margin-bottom: 2px; }
.rag-warning { padding: 10px 12px; border-radius: 8px; background: #fef2f2; color: #7f1d1d; border: 1px solid #fca5a5; }
.dark .rag-warning { background: #450a0a; color: #fecaca; border-color: #b91c1c; }
#rag-confirm { background: #b91c1c !important; color: #fff !important; border-color: #991b1b !important; }
#rag-delete { border-color: #fca5a5; color: #b91c1c; }
.dark #rag-delete { color: #fca5a5; }
/* no stray separator after the last footer link */
footer .divider, footer .divider + * ~ .divider { display: none; }
/* lookup table: sideways scrolling instead of squeezed columns on narrow screens */
#rag-lookup-cards { display: none; }
.rag-back { display: none; }
.rag-lookup-card { border-top: 1px solid var(--border-color-primary); padding-top: 8px; margin-top: 8px; }
@media (max-width: 700px) {
  #rag-lookup-table, #rag-lookup-detail:has(.rag-query) { display: none !important; }
  #rag-lookup-cards { display: block; }
  .rag-back { display: inline-block; margin: 0 0 8px; padding: 4px 10px; border-radius: 6px; cursor: pointer;
    border: 1px solid var(--border-color-primary); background: var(--background-fill-secondary);
    color: var(--body-text-color); }
  /* the documents table: title, source and sentences only, in widths that hold their words */
  #rag-documents th:nth-child(4), #rag-documents td:nth-child(4), #rag-documents .body-cell:nth-child(4) {
    display: none !important; }
  #rag-documents th:nth-child(1), #rag-documents td:nth-child(1), #rag-documents .body-cell:nth-child(1) {
    width: 138px !important; min-width: 138px !important; max-width: 138px !important; flex: 0 0 138px !important; }
  #rag-documents th:nth-child(2), #rag-documents td:nth-child(2), #rag-documents .body-cell:nth-child(2) {
    width: 86px !important; min-width: 86px !important; max-width: 86px !important; flex: 0 0 86px !important; }
  #rag-documents th:nth-child(3), #rag-documents td:nth-child(3), #rag-documents .body-cell:nth-child(3) {
    width: 100px !important; min-width: 100px !important; max-width: 100px !important; flex: 0 0 100px !important; }
  #rag-intro p { display: none; }
  #rag-intro h1 { font-size: 1.25em; }
  #rag-summary { display: none; }
  #rag-chat { height: min(44vh, 400px) !important; }
  #rag-examples button { font-size: 0.8em; }
}
"""

# System fonts only: the default themes fetch Google Fonts, a request to a third party on every page view.
THEME = gr.themes.Soft(font=("ui-sans-serif", "system-ui", "sans-serif"), font_mono=("ui-monospace", "monospace"))

# Scroll the document viewer (not the page) so the highlighted sentence sits in view; when the
# viewer itself is off screen (a phone, where it sits under the chat), bring it into view.
SCROLL_TO_MARK = """() => { setTimeout(() => {
  for (const mark of document.querySelectorAll('#rag-focus')) {
    const box = mark.closest('.rag-doc');
    if (box) box.scrollTop = Math.max(0, mark.offsetTop - box.clientHeight / 3);
  }
  const viewer = document.querySelector('#rag-viewer');
  if (viewer && viewer.offsetParent !== null) {
    const place = viewer.getBoundingClientRect();
    if (place.top > window.innerHeight * 0.75 || place.bottom < 60) viewer.scrollIntoView({block: 'start'});
  }
}, 80); }"""

# After an answer: the start of the newest question and its answer at the top of the chat.
SCROLL_TO_ANSWER = """() => { setTimeout(() => {
  const asked = document.querySelectorAll('#rag-chat [data-testid="user"]');
  const last = asked[asked.length - 1];
  if (!last) return;
  let box = last.parentElement;
  while (box && box !== document.body && !(box.scrollHeight > box.clientHeight + 2
         && /(auto|scroll)/.test(getComputedStyle(box).overflowY))) box = box.parentElement;
  if (box && box !== document.body) {
    box.scrollTop += last.getBoundingClientRect().top - box.getBoundingClientRect().top - 6;
  }
  const top = last.getBoundingClientRect().top;
  if (top < 0 || top > window.innerHeight * 0.6) last.scrollIntoView({block: 'start'});
}, 120); }"""

# Copy what the server put in the hidden #rag-clip box; say so on the button that asked.
COPY_TO_CLIPBOARD = """(text) => {
  const button = window.ragCopyButton;
  if (!text) return;
  const done = (ok) => { if (!button) return; const label = button.textContent;
    button.textContent = ok ? 'Copied \u2713' : 'Copy failed: select the text in Export';
    setTimeout(() => { button.textContent = label; }, 1500); };
  if (!navigator.clipboard || !window.isSecureContext) { done(false); return; }
  navigator.clipboard.writeText(text).then(() => done(true), () => done(false));
}"""

# Installed once per page: clicks on [n] markers and copy buttons become requests to the server
# (through hidden text boxes), chat messages get plain-text accessible names, the question box
# takes the focus, and the theme toggle remembers its choice.
PAGE_JS = """() => {
  if (window.ragInstalled) return; window.ragInstalled = true;
  const send = (id, value) => {
    const box = document.querySelector('#' + id + ' textarea, #' + id + ' input');
    if (!box) return;
    box.value = value + ' ' + Date.now();
    box.dispatchEvent(new Event('input', {bubbles: true}));
  };
  document.addEventListener('click', (event) => {
    const cite = event.target.closest('.rag-cite');
    if (cite) {
      const found = cite.className.match(/rag-q(\\d+)-c(\\d+)/);
      if (found) { event.preventDefault(); send('rag-open-request', 'open ' + found[1] + ' ' + found[2]); }
      return;
    }
    if (event.target.closest('.rag-back')) {
      const asked = [...document.querySelectorAll('#rag-chat [data-testid="user"]')].pop();
      (asked || document.querySelector('#rag-chat'))?.scrollIntoView({block: 'start'});
      return;
    }
    const copy = event.target.closest('.rag-copy');
    if (copy) {
      const found = copy.className.match(/rag-q(\\d+)-c(\\d+)-(quote|note)/);
      if (found) { event.preventDefault(); window.ragCopyButton = copy;
        send('rag-copy-request', found[3] + ' ' + found[1] + ' ' + found[2]); }
    }
  });
  const plain = (element) => {
    const copy = element.cloneNode(true);
    copy.querySelectorAll('.rag-actions').forEach((e) => e.remove());
    return copy.textContent.replace(/\\s+/g, ' ').trim();
  };
  let pending = false;
  const name = () => {
    pending = false;
    for (const message of document.querySelectorAll('#rag-chat [data-testid="user"], #rag-chat [data-testid="bot"]')) {
      const who = message.getAttribute('data-testid') === 'user' ? 'Question: ' : 'Answer: ';
      const label = who + plain(message);
      if (message.getAttribute('aria-label') !== label) message.setAttribute('aria-label', label);
    }
  };
  new MutationObserver(() => { if (!pending) { pending = true; requestAnimationFrame(name); } })
    .observe(document.body, {subtree: true, childList: true, characterData: true,
                             attributes: true, attributeFilter: ['aria-label']});
  document.addEventListener('keydown', (event) => {  // Ctrl+Enter (Cmd+Enter) runs a lookup
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey) && event.target.closest('#rag-lookup-text')) {
      event.preventDefault(); document.querySelector('#rag-lookup-run')?.click();
    }
    const tab = event.target.closest('[role="tab"]');  // arrow keys move between tabs
    if (tab && (event.key === 'ArrowRight' || event.key === 'ArrowLeft')) {
      const tabs = [...tab.closest('[role="tablist"]').querySelectorAll('[role="tab"]')].filter(t => t.offsetParent);
      const next = tabs[(tabs.indexOf(tab) + (event.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length];
      if (next) { event.preventDefault(); next.click(); next.focus(); }
    }
  });
  const saved = localStorage.getItem('rag-theme');
  if (saved) document.body.classList.toggle('dark', saved === 'dark');
  setTimeout(() => document.querySelector('#rag-question textarea')?.focus(), 200);
}"""

# The upload's outcome where the user is looking: scrolled into view when it lies off screen.
SHOW_UPLOAD_SUMMARY = """() => { setTimeout(() => {
  const summary = document.querySelector('#rag-upload-summary');
  if (!summary) return;
  const place = summary.getBoundingClientRect();
  if (place.bottom > window.innerHeight || place.top < 0) summary.scrollIntoView({block: 'center'});
}, 150); }"""

TOGGLE_THEME = """() => { const dark = !document.body.classList.contains('dark');
  document.body.classList.toggle('dark', dark); localStorage.setItem('rag-theme', dark ? 'dark' : 'light'); }"""

INTRO = (
    "# rag \u2014 answers quoted from your documents\n"
    "Every answer is made only of sentences copied verbatim from the documents, each with its source. "
    "When the documents do not answer, it says so."
)


@dataclass
class AskTab:
    """The Ask tab's components that other tabs' events update."""

    chatbot: gr.Chatbot
    answers: gr.State
    documents: gr.Dropdown
    sources: gr.Dropdown
    viewer: gr.HTML
    opened: gr.State  # the citation key shown in the viewer


def _ask_tab() -> AskTab:
    answers = gr.State([])
    opened = gr.State(None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=6, min_width=300):
            documents, sources = _filter_box("rag-filter")
            chatbot = gr.Chatbot(
                label="Questions and cited answers",
                show_label=False,
                height="min(52vh, 520px)",
                min_height=160,
                autoscroll=False,
                latex_delimiters=[],
                feedback_options=("Like", "Dislike"),
                buttons=[],
                group_consecutive_messages=True,
                placeholder="Ask a question about the documents. Every answer quotes them, with sources.",
                elem_id="rag-chat",
            )
            with gr.Row(equal_height=True, elem_id="rag-ask-row"):
                question = gr.Textbox(
                    placeholder="Ask a question about the documents",
                    show_label=False,
                    scale=8,
                    lines=1,
                    max_length=2000,
                    autofocus=True,
                    elem_id="rag-question",
                    submit_btn=False,
                )
                ask = gr.Button("Ask", variant="primary", scale=1, min_width=70, elem_id="rag-ask")
                clear = gr.Button("Clear", scale=1, min_width=70, elem_id="rag-clear")
            with gr.Row(elem_id="rag-examples"):
                example_buttons = [gr.Button(q, size="sm", variant="secondary") for q in EXAMPLE_QUESTIONS]
            with gr.Row(visible=False, elem_id="rag-export") as export_row:
                markdown_file = gr.DownloadButton(
                    "Export conversation (Markdown)", size="sm", interactive=False, elem_id="rag-export-md"
                )
                json_file = gr.DownloadButton(
                    "Export conversation (JSON)", size="sm", interactive=False, elem_id="rag-export-json"
                )
        with gr.Column(scale=5, min_width=300):
            viewer = gr.HTML(placeholder_html("Click a [n] in an answer to read it here."), visible=False,
                             elem_id="rag-viewer")  # fmt: skip
    open_request = gr.Textbox(visible="hidden", elem_id="rag-open-request")
    copy_request = gr.Textbox(visible="hidden", elem_id="rag-copy-request")
    clip = gr.Textbox(visible="hidden", elem_id="rag-clip")
    inputs = [question, chatbot, answers, documents, sources]
    outputs = [question, chatbot, answers, viewer, export_row, markdown_file, json_file]
    events = [
        ask.click(on_ask, inputs, outputs, api_visibility="private"),
        question.submit(on_ask, inputs, outputs, api_visibility="private"),
    ]
    for button, text in zip(example_buttons, EXAMPLE_QUESTIONS, strict=True):
        events.append(
            button.click(
                lambda h, a, d, s, t=text: on_ask(t, h, a, d, s),
                [chatbot, answers, documents, sources],
                outputs,
                api_visibility="private",
            )
        )
    for event in events:
        event.then(None, js=SCROLL_TO_ANSWER).then(None, js=SCROLL_TO_MARK)
        event.then(opened_key, [gr.State("open 0 1"), answers], opened, api_visibility="private")
    opening = open_request.change(on_open_request, [open_request, answers], viewer, api_visibility="private")
    opening.then(None, js=SCROLL_TO_MARK)
    opening.then(opened_key, [open_request, answers], opened, api_visibility="private")
    copy_request.change(on_copy_request, [copy_request, answers], clip, api_visibility="private").then(
        None, clip, js=COPY_TO_CLIPBOARD
    )
    chatbot.like(on_feedback, [chatbot, answers], None, api_visibility="private")
    clear_outputs = [chatbot, answers, viewer, export_row]
    clear.click(on_clear, None, clear_outputs, api_visibility="private")
    chatbot.clear(on_clear, None, clear_outputs, api_visibility="private")
    return AskTab(chatbot, answers, documents, sources, viewer, opened)


def _filter_box(elem_id: str) -> tuple[gr.Dropdown, gr.Dropdown]:
    """The "Search in" choice of documents and sources; its heading says what is chosen."""
    with gr.Accordion(filter_label(None, None), open=False, elem_id=elem_id) as box:
        with gr.Row():
            documents = gr.Dropdown(
                label="Documents",
                choices=[],
                multiselect=True,
                value=[],
                info="Empty: every document",
                elem_id=f"{elem_id}-documents",
                scale=3,
            )
            sources = gr.Dropdown(
                label="Sources", choices=[], multiselect=True, value=[], elem_id=f"{elem_id}-sources", scale=2
            )
    for choice in (documents, sources):
        choice.change(on_filter_label, [documents, sources], box, api_visibility="private")
    return documents, sources


def _lookup_tab() -> tuple[gr.Dropdown, gr.Dropdown]:
    details = gr.State([])
    gr.Markdown("Paste a quote, a claim or a whole draft paragraph: each sentence is traced to its source.")
    documents, sources = _filter_box("rag-lookup-filter")
    text = gr.Textbox(
        label="Text to look up", lines=5, max_lines=14, placeholder="Paste text here", elem_id="rag-lookup-text"
    )
    with gr.Row():
        run = gr.Button("Find sources", variant="primary", elem_id="rag-lookup-run", scale=0, min_width=160)
        gr.Examples([[e] for e in EXAMPLE_LOOKUPS], inputs=[text], label="Examples")
    table = gr.Dataframe(
        headers=["#", "Input sentence", "Source sentence", "Match", "Score", "Document", "Source"],
        datatype=["number", "str", "str", "html", "str", "str", "str"],
        column_widths=["4%", "27%", "31%", "12%", "7%", "12%", "7%"],
        interactive=False,
        wrap=True,
        label="Sentences and their sources (select a row to see the passage)",
        elem_id="rag-lookup-table",
    )
    detail = gr.HTML(
        placeholder_html("Select a row to see its source sentence in its passage."), elem_id="rag-lookup-detail"
    )
    cards = gr.HTML("", elem_id="rag-lookup-cards")  # on a phone, instead of the table: one card per sentence
    with gr.Accordion("Export: Markdown footnotes and JSON", open=False):
        with gr.Row():
            markdown_file = gr.DownloadButton("Download Markdown", interactive=False, size="sm")
            json_file = gr.DownloadButton("Download JSON", interactive=False, size="sm")
        with gr.Row():
            # A Textbox, not a Code view: CodeMirror measured inside the closed accordion drew only some lines.
            markdown = gr.Textbox(
                label="Markdown footnotes",
                interactive=False,
                buttons=["copy"],
                lines=8,
                max_lines=20,
                elem_id="rag-lookup-md",
            )
            as_json = gr.Code(label="JSON", language="json", interactive=False, buttons=["copy"], max_lines=20)
    outputs = [table, details, detail, markdown, as_json, markdown_file, json_file]
    run.click(on_lookup, [text, documents, sources], outputs, api_visibility="private").then(
        lookup_cards_html, details, cards, api_visibility="private"
    )
    table.select(on_select_row, details, detail, api_visibility="private")
    return documents, sources


def _documents_tab(summary: gr.Markdown) -> tuple[gr.Dataframe, gr.State, list[Any]]:
    """The Documents tab; returns its table, the row ids, and the events that change the corpus."""
    doc_ids = gr.State([])
    selected = gr.State(None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=6):
            table = gr.Dataframe(
                headers=["Title", "Source", "Sentences", "Added (UTC)"],
                datatype=["str", "str", "number", "str"],
                column_widths=["40%", "19%", "18%", "23%"],
                interactive=False,
                wrap=True,
                label="Documents (select one to read it)",
                elem_id="rag-documents",
            )
            delete = gr.Button(
                "Delete selected document\u2026",
                variant="secondary",
                interactive=False,
                size="sm",
                elem_id="rag-delete",
            )
            with gr.Group(visible=False, elem_id="rag-confirm-box") as confirm_box:
                question = gr.HTML("", elem_id="rag-confirm-question")
                with gr.Row():
                    confirm = gr.Button("Delete it", variant="stop", size="sm", elem_id="rag-confirm")
                    cancel = gr.Button("Cancel", variant="secondary", size="sm", elem_id="rag-cancel")
            deleted = gr.HTML("", elem_id="rag-delete-message")
            upload = gr.File(
                label=f"Add documents: drop files here to index them ({' '.join(SUPPORTED_SUFFIXES)}; "
                f"up to {MAX_UPLOAD_LABEL} each)",
                file_count="multiple",
                file_types=list(SUPPORTED_SUFFIXES),
                elem_id="rag-upload",
            )
            added = gr.HTML("", elem_id="rag-upload-summary")
        with gr.Column(scale=5):
            viewer = gr.HTML(placeholder_html("Select a document to read it."), elem_id="rag-document-view")
    refresh_outputs = [table, doc_ids, summary]
    hide_confirm = gr.update(visible=False)
    table.select(on_select_document, doc_ids, [viewer, selected, delete], api_visibility="private").then(
        lambda: ("", hide_confirm), None, [deleted, confirm_box], api_visibility="private"
    )
    uploading = upload.upload(on_upload, upload, [upload, added, *refresh_outputs], api_visibility="private")
    uploading.then(lambda: "", None, deleted, api_visibility="private")
    uploading.then(None, js=SHOW_UPLOAD_SUMMARY)
    delete.click(on_ask_delete, selected, [question, confirm_box], api_visibility="private")
    cancel.click(lambda: ("", hide_confirm), None, [question, confirm_box], api_visibility="private")
    deleting = confirm.click(
        on_delete, selected, [deleted, *refresh_outputs, selected, viewer, confirm_box], api_visibility="private"
    )
    deleting.then(lambda: (gr.update(interactive=False), ""), None, [delete, added], api_visibility="private")
    return table, doc_ids, [uploading, deleting]


def build_demo() -> gr.Blocks:
    """The app's layout and events; it reads the index from ``STATE`` at each request."""
    # delete_cache: Gradio's copies of downloads and uploads go after a day (checked hourly).
    with gr.Blocks(title="rag \u2014 cited answers", analytics_enabled=False, delete_cache=(3600, 86400)) as app:
        with gr.Row(elem_id="rag-header"):
            gr.Markdown(INTRO, elem_id="rag-intro")
            theme = gr.Button("\u25d0 Dark / light", size="sm", scale=0, min_width=120, elem_id="rag-theme")
        summary = gr.Markdown("", elem_id="rag-summary")
        with gr.Tabs():
            with gr.Tab("Ask", id="ask") as ask_tab:
                asking = _ask_tab()
            with gr.Tab("Lookup", id="lookup"):
                looking = _lookup_tab()
            with gr.Tab("Documents", id="documents") as documents_tab:
                table, doc_ids, changed = _documents_tab(summary)
        theme.click(None, js=TOGGLE_THEME)
        app.load(None, js=PAGE_JS)
        app.load(on_refresh_documents, None, [table, doc_ids, summary], api_visibility="private")
        choices = ([asking.documents, asking.sources], [asking.documents, asking.sources])
        app.load(on_filter_choices, *choices, api_visibility="private")
        app.load(on_filter_choices, list(looking), list(looking), api_visibility="private")
        documents_tab.select(on_refresh_documents, None, [table, doc_ids, summary], api_visibility="private")
        for event in changed:
            event.then(on_filter_choices, list(looking), list(looking), api_visibility="private")
            event.then(on_filter_choices, *choices, api_visibility="private").then(
                on_mark_stale, [asking.chatbot, asking.answers], asking.chatbot, api_visibility="private"
            ).then(on_reopen, asking.opened, asking.viewer, api_visibility="private")
        ask_tab.select(on_mark_stale, [asking.chatbot, asking.answers], asking.chatbot, api_visibility="private")
        gr.api(ask_api, api_name="ask")
        gr.api(lookup_api, api_name="lookup")
    return app


demo = build_demo()


# --- starting the server ---------------------------------------------------------------


class UsageError(Exception):
    """A command-line mistake; the message is printed as one line."""


def default_index() -> str:
    return os.environ.get("RAG_INDEX") or DEFAULT_INDEX


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


AUTH_VARIABLE = "RAG_AUTH"


def parse_auth(value: str | None, host: str) -> tuple[str, str] | None:
    """The (user, password) pair from ``USER:PASSWORD``; required to listen beyond loopback."""
    if value is None:
        if not is_loopback(host):
            raise UsageError(
                f"refusing to listen on {host} without --auth USER:PASSWORD "
                f"(or --auth-file FILE, or ${AUTH_VARIABLE}; only loopback is open)"
            )
        return None
    user, colon, password = value.partition(":")
    if not (colon and user and password):
        raise UsageError("--auth must look like USER:PASSWORD")
    return user, password


def auth_value(given: str | None, auth_file: str | None) -> str | None:
    """USER:PASSWORD from --auth, else the first line of --auth-file, else $RAG_AUTH (None: no auth).

    A password on the command line shows in ``ps`` to every user of the machine; a file
    readable only by its owner, or the environment, does not.
    """
    if given is not None:
        return given
    if auth_file is not None:
        try:
            lines = Path(auth_file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or error
            raise UsageError(f"cannot read --auth-file {auth_file} ({reason})") from None
        if not lines or ":" not in lines[0]:
            raise UsageError(f"--auth-file {auth_file} must hold USER:PASSWORD on its first line")
        return lines[0].strip()
    return os.environ.get(AUTH_VARIABLE) or None


# --- which Host names the app answers (DNS rebinding) ---------------------------------------

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def allowed_hosts(host: str, extra: str | None) -> frozenset[str] | None:
    """The Host names the app answers: loopback names (plus ``extra``, comma-separated) when it
    listens on loopback or when ``extra`` is given; None (any name) beyond loopback without it,
    where the password protects the app."""
    names = {_host_name(name) for name in (extra or "").split(",") if name.strip()}
    if not is_loopback(host) and not names:
        return None
    if "" in names:
        raise UsageError(f"--allowed-hosts must be comma-separated host names, got {extra!r}")
    return frozenset(LOOPBACK_NAMES | names)


def _host_name(value: str) -> str:
    """The name in a Host header or an Origin ("[::1]:7860" -> "::1"), lower-cased, without port."""
    value = value.strip().lower()
    if "://" in value:
        value = value.split("://", 1)[1].split("/", 1)[0]
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else ""
    name, _, port = value.rpartition(":") if value.count(":") == 1 else (value, "", "")
    if port and not port.isdigit():
        return ""
    return name.rstrip(".")


class HostGuard:
    """ASGI middleware: refuse a request whose Host (or Origin) names a host the app does not answer to.

    A web page can rebind its own name to 127.0.0.1 and then call the app as if it were its
    own site: the browser sends that foreign name as Host and Origin. Gradio's own check only
    looks at the Origin when the Host is a loopback name, so it lets such a request through.
    """

    def __init__(self, app: Any, allowed: frozenset[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket") and not self._allows(scope):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            body = b"This address is not one this rag app answers to (see --allowed-hosts).\n"
            headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 403, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)

    def _allows(self, scope: Any) -> bool:
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        host = headers.get(b"host", b"").decode("latin-1")
        if _host_name(host) not in self.allowed:
            return False
        origin = headers.get(b"origin")
        return origin is None or _host_name(origin.decode("latin-1")) in self.allowed


def open_index(corpus: str, index_dir: str) -> Index:
    """Load the index once; build it from ``corpus`` first when there is none yet (progress on the terminal)."""
    try:
        index = load_index(index_dir)
    except IndexNotFoundError:
        print(f"No index at {index_dir} yet: building it from {corpus}/ first.", file=sys.stderr)
        index = build_index(corpus, index_dir, progress=True)
        report = index.build_report
        if report is not None:
            print(f"Indexed {report.documents} documents, {report.sentences} sentences.", file=sys.stderr)
        return index
    if Path(corpus).resolve() != index.corpus.resolve():
        print(f"note: {index_dir} was built from {index.corpus}, not {corpus}; serving it as it is.", file=sys.stderr)
    return index


def private_paths(index: Index, staging: Path) -> list[str]:
    """Folders Gradio must never serve: the corpus, the index, the staging folder, and the working
    directory unless Gradio's own file cache lies inside it."""
    paths = [index.corpus, index.path, staging]
    cache, here = Path(gr.utils.get_upload_folder()).resolve(), Path.cwd().resolve()
    if not cache.is_relative_to(here):
        paths.append(here)
    return [str(Path(p).resolve()) for p in paths]


def _warm_up(index: Index) -> None:
    """Load the embedding model in the background so the first question does not wait for it."""
    try:
        index.embedder.encode(["warm up"])
    except Exception:  # the first question will report it properly
        logger.exception("the embedding model could not be loaded in advance")


def launch(
    index: Index,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: tuple[str, str] | None = None,
    block: bool = True,
    hosts: frozenset[str] | None = LOOPBACK_NAMES,
) -> None:
    """Serve ``demo`` over ``index``: no share link, no served folders, uploads capped, and only
    the Host names in ``hosts`` answered (None: any)."""
    from starlette.middleware import Middleware

    STATE.set(index)
    demo.queue(default_concurrency_limit=2)
    middleware = [Middleware(HostGuard, allowed=hosts)] if hosts is not None else []
    demo.launch(
        app_kwargs={"middleware": middleware},
        server_name=host,
        server_port=port,
        share=False,
        auth=auth,
        max_file_size=MAX_UPLOAD_BYTES,
        allowed_paths=[],
        blocked_paths=private_paths(index, STATE.folder("staging")),
        show_error=False,  # unexpected errors stay in the terminal; user errors (gr.Error) still show
        css=CSS,
        theme=THEME,
        footer_links=["api"],
        run_history=False,
        prevent_thread_lock=True,
    )
    threading.Thread(target=_warm_up, args=(index,), daemon=True).start()
    if block:
        demo.block_thread()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ui.py", description="The rag browser app: ask, look up, manage documents.")
    parser.add_argument("--corpus", default=DEFAULT_CORPUS, help="corpus folder (default: corpus)")
    parser.add_argument("--index", default=default_index(), help="index directory (default: $RAG_INDEX or .rag-index)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    parser.add_argument(
        "--auth", default=None, help="USER:PASSWORD, required beyond loopback (shows in ps: prefer --auth-file)"
    )
    parser.add_argument("--auth-file", default=None, help="a file whose first line is USER:PASSWORD (or set $RAG_AUTH)")
    parser.add_argument(
        "--allowed-hosts", default=None, help="comma-separated host names the app answers to besides loopback ones"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Start the app; returns the exit code (0 after a clean stop, 1 on a user error)."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    try:
        auth = parse_auth(auth_value(args.auth, args.auth_file), args.host)
        hosts = allowed_hosts(args.host, args.allowed_hosts)
        index = open_index(args.corpus, args.index)
    except (UsageError, RagError) as error:
        print(f"rag serve: error: {error}", file=sys.stderr)
        return 1
    try:
        launch(index, host=args.host, port=args.port, auth=auth, hosts=hosts)
    except KeyboardInterrupt:
        return 0
    except OSError as error:
        print(f"rag serve: error: cannot listen on {args.host}:{args.port} ({error})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
