"""Would reading a question's terms by meaning find the right sentence more often? (issue 19; a benchmark)

Reads the candidates ``benchmarks/fit_ask.py`` keeps in its --work folder (run it first). For each
focus term of a question (``rag.question.focus.question_focus``; names left out: a name is not
matched by meaning) that a candidate sentence does not hold by stem, it finds how close in meaning
the sentence comes, with vectors of rag's own encoder:

- ``static``: every word piece of the vocabulary encoded alone (``[CLS] piece [SEP]``, the piece's
  output state), a word the mean of its pieces; the term against the sentence's closest word. Costs
  nothing at ask time ("chip"/"semiconductor" 0.30, "earlier"/"previous" 0.38, but "city"/"river" 0.26).
- ``context``: the term's vector in the question's own encoding (``encode_words``: the question is
  encoded once for both), against the sentence's vector.

Then a feature ``meaning`` (the IDF-weighted share of the question's terms so matched: cosine at least
t, or graded, (cosine - t) / (1 - t)) is added to the answer model, and the out-of-fold figures of
fit_ask are printed for each t beside those without it (the same folds, penalty and choices).

    python benchmarks/meaning.py [--work DIR] [--vectors static,context] [--thresholds 0.3,0.4,0.5,0.6]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from functools import cache
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import fit_ask  # noqa: E402
from rag import load_index  # noqa: E402
from rag.question import focus as focus_module  # noqa: E402
from rag.question.focus import question_focus, vocabulary  # noqa: E402
from rag.text.words import STOPWORDS, fold, tokenize  # noqa: E402

_WORD = re.compile(r"[^\W\d_]+")
SHOWN = (
    "squad hit@1", "wikiqa hit@1", "inscit first", "inscit follow-up with history", "squad AUROC unanswerable",
    "squad AUROC off-topic", "wikiqa AUROC unanswerable", "squad answerable answered", "offtopic abstained",
)  # fmt: skip
BASE_FEATURES = fit_ask.FEATURES


def piece_vectors(embedder) -> np.ndarray:
    """The output state of every word piece encoded alone, unit length (the int8 export's own)."""
    size = embedder._tokenizer.get_vocab_size()  # a benchmark may look inside; the product does not
    cls, sep = embedder._tokenizer.token_to_id("[CLS]"), embedder._tokenizer.token_to_id("[SEP]")
    out = np.empty((size, embedder.dim), dtype=np.float32)
    for start in range(0, size, 512):
        ids = [[cls, i, sep] for i in range(start, min(size, start + 512))]
        out[start : start + len(ids)] = embedder._hidden_states(ids, np.full(len(ids), 3))[:, 1, :]
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def term_cosines(questions: list[dict], work: Path, kind: str) -> list[list[list[tuple[float, bool, float]]]]:
    """For each question, each candidate, each focus term: (weight, held by stem, cosine by meaning)."""
    indexes = {name: load_index(work / f"index-{name}") for name in ("squad", "wikiqa", "inscit")}
    embedder = indexes["squad"]._queries.embedder
    pieces = piece_vectors(embedder) if kind == "static" else None
    texts = sorted({c["text"] for q in questions for c in q["candidates"]})
    sentence = dict(zip(texts, embedder.encode(texts), strict=True)) if kind == "context" else {}

    @cache
    def word(text: str) -> np.ndarray:
        v = pieces[embedder._tokenizer.encode(text, add_special_tokens=False).ids].mean(axis=0)
        return v / (np.linalg.norm(v) + 1e-12)

    @cache
    def words(text: str) -> np.ndarray:
        found = sorted({w for w in _WORD.findall(fold(text)) if w not in STOPWORDS and len(w) > 1})
        return np.stack([word(w) for w in found]) if found else np.zeros((0, embedder.dim), dtype=np.float32)

    out = []
    for q in questions:
        index = indexes["squad" if q["set"] in ("squad", "offtopic") else q["set"]]
        focus = question_focus(q["q"], index._queries._indexes.sentence_lexical.idf(tuple(tokenize(q["q"]))))
        in_question = embedder.encode_words([q["q"]])[0] if kind == "context" else None
        vectors = []
        for term in focus.terms:
            if kind == "static":
                vectors.append(word(fold(term.label)))
                continue
            at = q["q"].find(term.label)
            rows = [i for i, (s, e) in enumerate(in_question.spans) if at >= 0 and s < at + len(term.label) and at < e]
            v = in_question.vectors[rows].mean(axis=0) if rows else np.zeros(embedder.dim, dtype=np.float32)
            vectors.append(v / (np.linalg.norm(v) + 1e-12))
        per = []
        for c in q["candidates"]:
            held = vocabulary(tokenize(c["text"]))
            row = []
            for term, v in zip(focus.terms, vectors, strict=True):
                strict = all(focus_module._holds(s, held) for s in term.stems)  # by stem, as coverage is
                if term.name:
                    cosine = 0.0
                elif kind == "static":
                    cosine = float((words(c["text"]) @ v).max(initial=0.0))
                else:
                    cosine = float(sentence[c["text"]] @ v)
                row.append((term.weight, strict, cosine))
            per.append(row)
        out.append(per)
    return out


def with_meaning(questions: list[dict], cosines, t: float | None, graded: bool) -> None:
    """Each candidate's features with ``meaning`` last (None: without it); a rewrite's count 0 (its
    question's terms differ)."""
    base = len(BASE_FEATURES)
    for q, per in zip(questions, cosines, strict=True):
        for c, row in zip(q["candidates"], per, strict=True):
            if t is None:
                c["x"] = c["x"][:base]
                continue
            total = sum(w for w, _, _ in row)
            credit = [max(0.0, (cos - t) / (1 - t)) if graded else float(cos >= t) for _, held, cos in row if not held]
            gain = sum(w * k for (w, held, _), k in zip([r for r in row if not r[1]], credit, strict=True))
            c["x"] = c["x"][:base] + [gain / total if total > 0 else 0.0]
        for c in q.get("rewrite") or []:
            c["x"] = c["x"][:base] + ([0.0] if t is not None else [])
    fit_ask.FEATURES = (*BASE_FEATURES, "meaning") if t is not None else BASE_FEATURES


def figures(questions: list[dict]) -> dict[str, float]:
    fit_ask.CALIBRATION[:] = [1.0, 0.0]
    fit_ask.out_of_fold(questions, 5, 0, fit_ask.L2)
    fit_ask.CALIBRATION[:] = fit_ask.calibrate(questions)
    for q in questions:
        fit_ask.rank(q, 0.0)
    chosen = fit_ask.choose_threshold(questions), fit_ask.choose_conversation(questions)
    return fit_ask.figures(questions, *chosen, fit_ask.choose_margin(questions))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/rag-fit-ask"), help="benchmarks/fit_ask.py's")
    parser.add_argument("--candidates", type=int, default=30)
    parser.add_argument("--vectors", default="static,context")
    parser.add_argument("--thresholds", default="0.3,0.4,0.5,0.6")
    args = parser.parse_args()
    questions = json.loads((args.work / f"questions-{args.candidates}.json").read_text(encoding="utf-8"))
    print(f"{'':34}" + "".join(f"{k[:16]:>17}" for k in SHOWN))
    without = figures(questions)
    print(f"{'without':34}" + "".join(f"{without[k]:>17.3f}" for k in SHOWN), flush=True)
    for kind in args.vectors.split(","):
        cosines = term_cosines(questions, args.work, kind)
        for graded in (False, True):
            for t in map(float, args.thresholds.split(",")):
                with_meaning(questions, cosines, t, graded)
                got = figures(questions)
                label = f"{kind} {'graded' if graded else 'share'} t={t}"
                print(f"{label:34}" + "".join(f"{got[k]:>17.3f}" for k in SHOWN), flush=True)
        with_meaning(questions, cosines, None, False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
