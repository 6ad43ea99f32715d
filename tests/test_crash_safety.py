"""The index store survives kill -9, a full disk and damaged files: the index is always the old one or the new one.

The builds run with the deterministic fake embedder (no model) on a generated corpus of
300 small news items (tests/tools/indexer.py); version "b" of the corpus updates, adds and
removes documents, so each question below is answered differently before and after.
"""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rag.index.dense
import rag.index.files
import rag.index.lexical
import rag.index.manifest
from rag import build_index, load_index
from rag.errors import IndexMismatchError, IndexNotFoundError, IndexWriteError
from rag.index.manifest import MANIFEST
from rag.index.metadata import MetadataStore
from rag.index.segment import DATABASE
from rag.types import Answer
from tests.fakes import FakeEmbedder
from tests.helpers import assert_citations, assert_offsets
from tests.tools.indexer import STEPS, THINGS, IndexerServer, document_text, make_corpus, town

SEED = 20240611
RANDOM_KILLS_PER_SCENARIO = 10
# One question about a fact version "b" changes, one about a document it removes, one
# about a document it adds, and one about a document both versions share unchanged.
ASKED = (0, 10, 3, 302, 1)


def question(number: int) -> str:
    return f"When was the {THINGS[number % len(THINGS)]} of {town(number)} opened?"


def check_answer(index: Any, answer: Answer) -> None:
    """The offsets contract for every citation and candidate of ``answer``."""
    assert_citations(index, (*answer.citations, *answer.candidates))


@dataclass(frozen=True)
class State:
    """What an index holds, as far as a user can tell: its corpus fingerprint and its answers."""

    fingerprint: str
    answers: tuple[Answer, ...]


def observe(index_dir: Path) -> State | None:
    """The state of the index at ``index_dir`` (None when there is none), fully verified."""
    try:
        index = load_index(index_dir, embedder=FakeEmbedder(), verify=True)
    except IndexNotFoundError:
        return None
    answers = tuple(index.ask(question(number)) for number in ASKED)
    for answer in answers:
        check_answer(index, answer)
    assert not answers[-1].abstained, "the index answers a question every version can answer"
    return State(index.manifest["corpus_fingerprint"], answers)


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The generated corpus at versions "a" and "b", in two folders that are never changed."""
    folder = tmp_path_factory.mktemp("corpora")
    for version in ("a", "b"):
        make_corpus(folder / version, version)
    return {version: folder / version for version in ("a", "b")}


@pytest.fixture(scope="module")
def references(corpora: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Reference states of fresh builds of versions "a" and "b", and an index at "a" to copy."""
    folder = tmp_path_factory.mktemp("references")
    result: dict[str, Any] = {}
    for version in ("a", "b"):
        build_index(corpora[version], folder / version, embedder=FakeEmbedder())
        result[version] = observe(folder / version)
    assert result["a"].answers[0] != result["b"].answers[0]
    result["index-a"] = folder / "a"
    shutil.copytree(folder / "a", folder / "update")
    build_index(corpora["b"], folder / "update", embedder=FakeEmbedder())
    assert observe(folder / "update") == result["b"], "an update equals a fresh build"
    return result


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexerServer]:
    """One process that forks each build to kill (Python's start-up paid once, not per kill)."""
    server = IndexerServer(tmp_path_factory.mktemp("server") / "stderr.txt")
    yield server
    server.close()


@pytest.fixture(scope="module")
def build_seconds(references, corpora, server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, float]:
    """How long a forked full build and update take right now (the machine is shared): the kill windows."""
    folder = tmp_path_factory.mktemp("calibration")
    shutil.copytree(references["index-a"], folder / "update")
    result = {}
    for name, corpus in (("full", corpora["a"]), ("update", corpora["b"])):
        started = time.perf_counter()
        assert server.run(corpus, folder / name) == 0, server.errors()
        result[name] = time.perf_counter() - started
    return result


def leftovers(index_dir: Path) -> tuple[list[str], list[str]]:
    """The generation folders and temporary manifests in ``index_dir``."""
    generations = sorted(p.name for p in index_dir.glob("gen-*"))
    temporaries = sorted(p.name for p in index_dir.glob(f".{MANIFEST}.*"))
    return generations, temporaries


def assert_only_live_generation(index_dir: Path) -> None:
    live = json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))["generation"]
    assert leftovers(index_dir) == ([live], []), "after a successful build only the live generation remains"


def assert_leftovers_bounded(index_dir: Path) -> None:
    """At most the live generation plus what one interrupted build left: nothing piles up."""
    generations, temporaries = leftovers(index_dir)
    assert len(generations) <= 2 and len(temporaries) <= 1, (generations, temporaries)


# --- kill -9 -------------------------------------------------------------------------------


def kill_after(server: IndexerServer, corpus: Path, index_dir: Path, delay: float) -> int:
    """Start a build and SIGKILL it ``delay`` seconds later (unless it is done); its exit status."""
    pid = server.start(corpus, index_dir)
    time.sleep(delay)
    server.kill(pid)
    return server.wait(pid)


@pytest.mark.slow
def test_kill_9_during_a_first_full_build(references, corpora, server, build_seconds, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    rng = random.Random(SEED)
    statuses = []
    for _ in range(RANDOM_KILLS_PER_SCENARIO):
        statuses.append(kill_after(server, corpora["a"], index_dir, rng.uniform(0, 1.1 * build_seconds["full"])))
        state = observe(index_dir)
        assert state in (None, references["a"]), "a killed first build leaves no index or the whole new one"
        assert_leftovers_bounded(index_dir)
        if state is not None:  # it finished: start from nothing again, keeping any leftovers
            (index_dir / MANIFEST).unlink()
    assert statuses.count(-signal.SIGKILL) >= RANDOM_KILLS_PER_SCENARIO // 3, statuses
    assert server.run(corpora["a"], index_dir) == 0, server.errors()
    assert observe(index_dir) == references["a"], "re-running the build completes it"
    assert_only_live_generation(index_dir)


@pytest.mark.slow
def test_kill_9_during_updates(references, corpora, server, build_seconds, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    shutil.copytree(references["index-a"], index_dir)
    current = "a"
    rng = random.Random(SEED + 1)
    statuses = []
    for _ in range(RANDOM_KILLS_PER_SCENARIO):
        target = "b" if current == "a" else "a"
        delay = rng.uniform(0, 1.1 * build_seconds["update"])
        statuses.append(kill_after(server, corpora[target], index_dir, delay))
        state = observe(index_dir)
        assert state in (references[current], references[target]), "the index is the old one or the new one"
        assert_leftovers_bounded(index_dir)
        current = target if state == references[target] else current
    assert statuses.count(-signal.SIGKILL) >= RANDOM_KILLS_PER_SCENARIO // 3, statuses
    target = "b" if current == "a" else "a"
    assert server.run(corpora[target], index_dir) == 0, server.errors()
    assert observe(index_dir) == references[target], "re-running the build completes the change"
    assert_only_live_generation(index_dir)


# Steps before this one come before the commit point and leave the old index; from it on, the new one.
COMMITTED_FROM = STEPS.index("manifest-replaced")


@pytest.mark.slow
def test_kill_9_at_each_write_step(references, corpora, server, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    shutil.copytree(references["index-a"], index_dir)
    current = "a"
    for number, step in enumerate(STEPS):
        target = "b" if current == "a" else "a"
        status = server.run(corpora[target], index_dir, kill_at=step)
        assert status == -signal.SIGKILL, f"the build never reached step {step}: {server.errors()}"
        expected = target if number >= COMMITTED_FROM else current
        assert observe(index_dir) == references[expected], f"killed at {step}"
        assert_leftovers_bounded(index_dir)
        current = expected
    assert server.run(corpora["b"], index_dir) == 0, server.errors()
    assert observe(index_dir) == references["b"]
    assert_only_live_generation(index_dir)


# --- disk full / I/O error at each write step ------------------------------------------------


def enospc(*args: Any, **kwargs: Any) -> None:
    raise OSError(errno.ENOSPC, "No space left on device (simulated)")


def half_written(
    write: Callable[..., Any], path_of: Callable[..., Path], when: Callable[..., bool] = lambda *a: True
) -> Callable[..., Any]:
    """``write``, then cut the file it wrote in half and fail as a full disk does (for calls ``when`` accepts)."""

    def wrapper(*args: Any, **kwargs: Any) -> None:
        if not when(*args):
            return write(*args, **kwargs)
        write(*args, **kwargs)
        path = Path(path_of(*args))
        os.truncate(path, path.stat().st_size // 2)
        enospc()

    return wrapper


def failing_on(original: Callable[..., Any], predicate: Callable[..., bool]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if predicate(*args):
            enospc()
        return original(*args, **kwargs)

    return wrapper


def nth_call_for(target: Path, n: int) -> Callable[[Path], bool]:
    """A predicate true on the ``n``-th call whose first argument is ``target``."""
    calls = 0

    def predicate(path: Any, *args: Any) -> bool:
        nonlocal calls
        if Path(path) == target:
            calls += 1
            return calls == n
        return False

    return predicate


def half_json_dump(original: Callable[..., None]) -> Callable[..., None]:
    """json.dump that writes half of a temporary manifest, then fails."""

    def dump(data: Any, handle: Any, **kwargs: Any) -> None:
        if not is_manifest_temp(handle.name):
            return original(data, handle, **kwargs)
        text = json.dumps(data, **kwargs)
        handle.write(text[: len(text) // 2])
        enospc()

    return dump


def is_generation(path: Any, *args: Any) -> bool:
    return Path(path).name.startswith("gen-") and Path(path).name.endswith(".tmp")


def is_manifest_temp(path: Any, *args: Any) -> bool:
    return Path(path).name.startswith(f".{MANIFEST}.")


def sqlite_disk_full(store: MetadataStore) -> None:
    raise sqlite3.OperationalError("database or disk is full")


def disk_full(step: str, monkeypatch: pytest.MonkeyPatch, index_dir: Path) -> None:
    """Make ``step`` of the next build fail as on a full disk."""
    dense = rag.index.dense.DenseIndex  # writes the FAISS file itself, a slice at a time
    lexical, rows = rag.index.lexical.LexicalIndex, rag.index.dense.RowWriter
    sentence_rows = lambda out, *_: out.path.name == "sentence_vectors.npy"  # noqa: E731
    patches: dict[str, tuple[Any, str, Any]] = {
        "sqlite-commit": (MetadataStore, "commit", sqlite_disk_full),
        "bm25-save": (lexical, "save", half_written(lexical.save, lambda _, folder: folder / "vocab.json")),
        "faiss-write": (dense, "write", half_written(dense.write, lambda _, path, *__: path)),
        # Sentence vectors go to their file as they are encoded: the first rows written fill the disk.
        "npy-save": (rows, "__setitem__", half_written(rows.__setitem__, lambda out, *_: out.path, when=sentence_rows)),
        "fsync": (os, "fsync", enospc),
        "generation-rename": (os, "replace", failing_on(os.replace, is_generation)),
        "index-folder-fsync": (
            rag.index.files,
            "_fsync_path",
            failing_on(rag.index.files._fsync_path, nth_call_for(index_dir, 1)),
        ),
        "manifest-write": (json, "dump", half_json_dump(json.dump)),
        "manifest-rename": (os, "replace", failing_on(os.replace, is_manifest_temp)),
    }
    owner, name, replacement = patches[step]
    monkeypatch.setattr(owner, name, replacement)


DISK_FULL_STEPS = (
    "sqlite-commit", "bm25-save", "faiss-write", "npy-save", "fsync", "generation-rename",
    "index-folder-fsync", "manifest-write", "manifest-rename",
)  # fmt: skip


@pytest.fixture()
def index_at_a(references, corpora, tmp_path: Path) -> tuple[Path, Path]:
    """Corpus version "b" and an index still at version "a": the next build is an update."""
    shutil.copytree(references["index-a"], tmp_path / "index")
    return corpora["b"], tmp_path / "index"


@pytest.mark.slow
@pytest.mark.parametrize("step", DISK_FULL_STEPS)
def test_disk_full_at_each_write_step_keeps_the_previous_index(references, index_at_a, step: str) -> None:
    corpus, index_dir = index_at_a
    manifest = (index_dir / MANIFEST).read_bytes()
    with pytest.MonkeyPatch.context() as monkeypatch:
        disk_full(step, monkeypatch, index_dir)
        # One line for the user, and it is true: the previous index is unchanged.
        with pytest.raises(IndexWriteError, match="(space left|disk is full).*the previous index is unchanged"):
            build_index(corpus, index_dir, embedder=FakeEmbedder())
    assert (index_dir / MANIFEST).read_bytes() == manifest, "the manifest, the commit point, is untouched"
    assert observe(index_dir) == references["a"]
    assert_only_live_generation(index_dir)
    build_index(corpus, index_dir, embedder=FakeEmbedder())
    assert observe(index_dir) == references["b"]
    assert_only_live_generation(index_dir)


def test_an_error_after_the_commit_point_leaves_the_new_index(references, index_at_a) -> None:
    corpus, index_dir = index_at_a
    with pytest.MonkeyPatch.context() as monkeypatch:
        # The second flush of the index folder is the one after manifest.json was replaced.
        predicate = nth_call_for(index_dir, 2)
        monkeypatch.setattr(rag.index.files, "_fsync_path", failing_on(rag.index.files._fsync_path, predicate))
        with pytest.raises(IndexWriteError, match="space left") as raised:
            build_index(corpus, index_dir, embedder=FakeEmbedder())
        assert "unchanged" not in str(raised.value), "the new index is live: saying otherwise would mislead"
    assert observe(index_dir) == references["b"]
    assert_leftovers_bounded(index_dir)
    build_index(corpus, index_dir, embedder=FakeEmbedder())
    assert_only_live_generation(index_dir)


# --- damaged files -------------------------------------------------------------------------

SEGMENT_FILES = (
    DATABASE, "sentences.faiss", "sentence_vectors.npy", "passage_vectors.npy",
    *(f"{folder}/{name}" for folder in ("bm25-sentences", "bm25-passages") for name in (
        "params.json", "vocab.json", "indptr.npy", "rows.npy", "tf.npy", "lengths.npy",
    )),
)  # fmt: skip


def segment_folders(index_dir: Path) -> list[Path]:
    """The live generation's segment folders, in manifest order."""
    manifest = json.loads((index_dir / MANIFEST).read_text())
    return [index_dir / manifest["generation"] / s["name"] for s in manifest["segments"]]


@pytest.fixture(scope="module")
def small_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("small")
    make_corpus(folder / "corpus", "a", documents=40)
    build_index(folder / "corpus", folder / "index", embedder=FakeEmbedder())
    return folder / "index"


def snapshot(folder: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def restore(folder: Path, files: dict[Path, bytes]) -> None:
    """Put ``folder`` back as ``files`` recorded it, rewriting only what changed."""
    for path in [p for p in folder.rglob("*") if p.is_file() and p not in files]:
        path.unlink()
    for path, data in files.items():
        if not path.is_file() or path.read_bytes() != data:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)


@pytest.fixture(scope="module")
def updated_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of two segments: the small corpus, then some documents changed, added and removed."""
    folder = tmp_path_factory.mktemp("updated")
    make_corpus(folder / "corpus", "a", documents=40)
    build_index(folder / "corpus", folder / "index", embedder=FakeEmbedder())
    (folder / "corpus" / "news-0003.md").unlink()
    (folder / "corpus" / "extra.md").write_text(document_text(900, "a"), encoding="utf-8")
    build_index(folder / "corpus", folder / "index", embedder=FakeEmbedder())
    return folder / "index"


@pytest.fixture(params=["one segment", "last of two segments", "first of two segments"])
def damaged(request: pytest.FixtureRequest, small_index: Path, updated_index: Path) -> Iterator[tuple[Path, Path]]:
    """An index to damage in place (restored afterwards), and the segment folder to damage."""
    index_dir = small_index if request.param == "one segment" else updated_index
    folders = segment_folders(index_dir)
    files = snapshot(index_dir)
    yield index_dir, folders[0] if request.param == "first of two segments" else folders[-1]
    restore(index_dir, files)


def test_the_damage_tests_cover_every_file_of_a_segment(damaged) -> None:
    index_dir, segment = damaged
    present = {p.relative_to(segment).as_posix() for p in segment.rglob("*") if p.is_file()}
    assert present == set(SEGMENT_FILES)
    generation = segment.parent
    assert {p.name for p in generation.iterdir()} == {p.name for p in segment_folders(index_dir)}


def flip(path: Path, position: float, mask: int) -> None:
    data = bytearray(path.read_bytes())
    data[min(int(len(data) * position), len(data) - 1)] ^= mask
    path.write_bytes(bytes(data))


DAMAGES: dict[str, Callable[[Path], None]] = {
    "truncated-to-half": lambda path: os.truncate(path, path.stat().st_size // 2),
    "emptied": lambda path: os.truncate(path, 0),
    "first-byte-flipped": lambda path: flip(path, 0.0, 0xFF),
    "middle-bit-flipped": lambda path: flip(path, 0.5, 0x01),
    "last-byte-flipped": lambda path: flip(path, 1.0, 0x20),
    "deleted": lambda path: path.unlink(),
}


def assert_refused_with_rebuild_hint(index_dir: Path, **options: Any) -> None:
    with pytest.raises(IndexMismatchError, match=r"rebuild it with: rag index CORPUS --index"):
        load_index(index_dir, embedder=FakeEmbedder(), **options)


@pytest.mark.slow
@pytest.mark.parametrize("damage", sorted(DAMAGES))
@pytest.mark.parametrize("name", SEGMENT_FILES)
def test_damage_to_any_generation_file_is_detected(damaged, name: str, damage: str) -> None:
    index_dir, generation = damaged
    DAMAGES[damage](generation / name)
    assert_refused_with_rebuild_hint(index_dir)


@pytest.mark.parametrize("name", SEGMENT_FILES)
def test_truncation_is_detected_without_hashing(damaged, name: str) -> None:
    index_dir, generation = damaged
    os.truncate(generation / name, (generation / name).stat().st_size - 1)
    assert_refused_with_rebuild_hint(index_dir, verify=False)


def test_a_deleted_generation_folder_is_detected(damaged) -> None:
    index_dir, segment = damaged
    shutil.rmtree(segment.parent)
    assert_refused_with_rebuild_hint(index_dir)


@pytest.mark.parametrize("position", [0.0, 0.02, 0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9, 0.98, 1.0])
@pytest.mark.parametrize("mask", [0x01, 0x04, 0xFF])
def test_a_changed_byte_anywhere_in_the_manifest_is_detected(damaged, position: float, mask: int) -> None:
    index_dir, _ = damaged
    flip(index_dir / MANIFEST, position, mask)
    assert_refused_with_rebuild_hint(index_dir)


def test_a_changed_setting_in_the_manifest_is_detected(damaged) -> None:
    """Valid JSON with one value changed (the answer threshold) would give wrong answers silently."""
    index_dir, _ = damaged
    manifest = json.loads((index_dir / MANIFEST).read_text())
    manifest["settings"]["answer"]["threshold"] = 0.01
    (index_dir / MANIFEST).write_text(json.dumps(manifest, indent=2))
    with pytest.raises(IndexMismatchError, match="manifest .* fails its checksum.*rebuild it with"):
        load_index(index_dir, embedder=FakeEmbedder())


@pytest.mark.parametrize("size", [0, 1, 100, 1000])
def test_a_truncated_manifest_is_detected(damaged, size: int) -> None:
    index_dir, _ = damaged
    os.truncate(index_dir / MANIFEST, size)
    assert_refused_with_rebuild_hint(index_dir)


@pytest.mark.parametrize(
    "change",
    [
        {"generation": "../.."},
        {"generation": None},
        {"files": {}},
        {"files": {"../../etc/passwd": {"size": 1, "sha256": "x"}}},
        {"files": {"meta.sqlite": {"size": "12"}}},
        {"encoder": None},
    ],
)
def test_a_malformed_format_1_manifest_is_refused_not_crashed_on(damaged, change: dict[str, Any]) -> None:
    """Format 1 manifests carry no checksum of their own: their shape is checked instead."""
    index_dir, _ = damaged
    manifest = json.loads((index_dir / MANIFEST).read_text())
    manifest = {k: v for k, v in manifest.items() if k != "manifest_sha256"} | {"format_version": 1} | change
    (index_dir / MANIFEST).write_text(json.dumps(manifest))
    assert_refused_with_rebuild_hint(index_dir)


def test_an_index_of_an_older_format_is_refused_and_rebuilt(small_index: Path, tmp_path: Path) -> None:
    """Format 2 held one bm25s index that cannot be updated: it is refused, and "rag index" replaces it."""
    index_dir = tmp_path / "index"
    shutil.copytree(small_index, index_dir)
    manifest = json.loads((index_dir / MANIFEST).read_text()) | {"format_version": 2}
    manifest["manifest_sha256"] = rag.index.manifest.manifest_checksum(manifest)
    (index_dir / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match=r"format version 2, this rag reads 3; rebuild it with: rag index"):
        load_index(index_dir, embedder=FakeEmbedder())
    rebuilt = build_index(small_index.parent / "corpus", index_dir, embedder=FakeEmbedder())
    assert rebuilt.manifest["format_version"] == 3
    assert rebuilt.build_report.embedded == rebuilt.build_report.sentences, "nothing of the old format is reused"
    check_answer(rebuilt, rebuilt.ask(question(1)))


def test_a_deleted_manifest_says_how_to_build(damaged) -> None:
    index_dir, _ = damaged
    (index_dir / MANIFEST).unlink()
    with pytest.raises(IndexNotFoundError, match="build one with: rag index CORPUS --index"):
        load_index(index_dir, embedder=FakeEmbedder())


# "rag index" is the remedy every message above gives: it must not reuse damaged data.
@pytest.fixture()
def damaged_copy(small_index: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """A copy of the small index to damage and rebuild: (corpus, index folder, its one segment)."""
    index_dir = tmp_path / "index"
    shutil.copytree(small_index, index_dir)
    return small_index.parent / "corpus", index_dir, segment_folders(index_dir)[0]


def assert_rebuilt_like_new(corpus: Path, index_dir: Path, small_index: Path) -> None:
    assert_refused_with_rebuild_hint(index_dir)
    rebuilt = build_index(corpus, index_dir, embedder=FakeEmbedder())
    assert rebuilt.build_report.embedded == rebuilt.build_report.sentences, "nothing damaged is reused"
    (segment,) = segment_folders(index_dir)
    vectors = np.load(segment / "sentence_vectors.npy")
    assert np.array_equal(vectors, np.load(segment_folders(small_index)[0] / "sentence_vectors.npy"))
    assert_only_live_generation(index_dir)


def test_rebuilding_after_damaged_vectors_embeds_them_again(damaged_copy, small_index: Path) -> None:
    corpus, index_dir, segment = damaged_copy
    flip(segment / "sentence_vectors.npy", 0.99, 0x40)
    assert_rebuilt_like_new(corpus, index_dir, small_index)


def damage_every_page(database: Path) -> None:
    """Break every page of an SQLite file but the first (header and schema): no page type 0xFF exists."""
    data = bytearray(database.read_bytes())
    for page in range(4096, len(data), 4096):
        data[page] = 0xFF
    database.write_bytes(bytes(data))


def test_rebuilding_after_a_damaged_database_embeds_everything_again(damaged_copy, small_index: Path) -> None:
    corpus, index_dir, segment = damaged_copy
    damage_every_page(segment / DATABASE)
    assert_rebuilt_like_new(corpus, index_dir, small_index)


def use_everything(index_dir: Path) -> None:
    """Load without hashing, then read every document, sentence and passage, ask and look up."""
    index = load_index(index_dir, embedder=FakeEmbedder(), verify=False)
    for header in index.documents():
        document = index.document(header["doc_id"])
        sentences = index.sentences(header["doc_id"])
        assert_offsets(document.text, sentences)
        assert_offsets(document.text, index.passages(header["doc_id"]))
        index.lookup(sentences[-1].text)  # reaches the document's rows through the search structures too
    check_answer(index, index.ask(question(1)))
    index.lookup("The library of Belmoor0 was opened in 1801.")


def test_a_damaged_database_page_read_without_hashing_fails_with_the_rebuild_hint(damaged) -> None:
    """Sizes only (the default above VERIFY_LIMIT_BYTES): damage shows when read, as IndexMismatchError."""
    index_dir, segment = damaged
    database = segment / DATABASE
    intact = database.read_bytes()
    use_everything(index_dir)
    for page in range(4096, len(intact), 4096):  # one broken page at a time; the first holds the schema
        database.write_bytes(intact[:page] + b"\xff" + intact[page + 1 :])
        with pytest.raises(IndexMismatchError, match="rebuild it with: rag index CORPUS --index"):
            use_everything(index_dir)
    database.write_bytes(intact)


# --- durability settings -------------------------------------------------------------------


def test_metadata_database_is_one_self_contained_file(small_index: Path, tmp_path: Path) -> None:
    index = load_index(small_index, embedder=FakeEmbedder())
    answer = index.ask(question(1))
    assert_offsets(index.document(answer.citations[0].doc_id).text, answer.citations)
    (segment,) = segment_folders(small_index)
    names = {p.relative_to(segment).as_posix() for p in segment.rglob("*") if p.is_file()}
    assert names == set(SEGMENT_FILES), "no -wal, -shm or -journal beside the database, even with readers"
    header = (segment / DATABASE).read_bytes()[:20]
    assert header[18:20] == b"\x02\x02", "WAL mode persisted in the file"
    store = MetadataStore.create(tmp_path / "new.sqlite")
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2, "synchronous=FULL while writing"
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._db.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    store._db.execute("CREATE TABLE probe (x)")
    store.commit()
    assert (tmp_path / "new.sqlite-wal").exists(), "the commit went through the write-ahead log"
    store.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.sqlite"], "checkpointed into one file on close"
    reader = MetadataStore.open(segment / DATABASE)
    assert reader._db.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader._db.execute("DELETE FROM documents")


def fd_path(fd: int) -> str:
    return os.readlink(f"/proc/self/fd/{fd}")


def test_every_file_and_folder_is_flushed_before_the_manifest_commits(index_at_a, monkeypatch) -> None:
    corpus, index_dir = index_at_a
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", fd_path(fd)))
        real_fsync(fd)

    def replace(source: Any, target: Any) -> None:
        events.append(("replace", str(Path(source).resolve())))
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    build_index(corpus, index_dir, embedder=FakeEmbedder())
    monkeypatch.undo()

    root = str(index_dir.resolve())
    renames = [i for i, (kind, path) in enumerate(events) if kind == "replace"]
    assert len(renames) == 2, events
    generation_rename, manifest_rename = renames
    folder = events[generation_rename][1]
    assert Path(folder).name.startswith("gen-") and folder.endswith(".tmp")
    flushed = {path for kind, path in events[:generation_rename] if kind == "fsync"}
    written = {str(p) for p in Path(folder.removesuffix(".tmp")).rglob("*")}
    written = {w.replace(folder.removesuffix(".tmp"), folder) for w in written} | {folder}
    assert written <= flushed, f"not flushed before the rename: {sorted(written - flushed)}"
    between = events[generation_rename + 1 : manifest_rename]
    assert ("fsync", root) in between, "the index folder is flushed after the generation rename"
    temporary = events[manifest_rename][1]
    assert Path(temporary).name.startswith(f".{MANIFEST}.")
    assert ("fsync", temporary) in between, "the new manifest's content is flushed before it replaces the old"
    assert events[manifest_rename + 1] == ("fsync", root), "the manifest rename is flushed at once"


def test_an_index_folder_with_uri_characters_loads(tmp_path: Path) -> None:
    """SQLite opens the database by URI: "#", "?" and "%" in a folder name must not change the path."""
    corpus, index_dir = tmp_path / "corpus", tmp_path / "odd #1 ?x=%41 ü" / "index"
    make_corpus(corpus, "a", documents=12)
    build_index(corpus, index_dir, embedder=FakeEmbedder())
    index = load_index(index_dir, embedder=FakeEmbedder())
    answer = index.ask(question(1))
    assert not answer.abstained
    assert_offsets(index.document(answer.citations[0].doc_id).text, answer.citations)


# --- a real write failure: the kernel refuses to grow files (RLIMIT_FSIZE) ----------------

_LIMITED_BUILD = """
import resource, signal, sys
from pathlib import Path
from rag import build_index
from rag.errors import RagError
from tests.fakes import FakeEmbedder
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # then a write past the limit fails with EFBIG
limit = int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
try:
    build_index(Path(sys.argv[1]), Path(sys.argv[2]), embedder=FakeEmbedder())
except RagError as error:
    print(type(error).__name__, error)
    sys.exit(1)
"""


@pytest.mark.slow
@pytest.mark.parametrize("limit", [20_000, 200_000])
def test_a_real_write_failure_is_one_error_and_keeps_the_previous_index(references, index_at_a, limit: int) -> None:
    corpus, index_dir = index_at_a
    manifest = (index_dir / MANIFEST).read_bytes()
    root = Path(__file__).resolve().parent.parent
    completed = subprocess.run(
        [sys.executable, "-c", _LIMITED_BUILD, str(corpus), str(index_dir), str(limit)],
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        timeout=300,
        check=False,
    )
    assert completed.returncode == 1, completed.stderr[-2000:]
    assert completed.stdout.startswith("IndexWriteError cannot write the index"), completed.stdout
    assert "the previous index is unchanged" in completed.stdout
    assert (index_dir / MANIFEST).read_bytes() == manifest
    assert observe(index_dir) == references["a"]
    assert_only_live_generation(index_dir)
