"""HTML files -> the main content a browser would show, in blocks, with the title, canonical URL and <meta> fields."""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

from rag.errors import IngestError
from rag.ingest.decode import decode_text_and_encoding
from rag.ingest.main_content import main_blocks
from rag.ingest.metadata import Extracted, as_one_line, clean_field, safe_url, trailing_source

_HIDDEN_TAGS = {"head", "script", "style", "noscript", "template", "svg", "math", "iframe", "object", "canvas"}
_VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source"}
_VOID_TAGS |= {"track", "wbr"}
_BLOCK_TAGS = {"address", "article", "aside", "blockquote", "caption", "dd", "details", "dialog", "div", "dl"}
_BLOCK_TAGS |= {"dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6"}
_BLOCK_TAGS |= {"header", "hgroup", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table"}
_BLOCK_TAGS |= {"tr", "ul", "body", "html"}
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")
_COMMENT_CLOSE = re.compile(r"--\s*>")  # what html.parser accepts as the end of a comment
# Page furniture, not the page's content: navigation, asides ("Related"), footers, banners and
# what a class or id names as such. Dropped unless nothing would be left (then the whole page is
# read); measured on the pages of benchmarks/readers.py (docs/readers.md).
_FURNITURE_TAGS = {"nav", "aside", "footer"}
_FURNITURE_ROLES = {"navigation", "banner", "complementary", "contentinfo", "search", "menu", "menubar"}
_FURNITURE_NAMES = {"nav", "navbar", "navigation", "menu", "breadcrumb", "breadcrumbs", "footer", "sidebar"}
_FURNITURE_NAMES |= {"related", "share", "sharing", "social", "comments", "cookie", "cookies", "newsletter"}
_FURNITURE_NAMES |= {"subscribe", "advert", "advertisement", "ad", "ads", "promo", "banner", "masthead", "skip"}
_NAME_TOKENS = re.compile(r"[^a-z0-9]+")
_MAIN_TAGS = {"main", "article"}
# When <main> or <article> holds at least this share of the page's words, only they are read
# (a page of teasers in <article>s keeps the rest); benchmarks/readers.py.
_MAIN_MIN_SHARE = 0.3
# Below this share of the words our own furniture rules keep, trafilatura's choice is taken for a
# fragment (a teaser picked out of a listing page) and our rules' choice is read instead: losing
# text costs more than keeping furniture, since an answer cannot quote what was dropped. On the
# pages of benchmarks/readers.py trafilatura kept 0.74-1.0 of it (and 69x on docs.html, where
# a class name "wy-nav-content" made our rules drop the article).
_MIN_TRAFILATURA_SHARE = 0.2
# A page with fewer words than this outside furniture tags has no main content to pick out, and
# trafilatura's scores (text length, link density) are unreliable on it: it dropped one of the two
# sentences around an <svg> (tests/bad_inputs/deep-svg.html). The pages of benchmarks/readers.py
# hold 41 (plain.html) and 49 words, the others 77-146.
_MIN_EXTRACTION_WORDS = 60
_META_FIELDS = {
    "source": ("og:site_name", "author"),
    "date": ("article:published_time", "date"),
    "url": ("og:url",),
}


class _VisibleText(HTMLParser):
    """Collects the text a browser would show, in blocks, plus the title and <meta> fields."""

    def __init__(self, drop_furniture: bool = True, *, by_names: bool = True) -> None:
        super().__init__(convert_charrefs=True)
        self.drop_furniture = drop_furniture
        self.by_names = by_names  # furniture also by class and id names, not only by tags and roles
        self.blocks: list[str] = []
        self.in_main: list[bool] = []  # for each block, whether it lies in <main> or <article>
        self._main_depth = 0
        self.meta: dict[str, str] = {}
        self.canonical = ""
        self.title = ""
        self.first_h1 = ""
        self._parts: list[str] = []
        self._hidden: list[str] = []  # open elements since entering a hidden one
        self._hidden_open: Counter[str] = Counter()  # how many of each tag ``_hidden`` holds
        self._title_parts: list[str] | None = None
        self._h1_parts: list[str] | None = None

    def text(self) -> str:
        self._flush()
        blocks = self.blocks
        main = [block for block, inside in zip(blocks, self.in_main, strict=True) if inside]
        if self.drop_furniture and main and _words(main) >= _MAIN_MIN_SHARE * _words(blocks):
            blocks = main
        return "\n\n".join(blocks)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self._read_metadata(tag, values)
        if self._hidden and not (self._hidden[0] == "head" and tag in _BLOCK_TAGS):
            if tag not in _VOID_TAGS:
                self._push_hidden(tag)
            return
        self._hidden.clear()  # a body element closes an unclosed <head>
        self._hidden_open.clear()
        if tag not in _VOID_TAGS and (tag in _HIDDEN_TAGS or _hides(values) or self._furniture(tag, values)):
            self._push_hidden(tag)
            return
        self._open_visible(tag)
        if tag in _MAIN_TAGS:
            self._main_depth += 1

    def _furniture(self, tag: str, values: dict[str, str]) -> bool:
        """Whether the element is page furniture (with ``drop_furniture``); a header only outside the content."""
        if not self.drop_furniture or tag in ("html", "body", *_MAIN_TAGS):
            return False
        if tag in _FURNITURE_TAGS or (tag == "header" and not self._main_depth):
            return True
        if values.get("role", "").strip().lower() in _FURNITURE_ROLES:
            return True
        if not self.by_names:
            return False
        names = f"{values.get('class', '')} {values.get('id', '')}".lower()
        return not _FURNITURE_NAMES.isdisjoint(_NAME_TOKENS.split(names))

    def _push_hidden(self, tag: str) -> None:
        self._hidden.append(tag)
        self._hidden_open[tag] += 1

    def _close_hidden(self, tag: str) -> None:
        """Close the innermost open ``tag`` and what it holds; a stray end tag changes nothing.

        The count of open tags answers "is it open?" at once and each element is popped once,
        so deeply nested or stray tags cost linear time, not a search of the stack per end tag.
        """
        if not self._hidden_open[tag]:
            return
        while True:
            popped = self._hidden.pop()
            self._hidden_open[popped] -= 1
            if popped == tag:
                return

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self._title_parts is not None:
            self.title = clean_field("".join(self._title_parts))
            self._title_parts = None
        if self._hidden:
            self._close_hidden(tag)
            return
        if tag in _BLOCK_TAGS:
            self._flush()
        if tag in _MAIN_TAGS and self._main_depth:
            self._main_depth -= 1
        if tag == "h1" and self._h1_parts is not None:
            self.first_h1 = clean_field("".join(self._h1_parts))
            self._h1_parts = None

    def handle_data(self, data: str) -> None:
        if self._title_parts is not None:
            self._title_parts.append(data)
        elif not self._hidden:
            self._parts.append(_HTML_SPACE.sub(" ", data))
            if self._h1_parts is not None:
                self._h1_parts.append(data)

    def _read_metadata(self, tag: str, values: dict[str, str]) -> None:
        if tag == "title" and not self.title and self._title_parts is None:
            self._title_parts = []
        elif tag == "meta":
            key = (values.get("property") or values.get("name") or "").lower()
            if key and values.get("content"):
                self.meta.setdefault(key, values["content"])
        elif tag == "link" and "canonical" in values.get("rel", "").lower().split():
            self.canonical = self.canonical or values.get("href", "")

    def _open_visible(self, tag: str) -> None:
        if tag in _BLOCK_TAGS:
            self._flush()
        elif tag == "br":
            self._parts.append("\n")
        elif tag in ("td", "th"):
            self._parts.append(" ")
        if tag == "h1" and not self.first_h1 and self._h1_parts is None:
            self._h1_parts = []

    def _flush(self) -> None:
        lines = (line.strip(" ") for line in "".join(self._parts).split("\n"))
        block = "\n".join(lines).strip("\n")
        if block.strip():
            self.blocks.append(block)
            self.in_main.append(self._main_depth > 0)
        self._parts = []


def _words(blocks: list[str]) -> int:
    return sum(len(block.split()) for block in blocks)


def _hides(values: dict[str, str]) -> bool:
    return "hidden" in values or bool(_HIDDEN_STYLE.search(values.get("style", "")))


def read_html(data: bytes, path: Path) -> Extracted:
    decoded, encoding = decode_text_and_encoding(data, path)
    markup = _defuse_unclosed_markup(decoded)
    parser = _parsed(markup, drop_furniture=False)
    whole = parser.text()
    text = _main_text(markup) or whole
    return Extracted(
        text=text,
        title=parser.title or parser.first_h1,
        source=_meta_field(parser, "source") or trailing_source(text),
        url=next(filter(safe_url, (clean_field(parser.canonical), _meta_field(parser, "url"))), ""),
        date=_meta_field(parser, "date"),
        encoding=encoding,
    )


def _main_text(markup: str) -> str:
    """The page's main content: of the blocks outside furniture tags and roles (<nav>, <aside>,
    role="navigation"...), those trafilatura counts as main (``main_content``), unless it finds none
    or keeps under ``_MIN_TRAFILATURA_SHARE`` of what all our furniture rules keep; then what those
    rules keep. Class and id names are left to trafilatura: a name such as "wy-nav-content" made our
    rules drop a whole article (docs.html in benchmarks/readers.py). "" when nothing would be left."""
    own = _parsed(markup, drop_furniture=True).text()
    structure = _parsed(markup, drop_furniture=True, by_names=False)
    if _words(structure.blocks) < _MIN_EXTRACTION_WORDS:
        return own
    chosen = main_blocks(markup, structure.blocks)
    if chosen and _words(chosen) >= _MIN_TRAFILATURA_SHARE * len(own.split()):
        return "\n\n".join(chosen)
    return own


def _parsed(markup: str, *, drop_furniture: bool, by_names: bool = True) -> _VisibleText:
    parser = _VisibleText(drop_furniture, by_names=by_names)
    try:
        parser.feed(markup)
        parser.close()
        parser.text()  # flushes the last block
    except (AssertionError, ValueError) as err:  # html.parser's reaction to some broken markup
        raise IngestError(f"HTML could not be parsed ({as_one_line(str(err))})") from err
    return parser


def _defuse_unclosed_markup(text: str) -> str:
    """Rewrite markup that never closes, on which html.parser spends quadratic time.

    As in a browser: ``<![`` opens a bogus comment, an unclosed ``<!--`` hides the rest of the
    page, and a ``<`` after the last ``>`` can open no tag, so it is text.
    """
    last_close = 0
    for match in _COMMENT_CLOSE.finditer(text):
        last_close = match.end()
    unclosed = text.find("<!--", last_close)
    if unclosed >= 0:
        text = text[:unclosed]
    last_gt = text.rfind(">") + 1
    return text[:last_gt].replace("<![", "<! [") + text[last_gt:].replace("<", "&lt;")


def _meta_field(parser: _VisibleText, field: str) -> str:
    for key in _META_FIELDS[field]:
        if parser.meta.get(key, "").strip():
            return clean_field(parser.meta[key])
    return ""
