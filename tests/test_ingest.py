"""Tests for rag.ingest: corpus scanning, formats, encodings, metadata and hostile files."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import string
import sys
import time
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rag.ingest.text
from rag import ingest
from rag.errors import CorpusError, IngestError
from rag.ingest import (
    Skipped,
    binary_reason,
    content_hash,
    doc_id_for,
    files,
    load_corpus,
    office,
    read_document,
    scan_corpus,
    worker,
)
from rag.text.sentences import MAX_SENTENCE_CHARS, split_sentences
from rag.types import Document, FileVersion

TESTS = Path(__file__).parent
BAD_INPUTS = TESTS / "bad_inputs"
SAMPLE_CORPUS = TESTS / "data" / "ingest" / "corpus"
BEACON = "http://127.0.0.1:9/beacon"
PNG_BYTES = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"


# --- helpers -----------------------------------------------------------------------------


def _pdf_string(text: str) -> str:
    return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def make_pdf(pages: list[list[str]], title: str | None = None) -> bytes:
    """A minimal valid PDF, one Helvetica text line per string; a page without lines only draws a line."""
    objects = {1: "<< /Type /Catalog /Pages 2 0 R >>", 3: "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"}
    kids = []
    number = 4
    for lines in pages:
        if lines:
            operators = ["BT /F1 12 Tf 14 TL 72 720 Td", *(f"{_pdf_string(line)} Tj T*" for line in lines), "ET"]
        else:
            operators = ["0 0 m 200 200 l S"]
        stream = "\n".join(operators)
        objects[number] = f"<< /Length {len(stream.encode('latin-1'))} >>\nstream\n{stream}\nendstream"
        objects[number + 1] = (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {number} 0 R "
            "/Resources << /Font << /F1 3 0 R >> >> >>"
        )
        kids.append(f"{number + 1} 0 R")
        number += 2
    objects[2] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>"
    info = ""
    if title is not None:
        objects[number] = f"<< /Title {_pdf_string(title)} >>"
        info = f" /Info {number} 0 R"
    return _assemble_pdf(objects, info)


def _assemble_pdf(objects: dict[int, str], info: str) -> bytes:
    out = bytearray(b"%PDF-1.4\n")
    offsets = {}
    for key in sorted(objects):
        offsets[key] = len(out)
        out += f"{key} 0 obj\n{objects[key]}\nendobj\n".encode("latin-1")
    xref = len(out)
    size = max(objects) + 1
    out += f"xref\n0 {size}\n0000000000 65535 f \n".encode()
    for key in range(1, size):
        out += f"{offsets[key]:010d} 00000 n \n".encode()  # each xref entry is exactly 20 bytes
    out += f"trailer\n<< /Size {size} /Root 1 0 R{info} >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def encrypted_pdf(user_password: str) -> bytes:
    import pypdf

    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(make_pdf([["Encrypted text."]]))))
    writer.encrypt(user_password, owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return path


def read(folder: Path, name: str, content: str | bytes) -> Document:
    return read_document(write(folder, name, content), name)


def reason_for(folder: Path, name: str, content: str | bytes) -> str:
    with pytest.raises(IngestError) as caught:
        read(folder, name, content)
    return str(caught.value)


def outcomes(root: Path) -> dict[str, str]:
    documents, skipped = load_corpus(root)
    return {document.doc_id: "ok" for document in documents} | {item.path: item.reason for item in skipped}


# --- scanning and ids --------------------------------------------------------------------


def test_doc_id_uses_forward_slashes_for_nested_folders(tmp_path: Path) -> None:
    path = write(tmp_path, "news/2024/seed-article.md", "# Seed\n\nText.")
    assert doc_id_for(tmp_path, path) == "news/2024/seed-article.md"
    documents, _ = load_corpus(tmp_path)
    assert [document.doc_id for document in documents] == ["news/2024/seed-article.md"]


def test_doc_id_for_a_path_outside_the_corpus_raises(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not inside the corpus folder"):
        doc_id_for(tmp_path / "corpus", tmp_path / "elsewhere.txt")


def test_scan_sorts_by_doc_id_and_ignores_hidden_files_and_folders(tmp_path: Path) -> None:
    for name in ("b.txt", "a/z.md", "a/b.html", "c.pdf", ".hidden.txt", ".git/config.txt", "a/.cache/x.md"):
        write(tmp_path, name, "text")
    files, skipped = scan_corpus(tmp_path)
    assert [doc_id_for(tmp_path, path) for path in files] == ["a/b.html", "a/z.md", "b.txt", "c.pdf"]
    assert skipped == []


def test_unsupported_file_types_are_reported_one_line_each(tmp_path: Path) -> None:
    write(tmp_path, "report.odt", b"PK\x03\x04")
    write(tmp_path, "README", "no extension")
    write(tmp_path, "keep.TXT", "upper-case suffixes are fine")
    files, skipped = scan_corpus(tmp_path)
    assert [path.name for path in files] == ["keep.TXT"]
    assert skipped == [
        Skipped("README", "unsupported file type (no extension)"),
        Skipped("report.odt", "unsupported file type .odt"),
    ]
    with pytest.raises(IngestError, match=r"unsupported file type \.odt"):
        read_document(tmp_path / "report.odt", "report.odt")


def test_missing_corpus_folder_raises_a_clear_corpus_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(CorpusError, match=f"corpus folder '{missing}' does not exist"):
        scan_corpus(missing)
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(missing)


def test_corpus_that_is_a_file_raises_corpus_error(tmp_path: Path) -> None:
    path = write(tmp_path, "file.txt", "text")
    with pytest.raises(CorpusError, match="is not a directory"):
        scan_corpus(path)


def test_symlink_outside_the_corpus_is_skipped(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    secret = write(tmp_path, "secret.txt", "outside text")
    write(root, "inside.txt", "inside text")
    (root / "leak.txt").symlink_to(secret)
    (root / "leak-folder").symlink_to(tmp_path)
    assert outcomes(root) == {
        "inside.txt": "ok",
        "leak.txt": "symlink points outside the corpus folder",
        "leak-folder": "symlink points outside the corpus folder",
    }


def test_symlinks_inside_the_corpus(tmp_path: Path) -> None:
    write(tmp_path, "real.txt", "real text")
    write(tmp_path, "sub/note.txt", "note")
    (tmp_path / "alias.txt").symlink_to(tmp_path / "real.txt")
    (tmp_path / "broken.txt").symlink_to(tmp_path / "missing.txt")
    (tmp_path / "sub-link").symlink_to(tmp_path / "sub")
    documents, skipped = load_corpus(tmp_path)
    assert [(document.doc_id, document.text) for document in documents] == [
        ("alias.txt", "real text"),
        ("real.txt", "real text"),
        ("sub/note.txt", "note"),
    ]
    assert skipped == [
        Skipped("broken.txt", "broken symlink (its target does not exist)"),
        Skipped("sub-link", "symlink to a folder (not followed)"),
    ]


def test_fifo_is_skipped_and_never_blocks(tmp_path: Path) -> None:
    write(tmp_path, "ok.txt", "text")
    os.mkfifo(tmp_path / "pipe.txt")
    assert outcomes(tmp_path) == {"ok.txt": "ok", "pipe.txt": "not a regular file (FIFO)"}
    with pytest.raises(IngestError, match=r"not a regular file \(FIFO\)"):
        read_document(tmp_path / "pipe.txt", "pipe.txt")  # opened without waiting for a writer


def test_odd_file_name_with_spaces_unicode_and_newline(tmp_path: Path) -> None:
    name = "odd name ü\nwith newline.txt"
    write(tmp_path, name, "Odd but fine.")
    documents, skipped = load_corpus(tmp_path)
    assert skipped == []
    assert [(document.doc_id, document.title) for document in documents] == [(name, "Odd name ü with newline")]


def test_load_corpus_never_raises_for_bad_files_and_reports_each(tmp_path: Path) -> None:
    write(tmp_path, "good.txt", "A fine sentence.")
    write(tmp_path, "empty.md", "")
    write(tmp_path, "image.txt", PNG_BYTES)
    write(tmp_path, "broken.pdf", make_pdf([["Cut short."]])[:300])
    result = outcomes(tmp_path)
    assert result["good.txt"] == "ok"
    assert result["empty.md"] == "empty file"
    assert result["image.txt"] == "binary content (PNG image) in a .txt file"
    assert result["broken.pdf"].startswith("PDF is damaged or truncated")


def test_missing_file_raises_ingest_error(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match=r"cannot open file \(No such file or directory\)"):
        read_document(tmp_path / "gone.txt", "gone.txt")


def test_unexpected_errors_become_skips(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "a.txt", "text")

    def explode(data: bytes, path: Path) -> None:
        raise KeyError("bug")

    monkeypatch.setattr(rag.ingest.text, "read_plain", explode)  # the registry names it; read_document finds it there
    assert outcomes(tmp_path) == {"a.txt": "unexpected error while reading (KeyError)"}


def test_skipped_reason_must_be_one_line() -> None:
    with pytest.raises(ValueError, match="one non-empty line"):
        Skipped("a.txt", "two\nlines")
    with pytest.raises(ValueError, match="non-empty path"):
        Skipped("", "reason")


# --- plain text, front matter, metadata --------------------------------------------------


def test_plain_text_is_kept_with_line_endings_normalised(tmp_path: Path) -> None:
    document = read(tmp_path, "seed-article.txt", "First line\r\nsecond line\rthird  line\n\n\tindented\n")
    assert document.text == "First line\nsecond line\nthird  line\n\n\tindented\n"
    assert document.title == "Seed article"
    assert (document.source, document.url, document.date, document.pages) == ("", "", "", ())


def test_content_hash_is_sha256_of_the_utf8_text(tmp_path: Path) -> None:
    document = read(tmp_path, "a.txt", "café\n")
    assert content_hash("café\n") == hashlib.sha256("café\n".encode()).hexdigest()
    assert document.content_hash == content_hash(document.text)


@pytest.mark.parametrize("suffix", [".txt", ".md"])
def test_front_matter_is_parsed_and_stripped(tmp_path: Path, suffix: str) -> None:
    text = (
        "---\n"
        'Title: "Chips: China\'s push"\n'
        "source: 'cgtn.com'\n"
        "url: https://news.example/chips\n"
        "date: 2024-05-27\n"
        "tags:\n"
        "  - tech\n"
        "---\n"
        "\n"
        "Body sentence one.\n"
    )
    document = read(tmp_path, f"article{suffix}", text)
    assert document.text.rstrip("\n") == "Body sentence one."
    assert (document.title, document.source) == ("Chips: China's push", "cgtn.com")
    assert (document.url, document.date) == ("https://news.example/chips", "2024-05-27")


def test_text_that_only_looks_like_front_matter_is_kept_whole(tmp_path: Path) -> None:
    not_front_matter = "---\nThis is a rule, then prose.\n---\nMore prose.\n"
    unclosed = "---\ntitle: never closed\nBody.\n"
    assert read(tmp_path, "a.txt", not_front_matter).text == not_front_matter
    assert read(tmp_path, "b.txt", unclosed).text == unclosed


def test_front_matter_alone_leaves_no_text(tmp_path: Path) -> None:
    assert reason_for(tmp_path, "a.txt", "---\ntitle: Only\n---\n") == "no text after extracting plain text"


def test_unsafe_url_in_front_matter_is_dropped(tmp_path: Path) -> None:
    document = read(tmp_path, "a.md", "---\nurl: javascript:alert(1)\n---\nText.\n")
    assert document.url == ""


def test_source_from_reference_line_at_the_end(tmp_path: Path) -> None:
    seed = SAMPLE_CORPUS / "news" / "seed-article.txt"
    document = read_document(seed, "news/seed-article.txt")
    assert document.source == "cgtn.com"
    assert document.text.endswith("Reference(s):\ncgtn.com")  # the text is kept as is
    assert read(tmp_path, "b.txt", "Story.\n\nSource:\nbbc.co.uk\n\n").source == "bbc.co.uk"
    assert read(tmp_path, "c.md", "Story.\n\nSource: reuters.com\n").source == "reuters.com"
    assert read(tmp_path, "d.txt", "Story.\nReference(s):\nnot a domain at all\n").source == ""
    assert read(tmp_path, "e.txt", "Story ends here.\nexample.com\n").source == ""
    front = read(tmp_path, "f.txt", "---\nsource: Front Matter\n---\nStory.\nSource:\ncgtn.com\n")
    assert front.source == "Front Matter"


# --- Markdown ----------------------------------------------------------------------------


def test_markdown_title_is_the_first_heading(tmp_path: Path) -> None:
    document = read(tmp_path, "story-notes.md", "Intro line.\n\n## Sub\n\n# The **big** news #\n\nBody.\n")
    assert document.title == "The big news"
    assert read(tmp_path, "no-heading.md", "Just text.\n").title == "No heading"


def test_markdown_markup_becomes_plain_text(tmp_path: Path) -> None:
    markdown = (
        "# Heading *one*\n"
        "\n"
        "Some **bold**, __strong__, *italic*, _emphasis_, ~~gone~~ and `code`; snake_case_name stays.\n"
        'A <span class="x">tagged</span> word, 2 * 3 * 4, and \\*escaped stars\\*.\n'
        "\n"
        "> Quoted line.\n"
        "\n"
        "- item one\n"
        "* item two\n"
        "\n"
        "| a | b |\n"
        "|---|:-:|\n"
        "| 1 | 2 |\n"
        "\n"
        "---\n"
        "\n"
        "```python\n"
        "x = 1\n"
        "```\n"
    )
    document = read(tmp_path, "a.md", markdown)
    assert document.text == (
        "Heading one\n"
        "\n"
        "Some bold, strong, italic, emphasis, gone and code; snake_case_name stays.\n"
        "A tagged word, 2 * 3 * 4, and *escaped stars*.\n"
        "\n"
        "Quoted line.\n"
        "\n"
        "- item one\n"
        "* item two\n"
        "\n"
        "a; b\n"  # a table's rows as lines of cells: its pipes are markup (issue 21)
        "1; 2\n"
        "\n"
        "x = 1"
    )


def test_markdown_links_and_images_are_stripped(tmp_path: Path) -> None:
    markdown = (
        f'Read [the report]({BEACON} "title") and [the follow-up][ref] now.\n'
        f"![x]({BEACON}) An image above, ![alt][img] and [![badge]({BEACON})]({BEACON}) badges.\n"
        f"Escaped: !\\[x\\]({BEACON}) and entities: !&#91;y&#93;({BEACON}).\n"
        f'<img src="{BEACON}"> <a href="{BEACON}">anchor text</a>\n'
        "\n"
        f"[ref]: {BEACON}\n"
        f'[img]: {BEACON} "Image"\n'
    )
    document = read(tmp_path, "hostile.md", markdown)
    assert "beacon" not in document.text
    assert "](" not in document.text
    assert document.text.startswith("Read the report and the follow-up now.\nAn image above, and badges.")
    assert "anchor text" in document.text


def test_markdown_autolink_keeps_its_address_as_plain_text(tmp_path: Path) -> None:
    assert read(tmp_path, "a.md", "See <https://news.example/a> now.\n").text == "See https://news.example/a now."


def test_markdown_script_style_and_comments_are_removed(tmp_path: Path) -> None:
    markdown = (
        "Before.\n<!-- a comment\nover lines -->\n<script>alert(1)</script>\n<style>p { color: red }</style>\n"
        "Literal &lt;script&gt; text.\n<!-- unclosed comment hides the rest\nsecret\n"
    )
    document = read(tmp_path, "a.md", markdown)
    assert document.text == "Before.\n\nLiteral <script> text."


def test_markdown_with_only_markup_leaves_no_text(tmp_path: Path) -> None:
    assert reason_for(tmp_path, "a.md", f"![x]({BEACON})\n") == "no text after extracting Markdown"


# --- HTML --------------------------------------------------------------------------------

PAGE = """<!DOCTYPE html>
<html><head>
<title>  Chips:
  China's push </title>
<meta name="author" content="Jane Doe">
<meta property="og:site_name" content="CGTN">
<meta property="article:published_time" content="2024-05-27T08:00:00Z">
<link rel="canonical" href="https://news.example/chips">
<style>p { color: red }</style>
<script>var leaked = "SCRIPT TEXT";</script>
</head>
<body>
<noscript>NOSCRIPT TEXT</noscript><template>TEMPLATE TEXT</template>
<h1>Chips   and <em>sanctions</em></h1>
<!-- COMMENT TEXT -->
<p>First   paragraph,
spread over lines &amp; with entities: &lt;script&gt;alert(1)&lt;/script&gt;.</p>
<div>Line one<br>Line two</div>
<div hidden>HIDDEN TEXT</div><p style="display: none">NONE TEXT</p>
<script>alert(1)</script>
<ul><li>Item one<li>Item two</ul>
Trailing text.
</body></html>
"""


def test_html_visible_text_only(tmp_path: Path) -> None:
    document = read(tmp_path, "page.html", PAGE)
    assert document.text == (
        "Chips and sanctions\n"
        "\n"
        "First paragraph, spread over lines & with entities: <script>alert(1)</script>.\n"
        "\n"
        "Line one\nLine two\n"
        "\n"
        "Item one\n"
        "\n"
        "Item two\n"
        "\n"
        "Trailing text."
    )
    for hidden in ("SCRIPT", "NOSCRIPT", "TEMPLATE", "COMMENT", "HIDDEN", "NONE", "color"):
        assert hidden not in document.text


def test_html_metadata(tmp_path: Path) -> None:
    document = read(tmp_path, "page.htm", PAGE)
    assert document.title == "Chips: China's push"
    assert document.source == "CGTN"
    assert document.date == "2024-05-27T08:00:00Z"
    assert document.url == "https://news.example/chips"
    fallback = read(
        tmp_path,
        "other.html",
        '<meta name="author" content="Jane Doe"><meta name="date" content="2024-01-02">'
        '<meta property="og:url" content="https://news.example/other"><p>Text.</p>',
    )
    assert (fallback.source, fallback.date, fallback.url) == ("Jane Doe", "2024-01-02", "https://news.example/other")
    relative = read(
        tmp_path,
        "relative.html",
        '<link rel="canonical" href="/chips"><meta property="og:url" content="https://news.example/chips"><p>T.</p>',
    )
    assert relative.url == "https://news.example/chips"
    unsafe = read(tmp_path, "unsafe.html", '<link rel="canonical" href="javascript:alert(1)"><p>T.</p>')
    assert unsafe.url == ""


def test_html_title_falls_back_to_first_h1_then_file_name(tmp_path: Path) -> None:
    assert read(tmp_path, "a.html", "<h2>Sub</h2><h1>Main <b>title</b></h1><h1>Second</h1>").title == "Main title"
    assert read(tmp_path, "world-news.html", "<p>No headings.</p>").title == "World news"


def test_html_unclosed_head_and_script(tmp_path: Path) -> None:
    assert read(tmp_path, "a.html", "<head><title>T</title><p>Body text.").text == "Body text."
    assert read(tmp_path, "b.html", "<p>Visible.</p><script>never closed <p>hidden").text == "Visible."


def test_html_comments_and_marked_sections(tmp_path: Path) -> None:
    assert read(tmp_path, "a.html", "<p>Kept.</p><![CDATA[hidden]]><p>Also kept.</p><![").text == (
        "Kept.\n\nAlso kept.\n\n<!["
    )
    assert read(tmp_path, "b.html", "<p>Kept.</p><!-- never closed <p>hidden").text == "Kept."


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("tags.html", "<a " * 20_000),
        ("quotes.html", "<a x='" * 20_000),
        ("comments.html", "<p>x</p>" + "<!-- " * 20_000),
        ("sections.html", "<![CDATA[" * 20_000),
        ("heading.md", "# a" + " " * 100_000 + "b\n"),
        ("table.md", "|---|---" + " " * 100_000 + "x\n"),
    ],
)
def test_hostile_markup_is_read_in_linear_time(tmp_path: Path, name: str, content: str) -> None:
    # Each of these took html.parser or a naive regular expression minutes, not milliseconds.
    started = time.perf_counter()
    try:
        read(tmp_path, name, content)
    except IngestError:
        pass
    assert time.perf_counter() - started < 5


def test_html_meta_charset_is_used_when_not_utf8(tmp_path: Path) -> None:
    page = '<html><head><meta charset="windows-1251"></head><body><p>Привет, мир.</p></body></html>'
    assert read(tmp_path, "ru.html", page.encode("cp1251")).text == "Привет, мир."
    for not_a_charset in ("rot13", "utf-7", "x-unknown"):
        page = f'<meta charset="{not_a_charset}"><p>café</p>'
        assert read(tmp_path, "fr.html", page.encode("cp1252")).text == "café"


def test_html_with_only_hidden_content_leaves_no_text(tmp_path: Path) -> None:
    reason = reason_for(tmp_path, "a.html", "<html><head><title>T</title></head><script>x()</script></html>")
    assert reason == "no text after extracting HTML"


# --- encodings and binary content --------------------------------------------------------

CAFE = "café – “quoted”"


@pytest.mark.parametrize(
    "encoded",
    [
        pytest.param(b"\xef\xbb\xbf" + CAFE.encode("utf-8"), id="utf-8 with BOM"),
        pytest.param(CAFE.encode("utf-8"), id="utf-8"),
        pytest.param(b"\xff\xfe" + CAFE.encode("utf-16-le"), id="utf-16 LE with BOM"),
        pytest.param(b"\xfe\xff" + CAFE.encode("utf-16-be"), id="utf-16 BE with BOM"),
        pytest.param(CAFE.encode("cp1252"), id="cp1252"),
    ],
)
def test_encodings_decode_correctly(tmp_path: Path, encoded: bytes) -> None:
    assert read(tmp_path, "a.txt", encoded).text == CAFE


def test_utf16_line_endings_are_normalised(tmp_path: Path) -> None:
    assert read(tmp_path, "a.txt", b"\xff\xfe" + "one\r\ntwo".encode("utf-16-le")).text == "one\ntwo"


def test_invalid_utf8_bytes_read_as_cp1252_then_latin1(tmp_path: Path) -> None:
    mixed = "naïve “quotes” ".encode() + b"caf\xe9 \x93x\x94 end"
    assert read(tmp_path, "mixed.txt", mixed).text == "naïve “quotes” café “x” end"
    undefined_in_cp1252 = b"Plain text, long enough for one control character to be rare. " * 3 + b"then: \x81."
    assert read(tmp_path, "odd.txt", undefined_in_cp1252).text.endswith("then: \x81.")


def test_undecodable_bytes_are_rejected(tmp_path: Path) -> None:
    reason = reason_for(tmp_path, "a.txt", b"\x80\x81\x01\x02\x03\x04" * 100)
    assert reason == "not valid UTF-8 and not a recognised legacy encoding"


def test_broken_utf16_is_rejected(tmp_path: Path) -> None:
    reason = reason_for(tmp_path, "a.txt", b"\xff\xfe" + "ok".encode("utf-16-le") + b"\x00\xd8")
    assert reason.startswith("not valid UTF-16 LE despite its byte-order mark")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (PNG_BYTES, "binary content (PNG image) in a .txt file"),
        (b"PK\x03\x04\x14\x00\x00\x00", "binary content (ZIP archive) in a .txt file"),
        (b"\x7fELF\x02\x01\x01", "binary content (ELF executable) in a .txt file"),
        (b"\x1f\x8b\x08\x00", "binary content (gzip archive) in a .txt file"),
        (b"%PDF-1.4\n", "binary content (PDF document) in a .txt file"),
        (b"text\x00with NUL", "binary content (NUL bytes) in a .txt file"),
        ("\x01\x02\x03 valid UTF-8 but control characters " * 5, "binary content (control characters) in a .txt file"),
    ],
)
def test_binary_content_with_a_text_extension_is_rejected(tmp_path: Path, content: str | bytes, reason: str) -> None:
    assert reason_for(tmp_path, "a.txt", content) == reason


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (PNG_BYTES, "binary content (PNG image) in a .md file"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00", "binary content (legacy Office document) in a .md file"),
        (b"text\x00with NUL", "binary content (NUL bytes) in a .md file"),
        ("\ufeffUTF-16 text holds NUL bytes".encode("utf-16-le"), ""),
        ("café, plain text".encode(), ""),
    ],
)
def test_binary_reason_is_the_check_indexing_makes(tmp_path: Path, content: bytes, reason: str) -> None:
    assert binary_reason(content, ".md") == reason
    if reason:  # the public sniffing function and indexing refuse the same files, for the same reason
        assert reason_for(tmp_path, "a.md", content) == reason
    else:
        assert read(tmp_path, "a.md", content).text


def test_binary_markdown_and_html_are_rejected(tmp_path: Path) -> None:
    assert reason_for(tmp_path, "a.md", PNG_BYTES) == "binary content (PNG image) in a .md file"
    assert reason_for(tmp_path, "a.html", PNG_BYTES) == "binary content (PNG image) in a .html file"


@pytest.mark.parametrize("content", [b"", b"   \n\t\r\n  ", b"\xef\xbb\xbf", b"\xef\xbb\xbf \n"])
def test_empty_and_whitespace_only_files_are_skipped(tmp_path: Path, content: bytes) -> None:
    assert reason_for(tmp_path, "a.txt", content) == "empty file"


def test_file_larger_than_the_limit_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "MAX_FILE_BYTES", 2_000_000)
    assert reason_for(tmp_path, "a.txt", b"x" * 2_500_000) == "file too large (2.5 MB, limit 2 MB)"


# --- PDF ---------------------------------------------------------------------------------


def test_pdf_text_and_page_offsets(tmp_path: Path) -> None:
    pages = [["First page line.", "Second line (with parens)."], [], ["Third page."]]
    document = read(tmp_path, "report.pdf", make_pdf(pages, title="Quarterly Report"))
    assert document.title == "Quarterly Report"
    assert document.text == "First page line.\nSecond line (with parens).\n\n\n\nThird page."
    assert len(document.pages) == 3
    assert document.text[document.pages[0] :].startswith("First page line.")
    assert document.text[document.pages[2] :] == "Third page."
    assert document.page_of(document.text.index("Second line")) == 1
    assert document.page_of(document.text.index("Third page")) == 3


def test_pdf_without_title_uses_the_file_name(tmp_path: Path) -> None:
    assert read(tmp_path, "annual_report.pdf", make_pdf([["Text."]])).title == "Annual report"


def test_truncated_pdf_is_skipped(tmp_path: Path) -> None:
    reason = reason_for(tmp_path, "cut.pdf", make_pdf([["Some text."]])[:300])
    assert reason.startswith("PDF is damaged or truncated")


def test_pdf_without_text_layer_is_skipped(tmp_path: Path) -> None:
    assert reason_for(tmp_path, "scan.pdf", make_pdf([[], []])) == "PDF has no text layer (scanned?)"


def test_encrypted_pdf_is_skipped_unless_the_password_is_empty(tmp_path: Path) -> None:
    assert reason_for(tmp_path, "locked.pdf", encrypted_pdf("secret")) == "PDF is encrypted (password required)"
    assert read(tmp_path, "open.pdf", encrypted_pdf("")).text == "Encrypted text."


def test_file_that_is_not_a_pdf_is_skipped(tmp_path: Path) -> None:
    assert reason_for(tmp_path, "fake.pdf", "just text") == "not a PDF file (no %PDF- header)"


def test_pdf_parsing_that_takes_too_long_is_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "PARSER_TIMEOUT_SECONDS", 0.001)
    assert reason_for(tmp_path, "slow.pdf", make_pdf([["Text."]])) == "PDF parsing timed out after 0.001 s"


def test_pdf_worker_that_dies_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "_WORKER_COMMAND", "import os; os._exit(3)")
    assert reason_for(tmp_path, "a.pdf", make_pdf([["Text."]])) == "PDF parser crashed (exit code 3)"


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS is enforced on Linux")
def test_pdf_worker_runs_under_a_memory_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The real worker entry point, with a 50 MB budget and an extraction that wants 1 GB.
    command = (
        "import rag.ingest.office as o, rag.ingest.worker as w; w.PARSER_MEMORY_BYTES = 50_000_000; "
        "o._extract_pdf = lambda data: ([str(bytearray(10**9))], '', ''); w._worker_main()"
    )
    monkeypatch.setattr(worker, "_WORKER_COMMAND", command)
    assert reason_for(tmp_path, "a.pdf", make_pdf([["Text."]])) == "PDF parsing ran out of memory (limit 0.05 GB)"


# --- DOCX --------------------------------------------------------------------------------


def make_docx(paragraphs: list[str], title: str = "", author: str = "", table: list[list[str]] | None = None) -> bytes:
    import docx

    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for row, values in zip(grid.rows, table, strict=True):
            for cell, value in zip(row.cells, values, strict=True):
                cell.text = value
        document.add_paragraph("After the table.")
    document.core_properties.title = title
    document.core_properties.author = author
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def zip_of_zeros(size: int, members: int = 1) -> bytes:
    """A ZIP of ``members`` members, the first ``size`` bytes of zeros, written in chunks."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("word/document.xml", "w") as member:
            chunk = bytes(1_000_000)
            for start in range(0, size, len(chunk)):
                member.write(chunk[: size - start])
        for index in range(1, members):
            archive.writestr(f"part{index}.xml", "<x/>")
    return buffer.getvalue()


def test_docx_text_title_and_offsets(tmp_path: Path) -> None:
    data = make_docx(["First paragraph of the memo.", "Second paragraph, with a twist."], title="Team Memo")
    document = read(tmp_path, "memo.docx", data)
    assert document.title == "Team Memo"
    assert document.source == ""
    assert document.text == "First paragraph of the memo.\n\nSecond paragraph, with a twist."
    assert document.text.index("Second paragraph") == len("First paragraph of the memo.") + 2
    assert document.pages == ()
    assert document.content_hash == content_hash(document.text)


def test_docx_tables_author_and_file_name_title(tmp_path: Path) -> None:
    data = make_docx(["Intro."], author="  Jane   Doe ", table=[["Name", "Score"], ["Ada", "10"]])
    document = read(tmp_path, "quarterly_results.docx", data)
    assert document.title == "Quarterly results"
    assert (document.author, document.source) == ("Jane Doe", "")  # a DOCX's author is no publication
    assert document.text == "Intro.\n\nName | Score\nAda | 10\n\nAfter the table."


def test_docx_zip_bomb_is_skipped_before_parsing(tmp_path: Path) -> None:
    bomb = zip_of_zeros(200_000_000)
    assert len(bomb) < 300_000
    reason = reason_for(tmp_path, "bomb.docx", bomb)
    assert reason == "possible zip bomb: DOCX expands to 200.0 MB (limit 100 MB)"


def test_docx_member_with_a_huge_compression_ratio_is_skipped(tmp_path: Path) -> None:
    reason = reason_for(tmp_path, "ratio.docx", zip_of_zeros(5_000_000))
    assert reason.startswith("possible zip bomb: a DOCX member expands ") and reason.endswith("(limit 100:1)")


def test_docx_with_too_many_members_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(office, "DOCX_MAX_MEMBERS", 3)
    assert (
        reason_for(tmp_path, "many.docx", zip_of_zeros(10, members=5)) == "DOCX has too many ZIP members (5, limit 3)"
    )


@pytest.mark.parametrize("content", ["just text, not a zip", PNG_BYTES, b"PK\x03\x04 truncated"])
def test_file_that_is_not_a_zip_named_docx_is_skipped(tmp_path: Path, content: str | bytes) -> None:
    assert reason_for(tmp_path, "fake.docx", content) == "not a DOCX file (not a ZIP archive)"


def test_zip_that_is_not_a_word_document_is_skipped(tmp_path: Path) -> None:
    reason = reason_for(tmp_path, "other.docx", zip_of_zeros(10))
    assert reason.startswith("DOCX could not be parsed")


def test_docx_is_parsed_in_the_limited_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "PARSER_TIMEOUT_SECONDS", 0.001)
    assert reason_for(tmp_path, "slow.docx", make_docx(["Text."])) == "DOCX parsing timed out after 0.001 s"


# --- checked-in fixtures -----------------------------------------------------------------


def test_bad_inputs_folder_matches_expectations() -> None:
    expected = json.loads((BAD_INPUTS / "EXPECTED.json").read_text(encoding="utf-8"))
    result = outcomes(BAD_INPUTS)
    ignored = {name for name, outcome in expected.items() if outcome == "ignored"}
    assert set(result) == set(expected) - ignored, "every file is either read or reported, and expected"
    for name, outcome in expected.items():
        if outcome == "ok":
            assert result[name] == "ok", f"{name}: {result[name]}"
        elif outcome != "ignored":
            assert result[name].startswith(outcome), f"{name}: {result[name]!r} does not start with {outcome!r}"


def test_bad_inputs_that_load_have_clean_text() -> None:
    documents, _ = load_corpus(BAD_INPUTS)
    texts = {document.doc_id: document.text for document in documents}
    assert "beacon" not in texts["hostile-links.md"]
    assert "alert(" not in texts["script-and-style.html"] and "<script>" in texts["script-and-style.html"]
    assert texts["invalid-utf8.txt"].startswith("Café")
    assert len(texts["huge-single-line.txt"]) > 250_000 and "\n" not in texts["huge-single-line.txt"].strip()
    assert "Grüße" in texts["utf16.txt"]
    assert texts["deep-svg.html"] == "Before the drawing.\n\nAfter the drawing."
    assert (
        texts["spaces-before-nbsp.md"].startswith("Spaces\n\nThe fund opened")
        and "in May." in texts["spaces-before-nbsp.md"]
    )
    longest = max(len(s.text) for s in split_sentences(texts["huge-single-line.txt"]))
    assert longest <= MAX_SENTENCE_CHARS, "a file of one endless line is cut into sentences of bounded length"


def test_sample_corpus_loads_every_format() -> None:
    documents, skipped = load_corpus(SAMPLE_CORPUS)
    assert skipped == []
    by_id = {document.doc_id: document for document in documents}
    assert list(by_id) == ["news/briefing.md", "news/seed-article.txt", "papers/two-pages.pdf", "web/article.html"]
    assert (by_id["news/briefing.md"].title, by_id["news/briefing.md"].source) == ("Chip fund briefing", "Reuters")
    assert (by_id["news/seed-article.txt"].title, by_id["news/seed-article.txt"].source) == ("Seed article", "cgtn.com")
    assert by_id["papers/two-pages.pdf"].pages == (0, by_id["papers/two-pages.pdf"].text.index("Page two"))
    assert by_id["web/article.html"].title == "Chip fund launched"


# --- properties --------------------------------------------------------------------------

PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
markup_heavy_text = st.text(alphabet=st.sampled_from(string.printable + "ü€“”\u00a0\ufeff\x00\x01"), max_size=300)


@PROPERTY_SETTINGS
@given(text=st.one_of(st.text(max_size=300), markup_heavy_text))
def test_plain_text_round_trips_or_raises_ingest_error(tmp_path: Path, text: str) -> None:
    expected = text.replace("\r\n", "\n").replace("\r", "\n").removeprefix("\ufeff")
    try:
        document = read(tmp_path, "prop.txt", text)
    except IngestError as error:
        # Only a blank or binary-looking text may be refused, and the reason must say which.
        reason = str(error)
        if reason == "empty file":
            assert not expected.strip()
        elif reason == "binary content (NUL bytes) in a .txt file":
            assert "\x00" in text
        else:
            assert reason == "binary content (control characters) in a .txt file"
            assert CONTROL_CHARACTER.search(text)
        return
    assert expected.strip() and "\x00" not in text
    if not expected.startswith("---\n"):
        assert document.text == expected
    assert "\r" not in document.text


@PROPERTY_SETTINGS
@given(text=st.one_of(st.text(max_size=300), markup_heavy_text), suffix=st.sampled_from([".md", ".html", ".txt"]))
def test_any_text_loads_or_raises_ingest_error(tmp_path: Path, text: str, suffix: str) -> None:
    try:
        document = read(tmp_path, f"prop{suffix}", text)
    except IngestError:
        return
    assert isinstance(document.text, str) and document.text.strip()
    assert "\r" not in document.text


@PROPERTY_SETTINGS
@given(data=st.binary(max_size=300), suffix=st.sampled_from([".md", ".html", ".txt"]))
def test_any_bytes_load_or_raise_ingest_error(tmp_path: Path, data: bytes, suffix: str) -> None:
    try:
        document = read(tmp_path, f"prop{suffix}", data)
    except IngestError as err:
        assert str(err) and "\n" not in str(err)
        return
    assert isinstance(document.text, str) and document.text.strip()
    assert "\r" not in document.text


# --- telling whether a file changed since it was read ------------------------------------


def _version_of(path: Path, *, read_later_by: float = 0.0) -> FileVersion:
    info = os.stat(path)
    return FileVersion(
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        size=info.st_size,
        mtime_ns=info.st_mtime_ns,
        ctime_ns=info.st_ctime_ns,
        inode=info.st_ino,
        read_at_ns=max(info.st_mtime_ns, info.st_ctime_ns) + int(read_later_by * 1e9),
    )


def test_a_settled_file_with_the_same_stat_is_not_read_again(tmp_path: Path, monkeypatch) -> None:
    path = write(tmp_path, "a.txt", "The harbour reopened.")
    version = _version_of(path, read_later_by=ingest.RACY_SECONDS + 1)
    monkeypatch.setattr(files, "file_sha256", lambda _, root: pytest.fail("a settled, unchanged file was hashed"))
    assert ingest.unchanged_since(path, version, root=tmp_path)


def test_a_file_read_right_after_its_last_change_is_hashed_to_decide(tmp_path: Path, monkeypatch) -> None:
    path = write(tmp_path, "a.txt", "The harbour reopened.")
    version = _version_of(path, read_later_by=0.5)  # a write in the same clock tick could keep the stat
    hashed: list[Path] = []
    real = ingest.file_sha256
    monkeypatch.setattr(files, "file_sha256", lambda p, root: hashed.append(p) or real(p, root=root))
    assert ingest.unchanged_since(path, version, root=tmp_path)
    assert hashed == [path]


def test_same_size_and_restored_mtime_is_still_a_change(tmp_path: Path) -> None:
    """Rewriting a file and setting its mtime back (rsync -t, touch -d) still changes its ctime."""
    path = write(tmp_path, "a.txt", "The harbour reopened.")
    version = _version_of(path, read_later_by=ingest.RACY_SECONDS + 1)
    before = os.stat(path)
    time.sleep(0.01)
    path.write_text("The harbour reclosed.", encoding="utf-8")  # same length
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(path).st_size == version.size and os.stat(path).st_mtime_ns == version.mtime_ns
    assert not ingest.unchanged_since(path, version, root=tmp_path)


def test_a_deleted_or_unreadable_file_has_changed(tmp_path: Path) -> None:
    path = write(tmp_path, "a.txt", "The harbour reopened.")
    version = _version_of(path, read_later_by=ingest.RACY_SECONDS + 1)
    path.unlink()
    assert not ingest.unchanged_since(path, version, root=tmp_path)


def test_load_documents_records_the_version_it_read(tmp_path: Path) -> None:
    path = write(tmp_path, "a.txt", "The harbour reopened.")
    [(document, version)], skipped = ingest.load_documents(tmp_path, [path])
    assert skipped == []
    assert version.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (version.size, version.inode) == (os.stat(path).st_size, os.stat(path).st_ino)
    assert version.read_at_ns >= os.stat(path).st_mtime_ns


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("Rivertown library opens\n\nThe new library cost 4 million dollars.", "Rivertown library opens"),
        ("\ufeffAcme recalls 12,000 e-bikes\n\nAcme said so on Monday.", "Acme recalls 12,000 e-bikes"),
        ("The library opened.\n\nIt cost 4 million dollars.", "Notes"),  # a sentence, not a headline
        ("Rivertown library opens\nThe new library cost 4 million dollars.", "Notes"),  # no blank line after it
        ("Rivertown library opens\n\n", "Notes"),  # nothing after it: the whole text, not a headline
        ("x" * 121 + "\n\nBody text here.", "Notes"),  # too long for a headline
    ],
)
def test_plain_text_headline_becomes_the_title(tmp_path: Path, text: str, title: str) -> None:
    (tmp_path / "notes.txt").write_text(text, encoding="utf-8")
    document = read_document(tmp_path / "notes.txt", "notes.txt")
    assert document.title == title
    assert document.text.strip().endswith(text.strip()[-10:])  # the headline stays in the text


def test_the_parser_process_ignores_modules_in_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The parser runs as `python -c`, which would put the working folder first on sys.path: a
    # json.py there (or a rag/ folder) would then run in place of the modules the parser imports.
    folder = tmp_path / "cwd"
    folder.mkdir()
    (folder / "json.py").write_text("raise SystemExit('the json.py of the working folder ran')\n")
    (folder / "rag").mkdir()
    (folder / "rag" / "__init__.py").write_text("raise SystemExit('the rag of the working folder ran')\n")
    monkeypatch.chdir(folder)
    assert read(tmp_path, "a.pdf", make_pdf([["Parsed in the child."]])).text == "Parsed in the child."
