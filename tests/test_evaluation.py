"""rag eval: labelled questions in, ranking and abstention measures out."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from rag.cli.main import main
from rag.errors import RagError
from rag.evaluation import LabelledQuestion, auroc, evaluate, load_questions, ranking_quality


def test_auroc_by_hand() -> None:
    assert auroc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert auroc([0.1], [0.9]) == 0.0
    assert auroc([0.5], [0.5]) == 0.5
    assert math.isnan(auroc([], [0.1]))


def test_ranking_quality_by_hand() -> None:
    quality = ranking_quality([1, 2, None, 4])
    assert quality == {"hit@1": 0.25, "hit@3": 0.5, "mrr@10": pytest.approx((1 + 0.5 + 0.25) / 4)}


def test_load_jsonl_and_squad(tmp_path: Path) -> None:
    lines = tmp_path / "q.jsonl"
    lines.write_text('{"question": "a?", "answer": "x"}\n\n{"question": "b?", "answer": null}\n')
    assert load_questions(lines) == [LabelledQuestion("a?", "x"), LabelledQuestion("b?", None)]
    squad = tmp_path / "s.json"
    squad.write_text(json.dumps({"data": [{"paragraphs": [{"qas": [
        {"question": "c?", "answers": [{"text": "y", "answer_start": 0}]},
        {"question": "d?", "answers": [], "is_impossible": True},
    ]}]}]}))  # fmt: skip
    assert load_questions(squad) == [LabelledQuestion("c?", "y"), LabelledQuestion("d?", None)]


@pytest.mark.parametrize("content", ["not json", '{"version": 1}', '{"question": "a?"}'])
def test_bad_files_are_clear_errors(tmp_path: Path, content: str) -> None:
    path = tmp_path / ("bad.jsonl" if content.startswith('{"question"') else "bad.json")
    path.write_text(content)
    with pytest.raises(RagError):
        load_questions(path)


def test_evaluate_on_the_seed_questions(real_index) -> None:
    questions = [
        LabelledQuestion("How much money does the new chip fund aim to raise?", "$40 billion"),
        LabelledQuestion("Which technologies are described as dual-use?", "advanced microchips"),
        LabelledQuestion("Who won the 2022 FIFA World Cup?", None),
    ]
    result = evaluate(real_index, questions)
    assert result["hit@1"] == 1.0 and result["auroc"] == 1.0
    assert result["abstention_precision"] == 1.0 and result["abstention_recall"] == 1.0
    assert result["answered_rate"] == 1.0


def test_rag_eval_command(capsys, real_index, tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "How much money does the new chip fund aim to raise?", "answer": "$40 billion"}\n')
    assert main(["eval", str(path), "--index", str(real_index.path)]) == 0
    out = capsys.readouterr().out
    assert "Hit@1 1.000" in out and "AUROC" in out
    assert main(["eval", str(path), "--json", "--index", str(real_index.path)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["hit@1"] == 1.0 and result["auroc"] is None
