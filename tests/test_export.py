"""Answers as text to paste (quotes, footnotes, conversations) and feedback lines, without an index."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from rag.export import (
    answer_footnotes,
    answer_from_dict,
    answer_quotes,
    citation_footnote,
    conversation_json,
    conversation_markdown,
    quote_with_citation,
)
from rag.feedback import feedback_path, feedback_record, record_feedback
from rag.types import Answer, Citation, Source

PDF_TEXT = "Reefs were surveyed between January and\nApril 2024 by [divers](x)."
CITED = Citation(
    text=PDF_TEXT, doc_id="uploads/survey.pdf", title="Coral *survey*", source="Reef Trust", start=299, end=299 + 66,
    score=0.61, page=2, content_hash="ab" * 32, also_in=(Source("copy.md", "Copy", "", 0, 65),),
)  # fmt: skip
ANSWER = Answer("When were reefs surveyed?", False, "ok", 0.61, 0.4, (CITED, CITED), (CITED,))
ABSTAINED = Answer("Who won?", True, "the best sentence scored 0.06, below the threshold 0.40", 0.06, 0.4, (), (CITED,))


def test_a_quote_is_one_line_with_page_and_span() -> None:
    quote = quote_with_citation(CITED)
    assert quote == (
        "\u201cReefs were surveyed between January and April 2024 by [divers](x).\u201d \u2014 Coral *survey*, "
        "Reef Trust, uploads/survey.pdf, p. 2, characters 299\u2013365"
    )


def test_a_footnote_escapes_markdown_and_names_the_version_quoted() -> None:
    note = citation_footnote(CITED, 3)
    assert note.startswith(
        "\u201cReefs were surveyed between January and April 2024 by \\[divers\\]\\(x\\).\u201d[^3]\n"
    )
    assert "[^3]: *Coral \\*survey\\**, Reef Trust, uploads/survey.pdf, p. 2, characters 299\u2013365" in note
    assert "(sha256 abababababab)" in note


def test_answers_and_conversations() -> None:
    assert answer_quotes(ANSWER).splitlines()[1].startswith("[2] \u201cReefs")
    assert "do not answer" in answer_quotes(ABSTAINED) and "0.06" in answer_quotes(ABSTAINED)
    notes = answer_footnotes(ANSWER, first=4)
    assert "[^4]" in notes and "[^5]:" in notes and "[^1]" not in notes
    markdown = conversation_markdown([ANSWER, ABSTAINED, ANSWER])
    assert "## 1. When were reefs surveyed?" in markdown and "## 2. Who won?" in markdown
    assert "[^3]:" in markdown and "[^4]:" in markdown  # numbered through the conversation
    turns = json.loads(conversation_json([ANSWER, ABSTAINED]))
    assert turns[0]["citations"][0]["content_hash"] == "ab" * 32 and turns[0]["citations"][0]["page"] == 2


def test_answers_come_back_from_their_json() -> None:
    for answer in (ANSWER, ABSTAINED):
        assert answer_from_dict(json.loads(json.dumps(asdict(answer)))) == answer


def test_feedback_lines(tmp_path: Path) -> None:
    assert feedback_path(tmp_path / ".rag-index") == tmp_path / ".rag-index.feedback.jsonl"
    assert feedback_record(ANSWER, "up")["answer"] == PDF_TEXT
    assert feedback_record(ABSTAINED, "up")["answer"] is None
    assert "answer" not in feedback_record(ANSWER, "down")
    with pytest.raises(ValueError, match="'up' or 'down'"):
        feedback_record(ANSWER, "meh")  # type: ignore[arg-type]
    path = tmp_path / "f.jsonl"
    record_feedback(path, ANSWER, "up")
    record_feedback(path, ABSTAINED, "down")
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [(line["question"], line["rating"]) for line in lines] == [
        (ANSWER.question, "up"),
        (ABSTAINED.question, "down"),
    ]
    assert lines[0]["cited"][0]["where"] == "uploads/survey.pdf, p. 2, characters 299\u2013365"
