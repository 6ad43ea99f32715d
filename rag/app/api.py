"""The app's HTTP API: ask and lookup as JSON, for ``gradio_client`` and curl (docs/http-api.md).

Each function is registered by ``rag.app.layout`` with ``gr.api``; it reads the index the app
serves (``rag.app.documents.STATE``) and turns a user's mistake into a ``gr.Error`` with its message.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import gradio as gr

from rag import RagError
from rag.app import documents as app_documents
from rag.app.render import explained
from rag.errors import QueryError

logger = logging.getLogger(__name__)

# --- the API: ask and lookup as JSON for gradio_client ----------------------------------

# The names the CLI and the Python API use for a filter (``where``) are the HTTP API's too. The names of
# the first HTTP API (documents, folders, sources) still work for this release, as deprecated aliases,
# last in each signature so the positions of the others stay as they were (docs/http-api.md).
DEPRECATED_NAMES = {"documents": "doc", "folders": "folder", "sources": "source"}
_warned: set[str] = set()


def api_filter(given: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The ``where`` of an API call from its filter's fields (None: every document), the deprecated
    names (``documents``, ``folders``, ``sources``) read as their new ones; unknown names are left for
    ``Index.ask`` to refuse with the list of known ones.

    Raises:
        QueryError: ``given`` is not a mapping, or it gives an old name and its new one both.
    """
    if given is None:
        return None
    if not isinstance(given, Mapping):
        raise QueryError(f'where must be a JSON object such as {{"folder": ["news"]}}, got {type(given).__name__}')
    where: dict[str, Any] = {}
    for name, value in given.items():
        new = DEPRECATED_NAMES.get(name, name)
        if value in (None, "", [], ()):
            continue
        if new != name:
            if given.get(new):
                raise QueryError(f"give {new} or {name} (its old, deprecated name), not both")
            if name not in _warned:  # once per process: the operator learns that a client still uses it
                _warned.add(name)
                logger.warning("an API call used %r, a deprecated name for %r (it goes in the next release)", name, new)
        where[new] = value
    return where or None


def ask_api(
    question: str,
    history: list[dict[str, Any]] | None = None,
    doc: list[str] | None = None,
    folder: list[str] | None = None,
    source: list[str] | None = None,
    since: str = "",
    until: str = "",
    documents: list[str] | None = None,
    folders: list[str] | None = None,
    sources: list[str] | None = None,
) -> dict[str, Any]:
    """Answer a question with sentences quoted from the documents, or abstain with a reason.

    Args:
        question: A question in plain words.
        history: The earlier answers of the same conversation as this endpoint returned them,
            oldest first; a follow-up's "it", "he", "And in 2019?" are resolved from them.
        doc: Search only these documents (ids: paths relative to the corpus).
        folder: Search only documents under these corpus folders.
        source: Search only documents from these sources.
        since: Search only documents dated on or after this day (YYYY, YYYY-MM or YYYY-MM-DD).
        until: Search only documents dated on or before this day.
        documents: Deprecated name of doc (kept for this release).
        folders: Deprecated name of folder (kept for this release).
        sources: Deprecated name of source (kept for this release).

    Returns:
        The Answer as JSON: question, searched_for, abstained, reason, confidence, threshold,
        citations, candidates, parts.
    """
    try:
        where = api_filter({"doc": doc, "folder": folder, "source": source, "since": since, "until": until,
                            "documents": documents, "folders": folders, "sources": sources})  # fmt: skip
        return asdict(explained(app_documents.STATE.index.ask(question, history=history or (), where=where)))
    except RagError as error:
        raise gr.Error(str(error)) from None


def lookup_api(
    text: str,
    doc: list[str] | None = None,
    folder: list[str] | None = None,
    source: list[str] | None = None,
    since: str = "",
    until: str = "",
    documents: list[str] | None = None,
    folders: list[str] | None = None,
    sources: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Find where each sentence of a quote, claim or paragraph comes from.

    Args:
        text: A quote, a claim, or whole paragraphs.
        doc: Look only in these documents (ids: paths relative to the corpus).
        folder: Look only in documents under these corpus folders.
        source: Look only in documents from these sources.
        since: Look only in documents dated on or after this day (YYYY, YYYY-MM or YYYY-MM-DD).
        until: Look only in documents dated on or before this day.
        documents: Deprecated name of doc (kept for this release).
        folders: Deprecated name of folder (kept for this release).
        sources: Deprecated name of source (kept for this release).

    Returns:
        One Match per sentence as JSON: query, kind (exact / near-exact / paraphrase / altered / unsupported),
        score, citation (None when unsupported), nearest, reason (one line) and differences (for altered:
        each with its kind and the claim's and the source's words and spans).
    """
    try:
        where = api_filter({"doc": doc, "folder": folder, "source": source, "since": since, "until": until,
                            "documents": documents, "folders": folders, "sources": sources})  # fmt: skip
        return [asdict(match) for match in app_documents.STATE.index.lookup(text, where=where)]
    except RagError as error:
        raise gr.Error(str(error)) from None


def ask_question_api(question: str) -> dict[str, Any]:
    """Answer a question over every document: ``ask`` with only its question, for a short HTTP call.

    Gradio's ``/gradio_api/call/ask`` wants every input of ``ask`` (ten) and answers a shorter
    call with an empty error; this one takes ``{"data": [question]}`` (docs/http-api.md).
    """
    return ask_api(question)


def lookup_text_api(text: str) -> list[dict[str, Any]]:
    """Find where each sentence of ``text`` comes from, in every document: ``lookup`` with only its text."""
    return lookup_api(text)


def ask_where_api(question: str, where: dict[str, Any] | None = None) -> dict[str, Any]:
    """Answer a question in the documents ``where`` chooses, named as the CLI and the Python API name them.

    Args:
        question: A question in plain words.
        where: A JSON object with any of doc, folder, source (lists, or one string) and since, until
            (YYYY, YYYY-MM or YYYY-MM-DD), e.g. {"folder": ["news"], "since": "2024"}; empty: every document.

    Returns:
        The Answer as JSON, as ``ask`` returns it.
    """
    try:
        chosen = api_filter(where)
        return asdict(explained(app_documents.STATE.index.ask(question, where=chosen)))
    except RagError as error:
        raise gr.Error(str(error)) from None


def lookup_where_api(text: str, where: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Find where each sentence of ``text`` comes from, in the documents ``where`` chooses (as ``ask_where``).

    Args:
        text: A quote, a claim, or whole paragraphs.
        where: A JSON object with any of doc, folder, source, since, until, e.g. {"doc": ["seed-article.md"]}.

    Returns:
        One Match per sentence as JSON, as ``lookup`` returns them.
    """
    try:
        chosen = api_filter(where)
        return [asdict(match) for match in app_documents.STATE.index.lookup(text, where=chosen)]
    except RagError as error:
        raise gr.Error(str(error)) from None
