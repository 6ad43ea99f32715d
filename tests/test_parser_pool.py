"""The parser pool: PDF and DOCX files are parsed by a few long-lived sandboxed processes, not one each.

A child that times out or crashes is replaced and only its file is skipped; reading shows a
bar on a terminal and at most one line elsewhere.
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest

from rag.ingest import load_corpus, load_documents, worker
from tests.test_ingest import make_docx, make_pdf

# The real entry point, with an extraction that hangs on a file saying SLOW and dies on one saying CRASH.
_MISBEHAVING = (
    "import os, time, rag.ingest.office as o, rag.ingest.worker as w; real = o._extract_pdf\n"
    "def extract(data):\n"
    "    if b'SLOW' in data: time.sleep(60)\n"
    "    if b'CRASH' in data: os._exit(7)\n"
    "    return real(data)\n"
    "o._extract_pdf = extract; w._worker_main()"
)


def _corpus(folder: Path, count: int, special: dict[int, str] | None = None) -> Path:
    folder.mkdir()
    for number in range(count):
        word = (special or {}).get(number, "Fine")
        (folder / f"p{number:02d}.pdf").write_bytes(make_pdf([[f"{word} page number {number}."]]))
    return folder


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every process started (subprocess.run starts its process through Popen too)."""
    commands: list[list[str]] = []
    popen = subprocess.Popen

    class Counting(popen):  # type: ignore[misc, valid-type]
        def __init__(self, args, *rest, **options):
            commands.append(list(args))
            super().__init__(args, *rest, **options)

    monkeypatch.setattr(subprocess, "Popen", Counting)
    return commands


def test_many_pdfs_are_parsed_by_at_most_one_process_per_worker(tmp_path: Path, started: list[list[str]]) -> None:
    corpus = _corpus(tmp_path / "corpus", 12)
    (corpus / "memo.docx").write_bytes(make_docx(["A memo paragraph."], title="Memo"))
    documents, skipped = load_corpus(corpus)
    assert skipped == []
    assert documents[0].doc_id == "memo.docx" and documents[0].text == "A memo paragraph."
    assert [d.text for d in documents[1:]] == [f"Fine page number {n}." for n in range(12)]
    assert 1 <= len(started) <= worker.parser_processes(), f"{len(started)} processes for 13 files"


def test_a_worker_is_replaced_after_a_timeout_or_a_crash_and_only_its_file_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker, "_WORKER_COMMAND", _MISBEHAVING)
    monkeypatch.setattr(worker, "PARSER_TIMEOUT_SECONDS", 3.0)
    corpus = _corpus(tmp_path / "corpus", 8, {2: "SLOW", 5: "CRASH"})
    documents, skipped = load_corpus(corpus)
    assert {s.path: s.reason for s in skipped} == {
        "p02.pdf": "PDF parsing timed out after 3 s",
        "p05.pdf": "PDF parser crashed (exit code 7)",
    }
    assert [d.doc_id for d in documents] == [f"p{n:02d}.pdf" for n in (0, 1, 3, 4, 6, 7)]
    assert all(d.text.startswith("Fine page number") for d in documents)


def test_a_worker_out_of_memory_is_retired_and_the_next_file_is_read(tmp_path: Path, monkeypatch) -> None:
    command = (
        "import rag.ingest.office as o, rag.ingest.worker as w; w.PARSER_MEMORY_BYTES = 200_000_000\n"
        "real = o._extract_pdf\n"
        "o._extract_pdf = lambda data: ([str(bytearray(10**9))], '', '') if b'HUGE' in data else real(data)\n"
        "w._worker_main()"
    )
    monkeypatch.setattr(worker, "_WORKER_COMMAND", command)
    monkeypatch.setattr(worker, "parser_processes", lambda: 1)  # the same child would get the next file
    corpus = _corpus(tmp_path / "corpus", 3, {1: "HUGE"})
    documents, skipped = load_corpus(corpus)
    assert [(s.path, s.reason) for s in skipped] == [("p01.pdf", "PDF parsing ran out of memory (limit 0.2 GB)")]
    assert [d.doc_id for d in documents] == ["p00.pdf", "p02.pdf"]


def test_no_parser_process_outlives_the_load(tmp_path: Path, started: list[list[str]]) -> None:
    load_corpus(_corpus(tmp_path / "corpus", 4))
    assert worker._pool is None


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_reading_shows_a_bar_on_a_terminal_and_one_line_elsewhere(tmp_path: Path, monkeypatch) -> None:
    corpus = _corpus(tmp_path / "corpus", 3)
    paths = sorted(corpus.iterdir())
    redirected = io.StringIO()
    monkeypatch.setattr("sys.stderr", redirected)
    load_documents(corpus, paths, progress=True)
    assert redirected.getvalue() == "Reading 3 files\n"
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    load_documents(corpus, paths, progress=True)
    assert "Reading" in terminal.getvalue() and "3/3" in terminal.getvalue() and "\r" in terminal.getvalue()
