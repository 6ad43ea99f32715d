"""Memory of a build follows the size of the file: a one-line text file costs a bounded number of bytes of
memory per byte of text (issue 10, item 8: a 45 MB one-line file once peaked at 5.6 GB).

Each build runs in a fresh child process (with the fake embedder, given the real model's 384
dimensions) that reports the growth of its own peak RSS during build_index, the loading of the built
index included. Two sizes are built and the bound is on the growth per extra MB, so the fixed cost of
imports and the first allocations cancels out. The bound sits about 20% above what a build takes now
(peak RSS varies a little with the allocator and the machine), and below the size of the vectors
themselves: a build writes them to their file as they are made and reads them back a slice at a time.
On the code before that (commit 0c58c03) this test fails.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Peak RSS growth per MB of one-line text, between a SMALL and a LARGE file. A build now takes
# 8.5 to 10.3 MB per MB (7 runs; the small build's peak varies most): the text, sentences and
# passages as integer columns, BM25 term ids, slices of vectors. The vectors alone are 17.6 MB
# per MB of this text (12,000 sentences of 384 floats); the code of commit 0c58c03, which held
# them all, took 35 to 40 MB per MB (3 runs).
MAX_MB_PER_MB = 12
DIM = 384
SMALL_MB, LARGE_MB = 1, 4

_CHILD = """
import json, sys
def peak_kb():
    # VmHWM is this process's own peak RSS. ru_maxrss is not: under vfork, exec hands the child
    # the peak of the parent that started it (a test runner or this benchmark, holding the text).
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
from pathlib import Path
from rag import build_index
from tests.fakes import FakeEmbedder

corpus = Path(sys.argv[1])
embedder = FakeEmbedder()
embedder.dim = int(sys.argv[2])
before = peak_kb()
index = build_index(corpus, corpus.parent / "index", embedder=embedder)
after = peak_kb()
print(json.dumps({"growth_kb": after - before, "sentences": index.info()["counts"]["sentences"]}))
"""
_WORDS = "market chip fund policy export research factory supply rule court city river".split()


def write_one_line_corpus(corpus: Path, size: int) -> None:
    """A corpus of one file of ``size`` bytes of distinct short sentences on one line.

    Written here, not in the child: making the text first would raise the child's peak RSS
    before the build starts, and hide part of the build's growth (unevenly between sizes).
    """
    sentences, total, number = [], 0, 0
    while total < size:
        sentence = (
            f"Report {number} says the {_WORDS[number % 12]} {_WORDS[number * 7 % 12]} grew by"
            f" {number % 97} percent in district {number // 12}, officials said."
        )
        sentences.append(sentence)
        total += len(sentence) + 1
        number += 1
    corpus.mkdir()
    (corpus / "one-line.txt").write_text(" ".join(sentences) + "\n", encoding="utf-8")


def build_growth(tmp_path: Path, megabytes: int, dim: int = DIM) -> tuple[float, int]:
    """Peak RSS growth (MB) of a child process building an index of a one-line file of ``megabytes`` MB."""
    folder = tmp_path / f"size-{megabytes}-{dim}"
    folder.mkdir()
    write_one_line_corpus(folder / "corpus", megabytes * 1024 * 1024)
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(folder / "corpus"), str(dim)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["growth_kb"] / 1024, result["sentences"]


@pytest.mark.slow
def test_build_memory_per_mb_of_one_line_file_is_bounded(tmp_path: Path) -> None:
    small, small_sentences = build_growth(tmp_path, SMALL_MB)
    large, large_sentences = build_growth(tmp_path, LARGE_MB)
    assert large_sentences > small_sentences * (LARGE_MB / SMALL_MB) * 0.9  # the file was split and indexed whole
    assert large > small > 0, (small, large)  # measured in the child itself, not inherited from this process
    per_mb = (large - small) / (LARGE_MB - SMALL_MB)
    assert per_mb <= MAX_MB_PER_MB, (
        f"a build grew by {small:.0f} MB for {SMALL_MB} MB of one-line text and {large:.0f} MB for {LARGE_MB} MB:"
        f" {per_mb:.1f} MB per MB, above {MAX_MB_PER_MB}"
    )
    vectors_per_mb = (large_sentences - small_sentences) * DIM * 4 / 2**20 / (LARGE_MB - SMALL_MB)
    assert per_mb < vectors_per_mb, f"a build held {per_mb:.1f} MB per MB, the vectors are {vectors_per_mb:.1f}"
