"""HTML main content chosen by trafilatura among our reader's blocks, with our own rules as the fallback
when trafilatura fails, times out or keeps a fragment; read in the parser process."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from rag.ingest import documents, main_content, read_document
from rag.ingest.html import read_html
from rag.text.sentences import split_sentences
from tests.helpers import assert_offsets

ARTICLE = [
    "The reader opens the file, detects its encoding and returns its text with its title.",
    "Call read_document with the path of the file and the id you want the document to have.",
    "Files larger than the limit are read in a separate process, under a time limit.",
    "A file that cannot be read raises an error whose message says why it was skipped.",
]
SIDEBAR = ["Installation", "Quick start", "Reading files", "Configuration", "API reference"]
FOOTER = "Built with <a href='/s'>Sphinx</a> using a theme provided by <a href='/r'>Read the Docs</a>."
# A documentation page (Sphinx, Read the Docs theme) whose article sits in a <div class="wy-nav-content">:
# our class-name rules took "nav" for navigation and, finding nothing left, read the whole page,
# its table of contents and footer too.
DOCS = (
    "<html><head><title>Reading files</title><meta name='date' content='2024-03-05'></head><body>"
    "<div class='wy-nav-side'><p class='caption'>Contents</p><ul class='toctree'>"
    + "".join(f"<li><a href='/{n}'>{entry}</a></li>" for n, entry in enumerate(SIDEBAR))
    + "</ul></div>"
    "<div class='wy-nav-content'><div class='document'><h1>Reading files</h1>"
    + "".join(f"<p>{sentence}</p>" for sentence in ARTICLE)
    + f"</div><div class='copyright'><p>{FOOTER}</p></div></div></body></html>"
)
STORY = [
    "Heavy rain closed the main road between Kathmandu and Pokhara for the third day on Sunday.",
    "Army engineers cleared two landslides overnight, but a third buried a bridge near Mugling.",
    "Bus operators said about 400 vehicles were stranded on both sides of the blocked section.",
    "The weather office warned that more rain was expected in the western hills until Wednesday.",
]
TEASERS = ["Flights resume at Tribhuvan airport after fog", "Parliament passes the new budget bill"]
# A news page of classed <div>s whose "Top stories" box no class name of ours marks as furniture.
NEWS = (
    "<html><body><div class='story-body'><h1>Rain closes the road</h1>"
    + "".join(f"<p>{sentence}</p>" for sentence in STORY)
    + "</div><div class='top-stories'><h2>Top stories</h2><ul>"
    + "".join(f"<li><a href='/{n}'>{teaser}</a></li>" for n, teaser in enumerate(TEASERS))
    + "</ul></div></body></html>"
)


def _read(folder: Path, name: str, content: str):
    (folder / name).write_text(content, encoding="utf-8")
    document = read_document(folder / name, name)
    assert_offsets(document.text, split_sentences(document.text, name))
    return document


def test_a_docs_page_keeps_its_article_and_drops_its_table_of_contents(tmp_path: Path) -> None:
    document = _read(tmp_path, "docs.html", DOCS)
    assert document.text.startswith("\n\n".join(ARTICLE))  # the footer line after it is kept (trafilatura's pick)
    assert not any(entry in document.text for entry in ("Installation", "Quick start", "API reference"))
    assert document.title == "Reading files" and document.date == "2024-03-05"


def test_a_pages_unmarked_teasers_are_dropped(tmp_path: Path) -> None:
    document = _read(tmp_path, "news.html", NEWS)
    assert all(sentence in document.text for sentence in STORY)
    assert not any(teaser in document.text for teaser in TEASERS), document.text


def test_html_is_read_in_the_parser_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[str] = []
    real = documents.read_markup_in_child

    def spy(data: bytes, path: Path):
        sent.append(path.name)
        return real(data, path)

    monkeypatch.setattr(documents, "read_markup_in_child", spy)
    _read(tmp_path, "news.html", NEWS)
    assert sent == ["news.html"]


def _own_rules_text() -> str:
    """What our own furniture rules keep of DOCS: nothing but the page whole (see DOCS)."""
    return read_html(DOCS.encode(), Path("docs.html")).text


def test_when_trafilatura_fails_our_rules_read_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    import trafilatura

    def broken(*args: object, **kwargs: object) -> str:
        raise ValueError("broken tree")

    monkeypatch.setattr(trafilatura, "extract", broken)
    text = _own_rules_text()
    assert "API reference" in text and all(sentence in text for sentence in ARTICLE)


def test_when_trafilatura_is_missing_our_rules_read_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "trafilatura", None)  # import trafilatura raises ImportError
    assert "API reference" in _own_rules_text()


def test_when_trafilatura_times_out_our_rules_read_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    import trafilatura

    def slow(*args: object, **kwargs: object) -> str:
        time.sleep(5)
        return "\n".join(ARTICLE)

    monkeypatch.setattr(trafilatura, "extract", slow)
    monkeypatch.setattr(main_content, "EXTRACTION_SECONDS", 0.2)
    started = time.perf_counter()
    assert "API reference" in _own_rules_text()
    assert time.perf_counter() - started < 3


def test_when_trafilatura_keeps_a_fragment_our_rules_read_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    import trafilatura

    # One teaser of a page: under a fifth of what our rules keep, so it is taken for a wrong pick.
    monkeypatch.setattr(trafilatura, "extract", lambda *args, **kwargs: TEASERS[0])
    text = read_html(NEWS.encode(), Path("news.html")).text
    assert all(sentence in text for sentence in STORY)
