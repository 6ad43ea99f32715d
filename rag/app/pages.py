"""A cited PDF page as printed: the page rendered to an image, the quoted sentence highlighted on it.

The text view shows the words rag extracted; this shows the evidence where a reader of the PDF
sees it (columns, figures and tables around it). pypdfium2 (PDFium's Python binding, BSD-3 and
Apache-2.0) renders the page and finds the sentence's characters on it; nothing else reads the
file. The sentence is found by its letters, whitespace aside, since the page's text breaks lines
where the extracted text has spaces. When it cannot be found, the page is shown unmarked and said so.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

# 1.5 pixels per PDF point (108 dpi): a page is ~900 px wide, sharp enough for body text beside the
# text view and about 0.1 s to render here (benchmarks/ui_timing.py prints the time per page).
SCALE = 1.5
MAX_PAGES_KEPT = 16  # rendered pages kept in memory, newest last
HIGHLIGHT = (253, 224, 71, 110)  # the text view's highlight yellow, see-through
_LOCK = threading.Lock()  # PDFium is not thread-safe
_KEPT: OrderedDict[tuple[str, float, int, str], PageImage] = OrderedDict()


@dataclass(frozen=True)
class PageImage:
    """A rendered page (a PIL image) and whether the sentence was found and marked on it."""

    image: Any
    marked: bool
    page: int


def page_image(path: str | Path, page: int, sentence: str) -> PageImage:
    """Page ``page`` (1-based) of the PDF at ``path`` as an image, ``sentence`` highlighted where it is.

    Raises:
        ValueError: The file is not a PDF PDFium can open, or has no such page.
    """
    path = Path(path)
    key = (str(path), path.stat().st_mtime, page, sentence)
    with _LOCK:
        if key in _KEPT:
            _KEPT.move_to_end(key)
            return _KEPT[key]
        rendered = _render(path, page, sentence)
        _KEPT[key] = rendered
        while len(_KEPT) > MAX_PAGES_KEPT:
            _KEPT.popitem(last=False)
    return rendered


def _render(path: Path, page_number: int, sentence: str) -> PageImage:
    import pypdfium2 as pdfium
    from PIL import Image, ImageDraw

    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as error:
        raise ValueError(f"{path.name} cannot be opened as a PDF ({error})") from None
    try:
        if not 1 <= page_number <= len(pdf):
            pages = f"{len(pdf)} page{'' if len(pdf) == 1 else 's'}"
            raise ValueError(f"{path.name} has {pages}, not a page {page_number}")
        page = pdf[page_number - 1]
        image = page.render(scale=SCALE).to_pil().convert("RGBA")
        boxes = _sentence_boxes(page, sentence)
        if boxes:
            overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
            draw = ImageDraw.Draw(overlay)
            height = page.get_height()
            for left, bottom, right, top in boxes:
                draw.rectangle(
                    (left * SCALE, (height - top) * SCALE, right * SCALE, (height - bottom) * SCALE), fill=HIGHLIGHT
                )
            image = Image.alpha_composite(image, overlay)
        return PageImage(image.convert("RGB"), bool(boxes), page_number)
    finally:
        pdf.close()


def _sentence_boxes(page: Any, sentence: str) -> list[tuple[float, float, float, float]]:
    """The rectangles (PDF points, origin bottom left) covering ``sentence`` on ``page``; [] if not found."""
    text_page = page.get_textpage()
    try:
        text = text_page.get_text_range()
        letters, places = [], []
        for at, character in enumerate(text):
            if not character.isspace() and character not in "\u00ad\ufffe":  # soft hyphens are not in the text
                letters.append(character.casefold())
                places.append(at)
        wanted = "".join(c.casefold() for c in sentence if not c.isspace())
        found = "".join(letters).find(wanted) if wanted else -1
        if found < 0:
            return []
        first, last = places[found], places[found + len(wanted) - 1]
        count = text_page.count_rects(first, last - first + 1)
        return [text_page.get_rect(n) for n in range(count)]
    finally:
        text_page.close()
