"""The app's HTTP API: ask and lookup as JSON, for ``gradio_client`` and curl (docs/http-api.md).

Each function is registered by ``rag.app_layout`` with ``gr.api``; it reads the index the app
serves (``rag.app_documents.STATE``) and turns a user's mistake into a ``gr.Error`` with its message.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import gradio as gr

from rag import RagError, app_documents
from rag.app_render import explained

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
        return asdict(explained(app_documents.STATE.index.ask(question, history=history or (), where=where)))
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
        return [asdict(match) for match in app_documents.STATE.index.lookup(text, where=where)]
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
