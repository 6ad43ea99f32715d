"""The app's fourth round without a browser: answer words marked only where the question does not
already give them, and the HTTP API's filter names (doc, folder, source, since, until) beside the old ones.

Each test here fails on 15e556b (main when this round began).
"""

from __future__ import annotations

import re
from pathlib import Path

import gradio as gr
import pytest

from rag import Index
from rag.answer.spans import answer_spans
from rag.app import api as app_api
from rag.app import documents as app_documents
from tests import test_ui
from tests.test_ui import CHIP_QUESTION, GOLD

ROOT = Path(__file__).resolve().parent.parent
index = test_ui.index  # the first round's fixture: the seed article, a news folder, a PDF
NEWS = {"news/hostile.md", "news/hostile-plain.txt"}
ARTICLE = (ROOT / "corpus" / "seed-article.md").read_text(encoding="utf-8")


def sentence_with(words: str) -> str:
    """The seed article's sentence holding ``words`` (a test's fixture, quoted as the app quotes it)."""
    found = [s for s in re.split(r"(?<=[.!?])\s+", ARTICLE) if words in s]
    assert len(found) == 1, found
    return found[0]


def marked(question: str, text: str) -> list[str]:
    spans = answer_spans(question, text)
    assert all(0 <= a < b <= len(text) for a, b in spans)
    return [text[a:b] for a, b in spans]


def test_a_who_question_does_not_mark_the_name_it_gives() -> None:
    visits = sentence_with("high-profile visits")  # "Li's high-profile visits to ... Huawei and BYD ..."
    assert marked("Which companies did Li Qiang visit?", visits) == ["Huawei", "BYD"]  # not "Li's"
    premier = sentence_with("Premier Li Qiang has reinforced")
    assert marked("Which companies did Li Qiang visit?", premier) == []  # not "Premier Li Qiang"
    assert marked("Who did Premier Li Qiang meet?", premier) == []
    tenure = sentence_with("governor of Zhejiang")
    assert marked("Who governed Zhejiang Province?", tenure) == ["Premier Li"]  # the answer, not the province
    # A name the question does not give is still marked, even where the question shares a common word.
    fund = sentence_with("spearheaded by")
    assert marked("Who spearheads the new chip fund?", fund) == ["China Integrated Circuit Industry Investment Fund"]


def test_a_date_or_amount_the_question_gives_is_not_marked() -> None:
    tenure = sentence_with("governor of Zhejiang")  # "... Zhejiang Province in 2016, ..."
    assert marked("When did Li govern Zhejiang Province?", tenure) == ["2016"]
    assert marked("What did Li stress when he governed Zhejiang Province in 2016?", tenure) == []
    text = "The fund raised $40 billion in 2024, up from $29 billion."
    assert marked("How much did the fund raise, $40 billion?", text) == ["$29 billion"]


def cited(answer: dict) -> set[str]:
    return {c["doc_id"] for c in (*answer["citations"], *answer["candidates"])}


def test_the_http_api_takes_the_cli_names_for_a_filter_and_the_old_ones_for_now(index: Index, monkeypatch) -> None:
    monkeypatch.setattr(app_documents, "STATE", app_documents.IndexHolder(index))
    assert cited(app_api.ask_api(CHIP_QUESTION, folder=["news"])) <= NEWS
    assert cited(app_api.ask_api(CHIP_QUESTION, folders=["news"])) <= NEWS  # deprecated, still read
    assert cited(app_api.ask_api(CHIP_QUESTION, source=["cgtn.com"])) == {"seed-article.md"}
    assert app_api.lookup_api(GOLD, doc=["news/hostile.md"])[0]["kind"] != "exact"
    assert app_api.lookup_api(GOLD, documents=["news/hostile.md"])[0]["kind"] != "exact"
    assert app_api.lookup_api(GOLD, doc=["seed-article.md"])[0]["kind"] == "exact"
    with pytest.raises(gr.Error, match="give folder or folders"):
        app_api.ask_api(CHIP_QUESTION, folder=["news"], folders=["news"])
    # Positions are kept: a call by position reads the third value as the documents, as before.
    by_position = app_api.ask_api(CHIP_QUESTION, [], ["news/hostile.md"])
    assert cited(by_position) <= {"news/hostile.md"}


def test_the_where_endpoints_take_a_filter_as_the_python_api_does(index: Index, monkeypatch) -> None:
    monkeypatch.setattr(app_documents, "STATE", app_documents.IndexHolder(index))
    answer = app_api.ask_where_api(CHIP_QUESTION, {"doc": "seed-article.md", "since": "2000"})
    assert answer["citations"][0]["text"] == GOLD
    assert cited(app_api.ask_where_api(CHIP_QUESTION, {"folder": ["news"]})) <= NEWS
    assert cited(app_api.ask_where_api(CHIP_QUESTION, {"sources": ["cgtn.com"]})) == {"seed-article.md"}
    assert app_api.ask_where_api(CHIP_QUESTION, {})["citations"][0]["text"] == GOLD  # empty: every document
    assert [m["kind"] for m in app_api.lookup_where_api(GOLD, {"doc": ["seed-article.md"]})] == ["exact"]
    with pytest.raises(gr.Error, match="unknown field 'folders_'"):
        app_api.ask_where_api(CHIP_QUESTION, {"folders_": ["news"]})
    with pytest.raises(gr.Error, match="JSON object"):
        app_api.lookup_where_api(GOLD, ["news"])  # type: ignore[arg-type]
    with pytest.raises(gr.Error, match="YYYY"):
        app_api.ask_where_api(CHIP_QUESTION, {"until": "last week"})


def test_a_sentence_opening_word_is_not_marked_as_the_name_asked() -> None:
    """ "Amid" opens the sentence: its capital says nothing about a name, so "who" marks only Huawei;
    an opening word is a name where the passage writes it capitalised mid-sentence."""
    text = "Amid rising tensions, Huawei said it would invest."
    assert marked("Who said it would invest?", text) == ["Huawei"]
    opening = "Huawei said it would invest."
    passage = "Analysts said Huawei had grown. Huawei said it would invest."
    assert [opening[a:b] for a, b in answer_spans("Who said it would invest?", opening, passage)] == ["Huawei"]
    lower = "Many said it would invest."
    assert marked("Who said it would invest?", lower) == []
