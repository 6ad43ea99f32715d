"""Progress on what a person waits for: a tqdm bar on a terminal, at most one line per phase elsewhere.

A log file or a pipe gets no bar frames (each a carriage return and a redrawn line), so what a
redirected run writes stays readable and its last line stays the error, when there is one.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO


class _NoProgress:
    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int = 1) -> None:
        return None


def on_terminal(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (default: stderr, where progress goes) is a terminal."""
    stream = stream if stream is not None else sys.stderr
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


def progress(total: int, description: str, unit: str, show: bool) -> Any:
    """A bar of ``total`` steps for ``description`` ("Reading", "Embedding"), used as a context manager.

    With ``show`` on a terminal, a tqdm bar on stderr; with ``show`` elsewhere, one line
    ("Reading 200 files") when the phase starts; without ``show``, nothing.
    """
    if not show or total <= 0:
        return _NoProgress()
    if not on_terminal():
        sys.stderr.write(f"{description} {total} {unit}{'' if total == 1 else 's'}\n")
        sys.stderr.flush()
        return _NoProgress()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, unit=unit, file=sys.stderr)
