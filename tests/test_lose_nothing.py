"""rag loses nothing of a user's: it writes only into its own index folder, deletes only what it wrote,
keeps every removed file, and a refused or failed change leaves the corpus and the index as they were."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

import rag.index.update
from rag import build_index, load_index
from rag.errors import (
    CorpusError,
    IndexLocationError,
    IndexLockedError,
    IndexWriteError,
    RagError,
)
from rag.index.files import write_lock
from rag.index.manifest import MARKER
from tests.fakes import FakeEmbedder

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus" / "seed-article.md"
TEA = "The tea harvest in Yunnan began early this year. Farmers picked leaves in March.\n"
RICE = "Rice farmers in Hunan planted a new variety. The yield rose by a tenth.\n"


def snapshot(folder: Path) -> dict[str, str]:
    """Every file and folder under ``folder`` with the sha256 of its bytes (folders as "dir")."""
    found = {}
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        found[name] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    (folder / "news").mkdir(parents=True)
    shutil.copy(SEED, folder / "seed-article.md")
    (folder / "news" / "tea.txt").write_text(TEA, encoding="utf-8")
    (folder / "news" / "rice.txt").write_text(RICE, encoding="utf-8")
    return folder


@pytest.fixture()
def index(corpus: Path, tmp_path: Path):
    return build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())


# --- 1. a folder rag did not create is never written into --------------------------------


def a_project_folder(tmp_path: Path) -> Path:
    project = tmp_path / "proj"
    (project / "gen-reports").mkdir(parents=True)
    (project / "gen-reports" / "q3.txt").write_text("quarterly numbers", encoding="utf-8")
    (project / "manifest.json").write_text(json.dumps({"name": "my project"}), encoding="utf-8")
    (project / ".manifest.json.draft.tmp").write_text("draft", encoding="utf-8")
    (project / "notes.txt").write_text("my notes", encoding="utf-8")
    return project


def test_a_folder_holding_other_data_is_refused_and_left_as_it_was(corpus: Path, tmp_path: Path) -> None:
    project = a_project_folder(tmp_path)
    before = snapshot(project)
    with pytest.raises(IndexLocationError, match="refusing to write an index into .*proj.*new or empty folder"):
        build_index(corpus, project, embedder=FakeEmbedder())
    assert snapshot(project) == before


def test_a_file_given_as_the_index_is_refused(corpus: Path, tmp_path: Path) -> None:
    file = tmp_path / "index.txt"
    file.write_text("not a folder", encoding="utf-8")
    with pytest.raises(IndexLocationError, match="is a file, not a folder"):
        build_index(corpus, file, embedder=FakeEmbedder())
    assert file.read_text(encoding="utf-8") == "not a folder"


def test_an_empty_or_new_folder_becomes_an_index_with_its_marker(corpus: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for folder in (tmp_path / "empty", tmp_path / "new" / "deeper"):
        index = build_index(corpus, folder, embedder=FakeEmbedder())
        assert (folder / MARKER).is_file() and index.info()["counts"]["documents"] == 3


def test_an_index_made_before_the_marker_is_still_updated(index, corpus: Path) -> None:
    (index.path / MARKER).unlink()  # what an index written by an earlier rag looks like
    (corpus / "news" / "rice.txt").unlink()
    updated = build_index(corpus, index.path, embedder=FakeEmbedder())
    assert updated.build_report.removed == ("news/rice.txt",) and (index.path / MARKER).is_file()


def test_only_what_rag_wrote_is_deleted_from_its_own_index_folder(index, corpus: Path) -> None:
    folder = index.path
    (folder / "gen-reports").mkdir()
    (folder / "gen-reports" / "q3.txt").write_text("mine", encoding="utf-8")
    (folder / "gen-20250101000000-abcdef12").mkdir()  # rag's name, but not a generation's content
    (folder / "gen-20250101000000-abcdef12" / "keep.txt").write_text("mine", encoding="utf-8")
    (folder / ".manifest.json.mine.tmp").write_text("mine", encoding="utf-8")
    leftover = folder / "gen-20250101000000-0123abcd.tmp" / "seg-0123456789ab"
    leftover.mkdir(parents=True)  # what an interrupted build leaves: rag's own, so it goes
    mine = {k: v for k, v in snapshot(folder).items() if "mine" in k or "reports" in k or "keep" in k}
    (corpus / "news" / "rice.txt").unlink()
    build_index(corpus, folder, embedder=FakeEmbedder())
    after = snapshot(folder)
    assert all(after.get(name) == digest for name, digest in mine.items())
    assert not leftover.parent.exists()


# --- 2. a corpus folder that has gone ------------------------------------------------------


def test_add_refuses_when_the_corpus_folder_has_moved(index, corpus: Path, tmp_path: Path) -> None:
    corpus.rename(tmp_path / "moved")
    new = tmp_path / "new.txt"
    new.write_text(RICE, encoding="utf-8")
    manifest = (index.path / "manifest.json").read_bytes()
    with pytest.raises(CorpusError, match=f"corpus folder of this index, {corpus}, is missing"):
        index.add_files([new])
    assert not corpus.exists(), "the corpus folder is not made anew"
    assert (index.path / "manifest.json").read_bytes() == manifest
    assert load_index(index.path, embedder=FakeEmbedder()).info()["counts"]["documents"] == 3
    with pytest.raises(CorpusError, match="is missing"):
        index.remove(["news/tea.txt"])
    with pytest.raises(CorpusError, match="does not exist"):
        build_index(corpus, index.path, embedder=FakeEmbedder())


# --- 3. removed files are kept, never overwritten ------------------------------------------


def test_removing_the_same_file_twice_in_one_second_keeps_both_versions(index, corpus: Path, tmp_path: Path) -> None:
    second = tmp_path / "tea.txt"
    second.write_text(TEA + "A second version of the tea report.\n", encoding="utf-8")
    index = index.remove(["news/tea.txt"])
    index = index.add_files([second], folder="news")
    index.remove(["news/tea.txt"])
    kept = sorted(p.read_text(encoding="utf-8") for p in (corpus / ".rag-removed").rglob("tea.txt"))
    assert kept == sorted([TEA, second.read_text(encoding="utf-8")])


def test_adding_over_an_existing_document_keeps_the_old_file(index, corpus: Path, tmp_path: Path) -> None:
    newer = tmp_path / "tea.txt"
    newer.write_text("The tea harvest was late after all. " + TEA, encoding="utf-8")
    updated = index.add_files([newer], folder="news")
    assert updated.build_report.updated == ("news/tea.txt",)
    assert [p.read_text(encoding="utf-8") for p in (corpus / ".rag-removed").rglob("tea.txt")] == [TEA]


@pytest.mark.parametrize("folder", [".drafts", ".rag-removed/20250101-000000", "news/.old", "../outside", "/tmp"])
def test_adding_into_a_hidden_or_outside_folder_is_refused(index, corpus: Path, tmp_path: Path, folder) -> None:
    new = tmp_path / "new.txt"
    new.write_text(RICE, encoding="utf-8")
    before = snapshot(corpus)
    with pytest.raises(RagError, match="cannot add into folder"):
        index.add_files([new], folder=folder)
    assert snapshot(corpus) == before


def test_adding_a_file_already_in_the_corpus_is_refused(index, corpus: Path) -> None:
    before = snapshot(corpus)
    with pytest.raises(RagError, match="already in the corpus .as news/tea.txt."):
        index.add_files([corpus / "news" / "tea.txt"], folder="news")
    assert snapshot(corpus) == before


# --- 4. a refused change touches nothing --------------------------------------------------


def test_a_refused_add_or_remove_leaves_the_corpus_as_it_was(index, corpus: Path, tmp_path: Path) -> None:
    new = tmp_path / "new.txt"
    new.write_text(RICE, encoding="utf-8")
    before = snapshot(corpus)
    with write_lock(index.path):  # another process is writing the index
        with pytest.raises(IndexLockedError):
            index.add_files([new], folder="extra")
        with pytest.raises(IndexLockedError):
            index.remove(["news/tea.txt"])
    assert snapshot(corpus) == before


def test_a_failed_update_puts_the_corpus_back(index, corpus: Path, tmp_path: Path, monkeypatch) -> None:
    new = tmp_path / "tea.txt"
    new.write_text(RICE, encoding="utf-8")
    before = snapshot(corpus)

    def explode(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(rag.index.update, "new_generation", explode)
    with pytest.raises(IndexWriteError, match="No space left"):
        index.add_files([new], folder="news")
    with pytest.raises(IndexWriteError, match="No space left"):
        index.remove(["news/rice.txt"])
    assert snapshot(corpus) == before


# --- 14. a read-only index folder ---------------------------------------------------------


def test_a_read_only_index_folder_refuses_the_build_in_one_line_and_still_answers(index, corpus: Path, monkeypatch):
    real_mkdir = Path.mkdir

    def read_only(self: Path, *args, **kwargs):
        if self.parent == index.path:
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", read_only)
    (corpus / "news" / "rice.txt").unlink()
    with pytest.raises(IndexWriteError, match="Read-only file system.*the previous index is unchanged"):
        build_index(corpus, index.path, embedder=FakeEmbedder())
    assert load_index(index.path, embedder=FakeEmbedder()).info()["counts"]["documents"] == 3


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_chmod_read_only_index_folder(index, corpus: Path) -> None:
    index.path.chmod(0o555)
    try:
        (corpus / "news" / "rice.txt").unlink()
        with pytest.raises(IndexWriteError, match="Permission denied"):
            build_index(corpus, index.path, embedder=FakeEmbedder())
        assert load_index(index.path, embedder=FakeEmbedder()).ask("When did the tea harvest begin?")
    finally:
        index.path.chmod(0o755)


# --- property: rag never deletes or overwrites a file it did not write ---------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

NAMES = st.sampled_from(
    ["a.txt", "b.md", "gen-reports", "manifest.json", ".manifest.json.draft.tmp", "notes", "gen-1", "seg-x",
     "page.html", ".hidden.txt", "data.bin", ".lock", "index", "corpus", "deep"]
)  # fmt: skip
CONTENTS = st.sampled_from([TEA, RICE, "Short words.\n", '{"format_version": "mine"}', "\x00\x01binary"])
TREES = st.lists(st.tuples(st.lists(NAMES, min_size=1, max_size=3), CONTENTS), min_size=1, max_size=12)
OPERATIONS = st.lists(st.sampled_from(["build", "add", "add-over", "remove", "rebuild"]), min_size=1, max_size=4)


def make_tree(root: Path, tree: list[tuple[list[str], str]]) -> None:
    for parts, content in tree:
        path = root.joinpath(*parts)
        if any(p.is_file() for p in path.parents if p.is_relative_to(root)) or path.is_dir():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")


def contents(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    tree=TREES,
    corpus_at=st.sampled_from(["", "corpus", "deep", "notes", "index"]),
    index_at=st.sampled_from(["", "index", "gen-reports", "corpus", "fresh", "a.txt", "deep/index", "new/idx"]),
    operations=OPERATIONS,
)
def test_rag_never_deletes_or_overwrites_a_file_it_did_not_write(
    tmp_path_factory: pytest.TempPathFactory, tree, corpus_at: str, index_at: str, operations: list[str]
) -> None:
    root = tmp_path_factory.mktemp("property")
    make_tree(root / "user", tree)
    for name, text in (("tea.txt", TEA), ("rice.txt", RICE)):  # documents enough for a build to succeed
        path = root / "user" / corpus_at / "news" / name
        if not any(p.is_file() for p in path.parents) and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    (root / "outside").mkdir()
    (root / "outside" / "new.txt").write_text("A new document about the harvest.\n", encoding="utf-8")
    user = root / "user"
    before = contents(user)
    corpus, index_dir = user / corpus_at, user / index_at
    index = None
    for operation in operations:
        try:
            if operation == "build" or index is None:
                index = build_index(corpus, index_dir, embedder=FakeEmbedder())
            elif operation == "add":
                index = index.add_files([root / "outside" / "new.txt"], folder="added")
            elif operation == "add-over":
                documents = index.documents()
                target = Path(documents[0]["doc_id"])
                index = index.add_files([root / "outside" / "new.txt"], folder=target.parent.as_posix(),
                                        names=[target.name])  # fmt: skip
            elif operation == "remove":
                index = index.remove([index.documents()[0]["doc_id"]])
            else:
                index = index.rebuild()
        except RagError:
            pass  # refused: then it must have left everything as it was
    after = contents(user)
    kept = {}  # where each of the user's files is now: at its place, or moved into .rag-removed/
    for name, data in after.items():
        kept.setdefault(data, []).append(name)
    for name, data in before.items():
        if after.get(name) == data:
            continue
        moved = [n for n in kept.get(data, []) if "/.rag-removed/" in f"/{n}" and n.endswith(Path(name).name)]
        assert moved, f"{name} was deleted or overwritten ({'changed' if name in after else 'gone'})"
