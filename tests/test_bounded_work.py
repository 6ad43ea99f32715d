"""Work on any accepted file is bounded: parsers take time linear in their input (checked by growing inputs
2x, 4x, 8x and comparing ratios, never absolute times), big text files are read in the limited parser
process, and no sentence outgrows MAX_SENTENCE_CHARS, so memory follows the size of the file."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from rag.errors import IngestError
from rag.ingest import read_document, worker
from rag.ingest.formats import reader_for
from rag.ingest.html import read_html
from rag.ingest.markdown import read_markdown
from rag.text.sentences import MAX_SENTENCE_CHARS, sentence_spans, split_sentences
from tests.helpers import assert_offsets

FACTORS = (1, 2, 4, 8)
# The exponent k of time ~ size**k fitted over the four sizes: 1 for linear work, 2 for
# quadratic. The bound lies between them, far from both, since timings on a shared machine
# are noisy (each time is the best of several runs, and the fit uses all four).
MAX_EXPONENT = 1.5
GIVE_UP_SECONDS = 5.0


def best_time(run: Callable[[], object]) -> float:
    """The least CPU time of this process over a few runs (CPU time: other processes' load counts less)."""
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        run()
        best = min(best, time.process_time() - started)
        if best > 0.5:
            break
    return best


def growth(make: Callable[[int], bytes], read: Callable[[bytes], object], base: int) -> list[float]:
    """The time to read inputs of ``base`` times each factor; stops early once growth is plainly quadratic."""
    times: list[float] = []
    for factor in FACTORS:
        data = make(base * factor)
        times.append(best_time(lambda data=data: read(data)))
        if times[-1] > factor**2 * times[0] / 2 and times[-1] > GIVE_UP_SECONDS:
            break  # already failed: larger inputs would only take minutes
    return times


def exponent(times: list[float]) -> float:
    """The slope of log(time) against log(size), by least squares."""
    xs = [math.log(f) for f in FACTORS[: len(times)]]
    ys = [math.log(t) for t in times]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum((x - mean_x) ** 2 for x in xs)


def assert_linear(make: Callable[[int], bytes], read: Callable[[bytes], object], base: int) -> None:
    times = growth(make, read, base)
    shown = ", ".join(f"{t * 1000:.1f} ms" for t in times)
    assert len(times) == len(FACTORS), f"gave up: times for sizes x1 x2 x4 x8: {shown}"
    assert exponent(times) < MAX_EXPONENT, f"time grows as size**{exponent(times):.2f}: {shown}"


def markdown(data: bytes) -> object:
    return read_markdown(data, Path("x.md"))


def html(data: bytes) -> object:
    return read_html(data, Path("x.html"))


MARKDOWN_CASES = {
    # A run of spaces before a non-breaking space: "[ \t]+$" used to backtrack from every space.
    "spaces before a non-breaking space": lambda n: ("a" + " " * n + "\u00a0b\n").encode(),
    "spaces and tabs before an ideographic space": lambda n: ("a" + " \t" * (n // 2) + "\u3000b\n").encode(),
    "nested brackets never closed": lambda n: ("[ " + "[x] " * (n // 4) + "\n").encode(),
    "bold never closed": lambda n: ("**a " * (n // 4) + "\n").encode(),
    "image openers": lambda n: ("![" * (n // 2) + "\n").encode(),
}
HTML_CASES = {
    # Stray end tags inside <svg>: the hidden-element stack used to be searched on each of them.
    "stray end tags in deep svg": lambda n: (
        "<p>x</p><svg>" + "<g>" * (n // 6) + "</x>" * (n // 8) + "</svg><p>y</p>"
    ).encode(),
    "nested pairs closed in bulk": lambda n: (
        "<p>x</p><svg>" + "<a><b>" * (n // 12) + "</b>" * (n // 8) + "</svg><p>y</p>"
    ).encode(),
    "unclosed angle brackets": lambda n: ("<p>x</p>" + "<" * n + ">").encode(),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", MARKDOWN_CASES)
def test_markdown_reading_is_linear(case: str) -> None:
    assert_linear(MARKDOWN_CASES[case], markdown, base=20_000)


@pytest.mark.slow
@pytest.mark.parametrize("case", HTML_CASES)
def test_html_reading_is_linear(case: str) -> None:
    assert_linear(HTML_CASES[case], html, base=20_000)


def test_hidden_elements_still_hide_what_they_hold() -> None:
    page = b"<p>shown</p><svg><g><text>hidden</g></x></text></svg><p>also shown</p><template><b>no</b></template>"
    assert read_html(page, Path("x.html")).text == "shown\n\nalso shown"


def test_markdown_keeps_its_edge_space_rules() -> None:
    data = "  # Title  \n\n  indented line\t \nlast   words \u00a0 here\n".encode()
    text = read_markdown(data, Path("x.md")).text
    assert text == "Title\n\nindented line\nlast words \u00a0 here"


# --- big text files: the limited parser process -------------------------------------------


def test_big_markup_files_are_read_in_the_parser_process(tmp_path: Path, monkeypatch) -> None:
    body = "# Big file\n\n" + "The chip fund raised money. " * 20_000
    path = tmp_path / "big.md"
    path.write_text(body, encoding="utf-8")
    assert path.stat().st_size > worker.IN_PROCESS_MAX_BYTES
    in_process = reader_for(".md")(path.read_bytes(), path)
    commands = []
    call = worker.ParserPool.call
    monkeypatch.setattr(
        worker.ParserPool, "call", lambda pool, header, *a: commands.append(header) or call(pool, header, *a)
    )
    document = read_document(path, "big.md")
    assert commands == [{"kind": "markup", "suffix": ".md"}]
    assert (
        (document.text, document.title)
        == (in_process.text, in_process.title)
        == (
            in_process.text,
            "Big file",
        )
    )
    small = tmp_path / "small.md"
    small.write_text("# Small\n\nA short file.\n", encoding="utf-8")
    assert read_document(small, "small.md").title == "Small" and len(commands) == 1, "small files stay in process"


def test_big_markup_files_have_a_time_limit(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "slow.html"
    path.write_bytes(b"<p>" + b"text " * 100_000 + b"</p>")
    monkeypatch.setattr(worker, "PARSER_TIMEOUT_SECONDS", 0.001)
    monkeypatch.setattr(worker, "MARKUP_SECONDS_PER_MB", 0.0)
    with pytest.raises(IngestError, match="HTML parsing timed out after 0 s"):
        read_document(path, "slow.html")


# --- sentences have a length limit -------------------------------------------------------


def test_an_endless_line_is_cut_into_sentences_on_word_boundaries() -> None:
    text = "alpha beta, gamma " * 2_000 + "x" * 5_000 + " end"
    sentences = split_sentences(text, "one-line.txt")
    assert_offsets(text, sentences)
    assert max(len(s.text) for s in sentences) <= MAX_SENTENCE_CHARS
    assert len(sentences) > len(text) // MAX_SENTENCE_CHARS
    for sentence in sentences:
        end = sentence.end
        assert end == len(text) or text[end] == " " or len(sentence.text) == MAX_SENTENCE_CHARS, "cut at a space"
    assert "".join(s.text for s in sentences).replace(" ", "") == text.replace(" ", "")
    assert sentence_spans(text) == [(s.start, s.end) for s in sentences]


def test_cutting_sentences_is_linear() -> None:
    assert_linear(lambda n: ("word " * (n // 5)).encode(), lambda data: sentence_spans(data.decode()), base=400_000)
