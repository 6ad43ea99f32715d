"""The Ask tab's handlers: Gradio in, rag's public API and ``rag.app.render`` out.

Asking, editing and retrying, conversations kept in the browser (restored, exported), the [n]
open and copy requests the page sends, the cited PDF page, feedback, and the Settings box.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import gradio as gr

from rag import Answer, Index, RagError
from rag.app import documents as app_documents
from rag.app.handlers import search_filter
from rag.app.pages import page_image
from rag.app.render import (
    NEAREST_SHOWN,
    answer_messages,
    explained,
    filter_choices,
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
from rag.feedback import Rating, feedback_path, record_feedback

logger = logging.getLogger(__name__)


MAX_CHAT_TURNS = 20  # earlier answers passed with a chat question
MAX_QUESTION_CHARS = 2_000  # what Index.ask accepts (rag.answer.queries); longer is refused with a message, not cut
THUMBS = {"up": "\U0001f44d", "down": "\U0001f44e"}
K_CHOICES = (1, 10)  # the most quotes an answer may have, as the Settings slider offers it


# --- asking ----------------------------------------------------------------------------


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
    index = app_documents.STATE.index
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
        history = conversation_history(app_documents.STATE.index, answers)
    except (ValueError, TypeError, KeyError, RagError) as error:
        logger.warning("a saved conversation could not be read: %s", error)
        return (
            *unchanged,
            status_html("This saved conversation could not be read; it was left as it is.", warning=True),
        )
    if not answers:
        return ([], [], gr.update(visible=False), gr.update(visible=False), gr.update(), gr.update(), "")
    last = answer_from_dict(answers[-1])
    viewer = view_citation(app_documents.STATE.index, last.citations[0]) if last.citations else placeholder_html(
        "No citation to open: the documents do not answer this question.")  # fmt: skip
    markdown_file, json_file = write_conversation(answers)
    return (history, answers, gr.update(value=viewer, visible=True), gr.update(visible=True), markdown_file,
            json_file, "")  # fmt: skip


def on_edit_last(answers: list[dict[str, Any]]) -> tuple[Any, ...]:
    """Put the last question back in the box to edit, and take its answer out of the conversation."""
    if not answers:
        return gr.update(), gr.update(), answers, status_html("There is no question to edit yet.")
    kept = answers[:-1]
    return answers[-1]["question"], conversation_history(app_documents.STATE.index, kept), kept, ""


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
    history = conversation_history(app_documents.STATE.index, kept)
    return on_ask(answers[-1]["question"], history, kept, documents, sources, k, threshold)


def _turns(answers: Sequence[dict[str, Any]]) -> list[Answer]:
    return [answer_from_dict(a) for a in answers]


def write_conversation(answers: Sequence[dict[str, Any]]) -> tuple[Any, Any]:
    """The conversation as Markdown and JSON files to download (one folder per content, never overwritten)."""
    turns = _turns(answers)
    as_json = conversation_json(turns)
    folder = app_documents.STATE.folder("exports") / hashlib.sha256(as_json.encode()).hexdigest()[:24]
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
    return gr.update(value=view_citation(app_documents.STATE.index, answer.citations[number - 1]), visible=True)


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
    """The cited PDF page as printed, the quote highlighted (``rag.app.pages``), and the original file
    to open or download; both hidden for other documents, or when the file changed or went."""
    hidden = (gr.update(visible=False, value=None), gr.update(visible=False))
    if opened is None:
        return hidden
    citation = citation_from_dict(opened)
    index = app_documents.STATE.index
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
    copy = app_documents.STATE.folder("exports") / citation.content_hash[:24]  # one copy per content, never overwritten
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
    return gr.update() if opened is None else view_citation(app_documents.STATE.index, citation_from_dict(opened))


def on_copy_request(request: str, answers: list[dict[str, Any]]) -> str:
    parsed = parse_request(request, answers)
    if parsed is None or parsed[0] == "open":
        return ""
    return copy_text(*parsed)


def rating_of(liked: Any) -> Rating:
    """The rating a click on a thumb means: Gradio sends True/"Like", False/"Dislike", and an empty
    value when the thumb that was on is clicked again (taken back: a retraction, never a thumbs down)."""
    if liked is True or liked == "Like":
        return "up"
    if liked is False or liked == "Dislike":
        return "down"
    return "retracted"


def save_judgement(answers: Sequence[dict[str, Any]], number: int, rating: Rating, reason: str = "",
                   comment: str = "") -> tuple[str, bool]:  # fmt: skip
    """Append a judgement of answer ``number``; the status line to show, and whether it was saved."""
    path = feedback_path(app_documents.STATE.index.path)
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
    return mark_stale(app_documents.STATE.index, history or [], answers or [])


def on_clear() -> tuple[Any, ...]:
    viewer = gr.update(value=view_citation(app_documents.STATE.index, None), visible=False)
    return [], [], viewer, gr.update(visible=False), ""


def on_hide_feedback() -> tuple[Any, ...]:
    """No judgement to undo or explain once the conversation shown is another one."""
    return None, gr.update(visible=False), gr.update(visible=False)


# --- settings --------------------------------------------------------------------------


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
    document_choices, source_choices = filter_choices(app_documents.STATE.index)
    ids = {value for _, value in document_choices}
    return (
        gr.update(value=[d for d in chosen.get("documents", []) if d in ids]),
        gr.update(value=[s for s in chosen.get("sources", []) if s in source_choices]),
    )


def on_load_settings(saved: dict[str, Any] | None) -> tuple[Any, ...]:
    """The settings the browser kept, applied to the Settings box (anything unreadable: the index's own)."""
    saved = saved if isinstance(saved, dict) else {}
    k, threshold, sets = saved.get("k"), saved.get("threshold"), saved.get("sets")
    config = app_documents.STATE.index.config.answer
    return (
        gr.update(value=k if isinstance(k, int) and K_CHOICES[0] <= k <= K_CHOICES[1] else config.k),
        gr.update(value=threshold if isinstance(threshold, float | int) and 0 <= threshold <= 1 else config.threshold),
        gr.update(choices=sorted(sets, key=str.casefold)) if isinstance(sets, dict) else gr.update(),
    )


def on_keep_settings(saved: dict[str, Any] | None, k: float, threshold: float) -> dict[str, Any]:
    return {**(saved if isinstance(saved, dict) else {}), "k": int(k), "threshold": float(threshold)}
