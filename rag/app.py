"""The browser app: a Gradio shell over rag's public API (ask, look up, manage documents).

The page's pieces are built elsewhere: ``rag.app_render`` (answers, citations, documents and lookups as
escaped HTML and Markdown), ``rag.app_documents`` (the current index, uploads and deletions) and
``rag.app_access`` (password and Host names), ``rag.app_assets`` (the page's CSS and scripts). Here:
the handlers (Gradio in, those functions, Gradio out), the layout, and starting the server.
``python ui.py`` runs ``main``; ``rag serve`` runs ``serve``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import re
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from rag import SUPPORTED_SUFFIXES, Answer, Index, RagError, load_index
from rag.app_access import (
    LOOPBACK_NAMES,
    HostGuard,
    LoginLimiter,
    UsageError,
    allowed_hosts,
    auth_value,
    parse_auth,
)
from rag.app_assets import (
    COPY_TO_CLIPBOARD,
    CSS,
    FORGET_CONVERSATION,
    PAGE_JS,
    SAVE_CONVERSATION,
    SCROLL_TO_ANSWER,
    SCROLL_TO_MARK,
    SHOW_DOCUMENT,
    SHOW_UPLOAD_SUMMARY,
    TOGGLE_THEME,
    UNDO_THUMB,
)
from rag.app_documents import MAX_UPLOAD_BYTES, MAX_UPLOAD_LABEL, IndexHolder, add_uploads, remove_document
from rag.app_pages import page_image
from rag.app_render import (
    NEAREST_SHOWN,
    answer_messages,
    document_html,
    document_rows,
    explained,
    filter_choices,
    filter_label,
    html_text,
    index_summary,
    lookup_cards_html,
    lookup_view,
    mark_stale,
    markdown_text,
    placeholder_html,
    status_html,
    view_citation,
)
from rag.export import (
    answer_footnotes,
    answer_from_dict,
    answer_quotes,
    citation_footnote,
    citation_from_dict,
    conversation_json,
    conversation_markdown,
    quote_with_citation,
)
from rag.feedback import REASONS, feedback_path, record_feedback
from rag.workspace import (
    TERMINATED_STATUS,
    Terminated,
    add_serve_arguments,
    default_index,
    open_or_build,
    sigterm_as_interrupt,
)

logger = logging.getLogger(__name__)

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
MAX_CHAT_TURNS = 20  # earlier answers passed with a chat question
MAX_QUESTION_CHARS = 2_000  # what Index.ask accepts (rag.queries); longer is refused with a message, not cut
THUMBS = {"up": "\U0001f44d", "down": "\U0001f44e"}
K_CHOICES = (1, 10)  # the most quotes an answer may have, as the Settings slider offers it
# The browser's own copy of the settings (k, threshold, saved document sets); the encryption Gradio
# adds to BrowserState is not relied on (the key is in this file), only the storage in the user's browser.
SETTINGS_KEY, SETTINGS_SECRET = "rag-settings", "rag-settings-v1"

STATE = IndexHolder()


# --- the API: ask and lookup as JSON for gradio_client ----------------------------------


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
        return asdict(explained(STATE.index.ask(question, history=history or (), where=where)))
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


def ask_question_api(question: str) -> dict[str, Any]:
    """Answer a question over every document: ``ask`` with only its question, for a short HTTP call.

    Gradio's ``/gradio_api/call/ask`` wants every input of ``ask`` (seven) and answers a shorter
    call with an empty error; this one takes ``{"data": [question]}`` (docs/http-api.md).
    """
    return ask_api(question)


def lookup_text_api(text: str) -> list[dict[str, Any]]:
    """Find where each sentence of ``text`` comes from, in every document: ``lookup`` with only its text."""
    return lookup_api(text)


# --- event handlers: Gradio in, the functions above, Gradio out --------------------------


def _user_error(error: RagError) -> gr.Error:
    return gr.Error(str(error))


def on_ask(
    question: str,
    history: list[dict[str, Any]],
    answers: list[dict[str, Any]],
    documents: list[str] | None = None,
    sources: list[str] | None = None,
    k: float | None = None,
    threshold: float | None = None,
) -> tuple[Any, ...]:
    """Ask; returns the question box, chat, answers, viewer, export row, both exports and the status line."""
    question = (question or "").strip()
    unchanged = (gr.update(), history, answers, gr.update(), gr.update(), gr.update(), gr.update())
    if not question:  # a slip, not an error: a hint under the box, which keeps whatever it held
        return (*unchanged, status_html("Type a question first, for example one of the examples below."))
    if len(question) > MAX_QUESTION_CHARS:  # refused whole, never silently cut: the box keeps it
        return (*unchanged, status_html(
            f"Your question is {len(question):,} characters long; rag reads questions of up to "
            f"{MAX_QUESTION_CHARS:,}. Shorten it and ask again.", warning=True))  # fmt: skip
    index = STATE.index
    try:
        answer = index.ask(
            question,
            int(k) if k else None,
            threshold=threshold,
            history=answers[-MAX_CHAT_TURNS:],
            where=search_filter(documents, sources),
        )
    except RagError as error:
        return (*unchanged, status_html(str(error), warning=True))
    answer = explained(answer)
    number = len(answers) + 1
    history = [*history, {"role": "user", "content": markdown_text(question)}, *answer_messages(answer, number)]
    answers = [*answers, asdict(answer)]
    viewer = (
        view_citation(index, answer.citations[0])
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
        "",
    )


def conversation_history(index: Index, answers: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chat of a conversation rebuilt from its answers (a reload, a past conversation, an edit),
    answers whose sources have gone since marked so."""
    history: list[dict[str, Any]] = []
    for number, answer in enumerate(_turns(answers), start=1):
        history += [{"role": "user", "content": markdown_text(answer.question)}, *answer_messages(answer, number)]
    return mark_stale(index, history, answers)


def saved_answers(answers: Sequence[dict[str, Any]]) -> str:
    """The conversation as the browser keeps it (JSON): the answers without the ranked candidates an
    answer does not show, which would fill the browser's storage (an abstention keeps its nearest)."""
    kept = [{**a, "candidates": a.get("candidates", [])[: 2 * NEAREST_SHOWN] if a.get("abstained") else []}
            for a in answers]  # fmt: skip
    return json.dumps(kept, ensure_ascii=False)


def on_restore(payload: str) -> tuple[Any, ...]:
    """Show a conversation the browser kept (sent as "<nonce>\\n<answers as JSON>"): its chat, viewer and exports.

    The payload comes from the browser and is read as untrusted: anything that is not a list of
    answers shows a message and changes nothing."""
    _, _, body = (payload or "").partition("\n")
    unchanged = (gr.update(),) * 6
    try:
        answers = json.loads(body)
        if not isinstance(answers, list) or not all(isinstance(a, dict) for a in answers):
            raise ValueError("not a list of answers")
        history = conversation_history(STATE.index, answers)
    except (ValueError, TypeError, KeyError, RagError) as error:
        logger.warning("a saved conversation could not be read: %s", error)
        return (
            *unchanged,
            status_html("This saved conversation could not be read; it was left as it is.", warning=True),
        )
    if not answers:
        return ([], [], gr.update(visible=False), gr.update(visible=False), gr.update(), gr.update(), "")
    last = answer_from_dict(answers[-1])
    viewer = view_citation(STATE.index, last.citations[0]) if last.citations else placeholder_html(
        "No citation to open: the documents do not answer this question.")  # fmt: skip
    markdown_file, json_file = write_conversation(answers)
    return (history, answers, gr.update(value=viewer, visible=True), gr.update(visible=True), markdown_file,
            json_file, "")  # fmt: skip


def on_edit_last(answers: list[dict[str, Any]]) -> tuple[Any, ...]:
    """Put the last question back in the box to edit, and take its answer out of the conversation."""
    if not answers:
        return gr.update(), gr.update(), answers, status_html("There is no question to edit yet.")
    kept = answers[:-1]
    return answers[-1]["question"], conversation_history(STATE.index, kept), kept, ""


def on_retry_last(
    history: list[dict[str, Any]],
    answers: list[dict[str, Any]],
    documents: list[str] | None = None,
    sources: list[str] | None = None,
    k: float | None = None,
    threshold: float | None = None,
) -> tuple[Any, ...]:
    """Ask the last question again (with the Search in choice and settings as they are now), in its place."""
    if not answers:
        return (
            gr.update(),
            history,
            answers,
            *(gr.update(),) * 4,
            status_html("There is no question to ask again yet."),
        )
    kept = answers[:-1]
    asked = on_ask(answers[-1]["question"], conversation_history(STATE.index, kept), kept, documents, sources, k,
                   threshold)  # fmt: skip
    return asked


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
    return gr.update(value=view_citation(STATE.index, answer.citations[number - 1]), visible=True)


def opened_citation(request: str, answers: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The citation an "open" request shows, as kept in the session ("open 0 n": citation n of the newest answer)."""
    found = _REQUEST.match(request or "")
    if found and found.group(2) == "0" and answers:  # the newest answer's
        request = f"open {len(answers)} {found.group(3)}"
    parsed = parse_request(request, answers)
    if parsed is None or parsed[0] != "open":
        return None
    _, answer, number = parsed
    return asdict(answer.citations[number - 1])


def on_page_image(opened: dict[str, Any] | None) -> tuple[Any, Any]:
    """The cited PDF page as printed, the quote highlighted (``rag.app_pages``), and the original file
    to open or download; both hidden for other documents, or when the file changed or went."""
    hidden = (gr.update(visible=False, value=None), gr.update(visible=False))
    if opened is None:
        return hidden
    citation = citation_from_dict(opened)
    index = STATE.index
    corpus = Path(index.corpus).resolve()
    path = (corpus / citation.doc_id).resolve()
    # Only a file inside the corpus, never through a link out of it, and only the version that was cited.
    if citation.page is None or path.suffix.lower() != ".pdf" or not path.is_relative_to(corpus):
        return hidden
    if not path.is_file() or path.is_symlink() or index.stale_reason(citation) is not None:
        return hidden
    try:
        shown = page_image(path, citation.page, citation.text)
    except (OSError, ValueError) as error:
        logger.warning("page %s of %s not rendered: %s", citation.page, citation.doc_id, error)
        return hidden
    marked = "the quote highlighted" if shown.marked else "the quote could not be located on the image"
    label = f"Page {citation.page} of {citation.title}, as printed ({marked})"
    copy = STATE.folder("exports") / citation.content_hash[:24]  # one copy per content, never overwritten
    copy.mkdir(exist_ok=True)
    original = copy / path.name
    if not original.exists():
        original.write_bytes(path.read_bytes())
    return (
        gr.update(value=shown.image, visible=True, label=label),
        gr.update(value=str(original), visible=True, label=f"Open or download the original PDF ({path.name})"),
    )


def on_opened(request: str, answers: list[dict[str, Any]]) -> tuple[Any, Any, Any]:
    """The citation an "open" request shows (kept in the session), with its PDF page as printed."""
    opened = opened_citation(request, answers)
    return (opened, *on_page_image(opened))


def on_answered(answers: list[dict[str, Any]]) -> tuple[Any, ...]:
    """After an answer: the citation shown with it and its PDF page, and the conversation for the browser to keep."""
    return (*on_opened("open 0 1", answers), saved_answers(answers))


def on_reopen(opened: dict[str, Any] | None) -> Any:
    """The viewer again after the documents changed: a deleted or changed document now says so."""
    return gr.update() if opened is None else view_citation(STATE.index, citation_from_dict(opened))


def on_copy_request(request: str, answers: list[dict[str, Any]]) -> str:
    parsed = parse_request(request, answers)
    if parsed is None or parsed[0] == "open":
        return ""
    return copy_text(*parsed)


def rating_of(liked: Any) -> str:
    """The rating a click on a thumb means: Gradio sends True/"Like", False/"Dislike", and an empty
    value when the thumb that was on is clicked again (taken back: a retraction, never a thumbs down)."""
    if liked is True or liked == "Like":
        return "up"
    if liked is False or liked == "Dislike":
        return "down"
    return "retracted"


def save_judgement(answers: Sequence[dict[str, Any]], number: int, rating: str, reason: str = "",
                   comment: str = "") -> tuple[str, bool]:  # fmt: skip
    """Append a judgement of answer ``number``; the status line to show, and whether it was saved."""
    path = feedback_path(STATE.index.path)
    what = f"{THUMBS[rating]} on answer {number}" if rating in THUMBS else f"judgement of answer {number}"
    try:
        record_feedback(path, answer_from_dict(answers[number - 1]), rating, reason=reason, comment=comment)
    except RagError as error:  # a folder in its place, no space, read-only: said here, the judgement kept in view
        logger.warning("feedback not saved: %s", error)
        return status_html(f"Your {what} was not saved: {error}.", warning=True), False
    if rating == "retracted":
        return status_html(f"Your {what} was taken back (recorded in {path.name} as a retraction)."), True
    said = f" with the reason \u201c{reason}\u201d" if reason else ""
    return status_html(f"Thanks: your {what}{said} was saved to {path.name}."), True


def on_feedback(history: list[dict[str, Any]], answers: list[dict[str, Any]], event: gr.LikeData) -> tuple[Any, ...]:
    """Save a thumbs up or down (or its retraction) on an answer to the feedback file beside the index.

    Returns the status line, the judgement to undo (or None), and whether the Undo and the thumbs-down
    reason are shown."""
    position = event.index[0] if isinstance(event.index, list | tuple) else event.index
    nothing = (gr.update(), gr.update(), gr.update(), gr.update())
    if not isinstance(position, int):
        return nothing
    number = sum(1 for message in history[: position + 1] if message.get("role") == "user")
    if not 1 <= number <= len(answers):
        return nothing
    rating = rating_of(event.liked)
    status, saved = save_judgement(answers, number, rating)
    last = {"number": number, "rating": rating} if saved and rating != "retracted" else None
    if last is not None:  # which answer's thumb Undo takes back (UNDO_THUMB reads it)
        status += f'<span hidden data-rag-judged="{number}"></span>'
    return status, last, gr.update(visible=last is not None), gr.update(visible=last is not None and rating == "down")


def on_undo_feedback(answers: list[dict[str, Any]], last: dict[str, Any] | None) -> tuple[Any, ...]:
    """Undo the last judgement: recorded as a retraction, which ``rag eval`` reads as the question's latest."""
    if not last or not 1 <= last["number"] <= len(answers):
        return status_html("There is no judgement to undo."), None, gr.update(visible=False), gr.update(visible=False)
    status, saved = save_judgement(answers, last["number"], "retracted")
    kept = None if saved else last
    return status, kept, gr.update(visible=kept is not None), gr.update(visible=False)


def on_feedback_reason(
    answers: list[dict[str, Any]], last: dict[str, Any] | None, reason: str | None, comment: str
) -> tuple[Any, ...]:
    """Save why a thumbs down was given: a new judgement that supersedes the bare one."""
    if not last or last.get("rating") != "down" or not 1 <= last["number"] <= len(answers):
        return status_html("Give a \U0001f44e on an answer first."), gr.update(), gr.update()
    if not reason and not (comment or "").strip():
        return status_html("Choose what was wrong or write a few words first.", warning=True), gr.update(), gr.update()
    status, saved = save_judgement(answers, last["number"], "down", reason or "", comment or "")
    status += f'<span hidden data-rag-judged="{last["number"]}"></span>'
    return status, gr.update(visible=not saved), gr.update(value="" if saved else comment)


def on_mark_stale(history: list[dict[str, Any]], answers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return mark_stale(STATE.index, history or [], answers or [])


def on_filter_label(documents: list[str] | None, sources: list[str] | None) -> Any:
    return gr.update(label=filter_label(documents, sources))


def on_filter_choices(documents: list[str] | None, sources: list[str] | None) -> tuple[Any, Any]:
    """Refresh the filter's choices; choices that went away are dropped from the selection."""
    document_choices, source_choices = filter_choices(STATE.index)
    ids = {value for _, value in document_choices}
    return (
        gr.update(choices=document_choices, value=[d for d in documents or [] if d in ids]),
        gr.update(choices=source_choices, value=[s for s in sources or [] if s in source_choices]),
    )


def on_clear() -> tuple[Any, ...]:
    return [], [], gr.update(value=view_citation(STATE.index, None), visible=False), gr.update(visible=False), ""


def on_hide_feedback() -> tuple[Any, ...]:
    """No judgement to undo or explain once the conversation shown is another one."""
    return None, gr.update(visible=False), gr.update(visible=False)


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

# System fonts only: the default themes fetch Google Fonts, a request to a third party on every page view.
THEME = gr.themes.Soft(font=("ui-sans-serif", "system-ui", "sans-serif"), font_mono=("ui-monospace", "monospace"))

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
    opened: gr.State  # the citation shown in the viewer (as a dict)
    printed: gr.Image  # its PDF page as printed
    original: gr.DownloadButton  # its PDF file
    settings: Settings
    kept_settings: gr.BrowserState  # the settings as the browser keeps them


@dataclass
class Settings:
    """The Settings box: how many quotes, the threshold, and the saved document sets."""

    k: gr.Slider
    threshold: gr.Slider
    set_name: gr.Textbox
    save_set: gr.Button
    sets: gr.Dropdown
    said: gr.HTML  # what saving a set did


def _settings_box() -> Settings:
    with gr.Accordion("Settings", open=False, elem_id="rag-settings"):
        with gr.Row():
            k = gr.Slider(*K_CHOICES, value=3, step=1, label="Most quotes per answer (k)",
                          elem_id="rag-k")  # fmt: skip
            threshold = gr.Slider(
                0.0, 1.0, value=0.25, step=0.01, label="Threshold",
                info="An answer needs a sentence scoring at least this; below it, rag says the documents do "
                "not answer. Lower answers more often, with weaker quotes; higher abstains more.",
                elem_id="rag-threshold",
            )  # fmt: skip
        with gr.Row(equal_height=True):
            sets = gr.Dropdown(label="Saved document sets", choices=[], value=None, scale=3, elem_id="rag-sets",
                               info="Choosing one sets Search in")  # fmt: skip
            set_name = gr.Textbox(label="Name of the set", placeholder="e.g. Chip fund sources", scale=3,
                                  elem_id="rag-set-name")  # fmt: skip
            save_set = gr.Button("Save Search in as this set", size="sm", scale=2, elem_id="rag-save-set")
        said = gr.HTML("", elem_id="rag-set-said")
    return Settings(k, threshold, set_name, save_set, sets, said)


def _ask_tab() -> AskTab:
    answers = gr.State([])
    opened = gr.State(None)
    last_feedback = gr.State(None)
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
                    label="Question",  # its accessible name, though not shown
                    placeholder="Ask a question about the documents",
                    show_label=False,
                    scale=8,
                    lines=1,
                    autofocus=True,
                    elem_id="rag-question",
                    submit_btn=False,
                )
                ask = gr.Button("Ask", variant="primary", scale=1, min_width=70, elem_id="rag-ask")
                clear = gr.Button("New", scale=1, min_width=70, elem_id="rag-clear")
            status = gr.HTML("", elem_id="rag-status")
            with gr.Row(visible=False, elem_id="rag-feedback") as undo_row:
                undo = gr.Button("Undo my judgement", size="sm", scale=0, min_width=160, elem_id="rag-undo")
                # Undo clicks the thumb that is on, as a second click would (its state shown, a retraction
                # recorded); this hidden button records the retraction when no thumb is on to click.
                undo_saved = gr.Button("Undo", visible="hidden", elem_id="rag-undo-server")
            with gr.Column(visible=False, elem_id="rag-feedback-reason") as reason_box:
                reason = gr.Radio(list(REASONS), label="What was wrong? (optional)", elem_id="rag-reason")
                comment = gr.Textbox(label="Tell us more (optional)", lines=1, max_lines=4, elem_id="rag-comment")
                send_reason = gr.Button("Send", size="sm", elem_id="rag-send-reason")
            with gr.Row(elem_id="rag-examples"):
                example_buttons = [gr.Button(q, size="sm", variant="secondary") for q in EXAMPLE_QUESTIONS]
            with gr.Row(visible=False, elem_id="rag-export") as export_row:
                markdown_file = gr.DownloadButton(
                    "Export conversation (Markdown)", size="sm", interactive=False, elem_id="rag-export-md"
                )
                json_file = gr.DownloadButton(
                    "Export conversation (JSON)", size="sm", interactive=False, elem_id="rag-export-json"
                )
                edit = gr.Button("\u270e Edit last question", size="sm", elem_id="rag-edit")
                retry = gr.Button("\u21bb Ask it again", size="sm", elem_id="rag-retry")
            gr.HTML("", elem_id="rag-history")  # the list of past conversations, drawn by PAGE_JS from localStorage
            settings = _settings_box()
        with gr.Column(scale=5, min_width=300):
            viewer = gr.HTML(placeholder_html("Click a [n] in an answer to read it here."), visible=False,
                             elem_id="rag-viewer")  # fmt: skip
            original = gr.DownloadButton("Open or download the original PDF", visible=False, size="sm",
                                         elem_id="rag-original")  # fmt: skip
            printed = gr.Image(visible=False, type="pil", format="png", interactive=False, show_label=True,
                               buttons=["fullscreen"], elem_id="rag-page-image")  # fmt: skip
    open_request = gr.Textbox(visible="hidden", elem_id="rag-open-request")
    copy_request = gr.Textbox(visible="hidden", elem_id="rag-copy-request")
    clip = gr.Textbox(visible="hidden", elem_id="rag-clip")
    restore = gr.Textbox(visible="hidden", elem_id="rag-restore")  # a kept conversation, sent by the page
    keep = gr.Textbox(visible="hidden", elem_id="rag-keep")  # the conversation for the page to keep
    choice = [documents, sources, settings.k, settings.threshold]
    inputs = [question, chatbot, answers, *choice]
    outputs = [question, chatbot, answers, viewer, export_row, markdown_file, json_file, status]
    events = [
        ask.click(on_ask, inputs, outputs, api_visibility="private"),
        question.submit(on_ask, inputs, outputs, api_visibility="private"),
        retry.click(on_retry_last, [chatbot, answers, *choice], outputs, api_visibility="private"),
    ]
    for button, text in zip(example_buttons, EXAMPLE_QUESTIONS, strict=True):
        events.append(
            button.click(
                lambda h, a, d, s, k, t, q=text: on_ask(q, h, a, d, s, k, t),
                [chatbot, answers, *choice],
                outputs,
                api_visibility="private",
            )
        )
    editing = edit.click(on_edit_last, answers, [question, chatbot, answers, status], api_visibility="private")
    shown = [opened, printed, original]
    editing.then(saved_answers, answers, keep, api_visibility="private").then(None, keep, js=SAVE_CONVERSATION)
    for event in events:
        event.then(None, js=SCROLL_TO_ANSWER).then(None, js=SCROLL_TO_MARK)
        # one request after an answer, not three: each is a round trip the next question waits behind
        event.then(on_answered, answers, [*shown, keep], api_visibility="private").then(
            None, keep, js=SAVE_CONVERSATION
        )
    restoring = restore.change(on_restore, restore, [chatbot, answers, viewer, export_row, markdown_file, json_file,
                                                     status], api_visibility="private")  # fmt: skip
    restoring.then(None, js=SCROLL_TO_ANSWER).then(None, js=SCROLL_TO_MARK)
    restoring.then(on_opened, [gr.State("open 0 1"), answers], shown, api_visibility="private")
    opening = open_request.change(on_open_request, [open_request, answers], viewer, api_visibility="private")
    opening.then(None, js=SCROLL_TO_MARK)
    opening.then(on_opened, [open_request, answers], shown, api_visibility="private")
    copy_request.change(on_copy_request, [copy_request, answers], clip, api_visibility="private").then(
        None, clip, js=COPY_TO_CLIPBOARD
    )
    feedback_outputs = [status, last_feedback, undo_row, reason_box]
    chatbot.like(on_feedback, [chatbot, answers], feedback_outputs, api_visibility="private")
    undo.click(None, js=UNDO_THUMB)
    undo_saved.click(on_undo_feedback, [answers, last_feedback], feedback_outputs, api_visibility="private")
    send_reason.click(on_feedback_reason, [answers, last_feedback, reason, comment], [status, reason_box, comment],
                      api_visibility="private")  # fmt: skip
    for changed in (restoring, editing):
        changed.then(on_hide_feedback, None, [last_feedback, undo_row, reason_box], api_visibility="private")
    clear_outputs = [chatbot, answers, viewer, export_row, status]
    for clearing in (clear.click, chatbot.clear):
        cleared = clearing(on_clear, None, clear_outputs, api_visibility="private")
        cleared.then(None, js=FORGET_CONVERSATION)
        cleared.then(lambda: on_opened("", []), None, shown, api_visibility="private")  # no page image left over
        cleared.then(on_hide_feedback, None, [last_feedback, undo_row, reason_box], api_visibility="private")
    kept_settings = _settings_events(settings, documents, sources)
    return AskTab(chatbot, answers, documents, sources, viewer, opened, printed, original, settings, kept_settings)


def on_save_set(saved: dict[str, Any] | None, name: str, documents: list[str] | None,
                sources: list[str] | None) -> tuple[Any, ...]:  # fmt: skip
    """Keep the Search in choice under a name (in the browser's settings); the list of sets refreshed."""
    saved = dict(saved or {})
    name = " ".join((name or "").split())[:60]
    if not name or not (documents or sources):
        return saved, gr.update(), status_html("Choose documents or sources in Search in, and name the set, first.")
    sets = {**saved.get("sets", {}), name: {"documents": list(documents or []), "sources": list(sources or [])}}
    saved["sets"] = sets
    return (
        saved,
        gr.update(choices=sorted(sets, key=str.casefold), value=name),
        status_html(f"Saved \u201c{name}\u201d."),
    )


def on_choose_set(saved: dict[str, Any] | None, name: str | None) -> tuple[Any, ...]:
    """Set Search in to a saved set (documents since deleted are left out)."""
    chosen = (saved or {}).get("sets", {}).get(name or "")
    if not isinstance(chosen, dict):
        return gr.update(), gr.update()
    document_choices, source_choices = filter_choices(STATE.index)
    ids = {value for _, value in document_choices}
    return (
        gr.update(value=[d for d in chosen.get("documents", []) if d in ids]),
        gr.update(value=[s for s in chosen.get("sources", []) if s in source_choices]),
    )


def on_load_settings(saved: dict[str, Any] | None) -> tuple[Any, ...]:
    """The settings the browser kept, applied to the Settings box (anything unreadable: the index's own)."""
    saved = saved if isinstance(saved, dict) else {}
    k, threshold, sets = saved.get("k"), saved.get("threshold"), saved.get("sets")
    config = STATE.index.config.answer
    return (
        gr.update(value=k if isinstance(k, int) and K_CHOICES[0] <= k <= K_CHOICES[1] else config.k),
        gr.update(value=threshold if isinstance(threshold, float | int) and 0 <= threshold <= 1 else config.threshold),
        gr.update(choices=sorted(sets, key=str.casefold)) if isinstance(sets, dict) else gr.update(),
    )


def on_keep_settings(saved: dict[str, Any] | None, k: float, threshold: float) -> dict[str, Any]:
    return {**(saved if isinstance(saved, dict) else {}), "k": int(k), "threshold": float(threshold)}


def _settings_events(settings: Settings, documents: gr.Dropdown, sources: gr.Dropdown) -> gr.BrowserState:
    saved = gr.BrowserState({}, storage_key=SETTINGS_KEY, secret=SETTINGS_SECRET)
    settings.save_set.click(on_save_set, [saved, settings.set_name, documents, sources],
                            [saved, settings.sets, settings.said], api_visibility="private")  # fmt: skip
    settings.sets.input(on_choose_set, [saved, settings.sets], [documents, sources], api_visibility="private")
    for slider in (settings.k, settings.threshold):
        slider.release(on_keep_settings, [saved, settings.k, settings.threshold], saved, api_visibility="private")
    return saved


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
                headers=["Title", "Source", "Sentences", "Added (UTC)", "Encoding"],
                datatype=["str", "str", "number", "str", "str"],
                column_widths=["34%", "17%", "14%", "21%", "14%"],
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
            # A Column, not a Group: Gradio 6 writes a Group's elem_id on two elements (a duplicate id).
            with gr.Column(visible=False, elem_id="rag-confirm-box") as confirm_box:
                question = gr.HTML("", elem_id="rag-confirm-question")
                with gr.Row():
                    confirm = gr.Button("Delete it", variant="stop", size="sm", elem_id="rag-confirm")
                    cancel = gr.Button("Cancel", variant="secondary", size="sm", elem_id="rag-cancel")
            deleted = gr.HTML("", elem_id="rag-delete-message")
            # No file_types: Gradio would refuse other files in a toast that vanishes; the server refuses
            # them instead, each named with its reason in the upload summary.
            upload = gr.File(
                label=f"Add documents: drop files here to index them ({' '.join(SUPPORTED_SUFFIXES)}; "
                f"up to {MAX_UPLOAD_LABEL} each)",
                file_count="multiple",
                elem_id="rag-upload",
            )
            added = gr.HTML("", elem_id="rag-upload-summary")
        with gr.Column(scale=5):
            viewer = gr.HTML(placeholder_html("Select a document to read it."), elem_id="rag-document-view")
    refresh_outputs = [table, doc_ids, summary]
    hide_confirm = gr.update(visible=False)
    selecting = table.select(on_select_document, doc_ids, [viewer, selected, delete], api_visibility="private")
    selecting.then(lambda: ("", hide_confirm), None, [deleted, confirm_box], api_visibility="private")
    selecting.then(None, js=SHOW_DOCUMENT)  # on a phone the reader sits under the upload zone
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
        kept = [asking.settings.k, asking.settings.threshold, asking.settings.sets]
        app.load(on_load_settings, asking.kept_settings, kept, api_visibility="private")
        app.load(on_refresh_documents, None, [table, doc_ids, summary], api_visibility="private")
        choices = ([asking.documents, asking.sources], [asking.documents, asking.sources])
        app.load(on_filter_choices, *choices, api_visibility="private")
        app.load(on_filter_choices, list(looking), list(looking), api_visibility="private")
        documents_tab.select(on_refresh_documents, None, [table, doc_ids, summary], api_visibility="private")
        for event in changed:
            event.then(on_filter_choices, list(looking), list(looking), api_visibility="private")
            event.then(on_filter_choices, *choices, api_visibility="private").then(
                on_mark_stale, [asking.chatbot, asking.answers], asking.chatbot, api_visibility="private"
            ).then(on_reopen, asking.opened, asking.viewer, api_visibility="private").then(
                on_page_image, asking.opened, [asking.printed, asking.original], api_visibility="private"
            )
        ask_tab.select(on_mark_stale, [asking.chatbot, asking.answers], asking.chatbot, api_visibility="private")
        gr.api(ask_api, api_name="ask")
        gr.api(lookup_api, api_name="lookup")
        gr.api(ask_question_api, api_name="ask_question")
        gr.api(lookup_text_api, api_name="lookup_text")
    return app


demo = build_demo()


# --- starting the server ---------------------------------------------------------------


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
    if auth is not None:  # wrong passwords slow down per client address (rag.app_access.LoginLimiter)
        middleware.append(Middleware(LoginLimiter))
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
        try:
            while demo.is_running:
                time.sleep(0.1)
        finally:  # Ctrl-C, SIGTERM (rag.workspace.Terminated)
            stop()


def stop() -> None:
    """Stop serving: refuse new changes to the documents, let the one under way finish, then close."""
    STATE.stop()
    demo.close(verbose=False)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ui.py", description="The rag browser app: ask, look up, manage documents.")
    add_serve_arguments(parser)
    parser.add_argument("--index", default=default_index(), help="index directory (default: $RAG_INDEX or .rag-index)")
    return parser


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def serve(args: argparse.Namespace) -> int:
    """Start the app with the options of ``rag.workspace.add_serve_arguments`` and ``--index``;
    returns the exit code (0 after Ctrl-C, 143 after SIGTERM, 1 on a user error)."""
    with sigterm_as_interrupt():
        try:
            return _serve(args)
        except Terminated:
            print("rag serve: stopped (SIGTERM); no change to the documents was cut off", file=sys.stderr)
            return TERMINATED_STATUS


def _serve(args: argparse.Namespace) -> int:
    try:
        auth = parse_auth(auth_value(args.auth, args.auth_file), args.host)
        hosts = allowed_hosts(args.host, args.allowed_hosts)
        if getattr(args, "ray", None) or getattr(args, "shards", None):  # rag serve --ray ADDRESS --shards N
            index = load_index(args.index, ray=args.ray, shards=args.shards)
        else:
            index = open_or_build(args.index, args.corpus, say=_say)
    except (UsageError, RagError) as error:
        print(f"rag serve: error: {error}", file=sys.stderr)
        return 1
    try:
        launch(index, host=args.host, port=args.port, auth=auth, hosts=hosts)
    except Terminated:
        raise
    except KeyboardInterrupt:
        return 0
    except OSError as error:
        print(f"rag serve: error: cannot listen on {args.host}:{args.port} ({error})", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python ui.py [options]``: start the app; returns the exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
