"""Conversations, multi-part, overview and why/how questions (a benchmark, not a test).

The questions are written by hand (benchmarks/data/conversations.jsonl and questions.jsonl)
about the public SQuAD subset's three articles (read from ../shared/data, never copied) and
the seed article in corpus/. Each turn names its gold sentence by a substring that occurs
exactly once in its document (checked before anything is measured).

- Conversations: each turn asked alone and asked with its conversation's earlier answers as
  history, plus the previous question prefixed to the turn (the naive way, for reference).
  A hit is a top citation in the gold document that contains the gold substring.
- Multi-part: a hit when every part's gold is among the citations; against the question
  searched whole.
- Overview: a hit when the answer's first citation is the gold document's first sentence.
- Why/how: top citation holds one of the golds; against the same ranking without the
  preference for sentences that give a reason.
- Latency: ``ask`` p50 with a 5-turn history against without, interleaved, one process.

    python benchmarks/conversation.py [--data PATH] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.squad import DEFAULT_DATA, load_squad, machine, write_corpus  # noqa: E402
from rag import build_index  # noqa: E402
from rag.answer import queries as queries_module  # noqa: E402

DATA = ROOT / "benchmarks" / "data"
SEED = ROOT / "corpus" / "seed-article.md"


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def check_golds(index, items: list[dict]) -> None:
    """Every gold substring must occur exactly once in its document."""
    texts = {d["doc_id"]: index.document(d["doc_id"]).text for d in index.documents()}
    problems = []
    for item in items:
        golds = [t["gold"] for t in item.get("turns", [])] + item.get("golds", [])
        for gold in golds:
            where = [doc for doc, text in texts.items() if gold in text]
            counts = [texts[doc].count(gold) for doc in where]
            if counts != [1] or ("doc" in item and where != [item["doc"]]):
                problems.append(f"{gold!r}: found in {where} {counts} times")
    if problems:
        raise SystemExit("gold substrings must occur exactly once:\n" + "\n".join(problems))


def hit(answer, golds: list[str], doc: str | None = None) -> bool:
    if answer.abstained or not answer.citations:
        return False
    top = answer.citations[0]
    return (doc is None or top.doc_id == doc) and any(g in top.text for g in golds)


def rate(values: list[bool]) -> float:
    return sum(values) / len(values) if values else float("nan")


def conversations(index, items: list[dict]) -> dict:
    buckets: dict[str, dict[str, list[bool]]] = {}
    same = changed = unchanged = 0
    k, threshold = index.config.answer.k, index.config.answer.threshold
    for item in items:
        history: list = []
        previous = ""
        for number, turn in enumerate(item["turns"], start=1):
            bucket = "turn 1" if number == 1 else "turns 2-3" if number <= 3 else "turns 4+"
            alone = index.ask(turn["q"])
            followed = index.ask(turn["q"], history=history)
            # The naive way, searched as one question (not split at the "?" between the two).
            prefixed = index._queries._ask_one(f"{previous} {turn['q']}", [], k, threshold, None) if previous else alone
            if followed.searched_for == turn["q"]:
                unchanged += 1
                same += followed == alone
            else:
                changed += 1
            marks = buckets.setdefault(bucket, {"alone": [], "history": [], "prefix previous question": []})
            marks["alone"].append(hit(alone, [turn["gold"]], item["doc"]))
            marks["history"].append(hit(followed, [turn["gold"]], item["doc"]))
            marks["prefix previous question"].append(hit(prefixed, [turn["gold"]], item["doc"]))
            history.append(followed)
            previous = turn["q"]
    result = {bucket: {mode: rate(v) for mode, v in marks.items()} for bucket, marks in buckets.items()}
    follow = {m: [] for m in ("alone", "history", "prefix previous question")}
    for bucket, marks in buckets.items():
        if bucket != "turn 1":
            for mode, values in marks.items():
                follow[mode] += values
    result["turns 2+"] = {mode: rate(v) for mode, v in follow.items()}
    result["follow-ups resolved"] = changed
    result["turns searched as asked"] = unchanged
    result["of those, answered exactly as alone"] = same
    result["turns"] = sum(len(i["turns"]) for i in items)
    return result


def multipart(index, items: list[dict]) -> dict:
    split, whole = [], []
    for item in items:
        answer = index.ask(item["q"])
        texts = " ".join(c.text for c in answer.citations)
        split.append(all(g in texts for g in item["golds"]))
        one = index._queries._ask_one(item["q"], [], index.config.answer.k, index.config.answer.threshold, None)
        texts = " ".join(c.text for c in one.citations)
        whole.append(all(g in texts for g in item["golds"]))
    return {"questions": len(items), "split into parts": rate(split), "searched whole": rate(whole)}


def overview(indexes: dict, items: list[dict]) -> dict:
    hits = []
    for item in items:
        index = indexes[item.get("corpus", "all")]
        answer = index.ask(item["q"])
        first = next(s for s in index.sentences(item["doc"]) if len(s.text.split()) > 5)
        ok = not answer.abstained and answer.citations[0].doc_id == item["doc"]
        hits.append(ok and answer.citations[0].start <= first.start < answer.citations[0].end)
    return {"questions": len(items), "answered with the right document's lead": rate(hits)}


def reasons(index, items: list[dict]) -> dict:
    preferred = [hit(index.ask(item["q"]), item["golds"]) for item in items]
    with mock.patch.object(queries_module, "asks_reason", lambda question: None):
        plain = [hit(index.ask(item["q"]), item["golds"]) for item in items]
    return {"questions": len(items), "reason preferred": rate(preferred), "plain ranking": rate(plain)}


def latency(index, items: list[dict], rounds: int = 3) -> dict:
    history = []
    for item in items[:2]:
        for turn in item["turns"]:
            history.append(index.ask(turn["q"], history=history))
    history = history[-5:]
    questions = [t["q"] for item in items for t in item["turns"]]
    alone, with_history = [], []
    for _ in range(rounds):
        for question in questions:
            started = time.perf_counter()
            index.ask(question)
            alone.append(time.perf_counter() - started)
            started = time.perf_counter()
            index.ask(question, history=history)
            with_history.append(time.perf_counter() - started)
    p50, p50_history = statistics.median(alone) * 1000, statistics.median(with_history) * 1000
    return {"asks": len(alone), "p50 ms": p50, "p50 ms with 5-turn history": p50_history, "ratio": p50_history / p50}


def run(data: Path) -> dict:
    articles, _ = load_squad(data)
    conversation_items = read_jsonl(DATA / "conversations.jsonl")
    heldout_items = read_jsonl(DATA / "conversations-heldout.jsonl")
    question_items = read_jsonl(DATA / "questions.jsonl")
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        write_corpus(corpus, articles)
        shutil.copy(SEED, corpus / SEED.name)
        seed_corpus = Path(tmp) / "seed"
        seed_corpus.mkdir()
        shutil.copy(SEED, seed_corpus / SEED.name)
        index = build_index(corpus, Path(tmp) / "index")
        seed_index = build_index(seed_corpus, Path(tmp) / "seed-index", embedder=index.embedder)
        check_golds(index, conversation_items + heldout_items + [i for i in question_items if "golds" in i])
        by_kind = {k: [i for i in question_items if i["kind"] == k] for k in ("multipart", "overview", "reason")}
        return {
            "machine": machine(),
            "conversations": len(conversation_items),
            "follow-ups": conversations(index, conversation_items),
            "held-out follow-ups": conversations(index, heldout_items),
            "multi-part": multipart(index, by_kind["multipart"]),
            "overview": overview({"all": index, "seed": seed_index}, by_kind["overview"]),
            "why/how": reasons(index, by_kind["reason"]),
            "latency": latency(index, conversation_items),
        }


def print_follow_ups(follow: dict) -> None:
    print(f"{'':12}{'alone':>8}{'history':>9}{'prefix prev. question':>23}")
    for bucket in ("turn 1", "turns 2-3", "turns 4+", "turns 2+"):
        if bucket in follow:
            row = follow[bucket]
            print(f"{bucket:12}{row['alone']:8.3f}{row['history']:9.3f}{row['prefix previous question']:23.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="SQuAD subset JSON")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not args.data.exists():
        print(f"no SQuAD data at {args.data}: pass --data PATH", file=sys.stderr)
        return 1
    result = run(args.data)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(result["machine"])
    follow = result["follow-ups"]
    print(f"{result['conversations']} conversations, {follow['turns']} turns (top citation holds the gold sentence)")
    print_follow_ups(follow)
    held = result["held-out follow-ups"]
    print(f"held out (written after the rules were settled, not used to change them): {held['turns']} turns")
    print_follow_ups(held)
    print(
        f"turns resolved from history: {follow['follow-ups resolved']}; searched as asked: "
        f"{follow['turns searched as asked']}, of which answered exactly as alone: "
        f"{follow['of those, answered exactly as alone']}"
    )
    for name in ("multi-part", "overview", "why/how"):
        print(name, {k: round(v, 3) if isinstance(v, float) else v for k, v in result[name].items()})
    lat = result["latency"]
    print(
        f"ask p50 {lat['p50 ms']:.1f} ms alone, {lat['p50 ms with 5-turn history']:.1f} ms with a 5-turn history "
        f"(ratio {lat['ratio']:.2f}, {lat['asks']} asks each)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
