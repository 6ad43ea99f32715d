"""The browser app's handlers, without a browser: answers, lookups, documents, uploads, escaping.

The last tests start the real app (``python ui.py``, packaged model) in a subprocess and call its
``ask`` and ``lookup`` endpoints with gradio_client.
"""

from __future__ import annotations

import html
import io
import json
import os
import re
import shutil
import socket
import string
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from rag import Index, build_index
from rag.app import access as app_access
from rag.app import api as app_api
from rag.app import chat as app_chat
from rag.app import documents as app_documents
from rag.app import handlers as app_handlers
from rag.app import render as app_render
from rag.app import render_lookup as app_render_lookup
from rag.app import server as app
from rag.errors import IngestError, QueryError, RagError
from rag.ingest import container_reason, read_document
from tests.fakes import FakeEmbedder
from tests.helpers import assert_citations

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
HOSTILE_MD = DATA / "hostile.md"
HOSTILE_TXT = DATA / "ui" / "hostile-plain.txt"
GOLD = (
    "In response, China is launching a new state-backed investment fund aiming to raise over $40 billion "
    "for its semiconductor sector, according to Reuters."
)
CHIP_QUESTION = "How much money does the new chip fund aim to raise?"
OFF_TOPIC = "Who won the 2022 FIFA World Cup?"
HOSTILE = (
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "![x](http://127.0.0.1:9/beacon)",
    "[click](javascript:alert(1))",
)
LEAFLET = (
    "The union leaflet said <script>alert(1)</script> and <img src=x onerror=alert(1)> and "
    "![x](http://127.0.0.1:9/beacon) and [click](javascript:alert(1)) in one line."
)
# The only tags our HTML and Markdown builders write themselves.
OWN_TAGS = re.compile(r"</?(?:mark|br|b|code|div|span|ul|li|a|button|strong)\b[^<>]*>")


def make_corpus(folder: Path, *, hostile: bool = True) -> Path:
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "corpus" / "seed-article.md", folder / "seed-article.md")
    if hostile:
        (folder / "news").mkdir()
        shutil.copy(HOSTILE_MD, folder / "news" / "hostile.md")
        shutil.copy(HOSTILE_TXT, folder / "news" / "hostile-plain.txt")
    return folder


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Index:
    root = tmp_path_factory.mktemp("ui-index")
    return build_index(make_corpus(root / "corpus"), root / "index", embedder=FakeEmbedder())


@pytest.fixture()
def holder(tmp_path: Path) -> app_documents.IndexHolder:
    """A holder over an index of its own, for tests that change the corpus."""
    corpus = make_corpus(tmp_path / "corpus", hostile=False)
    return app_documents.IndexHolder(build_index(corpus, tmp_path / "index", embedder=FakeEmbedder()))


def inert(markup: str) -> str:
    """``markup`` without the tags we write ourselves: what is left must be escaped text."""
    return OWN_TAGS.sub("", markup)


def assert_no_live_html(markup: str) -> None:
    """HTML components: no tag but ours (Markdown syntax is inert there: nothing renders it)."""
    rest = inert(markup)
    assert "<" not in rest and ">" not in rest, rest


def assert_no_live_markup(markdown: str) -> None:
    """The chat renders Markdown: no tag but ours, and no image, link, autolink or emphasis syntax either."""
    assert_no_live_html(markdown)
    rest = re.sub(r"\*\*\[\d+\]\*\*|\*[^*]*\*", "", inert(markdown))  # our own bold numbers and italics
    assert "](" not in rest and "![" not in rest and "://" not in rest, rest
    assert "javascript:" not in rest.lower(), rest


def marked(markup: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r"<mark[^>]*>(.*?)</mark>", markup, re.S)]


# --- escaping ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", [*HOSTILE, LEAFLET, "$$x^2$$ www.example.com http://a.b/c *b* _i_ `c` # h"])
def test_markdown_text_leaves_no_markup_and_reads_back_literally(text: str) -> None:
    made = app_render.markdown_text(text)
    without_entities = re.sub(r"&#\d+;", "", made)
    assert not set(without_entities) & set(string.punctuation), made
    assert html.unescape(made) == " ".join(text.split())


@pytest.mark.parametrize("text", [*HOSTILE, LEAFLET])
def test_html_text_escapes_every_hostile_string(text: str) -> None:
    made = app_render.html_text(text)
    assert "<" not in made and ">" not in made and '"' not in made
    assert html.unescape(made) == text


def test_highlight_html_marks_exactly_the_span_and_escapes_the_rest() -> None:
    text = f"Before {HOSTILE[0]}. {LEAFLET} After {HOSTILE[1]}."
    start = text.index(LEAFLET)
    made = app_render.highlight_html(text, start, start + len(LEAFLET), mark_id="rag-focus")
    assert marked(made) == [LEAFLET]
    assert html.unescape(re.sub(r"</?mark[^>]*>", "", made)) == text
    assert_no_live_html(made)
    with pytest.raises(ValueError, match="outside"):
        app_render.highlight_html(text, 5, len(text) + 1)


def test_highlight_markdown_marks_the_span_in_inert_text() -> None:
    text = f"{HOSTILE[2]} then {LEAFLET} and {HOSTILE[3]}"
    start = text.index(LEAFLET)
    made = app_render.highlight_markdown(text, start, start + len(LEAFLET))
    assert marked(made) == [LEAFLET]
    assert_no_live_markup(made)


def test_markdown_export_escapes_images_links_and_tags() -> None:
    made = app_render.markdown_export_text(LEAFLET)
    assert "\\!\\[x\\]\\(http" in made and "\\<script\\>" in made and "\\[click\\]" in made


def test_links_only_for_http_addresses() -> None:
    assert app_render._safe_link("https://example.com/a?b=1").startswith('<a href="https://example.com/a?b=1"')
    assert "<a" not in app_render._safe_link("javascript:alert(1)")
    assert "<a" not in app_render._safe_link('https://x.org/"onmouseover=alert(1)')


# --- ask -----------------------------------------------------------------------------------


def test_answer_messages_quote_number_and_source_each_citation(index: Index) -> None:
    answer = index.ask(CHIP_QUESTION)
    assert not answer.abstained
    assert_citations(index, answer.citations)
    reply, sources = app_render.answer_messages(answer, 4)
    assert reply["role"] == sources["role"] == "assistant"
    assert sources["metadata"] == {"title": f"Sources ({len(answer.citations)})", "status": "done"}  # collapsed
    assert "options" not in sources  # the [n] markers open citations now
    assert html.unescape(inert(reply["content"])).count("[1]") == 1
    for number, citation in enumerate(answer.citations, start=1):
        marker = f'<button type="button" class="rag-cite rag-q4-c{number}"( value="[^"<>]*")?>'
        marker += f"&#91;{number}&#93;</button>"
        assert re.search(marker, reply["content"]) and re.search(marker, sources["content"])  # reply: with a preview
        assert f"rag-q4-c{number}-quote" in sources["content"] and f"rag-q4-c{number}-note" in sources["content"]
        shown = html.unescape(re.sub(r"<[^>]+>", "", reply["content"]))  # the text as read, marks and tags aside
        assert " ".join(citation.text.split()) in shown
        assert html.unescape(app_render.markdown_text(citation.title)) in html.unescape(reply["content"])
    assert "rag-q4-c0-quote" in reply["content"] and "rag-q4-c0-note" in reply["content"]
    assert "cgtn.com" in html.unescape(reply["content"])
    assert marked(sources["content"]) == [" ".join(c.text.split()) for c in answer.citations]
    plain, _ = app_render.answer_messages(answer)  # without a place in a conversation: bold numbers, no buttons
    assert "**[1]**" in plain["content"] and "<button" not in plain["content"]


def test_abstention_says_the_documents_do_not_answer_and_labels_nearest(index: Index) -> None:
    answer = index.ask(OFF_TOPIC)
    assert answer.abstained
    assert_citations(index, answer.candidates)
    reply, nearest = app_render.answer_messages(answer, 1)
    assert "do not answer" in reply["content"] and "Reason:" in reply["content"]
    assert "NOT an answer" in nearest["metadata"]["title"]
    assert "NOT an answer" in nearest["content"]
    assert "rag-cite" not in nearest["content"]  # nearest passages are not citations


def test_pdf_citation_line_shows_the_page() -> None:
    from rag import Citation

    cited = Citation(text="Reefs grew.", doc_id="s.pdf", title="Survey", source="", start=0, end=11, score=0.5,
                     page=2)  # fmt: skip
    from rag import Answer

    answer = Answer("q", False, "ok", 0.5, 0.4, (cited,), (cited,))
    assert "*Survey* \u00b7 p. 2" in app_render.answer_messages(answer, 1)[0]["content"]


def test_hostile_citations_render_as_text_in_chat(index: Index) -> None:
    answer = index.ask("What did the union leaflet say in one line?")
    assert not answer.abstained
    assert_citations(index, answer.citations)
    texts = [c.text for c in answer.citations]
    assert LEAFLET in texts
    for message in app_render.answer_messages(answer, 1):
        assert_no_live_markup(message["content"])
    readable = html.unescape(inert(app_render.answer_messages(answer, 1)[0]["content"]))
    assert LEAFLET in readable and "Dockside notes <img src=x onerror=alert(1)>" in readable


def test_view_citation_highlights_the_cited_span_in_the_whole_document(index: Index) -> None:
    answer = index.ask(CHIP_QUESTION)
    citation = answer.citations[0]
    view = app_render.view_citation(index, citation)
    assert marked(view) == [citation.text] == [index.document(citation.doc_id).text[citation.start : citation.end]]
    assert 'id="rag-focus"' in view
    # A citation the index no longer holds says why (Index.stale_reason), instead of showing other text.
    gone = replace(citation, doc_id="gone.md")
    assert app_render.view_citation(index, gone) == app_render.placeholder_html(
        f"{index.stale_reason(gone)}; ask the question again."
    )
    assert "no longer in the index" in app_render.view_citation(index, gone)
    assert "has changed" in app_render.view_citation(index, replace(citation, content_hash="another-hash"))
    assert "rag-focus" not in app_render.view_citation(index, replace(citation, content_hash="another-hash"))
    assert "Open a citation" in app_render.view_citation(index, None)


def test_paged_document_shows_page_boundaries_and_joins_hard_line_breaks() -> None:
    from rag import Document

    text = "Coral survey\n\nReefs were surveyed between January and\nApril 2024. Cover fell.\n\nPage two text here."
    second = text.index("Page two")
    document = Document("s.pdf", text, "Survey", pages=(0, second))
    start = text.index("Reefs")
    end = text.index(" Cover")
    view = app_render.document_html(document, start, end)
    assert [html.unescape(m) for m in re.findall(r"<mark[^>]*>(.*?)</mark>", view)] == [
        "Reefs were surveyed between January and April 2024."
    ]
    assert view.count('class="rag-page"') == 2 and view.index("Page 2") < view.index("Page two text")
    assert_no_live_html(view)
    across = app_render.document_html(document, start, len(text))  # a span across the page boundary
    assert across.count("<mark") == 2 and across.count('id="rag-focus"') == 1


def answered(index: Index, monkeypatch, *questions: str) -> tuple[list, list]:
    monkeypatch.setattr(app_documents, "STATE", app_documents.IndexHolder(index))
    history, answers = [], []
    for question in questions:
        _, history, answers, *_ = app_chat.on_ask(question, history, answers)
    return history, answers


def test_on_ask_appends_to_history_opens_the_first_citation_and_exports(index: Index, monkeypatch) -> None:
    monkeypatch.setattr(app_documents, "STATE", app_documents.IndexHolder(index))
    box, history, answers, viewer, export, markdown_file, json_file, status = app_chat.on_ask(CHIP_QUESTION, [], [])
    assert status == ""
    assert box == "" and [m["role"] for m in history] == ["user", "assistant", "assistant"]
    assert marked(viewer["value"]) == [GOLD] and viewer["visible"] and export["visible"]
    assert "rag-q1-c1" in history[1]["content"]
    _, history, answers, viewer, _, markdown_file, json_file, _ = app_chat.on_ask(OFF_TOPIC, history, answers)
    assert len(history) == 6 and len(answers) == 2 and "rag-q2-c0" not in history[4]["content"]
    assert "do not answer" in viewer["value"]
    exported = json.loads(Path(json_file["value"]).read_text(encoding="utf-8"))
    assert [a["question"] for a in exported] == [CHIP_QUESTION, OFF_TOPIC]
    cited = exported[0]["citations"][0]
    assert cited["text"] == GOLD and cited["content_hash"] == index.document(cited["doc_id"]).content_hash
    assert index.document(cited["doc_id"]).text[cited["start"] : cited["end"]] == GOLD
    markdown = Path(markdown_file["value"]).read_text(encoding="utf-8")
    assert f"## 1. {app_render.markdown_export_text(CHIP_QUESTION)}" in markdown and "[^1]: *China steps up" in markdown
    assert f"characters {cited['start']}\u2013{cited['end']}" in markdown and cited["content_hash"][:12] in markdown
    assert "## 2. " in markdown and "do not answer" in markdown


def test_marker_requests_open_the_citation_and_copy_its_quote(index: Index, monkeypatch) -> None:
    history, answers = answered(index, monkeypatch, OFF_TOPIC, "What did the union leaflet say in one line?")
    leaflet = next(n for n, c in enumerate(answers[1]["citations"], start=1) if c["text"] == LEAFLET)
    opened = app_chat.on_open_request(f"open 2 {leaflet} 1712", answers)
    assert marked(opened["value"]) == [LEAFLET]
    for bad in ("open 3 1 1", "open 2 9 1", "open 2 0 1", "open 1 1 1", "rm -rf 1 1", ""):
        assert app_chat.on_open_request(bad, answers) == {"__type__": "update"}, bad
    quote = app_chat.on_copy_request(f"quote 2 {leaflet} 99", answers)
    citation = answers[1]["citations"][leaflet - 1]
    assert quote.startswith(f"\u201c{LEAFLET}\u201d \u2014 Dockside notes <img src=x onerror=alert(1)>")
    assert quote.endswith(f"characters {citation['start']}\u2013{citation['end']}")
    note = app_chat.on_copy_request(f"note 2 {leaflet} 99", answers)
    assert f"[^{leaflet}]: *Dockside notes \\<img" in note and "\\!\\[x\\]" in note  # Markdown made inert
    whole = app_chat.on_copy_request("quote 2 0 5", answers)
    assert whole.count("\u201c") == len(answers[1]["citations"]) and whole.startswith("[1] ")
    assert "do not answer" in app_chat.on_copy_request("quote 1 0 5", answers)
    assert app_chat.on_copy_request("open 2 1 5", answers) == ""


def test_feedback_goes_to_a_jsonl_file_beside_the_index_and_rag_eval_reads_it(index: Index, monkeypatch) -> None:
    import gradio as gr

    from rag.evaluation import load_questions

    history, answers = answered(index, monkeypatch, CHIP_QUESTION, OFF_TOPIC)
    path = index.path.with_name(index.path.name + ".feedback.jsonl")
    path.unlink(missing_ok=True)
    for position, liked in ((1, True), (2, False), (4, True), (5, False)):  # reply and Sources messages
        app_chat.on_feedback(history, answers, gr.LikeData(None, {"index": position, "value": "", "liked": liked}))
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [(r["question"], r["rating"]) for r in lines] == [
        (CHIP_QUESTION, "up"), (CHIP_QUESTION, "down"), (OFF_TOPIC, "up"), (OFF_TOPIC, "down")
    ]  # fmt: skip
    assert lines[0]["answer"] == GOLD and lines[2]["answer"] is None and "answer" not in lines[1]
    assert load_questions(path) == []  # each question's latest judgement is a thumbs down: no label
    app_chat.on_feedback(history, answers, gr.LikeData(None, {"index": 1, "value": "", "liked": True}))
    labelled = load_questions(path)
    assert [(q.question, q.answer) for q in labelled] == [(CHIP_QUESTION, GOLD)]
    path.unlink()


def test_answers_citing_a_deleted_document_are_marked(
    holder: app_documents.IndexHolder, tmp_path: Path, monkeypatch
) -> None:
    note = tmp_path / "harbour.md"
    note.write_text("# Harbour\n\nThe harbour crane fund will raise 12 million dollars.\n", encoding="utf-8")
    app_documents.add_uploads(holder, [note], tmp_path / "staging")
    monkeypatch.setattr(app_documents, "STATE", holder)
    _, history, answers, *_ = app_chat.on_ask("How much will the harbour crane fund raise?", [], [])
    assert any(c["doc_id"] == "uploads/harbour.md" for c in answers[0]["citations"])
    assert app_chat.on_mark_stale(history, answers) == history  # nothing changed yet
    app_documents.remove_document(holder, "uploads/harbour.md")
    marked_history = app_chat.on_mark_stale(history, answers)
    assert "rag-stale" in marked_history[1]["content"] and "no longer in the index" in marked_history[1]["content"]
    assert app_chat.on_mark_stale(marked_history, answers) == marked_history  # marked once
    opened = app_chat.opened_citation("open 0 1", answers)  # the newest answer's first citation, as shown with it
    assert opened == answers[0]["citations"][0]
    assert "no longer in the index" in app_chat.on_reopen(opened)
    assert app_chat.opened_citation("open 5 1", answers) is None and app_chat.on_reopen(None) == {"__type__": "update"}


def test_search_filter_from_the_ask_tab(index: Index, monkeypatch) -> None:
    monkeypatch.setattr(app_documents, "STATE", app_documents.IndexHolder(index))
    documents, sources = app_render.filter_choices(index)
    assert ("seed-article.md" in [v for _, v in documents]) and "cgtn.com" in sources
    assert app_handlers.search_filter([], []) is None
    _, history, answers, *_ = app_chat.on_ask(CHIP_QUESTION, [], [], ["news/hostile.md"], [])
    assert all(c["doc_id"] == "news/hostile.md" for c in (*answers[0]["citations"], *answers[0]["candidates"]))
    assert app_render.filter_label(["a", "b"], ["cgtn.com"]) == "Search in: 2 documents and source cgtn.com only"
    *_, status = app_chat.on_ask(CHIP_QUESTION, [], [], [], ["nobody.example"])  # said inline, not in a toast
    assert "matches the filter" in status and "rag-warning" in status
    rows = app_handlers.on_lookup(GOLD)[0]
    assert rows[0][3].count("rag-kind-exact") == 1
    rows = app_handlers.on_lookup(GOLD, ["news/hostile.md"], [])[0]  # the gold sentence is not in that document
    assert "rag-kind-exact" not in rows[0][3]


def test_chat_follow_up_is_resolved_from_the_chat_and_clearing_forgets_it(index: Index, monkeypatch) -> None:
    from rag import answer_model

    monkeypatch.setattr(app_documents, "STATE", app_documents.IndexHolder(index))
    # The chat's part only: whether a rewrite is used is the answer model's (its fitted margin).
    monkeypatch.setitem(answer_model.FITTED, "rewrite_margin", -1.0)
    _, history, answers, *_ = app_chat.on_ask(CHIP_QUESTION, [], [])
    _, history, answers, *_ = app_chat.on_ask("When was it set up?", history, answers)
    assert answers[-1]["searched_for"] != "When was it set up?" and "chip fund" in answers[-1]["searched_for"]
    assert "searched for:" in history[-2]["content"]
    chat, cleared, *_ = app_chat.on_clear()
    assert chat == [] and cleared == []
    _, _, fresh, *_ = app_chat.on_ask("When was it set up?", [], cleared)
    assert fresh[-1]["searched_for"] == "When was it set up?"


# --- lookup --------------------------------------------------------------------------------


def test_lookup_view_rows_details_and_exports(index: Index) -> None:
    text = f"{GOLD}\n\n{GOLD.upper().replace(',', '')}\n\nThe moon is made of green cheese and nobody disputes it."
    view = app_render_lookup.lookup_view(index, text)
    kinds = [m.kind for m in view.matches]
    assert kinds[:2] == ["exact", "near-exact"] and kinds[2] == "unsupported"
    assert_citations(index, [m.citation for m in view.matches if m.citation])
    assert_citations(index, [m.nearest for m in view.matches if m.nearest])
    assert len(view.rows) == len(view.details) == 3
    assert [row[1] for row in view.rows] == [m.query for m in view.matches]
    assert view.rows[0][2] == GOLD and view.rows[0][6] == "cgtn.com"
    assert "rag-kind-exact" in view.rows[0][3] and "rag-kind-unsupported" in view.rows[2][3]
    assert marked(view.details[0]) == [GOLD]
    assert json.loads(view.json) == json.loads(json.dumps([asdict(m) for m in view.matches]))
    assert view.markdown.count("[^1]") == 2 and "[^3]: Unsupported" in view.markdown
    assert view.markdown.startswith(GOLD + "[^1]\n\n")


def test_lookup_of_hostile_sentence_is_escaped_in_detail_and_export(index: Index) -> None:
    view = app_render_lookup.lookup_view(index, LEAFLET)
    (match,) = view.matches
    assert match.kind == "exact" and match.citation.text == LEAFLET
    assert_citations(index, [match.citation])
    assert_no_live_html(view.details[0])
    assert marked(view.details[0]) == [LEAFLET]
    footnote = view.markdown.split("[^1]: ", 1)[1]
    assert "![x](" not in footnote and "<script>" not in footnote


def test_unsupported_row_shows_nearest_as_not_a_match() -> None:
    from rag import Citation, Match

    near = Citation(text="b c.", doc_id="d.md", title="T", source="", start=2, end=6, score=0.2,
                    context="a b c. d", context_start=0)  # fmt: skip
    detail = app_render_lookup.match_detail_html(Match("x y", 0, 3, "unsupported", 0.2, None, nearest=near))
    assert "NOT a match" in detail and marked(detail) == ["b c."]


def test_empty_lookup_is_a_user_error(index: Index, monkeypatch) -> None:
    with pytest.raises(QueryError):
        app_render_lookup.lookup_view(index, "   ")
    monkeypatch.setattr(app_documents, "STATE", app_documents.IndexHolder(index))
    outputs = app_handlers.on_lookup("  ")  # in the app: a hint where the results go, no error raised or logged
    assert "type some text to look up" in outputs[2]


# --- documents and uploads -----------------------------------------------------------------


def test_document_rows_and_view(index: Index) -> None:
    rows, doc_ids = app_render.document_rows(index)
    assert doc_ids == [d["doc_id"] for d in index.documents()]
    seed = rows[doc_ids.index("seed-article.md")]
    assert seed[1] == "cgtn.com" and seed[2] == len(index.sentences("seed-article.md")) and seed[3]
    hostile = index.document("news/hostile.md")
    view = app_render.document_html(hostile, sentences=3)
    assert_no_live_html(view)
    shown = html.unescape(inert(view))
    for text in HOSTILE:
        assert text in shown  # title and source hold all four, literally
    assert hostile.text in shown


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.md", "report.md"),
        ("../../etc/passwd.TXT", "passwd.txt"),
        ("C:\\Users\\x\\Notes 2024.html", "Notes 2024.html"),
        (".hidden.md", "hidden.md"),
        ("<img src=x onerror=alert(1)>.md", "img src-x onerror-alert-1.md"),
        ("\u00e9t\u00e9.txt", "ete.txt"),
        ("\u65b0\u95fb.txt", "upload-abcdef012345.txt"),
    ],
)
def test_safe_file_name(name: str, expected: str) -> None:
    assert app_documents.safe_file_name(name, "abcdef0123456789") == expected


def test_stage_uploads_checks_type_size_and_content(tmp_path: Path) -> None:
    files = {
        "good.md": b"# A\n\nA sentence here.",
        "tool.exe": b"MZ\x90\x00",
        "image.txt": b"\x89PNG\r\n\x1a\nxxxx",
        "nul.html": b"<p>a\x00b</p>",
        "fake.pdf": b"hello, not a pdf",
        "empty.txt": b"   \n",
        "big.txt": b"a" * (app_documents.MAX_UPLOAD_BYTES + 1),
    }
    paths = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        paths.append(tmp_path / name)
    staged, refused = app_documents.stage_uploads(paths, tmp_path / "staging")
    assert [s.name for s in staged] == ["good.md"]
    assert staged[0].path.parent == tmp_path / "staging"
    assert re.fullmatch(r"[0-9a-f]{64}\.md", staged[0].path.name)  # content-hash name
    reasons = dict(refused)
    assert "unsupported file type .exe" in reasons["tool.exe"]
    assert "binary" in reasons["image.txt"] and "NUL" in reasons["nul.html"]
    assert "not a PDF" in reasons["fake.pdf"] and reasons["empty.txt"] == "empty file"
    assert "too large" in reasons["big.txt"]


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("image.txt", b"\x89PNG\r\n\x1a\nxxxx"),
        ("nul.md", b"a\x00b and more words"),
        ("controls.txt", ("\x01\x02\x03 valid UTF-8 but control characters " * 5).encode()),
        ("utf16.txt", "\ufeffA sentence in UTF-16 has NUL bytes.".encode("utf-16-le")),
        ("latin1.html", "<p>Caf\u00e9 cr\u00e8me.</p>".encode("latin-1")),
        ("picture-only.md", b"![a chart](chart.png)\n"),
    ],
)
def test_an_upload_is_refused_exactly_when_the_indexer_would_refuse_it(tmp_path: Path, name: str, data: bytes) -> None:
    """One check of text files, ingest's: the app refuses early what indexing would skip, for the same reason."""
    path = tmp_path / name
    path.write_bytes(data)
    try:
        read_document(path, name)
        expected = ""
    except IngestError as error:
        expected = str(error)
    assert app_documents.check_upload(name, data) == expected
    assert (expected == "") == name.startswith(("utf16", "latin1"))


def _zip_of_zeros(size: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("word/document.xml", "w") as member:
            for start in range(0, size, 1_000_000):
                member.write(bytes(min(1_000_000, size - start)))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "refused"),
    [
        ("notes.pdf", b"just words, no header", True),
        ("preamble.pdf", b"junk before the header\n%PDF-1.4\n", False),  # indexing reads it: so may the app
        ("letter.docx", b"PK\x03\x04 but no ZIP directory", True),
        ("bomb.docx", _zip_of_zeros(200_000_000), True),
    ],
)
def test_office_uploads_get_the_checks_indexing_makes_before_parsing(name: str, data: bytes, refused: bool) -> None:
    """PDF and DOCX are parsed only when indexed; the header and ZIP checks are ingest's own, zip bombs included."""
    reason = app_documents.check_upload(name, data)
    assert reason == container_reason(data, Path(name).suffix)
    assert bool(reason) == refused
    if name == "bomb.docx":
        assert reason.startswith("possible zip bomb")


def test_add_uploads_swaps_the_index_and_summarises(holder: app_documents.IndexHolder, tmp_path: Path) -> None:
    before = holder.index
    bad = tmp_path / "bad.exe"
    bad.write_bytes(b"MZ")
    summary = app_documents.add_uploads(holder, [HOSTILE_MD, HOSTILE_TXT, bad], tmp_path / "staging")
    after = holder.index
    assert after is not before
    doc_ids = {d["doc_id"] for d in after.documents()}
    assert {"uploads/hostile.md", "uploads/hostile-plain.txt", "seed-article.md"} <= doc_ids
    assert "hostile.md</b> added" in summary and "bad.exe</b> skipped" in summary
    assert list((tmp_path / "staging").iterdir()) == []  # staged copies do not linger
    answer = after.ask("What did the union leaflet say in one line?")  # answers reflect the upload at once
    assert LEAFLET in [c.text for c in answer.citations]
    assert before.ask(CHIP_QUESTION).citations  # the old index keeps working for requests in flight

    message = app_documents.remove_document(holder, "uploads/hostile-plain.txt")
    assert "Deleted" in message
    assert "uploads/hostile-plain.txt" not in {d["doc_id"] for d in holder.index.documents()}
    with pytest.raises(RagError):
        app_documents.remove_document(holder, "no-such.md")


def test_the_last_document_cannot_be_deleted(holder: app_documents.IndexHolder) -> None:
    with pytest.raises(RagError, match="last document"):
        app_documents.remove_document(holder, "seed-article.md")


# --- serving -------------------------------------------------------------------------------


def test_loopback_and_auth_rules() -> None:
    assert app_access.is_loopback("127.0.0.1") and app_access.is_loopback("::1") and app_access.is_loopback("localhost")
    assert not app_access.is_loopback("0.0.0.0") and not app_access.is_loopback("192.168.1.2")
    assert app_access.parse_auth(None, "127.0.0.1") is None
    assert app_access.parse_auth("ann:s3cr:et", "0.0.0.0") == ("ann", "s3cr:et")
    with pytest.raises(app_access.UsageError, match="without --auth"):
        app_access.parse_auth(None, "0.0.0.0")
    with pytest.raises(app_access.UsageError, match="USER:PASSWORD"):
        app_access.parse_auth("ann", "127.0.0.1")


def test_main_refuses_a_public_address_without_auth(capsys: pytest.CaptureFixture[str]) -> None:
    assert app.main(["--host", "0.0.0.0", "--index", "/nonexistent"]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("rag serve: error: refusing to listen on 0.0.0.0 without --auth USER:PASSWORD")
    assert "\n" not in error


def test_private_paths_cover_corpus_index_and_staging(index: Index, tmp_path: Path) -> None:
    paths = app.private_paths(index, tmp_path)
    assert str(index.corpus.resolve()) in paths and str(index.path.resolve()) in paths
    assert str(tmp_path.resolve()) in paths


def test_api_endpoints_raise_user_errors_for_empty_input(index: Index, monkeypatch) -> None:
    import gradio as gr

    monkeypatch.setattr(app_documents, "STATE", app_documents.IndexHolder(index))
    assert app_api.ask_api(CHIP_QUESTION)["citations"][0]["text"] == GOLD
    assert [m["kind"] for m in app_api.lookup_api(GOLD)] == ["exact"]
    with pytest.raises(gr.Error):
        app_api.ask_api("  ")
    only = app_api.ask_api(CHIP_QUESTION, folders=["news"])
    assert {c["doc_id"] for c in (*only["citations"], *only["candidates"])} <= {
        "news/hostile.md",
        "news/hostile-plain.txt",
    }
    assert app_api.lookup_api(GOLD, documents=["news/hostile.md"])[0]["kind"] != "exact"
    with pytest.raises(gr.Error, match="YYYY"):
        app_api.ask_api(CHIP_QUESTION, since="yesterday")


def test_answers_show_what_of_the_question_each_citation_covers(index: Index, monkeypatch) -> None:
    monkeypatch.setattr(app_documents, "STATE", app_documents.IndexHolder(index))
    result = app_api.ask_api(CHIP_QUESTION)
    first = result["citations"][0]
    assert "fund" in first["covered"] and isinstance(first["missing"], (list, tuple))
    answer = index.ask(CHIP_QUESTION)
    reply = app_render.answer_markdown(answer)
    assert f"covers: {app_render.markdown_text(', '.join(answer.citations[0].covered))}" in reply


@pytest.mark.slow
def test_python_ui_py_and_rag_serve_take_the_same_options(tmp_path: Path) -> None:
    """``python ui.py --help`` as a user runs it; ``rag serve`` launches the same app with the same options."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ui_help = subprocess.run([sys.executable, "ui.py", "--help"], cwd=ROOT, env=env, capture_output=True, text=True)
    serve_help = subprocess.run(
        [sys.executable, "-m", "rag.cli.main", "serve", "--help"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert ui_help.returncode == 0 == serve_help.returncode, ui_help.stderr + serve_help.stderr
    options = [
        "--corpus",
        "--index",
        "--host",
        "--port",
        "--auth",
        "--auth-file",
        "--allowed-hosts",
        "--ray",
        "--shards",
    ]
    for option in options:
        assert f" {option} " in ui_help.stdout and f" {option} " in serve_help.stdout, option
    assert "(default: corpus)" in ui_help.stdout and "(default: 7860)" in serve_help.stdout


# --- the running app, through gradio_client (real packaged model) ---------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float) -> float:
    """Seconds until ``port`` accepts connections; fails if the process exits first."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited with code {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return time.monotonic() - started
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"the app did not answer on port {port} within {timeout:.0f} s")


def start_app(root: Path, log_name: str = "app.log") -> tuple[subprocess.Popen, str, Path]:
    """``python ui.py`` over a fresh copy of the corpus (index built on start) on a free loopback port."""
    corpus = make_corpus(root / "corpus", hostile=False)
    port = free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    log = root / log_name
    command = [sys.executable, str(ROOT / "ui.py"), "--corpus", str(corpus), "--index", str(root / "index"),
               "--port", str(port)]  # fmt: skip
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process, timeout=240)
    except Exception:
        stop_app(process)
        raise RuntimeError(f"the app did not start:\n{log.read_text()[-3000:]}") from None
    return process, f"http://127.0.0.1:{port}/", corpus


def stop_app(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, packaged_model: str) -> Iterator[tuple[str, Path]]:
    process, url, corpus = start_app(tmp_path_factory.mktemp("ui-app"))
    yield url, corpus
    stop_app(process)


@pytest.fixture(scope="module")
def client(served: tuple[str, Path]):
    from gradio_client import Client

    return Client(served[0], verbose=False)


@pytest.mark.slow
def test_client_ask_returns_the_gold_sentence(client) -> None:
    result = client.predict(CHIP_QUESTION, api_name="/ask")
    assert result["abstained"] is False
    assert result["citations"][0]["text"] == GOLD
    assert result["citations"][0]["source"] == "cgtn.com"
    assert "fund" in result["citations"][0]["covered"]


@pytest.mark.slow
def test_client_ask_takes_the_conversation_as_history(client) -> None:
    first = client.predict(CHIP_QUESTION, api_name="/ask")
    follow_up = client.predict("Who is spearheading it?", [first], api_name="/ask")
    assert follow_up["searched_for"] == "Who is spearheading the new chip fund?"
    assert "China Integrated Circuit Industry Investment Fund" in follow_up["citations"][0]["text"]
    alone = client.predict("Who is spearheading it?", api_name="/ask")
    assert alone["searched_for"] == "Who is spearheading it?"


@pytest.mark.slow
def test_client_ask_abstains_off_topic(client) -> None:
    result = client.predict(OFF_TOPIC, api_name="/ask")
    assert result["abstained"] is True and result["reason"] and result["citations"] == []


@pytest.mark.slow
def test_client_lookup_returns_the_kinds(client) -> None:
    text = (
        f"{GOLD} {GOLD.upper()} China wants to be a world leader in technology. "
        "The Eiffel Tower was painted green by a committee of pigeons."
    )
    matches = client.predict(text, api_name="/lookup")
    assert [m["kind"] for m in matches] == ["exact", "near-exact", "paraphrase", "unsupported"]
    assert matches[0]["citation"]["text"] == GOLD and matches[3]["citation"] is None
    assert "global leader in technology" in matches[2]["citation"]["text"]


@pytest.mark.slow
def test_app_serves_no_corpus_file_and_caps_uploads(served: tuple[str, Path]) -> None:
    url, corpus = served
    for path in (corpus / "seed-article.md", ROOT / "ui.py"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{url}gradio_api/file={path}", timeout=10)
        assert refused.value.code in (403, 404)
    boundary = "ragtestboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.txt"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        + b"a" * (app_documents.MAX_UPLOAD_BYTES + 1024)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        f"{url}gradio_api/upload", data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    with pytest.raises(urllib.error.HTTPError) as too_big:
        urllib.request.urlopen(request, timeout=30)
    assert too_big.value.code == 413


@pytest.mark.slow
def test_client_ask_and_lookup_take_optional_filters(client) -> None:
    result = client.predict(CHIP_QUESTION, documents=["seed-article.md"], since="2000", api_name="/ask")
    assert result["citations"][0]["text"] == GOLD
    matches = client.predict(GOLD, sources=["cgtn.com"], api_name="/lookup")
    assert [m["kind"] for m in matches] == ["exact"]
    with pytest.raises(Exception, match="matches the filter"):
        client.predict(CHIP_QUESTION, sources=["nobody.example"], api_name="/ask")
    # The CLI's and the Python API's names (the ones above are the deprecated first names, still read).
    result = client.predict(CHIP_QUESTION, doc=["seed-article.md"], since="2000", api_name="/ask")
    assert result["citations"][0]["text"] == GOLD
    assert [m["kind"] for m in client.predict(GOLD, source=["cgtn.com"], api_name="/lookup")] == ["exact"]
    result = client.predict(CHIP_QUESTION, {"doc": "seed-article.md", "since": "2000"}, api_name="/ask_where")
    assert result["citations"][0]["text"] == GOLD
    with pytest.raises(Exception, match="matches the filter"):
        client.predict(CHIP_QUESTION, {"folder": ["news"]}, api_name="/ask_where")  # this app has no news folder
    with pytest.raises(Exception, match="not both"):
        client.predict(CHIP_QUESTION, doc=["seed-article.md"], documents=["seed-article.md"], api_name="/ask")
