"""Which blocks of an HTML page are its main content, as trafilatura decides (the only home of trafilatura).

Our HTML reader splits a page into the blocks a browser shows; trafilatura (Apache-2.0) extracts
the page's main text. A block is kept when trafilatura kept its words, so the document text stays
our reader's own blocks (its hidden-text rules, its paragraphs for passages) and only the choice
of blocks is trafilatura's. benchmarks/readers.py measured this against using trafilatura's text
itself: the same words kept and dropped on every page (docs/readers.md).
"""

from __future__ import annotations

import logging
import re
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

logger = logging.getLogger(__name__)

# The time trafilatura may take on a page before our reader's own choice is used instead: it took
# 1-70 ms a page in benchmarks/readers.py, so this is far above a real page and well under the
# parser's own time limit (rag.ingest.worker), which still bounds the whole read.
EXTRACTION_SECONDS = 5.0
_WORD = re.compile(r"\w+(?:[.,'’]\w+)*")
# A block of at least three words is main content when at least half its word trigrams are in
# trafilatura's text; a shorter one (a heading, a table cell) when it is one of its lines.
_MIN_SHARED_TRIGRAMS = 0.5


class _ExtractionTimeout(Exception):
    pass


def main_blocks(markup: str, blocks: list[str]) -> list[str] | None:
    """The ``blocks`` of the page ``markup`` that trafilatura counts as main content, in order.

    None when trafilatura is not installed, fails, times out or finds no main text; the caller
    then uses its own rules.
    """
    try:
        import trafilatura  # imported here: only HTML needs it, and a missing package is a fallback
    except ImportError:
        return None
    try:
        with _time_limit(EXTRACTION_SECONDS):
            extracted = trafilatura.extract(markup, include_tables=True, include_comments=False, fast=True)
    except _ExtractionTimeout:
        logger.info("trafilatura took over %g s; the page is read by its own rules", EXTRACTION_SECONDS)
        return None
    except Exception as err:  # trafilatura and lxml raise many kinds on broken markup: fall back, never fail
        logger.info("trafilatura failed (%s); the page is read by its own rules", type(err).__name__)
        return None
    if not extracted or not extracted.strip():
        return None
    return _shared_blocks(blocks, extracted)


def _shared_blocks(blocks: list[str], extracted: str) -> list[str]:
    words = _words(extracted)
    trigrams = set(zip(words, words[1:], words[2:], strict=False))
    lines = {tuple(_words(line)) for line in extracted.split("\n")}
    kept = []
    for block in blocks:
        own = _words(block)
        if len(own) < 3:
            if own and tuple(own) in lines:
                kept.append(block)
            continue
        own_trigrams = list(zip(own, own[1:], own[2:], strict=False))
        if sum(gram in trigrams for gram in own_trigrams) >= _MIN_SHARED_TRIGRAMS * len(own_trigrams):
            kept.append(block)
    return kept


def _words(text: str) -> list[str]:
    return [word.lower() for word in _WORD.findall(text)]


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise ``_ExtractionTimeout`` in this thread after ``seconds``, where a timer signal can (the
    main thread on Unix, as in a parser process); elsewhere the caller's own limit bounds the call."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise _ExtractionTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
