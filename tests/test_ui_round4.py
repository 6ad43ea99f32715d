"""The app's fourth round without a browser: answer words marked only where the question does not
already give them, and the HTTP API's filter names (doc, folder, source, since, until) beside the old ones.

Each test here fails on 15e556b (main when this round began).
"""

from __future__ import annotations

import re
from pathlib import Path

from rag.answer_spans import answer_spans

ROOT = Path(__file__).resolve().parent.parent
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
