"""Adding one 1,000-word article to a 10,000-document index, timed beside a full rebuild (a benchmark, not a test).

python benchmarks/incremental.py [--data PATH] [--keep DIR] [--json]
python benchmarks/incremental.py --documents 1000 --sentences-per-document 10 --article-words 1000
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from latency import base_paragraphs, distinct_variant  # noqa: E402
from throughput import (  # noqa: E402
    Stopwatch,
    benchmark_parser,
    data_missing,
    emit,
    machine,
    machine_line,
    squad_articles,
    swap_vocabulary,
)

from rag import build_index  # noqa: E402
from rag import ingest as rag_ingest  # noqa: E402
from rag import pipeline as rag_pipeline  # noqa: E402
from rag.config import Config  # noqa: E402
from rag.index import files as rag_files  # noqa: E402
from rag.index import open as rag_open  # noqa: E402
from rag.index import segment as rag_segment  # noqa: E402
from rag.index import update as rag_update  # noqa: E402
from rag.index.dense import DenseIndex  # noqa: E402
from rag.index.lexical import LexicalIndex, TokenRows  # noqa: E402
from rag.index.metadata import MetadataStore  # noqa: E402
from rag.ingest import documents as rag_documents  # noqa: E402

METHOD = """\
Corpus: --documents documents of --sentences-per-document real SQuAD sentences (--data): each
document takes runs of consecutive sentences from SQuAD paragraphs drawn at random (a new
paragraph of the document starts a new paragraph of the text), and every sentence has two inner
words swapped for other SQuAD words, as in benchmarks/latency.py, so that no sentence repeats
(1,000 .txt files per sub-folder). The new article is the first SQuAD article's paragraphs, in
order, until --article-words words, written as one .md file with a "# title" heading.

Encoder: the real default one, built from Config() as build_index builds it (onnx-int8, two
single-threaded workers), loaded once and passed to every build so that all four operations use
the same warm object (its load time is reported apart); a warm-up build of a one-file corpus
loads BM25, FAISS and SQLite first.

The corpus is left alone for rag.ingest.RACY_SECONDS after it is written, as a corpus that
exists before it is indexed would be (files changed just before they were read are hashed again
by every update).

Operations, in this order, each once, each timed by wall clock around the call:
  1. full build: build_index(corpus, INDEX) into an empty folder;
  2. add: index.add_files([article]) (copies the file into the corpus, then rebuilds INDEX);
  3. full rebuild from scratch: build_index(corpus, NEW FOLDER) of the same 10,001 documents;
  4. remove: index.remove([article doc_id]) on INDEX.
Every operation runs with timing wrappers around each stage of the build (exclusive times: a
wrapped call's time minus that of wrapped calls inside it; "other" is the wall time no wrapper
saw). The wrappers' own cost is measured at start and reported. The encoder-only time of the
article is the encode call inside the add, and also the same sentences encoded alone (median of
5). "scales with" says, from reading rag/index/update.py, what each stage's work grows with.
"""

DOCUMENTS_PER_FOLDER = 1000
STANDALONE_ENCODES = 5

# (owner, attribute, label): every stage of build_index, add_files and remove. A label ending in
# "*" is timed only when not inside another wrapped call (bm25s also calls np.save).
STAGES: list[tuple[object, str, str]] = [
    (shutil, "copyfile", "copy the article into the corpus"),
    (rag_update, "scan_corpus", "scan corpus folders"),
    (rag_update, "unchanged_since", "prove other files unchanged (stat)"),
    (rag_documents, "read_document", "read + decode files"),
    (rag_documents, "content_hash", "sha256 of each document's text"),
    (rag_segment, "split_sentences", "split sentences"),
    (rag_segment, "chunk_passages", "chunk passages"),
    (rag_update, "split_documents", "parse (rest)"),
    (rag_update, "previous_index", "open previous index (manifest, mmap)"),
    (rag_update, "verify_files", "verify index files (previous + new)"),
    (rag_open, "verify_files", "verify index files (previous + new)"),
    (MetadataStore, "document_index", "SQLite read of previous index"),
    (MetadataStore, "rows_for_contents", "SQLite read of previous index"),
    (MetadataStore, "rows_by_text", "SQLite read of previous index"),
    (MetadataStore, "rows_of_documents", "SQLite read of previous index"),
    (rag_update, "embed", "reuse unchanged vectors (gather, mmap)"),
    ("EMBEDDER", "encode", "encode (sentences not reused)"),
    (TokenRows, "of_texts", "BM25 tokenise (fold, stopwords, stem)"),
    (MetadataStore, "create", "SQLite write"),
    (MetadataStore, "add_document", "SQLite write"),
    (MetadataStore, "add_sentences", "SQLite write"),
    (MetadataStore, "add_passages", "SQLite write"),
    (MetadataStore, "commit", "SQLite write"),
    (LexicalIndex, "build", "BM25 build (sentences + passages)"),
    (LexicalIndex, "save", "BM25 save"),
    (faiss.IndexIVF, "train", "FAISS IVF training (k-means)"),
    (faiss.IndexIVF, "add", "FAISS add vectors"),
    (faiss.IndexFlat, "add", "FAISS add vectors"),
    (DenseIndex, "write", "FAISS write (normalise, IVF cells, file)"),
    (rag_segment, "save_mean_vectors", "passage vectors + .npy writes"),
    (np, "save", "passage vectors + .npy writes*"),
    (rag_update, "new_generation", "new generation folder"),
    (rag_update, "link_segment", "hard-link kept segments"),
    (rag_files, "file_checksums", "sha256 of every new index file"),
    (rag_files, "_fsync_tree", "fsync new generation"),
    (rag_files, "remove_stale_generations", "delete the old generation"),
    (rag_update, "commit_generation", "commit (rename, manifest)"),
    (rag_pipeline, "load_index", "load the new index"),
]

# What each stage's work grows with in an add, from reading rag/index/update.py (run the script at
# two --documents sizes to see it measured).
SCALES = {
    "copy the article into the corpus": "article",
    "scan corpus folders": "files in the corpus (names)",
    "prove other files unchanged (stat)": "files in the corpus (stat; sha256 if racy)",
    "read + decode files": "changed files",
    "sha256 of each document's text": "changed files",
    "split sentences": "changed files",
    "chunk passages": "changed files",
    "parse (rest)": "changed files",
    "open previous index (manifest, mmap)": "documents (one SQLite row each)",
    "verify index files (previous + new)": "index bytes to 256 MB, files above",
    "SQLite read of previous index": "documents (one SQLite row each)",
    "reuse unchanged vectors (gather, mmap)": "changed documents",
    "encode (sentences not reused)": "changed sentences",
    "BM25 tokenise (fold, stopwords, stem)": "new segment",
    "SQLite write": "new segment",
    "BM25 build (sentences + passages)": "new segment",
    "BM25 save": "new segment",
    "FAISS add vectors": "new segment",
    "FAISS write (normalise, IVF cells, file)": "new segment",
    "passage vectors + .npy writes": "new segment",
    "new generation folder": "-",
    "hard-link kept segments": "files of kept segments",
    "sha256 of every new index file": "new segment's files",
    "fsync new generation": "files of the generation",
    "delete the old generation": "files of the old generation",
    "commit (rename, manifest)": "segments",
    "load the new index": "documents, segments",
    "other (Python between stages, locks)": "-",
}
CORPUS_SCALE = "whole corpus"

OPERATIONS = [
    ("full", "full build (empty index folder)"),
    ("add", "add one article (add_files)"),
    ("scratch", "full rebuild from scratch (new folder)"),
    ("remove", "remove the article (remove)"),
]


# --- corpus and article --------------------------------------------------------------------


def write_corpus(folder: Path, data: Path, documents: int, per_document: int) -> int:
    """``documents`` .txt files of ``per_document`` varied SQuAD sentences each; returns sentences written."""
    paragraphs = base_paragraphs(data)
    vocabulary = swap_vocabulary([p["text"] for p in paragraphs])
    rng = np.random.default_rng(documents * 1000 + per_document)
    seen: set[int] = set()
    written = 0
    for document in range(documents):
        parts, need = [], per_document
        while need:
            paragraph = paragraphs[int(rng.integers(len(paragraphs)))]
            spans, text = paragraph["spans"], paragraph["text"]
            first = int(rng.integers(len(spans)))
            chosen = spans[first : first + need]
            pieces = []
            for number, (start, end) in enumerate(chosen):
                if number:
                    pieces.append(text[chosen[number - 1][1] : start])  # the original text between sentences
                pieces.append(distinct_variant(text[start:end], rng, vocabulary, seen)[0])
            parts.append("".join(pieces))
            need -= len(chosen)
            written += len(chosen)
        path = folder / f"d{document // DOCUMENTS_PER_FOLDER:04d}" / f"doc{document:07d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    return written


def write_article(path: Path, data: Path, words: int) -> dict[str, Any]:
    """The first SQuAD article's paragraphs, in order, until ``words`` words: one Markdown file."""
    title, paragraphs = squad_articles(data)[0]
    body, count = [], 0
    for paragraph in paragraphs:
        if count >= words:
            break
        body.append(paragraph)
        count += len(paragraph.split())
    heading = title.replace("_", " ")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# {heading}\n\n" + "\n\n".join(body) + "\n", encoding="utf-8")
    return {"file": path.name, "title": heading, "words": count, "paragraphs": len(body)}


# --- timing --------------------------------------------------------------------------------


def wrapper_cost() -> float:
    """Seconds one Stopwatch-wrapped call adds (median of 5 rounds of 100,000 calls to a no-op)."""
    watch = Stopwatch()
    noop = watch.wrap("noop", lambda: None)
    plain = lambda: None  # noqa: E731
    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(100_000):
            noop()
        wrapped = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(100_000):
            plain()
        rounds.append((wrapped - (time.perf_counter() - started)) / 100_000)
    return statistics.median(rounds)


def timed(
    encoder: Any, operation: Callable[..., Any], *args: Any, **kwargs: Any
) -> tuple[float, Any, dict[str, float], int]:
    """(wall seconds, result, exclusive seconds per stage, wrapped calls) of one instrumented call."""
    watch = Stopwatch()
    targets = [(encoder if owner == "EMBEDDER" else owner, name, label) for owner, name, label in STAGES]
    with watch.patch(targets):
        started = time.perf_counter()
        result = operation(*args, **kwargs)
        wall = time.perf_counter() - started
    vars(encoder).pop("encode", None)  # drop the instance attribute the patch left behind
    stages = dict(watch.seconds)
    stages["other (Python between stages, locks)"] = wall - sum(stages.values())
    if watch.missing:
        stages["(not timed, renamed?) " + ", ".join(watch.missing)] = 0.0
    return wall, result, stages, sum(watch.calls.values())


def progress(message: str, started: float) -> None:
    print(f"  [{time.perf_counter() - started:5.0f} s] {message}", file=sys.stderr, flush=True)


def run(data: Path, documents: int, per_document: int, article_words: int, keep: Path | None) -> dict[str, Any]:
    started = time.perf_counter()
    info = machine()
    work = Path(tempfile.mkdtemp(prefix="rag-incremental-", dir=keep))
    operations: dict[str, dict[str, Any]] = {}
    try:
        corpus = work / "corpus"
        began = time.perf_counter()
        written = write_corpus(corpus, data, documents, per_document)
        corpus_seconds = time.perf_counter() - began
        corpus_bytes = sum(p.stat().st_size for p in corpus.rglob("*.txt"))
        article = write_article(work / "new" / "squad-article.md", data, article_words)
        article_path = work / "new" / article["file"]
        progress(f"corpus written: {documents:,} documents, {written:,} sentences", started)
        # A corpus exists before it is indexed: files read within RACY_SECONDS of their last
        # change are hashed again by every update (their stat cannot be trusted), so wait that out.
        time.sleep(rag_ingest.RACY_SECONDS + 0.5)

        began = time.perf_counter()
        embedder = rag_pipeline.embedder_for(Config())  # what build_index loads with the default config
        embedder_load = time.perf_counter() - began
        warm = work / "warm"
        warm.mkdir()
        (warm / "one.txt").write_text("A warm-up document. It loads BM25, FAISS and SQLite once.\n")
        build_index(warm, work / "index-warm", embedder=embedder)
        shutil.rmtree(work / "index-warm")
        per_call = wrapper_cost()

        def record(key: str, wall: float, index: Any, stages: dict[str, float], calls: int) -> None:
            report = index.build_report
            operations[key] = {
                "seconds": round(wall, 3),
                "build_report_seconds": report.seconds,
                "embedded": report.embedded,
                "documents": report.documents,
                "sentences": report.sentences,
                "passages": report.passages,
                "added_count": len(report.added),
                "added": list(report.added[:10]),  # the first 10 (a build into an empty folder adds all)
                "removed_count": len(report.removed),
                "removed": list(report.removed[:10]),
                "dense_index": index.manifest.get("dense_index"),
                "index_bytes": sum(int(f["size"]) for f in index.manifest["files"].values()),
                "wrapped_calls": calls,
                "wrapper_overhead_seconds": round(calls * per_call, 3),
                "stages_seconds": {k: round(v, 4) for k, v in stages.items()},
            }
            progress(f"{key}: {wall:.1f} s, {report.embedded:,} sentences embedded", started)

        index_dir = work / "index"
        wall, index, stages, calls = timed(embedder, build_index, corpus, index_dir, embedder=embedder)
        record("full", wall, index, stages, calls)

        wall, index, stages, calls = timed(embedder, index.add_files, [article_path])
        record("add", wall, index, stages, calls)
        doc_id = article["file"]
        texts = [s.text for s in index.sentences(doc_id)]
        standalone = []
        for _ in range(STANDALONE_ENCODES):
            began = time.perf_counter()
            embedder.encode(texts)
            standalone.append(time.perf_counter() - began)

        scratch_dir = work / "index-scratch"
        wall, scratch, stages, calls = timed(embedder, build_index, corpus, scratch_dir, embedder=embedder)
        record("scratch", wall, scratch, stages, calls)
        shutil.rmtree(scratch_dir, ignore_errors=True)

        wall, index, stages, calls = timed(embedder, index.remove, [doc_id])
        record("remove", wall, index, stages, calls)
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return {
        "machine": info,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "encoder": embedder.name,
        "encoder_load_seconds": round(embedder_load, 3),
        "wrapper_seconds_per_call": per_call,
        "corpus": {
            "documents": documents,
            "sentences_per_document": per_document,
            "sentences_written": written,
            "bytes": corpus_bytes,
            "write_seconds": round(corpus_seconds, 1),
        },
        "article": {**article, "doc_id": doc_id, "sentences": len(texts)},
        "article_encode_standalone_seconds": [round(s, 4) for s in standalone],
        "operations": operations,
        "total_seconds": round(time.perf_counter() - started, 1),
    }


# --- report ---------------------------------------------------------------------------------


def print_report(result: dict[str, Any]) -> None:
    corpus, article, ops = result["corpus"], result["article"], result["operations"]
    full = ops["full"]
    print(
        f"corpus: {corpus['documents']:,} .txt documents of {corpus['sentences_per_document']} varied SQuAD "
        f"sentences ({full['sentences']:,} sentences, {full['passages']:,} passages, "
        f"{corpus['bytes'] / 2**20:.1f} MB of text; index {full['index_bytes'] / 2**20:,.0f} MB, "
        f"FAISS {full['dense_index']})"
    )
    print(
        f"article: {article['doc_id']} ({article['title']}, first {article['paragraphs']} SQuAD paragraphs): "
        f"{article['words']:,} words, {article['sentences']} sentences"
    )
    print(f"encoder {result['encoder']} (loaded once in {result['encoder_load_seconds']:.2f} s, not in the times)")
    print()
    print(f"{'operation':40} {'seconds':>8} {'report s':>9} {'embedded':>9} {'documents':>10} {'sentences':>10}")
    for key, label in OPERATIONS:
        op = ops[key]
        print(
            f"{label:40} {op['seconds']:8.2f} {op['build_report_seconds']:9.2f} {op['embedded']:9,} "
            f"{op['documents']:10,} {op['sentences']:10,}"
        )
    print("(seconds: wall clock around the call; report s: build_report.seconds; embedded: build_report.embedded)")

    encode_label = "encode (sentences not reused)"
    add, scratch = ops["add"], ops["scratch"]
    add_encode = add["stages_seconds"].get(encode_label, 0.0)
    full_encode = full["stages_seconds"].get(encode_label, 0.0)
    rate = full["embedded"] / full_encode if full_encode else float("nan")
    standalone = statistics.median(result["article_encode_standalone_seconds"])
    overhead = add["seconds"] - add_encode
    scratch_overhead = scratch["seconds"] - scratch["stages_seconds"].get(encode_label, 0.0)
    share = article["sentences"] / add["sentences"]
    print()
    print(f"the add, split ({article['sentences']} new sentences, {add['embedded']} embedded):")
    lines = [
        ("encoding the article inside the add", add_encode, "(proportional to the article)"),
        (f"the article's sentences encoded alone (median of {STANDALONE_ENCODES})", standalone, ""),
        (f"the same at the full build's rate ({rate:,.0f} sentences/s)", article["sentences"] / rate, ""),
        ("everything else in the add", overhead, "(per stage below, with what it grows with)"),
        ("everything else in the full rebuild from scratch", scratch_overhead, ""),
    ]
    for label, seconds, note in lines:
        print(f"  {label:58} {seconds:8.2f} s  {note}".rstrip())
    print(
        f"  add / full rebuild {add['seconds'] / scratch['seconds']:.3f}; "
        f"add / encoder-only {add['seconds'] / standalone:,.0f}x; "
        f"if the non-encoding work scaled with the article's share of sentences ({share:.2%}), "
        f"the add would take about {add_encode + overhead * share:.2f} s"
    )

    print("\nwhere each operation's time goes, seconds (timing wrappers; exclusive times)")
    labels = list(dict.fromkeys(label for key, _ in OPERATIONS for label in ops[key]["stages_seconds"]))
    labels.sort(key=lambda label: (label.startswith("other"), -ops["add"]["stages_seconds"].get(label, 0.0)))
    print(f"{'stage':42} {'full':>8} {'add':>8} {'scratch':>8} {'remove':>8}  scales with (from the code)")
    for label in labels:
        cells = "".join(f" {ops[key]['stages_seconds'].get(label, 0.0):8.3f}" for key, _ in OPERATIONS)
        print(f"{label[:42]:42}{cells}  {SCALES.get(label, CORPUS_SCALE)}")
    print(f"{'total (wall)':42}" + "".join(f" {ops[key]['seconds']:8.3f}" for key, _ in OPERATIONS))
    print(
        f"{'  of which timing wrappers (estimated)':42}"
        + "".join(f" {ops[key]['wrapper_overhead_seconds']:8.3f}" for key, _ in OPERATIONS)
    )
    load = " ".join(f"{x:.2f}" for x in result["load_average_at_end"])
    print(
        f"\nwhole run {result['total_seconds']:.0f} s (corpus written in {corpus['write_seconds']:.0f} s); "
        f"load average at end {load}"
    )


def main() -> int:
    parser = benchmark_parser(__doc__, METHOD)
    parser.add_argument("--documents", type=int, default=10_000, help="documents in the corpus (default 10000)")
    parser.add_argument("--sentences-per-document", type=int, default=10, help="sentences per document (default 10)")
    parser.add_argument("--article-words", type=int, default=1000, help="words of the added article (default 1000)")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="work in DIR and keep the corpus and index")
    args = parser.parse_args()
    if data_missing(args.data):
        return 1
    if not args.json:
        print(machine_line(machine()), flush=True)
    result = run(args.data, args.documents, args.sentences_per_document, args.article_words, args.keep)
    return emit(result, args.json, print_report)


if __name__ == "__main__":
    sys.exit(main())
