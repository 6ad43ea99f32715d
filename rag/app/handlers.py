"""The Lookup and Documents tabs' handlers, and the "Search in" filter both tabs share."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gradio as gr

from rag import RagError
from rag.app import documents as app_documents
from rag.app.documents import add_uploads, remove_document
from rag.app.render import (
    document_html,
    document_rows,
    filter_choices,
    filter_label,
    html_text,
    index_summary,
    placeholder_html,
)
from rag.app.render_lookup import lookup_view


def _user_error(error: RagError) -> gr.Error:
    return gr.Error(str(error))


def search_filter(documents: Sequence[str] | None, sources: Sequence[str] | None) -> dict[str, list[str]] | None:
    """The ``where`` of a search from the Ask tab's choices (None: every document)."""
    where = {name: list(values) for name, values in (("doc", documents), ("source", sources)) if values}
    return where or None


def on_filter_label(documents: list[str] | None, sources: list[str] | None) -> Any:
    return gr.update(label=filter_label(documents, sources))


def on_filter_choices(documents: list[str] | None, sources: list[str] | None) -> tuple[Any, Any]:
    """Refresh the filter's choices; choices that went away are dropped from the selection."""
    document_choices, source_choices = filter_choices(app_documents.STATE.index)
    ids = {value for _, value in document_choices}
    return (
        gr.update(choices=document_choices, value=[d for d in documents or [] if d in ids]),
        gr.update(choices=source_choices, value=[s for s in sources or [] if s in source_choices]),
    )


def on_lookup(text: str, documents: list[str] | None = None, sources: list[str] | None = None) -> tuple[Any, ...]:
    if not (text or "").strip():  # a user's slip, not an error: a hint where the results go
        hint = placeholder_html("Paste or type some text to look up first (a quote, a claim or a paragraph).")
        return gr.update(), gr.update(), hint, gr.update(), gr.update(), gr.update(), gr.update()
    try:
        view = lookup_view(app_documents.STATE.index, text or "", search_filter(documents, sources))
    except RagError as error:
        raise _user_error(error) from None
    # One folder per result (by its hash), so the same lookup twice writes nothing new.
    export_dir = app_documents.STATE.folder("exports") / hashlib.sha256(view.json.encode()).hexdigest()[:24]
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


def on_select_row(details: list[str], event: gr.SelectData) -> Any:
    row = event.index[0] if isinstance(event.index, list | tuple) else event.index
    if not isinstance(row, int) or not 0 <= row < len(details):
        return gr.update()
    return details[row]


def on_refresh_documents() -> tuple[Any, ...]:
    index = app_documents.STATE.index
    rows, doc_ids = document_rows(index)
    return rows, doc_ids, index_summary(index)


def on_select_document(doc_ids: list[str], event: gr.SelectData) -> tuple[Any, ...]:
    row = event.index[0] if isinstance(event.index, list | tuple) else event.index
    if not isinstance(row, int) or not 0 <= row < len(doc_ids):
        return gr.update(), None, gr.update(interactive=False)
    index = app_documents.STATE.index
    doc_id = doc_ids[row]
    try:
        document = index.document(doc_id)
    except RagError as error:
        return placeholder_html(str(error)), None, gr.update(interactive=False)
    sentences = len(index.sentences(doc_id))
    return document_html(document, sentences=sentences), doc_id, gr.update(interactive=True)


def on_upload(files: list[str] | None, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
    try:
        summary = add_uploads(app_documents.STATE, files or [], app_documents.STATE.folder("staging"), progress)
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
        title = app_documents.STATE.index.document(doc_id).title
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
            message = placeholder_html(remove_document(app_documents.STATE, doc_id))
        except RagError as error:
            message = placeholder_html(f"Not deleted: {error}")
    rows, doc_ids, summary = on_refresh_documents()
    hidden = gr.update(visible=False)
    return message, rows, doc_ids, summary, None, placeholder_html("Select a document to read it."), hidden
