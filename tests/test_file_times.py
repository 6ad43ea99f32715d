"""Any file time a filesystem holds indexes (issue 20, item 3): after 2262 a time in nanoseconds
no longer fits SQLite's integers, and before 1970 it is negative, which must still date a file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import rag.index.update
from rag import Index, build_index, load_index
from rag.cli.main import main
from rag.ingest import load_documents, unchanged_since
from tests.fakes import FakeEmbedder

NOTE = "The harbour note is short. It has no date of its own.\n"
TEA = "The tea harvest in Yunnan began early this year. Farmers picked leaves in March.\n"
YEAR_2300 = 10_413_792_000 * 10**9  # 2300-01-01 UTC in nanoseconds: past 2**63
YEAR_1931 = -1_220_400_000 * 10**9  # 1931-05-01 UTC


def dated(path: Path, text: str, mtime_ns: int) -> Path:
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(mtime_ns, mtime_ns))
    if os.stat(path).st_mtime_ns != mtime_ns:
        pytest.skip("this filesystem cannot hold that file time")
    return path


def test_a_file_dated_after_2262_is_indexed_and_then_kept_unread(tea_corpus: Path, tmp_path: Path, monkeypatch) -> None:
    dated(tea_corpus / "future.txt", NOTE, YEAR_2300)
    index = build_index(tea_corpus, tmp_path / "index", embedder=FakeEmbedder())
    assert index.document("future.txt").text.strip() == NOTE.strip()
    read: list[str] = []
    real = rag.index.update.load_documents
    monkeypatch.setattr(
        rag.index.update,
        "load_documents",
        lambda root, paths, **kw: read.extend(p.name for p in paths) or real(root, paths, **kw),
    )
    again = build_index(tea_corpus, tmp_path / "index", embedder=FakeEmbedder())
    assert read == [] and again.build_report.updated == ()


def test_adding_a_file_dated_after_2262(fake_index: Index, tea_corpus: Path, tmp_path: Path) -> None:
    index = fake_index
    future = dated(tmp_path / "future.txt", NOTE, YEAR_2300)
    updated = index.add_files([future])
    assert updated.build_report.added == ("future.txt",)
    assert os.stat(tea_corpus / "future.txt").st_mtime_ns == YEAR_2300


def test_the_stored_version_of_a_far_future_file_still_matches_it(tmp_path: Path) -> None:
    path = dated(tmp_path / "future.txt", NOTE, YEAR_2300)
    [(_, version)], _ = load_documents(tmp_path, [path])
    assert version.mtime_ns == 2**63 - 1  # clamped to what SQLite holds
    assert unchanged_since(path, version, root=tmp_path)
    dated(path, NOTE.replace("short", "brief"), YEAR_2300)
    assert not unchanged_since(path, version, root=tmp_path)


def test_a_file_dated_before_1970_is_found_by_date(tea_corpus: Path, tmp_path: Path) -> None:
    dated(tea_corpus / "old.txt", NOTE, YEAR_1931)
    index = build_index(tea_corpus, tmp_path / "index", embedder=FakeEmbedder())
    answer = index.ask("What is the harbour note?", where={"until": "1931"})
    assert {c.doc_id for c in (*answer.citations, *answer.candidates)} == {"old.txt"}
    answer = index.ask("What is the harbour note?", where={"since": "1931-05-01", "until": "1931-05-01"})
    assert {c.doc_id for c in (*answer.citations, *answer.candidates)} == {"old.txt"}


def test_rag_index_and_add_with_a_far_future_file_on_the_command_line(
    tea_corpus: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.setattr("rag.pipeline.embedder_for", lambda config: FakeEmbedder())
    dated(tea_corpus / "future.txt", NOTE, YEAR_2300)
    assert main(["index", str(tea_corpus), "--index", str(tmp_path / "index")]) == 0
    other = dated(tmp_path / "later.txt", TEA.replace("tea", "rice"), YEAR_2300)
    assert main(["add", str(other), "--index", str(tmp_path / "index")]) == 0
    assert "Traceback" not in capsys.readouterr().err
    assert {d["doc_id"] for d in load_index(tmp_path / "index").documents()} == {"future.txt", "later.txt", "tea.txt"}
