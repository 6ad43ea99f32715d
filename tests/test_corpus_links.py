"""rag never reads a file outside the corpus, even when a link is swapped in after the scan.

The scan refuses links that leave the corpus; these tests replace a file, or a folder on its
path, by such a link between the scan and the read (the attack of issue 20, item 1), in every
reader: a build, an update, ``add_files``, uploads, the hash that tells an unchanged file, and
the Ray parse task.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import rag.index.update
import rag.pipeline
from rag import build_index
from rag.cluster.build import parse_batch
from rag.config import Config
from rag.corpus import CorpusMoves
from rag.errors import RagError
from rag.ingest import IN_PROCESS_MAX_BYTES, file_sha256, load_documents, scan_corpus, unchanged_since
from tests.fakes import FakeEmbedder
from tests.helpers import assert_offsets

ROOT = Path(__file__).resolve().parent.parent
SECRET = "The launch codes are kept in the blue folder. Nobody outside the team may read them.\n"
TEA = "The tea harvest in Yunnan began early this year. Farmers picked leaves in March.\n"
RICE = "Rice farmers in Hunan planted a new variety. The yield rose by a tenth.\n"


@pytest.fixture()
def outside(tmp_path: Path) -> Path:
    """A folder beside the corpus holding a secret under the names the corpus uses."""
    folder = tmp_path / "outside"
    (folder / "news").mkdir(parents=True)
    for name in ("tea.txt", "rice.txt", "big.txt", "news/tea.txt"):
        (folder / name).write_text(SECRET * (4000 if name == "big.txt" else 1), encoding="utf-8")
    return folder


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    (folder / "news").mkdir(parents=True)
    (folder / "keep.md").write_text("# Kept\n\nThe kept note stays where it is.\n", encoding="utf-8")
    (folder / "tea.txt").write_text(TEA, encoding="utf-8")
    (folder / "rice.txt").write_text(RICE, encoding="utf-8")
    (folder / "news" / "tea.txt").write_text(TEA, encoding="utf-8")
    # Larger than what is read in process: its bytes go to the parser child, read by the parent first.
    (folder / "big.txt").write_text(RICE * (IN_PROCESS_MAX_BYTES // len(RICE) + 10), encoding="utf-8")
    return folder


def swap_files_for_links(corpus: Path, outside: Path) -> None:
    """Replace each top-level file by a link to the outside file of the same name, as the attack does."""
    for name in ("tea.txt", "rice.txt", "big.txt"):
        (corpus / name).unlink()
        (corpus / name).symlink_to(outside / name)


def swap_folder_for_link(corpus: Path, outside: Path) -> None:
    """Move ``news/`` away and put a link to an outside folder in its place."""
    (corpus / "news").rename(corpus.parent / "news-moved")
    (corpus / "news").symlink_to(outside / "news", target_is_directory=True)


def scan_then(monkeypatch, swap) -> None:
    """Make every build scan the corpus, then let ``swap`` change it before anything is read."""
    real = rag.index.update.scan_corpus

    def scanned(root: Path):
        found = real(root)
        swap()
        return found

    monkeypatch.setattr(rag.index.update, "scan_corpus", scanned)


def indexed_text(index) -> str:
    return "\n".join(index.document(d["doc_id"]).text for d in index.documents())


def test_files_swapped_for_links_after_the_scan_are_not_read(corpus, outside, tmp_path, monkeypatch) -> None:
    scan_then(monkeypatch, lambda: swap_files_for_links(corpus, outside))
    index = build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    assert "launch codes" not in indexed_text(index)
    assert [d["doc_id"] for d in index.documents()] == ["keep.md", "news/tea.txt"]
    reasons = {s.path: s.reason for s in index.build_report.skipped}
    assert reasons == dict.fromkeys(
        ["big.txt", "rice.txt", "tea.txt"], "symlink points outside the corpus folder (not read)"
    )
    assert index.lookup("The launch codes are kept in the blue folder.")[0].kind == "unsupported"


def test_a_folder_swapped_for_a_link_after_the_scan_is_not_read(corpus, outside, tmp_path, monkeypatch) -> None:
    scan_then(monkeypatch, lambda: swap_folder_for_link(corpus, outside))
    index = build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    assert "launch codes" not in indexed_text(index)
    reasons = {s.path: s.reason for s in index.build_report.skipped}
    assert "outside the corpus folder" in reasons["news/tea.txt"]
    for document in index.documents():
        assert_offsets(index.document(document["doc_id"]).text, index.sentences(document["doc_id"]))


def test_an_update_does_not_read_links_swapped_in_after_its_scan(corpus, outside, tmp_path, monkeypatch) -> None:
    build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    for name in ("tea.txt", "rice.txt", "big.txt"):  # changed, so the update reads them again
        with open(corpus / name, "a", encoding="utf-8") as handle:
            handle.write("A later paragraph was added.\n")
    scan_then(monkeypatch, lambda: (swap_files_for_links(corpus, outside), swap_folder_for_link(corpus, outside)))
    index = build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    assert "launch codes" not in indexed_text(index)
    assert [d["doc_id"] for d in index.documents()] == ["keep.md"]


def test_links_inside_the_corpus_are_still_read(corpus, tmp_path) -> None:
    (corpus / "alias.txt").symlink_to(corpus / "tea.txt")
    index = build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    assert index.document("alias.txt").text == index.document("tea.txt").text


def test_loading_refuses_what_lies_outside_whatever_the_scan_saw(corpus, outside) -> None:
    """The readers' own check: given a list of paths, each is checked when it is opened."""
    paths, _ = scan_corpus(corpus)
    swap_files_for_links(corpus, outside)
    swap_folder_for_link(corpus, outside)
    loaded, skipped = load_documents(corpus, paths)
    assert [document.doc_id for document, _ in loaded] == ["keep.md"]
    assert {s.path for s in skipped} == {"big.txt", "rice.txt", "tea.txt", "news/tea.txt"}


def test_the_ray_parse_task_refuses_links_swapped_in(corpus, outside) -> None:
    paths, _ = scan_corpus(corpus)
    swap_files_for_links(corpus, outside)
    summary, parsed = parse_batch(str(corpus), [str(p) for p in paths], Config())
    assert [d.doc_id for d in parsed.documents] == ["keep.md", "news/tea.txt"]
    assert "launch codes" not in " ".join(d.text for d in parsed.documents)
    assert {s.path for s in summary.skipped} == {"big.txt", "rice.txt", "tea.txt"}


def test_hashing_a_file_swapped_for_a_link_refuses_it(corpus, outside) -> None:
    [(document, version)], _ = load_documents(corpus, [corpus / "tea.txt"])
    shutil.copy(corpus / "tea.txt", outside / "tea.txt")  # the same bytes, outside
    (corpus / "tea.txt").unlink()
    (corpus / "tea.txt").symlink_to(outside / "tea.txt")
    assert file_sha256(corpus / "tea.txt", root=corpus) == ""
    assert not unchanged_since(corpus / "tea.txt", version, root=corpus)


def test_adding_into_a_folder_swapped_for_a_link_writes_nothing_outside(corpus, outside, tmp_path) -> None:
    source = tmp_path / "new.txt"
    source.write_text(RICE, encoding="utf-8")
    before = sorted(p.name for p in (outside / "news").iterdir())
    swap_folder_for_link(corpus, outside)
    moves = CorpusMoves(corpus)
    with pytest.raises(OSError):
        moves.copy_in(source, corpus / "news" / "new.txt")
    moves.undo()
    assert sorted(p.name for p in (outside / "news").iterdir()) == before


def test_an_add_raced_by_a_folder_swap_is_refused_and_undone(corpus, outside, tmp_path, monkeypatch) -> None:
    """add_files checks the folder, then a link is swapped in before the copy: the add fails, nothing moves."""
    index = build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    source = tmp_path / "tea.txt"
    source.write_text(RICE, encoding="utf-8")
    outside_before = {p.name: p.read_bytes() for p in (outside / "news").iterdir()}
    real = rag.pipeline.corpus_targets

    def checked_then_swapped(*args, **kwargs):
        targets = real(*args, **kwargs)
        swap_folder_for_link(corpus, outside)
        return targets

    monkeypatch.setattr(rag.pipeline, "corpus_targets", checked_then_swapped)
    with pytest.raises(RagError, match="cannot change the corpus"):
        index.add_files([source], folder="news")
    assert {p.name: p.read_bytes() for p in (outside / "news").iterdir()} == outside_before
    assert not (corpus / ".rag-removed").exists() or not any((corpus / ".rag-removed").rglob("*.txt"))


def test_a_removal_raced_by_a_folder_swap_moves_nothing_from_outside(corpus, outside, tmp_path, monkeypatch) -> None:
    index = build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    real = index.document

    def looked_up_then_swapped(doc_id):
        document = real(doc_id)
        swap_folder_for_link(corpus, outside)
        return document

    monkeypatch.setattr(index, "document", looked_up_then_swapped)
    with pytest.raises(RagError, match="cannot change the corpus"):
        index.remove(["news/tea.txt"])
    assert (outside / "news" / "tea.txt").read_text(encoding="utf-8") == SECRET, "the outside file stays put"
    assert (corpus.parent / "news-moved" / "tea.txt").read_text(encoding="utf-8") == TEA


KILLED_MID_COPY = """
import os, shutil, signal, sys
from pathlib import Path
import rag.corpus

def killed(reader, writer, length=0):
    writer.write(reader.read(50))
    writer.flush()
    os.kill(os.getpid(), signal.SIGKILL)

shutil.copyfileobj = killed
rag.corpus.CorpusMoves(Path(sys.argv[1])).copy_in(Path(sys.argv[2]), Path(sys.argv[1]) / "new.txt")
"""


def test_a_copy_killed_mid_way_leaves_no_half_file_to_index(corpus, tmp_path) -> None:
    """kill -9 in the middle of add_files's copy: the copy has a hidden name until it is whole,
    so the next build indexes no half file, and the next add removes the leftover."""
    source = tmp_path / "new.txt"
    source.write_text(RICE * 100, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    died = subprocess.run([sys.executable, "-c", KILLED_MID_COPY, str(corpus), str(source)], env=env, check=False)
    assert died.returncode == -signal.SIGKILL
    assert not (corpus / "new.txt").exists()
    [left] = corpus.glob(".rag-adding-*.tmp")
    assert left.read_bytes() == source.read_bytes()[:50]
    paths, _ = scan_corpus(corpus)
    assert not any(p.name.startswith(".rag-adding") or p.name == "new.txt" for p in paths)
    CorpusMoves(corpus).copy_in(source, corpus / "new.txt")
    assert not left.exists()
    assert (corpus / "new.txt").read_bytes() == source.read_bytes()


def test_the_next_add_removes_what_a_killed_copy_left(corpus, tmp_path) -> None:
    left = corpus / ".rag-adding-0123456789abcdef0123456789abcdef.tmp"
    left.write_text("half a file", encoding="utf-8")
    mine = corpus / ".rag-adding-notes.tmp"  # not a name copy_in makes: the user's, kept
    mine.write_text("the user's own", encoding="utf-8")
    source = tmp_path / "new.txt"
    source.write_text(RICE, encoding="utf-8")
    CorpusMoves(corpus).copy_in(source, corpus / "new.txt")
    assert not left.exists() and mine.exists()
    assert (corpus / "new.txt").read_text(encoding="utf-8") == RICE


def test_adding_over_a_link_planted_at_the_target_writes_nothing_outside(corpus, outside, tmp_path) -> None:
    source = tmp_path / "new.txt"
    source.write_text(RICE, encoding="utf-8")
    (corpus / "new.txt").symlink_to(outside / "planted.txt")  # a dangling link: O_EXCL alone would follow it
    with pytest.raises(FileExistsError):
        CorpusMoves(corpus).copy_in(source, corpus / "new.txt")
    assert not (outside / "planted.txt").exists()


def test_add_files_copies_times_and_mode_of_the_file_given(corpus, tmp_path) -> None:
    source = tmp_path / "new.txt"
    source.write_text(RICE, encoding="utf-8")
    os.chmod(source, 0o640)
    os.utime(source, ns=(1_000_000_000, -2_000_000_000_000_000_000))  # 1906
    index = build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    index.add_files([source])
    copied = os.stat(corpus / "new.txt")
    assert (copied.st_mtime_ns, copied.st_mode & 0o777) == (-2_000_000_000_000_000_000, 0o640)


def test_an_upload_that_is_a_link_is_refused(tmp_path, outside) -> None:
    from rag.app.documents import stage_uploads

    upload = tmp_path / "upload.txt"
    upload.symlink_to(outside / "tea.txt")
    staged, refused = stage_uploads([upload], tmp_path / "staging")
    assert staged == []
    assert [name for name, _ in refused] == ["upload.txt"]
    assert not any("launch codes" in p.read_text() for p in (tmp_path / "staging").iterdir())
