"""SIGTERM is handled as Ctrl-C is (issue 20, item 4): `timeout`, `docker stop` and systemd stop rag
with SIGTERM, and it must clean up, say so in one line and exit 143, losing nothing."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import rag.index.update
from rag import Index, build_index, load_index
from rag.errors import RagError
from tests.fakes import FakeEmbedder

ROOT = Path(__file__).resolve().parent.parent
RICE = "Rice farmers in Hunan planted a new variety. The yield rose by a tenth.\n"

# The rag command, with an encoder that marks when it starts and then takes its time, so the
# signal arrives while the build is writing its new generation.
SLOW_RAG = """
import sys, time
import rag.pipeline
from tests.fakes import FakeEmbedder

class Slow(FakeEmbedder):
    def encode(self, texts, **options):
        open(sys.argv[1], "w").close()
        time.sleep(60)
        return super().encode(texts, **options)

rag.pipeline.embedder_for = lambda config: Slow()
from rag.cli.main import main
sys.exit(main(sys.argv[2:]))
"""


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def terminated_while_encoding(tmp_path: Path, arguments: list[str]) -> subprocess.CompletedProcess:
    """Run ``rag ARGUMENTS`` and send it SIGTERM once it encodes; its exit status and output."""
    started = tmp_path / "encoding-started"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-c", SLOW_RAG, str(started), *arguments]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not started.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the build never started encoding"
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def test_rag_index_stopped_by_sigterm_cleans_up_and_exits_143(tea_corpus: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    build_index(tea_corpus, index_dir, embedder=FakeEmbedder())
    (tea_corpus / "rice.txt").write_text(RICE, encoding="utf-8")
    before = snapshot(index_dir)
    result = terminated_while_encoding(tmp_path, ["index", str(tea_corpus), "--index", str(index_dir)])
    assert result.returncode == 143, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "rag: terminated (SIGTERM)"  # after the progress bar
    assert not list(index_dir.glob("gen-*.tmp")), "the unfinished generation is removed"
    assert snapshot(index_dir) == before
    assert [d["doc_id"] for d in load_index(index_dir, embedder=FakeEmbedder()).documents()] == ["tea.txt"]


def test_rag_add_stopped_by_sigterm_puts_the_corpus_back(tea_corpus: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    build_index(tea_corpus, index_dir, embedder=FakeEmbedder())
    new = tmp_path / "rice.txt"
    new.write_text(RICE, encoding="utf-8")
    corpus_before, index_before = snapshot(tea_corpus), snapshot(index_dir)
    result = terminated_while_encoding(tmp_path, ["add", str(new), "--index", str(index_dir)])
    assert result.returncode == 143, result.stderr
    assert result.stderr.splitlines() == ["rag: terminated (SIGTERM)"]
    assert snapshot(tea_corpus) == corpus_before, "the copied file is taken out again"
    assert snapshot(index_dir) == index_before
    assert new.read_text(encoding="utf-8") == RICE


def test_stopped_after_the_commit_an_add_keeps_its_file(
    fake_index: Index, tea_corpus: Path, tmp_path: Path, monkeypatch
) -> None:
    """Past the commit point the index holds the new document, so its file must stay in the corpus."""
    index = fake_index
    new = tmp_path / "rice.txt"
    new.write_text(RICE, encoding="utf-8")

    real = rag.index.update.commit_generation

    def committed_then_stopped(*args, **kwargs):
        real(*args, **kwargs)
        raise KeyboardInterrupt  # what SIGTERM raises too, arriving right after the commit

    monkeypatch.setattr(rag.index.update, "commit_generation", committed_then_stopped)
    with pytest.raises(KeyboardInterrupt):
        index.add_files([new])
    monkeypatch.undo()
    live = load_index(tmp_path / "index", embedder=FakeEmbedder())
    assert sorted(d["doc_id"] for d in live.documents()) == ["rice.txt", "tea.txt"]
    assert (tea_corpus / "rice.txt").read_text(encoding="utf-8") == RICE


def test_sigterm_outside_a_command_keeps_its_usual_meaning() -> None:
    """The handler is rag's only while a command runs: afterwards SIGTERM is as it was."""
    from rag.cli.main import main

    before = signal.getsignal(signal.SIGTERM)
    assert main(["info", "--index", "/nonexistent-rag-index"]) == 1
    assert signal.getsignal(signal.SIGTERM) == before


# --- the app ------------------------------------------------------------------------------


def test_stopping_the_app_waits_for_the_change_under_way_and_refuses_later_ones() -> None:
    from rag.app.documents import IndexHolder

    holder = IndexHolder(object())  # type: ignore[arg-type]  # the changes below do not read it
    changing, finish = threading.Event(), threading.Event()
    done: list[str] = []

    def slow_change(index):
        changing.set()
        finish.wait(10)
        done.append("changed")
        return index

    worker = threading.Thread(target=holder.change, args=(slow_change,))
    worker.start()
    changing.wait(10)
    stopper = threading.Thread(target=holder.stop)
    stopper.start()
    time.sleep(0.2)
    assert stopper.is_alive(), "stop waits for the change under way"
    finish.set()
    stopper.join(10)
    worker.join(10)
    assert done == ["changed"] and not stopper.is_alive()
    with pytest.raises(RagError, match="stopping"):
        holder.change(lambda index: pytest.fail("a change after stop was made"))


@pytest.mark.slow
@pytest.mark.usefixtures("packaged_model")
def test_the_app_stopped_by_sigterm_exits_143_in_one_line(tmp_path: Path) -> None:
    from tests.test_ui_access import free_port

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(ROOT / "corpus" / "seed-article.md", corpus)
    port = free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, str(ROOT / "ui.py"), "--corpus", str(corpus), "--index", str(tmp_path / "index"),
               "--port", str(port)]  # fmt: skip
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    process = subprocess.Popen(command, cwd=tmp_path, env=env, **pipes)
    try:
        deadline = time.monotonic() + 240
        while True:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the app never listened"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 143, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("rag serve: stopped (SIGTERM)")


def test_a_ray_build_stopped_by_a_signal_cancels_its_tasks(tmp_path: Path) -> None:
    """Ctrl-C or SIGTERM while the driver waits: every task is cancelled, so none goes on writing
    into the generation folder the driver removes."""
    from types import SimpleNamespace

    from rag.cluster.build import RayBuild
    from rag.config import Config

    cancelled: list[str] = []

    def wait(refs, num_returns):
        raise KeyboardInterrupt  # the signal arrives while the driver waits

    ray = SimpleNamespace(
        wait=wait,
        cancel=lambda ref, force: cancelled.append(ref),
        exceptions=SimpleNamespace(RayError=type("RayError", (Exception,), {})),
    )
    build = RayBuild(ray, tmp_path, tmp_path / "index", Config(), None, None, 2, 1)
    with pytest.raises(KeyboardInterrupt):
        build._gather([lambda n=n: f"task-{n}" for n in range(3)], "reading")
    assert sorted(cancelled) == ["task-0", "task-1"]  # the two running (2 workers); the third never started


def test_joining_ray_keeps_the_commands_sigterm_handler(monkeypatch) -> None:
    """ray.init makes SIGTERM call sys.exit(15) (no clean-up message, status 15); rag puts its own back."""
    from types import SimpleNamespace

    import rag.cluster.connect
    from rag.workspace import sigterm_as_interrupt

    def init(**options):
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(signum))  # what ray.init does

    ray = SimpleNamespace(is_initialized=lambda: False, init=init)
    monkeypatch.setattr(rag.cluster.connect, "ray_module", lambda: ray)
    with sigterm_as_interrupt():
        ours = signal.getsignal(signal.SIGTERM)
        rag.cluster.connect.connect(True)
        assert signal.getsignal(signal.SIGTERM) is ours
