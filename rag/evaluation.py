"""Measure an index on labelled questions: ranking quality, abstention and its threshold."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from rag.errors import RagError
from rag.pipeline import Index
from rag.text.words import fold


@dataclass(frozen=True, slots=True)
class LabelledQuestion:
    """A question and the answer text a cited sentence must contain (None: should abstain)."""

    question: str
    answer: str | None


def load_questions(path: str | Path) -> list[LabelledQuestion]:
    """Read SQuAD-format JSON or JSONL lines of ``{"question", "answer"}``.

    The feedback file the browser app writes beside the index (``rag.feedback``) is such a
    JSONL file: each question's latest judgement counts; a thumbs up labels it, a thumbs down
    or a retraction (a thumb taken back) labels nothing.

    In SQuAD files a question without answers (or marked ``is_impossible``) should abstain.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RagError(f"cannot read {path}: {error}") from None
    if path.suffix == ".jsonl":
        return _from_jsonl(text, path)
    try:
        data = json.loads(text)
    except ValueError as error:
        raise RagError(f"{path} is not JSON ({error}); expected SQuAD format or a .jsonl file") from None
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise RagError(f"{path} is not in SQuAD format (no top-level 'data' list)")
    return _from_squad(data)


def _from_jsonl(text: str, path: Path) -> list[LabelledQuestion]:
    questions: list[LabelledQuestion | str] = []  # a str: the place of a judged question's latest judgement
    judged: dict[str, LabelledQuestion | None] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            item = None
        if isinstance(item, dict) and "rating" in item and isinstance(item.get("question"), str):
            # A judgement from the feedback file: only the question's latest one counts, so a
            # thumbs up taken back (or turned into a thumbs down) labels nothing.
            key = item["question"]
            judged[key] = _labelled(item, "") if item["rating"] == "up" and "answer" in item else None
            questions = [q for q in questions if q != key] + [key]
            continue
        question = _labelled(item, f"{path}:{number}")
        if question is None:
            raise RagError(
                f'{path}:{number}: expected {{"question": "text", "answer": "text" or null}}, got {line.strip()[:80]}'
            )
        questions.append(question)
    return [q for q in (judged[q] if isinstance(q, str) else q for q in questions) if q is not None]


def _labelled(item: Any, where: str) -> LabelledQuestion | None:
    """The labelled question ``item`` holds, or None when it is not ``{"question": str, "answer": str | None}``."""
    if not isinstance(item, dict):
        return None
    question, answer = item.get("question"), item.get("answer", ...)
    if not isinstance(question, str) or not question.strip():
        return None
    if answer is not None and (not isinstance(answer, str) or not answer.strip()):
        return None
    return LabelledQuestion(question, answer)


def _from_squad(data: dict[str, Any]) -> list[LabelledQuestion]:
    questions = []
    for article in data["data"]:
        paragraphs = article.get("paragraphs", []) if isinstance(article, dict) else None
        for paragraph in paragraphs if isinstance(paragraphs, list) else _bad_squad("an article"):
            qas = paragraph.get("qas", []) if isinstance(paragraph, dict) else None
            for qa in qas if isinstance(qas, list) else _bad_squad("a paragraph"):
                if not isinstance(qa, dict):
                    _bad_squad("a question")
                answers = [] if qa.get("is_impossible") else qa.get("answers") or []
                first = answers[0] if isinstance(answers, list) and answers else None
                answer = first.get("text") if isinstance(first, dict) else None
                if (first is not None and answer is None) or (answers and not isinstance(answers, list)):
                    _bad_squad(f"the answers of question {qa.get('id', qa.get('question'))!r:.60}")
                labelled = _labelled({"question": qa.get("question"), "answer": answer}, "")
                if labelled is None:
                    _bad_squad(f"question {qa.get('id', qa.get('question'))!r:.60}")
                questions.append(labelled)
    return questions


def _bad_squad(what: str) -> NoReturn:
    raise RagError(f"not in SQuAD format: {what} is not as SQuAD writes it")


def auroc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """The chance a random positive scores above a random negative (ties count half); NaN if a side is empty."""
    pos, neg = np.asarray(positives, dtype=float), np.asarray(negatives, dtype=float)
    if not len(pos) or not len(neg):
        return math.nan
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def ranking_quality(ranks: Sequence[int | None]) -> dict[str, float]:
    """Hit@1, Hit@3 and MRR@10 from the 1-based rank of the first hit (None: no hit)."""
    count = len(ranks) or 1
    return {
        "hit@1": sum(r == 1 for r in ranks) / count,
        "hit@3": sum(r is not None and r <= 3 for r in ranks) / count,
        "mrr@10": sum(1 / r for r in ranks if r is not None and r <= 10) / count,
    }


def _first_hit(texts: Sequence[str], answer: str) -> int | None:
    wanted = " ".join(fold(answer).split())
    for rank, text in enumerate(texts, start=1):
        if wanted in " ".join(fold(text).split()):
            return rank
    return None


def evaluate(index: Index, questions: Sequence[LabelledQuestion], *, threshold: float | None = None) -> dict[str, Any]:
    """Ask every question and measure ranking, abstention and calibration.

    A question counts as a hit at rank r when the r-th ranked sentence contains its answer
    text (compared case-, accent- and quote-insensitively).
    """
    if not questions:
        raise RagError("no questions to evaluate")
    ranks, answerable, unanswerable = [], [], []
    abstained_right = abstained_wrong = 0
    for item in questions:
        answer = index.ask(item.question, k=10, threshold=threshold)
        if item.answer is None:
            unanswerable.append(answer.confidence)
            abstained_right += answer.abstained
        else:
            answerable.append(answer.confidence)
            abstained_wrong += answer.abstained
            ranks.append(_first_hit([c.text for c in answer.candidates], item.answer))
    abstained = abstained_right + abstained_wrong
    used = index.config.answer.threshold if threshold is None else threshold
    return {
        "questions": len(questions),
        "answerable": len(answerable),
        "should_abstain": len(unanswerable),
        **ranking_quality(ranks),
        "threshold": used,
        "answered_rate": (len(answerable) - abstained_wrong) / len(answerable) if answerable else math.nan,
        "abstention_precision": abstained_right / abstained if abstained else math.nan,
        "abstention_recall": abstained_right / len(unanswerable) if unanswerable else math.nan,
        "auroc": auroc(answerable, unanswerable),
        "threshold_keeping_95pct": float(np.quantile(answerable, 0.05)) if answerable else math.nan,
    }
