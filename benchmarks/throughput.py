"""Sentences per second of the raw encoder and of `rag index` on the same real sentences (a benchmark, not a test).

python benchmarks/throughput.py [--data PATH] [--sentences 3000] [--repeats 3] [--keep DIR] [--json]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag import build_index  # noqa: E402
from rag import pipeline as rag_pipeline  # noqa: E402
from rag.encoder.embedding import load_embedder  # noqa: E402
from rag.index import segment as rag_segment  # noqa: E402
from rag.index import update as rag_update  # noqa: E402
from rag.index.dense import DenseIndex  # noqa: E402
from rag.index.lexical import LexicalIndex, TokenRows  # noqa: E402
from rag.index.metadata import MetadataStore  # noqa: E402
from rag.ingest import load_corpus  # noqa: E402
from rag.text.sentences import split_sentences  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "squad1-train-subset.json"

METHOD = """\
The text is the SQuAD contexts of --data, repeated article by article until there are about
--sentences sentences; every copy after the first swaps two inner words of each sentence for
words taken from other sentences, so nearly every sentence is distinct. Each article copy is
one document of a temporary corpus. The texts given to the raw encoder are exactly the ones
build_index encodes (read and split by rag's own ingest and sentence splitter).

Timed alternately, --repeats times after a warm-up: the raw encoder,
load_embedder(None, "onnx-int8").encode(texts), and build_index(corpus, fresh folder) with
that same encoder object (a fresh folder each time, so no vectors are reused). Sentences/s
by wall clock and by CPU time of this process (less disturbed by other jobs on a shared
machine), and the ratio rag/raw. A last, instrumented build shows where the time that is
not encoding goes (timing wrappers around each stage; exclusive times).
"""

# An inner lowercase word with a space on each side: replacing it by another such word
# can neither start nor end a sentence, so the splitter sees the same boundaries.
_INNER_WORD = re.compile(r"(?<= )[a-z]{4,}(?= )")


# --- shared with benchmarks/latency.py -------------------------------------------------------


def machine() -> dict[str, Any]:
    """CPU model, cores, Python and the load average (other jobs share this machine)."""
    model = ""
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        model = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), "")
    return {
        "cpu": model or platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def machine_line(info: dict[str, Any]) -> str:
    load = " ".join(f"{x:.2f}" for x in info["load_average"])
    return f"machine: {info['cpu']}, {info['cores']} cores, python {info['python']}; load average at start {load}"


def squad_articles(path: Path) -> list[tuple[str, list[str]]]:
    """(title, paragraphs) of each SQuAD article, in file order."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    return [(a["title"], [p["context"].strip() for p in a["paragraphs"]]) for a in data]


def squad_questions(path: Path) -> list[str]:
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    return [qa["question"].strip() for a in data for p in a["paragraphs"] for qa in p["qas"]]


def swap_vocabulary(paragraphs: list[str]) -> list[str]:
    """The inner lowercase words of the text, sorted: what variants swap in."""
    return sorted({m.group(0) for p in paragraphs for m in _INNER_WORD.finditer(p)})


def vary_sentence(text: str, rng: np.random.Generator, vocabulary: list[str], swaps: int = 2) -> str:
    """``text`` with ``swaps`` inner words replaced by random vocabulary words (or one inserted)."""
    spots = [m.span() for m in _INNER_WORD.finditer(text)]
    if not spots:  # too short to have an inner word: insert one after the first word
        first_space = text.find(" ")
        if first_space < 0:
            return text
        word = vocabulary[int(rng.integers(len(vocabulary)))]
        return f"{text[:first_space]} {word}{text[first_space:]}"
    chosen = sorted(rng.choice(len(spots), size=min(swaps, len(spots)), replace=False), reverse=True)
    for spot in chosen:
        start, end = spots[spot]
        text = text[:start] + vocabulary[int(rng.integers(len(vocabulary)))] + text[end:]
    return text


def vary_paragraph(paragraph: str, rng: np.random.Generator, vocabulary: list[str]) -> str:
    """Every sentence of ``paragraph`` varied, the text between sentences kept."""
    pieces, at = [], 0
    for sentence in split_sentences(paragraph):
        pieces += [paragraph[at : sentence.start], vary_sentence(sentence.text, rng, vocabulary)]
        at = sentence.end
    pieces.append(paragraph[at:])
    return "".join(pieces)


class Stopwatch:
    """Exclusive seconds per labelled function: a wrapped call's time minus that of wrapped calls inside it."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._stack: list[float] = []  # time spent in nested wrapped calls, per open call
        self.missing: list[str] = []

    def wrap(self, label: str, function: Callable, *, outermost_only: bool = False) -> Callable:
        """``function`` timed under ``label``; with ``outermost_only``, calls inside another wrapped call are not."""

        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if outermost_only and self._stack:
                return function(*args, **kwargs)
            self._stack.append(0.0)
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                nested = self._stack.pop()
                self.seconds[label] = self.seconds.get(label, 0.0) + elapsed - nested
                self.calls[label] = self.calls.get(label, 0) + 1
                if self._stack:
                    self._stack[-1] += elapsed

        return timed

    @contextmanager
    def patch(self, targets: list[tuple[object, str, str]]) -> Iterator[Stopwatch]:
        """Wrap ``owner.name`` under ``label`` for each (owner, name, label); classmethods are kept classmethods.

        A label ending in "*" is timed only when not inside another wrapped call (np.save is
        used by bm25s too, and belongs to BM25 there).
        """
        saved = []
        for owner, name, label in targets:
            original = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name, None)
            if original is None:  # renamed in the library since this benchmark was written
                self.missing.append(f"{getattr(owner, '__name__', type(owner).__name__)}.{name}")
                continue
            saved.append((owner, name, original))
            outermost_only = label.endswith("*")
            label = label.rstrip("*")
            if isinstance(original, classmethod):
                setattr(owner, name, classmethod(self.wrap(label, original.__func__, outermost_only=outermost_only)))
            else:
                setattr(owner, name, self.wrap(label, original, outermost_only=outermost_only))
        try:
            yield self
        finally:
            for owner, name, original in reversed(saved):
                setattr(owner, name, original)


# --- this benchmark ------------------------------------------------------------------------


def write_corpus(folder: Path, data: Path, target: int) -> None:
    """Article copies as .txt documents until the corpus holds at least ``target`` sentences."""
    articles = squad_articles(data)
    vocabulary = swap_vocabulary([p for _, paragraphs in articles for p in paragraphs])
    folder.mkdir(parents=True)
    written, copy = 0, 0
    while written < target:
        for number, (title, paragraphs) in enumerate(articles):
            if written >= target:
                break
            rng = np.random.default_rng([copy, number])
            if copy:
                paragraphs = [vary_paragraph(p, rng, vocabulary) for p in paragraphs]
            body = "\n\n".join(paragraphs)
            (folder / f"{title}-{copy}.txt").write_text(f"{title.replace('_', ' ')}\n\n{body}\n", encoding="utf-8")
            written += sum(len(split_sentences(p)) for p in paragraphs)
        copy += 1


def corpus_sentences(folder: Path) -> list[str]:
    """Every sentence text `build_index` will encode, in its order."""
    documents, _ = load_corpus(folder)
    return [s.text for d in documents for s in split_sentences(d.text, d.doc_id)]


def time_call(function: Callable[[], Any]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - wall, time.process_time() - cpu


BUILD_STAGES = [
    (rag_update, "scan_corpus", "read files (scan, decode, hash)"),
    (rag_update, "load_documents", "read files (scan, decode, hash)"),
    (rag_update, "split_documents", "parse (sentences, passages)"),
    (rag_update, "previous_index", "look for a previous index"),
    (TokenRows, "of_texts", "BM25 tokenise (fold, stopwords, stem)"),
    (LexicalIndex, "build", "BM25 build (sentences + passages)"),
    (LexicalIndex, "save", "BM25 save"),
    (MetadataStore, "create", "SQLite write"),
    (MetadataStore, "add_document", "SQLite write"),
    (MetadataStore, "add_sentences", "SQLite write"),
    (MetadataStore, "add_passages", "SQLite write"),
    (MetadataStore, "commit", "SQLite write"),
    (DenseIndex, "write", "FAISS write (normalise, IVF cells, file)"),
    (rag_segment, "save_mean_vectors", "passage vectors + .npy writes"),
    (np, "save", "passage vectors + .npy writes*"),
    (rag_update, "commit_generation", "commit (fsync, sha256 of files, manifest)"),
    (rag_pipeline, "load_index", "load the new index (verifies sha256)"),
]


def breakdown(corpus: Path, work: Path, embedder: Any) -> tuple[float, dict[str, float]]:
    """Seconds per build stage of one instrumented build (encoding included, as 'encode')."""
    watch = Stopwatch()
    embedder_targets = [(embedder, "encode", "encode (raw encoder)")]
    with watch.patch(BUILD_STAGES + embedder_targets):
        started = time.perf_counter()
        build_index(corpus, work / "index-profiled", embedder=embedder)
        total = time.perf_counter() - started
    del embedder.encode  # drop the instance attribute the patch left behind
    stages = dict(sorted(watch.seconds.items(), key=lambda item: -item[1]))
    stages["other (locks, manifest, Python between stages)"] = total - sum(stages.values())
    return total, stages


def run(data: Path, target: int, repeats: int, keep: Path | None) -> dict[str, Any]:
    info = machine()
    work = Path(tempfile.mkdtemp(prefix="rag-throughput-", dir=keep))
    try:
        corpus = work / "corpus"
        write_corpus(corpus, data, target)
        texts = corpus_sentences(corpus)
        documents = len(list(corpus.glob("*.txt")))
        embedder = load_embedder(None, "onnx-int8")
        embedder.encode(texts[:256])  # warm-up: session, allocator, caches
        warm = work / "warm"
        warm.mkdir()
        (warm / "one.txt").write_text("A warm-up document. It loads BM25, FAISS and SQLite once.\n")
        build_index(warm, work / "index-warm", embedder=embedder)
        raw, rag = [], []
        for attempt in range(repeats):
            raw.append(time_call(lambda: embedder.encode(texts)))
            rag.append(time_call(lambda a=attempt: build_index(corpus, work / f"index-{a}", embedder=embedder)))
            shutil.rmtree(work / f"index-{attempt}")
        total, stages = breakdown(corpus, work, embedder)
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)
    count = len(texts)

    def rates(pairs: list[tuple[float, float]]) -> dict[str, Any]:
        walls, cpus = [p[0] for p in pairs], [p[1] for p in pairs]
        return {
            "wall_seconds": [round(w, 3) for w in walls],
            "cpu_seconds": [round(c, 3) for c in cpus],
            "sentences_per_s_wall": round(count / statistics.median(walls), 1),
            "sentences_per_s_cpu": round(count / statistics.median(cpus), 1),
            "best_sentences_per_s_wall": round(count / min(walls), 1),
        }

    raw_rates, rag_rates = rates(raw), rates(rag)
    return {
        "machine": info,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "encoder": embedder.name,
        "sentences": count,
        "distinct_sentences": len(set(texts)),
        "documents": documents,
        "repeats": repeats,
        "raw": raw_rates,
        "rag": rag_rates,
        "ratio_wall": round(rag_rates["sentences_per_s_wall"] / raw_rates["sentences_per_s_wall"], 3),
        "ratio_cpu": round(rag_rates["sentences_per_s_cpu"] / raw_rates["sentences_per_s_cpu"], 3),
        "ratio_best_wall": round(rag_rates["best_sentences_per_s_wall"] / raw_rates["best_sentences_per_s_wall"], 3),
        "profiled_build_seconds": round(total, 3),
        "stages_seconds": {k: round(v, 4) for k, v in stages.items()},
    }


def print_report(result: dict[str, Any]) -> None:
    print(
        f"encoder {result['encoder']}; {result['sentences']} sentences ({result['distinct_sentences']} distinct) "
        f"in {result['documents']} documents; "
        f"median of {result['repeats']} alternating runs after a warm-up"
    )
    print()
    print(f"{'':24} {'sentences/s (wall)':>19} {'sentences/s (CPU)':>18} {'best wall':>10}  wall seconds")
    for name, key in (("raw encoder", "raw"), ("rag index (build_index)", "rag")):
        row = result[key]
        walls = ", ".join(f"{w:.2f}" for w in row["wall_seconds"])
        print(
            f"{name:24} {row['sentences_per_s_wall']:19.1f} {row['sentences_per_s_cpu']:18.1f} "
            f"{row['best_sentences_per_s_wall']:10.1f}  {walls}"
        )
    print(
        f"{'ratio rag/raw':24} {result['ratio_wall']:19.3f} {result['ratio_cpu']:18.3f} "
        f"{result['ratio_best_wall']:10.3f}  (issue target >= 0.90)"
    )
    print()
    total = result["profiled_build_seconds"]
    count = result["sentences"]
    print(f"where one instrumented build_index goes ({total:.2f} s; timing wrappers, exclusive time):")
    print(f"{'stage':48} {'seconds':>8} {'share':>6} {'us/sentence':>12}")
    for stage, seconds in result["stages_seconds"].items():
        print(f"{stage:48} {seconds:8.3f} {seconds / total:6.1%} {seconds / count * 1e6:12.1f}")
    encode = result["stages_seconds"].get("encode (raw encoder)", 0.0)
    print(f"{'not encoding':48} {total - encode:8.3f} {(total - encode) / total:6.1%}")
    load = " ".join(f"{x:.2f}" for x in result["load_average_at_end"])
    print(f"load average at end {load}")


def benchmark_parser(doc: str, method: str) -> argparse.ArgumentParser:
    """The command line every benchmark shares: its first doc line, its method as epilog, --data and --json."""
    parser = argparse.ArgumentParser(
        description=doc.splitlines()[0], epilog=method, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="SQuAD 1.1 JSON (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser


def data_missing(path: Path) -> bool:
    """Say on stderr that the SQuAD file is absent (nothing is measured then); True when it is."""
    if path.is_file():
        return False
    print(
        f"SQuAD data not found at {path}: this benchmark needs ../shared/data/squad1-train-subset.json "
        "(or pass --data PATH); nothing was measured.",
        file=sys.stderr,
    )
    return True


def emit(result: dict, as_json: bool, report) -> int:  # untyped: the script's print_report
    """Print the result as JSON or as the script's report; the exit code."""
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        report(result)
    return 0


def main() -> int:
    parser = benchmark_parser(__doc__, METHOD)
    parser.add_argument("--sentences", type=int, default=3000, help="about this many sentences (default 3000)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each (default 3)")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="work in DIR and keep the corpus and indexes")
    args = parser.parse_args()
    if data_missing(args.data):
        return 1
    if not args.json:
        print(machine_line(machine()), flush=True)
    result = run(args.data, args.sentences, max(1, args.repeats), args.keep)
    return emit(result, args.json, print_report)


if __name__ == "__main__":
    sys.exit(main())
