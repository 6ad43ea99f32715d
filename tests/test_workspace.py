"""The defaults and open-or-build that the command line and the app share (rag.workspace)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag import build_index
from rag.errors import IndexNotFoundError
from rag.workspace import DEFAULT_INDEX, INDEX_VARIABLE, default_index, open_or_build
from tests.fakes import FakeEmbedder

ROOT = Path(__file__).resolve().parent.parent


def test_the_default_index_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(INDEX_VARIABLE, raising=False)
    assert default_index() == DEFAULT_INDEX
    monkeypatch.setenv(INDEX_VARIABLE, "elsewhere/index")
    assert default_index() == "elsewhere/index"


def test_a_missing_index_that_is_not_the_default_is_refused_not_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "corpus").mkdir()  # even with a default corpus at hand: a mistyped --index builds nothing
    said: list[str] = []
    with pytest.raises(IndexNotFoundError, match="build one first with: rag index CORPUS --index typo"):
        open_or_build("typo", say=said.append)
    assert said == [] and not (tmp_path / "typo").exists()


def test_an_index_of_another_corpus_is_opened_with_a_note(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(ROOT / "corpus" / "seed-article.md", corpus)
    built = build_index(corpus, tmp_path / "index", embedder=FakeEmbedder())
    said: list[str] = []
    opened = open_or_build(tmp_path / "index", corpus, say=said.append)
    assert said == [] and opened.documents() == built.documents()
    open_or_build(tmp_path / "index", tmp_path / "other", say=said.append)
    assert said == [f"note: {tmp_path / 'index'} was built from {corpus}, not {tmp_path / 'other'}; using it as it is."]


def test_a_first_start_says_it_prepares_the_encoder(tmp_path: Path, monkeypatch) -> None:
    # Issue 22: the app's first start printed nothing for ~40 s while the encoder was exported.
    import rag.workspace

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(ROOT / "corpus" / "seed-article.md", corpus)
    monkeypatch.setattr(rag.workspace, "encoder_needs_export", lambda config: True)
    monkeypatch.setattr(rag.workspace, "build_index", lambda *a, **k: build_index(*a, embedder=FakeEmbedder(), **k))
    said: list[str] = []
    open_or_build(tmp_path / "index", corpus, say=said.append)
    assert said[:2] == [
        f"No index at {tmp_path / 'index'} yet: building it from {corpus}/ first.",
        "Preparing the encoder once (about 20 s).",
    ]
