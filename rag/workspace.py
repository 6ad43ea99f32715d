"""What the command line and the app share: default folders, host and port; opening (or first building) the index.

The two interfaces must agree on where documents and the index live, so both take these
defaults and ``open_or_build`` from here.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

from rag import Config, Index, build_index, load_index
from rag.errors import IndexNotFoundError, RagError

DEFAULT_CORPUS = "corpus"
DEFAULT_INDEX = ".rag-index"
INDEX_VARIABLE = "RAG_INDEX"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860


def default_index() -> str:
    """The index folder when none is given: ``$RAG_INDEX``, else ``.rag-index``."""
    return os.environ.get(INDEX_VARIABLE) or DEFAULT_INDEX


def encoder_needs_export(config: Config) -> bool:
    """Whether building with ``config`` first exports its encoder (about 20 s, once), so the
    interfaces can say so; False when the export is cached or given by $RAG_ENCODER_DIR."""
    settings = config.embedding
    if settings.encoder != "onnx-int8" or (not settings.model and os.environ.get("RAG_ENCODER_DIR")):
        return False
    from rag.encoder.export_onnx import default_model_path, export_ready

    try:
        return not export_ready(settings.model or default_model_path())
    except RagError:  # a missing model: loading it says so
        return False


def _silent(message: str) -> None:
    del message


def open_or_build(
    index_dir: str | Path, corpus: str | Path | None = None, *, say: Callable[[str], None] = _silent
) -> Index:
    """Open the index at ``index_dir``; when there is none yet, build it from the corpus first.

    Args:
        index_dir: The index folder.
        corpus: The folder to build from when there is no index. None: the default corpus, and
            only for the default index folder, so that a mistyped ``--index`` is refused rather
            than quietly built anew.
        say: Receives one line for the user when the index is built first, or when it was built
            from another corpus than ``corpus``.

    Raises:
        IndexNotFoundError: There is no index and none is built (another folder than the default).
        RagError: The index cannot be read, or the build fails (the message says why).
    """
    try:
        index = load_index(index_dir)
    except IndexNotFoundError:
        source = corpus if corpus is not None else _default_source(index_dir)
        if source is None:
            raise IndexNotFoundError(
                f"no index at {index_dir}: build one first with: rag index CORPUS --index {index_dir}"
            ) from None
        say(f"No index at {index_dir} yet: building it from {source}/ first.")
        if encoder_needs_export(Config()):  # the first start's longest silence otherwise
            say("Preparing the encoder once (about 20 s).")
        index = build_index(source, index_dir, progress=True)
        if index.build_report is not None:
            report = index.build_report
            say(f"Indexed {counted(report.documents, 'document')}, {counted(report.sentences, 'sentence')}.")
        return index
    if corpus is not None and Path(corpus).resolve() != index.corpus.resolve():
        say(f"note: {index_dir} was built from {index.corpus}, not {corpus}; using it as it is.")
    return index


def _default_source(index_dir: str | Path) -> str | None:
    """The default corpus when ``index_dir`` is the default index and the corpus is there; else None."""
    if str(index_dir) != default_index() or not Path(DEFAULT_CORPUS).is_dir():
        return None
    return DEFAULT_CORPUS


def counted(number: int, noun: str) -> str:
    """``number`` and ``noun``, plural unless it is one: "1 document", "3 sentences"."""
    return f"{number:,} {noun}" if number == 1 else f"{number:,} {noun}s"


def add_cluster_arguments(parser: argparse.ArgumentParser) -> None:
    """``--ray ADDRESS --shards N``: answer from an index held by actors on a Ray cluster (pip extra: ray)."""
    parser.add_argument("--ray", metavar="ADDRESS", default=None, help="serve from this Ray cluster (pip extra: ray)")
    parser.add_argument("--shards", type=int, default=None, help="Ray actors holding the index (with --ray)")


def port_number(text: str) -> int:
    """A TCP port to listen on, 1 to 65535 (argparse turns the ValueError into a usage line)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"the port must be a number, got {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"the port must be between 1 and 65535, got {port}")
    return port


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the browser app, for ``python ui.py`` and ``rag serve`` alike."""
    parser.add_argument("--corpus", default=DEFAULT_CORPUS, help=f"corpus folder (default: {DEFAULT_CORPUS})")
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default: {DEFAULT_HOST})")
    parser.add_argument("--port", type=port_number, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT})")
    parser.add_argument(
        "--auth", default=None, help="USER:PASSWORD, required beyond loopback (shows in ps: prefer --auth-file)"
    )
    parser.add_argument("--auth-file", default=None, help="a file whose first line is USER:PASSWORD (or set $RAG_AUTH)")
    parser.add_argument(
        "--allowed-hosts", default=None, help="comma-separated host names the app answers to besides loopback ones"
    )
    add_cluster_arguments(parser)


# --- stopping on SIGTERM as on Ctrl-C -------------------------------------------------------

TERMINATED_STATUS = 143  # 128 + SIGTERM: what a shell, timeout, docker and systemd report for it


class Terminated(KeyboardInterrupt):
    """SIGTERM (timeout, docker stop, systemd), raised in the main thread as Ctrl-C raises
    KeyboardInterrupt, so that the same clean-up runs: a build removes its unfinished
    generation, an add or a removal puts the corpus back."""


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While inside, SIGTERM raises ``Terminated`` in the main thread (elsewhere this does nothing).

    Only the first SIGTERM raises; later ones are ignored, so that they cannot break off the
    clean-up the first one started (SIGKILL still ends the process, and loses nothing either).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def _terminate(signum: int, frame: FrameType | None) -> None:
    del signum, frame
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated
