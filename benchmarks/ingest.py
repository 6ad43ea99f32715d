"""Files per second of reading each format, against the encoder's own rate, and PDFs against texts in `rag index`.

python benchmarks/ingest.py [--data PATH] [--files 1000 10000] [--formats txt,md,html,pdf,docx]
                            [--index-files 200] [--json]
"""

from __future__ import annotations

import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from throughput import benchmark_parser, data_missing, emit, machine, machine_line, squad_articles  # noqa: E402

from rag import build_index  # noqa: E402
from rag.encoder.embedding import load_embedder  # noqa: E402
from rag.ingest import load_corpus  # noqa: E402
from rag.text.sentences import split_sentences  # noqa: E402

FORMATS = ("txt", "md", "html", "pdf", "docx")

METHOD = """\
Each file holds one SQuAD context of --data (paragraphs taken in order, repeated when more
files are asked for than there are contexts), written as the format would hold it: the text
as is (.txt), under a "# title" (.md), in <p> elements of a small page (.html), as a one-page
PDF of wrapped Helvetica lines (a minimal writer of this script's own), and as a DOCX of one
paragraph (python-docx). Reading: load_corpus(folder), wall clock, files/s per format and
size. The encoder's own rate: load_embedder(None, "onnx-int8").encode() on the sentences of
the first 500 texts (split as rag splits them), expressed as files/s (sentences per file
taken from those texts), so reading can be compared with the work that follows it.

The bar of issue 21: build_index() on --index-files one-page PDFs and on the same texts as
.txt files, each into a fresh folder with the same encoder object, alternately, 3 times;
median wall clock and the ratio PDF/.txt (the bar: at most 1.5).
"""


def _pdf_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return f"({escaped})"


def _wrap(text: str, width: int = 90) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return [*lines, line] if line else lines


def pdf_bytes(text: str) -> bytes:
    """A one-page PDF of ``text`` in wrapped Helvetica lines (latin-1 only; others become '?')."""
    lines = [line.encode("latin-1", "replace").decode("latin-1") for line in _wrap(text)]
    stream = "\n".join(["BT /F1 9 Tf 11 TL 40 760 Td", *(f"{_pdf_string(line)} Tj T*" for line in lines), "ET"])
    objects = {
        1: "<< /Type /Catalog /Pages 2 0 R >>",
        2: "<< /Type /Pages /Kids [5 0 R] /Count 1 >>",
        3: "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        4: f"<< /Length {len(stream.encode('latin-1'))} >>\nstream\n{stream}\nendstream",
        5: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 3 0 R >> >> >>",
    }
    out = bytearray(b"%PDF-1.4\n")
    offsets = {}
    for key in sorted(objects):
        offsets[key] = len(out)
        out += f"{key} 0 obj\n{objects[key]}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offsets[key]:010d} 00000 n \n".encode() for key in sorted(objects))
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def docx_bytes(text: str) -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def file_bytes(kind: str, title: str, text: str) -> bytes:
    if kind == "pdf":
        return pdf_bytes(text)
    if kind == "docx":
        return docx_bytes(text)
    if kind == "md":
        return f"# {title}\n\n{text}\n".encode()
    if kind == "html":
        page = (
            f"<!doctype html><html><head><title>{title}</title></head><body><h1>{title}</h1><p>{text}</p></body></html>"
        )
        return page.encode()
    return f"{text}\n".encode()


def texts_of(data: Path, count: int) -> list[tuple[str, str]]:
    """``count`` (title, text) pairs: the SQuAD contexts in order, repeated as needed (latin-1 for the PDFs)."""
    contexts = [(t, p.encode("latin-1", "replace").decode("latin-1")) for t, ps in squad_articles(data) for p in ps]
    return [contexts[n % len(contexts)] for n in range(count)]


def write_corpus(folder: Path, kind: str, texts: list[tuple[str, str]]) -> Path:
    folder.mkdir(parents=True)
    for number, (title, text) in enumerate(texts):
        (folder / f"doc{number:05d}.{kind}").write_bytes(file_bytes(kind, title.replace("_", " "), text))
    return folder


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = function()
    return time.perf_counter() - start, value


def reading_rates(work: Path, data: Path, sizes: list[int], kinds: list[str]) -> dict[str, dict[str, Any]]:
    rates: dict[str, dict[str, Any]] = {}
    for size in sizes:
        texts = texts_of(data, size)
        for kind in kinds:
            folder = write_corpus(work / f"read-{kind}-{size}", kind, texts)
            seconds, (documents, skipped) = timed(lambda folder=folder: load_corpus(folder))
            rates[f"{kind}-{size}"] = {
                "format": kind,
                "files": size,
                "read": len(documents),
                "skipped": len(skipped),
                "seconds": round(seconds, 2),
                "files_per_second": round(size / seconds, 1),
            }
    return rates


def encoder_rate(data: Path, embedder: Any) -> dict[str, Any]:
    texts = [text for _, text in texts_of(data, 500)]
    sentences = [s.text for n, text in enumerate(texts) for s in split_sentences(text, f"doc{n}")]
    embedder.encode(sentences[:64])  # warm-up
    seconds, _ = timed(lambda: embedder.encode(sentences))
    per_file = len(sentences) / len(texts)
    return {
        "sentences": len(sentences),
        "seconds": round(seconds, 2),
        "sentences_per_second": round(len(sentences) / seconds, 1),
        "files_per_second": round(len(sentences) / seconds / per_file, 1),
    }


def index_bar(work: Path, data: Path, count: int, embedder: Any) -> dict[str, Any]:
    texts = texts_of(data, count)
    corpora = {kind: write_corpus(work / f"index-{kind}", kind, texts) for kind in ("txt", "pdf")}
    times: dict[str, list[float]] = {"txt": [], "pdf": []}
    for attempt in range(3):
        for kind, corpus in corpora.items():
            seconds, _ = timed(
                lambda corpus=corpus, a=attempt, k=kind: build_index(corpus, work / f"i-{k}-{a}", embedder=embedder)
            )
            times[kind].append(seconds)
    medians = {kind: statistics.median(values) for kind, values in times.items()}
    return {
        "files": count,
        "txt_seconds": [round(t, 2) for t in times["txt"]],
        "pdf_seconds": [round(t, 2) for t in times["pdf"]],
        "ratio": round(medians["pdf"] / medians["txt"], 2),
    }


def run(data: Path, sizes: list[int], kinds: list[str], index_files: int) -> dict[str, Any]:
    embedder = load_embedder(None, "onnx-int8")
    with tempfile.TemporaryDirectory(prefix="rag-ingest-bench-") as folder:
        work = Path(folder)
        result: dict[str, Any] = {"machine": machine(), "reading": reading_rates(work, data, sizes, kinds)}
        result["encoder"] = encoder_rate(data, embedder)
        if index_files:
            result["index"] = index_bar(work, data, index_files, embedder)
    return result


def print_report(result: dict[str, Any]) -> None:
    print(machine_line(result["machine"]))
    encoder = result["encoder"]
    print(
        f"encoder (onnx-int8): {encoder['sentences_per_second']:.0f} sentences/s = "
        f"{encoder['files_per_second']:.1f} files/s of these texts"
    )
    print(f"{'format':>6} {'files':>6} {'read':>6} {'seconds':>8} {'files/s':>9} {'x encoder':>10}")
    for row in result["reading"].values():
        times = row["files_per_second"] / encoder["files_per_second"]
        print(
            f"{row['format']:>6} {row['files']:>6} {row['read']:>6} {row['seconds']:>8.2f} "
            f"{row['files_per_second']:>9.1f} {times:>10.1f}"
        )
    if "index" in result:
        bar = result["index"]
        print(
            f"build_index of {bar['files']} files: .txt {bar['txt_seconds']} s, PDF {bar['pdf_seconds']} s; "
            f"median ratio PDF/.txt {bar['ratio']:.2f} (bar: at most 1.5)"
        )


def main() -> int:
    parser = benchmark_parser(__doc__, METHOD)
    parser.add_argument(
        "--files", type=int, nargs="+", default=[1000, 10000], help="corpus sizes (default: 1000 10000)"
    )
    parser.add_argument("--formats", default=",".join(FORMATS), help="comma-separated formats (default: all)")
    parser.add_argument("--index-files", type=int, default=200, help="files for the PDF/.txt build bar (0: skip)")
    args = parser.parse_args()
    kinds = [kind.strip() for kind in args.formats.split(",") if kind.strip()]
    unknown = sorted(set(kinds) - set(FORMATS))
    if unknown:
        parser.error(f"unknown format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
    if data_missing(args.data):
        return 1
    return emit(run(args.data, args.files, kinds, args.index_files), args.json, print_report)


if __name__ == "__main__":
    raise SystemExit(main())
