"""Does the best sentence contradict the question? Lookup's claim comparison, read on real questions.

SQuAD 2.0's crowd workers wrote most unanswerable questions by editing an answerable one: another
name, number or date, a negation added, an antonym ("largest" for "smallest"). Lookup already finds
such edits between a claim and its source (rag.answer.claims.compare). This script reads the
question as a claim (its words without the wh-phrase) against a question's best candidate sentence
and counts, per kind of difference, how often one is found on answerable, unanswerable (in-topic) and
off-topic questions; a signal worth a feature of the answer model fires more often on the
unanswerable ones. The last row, ``ASK: question_conflicts``, is what ask reads of its best sentence
(rag.answer.claims.question_conflicts: the kinds that separate, a year in its decade or century and
opposites inside names left out).

Reads the questions that ``benchmarks/fit_ask.py --work DIR`` kept (their texts and each candidate's
quoted text); asks nothing again.

    python benchmarks/conflict.py [--work /tmp/rag-fit-ask] [--candidates 30] [--top 1]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.real import auroc  # noqa: E402
from rag.answer.claims import Side, compare, question_conflicts  # noqa: E402

GROUPS = ("squad answerable", "squad unanswerable", "offtopic", "wikiqa answerable", "wikiqa unanswerable")


def group_of(q: dict) -> str | None:
    if q["set"] in ("squad", "wikiqa"):
        return f"{q['set']} {q['kind']}"
    return "offtopic" if q["set"] == "offtopic" else None


def signals(question: str, sentence: str) -> Counter:
    """Each kind of difference (kind and change) lookup finds between the question read as a claim
    and the sentence."""
    found = Counter()
    for d in compare(Side(question, 0), Side(sentence, 0)):
        found[f"{d.kind} {d.change}"] += 1
        found[d.kind] += 1
        found["any"] += 1
    if question_conflicts(question, sentence):
        found["ASK: question_conflicts"] += 1
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/rag-fit-ask"))
    parser.add_argument("--candidates", type=int, default=30)
    parser.add_argument("--top", type=int, default=1, help="read this many best candidates of each question")
    args = parser.parse_args()
    questions = json.loads((args.work / f"questions-{args.candidates}.json").read_text(encoding="utf-8"))
    fired: dict[str, Counter] = {g: Counter() for g in GROUPS}
    counts: Counter = Counter()
    per_question: dict[str, list[tuple[str, Counter]]] = {g: [] for g in GROUPS}
    for q in questions:
        group = group_of(q)
        if group is None or not q["candidates"]:
            continue
        best = sorted(q["candidates"], key=lambda c: -c["score"])[: args.top]
        seen = Counter()
        for c in best:
            for name in signals(q["q"], c["text"]):
                seen[name] = 1
        fired[group].update(seen)
        counts[group] += 1
        per_question[group].append((q["q"], seen))
    names = sorted({n for c in fired.values() for n in c}, key=lambda n: (n.startswith("ASK"), " " in n, n))
    print(f"{'signal (share of questions)':28}" + "".join(f"{g:>21}" for g in GROUPS) + f"{'AUROC in-topic':>16}")
    for name in names:
        shares = [fired[g][name] / counts[g] for g in GROUPS]
        # How well "no difference" tells answerable from unanswerable SQuAD questions, alone.
        pos = [0.0 if s[name] else 1.0 for _, s in per_question["squad answerable"]]
        neg = [0.0 if s[name] else 1.0 for _, s in per_question["squad unanswerable"]]
        print(f"{name:28}" + "".join(f"{v:>21.3f}" for v in shares) + f"{auroc(pos, neg):>16.3f}")
    print("questions: " + ", ".join(f"{g} {counts[g]}" for g in GROUPS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
