"""Speed and agreement of the two encoders on real sentences (a benchmark, not a test).

Sentences are the contexts of ../shared/data/squad1-train-subset.json (or --data) split
naively on ". "; queries are its questions. For each encoder and thread count it prints
sentences/s (wall clock, and per CPU-second of this process, which the other jobs on a
shared machine disturb less), single-question latency, and the cold start of a fresh
process (interpreter, import, load, one sentence). For the int8 encoder it also times the
bare onnxruntime session on the same batches, to show what the Python around it costs.
Quality: cosine between the int8 and fp32 vectors of each sentence, and how often a
question (encoded alone, as `rag ask` does) retrieves the same nearest sentence, plus
Hit@1 (the nearest sentence contains a gold answer) under each encoder.

    python benchmarks/encoders.py [--data PATH] [--sentences 2000] [--questions 200]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.encoder import embedding  # noqa: E402
from rag.encoder.embedding import ENCODERS, Embedder, load_embedder, prepare_encoder  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "squad1-train-subset.json"


@dataclass(frozen=True)
class Corpus:
    sentences: list[str]
    questions: list[str]
    answers: list[list[str]]


@dataclass
class Row:
    encoder: str
    threads: int
    wall_rate: float
    cpu_rate: float
    p50_ms: float
    p95_ms: float
    cold_s: float | None = None


def read_corpus(path: Path) -> Corpus:
    articles = json.loads(path.read_text(encoding="utf-8"))["data"]
    paragraphs = [p for article in articles for p in article["paragraphs"]]
    sentences = [s for p in paragraphs for s in p["context"].split(". ") if s.strip()]
    qas = [qa for p in paragraphs for qa in p["qas"]]
    return Corpus(sentences, [qa["question"] for qa in qas], [[a["text"] for a in qa["answers"]] for qa in qas])


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "unknown CPU"


def throughput(embedder: Embedder, texts: list[str]) -> tuple[float, float]:
    """Texts per wall-clock second and per CPU-second of this process."""
    embedder.encode(texts[:64])  # warm up allocations and kernels
    wall, cpu = time.perf_counter(), time.process_time()
    embedder.encode(texts)
    return len(texts) / (time.perf_counter() - wall), len(texts) / (time.process_time() - cpu)


def latency_ms(embedder: Embedder, questions: list[str]) -> tuple[float, float]:
    embedder.encode(questions[:5])
    times = []
    for question in questions:
        start = time.perf_counter()
        embedder.encode([question])
        times.append((time.perf_counter() - start) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def python_share(embedder: embedding.OnnxEmbedder, texts: list[str], rounds: int = 3) -> tuple[float, float]:
    """CPU-time rates of the bare session.run on OnnxEmbedder's own batches and of encode().

    Interleaved rounds, medians: on a shared machine CPU time of this process is far
    steadier than wall time.
    """
    feeds = _feeds(embedder, texts)
    bare, wrapped = [], []
    for _ in range(rounds):
        start = time.process_time()
        for feed in feeds:
            embedder._session.run(None, feed)
        bare.append(len(texts) / (time.process_time() - start))
        start = time.process_time()
        embedder.encode(texts)
        wrapped.append(len(texts) / (time.process_time() - start))
    return statistics.median(bare), statistics.median(wrapped)


def _feeds(embedder: embedding.OnnxEmbedder, texts: list[str]) -> list[dict[str, np.ndarray]]:
    """The model inputs encode() builds, tokenised and padded beforehand (reaches into its privates)."""
    encodings = embedder._tokenizer.encode_batch(texts)
    lengths = np.array([len(e.ids) for e in encodings])
    order = np.argsort(lengths, kind="stable")
    feeds = []
    for rows in embedding._batches(lengths[order], embedder.batch_size):
        rows = order[rows]
        width = int(lengths[rows].max())
        ids = np.zeros((len(rows), width), dtype=np.int64)
        for row, i in enumerate(rows):
            ids[row, : lengths[i]] = encodings[i].ids
        mask = (np.arange(width) < lengths[rows][:, None]).astype(np.int64)
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        feeds.append({name: feed[name] for name in embedder._input_names})
    return feeds


def cold_start_s(encoder: str, cache_dir: Path | None, runs: int) -> float:
    """Median wall time of a fresh interpreter that imports, loads and encodes one sentence."""
    script = (
        "from pathlib import Path\nfrom rag.encoder.embedding import load_embedder\n"
        f"cache = {str(cache_dir) if cache_dir else None!r}\n"
        f"load_embedder(encoder={encoder!r}, cache_dir=Path(cache) if cache else None)"
        ".encode(['The treaty was signed in Paris.'])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", script], check=True, cwd=ROOT, env=env, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def hit_at_1(nearest: np.ndarray, corpus: Corpus) -> float:
    hits = [any(a in corpus.sentences[i] for a in answers) for i, answers in zip(nearest, corpus.answers, strict=True)]
    return float(np.mean(hits))


def quality(embedders: dict[str, Embedder], corpus: Corpus) -> dict[str, object]:
    sentence_vectors = {name: e.encode(corpus.sentences) for name, e in embedders.items()}
    nearest = {}
    for name, e in embedders.items():
        questions = np.vstack([e.encode([q]) for q in corpus.questions])  # one at a time, as `rag ask` does
        nearest[name] = (questions @ sentence_vectors[name].T).argmax(axis=1)
    cosines = np.sum(sentence_vectors["onnx-int8"] * sentence_vectors["torch-fp32"], axis=1)
    return {
        "mean_cosine": float(cosines.mean()),
        "min_cosine": float(cosines.min()),
        "below_0.98": int((cosines < 0.98).sum()),
        "top1_agreement": float(np.mean(nearest["onnx-int8"] == nearest["torch-fp32"])),
        "hit_at_1": {name: hit_at_1(n, corpus) for name, n in nearest.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sentences", type=int, default=2000, help="texts per throughput run (sentences cycled)")
    parser.add_argument("--questions", type=int, default=200, help="questions timed one by one")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--cache-dir", type=Path, default=None, help="ONNX export cache (default: the user cache)")
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(f"no data at {args.data}: pass --data PATH to squad1-train-subset.json", file=sys.stderr)
        return 1

    corpus = read_corpus(args.data)
    texts = list(itertools.islice(itertools.cycle(corpus.sentences), args.sentences))
    questions = corpus.questions[: args.questions]
    thread_counts = [int(t) for t in args.threads.split(",")]
    print(f"CPU: {cpu_model()} ({os.cpu_count()} logical CPUs), load average {os.getloadavg()[0]:.2f}")
    versions = ", ".join(f"{p} {version(p)}" for p in ("onnxruntime", "torch", "sentence-transformers"))
    print(f"{versions}; {len(corpus.sentences)} sentences, {len(corpus.questions)} questions")
    export_dir = prepare_encoder(cache_dir=args.cache_dir)  # outside every timing

    rows: list[Row] = []
    raw_rates: list[tuple[int, float, float]] = []
    reference: dict[str, Embedder] = {}
    for encoder in ENCODERS:
        for threads in thread_counts:
            embedder = load_embedder(encoder=encoder, threads=threads, cache_dir=args.cache_dir)  # type: ignore[arg-type]
            wall, cpu = throughput(embedder, texts)
            p50, p95 = latency_ms(embedder, questions)
            rows.append(Row(encoder, threads, wall, cpu, p50, p95))
            if isinstance(embedder, embedding.OnnxEmbedder):
                raw_rates.append((threads, *python_share(embedder, texts)))
            if threads == 1:
                reference[encoder] = embedder
        rows[-len(thread_counts)].cold_s = cold_start_s(encoder, args.cache_dir, args.cold_runs)
    scores = quality(reference, corpus)

    print(f"\nint8 export: {export_dir}")
    print("\n| encoder | threads | sentences/s | per CPU-s | query p50 | query p95 | cold start |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        cold = f"{r.cold_s:.2f} s" if r.cold_s is not None else ""
        print(
            f"| {r.encoder} | {r.threads} | {r.wall_rate:.0f} | {r.cpu_rate:.0f} | "
            f"{r.p50_ms:.1f} ms | {r.p95_ms:.1f} ms | {cold} |"
        )
    for threads, raw, wrapped in raw_rates:
        print(
            f"\nonnx-int8, {threads} thread(s), per CPU-s: bare session.run {raw:.0f} sentences/s, "
            f"OnnxEmbedder.encode {wrapped:.0f} = {wrapped / raw:.0%} of bare (tokenising, padding, pooling included)"
        )
    hits = scores["hit_at_1"]
    print(
        f"\nint8 vs fp32: mean cosine {scores['mean_cosine']:.4f} (min {scores['min_cosine']:.4f}, "
        f"{scores['below_0.98']} of {len(corpus.sentences)} below 0.98); "
        f"top-1 agreement {scores['top1_agreement']:.3f} over {len(corpus.questions)} questions; "
        f"Hit@1 int8 {hits['onnx-int8']:.3f}, fp32 {hits['torch-fp32']:.3f}"  # type: ignore[index]
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
