"""The conventions of a Python CLI: python -m rag, py.typed, completion, a settings file, -q, a quiet
closed pipe, help with examples, a note before the encoder's one-time export, and progress that
stays out of a redirected log."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag.cli import main as cli
from rag.cli.main import main

ROOT = Path(__file__).resolve().parent.parent


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _python(*argv: str, cwd: Path = ROOT, stdout: int | None = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAG_INDEX": ""}
    return subprocess.run(
        [sys.executable, *argv], cwd=cwd, env=env, stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=120
    )


def test_python_dash_m_rag_runs_the_command() -> None:
    completed = _python("-m", "rag", "--version")
    assert completed.returncode == 0 and completed.stdout.startswith("rag "), completed.stderr


def test_the_package_says_it_is_typed() -> None:
    assert (ROOT / "rag" / "py.typed").is_file()
    assert 'rag = ["py.typed"]' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")  # shipped in the wheel


def _complete(script: str, *words: str) -> list[str]:
    """What bash offers after ``words`` (the last one being completed) with ``script`` loaded."""
    call = f'COMP_WORDS=({" ".join(words)}); COMP_CWORD={len(words) - 1}; _rag_complete; echo "${{COMPREPLY[@]}}"'
    shell = f"{script}\n{call}"
    completed = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=30, check=True)
    return completed.stdout.split()


def test_bash_completion_offers_commands_options_and_shells(capsys) -> None:
    code, script, _ = run(capsys, "completion", "bash")
    assert code == 0 and "complete -o filenames -o bashdefault -F _rag_complete rag" in script
    assert _complete(script, "rag", "as") == ["ask"]
    assert _complete(script, "rag", "index", "--thr") == ["--threshold"]
    assert _complete(script, "rag", "lookup", "-") >= ["--doc"]
    assert _complete(script, "rag", "completion", "z") == ["zsh"]
    code, zsh, _ = run(capsys, "completion", "zsh")
    assert code == 0 and "bashcompinit" in zsh and zsh.endswith(script)


def test_help_of_ask_and_lookup_shows_examples(capsys) -> None:
    for command, example in (("ask", 'rag ask "How big is the chip fund?"'), ("lookup", "rag lookup - < draft.txt")):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        out = capsys.readouterr().out
        assert "examples:" in out and example in out


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed_corpus: Path) -> Path:
    """An empty working folder holding a copy of the seed corpus as docs/, and an empty user config."""
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "docs").symlink_to(seed_corpus, target_is_directory=True)
    monkeypatch.chdir(folder)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("RAG_INDEX", raising=False)
    return folder


@pytest.mark.usefixtures("packaged_model")
def test_a_settings_file_gives_corpus_index_k_and_threshold(capsys, workdir: Path) -> None:
    (workdir / "rag.toml").write_text('corpus = "docs"\nindex = "idx"\nk = 1\nthreshold = 0.35\n', encoding="utf-8")
    code, out, err = run(capsys, "index", "-q")
    assert code == 0 and err == "", err
    assert (workdir / "idx" / "manifest.json").is_file() and "Indexed 1 document" in out
    code, out, _ = run(capsys, "info", "--json")
    assert code == 0 and '"threshold": 0.35' in out
    code, out, _ = run(capsys, "ask", "How much money does the chip fund aim to raise?", "--json")
    assert code == 0 and '"threshold": 0.35' in out and out.count('"doc_id"') >= 1
    code, out, _ = run(capsys, "index", "--threshold", "0.5", "-q")  # an option wins over the file
    code, out, _ = run(capsys, "info")
    assert "threshold 0.5" in out


def test_pyproject_tool_rag_and_the_user_config_are_read_and_the_folder_wins(capsys, workdir: Path, tmp_path) -> None:
    user = tmp_path / "config" / "rag"
    user.mkdir(parents=True)
    (user / "rag.toml").write_text('index = "from-user"\nk = 2\n', encoding="utf-8")
    assert cli._parser(cli.load_settings()).parse_args(["ask", "q"]).index == "from-user"
    (workdir / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.rag]\nindex = "from-project"\n')
    args = cli._parser(cli.load_settings()).parse_args(["ask", "q"])
    assert (args.index, args.k) == ("from-project", 2)
    assert cli._parser(cli.load_settings()).parse_args(["ask", "q", "--index", "given", "-k", "4"]).k == 4


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("kk = 1\n", "unknown setting 'kk'"),
        ('k = "three"\n', "k must be a whole number"),
        ("k = [\n", "cannot read the settings file"),
    ],
)
def test_a_bad_settings_file_is_one_line(capsys, workdir: Path, content: str, message: str) -> None:
    (workdir / "rag.toml").write_text(content, encoding="utf-8")
    code, out, err = run(capsys, "info")
    assert code == 1 and out == "" and err.startswith("rag: error: ") and err.count("\n") == 1 and message in err


@pytest.mark.usefixtures("packaged_model")
def test_the_first_build_says_it_prepares_the_encoder_unless_quiet(capsys, monkeypatch, tmp_path: Path) -> None:
    import rag.encoder.export_onnx

    assert (
        rag.encoder.export_onnx.export_ready(rag.encoder.export_onnx.default_model_path(), cache_dir=tmp_path) is False
    )
    monkeypatch.setattr(rag.encoder.export_onnx, "export_ready", lambda source, cache_dir=None: False)
    args = cli._parser().parse_args(["index", "corpus"])
    cli._announce_encoder(args, cli.Config())
    assert capsys.readouterr().err == "rag: preparing the encoder once (about 20 s)\n"
    cli._announce_encoder(cli._parser().parse_args(["index", "corpus", "-q"]), cli.Config())
    assert capsys.readouterr().err == ""


@pytest.mark.usefixtures("packaged_model")
def test_a_redirected_build_writes_a_line_per_phase_and_no_bar_frames(capsys, seed_corpus: Path, tmp_path) -> None:
    code, _, err = run(capsys, "index", str(seed_corpus), "--index", str(tmp_path / "idx"))
    assert code == 0
    assert "\r" not in err
    phases = ["Reading 1 file", "Embedding 22 texts"]
    assert err.splitlines() in (phases, ["rag: preparing the encoder once (about 20 s)", *phases])


def test_a_closed_output_pipe_ends_quietly(real_index) -> None:
    reader, writer = os.pipe()
    os.close(reader)  # like `| head -c1` after its byte: every write fails with EPIPE
    completed = _python("-m", "rag", "ask", "chip fund", "--index", str(real_index.path), stdout=writer)
    os.close(writer)
    assert completed.stderr == "" and completed.returncode == 141
