"""Queries, loads and builds at the same time: readers never fail, writers never corrupt each other.

Builds use the deterministic fake embedder on the generated corpus of tests/tools/indexer.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rag.index.dense
import rag.index.lexical
import rag.index.manifest
import rag.index.open
import rag.pipeline
from rag import Index, build_index, load_index
from rag.errors import IndexLockedError, IndexMismatchError
from rag.index.manifest import MANIFEST
from rag.index.metadata import MetadataStore
from tests.fakes import FakeEmbedder
from tests.helpers import assert_citations
from tests.tools.indexer import THINGS, make_corpus, town

ROOT = Path(__file__).resolve().parent.parent
QUERY_THREADS = 8
QUERIES_PER_THREAD = 50
MIN_BUILDS = 3
DOCUMENTS = 60


def question(number: int) -> str:
    return f"When was the {THINGS[number % len(THINGS)]} of {town(number)} opened?"


QUESTIONS = [question(n) for n in (1, 2, 10, 17, 33)]
LOOKUPS = [
    f"The {THINGS[4]} of {town(4)} was opened in 1804. Critics said the paint cost 28 crowns.",
    f"In {town(6)} the council voted to repaint the {THINGS[6]} blue.",
]


def check_answer(index: Index, answer: Any) -> None:
    assert_citations(index, (*answer.citations, *answer.candidates))


def check_matches(index: Index, text: str, matches: list[Any]) -> None:
    for match in matches:
        assert text[match.query_start : match.query_end] == match.query
        assert_citations(index, [c for c in (match.citation, match.nearest) if c is not None])


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    make_corpus(tmp_path / "corpus", "a", documents=DOCUMENTS)
    return tmp_path / "corpus"


def live_generations(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.glob("gen-*"))


@pytest.mark.slow
def test_queries_from_many_threads_while_the_index_is_rebuilt(corpus: Path, tmp_path: Path) -> None:
    index = build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    expected_answers = {q: index.ask(q) for q in QUESTIONS}
    expected_matches = {t: index.lookup(t) for t in LOOKUPS}
    for q, answer in expected_answers.items():
        assert not answer.abstained, q
        check_answer(index, answer)
    latest = [index]  # the newest index the writer has made, for a share of the queries
    failures: list[str] = []
    queries_done, rebuilt, start = threading.Event(), threading.Event(), threading.Barrier(QUERY_THREADS + 1)
    builds = 0

    def query(number: int) -> None:
        start.wait()
        step = 0
        # At least QUERIES_PER_THREAD each, and on until the writer has committed MIN_BUILDS times.
        while step < QUERIES_PER_THREAD or (not rebuilt.is_set() and step < 20 * QUERIES_PER_THREAD):
            step += 1
            target = latest[-1] if step % 5 == 4 else index
            try:
                if step % 2:
                    text = LOOKUPS[(number + step) % len(LOOKUPS)]
                    matches = target.lookup(text)
                    check_matches(target, text, matches)
                    assert target is not index or matches == expected_matches[text]
                else:
                    text = QUESTIONS[(number + step) % len(QUESTIONS)]
                    answer = target.ask(text)
                    check_answer(target, answer)
                    assert target is not index or answer == expected_answers[text]
            except Exception as error:  # every failure is reported, with its thread
                failures.append(f"thread {number} query {step}: {type(error).__name__}: {error}")

    def write() -> None:
        nonlocal builds
        start.wait()
        while not queries_done.is_set() and builds < 12:
            try:
                if builds % 2:
                    latest.append(latest[-1].rebuild())
                else:
                    new = tmp_path / f"upload-{builds}.md"
                    new.write_text(f"# Upload {builds}\n\nThe upload number {builds} arrived today.\n")
                    latest.append(index.add_files([new], folder="uploads"))
            except Exception as error:
                failures.append(f"writer build {builds}: {type(error).__name__}: {error}")
                rebuilt.set()
                return
            builds += 1
            if builds >= MIN_BUILDS:
                rebuilt.set()

    threads = [threading.Thread(target=query, args=(n,)) for n in range(QUERY_THREADS)]
    writer = threading.Thread(target=write)
    for thread in (*threads, writer):
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    queries_done.set()
    writer.join(timeout=120)
    assert failures == []
    assert builds >= MIN_BUILDS, "the index was rebuilt while the queries ran"
    final = load_index(tmp_path / "index", embedder=FakeEmbedder())
    assert len(final.documents()) == DOCUMENTS + (builds + 1) // 2
    assert live_generations(tmp_path / "index") == [final.manifest["generation"]]
    answer = final.ask("When did the upload number 0 arrive?")
    assert answer.citations and answer.citations[0].doc_id == "uploads/upload-0.md"
    check_answer(final, answer)


# --- a load racing a build -----------------------------------------------------------------


def within(seconds: float, call: Callable[[], Any]) -> Any:
    """``call()`` in a thread: its result or its exception, or a failure if it hangs (a deadlock)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = call()
        except BaseException as error:  # handed to the caller
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"still running after {seconds} s: a deadlock?")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def rebuild_once(corpus: Path, index_dir: Path) -> Callable[[], None]:
    """A hook that, the first time it runs, changes the corpus and commits a new build."""
    done = False

    def hook() -> None:
        nonlocal done
        if not done:
            done = True
            (corpus / "late.md").write_text("# Late\n\nThe late report was filed on Friday.\n")
            build_index(corpus, index_dir, embedder=FakeEmbedder())

    return hook


def before(hook: Callable[[], None], original: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        hook()
        return original(*args, **kwargs)

    return wrapper


def classmethod_before(hook: Callable[[], None], owner: type, name: str) -> classmethod:
    original = getattr(owner, name)
    return classmethod(lambda cls, *args, **kwargs: before(hook, original)(*args, **kwargs))


# Where load_index can be interrupted: after reading the manifest, and before opening each
# file, a build commits a new generation and deletes the one being loaded.
RACE_POINTS: dict[str, Callable[[Callable[[], None]], tuple[Any, str, Any]]] = {
    "before-verify": lambda hook: (rag.index.open, "verify_files", before(hook, rag.index.manifest.verify_files)),
    "before-faiss": lambda hook: (
        rag.index.dense.DenseIndex,
        "load",
        classmethod_before(hook, rag.index.dense.DenseIndex, "load"),
    ),
    "before-vectors": lambda hook: (np, "load", before(hook, np.load)),
    "before-bm25": lambda hook: (
        rag.index.lexical.LexicalIndex, "load", classmethod_before(hook, rag.index.lexical.LexicalIndex, "load"),
    ),
    "before-sqlite": lambda hook: (MetadataStore, "open", classmethod_before(hook, MetadataStore, "open")),
}  # fmt: skip


# A load racing a build retries when a newer build deleted the generation it was opening,
# and loads in several threads are serialised where numpy reads .npy headers with
# ast.literal_eval, which is not thread-safe on CPython 3.11 (python/cpython#106905).
@pytest.mark.parametrize("point", sorted(RACE_POINTS))
def test_a_load_racing_a_build_gets_the_new_index(corpus: Path, tmp_path: Path, point: str) -> None:
    index_dir = tmp_path / "index"
    old = build_index(corpus, index_dir, embedder=FakeEmbedder())
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(*RACE_POINTS[point](rebuild_once(corpus, index_dir)))
        loaded = within(60, lambda: load_index(index_dir, embedder=FakeEmbedder()))
    assert loaded.manifest["generation"] != old.manifest["generation"], "the old generation was deleted"
    answer = loaded.ask("When was the late report filed?")
    assert answer.citations and answer.citations[0].doc_id == "late.md"
    check_answer(loaded, answer)


def test_a_damaged_index_is_not_retried_forever(corpus: Path, tmp_path: Path) -> None:
    """The retry must stop at damage: the same generation is still live, so its error stands."""
    index_dir = tmp_path / "index"
    index = build_index(corpus, index_dir, embedder=FakeEmbedder())
    segment = index.manifest["segments"][0]["name"]
    (index_dir / index.manifest["generation"] / segment / "sentences.faiss").write_bytes(b"damaged")
    with pytest.raises(IndexMismatchError, match="rebuild it with"):
        load_index(index_dir, embedder=FakeEmbedder())


@pytest.mark.slow
def test_loads_in_threads_while_builds_commit(corpus: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    build_index(corpus, index_dir, embedder=FakeEmbedder())
    failures: list[str] = []
    building = threading.Event()
    building.set()

    def load_repeatedly() -> None:
        while building.is_set():
            try:
                index = load_index(index_dir, embedder=FakeEmbedder())
                answer = index.ask(question(1))
                assert not answer.abstained
                check_answer(index, answer)
            except Exception as error:
                failures.append(f"{type(error).__name__}: {error}")

    loaders = [threading.Thread(target=load_repeatedly) for _ in range(2)]
    for loader in loaders:
        loader.start()
    try:
        for number in range(6):
            (corpus / f"extra-{number}.md").write_text(f"Extra report {number} was filed.\n")
            build_index(corpus, index_dir, embedder=FakeEmbedder())
    finally:
        building.clear()
        for loader in loaders:
            loader.join(timeout=60)
    assert failures == []
    assert len(live_generations(index_dir)) == 1


@pytest.mark.slow
def test_loads_in_many_threads_at_once(corpus: Path, tmp_path: Path) -> None:
    build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    failures: list[str] = []

    def load_repeatedly() -> None:
        for _ in range(60):
            try:
                load_index(tmp_path / "index", embedder=FakeEmbedder())
            except Exception as error:  # every failure is reported
                failures.append(f"{type(error).__name__}: {error}")

    loaders = [threading.Thread(target=load_repeatedly) for _ in range(4)]
    for loader in loaders:
        loader.start()
    for loader in loaders:
        loader.join(timeout=120)
    assert failures == []
    index = load_index(tmp_path / "index", embedder=FakeEmbedder())
    answer = index.ask(question(1))
    assert not answer.abstained
    check_answer(index, answer)


# --- two writers ---------------------------------------------------------------------------


@pytest.mark.slow
def test_two_indexers_started_at_once_one_wins_the_other_refuses(corpus: Path, tmp_path: Path) -> None:
    index_dir, go = tmp_path / "index", tmp_path / "go"
    # The fake embedder sleeps per batch so the winner holds the lock for about a second.
    env = {**os.environ, "RAG_TEST_EMBED_SLEEP": "0.1"}
    command = [sys.executable, "-m", "tests.tools.indexer", "build", str(corpus), str(index_dir), "--wait-for", str(go)]
    processes = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    for process in processes:
        assert process.stdout.readline().strip() == "ready"
    go.touch()
    results = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in processes]
    for process in processes:
        process.stdout.close()
        process.stderr.close()
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [0, 1], results
    _, _, refusal = next(r for r in results if r[0] == 1)
    assert refusal.strip() == f"error: another process is writing the index at {index_dir}; try again when it is done"
    (winner,) = [r for r in results if r[0] == 0]
    index = load_index(index_dir, embedder=FakeEmbedder(), verify=True)
    assert winner[1].strip() == f"built {index.manifest['corpus_fingerprint']}"
    assert len(index.documents()) == DOCUMENTS
    assert live_generations(index_dir) == [index.manifest["generation"]]
    assert not list(index_dir.glob(f".{MANIFEST}.*"))
    answer = index.ask(question(1))
    assert not answer.abstained
    check_answer(index, answer)
    build_index(corpus, index_dir, embedder=FakeEmbedder())  # the winner released the lock


def corpus_files(corpus: Path) -> dict[str, bytes]:
    return {p.relative_to(corpus).as_posix(): p.read_bytes() for p in corpus.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_add_and_remove_refused_while_another_process_writes_touch_nothing(corpus: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    index = build_index(corpus, index_dir, embedder=FakeEmbedder())
    make_corpus(tmp_path / "more", "b", documents=DOCUMENTS)  # an update with much to embed, slowly
    for path in (tmp_path / "more").glob("*"):
        os.replace(path, corpus / f"more-{path.name}")
    before = corpus_files(corpus)
    new = tmp_path / "new.txt"
    new.write_text("The harbour of Arden was repainted in spring.\n", encoding="utf-8")
    env = {**os.environ, "RAG_TEST_EMBED_SLEEP": "0.5"}
    command = [sys.executable, "-m", "tests.tools.indexer", "build", str(corpus), str(index_dir)]
    writer = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "ready"
        # Until the writer holds the lock and is writing: its new generation folder appears. (Probing by
        # taking the lock ourselves could make the writer's own non-blocking lock fail.)
        while writer.poll() is None and not any(index_dir.glob("gen-*.tmp")):
            time.sleep(0.005)
        assert writer.poll() is None, writer.communicate()[1][-500:]
        with pytest.raises(IndexLockedError):
            index.add_files([new], folder="added")
        with pytest.raises(IndexLockedError):
            index.remove([next(iter(index.documents()))["doc_id"]])
        assert writer.poll() is None, "the writer held the lock throughout"
        assert corpus_files(corpus) == before, "nothing was copied in or moved out"
    finally:
        writer.wait(timeout=300)
        writer.stdout.close()
        writer.stderr.close()
    assert writer.returncode == 0
