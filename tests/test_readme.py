"""The README's examples run as written: its Python blocks and its `sh` command blocks."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

from rag.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    blocks = re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)
    # The gradio_client example needs the app running; tests/test_ui.py runs the same calls against it.
    return [b for b in blocks if "gradio_client" not in b]


@pytest.fixture()
def in_a_fresh_folder(tmp_path: Path, monkeypatch) -> Path:
    shutil.copytree(ROOT / "corpus", tmp_path / "corpus")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RAG_INDEX", raising=False)
    return tmp_path


def test_the_readme_has_examples() -> None:
    assert _blocks("python") and _blocks("sh")
    assert "python -m pytest -q" in README and 'pip install -e ".[test,ray]"' in README


# What each Python block must print, keyed by a line of the block: the answers the README promises.
PRINTED = {
    'answer = index.ask("Which companies did Li Qiang visit?", k=3)': [
        "False best sentence scored",  # answered, not abstained
        "leading tech companies such as Huawei and BYD",
        "It plans to raise $90 billion. altered",
        "number $90 billion $40 billion",  # the differing words of the altered sentence
        "False ['seed-article.md']",  # the filtered question is answered from the cgtn.com article
    ],
    'follow_up = index.ask("Who is spearheading it?", history=[first])': [
        "Who is spearheading the new chip fund?\n",
        "spearheaded by the China Integrated Circuit Industry Investment Fund",
        "['Which companies did Premier Li Qiang visit?', 'What did Premier Li Qiang say about innovation?']",
        "overview: ",
    ],
}


@pytest.mark.parametrize("number", range(len(_blocks("python"))))
@pytest.mark.usefixtures("packaged_model")
def test_python_block_runs(in_a_fresh_folder: Path, number: int, capsys) -> None:
    block = _blocks("python")[number]
    expected = [line for key, lines in PRINTED.items() if key in block for line in lines]
    assert expected, f"README python block {number} has no expected output in PRINTED"
    exec(compile(block, f"README.md python block {number}", "exec"), {})
    out = capsys.readouterr().out
    for line in expected:
        assert line in out, f"README python block {number} should print {line!r}; it printed:\n{out}"


@pytest.mark.usefixtures("packaged_model")
def test_command_blocks_run(in_a_fresh_folder: Path, capsys) -> None:
    for block in _blocks("sh"):
        for line in block.splitlines():
            argv = shlex.split(line, comments=True)
            if not argv:
                continue
            assert argv[0] == "rag", f"unexpected command in README: {line}"
            assert main(argv[1:]) == 0, f"README command failed: {line}\n{capsys.readouterr().err}"
    out = capsys.readouterr().out
    assert "In response, China is launching a new state-backed investment fund" in out
    assert "The sources do not answer this question." in out
