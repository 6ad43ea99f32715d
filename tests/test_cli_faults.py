"""The `rag` command run as a user runs it (a subprocess): hostile names, bytes and faults give one line on
stderr and exit status 1, never a traceback; odd file names never abort a build nor reach the terminal raw."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rag import build_index
from tests.fakes import FakeEmbedder

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus" / "seed-article.md"


def rag(*argv: str | bytes, stdin: bytes = b"", cwd: Path = ROOT) -> subprocess.CompletedProcess[bytes]:
    """Run ``rag`` in a fresh interpreter (arguments may be bytes, as a shell passes them)."""
    command = [
        sys.executable.encode(),
        b"-m",
        b"rag.cli.main",
        *(a if isinstance(a, bytes) else a.encode() for a in argv),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAG_INDEX": ""}
    return subprocess.run(command, input=stdin, capture_output=True, cwd=cwd, env=env, timeout=300, check=False)


def assert_one_line_error(completed: subprocess.CompletedProcess[bytes], *words: str) -> str:
    err = completed.stderr.decode("utf-8", "replace")
    assert completed.returncode == 1, err
    assert err.startswith("rag: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    for word in words:
        assert word in err, err
    return err


@pytest.fixture(scope="module")
def fake_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index built with the fake embedder: commands that fail before encoding need no model."""
    folder = tmp_path_factory.mktemp("cli-faults")
    (folder / "corpus").mkdir()
    shutil.copy(SEED, folder / "corpus" / "seed-article.md")
    (folder / "corpus" / "tea.txt").write_text("The tea harvest began early this year.\n", encoding="utf-8")
    return build_index(folder / "corpus", folder / "index", embedder=FakeEmbedder()).path


def test_a_question_that_is_not_utf8_is_one_line(fake_index: Path) -> None:
    assert_one_line_error(rag("ask", b"caf\xe9 chip fund?", "--index", str(fake_index)), "not valid text")


def test_lookup_stdin_that_is_not_utf8_is_one_line(fake_index: Path) -> None:
    completed = rag("lookup", "-", "--index", str(fake_index), stdin=b"The chip fund \xff\xfe raised money.")
    assert_one_line_error(completed, "not valid UTF-8")


def test_index_pointing_at_a_file_is_one_line(tmp_path: Path, fake_index: Path) -> None:
    file = tmp_path / "a-file"
    file.write_text("x", encoding="utf-8")
    for argv in (("ask", "chip fund"), ("info",), ("index", str(fake_index.parent / "corpus"))):
        assert_one_line_error(rag(*argv, "--index", str(file)))
    assert file.read_text(encoding="utf-8") == "x"


def test_adding_a_file_already_in_the_corpus_is_one_line(fake_index: Path) -> None:
    corpus = fake_index.parent / "corpus"
    completed = rag("add", str(corpus / "tea.txt"), "--index", str(fake_index))
    assert_one_line_error(completed, "already in the corpus")


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("notes.json", b'{"a": 1}', ("notes.json", "unsupported file type .json")),
        ("empty.txt", b"", ("empty.txt", "empty")),
        ("image.txt", bytes(range(256)) * 8, ("image.txt", "binary")),
        ("fake.pdf", b"just text", ("fake.pdf", "not a PDF file")),
    ],
)
def test_adding_a_file_indexing_would_skip_is_refused_before_the_corpus_is_touched(
    tmp_path: Path, fake_index: Path, name: str, content: bytes, words: tuple[str, ...]
) -> None:
    # Before, such a file was copied into the corpus, skipped by the build, and `rag add` exited 0.
    corpus = fake_index.parent / "corpus"
    before = sorted(p.name for p in corpus.rglob("*"))
    source = tmp_path / name
    source.write_bytes(content)
    assert_one_line_error(rag("add", str(source), "--index", str(fake_index)), *words)
    assert sorted(p.name for p in corpus.rglob("*")) == before


def test_adding_a_folder_says_it_is_a_folder(tmp_path: Path, fake_index: Path) -> None:
    (tmp_path / "drafts").mkdir()
    assert_one_line_error(rag("add", str(tmp_path / "drafts"), "--index", str(fake_index)), "is a folder")


def test_eval_with_a_number_for_an_answer_is_one_line(tmp_path: Path, fake_index: Path) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"question": "How big is the fund?", "answer": 40}\n', encoding="utf-8")
    assert_one_line_error(rag("eval", str(questions), "--index", str(fake_index)), "q.jsonl:1", '"answer"')
    squad = tmp_path / "q.json"
    squad.write_text(json.dumps({"data": [{"paragraphs": [{"qas": [{"question": 7}]}]}]}), encoding="utf-8")
    assert_one_line_error(rag("eval", str(squad), "--index", str(fake_index)), "SQuAD")


def test_a_closed_output_pipe_ends_quietly(fake_index: Path) -> None:
    reader, writer = os.pipe()
    os.close(reader)  # like `| head -c1` after its byte: every write fails with EPIPE
    command = [sys.executable, "-m", "rag.cli.main", "info", "--json", "--index", str(fake_index)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    completed = subprocess.run(command, stdout=writer, stderr=subprocess.PIPE, env=env, timeout=120, check=False)
    os.close(writer)
    # The reader went away on purpose (`| head`): no message, and the status a shell gives SIGPIPE.
    assert completed.stderr == b"" and completed.returncode == 141


def test_odd_file_names_never_abort_the_build_and_never_reach_the_terminal_raw(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus / "seed-article.md")
    os.mkdir(os.fsencode(corpus) + b"/dossier-\xe9t\xe9")
    for name in (b"notes.t\nxt", b"caf\xe9.txt", b"dossier-\xe9t\xe9/inside.txt", b"fake\nIndexed 999 documents.txt"):
        with open(os.fsencode(corpus) + b"/" + name, "wb") as handle:
            handle.write(b"Tea prices rose in the spring of this year.\n")
    with open(os.fsencode(corpus) + b"/\x1b[2Jclear.txt", "wb") as handle:
        handle.write(b"Rice prices fell in the autumn of this year.\n")
    completed = rag("index", str(corpus), "--index", str(tmp_path / "index"))
    out, err = completed.stdout.decode(), completed.stderr.decode()
    assert completed.returncode == 0, err
    assert "\x1b" not in out and "\udce9" not in out
    assert "skipped notes.t\\nxt: unsupported file type .t\\nxt" in out
    assert "skipped caf\\xe9.txt: its name is not valid UTF-8" in out
    assert "skipped dossier-\\xe9t\\xe9: its name is not valid UTF-8" in out
    assert "added fake\\nIndexed 999 documents.txt" in out and "added \\x1b[2Jclear.txt" in out
    assert [line for line in out.splitlines() if line.startswith("Indexed ")][0].startswith("Indexed 3 documents")
    as_json = rag("index", str(corpus), "--index", str(tmp_path / "index"), "--json")
    assert as_json.returncode == 0 and json.loads(as_json.stdout)["documents"] == 3
