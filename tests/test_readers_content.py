"""HTML and Markdown as a reader of the page sees them: navigation, asides, footers and banners are not
the document; table pipes, footnote marks and glued <summary> text are not its sentences."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.ingest import read_document
from rag.text.sentences import split_sentences
from tests.helpers import assert_offsets

BODY = "<p>The fund will raise $40 billion for chips.</p><p>It is the third such fund since 2014.</p>"
MAIN = "The fund will raise $40 billion for chips.\n\nIt is the third such fund since 2014."


def _read(folder: Path, name: str, content: str):
    (folder / name).write_text(content, encoding="utf-8")
    document = read_document(folder / name, name)
    assert_offsets(document.text, split_sentences(document.text, name))
    return document


@pytest.mark.parametrize(
    "furniture",
    [
        "<nav><a href='/'>Home</a> | <a href='/about'>About</a></nav>",
        "<aside><h2>Related</h2><p>Chip stocks rally.</p></aside>",
        "<footer><p>Copyright 2024 Example News. Privacy | Terms</p></footer>",
        "<header><p>Example News, the daily</p></header>",
        "<div role='navigation'><p>World Business Tech</p></div>",
        "<div class='share-buttons'><p>Share on Twitter</p></div>",
        "<div id='cookie-banner'><p>We use cookies.</p></div>",
        "<ul class='menu'><li>Home</li><li>Contact</li></ul>",
    ],
)
def test_page_furniture_is_not_indexed(tmp_path: Path, furniture: str) -> None:
    document = _read(tmp_path, "page.html", f"<html><body>{furniture}{BODY}{furniture}</body></html>")
    assert document.text == MAIN


def test_the_article_is_read_without_what_surrounds_it(tmp_path: Path) -> None:
    page = (
        "<body><div class='top'><p>Sign up for our morning briefing today.</p></div>"
        f"<article><header><h1>Chip fund</h1><p>By Jane Doe</p></header>{BODY}</article>"
        "<div><p>Most read this week: strike ends at Antwerp.</p></div></body>"
    )
    assert _read(tmp_path, "a.html", page).text == "Chip fund\n\nBy Jane Doe\n\n" + MAIN


def test_a_teaser_article_does_not_hide_the_page(tmp_path: Path) -> None:
    long = "".join(f"<p>Paragraph {n} of the report says the port reopened.</p>" for n in range(10))
    page = f"<body><div>{long}</div><article><p>Teaser: other news.</p></article></body>"
    assert "Paragraph 9 of the report" in _read(tmp_path, "a.html", page).text


def test_a_page_that_is_all_furniture_is_read_whole(tmp_path: Path) -> None:
    page = "<body class='has-sidebar'><nav><p>Only navigation here, nothing else.</p></nav></body>"
    assert _read(tmp_path, "a.html", page).text == "Only navigation here, nothing else."
    assert _read(tmp_path, "b.html", f"<body class='has-sidebar'>{BODY}</body>").text == MAIN


def test_markdown_tables_footnotes_and_summaries_read_as_text(tmp_path: Path) -> None:
    markdown = (
        "# Funds\n\n"
        "The fund is the third of its kind[^1].\n\n"
        "| Country | GDP |\n|---|---:|\n| China | 17.9 |\n| US \\| Canada | 27.4 |\n\n"
        "<details><summary>Method</summary>Figures are for 2023.</details>\n\n"
        "[^1]: Since 2014.\n"
    )
    document = _read(tmp_path, "a.md", markdown)
    assert document.text == (
        "Funds\n\nThe fund is the third of its kind.\n\n"
        "Country; GDP\nChina; 17.9\nUS | Canada; 27.4\n\n"
        "Method\nFigures are for 2023.\n\nSince 2014."
    )


def test_a_pipe_outside_a_table_stays(tmp_path: Path) -> None:
    assert _read(tmp_path, "a.md", "Use a | b to pipe.\n").text == "Use a | b to pipe."
