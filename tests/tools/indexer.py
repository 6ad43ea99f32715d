"""Build an index of a generated corpus with the fake embedder, in a child process a test may kill.

Two ways to run it::

    python -m tests.tools.indexer build CORPUS INDEX [--wait-for FILE] [--kill-at STEP]
    python -m tests.tools.indexer serve

``build`` prints ``ready`` once everything is imported, waits for ``--wait-for`` to exist
if given, builds, and prints ``built <corpus fingerprint>``; an error rag raises on purpose
(IndexLockedError for a second writer) is printed as one line on stderr, exit status 1.

``serve`` imports everything once, prints ``ready``, then reads one JSON command a line
from stdin and answers one JSON line on stdout, so that a test can kill dozens of builds
without paying Python's start-up for each:

- ``{"do": "build", "corpus": ..., "index": ..., "kill_at": STEP|null, "sleep": S}`` forks a
  child that builds and exits; answers ``{"pid": PID}`` at once. The child is not reaped
  until ``wait``, so its pid cannot be reused while the test may still SIGKILL it.
- ``{"do": "wait", "pid": PID}`` reaps it; answers ``{"status": S}`` (0 built, 1 refused,
  2 crashed with a traceback on stderr, minus the signal number when killed).

``sleep`` (seconds per batch of 32 sentences) slows the embedder; ``kill_at`` makes the
build SIGKILL itself at one step of the write (see STEPS).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tests.fakes import FakeEmbedder

EMBED_BATCH = 32
TOWNS = ("Arden", "Belmoor", "Corvale", "Dunmere", "Elsby", "Farrow", "Glenhart", "Hollin", "Ivybridge", "Jarrow")
THINGS = ("lighthouse", "library", "bridge", "observatory", "museum", "harbour", "mill", "theatre")
# Steps of a build at which ``kill_at`` can SIGKILL it, in the order a build reaches them.
STEPS = (
    "embedding", "sqlite-commit", "bm25-save", "faiss-write", "npy-save", "fsync", "generation-rename",
    "generation-renamed", "manifest-temp", "manifest-replaced", "stale-cleanup",
)  # fmt: skip


def town(number: int) -> str:
    """A place name of its own for each document, so questions about it have one answer."""
    return f"{TOWNS[number % len(TOWNS)]}{number // len(TOWNS)}"


def document_text(number: int, version: str) -> str:
    """One small news item; version "b" changes a fact of every fifth document."""
    place, thing = town(number), THINGS[number % len(THINGS)]
    year = 1800 + number + (100 if version == "b" and number % 5 == 0 else 0)
    return (
        f"# News from {place}\n\n"
        f"The {thing} of {place} was opened in {year}. "
        f"Its keeper, Ada {place}son, counts {number + 3} visitors a day.\n\n"
        f"In {place} the council voted to repaint the {thing} blue. "
        f"Critics said the paint cost {number * 7} crowns."
    )


def make_corpus(folder: Path, version: str, documents: int = 300) -> None:
    """Write the generated corpus at ``version`` "a" or "b" into ``folder`` (only files that differ).

    Version "b" changes every fifth document, drops every seventh and adds five new ones,
    so an update from "a" to "b" adds, updates and removes documents.
    """
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {
        f"news-{number:04d}.md": document_text(number, version)
        for number in range(documents + (5 if version == "b" else 0))
        if not (version == "b" and number % 7 == 3)
    }
    for path in folder.glob("*.md"):
        if path.name not in wanted:
            path.unlink()
    for name, text in wanted.items():
        path = folder / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")


class SlowFakeEmbedder(FakeEmbedder):
    """The fake embedder (same name, same vectors) working in batches, sleeping after each."""

    def __init__(self, sleep: float = 0.0, after_batch: Callable[[int], None] | None = None) -> None:
        self.sleep = sleep
        self.after_batch = after_batch

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        parts = [np.zeros((0, self.dim), dtype=np.float32)]
        for number, start in enumerate(range(0, len(texts), EMBED_BATCH)):
            parts.append(super().encode(texts[start : start + EMBED_BATCH]))
            if self.sleep:
                time.sleep(self.sleep)
            if self.after_batch:
                self.after_batch(number)
        return np.concatenate(parts)


# --- self-inflicted SIGKILL at one step ----------------------------------------------------


def _die() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _always(*args: Any) -> bool:
    return True


def _kill_on_call(
    owner: Any, name: str, *, call: int = 1, before: bool = True, when: Callable[..., bool] = _always
) -> None:
    """SIGKILL this process at the ``call``-th call of ``owner.name`` that ``when`` accepts (before or after it)."""
    original = getattr(owner, name)
    calls = 0

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += bool(when(*args))
        if calls == call and before:
            _die()
        result = original(*args, **kwargs)
        if calls == call:
            _die()
        return result

    setattr(owner, name, wrapper)


def _kill_on_replace(predicate: Callable[[Path], bool], *, before: bool) -> None:
    original = os.replace

    def replace(source: Any, target: Any, **kwargs: Any) -> None:
        hit = predicate(Path(source))
        if hit and before:
            _die()
        original(source, target, **kwargs)
        if hit:
            _die()

    os.replace = replace


def _kill_while_removing(generation: str | None) -> None:
    """Die after deleting one file of ``generation`` (the one live before this build) while it is removed."""
    original = shutil.rmtree

    def rmtree(path: Any, *args: Any, **kwargs: Any) -> None:
        files = sorted(p for p in Path(path).rglob("*") if p.is_file())
        if generation and Path(path).name == generation and files:
            files[0].unlink()
            _die()
        original(path, *args, **kwargs)

    shutil.rmtree = rmtree


def _is_generation(path: Path) -> bool:
    return path.name.startswith("gen-") and path.name.endswith(".tmp")


def _is_manifest(path: Path) -> bool:
    return path.name.startswith(".manifest.json.")


def _is_vector_writer(writer: Any, *args: Any) -> bool:
    return Path(writer.path).name == "sentence_vectors.npy"


def arm(step: str, embedder: SlowFakeEmbedder, index_dir: Path) -> None:
    """Arrange for this process to SIGKILL itself at ``step`` of the build."""
    import rag.index.dense
    import rag.index.lexical
    import rag.index.manifest
    import rag.index.metadata

    steps: dict[str, Callable[[], None]] = {
        "embedding": lambda: setattr(embedder, "after_batch", lambda number: _die() if number == 1 else None),
        "sqlite-commit": lambda: _kill_on_call(rag.index.metadata.MetadataStore, "commit"),
        "bm25-save": lambda: _kill_on_call(rag.index.lexical.LexicalIndex, "save", call=2),
        "faiss-write": lambda: _kill_on_call(rag.index.dense.DenseIndex, "write", before=False),
        # The sentence vectors are written as they are encoded; this strikes once the file is whole.
        "npy-save": lambda: _kill_on_call(rag.index.dense.RowWriter, "__exit__", before=False, when=_is_vector_writer),
        "fsync": lambda: _kill_on_call(os, "fsync", call=3),
        "generation-rename": lambda: _kill_on_replace(_is_generation, before=True),
        "generation-renamed": lambda: _kill_on_replace(_is_generation, before=False),
        "manifest-temp": lambda: _kill_on_replace(_is_manifest, before=True),
        "manifest-replaced": lambda: _kill_on_replace(_is_manifest, before=False),
        "stale-cleanup": lambda: _kill_while_removing(rag.index.manifest.live_generation(index_dir)),
    }
    steps[step]()


# --- the two modes -------------------------------------------------------------------------


def _import_everything() -> None:
    """Import what a build uses now, so that the build itself starts at "ready"."""
    import Stemmer  # noqa: F401

    import rag.pipeline  # noqa: F401
    from rag.index.dense import load_faiss

    load_faiss()


def build(corpus: Path, index_dir: Path, *, kill_at: str | None = None, sleep: float = 0.0) -> int:
    """Build the index; 0 when done, 1 when rag refused (message on stderr)."""
    from rag import build_index
    from rag.errors import RagError

    embedder = SlowFakeEmbedder(sleep)
    if kill_at:
        arm(kill_at, embedder, index_dir)
    try:
        index = build_index(corpus, index_dir, embedder=embedder)
    except RagError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 1
    print(f"built {index.manifest['corpus_fingerprint']}", flush=True)
    return 0


def _forked_build(command: dict[str, Any]) -> int:
    try:
        sys.stdout = open(os.devnull, "w")  # the server's stdout carries its answers only
        return build(Path(command["corpus"]), Path(command["index"]), **command.get("options", {}))
    except BaseException:
        traceback.print_exc()
        return 2
    finally:
        sys.stderr.flush()


def serve() -> int:
    _import_everything()
    print("ready", flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        if command["do"] == "build":
            pid = os.fork()
            if pid == 0:
                os._exit(_forked_build(command))
            answer: dict[str, int] = {"pid": pid}
        else:
            _, status = os.waitpid(command["pid"], 0)
            answer = {"status": os.waitstatus_to_exitcode(status)}
        print(json.dumps(answer), flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    modes = parser.add_subparsers(dest="mode", required=True)
    one = modes.add_parser("build", help="build once")
    one.add_argument("corpus", type=Path)
    one.add_argument("index", type=Path)
    one.add_argument("--wait-for", type=Path, help="start building only once this file exists")
    one.add_argument("--kill-at", choices=STEPS, help="SIGKILL this process at this step of the build")
    modes.add_parser("serve", help="fork a build per command read from stdin")
    args = parser.parse_args(argv)
    if args.mode == "serve":
        return serve()
    _import_everything()
    print("ready", flush=True)
    while args.wait_for and not args.wait_for.exists():
        time.sleep(0.002)
    return build(args.corpus, args.index, kill_at=args.kill_at, sleep=float(os.environ.get("RAG_TEST_EMBED_SLEEP", 0)))


if __name__ == "__main__":
    sys.exit(main())


class IndexerServer:
    """The test's side of ``serve``: one long-lived process that forks a build per call."""

    def __init__(self, log: Path) -> None:
        self._log = log
        with open(log, "w") as errors:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "tests.tools.indexer", "serve"],
                cwd=Path(__file__).resolve().parents[2],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
            )
        line = self._process.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"the indexer server did not start: {line!r} {self.errors()}")

    def _ask(self, command: dict[str, Any]) -> dict[str, int]:
        self._process.stdin.write(json.dumps(command) + "\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"the indexer server died: {self.errors()}")
        return json.loads(line)

    def start(self, corpus: Path, index_dir: Path, **options: Any) -> int:
        """Fork a build (``kill_at``, ``sleep`` as for ``build``); its pid, valid until ``wait``."""
        return self._ask({"do": "build", "corpus": str(corpus), "index": str(index_dir), "options": options})["pid"]

    def kill(self, pid: int) -> None:
        """SIGKILL a build; harmless when it is already done (it stays a zombie until ``wait``)."""
        os.kill(pid, signal.SIGKILL)

    def wait(self, pid: int) -> int:
        """Reap a build: 0 built, 1 refused, 2 crashed, minus the signal number when killed."""
        return self._ask({"do": "wait", "pid": pid})["status"]

    def run(self, corpus: Path, index_dir: Path, **options: Any) -> int:
        return self.wait(self.start(corpus, index_dir, **options))

    def errors(self) -> str:
        return self._log.read_text(encoding="utf-8", errors="replace")

    def close(self) -> None:
        self._process.stdin.close()
        self._process.wait(timeout=30)
