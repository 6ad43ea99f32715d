"""The command line warns when a cited document changed on disk since it was indexed (issue 20, item 6):
its citation's characters may now hold other text. `rag info --verify` lists every such file."""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

import pytest

import rag.ingest.files
from rag import build_index
from rag.cli.main import main
from tests.fakes import FakeEmbedder

ALPHA = "The harbour of Rivertown reopened in May. The repairs cost 40 million dollars.\n"
BETA = "Tea farmers in Yunnan picked leaves in March. The harvest came early this year.\n"
QUESTION = "How much did the harbour repairs cost?"
WARNING = "rag: warning: alpha.txt changed on disk since indexed"


@pytest.fixture()
def index_dir(tmp_path: Path, monkeypatch) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    an_hour_ago = time.time() - 3600
    for name, text in (("alpha.txt", ALPHA), ("beta.txt", BETA)):
        (corpus / name).write_text(text, encoding="utf-8")
        os.utime(corpus / name, (an_hour_ago, an_hour_ago))
    build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    monkeypatch.setattr("rag.pipeline.embedder_for", lambda config: FakeEmbedder())
    return tmp_path / "index"


def edit_alpha(index_dir: Path) -> None:
    (index_dir.parent / "corpus" / "alpha.txt").write_text(
        "Other text now. The harbour story moved elsewhere; nothing here is about its cost.\n", encoding="utf-8"
    )


def warnings(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("rag: warning")]


def test_ask_warns_in_one_line_when_a_cited_document_changed(index_dir: Path, capsys) -> None:
    assert main(["ask", QUESTION, "--index", str(index_dir)]) == 0
    assert warnings(capsys) == []
    edit_alpha(index_dir)
    assert main(["ask", QUESTION, "--index", str(index_dir)]) == 0
    [line] = warnings(capsys)
    assert line.startswith(WARNING) and "beta.txt" not in line


def test_ask_json_warns_on_stderr_and_keeps_stdout_json(index_dir: Path, capsys) -> None:
    edit_alpha(index_dir)
    assert main(["ask", QUESTION, "--index", str(index_dir), "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["citations"][0]["doc_id"] == "alpha.txt"
    assert captured.err.startswith(WARNING)


def test_lookup_warns_too(index_dir: Path, capsys) -> None:
    edit_alpha(index_dir)
    assert main(["lookup", "The repairs cost 40 million dollars.", "--index", str(index_dir)]) == 0
    [line] = warnings(capsys)
    assert line.startswith(WARNING)


def test_chat_warns_after_the_answer(index_dir: Path, capsys, monkeypatch) -> None:
    edit_alpha(index_dir)
    monkeypatch.setattr("sys.stdin", io.StringIO(QUESTION + "\n"))
    assert main(["chat", "--index", str(index_dir)]) == 0
    [line] = warnings(capsys)
    assert line.startswith(WARNING)


def test_a_deleted_document_is_named_as_deleted(index_dir: Path, capsys) -> None:
    (index_dir.parent / "corpus" / "alpha.txt").unlink()
    assert main(["ask", QUESTION, "--index", str(index_dir)]) == 0
    [line] = warnings(capsys)
    assert line.startswith("rag: warning: alpha.txt (deleted) changed on disk")


def test_the_check_trusts_an_unchanged_stat_and_reads_no_file(index_dir: Path, monkeypatch) -> None:
    from rag import load_index

    index = load_index(index_dir)
    # The files were written just before the build read them (ctime), so their stat is "racy" and
    # they would be hashed for that reason alone; taken as settled, only their stat is read.
    monkeypatch.setattr(rag.ingest.files, "RACY_SECONDS", 0.0)
    monkeypatch.setattr(rag.ingest.files, "file_sha256", lambda *a, **k: pytest.fail("an unchanged file was hashed"))
    assert index.corpus_changes(["alpha.txt", "beta.txt", "not-indexed.txt"]) == {
        "changed": [], "deleted": [], "new": [],
    }  # fmt: skip


def test_info_verify_lists_changed_deleted_and_new_files(index_dir: Path, capsys) -> None:
    corpus = index_dir.parent / "corpus"
    assert main(["info", "--verify", "--index", str(index_dir)]) == 0
    assert "corpus:     every indexed file is as it was indexed; no new files" in capsys.readouterr().out
    edit_alpha(index_dir)
    (corpus / "beta.txt").unlink()
    (corpus / "gamma.txt").write_text("Rice farmers planted a new variety.\n", encoding="utf-8")
    assert main(["info", "--verify", "--index", str(index_dir)]) == 0
    out = capsys.readouterr().out
    assert "corpus:     3 files not as indexed (rag index updates the index):" in out
    assert out.splitlines()[-3:] == ["  changed  alpha.txt", "  deleted  beta.txt", "  new      gamma.txt"]
    assert main(["info", "--verify", "--json", "--index", str(index_dir)]) == 0
    changes = json.loads(capsys.readouterr().out)["corpus_changes"]
    assert changes == {"changed": ["alpha.txt"], "deleted": ["beta.txt"], "new": ["gamma.txt"]}
