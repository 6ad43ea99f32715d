"""Thumbs up and down on answers: appended to a JSONL file beside the index, read back as labelled questions.

Each line is one judgement, and a question's latest judgement is the one that counts (``rag eval``
reads it so). Those that label a question the way ``rag eval`` reads them carry ``"answer"``: a
thumbs up on an answer labels it with the first quoted sentence (the text a cited sentence must
contain); a thumbs up on an abstention labels the question as one to abstain on (``null``). A
thumbs down says only that the outcome was wrong, not what is right, so it is kept (for a person
to read, with its optional reason and comment) without an ``"answer"``. A retraction (the thumb
taken back, or Undo) is recorded as ``"retracted"``: it labels nothing and cancels what came before.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Literal

from rag.errors import RagError
from rag.export import one_line, where
from rag.types import Answer

Rating = Literal["up", "down", "retracted"]
RATINGS = ("up", "down", "retracted")
# What a thumbs down can say was wrong (the app offers these; "other" wants the comment).
REASONS = ("wrong source", "doesn't answer", "other")
MAX_COMMENT_CHARS = 2_000
FEEDBACK_SUFFIX = ".feedback.jsonl"
_WRITING = threading.Lock()


def feedback_path(index_dir: str | Path) -> Path:
    """Where judgements of answers from the index at ``index_dir`` go: ``<index_dir>.feedback.jsonl`` beside it."""
    index_dir = Path(index_dir)
    return index_dir.with_name(index_dir.name + FEEDBACK_SUFFIX)


def feedback_record(answer: Answer, rating: Rating, *, reason: str = "", comment: str = "") -> dict[str, Any]:
    """One line of the feedback file for ``rating`` given to ``answer`` (a thumbs down may say why)."""
    if rating not in RATINGS:
        raise ValueError(f"a rating is 'up' or 'down' (or 'retracted'), not {rating!r}")
    if reason and reason not in REASONS:
        raise ValueError(f"a reason is one of {', '.join(REASONS)}, not {reason!r}")
    record: dict[str, Any] = {
        "question": answer.question,
        "rating": rating,
        "abstained": answer.abstained,
        "cited": [
            {"text": one_line(c.text), "doc_id": c.doc_id, "where": where(c), "content_hash": c.content_hash}
            for c in answer.citations
        ],
        "confidence": answer.confidence,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if rating == "up":
        record["answer"] = None if answer.abstained else answer.citations[0].text
    if reason:
        record["reason"] = reason
    if comment.strip():
        record["comment"] = comment.strip()[:MAX_COMMENT_CHARS]
    return record


def record_feedback(
    path: str | Path, answer: Answer, rating: Rating, *, reason: str = "", comment: str = ""
) -> dict[str, Any]:
    """Append the judgement of ``answer`` to the JSONL file at ``path`` (created if missing); returns the line.

    Raises:
        RagError: The file cannot be written (a folder in its place, no space, read-only); the
            message names the file and the reason.
    """
    record = feedback_record(answer, rating, reason=reason, comment=comment)
    line = json.dumps(record, ensure_ascii=False) + "\n"
    try:
        with _WRITING, open(path, "a", encoding="utf-8") as file:
            file.write(line)
            file.flush()
            os.fsync(file.fileno())
    except OSError as error:
        raise RagError(f"cannot write {path}: {error.strerror or error}") from None
    return record
