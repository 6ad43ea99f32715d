"""Markdown files -> plain text: link text kept; images, HTML comments and scripts dropped; first heading as title.

markdown-it-py (CommonMark with GFM tables) parses the blocks: which source lines are a table's
rows, a fenced or indented code block (kept verbatim: ``**kwargs`` is code, not bold) or a setext
heading's underline. The text is then built line by line from the source, so each line of the
document is a slice of a source line less its markup.
"""

from __future__ import annotations

import html
import re
from dataclasses import replace
from pathlib import Path
from typing import Literal

from markdown_it import MarkdownIt

from rag.ingest.decode import decode_text_and_encoding
from rag.ingest.metadata import Extracted, clean_field, split_front_matter, with_fields


def read_markdown(data: bytes, path: Path) -> Extracted:
    text, encoding = decode_text_and_encoding(data, path)
    fields, body = split_front_matter(text)
    markdown = _drop_html_blocks(body)
    extracted = with_fields(_markdown_to_text(markdown), fields, title=_markdown_title(markdown))
    return replace(extracted, encoding=encoding)


_MD_HTML_BLOCK = re.compile(r"<!--|<(script|style|noscript|template)\b[^<>]*>", re.I)
_MD_HTML_BLOCK_END = {name: re.compile(rf"</{name}\s*>", re.I) for name in ("script", "style", "noscript", "template")}
_MD_REFERENCE = re.compile(r" {0,3}\[(?!\^)[^\]\n]+\]:[ \t]*\S.*")
_MD_TABLE_RULE_CHARS = frozenset("|-: \t")
_MD_FENCE = re.compile(r" {0,3}(?:```|~~~)")
_MD_RULE = re.compile(r" {0,3}([-*_=])(?:[ \t]*\1){2,}[ \t]*")
_MD_QUOTE = re.compile(r" {0,3}(?:>[ \t]?)+")
_MD_HEADING_MARK = re.compile(r" {0,3}(#{1,6})(?=[ \t]|$)")
_MD_BRACKETS = r"\[((?:[^\[\]\n]|\[[^\[\]\n]*\])*)\]"
_MD_TARGET = r"(?:\([^()\n]*(?:\([^()\n]*\)[^()\n]*)*\)|\[[^\]\n]*\])"
_MD_FOOTNOTE_MARK = re.compile(r"\[\^[^\]\s]{1,40}\]")
_MD_FOOTNOTE = re.compile(r" {0,3}\[\^[^\]\s]{1,40}\]:[ \t]*")
_MD_TABLE_CELL = re.compile(r"(?<!\\)\|")
# HTML that starts or ends a block: a line break where it stood, so "<summary>More</summary>Text"
# does not glue "More" to "Text".
_MD_BLOCK_HTML = r"</?(?:summary|details|p|div|br|li|ul|ol|tr|td|th|table|h[1-6]|blockquote|section|figure)\b[^<>]*>"
_MD_INLINE: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"!" + _MD_BRACKETS + _MD_TARGET), ""),  # images go entirely, alt text too
    (re.compile(_MD_BRACKETS + _MD_TARGET), r"\1"),
    (re.compile(r"<((?:https?|mailto):[^<>\s]+)>"), r"\1"),
    (re.compile(_MD_BLOCK_HTML, re.I), "\n"),
    (re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>"), ""),
    (re.compile(r"`+([^`\n]+)`+"), r"\1"),
    (re.compile(r"\*\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*\*"), r"\1"),
    (re.compile(r"(?<!\w)__(?=[^\s_])([^_\n]+?)(?<=[^\s_])__(?!\w)"), r"\1"),
    (re.compile(r"(?<!\*)\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*(?!\*)"), r"\1"),
    (re.compile(r"(?<![\w_])_(?=[^\s_])([^_\n]+?)(?<=[^\s_])_(?![\w_])"), r"\1"),
    (re.compile(r"~~(?=\S)([^~\n]+?)(?<=\S)~~"), r"\1"),
)
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>~&])")
_ESCAPE_PLANE = 0xF0000
_MD_ESCAPED = re.compile("[\U000f0000-\U000f007f]")
_MD_INNER_SPACES = re.compile(r"(?<=\S)[ \t]{2,}(?=\S)")
_BLANK_RUNS = re.compile(r"\n{3,}")


_LineKind = Literal["text", "table", "code", "break"]
# "html": a block's inline HTML tags are markup to drop, as the line rules below do.
_BLOCKS = MarkdownIt("commonmark", {"html": True}).enable("table")


def _markdown_to_text(markdown: str) -> str:
    """Plain text of Markdown (without HTML comments and scripts): link text kept, images dropped,
    a table's rows as lines of cells, code verbatim, footnote marks dropped and footnotes kept as paragraphs."""
    source = markdown.split("\n")
    pieces: list[tuple[str, bool]] = []  # each output line, and whether it is code (kept verbatim)
    for line, kind in zip(source, _line_kinds(markdown, source), strict=True):
        if kind == "code":  # verbatim, except that no image or link reaches a renderer, as elsewhere
            pieces.append((_without_images_and_links(line), True))
            continue
        out = "" if kind == "break" else _table_row(line) if kind == "table" else _markdown_line(line)
        if out is not None:
            pieces.append((out, False))
    text = _inline_outside_code(pieces)
    # Also what removed markup leaves at line starts. Stripped line by line: a regular expression
    # for trailing spaces ("[ \t]+$") backtracks over every long run of spaces inside a line.
    text = "\n".join(line.strip(" \t") for line in text.split("\n"))
    return _BLANK_RUNS.sub("\n\n", text).strip("\n")


def _line_kinds(markdown: str, source: list[str]) -> list[_LineKind]:
    """What markdown-it makes of each source line: a table row, code, a line that only breaks
    (a fence, a setext underline), or text for the line rules."""
    kinds: list[_LineKind] = ["text"] * len(source)
    for token in _BLOCKS.parse(markdown):
        if token.map is None or (token.level != 0 and token.type == "heading_open"):
            continue
        start, end = token.map
        if token.type == "table_open":
            kinds[start:end] = ["table"] * (end - start)
        elif token.type == "code_block":
            kinds[start:end] = ["code"] * (end - start)
        elif token.type == "fence":
            fenced: list[_LineKind] = ["code"] * (end - start)
            kinds[start:end], kinds[start] = fenced, "break"
            if end - start >= 2 and _closes_fence(source[end - 1], token.markup):
                kinds[end - 1] = "break"
        elif token.type == "heading_open" and token.markup in ("=", "-") and end - start >= 2:
            kinds[end - 1] = "break"
    return kinds


def _closes_fence(line: str, fence: str) -> bool:
    """Whether ``line`` closes a fence opened with ``fence`` (an unclosed fence runs to the end)."""
    line = line.strip(" \t")
    return line.startswith(fence) and not line.strip(fence[0])


def _without_images_and_links(line: str) -> str:
    for pattern, replacement in _MD_INLINE[:2]:
        line = pattern.sub(replacement, line)
    return line


def _inline_outside_code(pieces: list[tuple[str, bool]]) -> str:
    """The lines joined, inline markup removed from every run of lines that is not code."""
    runs: list[str] = []
    text: list[str] = []
    for line, code in pieces:
        if code:
            if text:
                runs.append(_markdown_inline("\n".join(text)))
                text = []
            runs.append(line)
        else:
            text.append(line)
    if text:
        runs.append(_markdown_inline("\n".join(text)))
    return "\n".join(runs)


def _markdown_line(line: str) -> str | None:
    """One line without its block markup; None drops the line, "" leaves a paragraph break."""
    if _MD_REFERENCE.fullmatch(line) or _is_table_rule(line):
        return None
    if _MD_FENCE.match(line) or _MD_RULE.fullmatch(line):
        return ""
    footnote = _MD_FOOTNOTE.match(line)
    if footnote:  # "[^1]: The note." -> the note, as a paragraph of its own
        return "\n" + line[footnote.end() :]
    quote = _MD_QUOTE.match(line)
    if quote:
        line = line[quote.end() :]
    heading = _heading(line)
    return heading[1] if heading else line


def _table_row(line: str) -> str | None:
    """A table row as its cells joined by "; " (a pipe is markup, not text); its rule is dropped."""
    if _is_table_rule(line):
        return None
    cells = [cell.strip(" \t") for cell in _MD_TABLE_CELL.split(line.strip(" \t").strip("|"))]
    return "; ".join(cell.replace("\\|", "|") for cell in cells if cell)


def _is_table_rule(line: str) -> bool:
    """A table's header separator, such as ``|---|:--:|``."""
    return "|" in line and "-" in line and set(line) <= _MD_TABLE_RULE_CHARS


def _heading(line: str) -> tuple[int, str] | None:
    """The level and text of an ATX heading line such as ``## Text ##``, else None.

    Written out rather than as one regular expression, which takes quadratic time on long runs of spaces.
    """
    mark = _MD_HEADING_MARK.match(line)
    if mark is None:
        return None
    text = line[mark.end() :].strip(" \t")
    unclosed = text.rstrip("#")
    if unclosed != text and (not unclosed or unclosed[-1] in " \t"):
        text = unclosed.rstrip(" \t")
    return len(mark[1]), text


def _markdown_inline(text: str) -> str:
    # Escaped characters are parked in a private-use plane so no pattern mistakes them for markup.
    text = _MD_ESCAPE.sub(lambda match: chr(_ESCAPE_PLANE + ord(match[1])), text)
    text = _MD_FOOTNOTE_MARK.sub("", text)
    for _ in range(2):  # a second pass reaches markup nested in markup, e.g. **bold *italic***
        for pattern, replacement in _MD_INLINE:
            text = pattern.sub(replacement, text)
    text = _MD_ESCAPED.sub(lambda match: chr(ord(match[0]) - _ESCAPE_PLANE), html.unescape(text))
    # Escapes and entities can spell an image or link anew; drop those too, so none reaches a renderer.
    for pattern, replacement in _MD_INLINE[:2]:
        text = pattern.sub(replacement, text)
    return _MD_INNER_SPACES.sub(" ", text)


def _drop_html_blocks(text: str) -> str:
    """Remove HTML comments and script-like elements with their content; unclosed ones run to the end."""
    kept: list[str] = []
    position = 0
    while match := _MD_HTML_BLOCK.search(text, position):
        kept.append(text[position : match.start()])
        if match[1] is None:
            close = text.find("-->", match.end())
            position = len(text) if close < 0 else close + 3
        else:
            end = _MD_HTML_BLOCK_END[match[1].lower()].search(text, match.end())
            position = len(text) if end is None else end.end()
    kept.append(text[position:])
    return "".join(kept)


def _markdown_title(markdown: str) -> str:
    """The text of the first level-1 heading, else ""."""
    for line in markdown.split("\n"):
        heading = _heading(line)
        if heading and heading[0] == 1 and heading[1]:
            return clean_field(_markdown_inline(heading[1]))
    return ""
