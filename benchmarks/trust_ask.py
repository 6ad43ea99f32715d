"""Does `ask` abstain when the sources do not say? The ask half of the trust benchmark.

Indexes the three public SQuAD articles (../shared/data/squad1-train-subset.json, or
--data) together with the seed article, and asks three kinds of question:

- answerable: the SQuAD questions and the seed questions, asked of that index;
- paraphrased: benchmarks/data/answerable-paraphrased.jsonl, answerable questions written by
  hand in a user's words rather than the article's (SQuAD's were written while reading it),
  so that a mechanism that merely demands the question's words is caught punishing answers;
- in-topic unanswerable: benchmarks/data/unanswerable.jsonl, questions written by hand as
  a user would, about a topic of one of the four articles, whose fact the article does not
  hold (each checked by reading the article; "why" says what is missing);
- off-topic: each article's questions asked of an index built without that article (as
  benchmarks/squad.py does), plus benchmarks/data/offtopic.jsonl asked of the full index.

Prints the abstention rate of each kind at the default threshold, the AUROC of confidence
for answerable against in-topic unanswerable and against off-topic, the threshold that
keeps 95% of answerable questions answered, and the ask latency.

    python benchmarks/trust_ask.py [--data PATH] [--encoder onnx-int8|torch-fp32] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from squad import DEFAULT_DATA, CachingEmbedder, load_squad, machine, write_corpus  # noqa: E402

from rag import Config, build_index  # noqa: E402
from rag.config import EmbeddingConfig  # noqa: E402
from rag.encoder.embedding import load_embedder  # noqa: E402
from rag.evaluation import auroc  # noqa: E402

SEED_ARTICLE = ROOT / "corpus" / "seed-article.md"
SEED_QUESTIONS = ROOT / "tests" / "data" / "seed-questions.jsonl"
UNANSWERABLE = HERE / "data" / "unanswerable.jsonl"
PARAPHRASED = HERE / "data" / "answerable-paraphrased.jsonl"
OFFTOPIC = HERE / "data" / "offtopic.jsonl"
SWEEP = (0.15, 0.20, 0.25, 0.30, 0.35, 0.40)  # thresholds the report also shows, for recalibration


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _questions(data: Path) -> tuple[dict, dict[str, list[str]], list[dict[str, Any]], list[str]]:
    """Articles, answerable questions by document, in-topic unanswerable and off-topic questions."""
    articles, squad_questions = load_squad(data)
    answerable: dict[str, list[str]] = {doc_id: [] for doc_id in articles}
    for question in squad_questions:
        answerable[question.doc_id].append(question.text)
    seed = [row["question"] for row in _jsonl(SEED_QUESTIONS) if row.get("kind") == "answerable"]
    answerable[SEED_ARTICLE.name] = seed
    return articles, answerable, _jsonl(UNANSWERABLE), [row["question"] for row in _jsonl(OFFTOPIC)]


def _write_all(folder: Path, articles: dict, leave_out: str | None = None) -> Path:
    write_corpus(folder, articles, leave_out=leave_out)
    if leave_out != SEED_ARTICLE.name:
        (folder / SEED_ARTICLE.name).write_text(SEED_ARTICLE.read_text(encoding="utf-8"), encoding="utf-8")
    return folder


def _ask_all(index, questions: list[str], latencies: list[float] | None = None) -> list:
    answers = []
    for question in questions:
        began = time.perf_counter()
        answers.append(index.ask(question))
        if latencies is not None:
            latencies.append((time.perf_counter() - began) * 1000)
    return answers


def _rate(answers: list) -> float:
    return sum(a.abstained for a in answers) / len(answers) if answers else float("nan")


def _example(answer) -> dict[str, Any]:
    best = answer.candidates[0] if answer.candidates else None
    return {
        "question": answer.question,
        "abstained": answer.abstained,
        "confidence": answer.confidence,
        "reason": answer.reason,
        "quote": best.text if best else None,
    }


def run(args: argparse.Namespace | None = None) -> dict[str, Any]:
    """Measure abstention on answerable, in-topic unanswerable and off-topic questions.

    Args:
        args: ``data`` (the SQuAD subset JSON) and ``encoder``; missing attributes default.

    Returns:
        Rates, AUROCs, calibration quantiles, latency and every unanswerable question's outcome.
    """
    data = Path(getattr(args, "data", None) or DEFAULT_DATA)
    encoder = getattr(args, "encoder", None) or "onnx-int8"
    articles, answerable, unanswerable, offtopic = _questions(data)
    config = Config(embedding=EmbeddingConfig(encoder=encoder))
    embedder = CachingEmbedder(load_embedder(None, encoder))
    work = Path(tempfile.mkdtemp(prefix="rag-trust-ask-"))
    index = build_index(_write_all(work / "corpus", articles), work / "index", config, embedder=embedder)
    latencies: list[float] = []
    answered = _ask_all(index, [q for questions in answerable.values() for q in questions], latencies)
    paraphrased_rows = _jsonl(PARAPHRASED)
    paraphrased = _ask_all(index, [row["question"] for row in paraphrased_rows], latencies)
    unanswered = _ask_all(index, [row["question"] for row in unanswerable], latencies)
    off = _ask_all(index, offtopic, latencies)
    for doc_id, questions in answerable.items():
        without = _write_all(work / f"without-{doc_id}", articles, leave_out=doc_id)
        off += _ask_all(build_index(without, work / f"index-without-{doc_id}", config, embedder=embedder), questions)
    positives = [a.confidence for a in answered]
    negatives = [a.confidence for a in unanswered]
    paraphrased_hits = [
        bool(a.candidates) and row["answer"] in a.candidates[0].text
        for a, row in zip(paraphrased, paraphrased_rows, strict=True)
    ]
    threshold = index.config.answer.threshold
    return {
        "machine": machine(),
        "encoder": embedder.name,
        "threshold": threshold,
        "counts": {
            "answerable": len(answered),
            "paraphrased": len(paraphrased),
            "unanswerable": len(unanswered),
            "offtopic": len(off),
        },
        "abstained": {
            "answerable": _rate(answered),
            "paraphrased": _rate(paraphrased),
            "unanswerable": _rate(unanswered),
            "offtopic": _rate(off),
        },
        "auroc": {
            "answerable_vs_unanswerable": auroc(positives, negatives),
            "paraphrased_vs_unanswerable": auroc([a.confidence for a in paraphrased], negatives),
            "answerable_vs_offtopic": auroc(positives, [a.confidence for a in off]),
        },
        "paraphrased_hit@1": sum(paraphrased_hits) / len(paraphrased_hits),
        "threshold_keeping_95pct": float(np.quantile(positives, 0.05)),
        "confidence_p50": {
            "answerable": statistics.median(positives),
            "paraphrased": statistics.median(a.confidence for a in paraphrased),
            "unanswerable": statistics.median(negatives),
            "offtopic": statistics.median(a.confidence for a in off),
        },
        "offtopic_confidence_p99": float(np.quantile([a.confidence for a in off], 0.99)),
        "abstained_at": {
            f"{t:.2f}": {
                kind: float(np.mean([a.confidence < t for a in answers]))
                for kind, answers in (
                    ("answerable", answered),
                    ("paraphrased", paraphrased),
                    ("unanswerable", unanswered),
                    ("offtopic", off),
                )
            }
            for t in SWEEP
        },
        "ask_ms_p50": round(statistics.median(latencies), 2),
        "ask_ms_p95": round(float(np.percentile(latencies, 95)), 2),
        "unanswerable_outcomes": [_example(a) for a in unanswered],
        "paraphrased_outcomes": [_example(a) for a in paraphrased],
    }


def print_report(result: dict[str, Any]) -> None:
    counts, abstained, areas = result["counts"], result["abstained"], result["auroc"]
    print(f"machine: {result['machine']}; encoder: {result['encoder']}")
    print(f"abstained at the default threshold {result['threshold']:.2f}:")
    for kind in ("answerable", "paraphrased", "unanswerable", "offtopic"):
        median = result["confidence_p50"][kind]
        print(f"  {kind:13} {abstained[kind]:6.1%} of {counts[kind]:4}   (median confidence {median:.3f})")
    print(
        f"AUROC of confidence: answerable vs in-topic unanswerable {areas['answerable_vs_unanswerable']:.3f}, "
        f"paraphrased vs in-topic unanswerable {areas['paraphrased_vs_unanswerable']:.3f}, "
        f"answerable vs off-topic {areas['answerable_vs_offtopic']:.3f}"
    )
    print(f"paraphrased questions: the top sentence holds the answer for {result['paraphrased_hit@1']:.1%}")
    print(
        f"calibration: 95% of answerable score >= {result['threshold_keeping_95pct']:.3f}; "
        f"off-topic p99 {result['offtopic_confidence_p99']:.3f}"
    )
    print("abstained at other thresholds (answerable / paraphrased / unanswerable / off-topic):")
    for threshold, rates in result["abstained_at"].items():
        print(f"  {threshold}: " + " / ".join(f"{rate:.1%}" for rate in rates.values()))
    print(f"ask latency (full index): p50 {result['ask_ms_p50']} ms, p95 {result['ask_ms_p95']} ms")
    print("in-topic unanswerable questions that were answered:")
    for row in result["unanswerable_outcomes"]:
        if not row["abstained"]:
            print(f"  {row['confidence']:.2f}  {row['question']}  ->  {row['quote'][:90]}")
    print("paraphrased answerable questions that abstained:")
    for row in result["paraphrased_outcomes"]:
        if row["abstained"]:
            print(f"  {row['confidence']:.2f}  {row['question']}  ({row['reason']})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--encoder", default="onnx-int8", choices=["onnx-int8", "torch-fp32"])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"SQuAD data not found at {args.data}: this benchmark needs ../shared/data/squad1-train-subset.json "
              "(or pass --data PATH); nothing was measured.", file=sys.stderr)  # fmt: skip
        return 1
    result = run(args)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_report(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
