"""Peak memory of `build_index` per MB of a one-line text file (a benchmark, not a test).

python benchmarks/memory.py [--sizes 2 4 8] [--encoder real|fake] [--dim 384] [--no-sentence-ends] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The shared data sits next to the checkout (/work/main) or two levels up from a worktree (/work/wt/NAME).
DEFAULT_DATA = (
    next((p for p in (ROOT.parent / "shared", ROOT.parent.parent / "shared") if p.is_dir()), ROOT.parent / "shared")
    / "data"
    / "squad1-train-subset.json"
)

METHOD = """\
Each size writes one file of N MB to a fresh temporary corpus: the SQuAD contexts of --data
(or the packaged seed article when absent), joined on ONE line and repeated until N MB; every
repetition swaps inner words so sentences stay distinct. A child Python process runs
build_index on that corpus (the real packaged encoder, or the fake one of tests/fakes.py with --dim dimensions),
then reports its own peak RSS (VmHWM of /proc/self/status) and the peak RSS of the same
process just before building (after importing rag and loading the encoder). "Build" is the
difference, "per MB" divides it by the file size. One run per size; memory is deterministic
enough that repeats are not needed, but the machine is shared: small differences are noise.
--no-sentence-ends first deletes every . ! ? ; and : of the text, so the file is one endless
"sentence" that indexing cuts every 2,000 characters (the shape of issue 10's 45 MB attack).
"""
_SENTENCE_ENDS = re.compile(r"[.!?;:]")

_CHILD = """
import sys, json
def peak_kb():
    # VmHWM is this process's own peak RSS. ru_maxrss is not: under vfork, exec hands the child
    # the peak of the parent that started it (a test runner or this benchmark, holding the text).
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
sys.path.insert(0, {root!r})
from rag import build_index
from rag.pipeline import embedder_for
from rag.config import Config
encoder = {encoder!r}
if encoder == "fake":
    sys.path.insert(0, {tests!r})
    from tests.fakes import FakeEmbedder
    embedder = FakeEmbedder()
    embedder.dim = {dim!r}
else:
    embedder = embedder_for(Config())
    embedder.encode(["warm up the encoder once"])
before = peak_kb()
index = build_index({corpus!r}, {index!r}, embedder=embedder)
after = peak_kb()
print(json.dumps({{"before_kb": before, "peak_kb": after, "sentences": index.info()["counts"]["sentences"]}}))
"""

_INNER_WORD = re.compile(r"(?<= )[a-z]{4,}(?= )")


def source_text(data: Path) -> str:
    """The benchmark prose: SQuAD contexts when available, else the packaged seed article."""
    if data.exists():
        articles = json.loads(data.read_text(encoding="utf-8"))["data"]
        return " ".join(p["context"].replace("\n", " ") for a in articles for p in a["paragraphs"])
    return " ".join(p.read_text(encoding="utf-8").replace("\n", " ") for p in sorted((ROOT / "corpus").rglob("*.md")))


def one_line(text: str, size: int) -> str:
    """`text` repeated on one line to `size` bytes; each copy varies its words so sentences differ."""
    words = _INNER_WORD.findall(text)
    parts, total, copy = [], 0, 0
    while total < size:
        shift = copy % max(len(words), 1)
        swap = iter(words[shift:] + words[:shift])
        varied = text if copy == 0 else _INNER_WORD.sub(lambda _, swap=swap: next(swap, "word"), text)
        parts.append(varied)
        total += len(varied.encode("utf-8")) + 1
        copy += 1
    return " ".join(parts).encode("utf-8")[:size].decode("utf-8", "ignore").rsplit(" ", 1)[0] + "\n"


def measure(megabytes: float, encoder: str, text: str, dim: int = 64) -> dict[str, float]:
    """Build an index of one `megabytes` MB one-line file in a child process; its peak RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp, "corpus")
        corpus.mkdir()
        body = one_line(text, int(megabytes * 1024 * 1024))
        (corpus / "one-line.txt").write_text(body, encoding="utf-8")
        size = (corpus / "one-line.txt").stat().st_size
        child = _CHILD.format(
            root=str(ROOT),
            tests=str(ROOT),
            encoder=encoder,
            dim=dim,
            corpus=str(corpus),
            index=str(Path(tmp, "index")),
        )
        done = subprocess.run(
            [sys.executable, "-c", child],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        if done.returncode:
            raise SystemExit(f"the build of {megabytes} MB failed:\n{done.stderr[-2000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
    mb = size / 1024 / 1024
    peak, before = result["peak_kb"] / 1024, result["before_kb"] / 1024
    return {
        "file_mb": round(mb, 2),
        "sentences": result["sentences"],
        "before_mb": round(before, 1),
        "peak_mb": round(peak, 1),
        "build_mb": round(peak - before, 1),
        "peak_per_file_mb": round(peak / mb, 1),
        "build_per_file_mb": round((peak - before) / mb, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[2, 4, 8], help="file sizes in MB")
    parser.add_argument("--encoder", choices=["real", "fake"], default="real")
    parser.add_argument("--dim", type=int, default=64, help="dimensions of the fake encoder (the real one has 384)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--no-sentence-ends", action="store_true", help="delete . ! ? ; : (one endless sentence)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    text = source_text(args.data)
    if args.no_sentence_ends:
        text = _SENTENCE_ENDS.sub("", text)
    rows = [measure(size, args.encoder, text, args.dim) for size in args.sizes]
    if args.json:
        shape = "no sentence ends" if args.no_sentence_ends else "prose"
        print(json.dumps({"encoder": args.encoder, "text": shape, "rows": rows, "method": METHOD}, indent=2))
        return 0
    print(METHOD)
    print(f"encoder: {args.encoder}; text: {'no sentence ends' if args.no_sentence_ends else 'prose'}")
    header = ("file MB", 8), ("sentences", 10), ("base MB", 8), ("peak MB", 8), ("build MB", 9), ("peak/MB", 8)
    print(" ".join(f"{name:>{width}}" for name, width in header), f"{'build/MB':>9}")
    for row in rows:
        print(
            f"{row['file_mb']:>8} {row['sentences']:>10} {row['before_mb']:>8} {row['peak_mb']:>8}"
            f" {row['build_mb']:>9} {row['peak_per_file_mb']:>8} {row['build_per_file_mb']:>9}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
