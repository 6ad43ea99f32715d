"""How answers, citations, documents and lookups look on the app's page: HTML and Markdown, every piece escaped.

Every piece of document text is untrusted: it reaches the page only through ``html_text``
(HTML components) or ``markdown_text`` (the chat, which renders Markdown), so it shows as
the characters it is and never as markup, links or images. Nothing here imports Gradio.
"""

from __future__ import annotations

import html
import itertools
import json
import re
import string
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from rag import Answer, Citation, Document, Index, RagError
from rag.answer.spans import answer_spans
from rag.export import answer_from_dict
from rag.export import where as citation_place
from rag.text.language import not_english_reason

NEAREST_SHOWN = 2
SEARCHED_SHOWN = 300  # characters of a rewritten question shown in "searched for" (a long one is cut with \u2026)
PREVIEW_CONTEXT = 420  # characters of the passage a [n] preview shows around its sentence
_ELLIPSIS = "\u2026"

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


def counted(number: int, noun: str) -> str:
    """ "1 sentence", "2 sentences"."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def message_text(content: Any) -> str:
    """A chat message's text, however Gradio hands it back: a str, or (Gradio 6) a list of
    ``{"type": "text", "text": ...}`` parts, or one such part."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text", ""))
    if isinstance(content, list | tuple):
        return "".join(message_text(part) for part in content)
    return "" if content is None else str(content)


def _safe_link(url: str) -> str:
    """An http(s) address as a link that opens elsewhere, or the address as plain text."""
    if not re.match(r"https?://[^\s\"'<>]+$", url, re.I):
        return html_text(url)
    return f'<a href="{html_text(url)}" target="_blank" rel="noopener noreferrer nofollow">{html_text(url)}</a>'


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


def quote_markdown(question: str, text: str, context: str = "") -> str:
    """A quoted sentence for the chat, the words answering the question's type in <strong class="rag-answer">
    (``rag.answer.spans``: offsets into the quote, nothing generated); every piece made inert."""
    pieces, at = [], 0
    for start, end in answer_spans(question, text, context):
        pieces.append(markdown_text(text[at:start]))
        pieces.append(f'<strong class="rag-answer">{markdown_text(text[start:end])}</strong>')
        at = end
    pieces.append(markdown_text(text[at:]))
    return "".join(pieces)


def preview_attributes(citation: Citation) -> str:
    """The data a [n] carries for its preview card (title, source and place, the sentence in its passage):
    JSON in the button's ``value`` (the chat's sanitizer keeps ``value`` and drops ``data-*``), escaped.
    The page script builds the card from it with textContent on hover, focus or tap, so the chat's text
    holds no hidden copy of the passage."""
    if citation.context:
        inner = citation.start - citation.context_start
        before = citation.context[max(0, inner - PREVIEW_CONTEXT // 2) : inner]
        after = citation.context[inner + len(citation.text) : inner + len(citation.text) + PREVIEW_CONTEXT // 2]
    else:
        before = after = ""
    meta = " \u00b7 ".join(part for part in (citation.source, citation_place(citation)) if part)
    fields = {
        "title": citation.title,
        "meta": meta,
        "before": (_ELLIPSIS if before else "") + " ".join(before.split()) + (" " if before[-1:].isspace() else ""),
        "quote": " ".join(citation.text.split()),
        "after": (" " if after[:1].isspace() else "") + " ".join(after.split()) + (_ELLIPSIS if after else ""),
    }
    return f' value="{html_text(json.dumps(fields))}"'


def cite_marker(answer_number: int | None, number: int, citation: Citation | None = None) -> str:
    """The [n] of a quote: a button that opens the citation in its document (bold text without a number);
    with the citation, the data of its preview card (``preview_attributes``)."""
    if answer_number is None:
        return f"**[{number}]**"
    data = preview_attributes(citation) if citation is not None else ""
    return f'<button type="button" class="rag-cite rag-q{answer_number}-c{number}"{data}>&#91;{number}&#93;</button>'


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


def explained(answer: Answer) -> Answer:
    """``answer``, an abstention on a question not in English saying so (``rag.text.language``) rather than
    listing the question's words as missing from the documents."""
    reason = not_english_reason(answer.question) if answer.abstained else None
    if reason is None or answer.reason.startswith(reason):
        return answer
    return replace(answer, reason=reason)


def answer_markdown(answer: Answer, number: int | None = None) -> str:
    """The chat reply: the quoted sentences numbered [1]..[k], each with its document's title and source.

    With the answer's ``number`` in the conversation, each [n] is a button that opens its citation.
    """
    searched = (
        f"*searched for: {markdown_text(_clip(answer.searched_for, SEARCHED_SHOWN))}*\n\n"
        if " ".join(answer.searched_for.split()) != " ".join(answer.question.split())
        else ""
    )
    if answer.abstained:
        reason = markdown_text(answer.reason.rstrip("."))
        return f"{searched}**The documents do not answer this question.**\n\nReason: {reason}."
    lines = [searched.strip()] if searched else []
    lines += [
        f"{cite_marker(number, n, citation)} "
        f"\u201c{quote_markdown(answer.searched_for, citation.text, citation.context)}\u201d "
        f"\u2014 {_title_line(citation)}" + _coverage_markdown(citation)
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


def nearest_passages(answer: Answer) -> list[Citation]:
    """The passages an abstention shows as nearest: each passage once, none that scored nothing."""
    shown: list[Citation] = []
    seen: set[tuple[str, int, int]] = set()
    for candidate in answer.candidates:
        place = (candidate.doc_id, candidate.context_start, candidate.context_start + len(candidate.context))
        if candidate.score <= 0 or (candidate.context and place in seen):
            continue
        seen.add(place)
        shown.append(candidate)
        if len(shown) == NEAREST_SHOWN:
            break
    return shown


def sources_markdown(answer: Answer, number: int | None = None) -> str:
    """The Sources area under a reply: each citation's passage with the cited sentence highlighted."""
    if answer.abstained:
        nearest = nearest_passages(answer)
        if not nearest:
            return "Nothing in the documents comes close."
        parts = [_source_markdown(f"**Nearest {n} (NOT an answer)**", c) for n, c in enumerate(nearest, start=1)]
        return "\n\n---\n\n".join(parts)
    return "\n\n---\n\n".join(
        _source_markdown(cite_marker(number, n), c, copy_buttons(number, n))
        for n, c in enumerate(answer.citations, start=1)
    )


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


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


# --- documents -------------------------------------------------------------------------


def document_header_html(document: Document, sentences: int | None = None) -> str:
    parts = [f'<div class="rag-doc-title">{html_text(document.title)}</div><div class="rag-meta">']
    details = [html_text(document.source)] if document.source else []
    details += [f"by {html_text(document.author)}"] if document.author else []
    details += [html_text(document.date)] if document.date else []
    details.append(f"<code>{html_text(document.doc_id)}</code>")
    details += [counted(sentences, "sentence")] if sentences is not None else []
    # A text file read from a legacy encoding says which: a wrong guess shows as odd characters.
    details += [f"read as {html_text(document.encoding)}"] if document.encoding not in ("", "utf-8") else []
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


def status_html(message: str, *, warning: bool = False) -> str:
    """A one-line message under the question box: a hint, a confirmation, or (``warning``) what went wrong."""
    kind = "rag-warning" if warning else "rag-note"
    return f'<div class="{kind}" role="status">{html_text(message)}</div>'


def placeholder_html(message: str) -> str:
    return f'<div class="rag-empty">{html_text(message)}</div>'


def view_citation(index: Index, citation: Citation | None) -> str:
    """The document viewer for ``citation``: its whole document with the quote highlighted, or, when the
    document has changed or gone since the answer (``Index.stale_reason``), a line saying so."""
    if citation is None:
        return placeholder_html("Open a citation to read it in its document.")
    reason = index.stale_reason(citation)
    if reason is None:
        try:
            return BACK_TO_ANSWER + document_html(index.document(citation.doc_id), citation.start, citation.end)
        except RagError as error:  # removed since stale_reason looked
            reason = str(error)
    return placeholder_html(f"{reason}; ask the question again.")


# Shown on narrow screens only, where the viewer sits under the chat (see CSS).
BACK_TO_ANSWER = '<button type="button" class="rag-back">\u2191 Back to the answer</button>'


def document_rows(index: Index) -> tuple[list[list[Any]], list[str]]:
    """The documents table (title, source, sentences, date added, encoding) and the id of each row."""
    headers = index.documents()
    rows = [
        [d["title"], d["source"], d["sentences"], (d.get("added_at") or "").replace("T", " ").rstrip("Z")]
        + [d.get("encoding") or "\u2014"]  # the codec a text file was read in; none for PDF and DOCX
        for d in headers
    ]
    return rows, [d["doc_id"] for d in headers]


def index_summary(index: Index) -> str:
    documents = index.documents()
    sentences = sum(int(d["sentences"]) for d in documents)
    plural = "" if len(documents) == 1 else "s"
    return f"{len(documents)} document{plural} \u00b7 {counted(sentences, 'sentence')} indexed"


# --- the chat and the search filter ---------------------------------------------------


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
        content = message_text(marked[position].get("content", ""))
        if number > len(answers) or "rag-stale" in content:
            continue
        answer = answer_from_dict(answers[number - 1])
        reasons = [(n, index.stale_reason(c)) for n, c in enumerate(answer.citations, start=1)]
        notes = [f"[{n}] {markdown_text(reason)}" for n, reason in reasons if reason]
        if notes:
            warning = f'\n\n<span class="rag-stale">\u26a0 {"; ".join(notes)}.</span>'
            marked[position] = {**marked[position], "content": f"{content}{warning}"}
    return marked


def filter_label(documents: Sequence[str] | None, sources: Sequence[str] | None) -> str:
    """The filter's heading: what the next question searches."""
    if not documents and not sources:
        return "Search in: all documents (choose some)"
    parts = [f"{len(documents)} document{'s' if len(documents) != 1 else ''}"] if documents else []
    parts += [f"source {', '.join(sources)}"] if sources else []
    return f"Search in: {' and '.join(parts)} only"


def filter_choices(index: Index) -> tuple[list[tuple[str, str]], list[str]]:
    """The documents (title and id, by id) and the distinct sources one can restrict a search to."""
    headers = index.documents()
    documents = [(f"{_clip(d['title'], 60)} \u2014 {d['doc_id']}", d["doc_id"]) for d in headers]
    return documents, sorted({d["source"] for d in headers if d["source"]}, key=str.casefold)
