"""rag/index/open.py opens an index for every reader: it retries a generation a build deleted meanwhile,
stops at damage, and turns a missing or damaged index into one clear error, with nothing left open."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import rag.index.open
from rag import Index, build_index
from rag.errors import IndexMismatchError, IndexNotFoundError
from rag.index.manifest import MANIFEST
from rag.index.open import LOAD_ATTEMPTS, Generation, open_index, open_segments
from tests.fakes import FakeEmbedder

RICE = "Rice farmers in Hunan planted a new variety. The yield rose by a tenth.\n"


def generation_of(generation: Generation) -> str:
    return generation.manifest.generation


def test_the_opener_hands_over_the_live_generation(fake_index: Index) -> None:
    opened: list[Generation] = []
    name = open_index(fake_index.path, lambda g: opened.append(g) or generation_of(g), encoder=FakeEmbedder.name)
    assert name == fake_index.manifest["generation"]
    assert opened[0].path == fake_index.path / name
    parts = open_segments(opened[0])
    assert len(parts.dense) == len(parts.sentence_lexical) == len(opened[0].manifest.segments) == 1
    opened[0].metadata.close()


def test_a_generation_deleted_meanwhile_is_retried_on_the_new_one(
    fake_index: Index, tea_corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build commits (and deletes the old generation) between the manifest read and the open."""
    old = fake_index.manifest["generation"]
    verify, calls = rag.index.open.verify_files, []

    def rebuilt_first(index_dir: Path, manifest, *, full: bool | None):
        calls.append(manifest.generation)
        if len(calls) == 1:
            (tea_corpus / "rice.txt").write_text(RICE, encoding="utf-8")
            build_index(tea_corpus, index_dir, embedder=FakeEmbedder())
        return verify(index_dir, manifest, full=full)

    monkeypatch.setattr(rag.index.open, "verify_files", rebuilt_first)
    name = open_index(fake_index.path, generation_of)
    assert calls[0] == old and not (fake_index.path / old).exists()
    assert name == calls[1] != old


def test_damage_in_the_live_generation_is_not_retried(fake_index: Index) -> None:
    tries: list[Generation] = []

    def damaged(generation: Generation) -> str:
        tries.append(generation)
        raise ValueError("sentences.faiss: not a FAISS file")

    with pytest.raises(IndexMismatchError, match=r"cannot be read \(sentences.faiss: not a FAISS file\); rebuild it"):
        open_index(fake_index.path, damaged)
    assert len(tries) == 1, "the same generation is still live: its damage is the answer"
    with pytest.raises(IndexMismatchError, match="closed database"):  # what was opened for the reader is closed
        tries[0].metadata.parts[0].store.document_headers()


def test_retries_stop_after_load_attempts(fake_index: Index, monkeypatch: pytest.MonkeyPatch) -> None:
    """Builds that keep committing (the live generation always another) end in the last error."""
    monkeypatch.setattr(rag.index.open, "live_generation", lambda index_dir: "a-newer-generation")
    tries = []

    def deleted(generation: Generation) -> str:
        tries.append(generation)
        raise OSError("No such file or directory")

    with pytest.raises(IndexMismatchError, match="cannot be read"):
        open_index(fake_index.path, deleted)
    assert len(tries) == LOAD_ATTEMPTS


def test_no_index_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match=r"no index at .*: build one with: rag index CORPUS --index"):
        open_index(tmp_path / "nowhere", generation_of)


@pytest.mark.parametrize("damage", ["truncated manifest", "generation deleted"])
def test_a_damaged_index_is_a_clear_error(fake_index: Index, damage: str) -> None:
    if damage == "truncated manifest":
        manifest = fake_index.path / MANIFEST
        manifest.write_bytes(manifest.read_bytes()[:40])
    else:
        shutil.rmtree(fake_index.path / fake_index.manifest["generation"])
    with pytest.raises(IndexMismatchError, match=r"rebuild it with: rag index CORPUS --index"):
        open_index(fake_index.path, generation_of)


def test_another_encoder_is_refused_before_anything_is_opened(fake_index: Index) -> None:
    opened = []
    with pytest.raises(IndexMismatchError, match="built with encoder fake-hash-64, not another-model"):
        open_index(fake_index.path, opened.append, encoder="another-model")
    assert not opened
