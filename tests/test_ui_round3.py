"""The app's third round, without a browser: what a deleted source does to earlier answers, feedback
taken back or not saved, questions not in English, the answer's words inside a quote, conversations
rebuilt from what the browser kept, edit and retry, and the small wording fixes."""

from __future__ import annotations

import html
import json
from pathlib import Path

import gradio as gr
import pytest

from rag import Index
from rag.app import api as app_api
from rag.app import chat as app_chat
from rag.app import documents as app_documents
from rag.app import render as app_render
from rag.app import render_lookup as app_render_lookup
from rag.evaluation import load_questions
from rag.export import answer_from_dict
from tests import test_ui
from tests.helpers import assert_citations
from tests.test_ui import CHIP_QUESTION, GOLD, OFF_TOPIC

index, holder = test_ui.index, test_ui.holder  # the fixtures of the first round's tests

SPANISH = "\u00bfCu\u00e1nto dinero quiere recaudar el nuevo fondo de chips?"


def ask(monkeypatch, index: Index, *questions: str) -> tuple[list, list]:
    monkeypatch.setattr(app_documents, "STATE", app_documents.IndexHolder(index))
    history, answers = [], []
    for question in questions:
        _, history, answers, *_ = app_chat.on_ask(question, history, answers)
    return history, answers


def as_gradio_6(history: list[dict]) -> list[dict]:
    """The chat as Gradio 6 hands it back to a handler: each message's content a list of text parts."""
    return [{**m, "content": [{"type": "text", "text": m["content"]}]} for m in history]


def test_a_deleted_source_marks_the_answer_and_keeps_its_text(
    holder: app_documents.IndexHolder, tmp_path: Path, monkeypatch
) -> None:
    note = tmp_path / "harbour.md"
    note.write_text("# Harbour\n\nThe harbour crane fund will raise 12 million dollars.\n", encoding="utf-8")
    app_documents.add_uploads(holder, [note], tmp_path / "staging")
    monkeypatch.setattr(app_documents, "STATE", holder)
    _, history, answers, *_ = app_chat.on_ask("How much will the harbour crane fund raise?", [], [])
    reply = history[1]["content"]
    app_documents.remove_document(holder, "uploads/harbour.md")
    marked = app_chat.on_mark_stale(as_gradio_6(history), answers)
    text = marked[1]["content"]
    assert isinstance(text, str) and text.startswith(reply)  # the answer as it was, unchanged
    assert "'type': 'text'" not in text and "[{" not in text
    assert "rag-stale" in text and "no longer in the index" in text
    assert app_chat.on_mark_stale(marked, answers) == marked  # marked once


def like(history: list, answers: list, position: int, liked: object) -> tuple:
    return app_chat.on_feedback(history, answers, gr.LikeData(None, {"index": position, "value": "", "liked": liked}))


def test_a_thumb_taken_back_is_a_retraction_and_rag_eval_reads_the_latest(index: Index, monkeypatch) -> None:
    history, answers = ask(monkeypatch, index, CHIP_QUESTION, OFF_TOPIC)
    path = index.path.with_name(index.path.name + ".feedback.jsonl")
    path.unlink(missing_ok=True)
    status, last, undo, reason = like(history, answers, 1, True)
    assert "saved to index.feedback.jsonl" in status and last == {"number": 1, "rating": "up"} and undo["visible"]
    status, last, undo, _ = like(history, answers, 1, "")  # the same thumb clicked again: taken back
    assert "taken back" in status and last is None and not undo["visible"]
    like(history, answers, 4, True)
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [(r["question"], r["rating"]) for r in lines] == [
        (CHIP_QUESTION, "up"), (CHIP_QUESTION, "retracted"), (OFF_TOPIC, "up")
    ]  # fmt: skip
    assert "answer" not in lines[1]
    assert [(q.question, q.answer) for q in load_questions(path)] == [(OFF_TOPIC, None)]  # the retracted up is gone
    like(history, answers, 4, False)  # changed to a thumbs down: the latest judgement counts
    assert load_questions(path) == []
    status, last, undo, reason = like(history, answers, 1, "Like")
    assert [(q.question, q.answer) for q in load_questions(path)] == [(CHIP_QUESTION, GOLD)]
    status, last, undo, reason = app_chat.on_undo_feedback(answers, last)  # Undo: also a retraction
    assert "taken back" in status and last is None and load_questions(path) == []
    path.unlink()


def test_a_thumbs_down_takes_a_reason_and_a_comment(index: Index, monkeypatch) -> None:
    history, answers = ask(monkeypatch, index, CHIP_QUESTION)
    path = index.path.with_name(index.path.name + ".feedback.jsonl")
    path.unlink(missing_ok=True)
    status, last, undo, reason_box = like(history, answers, 1, False)
    assert reason_box["visible"] and last == {"number": 1, "rating": "down"}
    status, *_ = app_chat.on_feedback_reason(answers, last, None, "  ")
    assert "Choose what was wrong" in status
    status, box, comment = app_chat.on_feedback_reason(
        answers, last, "wrong source", "It quotes Reuters, not the fund."
    )
    assert "wrong source" in status and not box["visible"] and comment["value"] == ""
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert lines[-1]["rating"] == "down" and lines[-1]["reason"] == "wrong source"
    assert lines[-1]["comment"] == "It quotes Reuters, not the fund." and "answer" not in lines[-1]
    path.unlink()


def test_a_feedback_file_that_cannot_be_written_is_named_inline_with_the_reason(index: Index, monkeypatch) -> None:
    history, answers = ask(monkeypatch, index, CHIP_QUESTION)
    path = index.path.with_name(index.path.name + ".feedback.jsonl")
    path.unlink(missing_ok=True)
    path.mkdir()  # a folder where the file should be
    try:
        status, last, undo, _ = like(history, answers, 1, True)
    finally:
        path.rmdir()
    assert "rag-warning" in status and "was not saved" in status
    assert str(path) in status and "Is a directory" in status
    assert last is None and not undo["visible"]


def test_a_question_not_in_english_says_so(index: Index, monkeypatch) -> None:
    from rag.text.language import detect_language, not_english_reason

    assert detect_language(SPANISH) == "Spanish"
    assert (
        detect_language("\u4e2d\u56fd\u7684\u82af\u7247\u57fa\u91d1\u8981\u7b79\u96c6\u591a\u5c11\u94b1\uff1f")
        == "Chinese"
    )
    assert detect_language("Wie viel Geld will der neue Chipfonds aufbringen?") == "German"
    for english in (CHIP_QUESTION, OFF_TOPIC, "Who founded the Casa de la Musica?", "Why?", "And in 2019?", "Huawei"):
        assert detect_language(english) is None, english
    _, answers = ask(monkeypatch, index, SPANISH)
    assert answers[0]["abstained"] and answers[0]["reason"].startswith(not_english_reason(SPANISH))
    assert answers[0]["reason"].startswith("rag matches English questions; this looks like Spanish:")
    assert app_api.ask_api(SPANISH)["reason"] == answers[0]["reason"]  # the API says the same


def test_the_words_answering_the_question_are_marked_inside_the_quote(index: Index, monkeypatch) -> None:
    from rag.answer.spans import answer_spans

    spans = answer_spans(CHIP_QUESTION, GOLD)
    assert [GOLD[a:b] for a, b in spans] == ["$40 billion"]
    when = "Divers surveyed the reefs at Lizard Island between January and April 2024."
    assert [when[a:b] for a, b in answer_spans("When did divers survey the reefs?", when)] == ["January", "April 2024"]
    who = "The fund is spearheaded by the China Integrated Circuit Industry Investment Fund."
    assert [who[a:b] for a, b in answer_spans("Who spearheads it?", who)] == [
        "China Integrated Circuit Industry Investment Fund"
    ]
    assert answer_spans("What is the fund for?", GOLD) == []  # no such type: nothing marked
    history, answers = ask(monkeypatch, index, CHIP_QUESTION)
    assert_citations(index, [answer_from_dict(answers[0]).citations[0]])
    assert f'<strong class="rag-answer">{app_render.markdown_text("$40 billion")}</strong>' in history[1]["content"]


def test_a_marker_carries_its_preview(index: Index, monkeypatch) -> None:
    history, answers = ask(monkeypatch, index, CHIP_QUESTION)
    reply = history[1]["content"]
    marker = reply[reply.index('<button type="button" class="rag-cite rag-q1-c1"') : reply.index("&#91;1&#93;")]
    data = json.loads(html.unescape(marker[marker.index('value="') + 7 : marker.rindex('"')]))
    assert data["title"].startswith("China steps up its push") and data["meta"].startswith("cgtn.com")
    assert data["quote"] == GOLD and (data["before"] or data["after"])  # some of the passage around it
    assert "rag-preview" not in reply  # no hidden copy of the passage in the chat's text


def test_nearest_passages_are_distinct_and_never_score_nothing(index: Index, monkeypatch) -> None:
    _, answers = ask(monkeypatch, index, "What is the boiling point of water?")
    answer = answer_from_dict(answers[0])
    assert answer.abstained
    shown = app_render.nearest_passages(answer)
    places = [(c.doc_id, c.context_start) for c in shown]
    assert len(places) == len(set(places)) and all(c.score > 0 for c in shown)
    assert "score 0.00" not in app_render.sources_markdown(answer)


def test_empty_and_too_long_questions_get_a_hint_and_lose_nothing(index: Index, monkeypatch) -> None:
    monkeypatch.setattr(app_documents, "STATE", app_documents.IndexHolder(index))
    box, history, answers, *_, status = app_chat.on_ask("   ", [], [])
    assert box == {"__type__": "update"} and history == [] and "Type a question first" in status
    long = "How much money does the fund raise? " * 140
    box, history, answers, *_, status = app_chat.on_ask(long, [], [])
    assert box == {"__type__": "update"} and history == [] and answers == []  # the box keeps it
    assert f"{len(long.strip()):,} characters" in status and "2,000" in status


def test_a_kept_conversation_is_rebuilt_and_a_bad_one_changes_nothing(index: Index, monkeypatch) -> None:
    history, answers = ask(monkeypatch, index, CHIP_QUESTION, "When was it set up?", OFF_TOPIC)
    kept = app_chat.saved_answers(answers)
    assert all(a["candidates"] == [] for a in json.loads(kept) if not a["abstained"])
    shown, restored, viewer, export, _, _, status = app_chat.on_restore("1712\n" + kept)
    assert [m["content"] for m in shown] == [m["content"] for m in history] and status == ""
    assert [a["question"] for a in restored] == [CHIP_QUESTION, "When was it set up?", OFF_TOPIC]
    assert viewer["visible"] and export["visible"]
    for bad in ("1712\nnot json", '1712\n{"a": 1}', '1712\n[{"question": 3}]', ""):
        *unchanged, status = app_chat.on_restore(bad)
        assert all(u == {"__type__": "update"} for u in unchanged) and "could not be read" in status, bad


def test_edit_and_retry_the_last_question(index: Index, monkeypatch) -> None:
    history, answers = ask(monkeypatch, index, CHIP_QUESTION, OFF_TOPIC)
    box, shown, kept, status = app_chat.on_edit_last(answers)
    assert box == OFF_TOPIC and [a["question"] for a in kept] == [CHIP_QUESTION] and len(shown) == 3
    _, shown, again, *_ = app_chat.on_retry_last(history, answers, None, None, 1, 0.0)  # k 1, threshold 0
    assert [a["question"] for a in again] == [CHIP_QUESTION, OFF_TOPIC] and len(shown) == 6
    assert len(again[-1]["citations"]) == 1 and again[-1]["threshold"] == 0.0  # the settings applied
    assert "no question" in app_chat.on_edit_last([])[-1] and "no question" in app_chat.on_retry_last([], [])[-1]


def test_settings_and_saved_document_sets(index: Index, monkeypatch) -> None:
    monkeypatch.setattr(app_documents, "STATE", app_documents.IndexHolder(index))
    k, threshold, sets = app_chat.on_load_settings(None)
    assert k["value"] == index.config.answer.k and threshold["value"] == index.config.answer.threshold
    _, _, said = app_chat.on_save_set({}, "Nameless", [], [])
    assert "Choose documents or sources" in said
    saved, choices, said = app_chat.on_save_set({}, " Chip  news ", ["seed-article.md"], [])
    assert "Saved" in said
    assert saved["sets"] == {"Chip news": {"documents": ["seed-article.md"], "sources": []}}
    assert choices["choices"] == ["Chip news"]
    documents, sources = app_chat.on_choose_set(saved, "Chip news")
    assert documents["value"] == ["seed-article.md"] and sources["value"] == []
    saved = app_chat.on_keep_settings(saved, 5, 0.4)
    k, threshold, sets = app_chat.on_load_settings(saved)
    assert k["value"] == 5 and threshold["value"] == 0.4 and sets["choices"] == ["Chip news"]


def test_one_sentence_is_singular_and_lookup_scores_agree(index: Index) -> None:
    document = index.document("seed-article.md")
    assert "1 sentence<" in app_render.document_header_html(document, 1) + "<"
    view = app_render_lookup.lookup_view(index, GOLD)
    assert f"score {view.rows[0][4]}" in view.details[0]  # the table's score and the detail's are one


@pytest.mark.parametrize("content", ["plain", [{"type": "text", "text": "plain"}], {"type": "text", "text": "plain"}])
def test_message_text_reads_every_shape_gradio_uses(content: object) -> None:
    assert app_render.message_text(content) == "plain"


def test_a_pdf_citation_opens_its_page_as_printed_and_nothing_outside_the_corpus(
    holder: app_documents.IndexHolder, tmp_path: Path, monkeypatch
) -> None:
    pypdf = pytest.importorskip("pypdf")
    from rag.app.pages import page_image

    writer = pypdf.PdfWriter()  # a one-page PDF with no text: the page renders, the quote is not found on it
    writer.add_blank_page(width=300, height=400)
    blank = tmp_path / "blank.pdf"
    with blank.open("wb") as out:
        writer.write(out)
    shown = page_image(blank, 1, "Nothing is written here.")
    assert shown.image.size == (450, 600) and not shown.marked  # 1.5 pixels per point
    with pytest.raises(ValueError, match="has 1 page, not a page 2"):
        page_image(blank, 2, "x")

    monkeypatch.setattr(app_documents, "STATE", holder)
    _, _, answers, *_ = app_chat.on_ask(CHIP_QUESTION, [], [])
    cited = answers[0]["citations"][0]
    assert app_chat.on_page_image(cited)[0]["visible"] is False  # not a PDF: no page image
    assert app_chat.on_page_image(None)[0]["visible"] is False
    outside = tmp_path / "outside.pdf"
    outside.write_bytes(blank.read_bytes())
    (Path(holder.index.corpus) / "link.pdf").symlink_to(outside)
    for doc_id in ("link.pdf", "../outside.pdf"):  # a link out of the corpus, a path out of it
        image, original = app_chat.on_page_image({**cited, "doc_id": doc_id, "page": 1})
        assert image["visible"] is False and original["visible"] is False, doc_id
