"""Quality and speed of answering on the public SQuAD subset (a benchmark, not a test).

Reads ../shared/data/squad1-train-subset.json (or --data). Each article becomes one
document, its paragraphs separated by a blank line. Prints, for this pipeline and for
BM25-only and dense-only rankings over the same sentences: Hit@1, Hit@3, MRR@10 (a hit
is a sentence of the gold document whose span contains the gold answer span), off-topic
AUROC, abstention rates at the default threshold, build seconds and query latency.

Off-topic questions: each article's questions asked of an index built without that
article (for each article in turn), plus the seed article's questions asked of the
SQuAD index.

    python benchmarks/squad.py [--data PATH] [--encoder onnx-int8|torch-fp32] [--json]
    python benchmarks/squad.py --write-corpus DIR   # the articles as documents, for `rag eval`
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag import Config, build_index  # noqa: E402
from rag.config import EmbeddingConfig  # noqa: E402
from rag.encoder.embedding import load_embedder  # noqa: E402
from rag.evaluation import auroc, ranking_quality  # noqa: E402
from rag.text.words import tokenize  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "squad1-train-subset.json"
SEED_QUESTIONS = ROOT / "tests" / "data" / "seed-questions.jsonl"


@dataclass(frozen=True)
class Question:
    text: str
    doc_id: str
    paragraph: int
    answer_start: int  # within the paragraph
    answer_end: int


class CachingEmbedder:
    """Wraps an embedder so the four builds of this benchmark encode each sentence once."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.dim, self.max_tokens = inner, inner.name, inner.dim, inner.max_tokens
        self.cache: dict[str, np.ndarray] = {}
        self.encode_seconds = 0.0

    def encode(self, texts, *, show_progress: bool = False) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            started = time.perf_counter()
            for text, vector in zip(missing, self.inner.encode(missing, show_progress=show_progress), strict=True):
                self.cache[text] = vector
            self.encode_seconds += time.perf_counter() - started
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self.cache[t] for t in texts])

    def count_tokens(self, texts):
        return self.inner.count_tokens(texts)

    def encode_words(self, texts):
        return self.inner.encode_words(texts)  # questions and their best sentences, read at question time


def load_squad(path: Path) -> tuple[dict[str, tuple[str, list[str]]], list[Question]]:
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    articles, questions = {}, []
    for article in data:
        doc_id = f"{article['title']}.txt"
        paragraphs = [p["context"].strip() for p in article["paragraphs"]]
        articles[doc_id] = (article["title"].replace("_", " "), paragraphs)
        for number, paragraph in enumerate(article["paragraphs"]):
            offset = len(paragraph["context"]) - len(paragraph["context"].lstrip())
            for qa in paragraph["qas"]:
                if not qa.get("answers"):
                    continue
                answer = qa["answers"][0]
                start = answer["answer_start"] - offset
                questions.append(Question(qa["question"], doc_id, number, start, start + len(answer["text"])))
    return articles, questions


def write_corpus(folder: Path, articles: dict[str, tuple[str, list[str]]], leave_out: str | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for doc_id, (title, paragraphs) in articles.items():
        if doc_id != leave_out:
            body = "\n\n".join(paragraphs)
            (folder / doc_id).write_text(
                f"---\ntitle: {title}\nsource: Wikipedia (SQuAD 1.1)\n---\n{body}\n", encoding="utf-8"
            )


def gold_span(index, question: Question, articles) -> tuple[int, int]:
    text = index.document(question.doc_id).text
    paragraph = articles[question.doc_id][1][question.paragraph]
    at = text.find(paragraph)
    return at + question.answer_start, at + question.answer_end


def hit_rank(spans: list[tuple[str, int, int]], doc_id: str, gold: tuple[int, int]) -> int | None:
    """1-based rank of the first span in the gold document that contains the gold answer."""
    for rank, (span_doc, start, end) in enumerate(spans, start=1):
        if span_doc == doc_id and start <= gold[0] and gold[1] <= end:
            return rank
    return None


def rank_baselines(index, questions, articles) -> dict[str, list[int | None]]:
    """BM25-only and dense-only sentence rankings from the same index."""
    indexes = index._indexes  # a benchmark may look inside; the product does not
    ranks: dict[str, list[int | None]] = {"bm25 sentences": [], "dense sentences": []}
    vectors = index.embedder.encode([q.text for q in questions])
    for question, vector in zip(questions, vectors, strict=True):
        gold = gold_span(index, question, articles)
        lexical_rows, _ = indexes.sentence_lexical.search(tokenize(question.text), 10)
        dense_rows, _ = indexes.dense.search(vector, 10)
        for name, rows in (("bm25 sentences", lexical_rows), ("dense sentences", dense_rows)):
            records = indexes.store.sentences(rows.tolist())
            spans = [
                (records[r].sentence.doc_id, records[r].sentence.start, records[r].sentence.end) for r in rows.tolist()
            ]
            ranks[name].append(hit_rank(spans, question.doc_id, gold))
    return ranks


def baseline_confidences(index, texts: list[str]) -> dict[str, list[float]]:
    indexes = index._indexes
    scores: dict[str, list[float]] = {"bm25 sentences": [], "dense sentences": []}
    for text, vector in zip(texts, index.embedder.encode(texts), strict=True):
        _, lexical = indexes.sentence_lexical.search(tokenize(text), 1)
        _, dense = indexes.dense.search(vector, 1)
        scores["bm25 sentences"].append(float(lexical[0]) if len(lexical) else 0.0)
        scores["dense sentences"].append(float(dense[0]) if len(dense) else 0.0)
    return scores


def run(data: Path, encoder: str) -> dict:
    articles, questions = load_squad(data)
    seed = [json.loads(line)["question"] for line in SEED_QUESTIONS.read_text().splitlines() if line.strip()]
    config = Config(embedding=EmbeddingConfig(encoder=encoder))
    embedder = CachingEmbedder(load_embedder(None, encoder))
    work = Path(tempfile.mkdtemp(prefix="rag-squad-"))
    write_corpus(work / "corpus", articles)
    started = time.perf_counter()
    index = build_index(work / "corpus", work / "index", config, embedder=embedder)
    build_seconds = time.perf_counter() - started
    k = 10
    ranks, positives, latencies, answered = [], [], [], 0
    for question in questions:
        began = time.perf_counter()
        answer = index.ask(question.text, k=k)
        latencies.append((time.perf_counter() - began) * 1000)
        spans = [(c.doc_id, c.start, c.end) for c in answer.candidates]
        ranks.append(hit_rank(spans, question.doc_id, gold_span(index, question, articles)))
        positives.append(answer.confidence)
        answered += not answer.abstained
    negatives, abstained, lookup_scores = [], 0, []
    offtopic_texts: list[tuple[object, str]] = [(index, q) for q in seed]
    for doc_id in articles:
        write_corpus(work / f"without-{doc_id}", articles, leave_out=doc_id)
        held_out = build_index(work / f"without-{doc_id}", work / f"index-without-{doc_id}", config, embedder=embedder)
        offtopic_texts += [(held_out, q.text) for q in questions if q.doc_id == doc_id]
        # Lookup calibration: the held-out article's own text, which this index cannot support.
        article = index.document(doc_id).text
        lookup_scores += [m.score for m in held_out.lookup(article) if m.kind != "exact"]
    baseline_negatives: dict[str, list[float]] = {"bm25 sentences": [], "dense sentences": []}
    for target, text in offtopic_texts:
        answer = target.ask(text)
        negatives.append(answer.confidence)
        abstained += answer.abstained
        for name, values in baseline_confidences(target, [text]).items():
            baseline_negatives[name] += values
    baseline_positives = baseline_confidences(index, [q.text for q in questions])
    rows = {"rag (hybrid, sentence scoring)": {**ranking_quality(ranks), "auroc": auroc(positives, negatives)}}
    for name, name_ranks in rank_baselines(index, questions, articles).items():
        rows[name] = {**ranking_quality(name_ranks), "auroc": auroc(baseline_positives[name], baseline_negatives[name])}
    threshold = index.config.answer.threshold
    return {
        "machine": machine(),
        "encoder": embedder.name,
        "answerable": len(questions),
        "offtopic": len(negatives),
        "rows": rows,
        "threshold": threshold,
        "answered_rate": answered / len(questions),
        "offtopic_abstain_rate": abstained / len(negatives),
        "threshold_keeping_95pct": float(np.quantile(positives, 0.05)),
        "offtopic_max_confidence_pct": {p: float(np.quantile(negatives, p / 100)) for p in (50, 95, 99)},
        "sentences": index.manifest["counts"]["sentences"],
        "build_seconds": round(build_seconds, 2),
        "encode_seconds_all_builds": round(embedder.encode_seconds, 2),
        "query_ms_p50": round(statistics.median(latencies), 2),
        "query_ms_p95": round(float(np.percentile(latencies, 95)), 2),
        "unsupported_lookups": len(lookup_scores),
        "unsupported_lookup_score_p99": float(np.quantile(lookup_scores, 0.99)),
        "unsupported_lookup_score_max": float(max(lookup_scores)),
        "paraphrase_threshold": index.config.lookup.paraphrase_threshold,
        "false_paraphrase_rate": float(np.mean(np.asarray(lookup_scores) >= index.config.lookup.paraphrase_threshold)),
    }


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "")
    return f"{model or platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}"


def print_table(result: dict) -> None:
    print(f"machine: {result['machine']}; encoder: {result['encoder']}")
    print(
        f"{result['answerable']} answerable questions, {result['offtopic']} off-topic; {result['sentences']} sentences"
    )
    print(f"{'ranking':34} {'Hit@1':>6} {'Hit@3':>6} {'MRR@10':>7} {'AUROC':>6}")
    for name, row in result["rows"].items():
        print(f"{name:34} {row['hit@1']:6.3f} {row['hit@3']:6.3f} {row['mrr@10']:7.3f} {row['auroc']:6.3f}")
    print(
        f"default threshold {result['threshold']:.2f}: answered {result['answered_rate']:.1%} of answerable, "
        f"abstained on {result['offtopic_abstain_rate']:.1%} of off-topic"
    )
    pct = result["offtopic_max_confidence_pct"]
    print(
        f"calibration: 95% of answerable score >= {result['threshold_keeping_95pct']:.3f}; "
        f"off-topic confidence p50 {pct[50]:.3f}, p95 {pct[95]:.3f}, p99 {pct[99]:.3f}"
    )
    print(
        f"lookup calibration: {result['unsupported_lookups']} sentences looked up in an index without their article "
        f"scored p99 {result['unsupported_lookup_score_p99']:.3f}, max {result['unsupported_lookup_score_max']:.3f}; "
        f"{result['false_paraphrase_rate']:.1%} would count as paraphrase at {result['paraphrase_threshold']:.2f}"
    )
    print(
        f"build {result['build_seconds']} s (encoding, all builds: {result['encode_seconds_all_builds']} s); "
        f"query p50 {result['query_ms_p50']} ms, p95 {result['query_ms_p95']} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--encoder", default="onnx-int8", choices=["onnx-int8", "torch-fp32"])
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--write-corpus", type=Path, metavar="DIR", help="only write the articles as documents into DIR"
    )
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"SQuAD data not found at {args.data}: this benchmark needs ../shared/data/squad1-train-subset.json "
              "(or pass --data PATH); nothing was measured.", file=sys.stderr)  # fmt: skip
        return 1
    if args.write_corpus:
        write_corpus(args.write_corpus, load_squad(args.data)[0])
        print(f"wrote the SQuAD articles to {args.write_corpus}")
        return 0
    result = run(args.data, args.encoder)
    print(json.dumps(result, indent=2) if args.json else "", end="")
    if not args.json:
        print_table(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
