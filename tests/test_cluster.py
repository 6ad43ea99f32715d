"""rag on a real local Ray cluster (3 nodes of 1 CPU): distributed build, sharded serving, and their faults.

A Ray build and a sharded index must answer exactly as a single-process build of the same
corpus: every field of every answer and lookup match equal, scores included. A worker that
dies mid-build is retried, or the build fails in one line and the previous index keeps
answering; a shard actor that dies is restarted, or the question fails with a clear error.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray", reason='the ray extra is not installed: pip install -e ".[ray]"')

import tests.fakes  # noqa: E402
from rag import build_index, load_index  # noqa: E402
from rag.cli.main import main  # noqa: E402
from rag.errors import QueryError, RagError  # noqa: E402
from tests.fakes import FakeEmbedder  # noqa: E402
from tests.tools.indexer import THINGS, make_corpus, town  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.slow]  # a real 3-node cluster: out of the quick run

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = 60
QUESTIONS = [f"When was the {THINGS[n % len(THINGS)]} of {town(n)} opened?" for n in (0, 3, 10, 17, 31, 52)]
LOOKUPS = [
    "China is intensifying its efforts to achieve technological self-reliance.",
    f"The {THINGS[3]} of {town(3)} was opened long ago. Nobody wrote this sentence anywhere.",
]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """Three Ray nodes of one CPU each on this machine; workers import this checkout's rag and tests."""
    from ray.cluster_utils import Cluster

    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *([saved] if saved else [])])
    local = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        local.add_node(num_cpus=1)
        local.add_node(num_cpus=1)
        local.wait_for_nodes()
        ray.init(address=local.address, logging_level=logging.WARNING, log_to_driver=False)
        # Test classes go to the workers by value (the fake embedder, and this module's).
        ray.cloudpickle.register_pickle_by_value(tests.fakes)
        ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
        yield local
    finally:
        ray.shutdown()
        local.shutdown()
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    make_corpus(folder, "a", DOCUMENTS)
    (folder / "seed-article.md").write_text((ROOT / "corpus" / "seed-article.md").read_text(encoding="utf-8"))
    return folder


@pytest.fixture(scope="module")
def single(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return build_index(corpus, tmp_path_factory.mktemp("single") / "index", embedder=FakeEmbedder())


@pytest.fixture(scope="module")
def on_ray(cluster: Any, corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return build_index(corpus, tmp_path_factory.mktemp("ray") / "index", embedder=FakeEmbedder(), ray=cluster.address)


def answers(index: Any, questions: Sequence[str] = QUESTIONS) -> list[dict[str, Any]]:
    return [asdict(index.ask(q)) for q in questions]


def lookups(index: Any) -> list[list[dict[str, Any]]]:
    return [[asdict(m) for m in index.lookup(text)] for text in LOOKUPS]


def assert_same(one: Any, other: Any) -> None:
    """Every field equal: the same citations, and scores equal (bit for bit, so to 9 decimals)."""
    assert answers(one) == answers(other)
    assert lookups(one) == lookups(other)


def test_a_ray_build_writes_one_segment_per_batch_and_reports_as_a_single_build(single: Any, on_ray: Any) -> None:
    assert len(on_ray.manifest["segments"]) == 3  # one batch per CPU of the cluster
    for key in ("documents", "sentences", "passages", "skipped"):
        assert on_ray.manifest["counts"][key] == single.manifest["counts"][key]
    assert on_ray.manifest["corpus_fingerprint"] == single.manifest["corpus_fingerprint"]
    assert on_ray.build_report.embedded == single.build_report.sentences
    assert on_ray.build_report.added == single.build_report.added


def test_a_ray_build_answers_as_a_single_process_build(single: Any, on_ray: Any) -> None:
    found = answers(single)
    assert any(not a["abstained"] for a in found) and any(a["citations"] for a in found)  # a real comparison
    assert_same(single, on_ray)


@pytest.mark.parametrize("shards", [1, 2, 3])
def test_a_sharded_index_answers_as_the_single_process_index(single: Any, on_ray: Any, shards: int) -> None:
    sharded = load_index(on_ray.path, embedder=FakeEmbedder(), ray=True, shards=shards)
    try:
        assert len(sharded.shards.actors) == shards
        assert_same(single, sharded)
        # Follow-ups and overviews go through the same code on the driver.
        first = sharded.ask(QUESTIONS[0])
        assert asdict(sharded.ask("And when was it closed?", history=[first])) == asdict(
            single.ask("And when was it closed?", history=[single.ask(QUESTIONS[0])])
        )
        assert asdict(sharded.ask("What is the chip fund article about?")) == asdict(
            single.ask("What is the chip fund article about?")
        )
    finally:
        sharded.close()


def test_shards_are_spread_over_the_nodes(on_ray: Any) -> None:
    sharded = load_index(on_ray.path, embedder=FakeEmbedder(), ray=True, shards=3)
    try:
        assert len(set(sharded.shards.call("node"))) == 3  # one shard per node
        assert all(m > 0 for m in sharded.shards.memory())
    finally:
        sharded.close()


FILTERS = [
    {"doc": ["seed-article.md"]},
    {"doc": ["news-0003.md", "news-0010.md", "news-0031.md"]},
    {"source": ["cgtn.com"]},
]


def test_a_sharded_index_answers_filtered_questions_as_the_single_process_index(single: Any, on_ray: Any) -> None:
    sharded = load_index(on_ray.path, embedder=FakeEmbedder(), ray=True, shards=3)
    try:
        for where in FILTERS:
            expected = [asdict(single.ask(q, where=where)) for q in QUESTIONS]
            assert [asdict(sharded.ask(q, where=where)) for q in QUESTIONS] == expected
            text = LOOKUPS[0] + " " + LOOKUPS[1]
            assert [asdict(m) for m in sharded.lookup(text, where=where)] == [
                asdict(m) for m in single.lookup(text, where=where)
            ]
        # A restarted shard has lost the filters' structures: they are set up on it again.
        ray.kill(sharded.shards.actors[2], no_restart=False)
        assert [asdict(sharded.ask(q, where=FILTERS[1])) for q in QUESTIONS] == [
            asdict(single.ask(q, where=FILTERS[1])) for q in QUESTIONS
        ]
        with pytest.raises(QueryError, match="no indexed document matches"):
            sharded.ask(QUESTIONS[0], where={"folder": ["nowhere"]})
    finally:
        sharded.close()


def test_more_shards_than_segments_is_refused(on_ray: Any, single: Any) -> None:
    with pytest.raises(RagError, match="at most that many shards, not 4"):
        load_index(on_ray.path, embedder=FakeEmbedder(), ray=True, shards=4)
    with pytest.raises(RagError, match="1 segment, so at most that many shards, not 2"):
        load_index(single.path, embedder=FakeEmbedder(), ray=True, shards=2)


def test_a_killed_shard_is_restarted_and_the_question_answered_the_same(single: Any, on_ray: Any) -> None:
    sharded = load_index(on_ray.path, embedder=FakeEmbedder(), ray=True, shards=3)
    try:
        expected = answers(single)
        assert answers(sharded)[:2] == expected[:2]
        ray.kill(sharded.shards.actors[1], no_restart=False)  # Ray restarts it; the call is retried
        assert answers(sharded) == expected
        ray.kill(sharded.shards.actors[0], no_restart=False)
        assert lookups(sharded) == lookups(single)
    finally:
        sharded.close()


def test_a_shard_that_cannot_restart_fails_the_question_clearly(single: Any, on_ray: Any) -> None:
    sharded = load_index(on_ray.path, embedder=FakeEmbedder(), ray=True, shards=2)
    try:
        ray.kill(sharded.shards.actors[1], no_restart=True)
        _wait_until_dead(sharded.shards.actors[1])  # the kill is asynchronous: an ask may still reach it
        with pytest.raises(RagError, match="could not answer .*no answer was given") as raised:
            sharded.ask(QUESTIONS[1])
        assert "\n" not in str(raised.value)
    finally:
        sharded.close()


def _wait_until_dead(actor: Any, seconds: float = 60.0) -> None:
    """Return once a call to the killed ``actor`` fails, as every call will from then on."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            ray.get(actor.node.remote(), timeout=10)
        except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):
            return
        time.sleep(0.05)
    raise AssertionError(f"the actor still answers {seconds:.0f} s after it was killed")


class DyingEmbedder(FakeEmbedder):
    """The fake embedder, whose worker process exits while encoding as long as ``marker`` exists.

    With ``once``, the first worker to see the marker removes it, so a retry succeeds.
    """

    def __init__(self, marker: Path, *, once: bool) -> None:
        self.marker, self.once = str(marker), once

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> Any:
        if os.path.exists(self.marker):
            if self.once:
                os.unlink(self.marker)
            os._exit(1)  # the worker process dies mid-task, as on a lost machine
        return super().encode(texts, show_progress=show_progress)


def _generations(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.iterdir() if p.name.startswith("gen-"))


def test_a_worker_that_dies_mid_build_is_retried(cluster: Any, corpus: Path, single: Any, tmp_path: Path) -> None:
    marker = tmp_path / "die-once"
    marker.touch()
    index = build_index(corpus, tmp_path / "index", embedder=DyingEmbedder(marker, once=True), ray=cluster.address)
    assert not marker.exists()  # a worker did die
    assert_same(single, index)


def test_a_worker_that_always_dies_fails_the_build_in_one_line_and_keeps_the_previous_index(
    cluster: Any, corpus: Path, tmp_path: Path
) -> None:
    index_dir = tmp_path / "index"
    before = build_index(corpus, index_dir, embedder=FakeEmbedder(), ray=cluster.address)
    expected, manifest, generations = (
        answers(before),
        (index_dir / "manifest.json").read_bytes(),
        _generations(index_dir),
    )
    added = corpus / "news-extra.md"
    added.write_text("The new lighthouse of Eastport was opened in 1931.\n", encoding="utf-8")  # work to do
    try:
        marker = tmp_path / "die-always"
        marker.touch()
        with pytest.raises(RagError, match="the Ray build failed encoding batch .* is unchanged") as raised:
            build_index(corpus, index_dir, embedder=DyingEmbedder(marker, once=False), ray=cluster.address)
    finally:
        added.unlink()
    assert "\n" not in str(raised.value)
    assert (index_dir / "manifest.json").read_bytes() == manifest
    assert _generations(index_dir) == generations  # no partial generation was left, let alone committed
    assert answers(load_index(index_dir, embedder=FakeEmbedder())) == expected
    assert answers(before) == expected  # the index object already open keeps answering


@pytest.mark.slow
def test_kill_9_of_the_driver_mid_build_keeps_the_previous_index(
    cluster: Any, corpus: Path, single: Any, tmp_path: Path
) -> None:
    index_dir = tmp_path / "index"
    build_index(corpus, index_dir, embedder=FakeEmbedder(), ray=cluster.address)
    expected = answers(single)
    manifest = (index_dir / "manifest.json").read_bytes()
    started = tmp_path / "encoding"
    added = corpus / "news-extra.md"
    added.write_text("The new lighthouse of Eastport was opened in 1931.\n", encoding="utf-8")  # work to do
    driver = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import os, time
            import ray
            from rag import build_index
            from tests.fakes import FakeEmbedder

            class Slow(FakeEmbedder):
                def encode(self, texts, *, show_progress=False):
                    open({str(started)!r}, "a").close()
                    time.sleep(60)
                    return super().encode(texts)

            ray.init(address={cluster.address!r}, log_to_driver=False)
            build_index({str(corpus)!r}, {str(index_dir)!r}, embedder=Slow(), ray=True, config=None)
        """)],
        env={**os.environ},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not started.exists() and driver.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert started.exists(), "the build never reached the encoding"
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        added.unlink()
    assert (index_dir / "manifest.json").read_bytes() == manifest
    assert answers(load_index(index_dir, embedder=FakeEmbedder())) == expected
    # The next build, on the cluster, takes over from the killed one and commits.
    after = build_index(corpus, index_dir, embedder=FakeEmbedder(), ray=cluster.address)
    assert answers(after) == expected
    assert not [p for p in index_dir.iterdir() if p.name.endswith(".tmp")]


def test_a_ray_update_answers_as_a_single_process_update(cluster: Any, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    make_corpus(corpus, "a", DOCUMENTS)
    single = build_index(corpus, tmp_path / "single", embedder=FakeEmbedder())
    distributed = build_index(corpus, tmp_path / "ray", embedder=FakeEmbedder(), ray=cluster.address)
    make_corpus(corpus, "b", DOCUMENTS)  # changes, removes and adds documents
    single = build_index(corpus, tmp_path / "single", embedder=FakeEmbedder())
    distributed = build_index(corpus, tmp_path / "ray", embedder=FakeEmbedder(), ray=cluster.address)
    report = distributed.build_report
    assert report.added and report.updated and report.removed
    assert (report.added, report.updated, report.removed) == (
        single.build_report.added,
        single.build_report.updated,
        single.build_report.removed,
    )
    assert answers(distributed) == answers(single)
    sharded = load_index(distributed.path, embedder=FakeEmbedder(), ray=True, shards=2)
    try:
        assert answers(sharded) == answers(single)  # removed rows are invisible to every shard's statistics
    finally:
        sharded.close()


@pytest.mark.slow
def test_cli_builds_and_answers_on_ray_with_the_real_model(
    cluster: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """End to end with the packaged model, each worker loading it once.

    Served sharded, the Ray-built index answers exactly as it does in one process. Against a
    single-process build the citations are the same, and the scores close but not equal: the
    int8 encoder quantises each batch's activations with one scale, so a sentence's vector
    depends a little on the batch it was encoded in, and a Ray build batches by worker.
    """
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    lines = (ROOT / "corpus" / "seed-article.md").read_text(encoding="utf-8").splitlines()
    header, body = lines[:4], [line for line in lines[4:] if line.strip()]
    for number in range(0, len(body), 3):
        (corpus / f"part-{number:02d}.md").write_text("\n".join([*header, *body[number : number + 3]]) + "\n")
    questions = [json.loads(line)["question"] for line in (ROOT / "tests/data/seed-questions.jsonl").open()][:5]
    assert main(["index", str(corpus), "--index", str(tmp_path / "ray"), "--ray", cluster.address]) == 0
    assert "Indexed" in capsys.readouterr().out
    single = build_index(corpus, tmp_path / "single")
    local = load_index(tmp_path / "ray")
    for question in questions:
        arguments = ["ask", question, "--index", str(tmp_path / "ray"), "--json", "--ray", cluster.address]
        assert main([*arguments, "--shards", "2"]) == 0
        sharded = json.loads(capsys.readouterr().out)
        assert sharded == json.loads(json.dumps(asdict(local.ask(question))))
        expected = asdict(single.ask(question))
        assert sharded["abstained"] == expected["abstained"]
        spans = [{(c["doc_id"], c["start"], c["end"]): c["score"] for c in a["citations"]} for a in (sharded, expected)]
        assert list(spans[0])[:1] == list(spans[1])[:1]  # the same best quote
        # A further quote is cited when it scores at least 85% of the best: one that scores within the
        # quantisation noise of that line may be cited by one build and not the other.
        floor = 0.85 * expected["confidence"]
        for span in spans[0].keys() ^ spans[1].keys():
            assert abs({**spans[0], **spans[1]}[span] - floor) <= 0.02, (question, span)
        assert sharded["confidence"] == pytest.approx(expected["confidence"], abs=0.02)


def test_serve_starts_the_app_on_a_sharded_index(on_ray: Any, single: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import rag.app.server

    served: list[Any] = []
    monkeypatch.setattr(rag.app.server, "launch", lambda index, **options: served.append(index))
    monkeypatch.setattr(rag.pipeline, "embedder_for", lambda config: FakeEmbedder())  # the index's own encoder
    assert main(["serve", "--index", str(on_ray.path), "--ray", "auto", "--shards", "2"]) == 0
    try:
        assert len(served[0].shards.actors) == 2
        assert answers(served[0]) == answers(single)
    finally:
        served[0].close()


def test_documents_added_to_a_sharded_index_are_served_sharded(cluster: Any, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    make_corpus(corpus, "a", 12)
    index = build_index(corpus, tmp_path / "index", embedder=FakeEmbedder(), ray=cluster.address)
    sharded = load_index(index.path, embedder=FakeEmbedder(), ray=True, shards=2)
    new = tmp_path / "new.md"
    new.write_text("The observatory of Northwick was opened in 1887 by the town council.\n", encoding="utf-8")
    try:
        updated = sharded.add_files([new])
        assert len(updated.shards.actors) == 2 and updated.build_report.added == ("new.md",)
        expected = load_index(index.path, embedder=FakeEmbedder())
        question = "When was the observatory of Northwick opened?"
        assert asdict(updated.ask(question)) == asdict(expected.ask(question))
        assert updated.ask(question).citations[0].doc_id == "new.md"
        updated = updated.remove(["new.md"])
        assert "new.md" not in {d["doc_id"] for d in updated.documents()}
        updated.close()
    finally:
        sharded.close()


def test_a_sharded_load_racing_a_build_gets_the_new_index(cluster: Any, tea_corpus: Path, tmp_path: Path) -> None:
    """The sharded loader retries as load_index does (rag/index/open.py): a build that commits while
    it opens the index deletes the generation it read, and it opens the new one."""
    from rag.index.metadata import MetadataStore

    index_dir = tmp_path / "index"
    old = build_index(tea_corpus, index_dir, embedder=FakeEmbedder()).manifest["generation"]
    open_store, rebuilt = MetadataStore.open, []

    def rebuilt_first(cls: type, *args: Any, **kwargs: Any) -> Any:
        if not rebuilt:
            rebuilt.append(True)
            (tea_corpus / "late.md").write_text("# Late\n\nThe late report was filed on Friday.\n")
            build_index(tea_corpus, index_dir, embedder=FakeEmbedder())
        return open_store(*args, **kwargs)

    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(MetadataStore, "open", classmethod(rebuilt_first))
        sharded = load_index(index_dir, embedder=FakeEmbedder(), ray=True, shards=1)
    try:
        assert rebuilt and sharded.manifest["generation"] != old
        answer = sharded.ask("When was the late report filed?")
        assert answer.citations and answer.citations[0].doc_id == "late.md"
    finally:
        sharded.close()
